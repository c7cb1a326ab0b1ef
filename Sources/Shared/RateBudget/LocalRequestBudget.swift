/// A request budget private to one process (the simulator-free CLI, tests, a single replica).
public actor LocalRequestBudget: RequestBudget {
    private let gcra: GCRA
    private var state = GCRA.State()
    private let cooldown: Duration

    public init(tokensPerSecond: Double, burstSeconds: Double, cooldown: Duration = .seconds(2)) {
        self.gcra = GCRA(tokensPerSecond: tokensPerSecond, burstSeconds: burstSeconds)
        self.cooldown = cooldown
    }

    public func acquire(cost: Int) async throws {
        let now = Timestamp.now().microsecondsSinceEpoch
        let r = gcra.reserve(cost: cost, now: now, state: state)
        state = r.newState
        let wait = r.wait(from: now)
        if wait > 0 { try await Task.sleep(for: .microseconds(wait)) }
    }

    public func reportThrottled() async {
        state = gcra.throttled(now: Timestamp.now().microsecondsSinceEpoch,
                               cooldown: cooldown.milliseconds * 1000, state: state)
    }
}

/// No limit at all (tests against a simulator with limiting off).
public struct UnlimitedRequestBudget: RequestBudget {
    public init() {}
    public func acquire(cost: Int) async throws {}
    public func reportThrottled() async {}
}
