import Foundation
import Logging
import Synchronization
import Testing
@testable import RateBudget

/// Several replicas' shared budgets over one compare-and-set store, one compare-and-set per
/// request (`SlotLeaseTests` covers blocks of slots), on a manual clock: every
/// reservation lands on the exact microsecond GCRA says, every run. (IntegrationTests'
/// SharedBudgetTests prove the same through a real NATS KV bucket, within timing slack.)
@Suite struct SharedBudgetScheduleTests {
    /// A clock that moves only when a budget sleeps: sleeping until t makes it t.
    final class ManualClock: BudgetClock {
        private let micros: Mutex<Int64>
        init(_ start: Int64) { micros = Mutex(start) }
        func now() -> Int64 { micros.withLock { $0 } }
        func sleep(until t: Int64) async throws { micros.withLock { $0 = max($0, t) } }
    }

    /// A store whose first write first lets `rival` run: a compare-and-set race, on cue.
    final class RaceOnFirstWrite: BudgetStore {
        let base: InMemoryBudgetStore
        private let rival: Mutex<(@Sendable () async throws -> Void)?>
        init(_ base: InMemoryBudgetStore, rival: @escaping @Sendable () async throws -> Void) {
            self.base = base
            self.rival = Mutex(rival)
        }
        func read(_ key: String) async throws -> (value: [UInt8], revision: UInt64)? { await base.read(key) }
        func write(_ key: String, value: [UInt8], ifRevision revision: UInt64?) async throws -> Bool {
            if let run = rival.withLock({ r -> (@Sendable () async throws -> Void)? in defer { r = nil }; return r }) { try await run() }
            return await base.write(key, value: value, ifRevision: revision)
        }
    }

    static let t0: Int64 = 1_768_255_690_000_000
    static let logger = Logger(label: "test")

    static func replicas(_ n: Int, store: any BudgetStore, clock: ManualClock, limits: BudgetLimits,
                         pool: SharedRequestBudget.Pool? = nil, cooldown: Duration = .seconds(2)) -> [SharedRequestBudget] {
        (0..<n).map { _ in SharedRequestBudget(store: store, limits: limits, pool: pool, cooldown: cooldown, lease: .slots(1), clock: clock, logger: logger) }
    }

    /// Requests taken in turn by each replica; the instant each was granted.
    static func roundRobin(_ budgets: [SharedRequestBudget], rounds: Int, clock: ManualClock) async throws -> [Int64] {
        var granted: [Int64] = []
        for _ in 0..<rounds {
            for b in budgets {
                try await b.acquire(cost: 10)
                granted.append(clock.now())
            }
        }
        return granted
    }

    @Test func fourReplicasFollowOneScheduleExactly() async throws {
        let clock = ManualClock(Self.t0)
        let store = InMemoryBudgetStore()
        // 100 requests/s; burst 0.5 s of which 0.25 s is scheduled: 25 requests at once.
        let budgets = Self.replicas(4, store: store, clock: clock, limits: BudgetLimits(tokensPerSecond: 1000, burstSeconds: 0.5))
        let granted = try await Self.roundRobin(budgets, rounds: 60, clock: clock)
        let expected = (0..<240).map { k in Self.t0 + max(0, Int64(k + 1) * 10_000 - 250_000) }
        #expect(granted == expected)
        // Together they used exactly what the rate allows, whichever replica asked.
        let used = budgets.map { $0.metrics.snapshot.requests }
        #expect(used == [60, 60, 60, 60])
        #expect(await store.conflicts == 0)
    }

    @Test func aLostCompareAndSetIsRetriedAndNoSlotIsGivenTwice() async throws {
        let clock = ManualClock(Self.t0)
        let base = InMemoryBudgetStore()
        // No scheduled burst: every request has a slot of its own, 10 ms apart.
        let limits = BudgetLimits(tokensPerSecond: 1000, burstSeconds: 0.25)
        let rival = SharedRequestBudget(store: base, limits: limits, clock: clock, logger: Self.logger)
        let rivalGranted = Mutex<Int64>(0)
        let racing = RaceOnFirstWrite(base) {
            try await rival.acquire(cost: 10)
            rivalGranted.withLock { $0 = clock.now() }
        }
        let loser = SharedRequestBudget(store: racing, limits: limits, clock: clock, logger: Self.logger)
        try await loser.acquire(cost: 10)
        // The rival wrote first and took the first slot; the loser's write was refused, it
        // read again and took the next one.
        #expect(rivalGranted.withLock { $0 } == Self.t0 + 10_000)
        #expect(clock.now() == Self.t0 + 20_000)
        #expect(await base.conflicts == 1)
        #expect(loser.metrics.snapshot.conflicts == 1)
        #expect(rival.metrics.snapshot.conflicts == 0)
    }

    @Test func aCappedPoolGetsOnlyItsShareAndTheRestStaysFree() async throws {
        let clock = ManualClock(Self.t0)
        let store = InMemoryBudgetStore()
        let limits = BudgetLimits(tokensPerSecond: 1000, burstSeconds: 0.5)
        // A quarter of 100 requests/s: 25/s, one every 40 ms after the scheduled burst.
        let capped = Self.replicas(2, store: store, clock: clock, limits: limits,
                                   pool: .init(name: "S&P,EUR/USD,SCOTUS & courts", share: 0.25))
        let granted = try await Self.roundRobin(capped, rounds: 20, clock: clock)
        #expect(granted == (0..<40).map { k in Self.t0 + max(0, Int64(k + 1) * 40_000 - 250_000) })
        // An uncapped replica meanwhile paces at the full rate: the pool's cap is not its limit.
        let free = Self.replicas(1, store: store, clock: clock, limits: limits)
        let after = try await Self.roundRobin(free, rounds: 60, clock: clock)
        let gaps = zip(after.dropFirst(), after).map { $0 - $1 }
        // (At most 25 go at once out of the bucket; after that one every 10 ms.)
        #expect(gaps.suffix(30).allSatisfy { $0 == 10_000 }, "\(gaps)")
    }

    @Test func aThrottleReportHoldsEveryReplicaForTheCooldown() async throws {
        let clock = ManualClock(Self.t0)
        let store = InMemoryBudgetStore()
        let limits = BudgetLimits(tokensPerSecond: 10_000, burstSeconds: 1)
        let budgets = Self.replicas(2, store: store, clock: clock, limits: limits, cooldown: .seconds(1))
        try await budgets[1].acquire(cost: 10)
        #expect(clock.now() == Self.t0)
        await budgets[0].reportThrottled()
        try await budgets[1].acquire(cost: 10)
        #expect(clock.now() == Self.t0 + 1_000_000, "replica 1 ignored replica 0's 429 cooldown")
        #expect(budgets[0].metrics.snapshot.throttled == 1)
        // The rate is halved after the 429 (and recovers over a minute): 2000 requests of
        // cost 10 take about 3.1 s instead of the 1.25 s of the full 10,000 tokens/s.
        let before = clock.now()
        for _ in 0..<2000 { try await budgets[0].acquire(cost: 10) }
        #expect(clock.now() - before > 2_500_000, "2000 requests after a 429 took only \(clock.now() - before) µs")
    }
}
