import CoreMetrics
import Logging
import Synchronization
import NATSClient
import SSMDCore
import SyncCore
import WireContract

/// Keeps series-fetcher a single active instance however many run: the one holding the lease
/// (`LeaderLease`, KV `ssmd_state` key `leader.series-fetcher`) runs the schedules; the others
/// stand by and take over once the lease lapses — within two lease periods of the leader's
/// death. A leader that cannot renew before its lease runs out stops its schedules before
/// anyone else may start them.
public final class LeaderElection: Sendable {
    public let instance: String
    public let period: Duration
    private let js: JetStream
    private let logger: Logger
    private let leading = Atomic<Bool>(false)
    /// The lease's key in the state bucket (the dashboard reads it too).
    public static let key = "leader.series-fetcher"

    public init(js: JetStream, instance: String, period: Duration, logger: Logger) {
        self.js = js
        self.instance = instance
        self.period = period
        self.logger = logger
        Gauge(label: CycleMetrics.leader.name).record(0)
        _ = Counter(label: CycleMetrics.leaderChanges.name)
    }

    /// Whether this instance held the lease at its last look (state writes check it).
    public var isLeader: Bool { leading.load(ordering: .acquiring) }

    /// Runs `lead` while this instance holds the lease, again each time it regains it, until
    /// the task is cancelled or `lead` returns (a one-shot run).
    public func run(_ lead: @escaping @Sendable () async throws -> Void) async throws {
        while !Task.isCancelled {
            try await acquire()
            let finished: Bool
            do {
                finished = try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask { try await lead(); return true }
                    group.addTask { try await self.renewUntilLost(); return false }
                    let first = try await group.next() ?? true
                    group.cancelAll()
                    return first
                }
            } catch {
                // A failed run (a --once cycle that failed, a fatal error) gives the lease up
                // too: the next instance must not wait out the period.
                await release()
                throw error
            }
            if finished { await release(); return }
        }
    }

    /// Waits until this instance holds the lease. NATS failing meanwhile (a bucket whose
    /// Raft group is electing a leader, the node it talked to killed) is waited out like the
    /// lease itself: a standby that exited on it would leave nobody to take over (seen in the
    /// cluster chaos run: "bind key-value bucket ssmd_state: Timeout", "no responders").
    func acquire() async throws {
        var said = ""
        var failures = 0
        while true {
            try Task.checkCancellation()
            let result: Attempt
            do {
                result = try await attempt()
                failures = 0
            } catch where !isPermanentStartupFailure(error) && !(error is CancellationError) {
                if failures % 10 == 0 {
                    logger.warning("leader lease unreadable; retrying", metadata: ["error": "\(error)", "attempt": "\(failures + 1)"])
                }
                failures += 1
                try await Task.sleep(for: min(period / 3, .seconds(2)))
                continue
            }
            switch result {
            case .held:
                became(true)
                return
            case .standby(let holder, let until):
                if said != holder {
                    logger.info("standing by: another series-fetcher holds the leader lease", metadata: ["leader": "\(holder)", "until": "\(until)"])
                    said = holder
                }
                try await Task.sleep(for: min(period / 3, .seconds(max(0.05, Double(until.microsecondsSinceEpoch - Timestamp.now().microsecondsSinceEpoch) / 1e6))))
            }
        }
    }

    /// Renews every third of the period; returns when the lease is lost (taken over, or not
    /// renewed in time), after the schedules have been told to stop.
    func renewUntilLost() async throws {
        var lastRenewed = ContinuousClock.now
        while true {
            try await Task.sleep(for: period / 3)
            do {
                if case .held = try await attempt() {
                    lastRenewed = ContinuousClock.now
                    continue
                }
                logger.warning("leader lease taken over by another series-fetcher; stopping the schedules")
            } catch {
                if ContinuousClock.now - lastRenewed < period * 2 / 3 {
                    logger.warning("leader lease not renewed; retrying", metadata: ["error": "\(error)"])
                    continue
                }
                logger.error("leader lease could not be renewed in time; stopping the schedules", metadata: ["error": "\(error)"])
            }
            became(false)
            return
        }
    }

    enum Attempt { case held, standby(String, Timestamp) }

    func attempt() async throws -> Attempt {
        let kv = try await js.keyValue(bucket: Topology.stateBucket)
        let entry = try await kv.get(Self.key)
        let current = entry.flatMap { e in (try? JSONCodec.decode(LeaderLease.self, from: e.value)).map { ($0, e.revision) } }
        switch LeaderLease.decide(current: current, me: instance, now: .now(), period: period) {
        case .wait(let holder, let until):
            return .standby(holder, until)
        case .write(let lease, let revision):
            do {
                let value = try JSONCodec.encode(lease)
                if let revision { _ = try await kv.update(Self.key, value: value, expectedRevision: revision) }
                else if let entry { _ = try await kv.update(Self.key, value: value, expectedRevision: entry.revision) }
                else { _ = try await kv.create(Self.key, value: value) }
                return .held
            } catch NATSError.revisionMismatch, NATSError.keyExists {
                // Another instance wrote first: look again.
                return .standby("another instance", .now())
            }
        }
    }

    private func became(_ leader: Bool) {
        guard leading.exchange(leader, ordering: .acquiringAndReleasing) != leader else { return }
        Gauge(label: CycleMetrics.leader.name).record(leader ? 1 : 0)
        Counter(label: CycleMetrics.leaderChanges.name).increment()
        if leader {
            logger.notice("became leader: running the schedules", metadata: ["instance": "\(instance)", "lease": "\(period)"])
        } else {
            logger.notice("no longer leader", metadata: ["instance": "\(instance)"])
        }
    }

    /// Gives the lease up at a clean stop (an expired lease in its place), so a standby takes
    /// over at once instead of after the period.
    private func release() async {
        became(false)
        do {
            let kv = try await js.keyValue(bucket: Topology.stateBucket)
            guard let entry = try await kv.get(Self.key),
                  let lease = try? JSONCodec.decode(LeaderLease.self, from: entry.value), lease.holder == instance else { return }
            let expired = LeaderLease(holder: instance, expiresAt: .now())
            _ = try await kv.update(Self.key, value: try JSONCodec.encode(expired), expectedRevision: entry.revision)
            logger.info("leader lease released")
        } catch {
            logger.debug("leader lease not released; it lapses by itself", metadata: ["error": "\(error)"])
        }
    }
}
