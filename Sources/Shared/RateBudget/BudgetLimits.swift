/// A read budget in the exchange's own terms: refill in tokens per second and bucket depth
/// in seconds of refill. Presets follow docs/getting_started_rate_limits.md (Read column).
public struct BudgetLimits: Sendable, Equatable {
    public var tokensPerSecond: Double
    public var burstSeconds: Double

    public init(tokensPerSecond: Double, burstSeconds: Double) {
        self.tokensPerSecond = tokensPerSecond
        self.burstSeconds = burstSeconds
    }

    public enum Tier: String, Sendable, CaseIterable {
        /// Unsigned traffic has been observed throttled near 6 requests/s.
        case unsigned, basic, advanced, expert, premier, paragon, prime, prestige
    }

    public init(tier: Tier) {
        switch tier {
        case .unsigned: self.init(tokensPerSecond: 60, burstSeconds: 1)
        case .basic: self.init(tokensPerSecond: 200, burstSeconds: 2)
        case .advanced: self.init(tokensPerSecond: 300, burstSeconds: 2)
        case .expert: self.init(tokensPerSecond: 600, burstSeconds: 1)
        case .premier: self.init(tokensPerSecond: 1000, burstSeconds: 1)
        case .paragon: self.init(tokensPerSecond: 2000, burstSeconds: 1)
        case .prime: self.init(tokensPerSecond: 4000, burstSeconds: 1)
        case .prestige: self.init(tokensPerSecond: 10_000, burstSeconds: 1)
        }
    }

    /// The limits ssmd schedules against: the full refill rate, but a burst smaller by
    /// `jitter` seconds, so requests that arrive bunched by network jitter still find tokens
    /// in the exchange's bucket (it never runs dry at a sustained full rate).
    public func scheduled(jitter: Double = 0.25) -> GCRA {
        GCRA(tokensPerSecond: tokensPerSecond, burstSeconds: max(0, burstSeconds - jitter))
    }
}
