import Foundation
import Logging
import SSMDCore

/// One exchange read budget shared by every process, stored in NATS KV.
///
/// The whole state of a bucket is a GCRA `State` (theoretical arrival time + shared
/// cooldown) under one key, updated by compare-and-set on the key's revision: read,
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
    public let metrics = BudgetMetrics()
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
    }

    public func acquire(cost: Int) async throws {
        let began = clock.now()
        // The pool's cap first: if it fails, no global slot is wasted.
        var sendAt: Int64 = 0
        if let pool { sendAt = try await reserve(key: pool.key, gcra: pool.gcra, cost: cost) }
        sendAt = max(sendAt, try await reserve(key: Self.globalKey, gcra: global, cost: cost))
        try await clock.sleep(until: sendAt)
        metrics.granted(tokens: cost, waitedMicros: clock.now() - began)
    }

    public func reportThrottled() async {
        metrics.throttled()
        let cooldownMicros = cooldown.milliseconds * 1000
        do {
            try await update(key: Self.globalKey) { state, now in (self.global.throttled(now: now, cooldown: cooldownMicros, state: state), ()) }
        } catch {
            logger.warning("could not record the 429 cooldown in the shared budget", metadata: ["error": "\(error)"])
        }
    }

    /// One reservation in one bucket; returns when the request may be sent (µs since epoch).
    private func reserve(key: String, gcra: GCRA, cost: Int) async throws -> Int64 {
        try await update(key: key) { state, now in
            let r = gcra.reserve(cost: cost, now: now, state: state)
            return (r.newState, r.sendAt)
        }
    }

    /// Compare-and-set loop: read the state, compute, write back against the revision read.
    private func update<T: Sendable>(key: String, _ transform: @escaping @Sendable (GCRA.State, Int64) -> (GCRA.State, T)) async throws -> T {
        try await casLock.withLock { try await self.compareAndSet(key: key, transform) }
    }

    private func compareAndSet<T: Sendable>(key: String, _ transform: @escaping @Sendable (GCRA.State, Int64) -> (GCRA.State, T)) async throws -> T {
        var conflicts = 0
        var storeFailures = 0
        while true {
            let written: Bool
            let value: T
            do {
                let entry = try await store.read(key)
                let state = entry.flatMap { try? JSONDecoder().decode(GCRA.State.self, from: Data($0.value)) } ?? GCRA.State()
                let (next, result) = transform(state, clock.now())
                written = try await store.write(key, value: Array(try JSONEncoder().encode(next)), ifRevision: entry?.revision)
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

/// What a budget did, for metrics and summaries.
public final class BudgetMetrics: @unchecked Sendable {
    private let lock = SimpleLock()
    private var _tokens = 0, _requests = 0, _waited: Int64 = 0, _throttled = 0, _conflicts = 0
    public init() {}
    func granted(tokens: Int, waitedMicros: Int64) { lock.withLock { _tokens += tokens; _requests += 1; _waited += waitedMicros } }
    func throttled() { lock.withLock { _throttled += 1 } }
    func conflict() { lock.withLock { _conflicts += 1 } }
    public var snapshot: (tokens: Int, requests: Int, waitedSeconds: Double, throttled: Int, conflicts: Int) {
        lock.withLock { (_tokens, _requests, Double(_waited) / 1e6, _throttled, _conflicts) }
    }
}
