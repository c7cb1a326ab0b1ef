import Foundation
import Logging
import Testing
@testable import RateBudget
import SSMDCore

/// The shared budget's KV value carries running totals every replica adds to (the dashboard
/// charts requests, 429s and budget use from them), without changing what readers of the GCRA
/// state see.
@Suite struct BudgetRecordTests {
    /// Virtual time: sleeping moves the clock, so a budget test takes no real time.
    final class VirtualClock: BudgetClock, @unchecked Sendable {
        private let lock = NSLock()
        private var micros: Int64
        init(_ start: Int64) { micros = start }
        func now() -> Int64 { lock.lock(); defer { lock.unlock() }; return micros }
        func sleep(until t: Int64) async throws { advance(to: t) }
        private func advance(to t: Int64) { lock.withLock { micros = max(micros, t) } }
    }

    static func record(_ store: InMemoryBudgetStore, _ key: String) async throws -> (BudgetRecord, [UInt8]) {
        let stored = try #require(await store.read(key), "no value under \(key)")
        return (try JSONDecoder().decode(BudgetRecord.self, from: Data(stored.value)), stored.value)
    }

    @Test func everyReplicaAddsToTheSharedTotals() async throws {
        let store = InMemoryBudgetStore(), clock = VirtualClock(1_700_000_000_000_000)
        let limits = BudgetLimits(tokensPerSecond: 100, burstSeconds: 1)
        let a = SharedRequestBudget(store: store, limits: limits, clock: clock, logger: Logger(label: "a"))
        let b = SharedRequestBudget(store: store, limits: limits, pool: .init(name: "sports", share: 0.5), clock: clock, logger: Logger(label: "b"))
        for _ in 0..<7 { try await a.acquire(cost: 10) }
        for _ in 0..<5 { try await b.acquire(cost: 10) }
        await b.reportThrottled()

        let (global, bytes) = try await Self.record(store, SharedRequestBudget.globalKey)
        #expect(global.totals == BudgetRecord.Totals(requests: 12, tokens: 120, throttled: 1))
        #expect(global.tokensPerSecond == 100)
        // The capped pool's own bucket counts only its replica's requests, at its share of the rate.
        let (pool, _) = try await Self.record(store, SharedRequestBudget.poolKey("sports"))
        #expect(pool.totals == BudgetRecord.Totals(requests: 5, tokens: 50, throttled: 0))
        #expect(pool.tokensPerSecond == 50)
        // Readers that know only the GCRA state read it as before (the 429 halved the rate).
        let state = try JSONDecoder().decode(GCRA.State.self, from: Data(bytes))
        #expect(state == global.state && state.factor < 1 && state.cooldownUntil > 0)
        // This process's figures, as its log line and metrics show them.
        #expect(a.metrics.snapshot.tokens == 70 && b.metrics.snapshot.tokens == 50 && b.metrics.snapshot.throttled == 1)
    }

    @Test func aValueFromBeforeTheTotalsReadsAsZeroTotals() throws {
        let old = Data(#"{"tat":5,"cooldown_until":7,"factor":0.5,"factor_at":3}"#.utf8)
        let r = try JSONDecoder().decode(BudgetRecord.self, from: old)
        #expect(r.state == GCRA.State(tat: 5, cooldownUntil: 7, factor: 0.5, factorAt: 3))
        #expect(r.totals == BudgetRecord.Totals() && r.tokensPerSecond == nil)
        // And it round-trips with the totals beside the state's own keys.
        var next = r
        next.totals = .init(requests: 2, tokens: 20, throttled: 1)
        next.tokensPerSecond = 200
        let json = try #require(String(data: try JSONEncoder().encode(next), encoding: .utf8))
        for key in ["\"tat\":5", "\"cooldown_until\":7", "\"requests_total\":2", "\"tokens_total\":20", "\"throttled_total\":1", "\"tokens_per_second\":200"] {
            #expect(json.contains(key), "\(key) in \(json)")
        }
        #expect(try JSONDecoder().decode(BudgetRecord.self, from: Data(json.utf8)) == next)
    }
}
