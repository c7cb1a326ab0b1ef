/// A request budget private to one process (the CLI, tests, a single replica).
public actor LocalRequestBudget: RequestBudget {
    private let gcra: GCRA
    private var state = GCRA.State()
    private let cooldown: Duration
    private let clock: any BudgetClock

    public init(tokensPerSecond: Double, burstSeconds: Double, cooldown: Duration = .seconds(2), clock: any BudgetClock = WallClock()) {
        self.gcra = GCRA(tokensPerSecond: tokensPerSecond, burstSeconds: burstSeconds)
        self.cooldown = cooldown
        self.clock = clock
    }

    public func acquire(cost: Int) async throws {
        let r = gcra.reserve(cost: cost, now: clock.now(), state: state)
        state = r.newState
        try await clock.sleep(until: r.sendAt)
    }

    public func reportThrottled() async {
        state = gcra.throttled(now: clock.now(), cooldown: cooldown.milliseconds * 1000, state: state)
    }
}

/// No limit at all (tests against a simulator with limiting off).
public struct UnlimitedRequestBudget: RequestBudget {
    public init() {}
    public func acquire(cost: Int) async throws {}
    public func reportThrottled() async {}
}
