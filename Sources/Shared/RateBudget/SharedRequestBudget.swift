import Synchronization
import CoreMetrics
import Foundation
import Logging
import SSMDCore

/// One exchange read budget shared by every process, stored in NATS KV.
///
/// The whole state of a bucket is a GCRA `State` (theoretical arrival time + shared
/// cooldown), with running totals beside it (``BudgetRecord``), under one key, updated by
/// compare-and-set on the key's revision: read,
/// reserve, write back with the revision read; a lost race (another replica wrote first)
/// just retries. Each request takes one slot of that schedule and sleeps until it, so N
/// replicas together send at exactly the configured rate whatever N is.
///
/// A compare-and-set costs a round trip to the key's leader (through Raft on a replicated
/// bucket), so a replica takes its slots in blocks: one write reserves the next
/// ``LeaseSize`` slots of the schedule for this process (``SlotLease``), which its requests
/// then use in order without touching the store. Slots are exclusive to the replica that
/// took them, so blocks never let the fleet exceed the rate; a slot left unused past its time
/// is dropped, not sent late. `.slots(1)` is one write per request.
///
/// A pool (the replicas serving one tag set) may be capped at a share of the budget: it
/// then also reserves in its own bucket at `share × rate`, and sends at the later of the two
/// slots. Uncapped pools draw on the global bucket only, so whatever a capped pool cannot use
/// stays available to them.
public final class SharedRequestBudget: RequestBudget, @unchecked Sendable {
    public struct Pool: Sendable, Equatable {
        public var name: String
        public var share: Double
        public init(name: String, share: Double) { self.name = name; self.share = share }
    }

    private let store: any BudgetStore
    private let clock: any BudgetClock
    private let global: GCRA
    /// The configured refill (tokens/s) this budget schedules at.
    public var tokensPerSecond: Double { global.tokensPerSecond }
    private let pool: (key: String, gcra: GCRA)?
    private let cooldown: Duration
    private let logger: Logger
    public let metrics: BudgetMetrics
    /// One compare-and-set in flight per process: the many tasks of one replica queue here
    /// instead of racing each other (and every other replica) on the key.
    private let casLock = AsyncLock()
    private let leaseSize: LeaseSize
    private let sizer = LeaseSizer()
    /// The block of slots this process holds, and what sizing it needs; changed only with
    /// `casLock` held.
    private struct Held {
        var lease = SlotLease()
        /// Tokens each held slot stands for (a request of another cost takes a new block).
        var cost = 0
        /// The global bucket's throttle factor when the block was taken.
        var factor = 1.0
        /// Running average of a compare-and-set's duration (µs), conflicts included.
        var latencyMicros = 0.0
        /// Slots handed out since the last write, added to the key's totals by the next one.
        var grantedUnrecorded: Int64 = 0
    }
    private let held = Mutex(Held())
    /// How long after its time a held slot may still be sent: part of the 0.25 s jitter
    /// margin `BudgetLimits.scheduled` leaves in the exchange's bucket.
    static let slotLateness: Int64 = 50_000

    public static let globalKey = "read"
    /// Transient store failures in a row a reservation rides out (backing off from 0.2 s to
    /// 3.2 s: about 30 s in all) before it fails.
    static let transientRetries = 12

    /// KV keys allow only `[-/_=.a-zA-Z0-9]`, and a pool of many tags has a long name.
    static func poolKey(_ name: String) -> String { SafeName.make(prefix: "pool", from: name, separator: ".") }

    public init(store: any BudgetStore, limits: BudgetLimits, pool: Pool? = nil, cooldown: Duration = .seconds(2),
                lease: LeaseSize = .auto, clock: any BudgetClock = WallClock(), logger: Logger) {
        self.store = store
        self.leaseSize = lease
        self.clock = clock
        self.global = limits.scheduled()
        if let pool, pool.share < 1 {
            let share = max(0.01, pool.share)
            let capped = BudgetLimits(tokensPerSecond: limits.tokensPerSecond * share, burstSeconds: limits.burstSeconds)
            self.pool = (Self.poolKey(pool.name), capped.scheduled())
        } else {
            self.pool = nil
        }
        self.cooldown = cooldown
        self.logger = logger
        self.metrics = BudgetMetrics(tokensPerSecond: limits.tokensPerSecond)
    }

    public func acquire(cost: Int) async throws {
        let began = clock.now()
        let sendAt = try await casLock.withLock { try await self.nextSlot(cost: cost) }
        try await clock.sleep(until: sendAt)
        metrics.granted(tokens: cost, waitedMicros: clock.now() - began)
    }

    /// A slot from the block this process holds, or the first of a new block.
    private func nextSlot(cost: Int) async throws -> Int64 {
        let now = clock.now()
        let (slot, dropped) = held.withLock { h -> (Int64?, Int) in
            guard h.cost == cost else { return (nil, h.lease.forfeit()) }
            let (slot, dropped) = h.lease.take(now: now, lateness: Self.slotLateness)
            if slot != nil { h.grantedUnrecorded += 1 }
            return (slot, dropped)
        }
        metrics.leaseDropped(dropped)
        if let slot { return slot }

        let (latency, factor, unrecorded) = held.withLock { h in (h.latencyMicros, h.factor, h.grantedUnrecorded) }
        let count = blockSize(cost: cost, factor: factor, latencyMicros: latency)
        // The first slot is this request's; the totals learn of the rest as they are used.
        let totals = BudgetRecord.Totals(requests: unrecorded + 1, tokens: (unrecorded + 1) * Int64(cost))
        let started = clock.now()
        // The pool's cap first: if it fails, no global slot is wasted.
        var sendAts = [Int64](repeating: 0, count: count)
        if let pool {
            sendAts = try await reserveBlock(key: pool.key, gcra: pool.gcra, count: count, cost: cost, adding: totals).sendAts
        }
        let overall = try await reserveBlock(key: Self.globalKey, gcra: global, count: count, cost: cost,
                                             adding: totals)
        for i in sendAts.indices { sendAts[i] = max(sendAts[i], overall.sendAts[i]) }
        let sample = Double(max(0, clock.now() - started)) / Double(pool == nil ? 1 : 2)
        metrics.scheduled(factor: overall.factor)
        metrics.leased(slots: count, latencyMicros: sample)
        held.withLock { h in
            h.lease = SlotLease(slots: Array(sendAts.dropFirst()))
            h.cost = cost
            h.factor = overall.factor
            h.latencyMicros = sizer.averaged(h.latencyMicros, sample: sample)
            h.grantedUnrecorded = 0
        }
        return sendAts[0]
    }

    /// Slots to take in the next block.
    private func blockSize(cost: Int, factor: Double, latencyMicros: Double) -> Int {
        switch leaseSize {
        case .slots(let n): return max(1, min(n, LeaseSize.maximumSlots))
        case .auto:
            let tokens = min(global.tokensPerSecond, pool?.gcra.tokensPerSecond ?? .infinity) * factor
            return sizer.slots(requestsPerSecond: tokens / Double(max(1, cost)), latencyMicros: latencyMicros)
        }
    }

    public func reportThrottled() async {
        metrics.throttled()
        let cooldownMicros = cooldown.milliseconds * 1000
        // The slots held here were scheduled before the 429: the shared cooldown outranks them.
        await casLock.withLock { self.metrics.leaseDropped(self.held.withLock { $0.lease.forfeit() }) }
        do {
            try await update(key: Self.globalKey, adding: BudgetRecord.Totals(throttled: 1)) { state, now in
                (self.global.throttled(now: now, cooldown: cooldownMicros, state: state), ())
            }
        } catch {
            logger.warning("could not record the 429 cooldown in the shared budget", metadata: ["error": "\(error)"])
        }
    }

    /// `count` consecutive slots of one bucket in one write: when each may be sent (µs since
    /// epoch), and the share of the configured rate the bucket schedules at now.
    private func reserveBlock(key: String, gcra: GCRA, count: Int, cost: Int,
                              adding totals: BudgetRecord.Totals) async throws -> (sendAts: [Int64], factor: Double) {
        try await compareAndSet(key: key, adding: totals) { state, now in
            let r = gcra.reserveBlock(count: count, cost: cost, now: now, state: state)
            return (r.newState, (r.sendAts, r.newState.factor))
        }
    }

    /// Compare-and-set loop: read the state, compute, write back against the revision read.
    /// `adding` goes into the key's running totals in the same write.
    private func update<T: Sendable>(key: String, adding totals: BudgetRecord.Totals,
                                     _ transform: @escaping @Sendable (GCRA.State, Int64) -> (GCRA.State, T)) async throws -> T {
        try await casLock.withLock { try await self.compareAndSet(key: key, adding: totals, transform) }
    }

    private func compareAndSet<T: Sendable>(key: String, adding totals: BudgetRecord.Totals,
                                            _ transform: @escaping @Sendable (GCRA.State, Int64) -> (GCRA.State, T)) async throws -> T {
        var conflicts = 0
        var storeFailures = 0
        let rate = key == Self.globalKey ? global.tokensPerSecond : (pool?.gcra.tokensPerSecond ?? global.tokensPerSecond)
        while true {
            let written: Bool
            let value: T
            do {
                let entry = try await store.read(key)
                var record = entry.flatMap { try? JSONDecoder().decode(BudgetRecord.self, from: Data($0.value)) } ?? BudgetRecord()
                let (next, result) = transform(record.state, clock.now())
                record.state = next
                record.totals.add(totals)
                record.tokensPerSecond = rate
                written = try await store.write(key, value: Array(try JSONEncoder().encode(record)), ifRevision: entry?.revision)
                value = result
                storeFailures = 0
            } catch where store.isTransient(error) && storeFailures < Self.transientRetries {
                // A busy or re-electing store: the request waits rather than fails.
                storeFailures += 1
                logger.debug("budget store busy; retrying", metadata: ["key": "\(key)", "error": "\(error)", "attempt": "\(storeFailures)"])
                try await Task.sleep(for: .milliseconds(100 << min(storeFailures, 5)))
                continue
            }
            if written { return value }
            conflicts += 1
            metrics.conflict()
            // Replicas racing: back off with full jitter so one of them wins the next round.
            if conflicts > 1 { try await Task.sleep(for: .microseconds(Int64.random(in: 0...(250 << min(conflicts, 8))))) }
        }
    }
}

/// One bucket's value in the KV store: the GCRA state, plus running totals that every replica
/// adds to in the same compare-and-set. The totals let the dashboard chart requests, 429s and
/// budget use across all replicas without scraping any of them. Stored flat, so a reader that
/// knows only `GCRA.State` still reads the state, and a value written before the totals
/// existed reads as zero totals.
public struct BudgetRecord: Sendable, Equatable, Codable {
    public var state = GCRA.State()
    public var totals = Totals()
    /// The refill (tokens/s) of the bucket as configured by whoever wrote it last.
    public var tokensPerSecond: Double?

    public struct Totals: Sendable, Equatable {
        /// Requests granted a slot, tokens they spent, and 429s reported. A replica holding a
        /// block of slots adds the ones it used with its next write, so these lag by at most
        /// one block per replica.
        public var requests: Int64 = 0
        public var tokens: Int64 = 0
        public var throttled: Int64 = 0

        public init(requests: Int64 = 0, tokens: Int64 = 0, throttled: Int64 = 0) {
            self.requests = requests; self.tokens = tokens; self.throttled = throttled
        }

        /// Wraps around instead of trapping: a reader takes a drop as a reset.
        mutating func add(_ other: Totals) {
            requests &+= other.requests; tokens &+= other.tokens; throttled &+= other.throttled
        }
    }

    public init(state: GCRA.State = GCRA.State(), totals: Totals = Totals(), tokensPerSecond: Double? = nil) {
        self.state = state; self.totals = totals; self.tokensPerSecond = tokensPerSecond
    }

    enum CodingKeys: String, CodingKey {
        case tat, cooldownUntil = "cooldown_until", factor, factorAt = "factor_at"
        case requests = "requests_total", tokens = "tokens_total", throttled = "throttled_total", tokensPerSecond = "tokens_per_second"
    }

    public init(from decoder: Decoder) throws {
        state = try GCRA.State(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        totals = Totals(requests: try c.decodeIfPresent(Int64.self, forKey: .requests) ?? 0,
                        tokens: try c.decodeIfPresent(Int64.self, forKey: .tokens) ?? 0,
                        throttled: try c.decodeIfPresent(Int64.self, forKey: .throttled) ?? 0)
        tokensPerSecond = try c.decodeIfPresent(Double.self, forKey: .tokensPerSecond)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state.tat, forKey: .tat)
        try c.encode(state.cooldownUntil, forKey: .cooldownUntil)
        try c.encode(state.factor, forKey: .factor)
        try c.encode(state.factorAt, forKey: .factorAt)
        try c.encode(totals.requests, forKey: .requests)
        try c.encode(totals.tokens, forKey: .tokens)
        try c.encode(totals.throttled, forKey: .throttled)
        try c.encodeIfPresent(tokensPerSecond, forKey: .tokensPerSecond)
    }
}

/// What this process's shared budget did: kept for the periodic budget log line
/// (``snapshot``) and emitted through swift-metrics as `ssmd_budget_*`.
public final class BudgetMetrics: @unchecked Sendable {
    public static let tokensGranted = MetricDefinition.counter(
        "ssmd_budget_tokens_granted_total", help: "Tokens this process was granted by the shared rate budget")
    public static let waitSeconds = MetricDefinition.counter(
        "ssmd_budget_wait_seconds_total", help: "Seconds this process's requests spent waiting for a budget slot, summed")
    public static let waitDuration = MetricDefinition.histogram(
        "ssmd_budget_wait_duration_seconds", buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        help: "Time one request waited for its budget slot (reservation and sleep)")
    public static let conflicts = MetricDefinition.counter(
        "ssmd_budget_cas_conflicts_total", help: "Compare-and-set races lost on a budget key (another replica wrote first; retried)")
    public static let tokensPerSecond = MetricDefinition.gauge(
        "ssmd_budget_tokens_per_second", help: "Configured refill of the shared read budget (tokens/s)")
    public static let throttleFactor = MetricDefinition.gauge(
        "ssmd_budget_throttle_factor",
        help: "Share of the configured rate the shared budget schedules at (1 = all; halved by each 429 storm, recovering linearly)")

    public static let leaseSlots = MetricDefinition.gauge(
        "ssmd_budget_lease_slots", help: "Slots of the shared schedule the last compare-and-set took for this process (--rate-lease-slots)")
    public static let leaseDropped = MetricDefinition.counter(
        "ssmd_budget_lease_slots_dropped_total",
        help: "Slots this process held but never used: past their time with no request waiting, or given up after a 429")
    public static let casLatency = MetricDefinition.histogram(
        "ssmd_budget_cas_duration_seconds", buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        help: "Time one compare-and-set on a budget key took, lost races included (sizes automatic blocks)")

    public static let definitions = [tokensGranted, waitSeconds, waitDuration, conflicts, tokensPerSecond, throttleFactor,
                                     leaseSlots, leaseDropped, casLatency]

    private struct Counts { var tokens = 0, requests = 0, waited: Int64 = 0, throttled = 0, conflicts = 0
                            var writes = 0, leaseSlots = 0, dropped = 0 }
    private let counts = Mutex(Counts())
    private let tokensCounter = Counter(label: BudgetMetrics.tokensGranted.name)
    private let waitCounter = FloatingPointCounter(label: BudgetMetrics.waitSeconds.name)
    private let waitTimer = CoreMetrics.Timer(label: BudgetMetrics.waitDuration.name)
    private let conflictCounter = Counter(label: BudgetMetrics.conflicts.name)
    private let factorGauge = Gauge(label: BudgetMetrics.throttleFactor.name)
    private let leaseGauge = Gauge(label: BudgetMetrics.leaseSlots.name)
    private let droppedCounter = Counter(label: BudgetMetrics.leaseDropped.name)
    private let casTimer = CoreMetrics.Timer(label: BudgetMetrics.casLatency.name)

    public init(tokensPerSecond: Double = 0) {
        Gauge(label: Self.tokensPerSecond.name).record(tokensPerSecond)
        factorGauge.record(1.0)
    }

    func granted(tokens: Int, waitedMicros: Int64) {
        counts.withLock { $0.tokens += tokens; $0.requests += 1; $0.waited += waitedMicros }
        tokensCounter.increment(by: tokens)
        waitCounter.increment(by: Double(max(0, waitedMicros)) / 1e6)
        waitTimer.recordMicroseconds(max(0, waitedMicros))
    }
    func throttled() { counts.withLock { $0.throttled += 1 } }
    func conflict() {
        counts.withLock { $0.conflicts += 1 }
        conflictCounter.increment()
    }
    func scheduled(factor: Double) { factorGauge.record(factor) }
    func leased(slots: Int, latencyMicros: Double) {
        counts.withLock { $0.writes += 1; $0.leaseSlots = slots }
        leaseGauge.record(slots)
        casTimer.recordMicroseconds(Int64(latencyMicros))
    }
    func leaseDropped(_ n: Int) {
        guard n > 0 else { return }
        counts.withLock { $0.dropped += n }
        droppedCounter.increment(by: n)
    }
    /// Blocks taken (one compare-and-set each on every bucket involved), the size of the
    /// last one, and slots dropped unused.
    public var leaseSnapshot: (blocks: Int, lastSlots: Int, dropped: Int) {
        counts.withLock { c in (c.writes, c.leaseSlots, c.dropped) }
    }
    public var snapshot: (tokens: Int, requests: Int, waitedSeconds: Double, throttled: Int, conflicts: Int) {
        counts.withLock { c in (c.tokens, c.requests, Double(c.waited) / 1e6, c.throttled, c.conflicts) }
    }
}
