import SSMDCore

/// When the writer's growing batch is due, and how much the next pull may ask for: the
/// count, bytes and age limits of `--batch-max-rows`, `--batch-max-bytes` and
/// `--batch-max-age`. Pure: the writer's loop feeds it what it pulled and the clock.
public struct BatchAccumulator: Sendable, Equatable {
    public struct Limits: Sendable, Equatable {
        public var maxRows: Int
        public var maxBytes: Int
        public var maxAge: Duration
        /// Messages one pull request asks for at most.
        public var fetchChunk: Int
        /// The byte cap of a pull never goes below this: a smaller cap than the largest
        /// possible message would make the server refuse the pull.
        public var minFetchBytes: Int

        public init(maxRows: Int, maxBytes: Int, maxAge: Duration, fetchChunk: Int = 2500, minFetchBytes: Int = 2 << 20) {
            self.maxRows = max(1, maxRows); self.maxBytes = max(1, maxBytes); self.maxAge = maxAge
            self.fetchChunk = max(1, fetchChunk); self.minFetchBytes = minFetchBytes
        }
    }

    public let limits: Limits
    public private(set) var count = 0
    public private(set) var bytes = 0
    /// When the batch's first message arrived; nil while empty.
    public private(set) var oldest: ContinuousClock.Instant?

    public init(limits: Limits) { self.limits = limits }

    public var isEmpty: Bool { count == 0 }

    /// Messages pulled: `count` of them, `bytes` of payload, arriving `now`.
    public mutating func add(count: Int, bytes: Int, now: ContinuousClock.Instant) {
        guard count > 0 else { return }
        if self.count == 0 { oldest = now }
        self.count += count
        self.bytes += bytes
    }

    /// The batch is full, has waited long enough, or the writer is stopping.
    public func isDue(now: ContinuousClock.Instant, stopping: Bool) -> Bool {
        guard let oldest else { return false }
        return count >= limits.maxRows || bytes >= limits.maxBytes || now - oldest >= limits.maxAge || stopping
    }

    /// The next pull: how many messages, how long to wait for the first, and a byte cap.
    public func nextPull(now: ContinuousClock.Instant) -> (batch: Int, maxWait: Duration, maxBytes: Int) {
        let room = min(limits.maxRows - count, limits.fetchChunk)
        let wait: Duration = oldest.map { max(.milliseconds(1), limits.maxAge - (now - $0)) } ?? .seconds(1)
        return (max(1, room), wait, max(limits.maxBytes - bytes, limits.minFetchBytes))
    }

    /// The batch was handed to a commit: start the next one.
    public mutating func reset() {
        count = 0
        bytes = 0
        oldest = nil
    }
}

/// What the writer does after a commit attempt failed, given why. Pure: the batch writer
/// performs the action.
public struct CommitPolicy: Sendable {
    public enum Failure: Sendable, Equatable {
        /// PostgreSQL rejected the data (a constraint, a bad value): retrying cannot help.
        case rejected(String)
        /// Anything else: PostgreSQL down, a timeout, a deadlock.
        case transient
    }

    public enum Action: Sendable, Equatable {
        /// One message alone was rejected: set it aside with the reason.
        case deadLetter(reason: String)
        /// Several messages and one of them rejected: commit each half on its own, so the
        /// bad one ends up alone.
        case split
        /// Wait and try the same batch again; renew the messages' leases first when due.
        case retry(after: Duration, renewLeases: Bool)
        /// The writer is stopping: leave the batch unacknowledged for redelivery.
        case stop
    }

    public let retry: RetryPolicy
    /// The consumer's AckWait: leases are renewed every third of it while retrying.
    public let ackWait: Duration
    public private(set) var attempts = 0
    private var lastLease: ContinuousClock.Instant

    public init(ackWait: Duration, since start: ContinuousClock.Instant,
                retry: RetryPolicy = RetryPolicy(maxAttempts: .max, base: .milliseconds(200), cap: .seconds(5))) {
        self.ackWait = ackWait
        self.retry = retry
        self.lastLease = start
    }

    /// - Parameter jitter: a random number in [0, 1) for the backoff.
    public mutating func next(after failure: Failure, batchSize: Int, cancelled: Bool,
                              now: ContinuousClock.Instant, jitter: Double) -> Action {
        if case .rejected(let reason) = failure {
            return batchSize <= 1 ? .deadLetter(reason: "rejected by PostgreSQL: \(reason)") : .split
        }
        if cancelled { return .stop }
        attempts += 1
        let renew = now - lastLease >= ackWait / 3
        if renew { lastLease = now }
        return .retry(after: retry.delay(attempt: attempts - 1, unit: 0.5 + jitter / 2), renewLeases: renew)
    }
}
