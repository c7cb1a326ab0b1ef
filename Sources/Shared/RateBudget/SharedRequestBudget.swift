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
/// just retries. Each request makes one reservation and then sleeps until its slot, so N
/// replicas together send at exactly the configured rate whatever N is.
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

    public static let globalKey = "read"
    /// Transient store failures in a row a reservation rides out (backing off from 0.2 s to
    /// 3.2 s: about 30 s in all) before it fails.
    static let transientRetries = 12

    /// KV keys allow only `[-/_=.a-zA-Z0-9]`, and a pool of many tags has a long name.
    static func poolKey(_ name: String) -> String { SafeName.make(prefix: "pool", from: name, separator: ".") }

    public init(store: any BudgetStore, limits: BudgetLimits, pool: Pool? = nil, cooldown: Duration = .seconds(2),
                clock: any BudgetClock = WallClock(), logger: Logger) {
        self.store = store
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
        // The pool's cap first: if it fails, no global slot is wasted.
        var sendAt: Int64 = 0
        if let pool { sendAt = try await reserve(key: pool.key, gcra: pool.gcra, cost: cost).sendAt }
        let overall = try await reserve(key: Self.globalKey, gcra: global, cost: cost)
        sendAt = max(sendAt, overall.sendAt)
        metrics.scheduled(factor: overall.factor)
        try await clock.sleep(until: sendAt)
        metrics.granted(tokens: cost, waitedMicros: clock.now() - began)
    }

    public func reportThrottled() async {
        metrics.throttled()
        let cooldownMicros = cooldown.milliseconds * 1000
        do {
            try await update(key: Self.globalKey, adding: BudgetRecord.Totals(throttled: 1)) { state, now in
                (self.global.throttled(now: now, cooldown: cooldownMicros, state: state), ())
            }
        } catch {
            logger.warning("could not record the 429 cooldown in the shared budget", metadata: ["error": "\(error)"])
        }
    }

    /// One reservation in one bucket: when the request may be sent (µs since epoch), and the
    /// share of the configured rate the bucket schedules at now.
    private func reserve(key: String, gcra: GCRA, cost: Int) async throws -> (sendAt: Int64, factor: Double) {
        try await update(key: key, adding: BudgetRecord.Totals(requests: 1, tokens: Int64(cost))) { state, now in
            let r = gcra.reserve(cost: cost, now: now, state: state)
            return (r.newState, (r.sendAt, r.newState.factor))
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
        /// Reservations made (one per request sent), tokens they spent, and 429s reported.
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

    public static let definitions = [tokensGranted, waitSeconds, waitDuration, conflicts, tokensPerSecond, throttleFactor]

    private struct Counts { var tokens = 0, requests = 0, waited: Int64 = 0, throttled = 0, conflicts = 0 }
    private let counts = Mutex(Counts())
    private let tokensCounter = Counter(label: BudgetMetrics.tokensGranted.name)
    private let waitCounter = FloatingPointCounter(label: BudgetMetrics.waitSeconds.name)
    private let waitTimer = CoreMetrics.Timer(label: BudgetMetrics.waitDuration.name)
    private let conflictCounter = Counter(label: BudgetMetrics.conflicts.name)
    private let factorGauge = Gauge(label: BudgetMetrics.throttleFactor.name)

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
    public var snapshot: (tokens: Int, requests: Int, waitedSeconds: Double, throttled: Int, conflicts: Int) {
        counts.withLock { c in (c.tokens, c.requests, Double(c.waited) / 1e6, c.throttled, c.conflicts) }
    }
}
