import Foundation
import Logging
import NATSClient
import PostgresClient
import SSMDCore
import Secmaster
import WireContract
import WriterCore

/// The writer's PostgreSQL connection: connects lazily, drops the connection when it is lost
/// or unusable (the next use reconnects). Work runs on the connection's own thread.
///
/// Failover: every reconnect is a new `PQconnectdb`, so a connection string with several
/// hosts and `target_session_attrs=read-write` is resolved again each time and lands on
/// whichever server is the primary now (a standby still in recovery is skipped).
///
/// No call can block forever on a dead server: libpq's `connect_timeout` (10 s unless the
/// connection string says otherwise), TCP keepalives (a silent peer is noticed in about a
/// minute), `tcp_user_timeout` (unacknowledged sends fail after 60 s) and a session
/// `statement_timeout` bound each step.
public actor WriterDatabase {
    private let conninfo: String
    private let statementTimeout: Duration
    private var connection: PostgresConnection?
    private let logger: Logger

    public init(conninfo: String, statementTimeout: Duration = .seconds(120), logger: Logger) {
        self.conninfo = conninfo
        self.statementTimeout = statementTimeout
        self.logger = logger
    }

    /// Runs `body` with the secmaster store on a live connection (opening one if needed); a
    /// connection that is lost, or left unhealthy or inside a transaction, is closed so the
    /// next call starts clean.
    public func withStore<T: Sendable>(_ body: @escaping @Sendable (SecmasterStore) throws -> T) async throws -> T {
        let conn = try await live()
        do {
            return try await conn.secmaster(body)
        } catch {
            let lost = (error as? PostgresError)?.isConnectionLoss == true
            let unusable = lost ? true : !(await conn.isIdleAndHealthy)
            if unusable {
                if connection === conn {
                    // Once per lost connection (not per retry): the next use reconnects,
                    // resolving every host of a multi-host string again (a failover).
                    logger.warning("PostgreSQL connection lost; reconnecting", metadata: [
                        "server": "\(conn.serverAddress)", "error": "\(error)"])
                }
                await drop(conn)
            }
            throw error
        }
    }

    /// Applies pending migrations (under the migrator's advisory lock); returns their file names.
    public func migrate() async throws -> [String] {
        let conn = try await live()
        do {
            return try await Migrator.standard().migrate(conn).map(\.fileName)
        } catch {
            if !(await conn.isIdleAndHealthy) { await drop(conn) }
            throw error
        }
    }

    public func close() async {
        if let connection { connection.close() }
        connection = nil
    }

    private func drop(_ conn: PostgresConnection) async {
        conn.close()
        if connection === conn { connection = nil }
    }

    private func live() async throws -> PostgresConnection {
        if let connection { return connection }
        let conn = try await PostgresConnection.connect(conninfo)
        do {
            try await conn.execute("SELECT set_config('statement_timeout', $1, false)", [.text("\(statementTimeout.milliseconds)ms")])
        } catch {
            conn.close()
            throw error
        }
        // The server libpq chose among the string's hosts (after a failover, the new primary).
        logger.info("connected to PostgreSQL", metadata: ["server": "\(conn.serverAddress)", "database": "\(conn.redactedConnectionString)"])
        // Another caller may have connected while this one waited.
        if let connection {
            conn.close()
            return connection
        }
        connection = conn
        return conn
    }
}

/// Commits one batch, whatever it takes: retries PostgreSQL outages with backoff (keeping
/// the messages' leases alive with in-progress acks), isolates poison by splitting the
/// batch, dead-letters it with its reason, and acks only what is durable.
public final class BatchWriter: @unchecked Sendable {
    private let db: WriterDatabase
    private let deadLetters: DeadLetterPublisher
    private let ackWait: Duration
    private let metrics: WriterMetricsRecorder
    private let prometheus = WriterMetricsEmitter()
    private let logger: Logger

    public init(db: WriterDatabase, deadLetters: DeadLetterPublisher, ackWait: Duration, metrics: WriterMetricsRecorder, logger: Logger) {
        self.db = db
        self.deadLetters = deadLetters
        self.ackWait = ackWait
        self.metrics = metrics
        self.logger = logger
    }

    /// A fetched batch, decoded: what will be written, and the poison set aside before.
    public struct Prepared: Sendable {
        public let good: [(message: JetStreamMessage, payload: SecmasterPayload)]
        public let poison: [(message: JetStreamMessage, reason: String)]
        public var count: Int { good.count + poison.count }
    }

    /// Decodes a batch (pure CPU work, no I/O): the writer's loop runs it for the next batch
    /// while the previous one commits.
    public func prepare(_ messages: [JetStreamMessage]) -> Prepared {
        let decoder = JSONDecoder()
        var good: [(message: JetStreamMessage, payload: SecmasterPayload)] = []
        var poison: [(message: JetStreamMessage, reason: String)] = []
        good.reserveCapacity(messages.count)
        for m in messages {
            do {
                good.append((m, try SecmasterPayload.decode(subject: m.subject, data: m.data, decoder: decoder)))
            } catch {
                poison.append((m, "\(error)"))
            }
        }
        return Prepared(good: good, poison: poison)
    }

    /// Writes `messages` and acknowledges them. Returns false only when the task was
    /// cancelled before everything was durable: what was not committed is left unacked,
    /// so the server redelivers it (to this writer after a restart).
    @discardableResult
    public func commit(_ messages: [JetStreamMessage]) async -> Bool {
        await commit(prepare(messages))
    }

    @discardableResult
    public func commit(_ batch: Prepared) async -> Bool {
        for p in batch.poison { await setAside(p.message, reason: p.reason) }
        guard !batch.good.isEmpty else { return true }
        return await commitDecoded(batch.good[...])
    }

    /// Messages known to decode. A data or constraint error splits the batch until the bad
    /// message is alone; anything else (PostgreSQL down, timeouts) is retried until it works.
    private func commitDecoded(_ items: ArraySlice<(message: JetStreamMessage, payload: SecmasterPayload)>) async -> Bool {
        let batch = DecodedBatch(items.lazy.map(\.payload))
        let rows = batch.rows
        let catalogs = batch.catalogs
        let snapshots = batch.snapshots
        let bytes = items.reduce(0) { $0 + $1.message.data.count }
        var policy = CommitPolicy(ackWait: ackWait, since: .now)
        while true {
            let started = ContinuousClock.now
            let failure: CommitPolicy.Failure
            let failureText: String
            do {
                let result = try await db.withStore { store in
                    try store.connection.transaction { _ in
                        let counts = try store.upsert(series: rows.series, events: rows.events, markets: rows.markets)
                        var deactivated = 0, reactivated = 0
                        for c in catalogs {
                            let r = try store.applyCatalog(category: c.category, listed: c.listed, newer: c.newer, listedAt: c.listedAt)
                            deactivated += r.deactivated
                            reactivated += r.reactivated
                        }
                        var gone = 0
                        for snap in snapshots {
                            let r = try store.applySeriesSnapshot(series: snap.seriesTicker, closedSince: snap.closedSince, markets: snap.marketTickers,
                                                                  events: snap.eventTickers, fetchedAt: snap.fetchedAt)
                            gone += r.markets + r.events
                        }
                        return (counts, deactivated, reactivated, gone)
                    }
                }
                let elapsed = ContinuousClock.now - started, seconds = elapsed.seconds
                for item in items { try? item.message.ack() }
                metrics.update {
                    $0.recordCommit(messages: items.count, bytes: bytes, seconds: seconds, series: result.0.series,
                                    events: result.0.events, markets: result.0.markets,
                                    deactivated: result.1, reactivated: result.2, gone: result.3)
                }
                prometheus.committed(messages: items.count, bytes: bytes, duration: elapsed, series: result.0.series, events: result.0.events,
                                     markets: result.0.markets, deactivated: result.1, reactivated: result.2, gone: result.3)
                if policy.attempts > 0 {
                    logger.info("batch committed after retrying", metadata: ["attempts": "\(policy.attempts + 1)", "messages": "\(items.count)"])
                }
                logger.debug("batch committed", metadata: [
                    "messages": "\(items.count)", "markets_inserted": "\(result.0.markets.inserted)",
                    "markets_updated": "\(result.0.markets.updated)", "markets_unchanged": "\(result.0.markets.unchanged)",
                    "series_deactivated": "\(result.1)", "series_reactivated": "\(result.2)", "marked_gone": "\(result.3)",
                    "commit_ms": "\(WriterMetrics.milliseconds(seconds))"])
                return true
            } catch let e as PostgresError where BatchWriter.isPoison(e) {
                failure = .rejected("\(e)")
                failureText = "\(e)"
            } catch {
                failure = .transient
                failureText = "\(error)"
            }
            switch policy.next(after: failure, batchSize: items.count, cancelled: Task.isCancelled, now: .now, jitter: .random(in: 0..<1)) {
            case .deadLetter(let reason):
                await setAside(items.first!.message, reason: reason)
                return true
            case .split:
                let mid = items.startIndex + items.count / 2
                let left = await commitDecoded(items[..<mid])
                return await commitDecoded(items[mid...]) && left
            case .stop:
                logger.warning("stopping with a batch not committed; it will be redelivered", metadata: [
                    "messages": "\(items.count)", "error": "\(failureText)"])
                return false
            case .retry(let pause, let renewLeases):
                metrics.update { $0.commitRetries += 1 }
                prometheus.commitRetried()
                if policy.attempts == 1 || policy.attempts % 10 == 0 {
                    logger.error("batch not committed; retrying (nothing acked)", metadata: [
                        "error": "\(failureText)", "attempt": "\(policy.attempts)", "messages": "\(items.count)"])
                }
                if renewLeases { for item in items { try? item.message.inProgress() } }
                try? await Task.sleep(for: pause)
            }
        }
    }

    /// Data errors that retrying cannot fix: class 22 (bad value: numeric overflow, NUL in
    /// text, invalid JSON…), class 23 (integrity) and class 54 (a value beyond an
    /// implementation limit, such as a key too long for its index).
    static func isPoison(_ e: PostgresError) -> Bool {
        e.isConstraintViolation || (e.sqlState?.hasPrefix("54") ?? false)
    }

    private func setAside(_ message: JetStreamMessage, reason: String) async {
        if await deadLetters.setAside(message, reason: reason, logger: logger) {
            metrics.update { $0.deadLetters += 1 }
            prometheus.deadLettered()
        }
    }
}
