import Dispatch

/// Runs blocking C calls (libcurl, libpq, cnats) off Swift's cooperative thread pool.
///
/// The cooperative pool has one thread per core; a blocking `curl_easy_perform` or
/// `natsSubscription_Fetch` on it would stall every task in the process. Each call here
/// runs on a Dispatch worker thread and resumes the awaiting task when it finishes.
public enum Offload {
    private static let queue = DispatchQueue(label: "ssmd.blocking-io", attributes: .concurrent)

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
