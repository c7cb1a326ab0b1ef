/// Exponential backoff with full jitter (AWS architecture blog's "full jitter"):
/// attempt n waits a uniformly random time in [0, min(cap, base·2ⁿ)].
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var base: Duration
    public var cap: Duration

    public init(maxAttempts: Int = 6, base: Duration = .milliseconds(250), cap: Duration = .seconds(10)) {
        self.maxAttempts = maxAttempts
        self.base = base
        self.cap = cap
    }

    /// The pause before retry number `attempt` (0-based); `unit` is a random number in [0, 1).
    public func delay(attempt: Int, unit: Double) -> Duration {
        let exp = min(attempt, 30)
        let ceiling = min(cap.seconds, base.seconds * Double(1 << exp))
        return .microseconds(Int64(ceiling * min(max(unit, 0), 1) * 1e6))
    }
}
