import Foundation
import Logging
import Synchronization
import Testing
@testable import RateBudget

/// Replicas taking the shared schedule in blocks of slots (one compare-and-set per block), on
/// a manual clock over an in-memory compare-and-set store: every slot of the schedule goes to
/// exactly one replica, none is sent late, and a block's size follows the rate and the
/// latency of the store.
@Suite struct SlotLeaseTests {
    /// A clock that moves only when a budget sleeps (or a store takes time); it keeps every
    /// instant a budget slept until — the send times it granted.
    final class RecordingClock: BudgetClock {
        private let state: Mutex<(now: Int64, slept: [Int64])>
        init(_ start: Int64) { state = Mutex((start, [])) }
        func now() -> Int64 { state.withLock { $0.now } }
        func advance(by micros: Int64) { state.withLock { $0.now += micros } }
        func sleep(until t: Int64) async throws { state.withLock { $0.slept.append(t); $0.now = max($0.now, t) } }
        var slept: [Int64] { state.withLock { $0.slept } }
    }

    /// An in-memory store whose every read and write takes `micros` of the clock's time.
    final class SlowStore: BudgetStore {
        let base = InMemoryBudgetStore()
        let clock: RecordingClock
        let micros: Int64
        private let counts = Mutex(0)
        init(clock: RecordingClock, micros: Int64) { self.clock = clock; self.micros = micros }
        var writes: Int { counts.withLock { $0 } }
        func read(_ key: String) async throws -> (value: [UInt8], revision: UInt64)? {
            clock.advance(by: micros)
            return await base.read(key)
        }
        func write(_ key: String, value: [UInt8], ifRevision revision: UInt64?) async throws -> Bool {
            clock.advance(by: micros)
            counts.withLock { $0 += 1 }
            return await base.write(key, value: value, ifRevision: revision)
        }
    }

    static let t0: Int64 = 1_768_255_690_000_000
    static let logger = Logger(label: "test")
    /// 1,000 requests/s of cost 10, and no scheduled burst (1 s − 0.25 s jitter … here 0.25 s
    /// − 0.25 s): slot k of the schedule is at t0 + k ms.
    static let prestigeNoBurst = BudgetLimits(tokensPerSecond: 10_000, burstSeconds: 0.25)

    static func budget(_ store: any BudgetStore, _ clock: RecordingClock, limits: BudgetLimits = prestigeNoBurst,
                       lease: LeaseSize, cooldown: Duration = .seconds(2)) -> SharedRequestBudget {
        SharedRequestBudget(store: store, limits: limits, cooldown: cooldown, lease: lease, clock: clock, logger: logger)
    }

    @Test func aBlockIsTheSlotsOfThatManySingleReservations() {
        let gcra = BudgetLimits(tokensPerSecond: 1000, burstSeconds: 1).scheduled()
        var state = GCRA.State(tat: Self.t0 + 300_000, cooldownUntil: 0, factor: 0.5, factorAt: Self.t0 - 10_000_000)
        let block = gcra.reserveBlock(count: 40, cost: 10, now: Self.t0, state: state)
        var one: [Int64] = []
        for _ in 0..<40 {
            let r = gcra.reserve(cost: 10, now: Self.t0, state: state)
            one.append(r.sendAt)
            state = r.newState
        }
        #expect(block.sendAts == one)
        #expect(block.newState == state)
    }

    @Test func replicasTakingBlocksShareOneScheduleWithoutGapsOrOverlap() async throws {
        let clock = RecordingClock(Self.t0)
        let store = InMemoryBudgetStore()
        let budgets = (0..<4).map { _ in Self.budget(store, clock, lease: .slots(5)) }
        // In turn: replica 0 takes slots 1–5 and uses 1, replica 1 takes 6–10 …, then replica
        // 0 uses 2 (14 ms late: within the 50 ms a held slot stays usable).
        for _ in 0..<25 { for b in budgets { try await b.acquire(cost: 10) } }
        #expect(clock.slept.sorted() == (1...100).map { Self.t0 + Int64($0) * 1000 })
        #expect(Array(clock.slept.prefix(5)) == [1, 6, 11, 16, 2].map { Self.t0 + Int64($0) * 1000 })
        // One compare-and-set per block: 100 requests, 20 writes.
        #expect(budgets.map { $0.metrics.leaseSnapshot.blocks } == [5, 5, 5, 5])
        #expect(budgets.allSatisfy { $0.metrics.leaseSnapshot.dropped == 0 })
        #expect(await store.conflicts == 0)
        // The key's totals count the requests granted, less what is still held unrecorded.
        let record = try JSONDecoder().decode(BudgetRecord.self, from: Data(try #require(await store.read(SharedRequestBudget.globalKey)).value))
        #expect(record.totals.requests == 100 - 4 * 4)
    }

    @Test func aHeldSlotPastItsTimeIsDroppedNeverSentLate() async throws {
        let clock = RecordingClock(Self.t0)
        let store = InMemoryBudgetStore()
        let idle = Self.budget(store, clock, lease: .slots(10))
        let busy = Self.budget(store, clock, lease: .slots(10))
        try await idle.acquire(cost: 10)   // holds slots 2–10 (t0 + 2 … 10 ms)
        for _ in 0..<200 { try await busy.acquire(cost: 10) }   // the schedule moves 200 ms on
        try await idle.acquire(cost: 10)
        // Its nine held slots were 190 ms and more in the past: dropped, and a new block taken.
        #expect(idle.metrics.leaseSnapshot.dropped == 9)
        #expect(idle.metrics.leaseSnapshot.blocks == 2)
        #expect(clock.slept.last == Self.t0 + 211_000)
        let sent = clock.slept
        #expect(Set(sent).count == sent.count, "a slot was granted twice")
    }

    @Test func aReplicaThatDiesWastesItsBlockAndNobodyElseGetsIt() async throws {
        let clock = RecordingClock(Self.t0)
        let store = InMemoryBudgetStore()
        let dying = Self.budget(store, clock, lease: .slots(50))
        try await dying.acquire(cost: 10)   // slot 1; 2–50 go with it
        let survivor = Self.budget(store, clock, lease: .slots(1))
        try await survivor.acquire(cost: 10)
        #expect(clock.slept == [Self.t0 + 1000, Self.t0 + 51_000])
    }

    @Test func automaticBlocksFollowTheRateAndTheWriteLatency() async throws {
        let sizer = LeaseSizer()
        // Basic (20 requests/s): one slot per write at any loopback latency.
        #expect(sizer.slots(requestsPerSecond: 20, latencyMicros: 0) == 1)
        #expect(sizer.slots(requestsPerSecond: 20, latencyMicros: 1400) == 1)
        // 1,000 requests/s: 8 round trips' worth, between 10 ms and 100 ms of the rate.
        #expect(sizer.slots(requestsPerSecond: 1000, latencyMicros: 0) == 10)
        #expect(sizer.slots(requestsPerSecond: 1000, latencyMicros: 2800) == 23)
        #expect(sizer.slots(requestsPerSecond: 1000, latencyMicros: 1_000_000) == 100)
        #expect(sizer.slots(requestsPerSecond: .infinity, latencyMicros: 0) == 1)

        // A store answering in 2 ms (4 ms a compare-and-set): blocks grow to 32 slots.
        let clock = RecordingClock(Self.t0)
        let store = SlowStore(clock: clock, micros: 2000)
        let budget = Self.budget(store, clock, lease: .auto)
        try await budget.acquire(cost: 10)
        #expect(budget.metrics.leaseSnapshot.lastSlots == 10)
        for _ in 0..<400 { try await budget.acquire(cost: 10) }
        #expect(budget.metrics.leaseSnapshot.lastSlots == 32)
        #expect(store.writes < 30, "\(store.writes) writes for 401 requests")
        #expect(Set(clock.slept).count == clock.slept.count)
    }

    @Test func aThrottleReportEndsTheReportersBlockAndOthersWithinTheirs() async throws {
        let clock = RecordingClock(Self.t0)
        let store = InMemoryBudgetStore()
        let a = Self.budget(store, clock, lease: .slots(10), cooldown: .seconds(1))
        let b = Self.budget(store, clock, lease: .slots(10), cooldown: .seconds(1))
        try await a.acquire(cost: 10)
        try await b.acquire(cost: 10)
        await a.reportThrottled()
        #expect(a.metrics.leaseSnapshot.dropped == 9)
        // b learns of the cooldown with its next block: its 9 held slots go first, no more.
        var beforeCooldown = 0
        for _ in 0..<20 {
            try await b.acquire(cost: 10)
            if clock.slept.last! < Self.t0 + 1_000_000 { beforeCooldown += 1 }
        }
        #expect(beforeCooldown == 9)
        try await a.acquire(cost: 10)
        #expect(clock.slept.last! >= Self.t0 + 1_000_000, "the reporter sent inside its own cooldown")
    }

    @Test func leaseSizeSettings() {
        #expect(LeaseSize("auto") == .auto)
        #expect(LeaseSize(" AUTO ") == .auto)
        #expect(LeaseSize("1") == .slots(1))
        #expect(LeaseSize("10000") == .slots(10_000))
        #expect(LeaseSize("0") == nil)
        #expect(LeaseSize("10001") == nil)
        #expect(LeaseSize("-3") == nil)
        #expect(LeaseSize("lots") == nil)
        #expect(LeaseSize("") == nil)
    }
}
