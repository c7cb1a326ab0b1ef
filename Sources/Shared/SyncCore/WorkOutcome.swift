import SSMDCore

/// What becomes of a work item after one attempt to sync its series. Pure: the market-fetcher
/// acts on it (ack, nak with delay, or dead-letter then terminate); nothing is dropped.
public enum WorkOutcome: Sendable, Equatable {
    /// Done: acknowledge.
    case ack
    /// Hand it back; it comes again after `after`, to whichever replica takes it.
    case retry(after: Duration)
    /// Retrying cannot help: set it aside on the dead-letter subject with the reason.
    case deadLetter(reason: String)

    /// Why an attempt failed.
    public enum Failure: Sendable, Equatable {
        /// The item cannot be read (bad JSON, unknown schema).
        case undecodable(String)
        /// The exchange refused it for good (a 4xx other than 429, a cursor that repeats).
        case permanent(String)
        /// Anything that may go away: 429s and 5xx past their retries, timeouts, NATS blips.
        case transient(String)
    }

    /// - Parameters:
    ///   - deliveries: how many times the item has been delivered, this one included.
    ///   - maxDeliver: the consumer's MaxDeliver; the last delivery is set aside rather
    ///     than dropped by the server.
    ///   - jitter: a random number in [0, 1).
    public static func decide(_ failure: Failure?, deliveries: UInt64, maxDeliver: Int, jitter: Double,
                              backoff: RetryPolicy = RetryPolicy(maxAttempts: .max, base: .seconds(1), cap: .seconds(60))) -> WorkOutcome {
        switch failure {
        case nil:
            return .ack
        case .undecodable(let reason), .permanent(let reason):
            return .deadLetter(reason: reason)
        case .transient(let reason):
            if deliveries >= UInt64(max(1, maxDeliver - 1)) {
                return .deadLetter(reason: "gave up after \(deliveries) deliveries: \(reason)")
            }
            return .retry(after: backoff.delay(attempt: Int(min(deliveries, 30)), unit: 0.5 + jitter / 2))
        }
    }
}
