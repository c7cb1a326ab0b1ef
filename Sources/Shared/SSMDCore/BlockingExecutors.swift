import Foundation

/// Where blocking C calls run, so they never occupy Swift's cooperative pool (one thread per
/// core: a blocking `curl_easy_perform` or `natsSubscription_Fetch` there stalls every task
/// in the process). Each client owns its executors; callers only `await`.
///
/// * ``DedicatedThread`` — one thread, jobs in order: a libpq connection's serial executor,
///   or a NATS pull subscription's fetch loop.
/// * ``BlockingPool`` — a fixed number of threads for short calls (JetStream API requests,
///   HTTP requests): bounded, and a call cancelled before it starts never runs.

/// One thread that runs jobs in order (a libpq connection's calls, a subscription's fetches).
public final class DedicatedThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false
    public let name: String

    /// Starts the thread; it holds this object and lives until ``stop()``.
    public init(name: String) {
        self.name = name
        let thread = Thread { self.loop() }
        thread.name = name
        // libpq and cnats use little stack; 512 KiB is plenty and keeps many connections cheap.
        thread.stackSize = 512 << 10
        thread.start()
    }

    /// Thrown by `run` once the thread was stopped: its owner was closed.
    public struct Stopped: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "\(name) is closed" }
    }

    /// Runs `body` on the thread; the caller suspends until it returns.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = submit { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: Stopped(name: name)) }
        }
    }

    /// Queues `job` to run after the jobs before it; false (and `job` is dropped) once
    /// `stop()` was called.
    @discardableResult
    public func submit(_ job: @escaping () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Ends the thread once the jobs already queued have run. Idempotent.
    public func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job() }
        }
    }
}

/// Threads for short blocking calls, at most `threads` of them, started as calls need them
/// and kept for later ones. At most `threads` calls run at once; the rest wait in order. A
/// task cancelled while its call waits is resumed with `CancellationError` and the call
/// never runs; a call already running finishes (C calls cannot be interrupted; their own
/// timeouts bound them). The threads live until ``stop()``.
public final class BlockingPool: @unchecked Sendable {
    private typealias Job = @Sendable (_ run: Bool) -> Void
    private let condition = NSCondition()
    private var waiting: [(id: UInt64, job: Job)] = []
    private var nextID: UInt64 = 0
    private var started = 0
    private var idle = 0
    private var stopping = false
    public let name: String
    public let threads: Int

    public init(name: String, threads: Int) {
        self.name = name
        self.threads = max(1, threads)
    }

    /// Runs `body` on one of the pool's threads.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let id = condition.withLock { nextID += 1; return nextID }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                // `run` is false when the call was withdrawn (cancelled) or the pool stopped.
                let job: Job = { run in
                    if run { continuation.resume(with: Result { try body() }) }
                    else { continuation.resume(throwing: CancellationError()) }
                }
                if Task.isCancelled { return job(false) }
                let accepted: Bool = condition.withLock {
                    guard !stopping else { return false }
                    waiting.append((id, job))
                    if idle == 0 && started < threads {
                        started += 1
                        let t = Thread { self.work() }
                        t.name = "\(name)-\(started)"
                        t.stackSize = 512 << 10
                        t.start()
                    } else {
                        condition.signal()
                    }
                    return true
                }
                if !accepted { job(false) }
            }
        } onCancel: {
            let withdrawn: Job? = condition.withLock {
                guard let i = waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return waiting.remove(at: i).job
            }
            withdrawn?(false)
        }
    }

    /// Ends the threads once the calls already queued have run; later calls throw
    /// `CancellationError`.
    public func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
    }

    private func work() {
        while true {
            let job: Job? = condition.withLock {
                while waiting.isEmpty && !stopping {
                    idle += 1
                    condition.wait()
                    idle -= 1
                }
                return waiting.isEmpty ? nil : waiting.removeFirst().job
            }
            guard let job else { return }
            job(true)
        }
    }
}
