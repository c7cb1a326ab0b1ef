/// The exchange's rate-limit meter: a bucket refilled continuously at `refillPerSecond`
/// tokens up to `capacity`; a request is allowed when the balance covers its cost. No
/// windows, no penalty (docs/getting_started_rate_limits.md).
public struct TokenBucket: Sendable, Equatable {
    public private(set) var capacity: Double
    public private(set) var refillPerSecond: Double
    public private(set) var tokens: Double
    public private(set) var lastRefill: Double

    /// A full bucket holding `burstSeconds` of budget.
    public init(tokensPerSecond: Double, burstSeconds: Double, now: Double) {
        refillPerSecond = tokensPerSecond
        capacity = tokensPerSecond * burstSeconds
        tokens = capacity
        lastRefill = now
    }

    public mutating func refill(now: Double) {
        if now > lastRefill {
            tokens = min(capacity, tokens + (now - lastRefill) * refillPerSecond)
            lastRefill = now
        }
    }

    /// Takes `cost` tokens if available; false means answer 429.
    public mutating func take(_ cost: Double, now: Double) -> Bool {
        refill(now: now)
        // The epsilon absorbs float error in refills (0.05 s × 200/s ≈ 9.999…).
        guard tokens + 1e-9 >= cost else { return false }
        tokens = max(0, tokens - cost)
        return true
    }

    /// New rate or burst; the balance is kept (capped at the new capacity).
    public mutating func reconfigure(tokensPerSecond: Double, burstSeconds: Double, now: Double) {
        refill(now: now)
        refillPerSecond = tokensPerSecond
        capacity = tokensPerSecond * burstSeconds
        tokens = min(tokens, capacity)
    }
}
