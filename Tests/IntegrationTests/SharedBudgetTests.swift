import Foundation
import Logging
import Testing
import TestSupport
import NATSClient
import Pipeline
import RateBudget
import SSMDCore

/// The shared budget with a real nats-server: separate connections (as separate replicas
/// would have) contend for one KV key, and together never exceed the configured rate.
@Suite struct SharedBudgetTests {
    /// The budgets a `contend` run made, for a test that reads their metrics afterwards.
    final class BudgetList: @unchecked Sendable { var budgets: [SharedRequestBudget] = [] }

    /// The wall clock, noting the slot each request the budget granted was given: the
    /// schedule the budget decides, which its bounds are about. When a request then actually
    /// goes out is up to the machine: times read after `acquire` returns, or a late slot's
    /// hand-out time, add however long a loaded machine kept the task from running, and bunch
    /// up (2,400 requests looked like 1.84 s, and 1,601 and 1,622 like one second, with other
    /// tests loading both cores).
    final class GrantRecordingClock: BudgetClock, @unchecked Sendable {
        private let wall = WallClock()
        private let lock = NSLock()
        private var granted: [Int64] = []
        func now() -> Int64 { wall.now() }
        func sleep(until micros: Int64) async throws {
            lock.withLock { granted.append(micros) }
            try await wall.sleep(until: micros)
        }
        var times: [Int64] { lock.withLock { granted.sorted() } }
    }

    /// Sorted send times (µs) of every request granted.
    static func contend(replicas: Int, requestsEach: Int, limits: BudgetLimits, pool: SharedRequestBudget.Pool? = nil,
                        lease: LeaseSize = .slots(1), tasksEach: Int = 1, urls: [String], bucketReplicas: Int = 1,
                        keep: BudgetList? = nil) async throws -> [Int64] {
        var connections: [NATSConnection] = []
        var budgets: [SharedRequestBudget] = []
        let clock = GrantRecordingClock()
        for i in 0..<replicas {
            var options = NATSOptions(urls: urls, name: "replica-\(i)")
            options.retryOnFailedConnect = true
            let c = try await NATSConnection.connect(options: options, logger: Logger(label: "t"))
            connections.append(c)
            let kv = try await c.jetStream().ensureKeyValue(KeyValueSpec(bucket: Topology.budgetBucket, replicas: bucketReplicas))
            budgets.append(SharedRequestBudget(store: KeyValueBudgetStore(bucket: kv), limits: limits, pool: pool, lease: lease, clock: clock,
                                               logger: Logger(label: "t")))
        }
        defer { connections.forEach { $0.close() } }
        keep?.budgets = budgets
        try await withThrowingTaskGroup(of: Void.self) { group in
            for b in budgets {
                for _ in 0..<tasksEach {
                    group.addTask { for _ in 0..<requestsEach / tasksEach { try await b.acquire(cost: 10) } }
                }
            }
            try await group.waitForAll()
        }
        return clock.times
    }

    /// The most requests seen in any window of `window` µs.
    static func peak(_ times: [Int64], window: Int64) -> Int {
        var best = 0, j = 0
        for i in times.indices {
            while times[i] - times[j] >= window { j += 1 }
            best = max(best, i - j + 1)
        }
        return best
    }

    @Test func fourReplicasTogetherKeepTheRate() async throws {
        let nats = try await NATSTestServer.sharedAccount()
        // 100 requests/s, burst 0.5 s → scheduled burst 0.25 s (25 requests).
        let limits = BudgetLimits(tokensPerSecond: 1000, burstSeconds: 0.5)
        let times = try await Self.contend(replicas: 4, requestsEach: 60, limits: limits, urls: [nats.url])
        #expect(times.count == 240)
        let elapsed = Double(times.last! - times.first!) / 1e6
        // (240 − 25) requests at 100/s ≈ 2.15 s; never faster than the rate allows.
        #expect(elapsed >= 2.0, "240 requests took only \(elapsed) s")
        // Any 1 s window: the refill (100) plus the bucket (50), with 5 % scheduling slack.
        #expect(Self.peak(times, window: 1_000_000) <= 150, "peak \(Self.peak(times, window: 1_000_000)) per second")
    }

    @Test func aCappedPoolGetsOnlyItsShare() async throws {
        let nats = try await NATSTestServer.sharedAccount()
        let limits = BudgetLimits(tokensPerSecond: 1000, burstSeconds: 0.25)
        let times = try await Self.contend(replicas: 2, requestsEach: 40, limits: limits,
                                           pool: .init(name: "S&P,EUR/USD,SCOTUS & courts", share: 0.25), urls: [nats.url])
        let elapsed = Double(times.last! - times.first!) / 1e6
        // 80 requests at 25/s ≈ 3.2 s.
        #expect(elapsed >= 2.8, "capped pool ran at \(Double(times.count) / elapsed)/s")
    }

    /// 1,000 requests/s from replicas connected to the three nodes of a cluster, the bucket as
    /// ssmd makes it by default (one copy: see `Settings.coordinationReplicas`). Replicas taking
    /// blocks of slots keep the rate and write the key far less often than once per request.
    ///
    /// With the bucket at three replicas this failed under load (peaks of 1,522–1,622 in one
    /// second against at most 1,250 a single compare-and-set chain can grant): nats-server
    /// 2.9.10 checks an update's expected revision before Raft, not in it (nats-server#4320,
    /// fixed in 2.9.21), so updates racing from the same revision can all be accepted.
    /// Holds every process slot: other pipelines sharing the 2 cores slow the compare-and-sets.
    @Test(.tags(.processes), .processSlotAlone) func blocksOfSlotsAcrossTheClusterKeepTheRate() async throws {
        let cluster = try await NATSClusterTestServer()
        defer { cluster.teardown() }
        // 10,000 tokens/s, burst 0.5 s → 1,000 requests/s, scheduled burst 0.25 s (250).
        let limits = BudgetLimits(tokensPerSecond: 10_000, burstSeconds: 0.5)
        let kept = BudgetList()
        let times = try await Self.contend(replicas: 4, requestsEach: 600, limits: limits, lease: .auto, tasksEach: 8,
                                           urls: cluster.nodes.map(\.url), bucketReplicas: Topology().coordinationReplicas, keep: kept)
        #expect(times.count == 2400)
        let elapsed = Double(times.last! - times.first!) / 1e6
        // The exchange's bucket (0.5 s = 500 requests) then 1,000/s: (2400 − 500) / 1,000 = 1.9 s
        // at the very least. The budget aims at 2.15 s (it schedules within half the bucket);
        // blocks reserved ahead may spend part of that margin early (1.96 s was seen), never
        // more than the bucket holds.
        #expect(elapsed >= 1.9, "2400 requests took only \(elapsed) s")
        // Any 1 s window: the refill (1,000) plus the bucket (500).
        #expect(Self.peak(times, window: 1_000_000) <= 1500, "peak \(Self.peak(times, window: 1_000_000)) per second")
        let budgets = kept.budgets
        let blocks = budgets.reduce(0) { $0 + $1.metrics.leaseSnapshot.blocks }
        #expect(blocks * 5 <= 2400, "\(blocks) compare-and-sets for 2400 requests")
        #expect(budgets.allSatisfy { $0.metrics.leaseSnapshot.lastSlots >= 10 })
    }

    @Test func aThrottleReportHoldsEveryReplica() async throws {
        let nats = try await NATSTestServer.sharedAccount()
        let limits = BudgetLimits(tokensPerSecond: 10_000, burstSeconds: 1)
        let c = try await NATSConnection.connect(options: NATSOptions(urls: [nats.url], name: "a"), logger: Logger(label: "t"))
        defer { c.close() }
        let kv = try await c.jetStream().ensureKeyValue(KeyValueSpec(bucket: Topology.budgetBucket))
        // One slot per write (what `auto` gives at the Basic tier): a replica holding a block
        // of slots sends what it holds before it sees another's 429 — up to 0.1 s of the rate
        // at 1,000 requests/s (see SharedRequestBudget), which this check would not allow.
        let a = SharedRequestBudget(store: KeyValueBudgetStore(bucket: kv), limits: limits, cooldown: .seconds(1), lease: .slots(1), logger: Logger(label: "t"))
        let b = SharedRequestBudget(store: KeyValueBudgetStore(bucket: kv), limits: limits, cooldown: .seconds(1), lease: .slots(1), logger: Logger(label: "t"))
        try await b.acquire(cost: 10)
        // The cooldown starts inside reportThrottled, before its write to the bucket returns:
        // measure from before the call (a slow write must not eat into the expected wait).
        let start = ContinuousClock.now
        await a.reportThrottled()
        try await b.acquire(cost: 10)
        #expect(ContinuousClock.now - start >= .milliseconds(900), "replica b ignored a's 429 cooldown")
    }
}
