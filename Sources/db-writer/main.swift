import ArgumentParser
import Logging
import ServiceLifecycle
import Shared

/// db-writer: the only place data becomes durable. Pulls series, events, markets and
/// category listings from the secmaster stream, coalesces each batch to the newest state per
/// key, upserts it in one transaction, and acknowledges only after the commit.
struct DBWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db-writer",
        abstract: "Batch secmaster messages from NATS into PostgreSQL.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("batch-max-rows"), help: "Messages per transaction at most (SSMD_BATCH_MAX_ROWS). Default 5000")
    var batchMaxRows: String?
    @Option(name: .customLong("batch-max-bytes"), help: "Payload bytes per transaction at most (SSMD_BATCH_MAX_BYTES). Default 8388608")
    var batchMaxBytes: String?
    @Option(name: .customLong("batch-max-age"), help: "Longest a message waits for its batch (SSMD_BATCH_MAX_AGE). Default 500ms")
    var batchMaxAge: String?
    @Flag(name: .customLong("no-migrate"), help: "Do not apply migrations at start (SSMD_NO_MIGRATE)")
    var noMigrate = false
}

struct WriterSettings: Sendable {
    var maxRows: Int
    var maxBytes: Int
    var maxAge: Duration
    var migrate: Bool
}

/// A PostgreSQL session that reconnects by itself; every use happens off the cooperative pool.
final class DatabaseSession: @unchecked Sendable {
    private let conninfo: String
    private let lock = SimpleLock()
    private var connection: PostgresConnection?
    private let logger: Logger

    init(conninfo: String, logger: Logger) {
        self.conninfo = conninfo
        self.logger = logger
    }

    func withStore<T: Sendable>(_ body: @escaping @Sendable (SecmasterStore) throws -> T) async throws -> T {
        try await Offload.run { [self] in
            try lock.withLock {
                if connection == nil { connection = try PostgresConnection(connectionString: conninfo) }
                do {
                    return try body(SecmasterStore(connection: connection!))
                } catch let e as PostgresError where e.isConnectionLoss {
                    connection?.close()
                    connection = nil
                    throw e
                }
            }
        }
    }

    func migrate() async throws -> [String] {
        try await Offload.run { [self] in
            try lock.withLock {
                if connection == nil { connection = try PostgresConnection(connectionString: conninfo) }
                return try Migrator.standard().migrate(connection!).map(\.fileName)
            }
        }
    }

    func close() { lock.withLock { connection?.close(); connection = nil } }
}

struct DBWriterService: Service {
    let settings: WriterSettings
    let topology: Topology
    let nats: NATSOptions
    let conninfo: String
    let logger: Logger

    func run() async throws {
        let connection = try NATSConnection(options: nats, logger: logger)
        // Drain on the way out: pending acks and publishes reach the server before close.
        defer { try? connection.drain(timeout: .seconds(5)) }
        let js = try connection.jetStream()
        try await retryUntilReady(logger: logger, what: "NATS JetStream provisioning") {
            try await Offload.run {
                try topology.provision(js)
                try js.ensureConsumer(stream: Streams.secmaster, topology.writerConsumer)
            }
        }
        let sub = try js.pullSubscribe(stream: Streams.secmaster, consumer: Streams.writerConsumer)
        defer { sub.close() }
        let db = DatabaseSession(conninfo: conninfo, logger: logger)
        defer { db.close() }
        if settings.migrate {
            try await retryUntilReady(logger: logger, what: "database migration") {
                let applied = try await db.migrate()
                if !applied.isEmpty { logger.info("migrations applied", metadata: ["applied": "\(applied)"]) }
            }
        }
        let writer = BatchWriter(db: db, deadLetters: ReliablePublisher(js: js, logger: logger), ackWait: topology.writerAckWait, logger: logger)

        var batch: [JetStreamMessage] = []
        var bytes = 0
        var oldest = ContinuousClock.now
        while true {
            let stopping = Task.isShuttingDownGracefully || Task.isCancelled
            let due = !batch.isEmpty && (batch.count >= settings.maxRows || bytes >= settings.maxBytes
                                          || ContinuousClock.now - oldest >= settings.maxAge || stopping)
            if due {
                // Backpressure: nothing more is pulled until this batch is committed.
                await writer.commit(batch)
                batch.removeAll(keepingCapacity: true)
                bytes = 0
            }
            if stopping { break }
            let room = settings.maxRows - batch.count
            let wait: Duration = batch.isEmpty ? .seconds(1) : max(.milliseconds(1), settings.maxAge - (ContinuousClock.now - oldest))
            do {
                let got = try await Offload.run { try sub.fetch(batch: min(room, 1000), maxWait: wait) }
                if batch.isEmpty, !got.isEmpty { oldest = ContinuousClock.now }
                for m in got { bytes += m.data.count }
                batch.append(contentsOf: got)
            } catch {
                logger.warning("fetch from secmaster stream failed; retrying", metadata: ["error": "\(error)"])
                _ = await sleepUnlessShuttingDown(.milliseconds(500))
            }
        }
        logger.info("stopped", metadata: writer.totals.metadata)
    }
}

/// Commits one batch, whatever it takes: retries PostgreSQL outages with backoff (keeping
/// the messages' leases alive), isolates poison by splitting the batch, dead-letters it with
/// its reason, and acks only what is durable.
final class BatchWriter: @unchecked Sendable {
    struct Totals {
        var batches = 0, messages = 0, deadLetters = 0
        var series = UpsertCounts(inserted: 0, updated: 0, unchanged: 0)
        var events = UpsertCounts(inserted: 0, updated: 0, unchanged: 0)
        var markets = UpsertCounts(inserted: 0, updated: 0, unchanged: 0)
        var deactivated = 0
        var metadata: Logger.Metadata {
            ["batches": "\(batches)", "messages": "\(messages)", "dead_letters": "\(deadLetters)",
             "markets_inserted": "\(markets.inserted)", "markets_updated": "\(markets.updated)", "markets_unchanged": "\(markets.unchanged)",
             "series_deactivated": "\(deactivated)"]
        }
    }

    private let db: DatabaseSession
    private let deadLetters: ReliablePublisher
    private let ackWait: Duration
    private let logger: Logger
    private(set) var totals = Totals()

    init(db: DatabaseSession, deadLetters: ReliablePublisher, ackWait: Duration, logger: Logger) {
        self.db = db
        self.deadLetters = deadLetters
        self.ackWait = ackWait
        self.logger = logger
    }

    func commit(_ messages: [JetStreamMessage]) async {
        let decoded = DecodedBatch(subjects: messages.map(\.subject), payloads: messages.map(\.data))
        let poisonIndexes = Set(decoded.poison.map(\.index))
        for (i, reason) in decoded.poison { await setAside(messages[i], reason: reason) }
        let good = messages.enumerated().filter { !poisonIndexes.contains($0.offset) }.map(\.element)
        guard !good.isEmpty else { return }
        await commitDecodable(good)
    }

    /// Messages known to decode. A data or constraint error splits the batch until the bad
    /// message is alone; connection errors are retried until PostgreSQL is back.
    private func commitDecodable(_ messages: [JetStreamMessage]) async {
        let batch = DecodedBatch(subjects: messages.map(\.subject), payloads: messages.map(\.data))
        let rows = batch.rows
        let catalogs = Array(batch.coalesced.catalogs.values)
        var attempt = 0
        var lastLease = ContinuousClock.now
        while true {
            do {
                let started = ContinuousClock.now
                let result = try await db.withStore { store in
                    let counts = try store.upsert(series: rows.series, events: rows.events, markets: rows.markets)
                    var deactivated = 0
                    for c in catalogs { deactivated += try store.deactivateSeries(category: c.category, listed: c.seriesTickers) }
                    return (counts, deactivated)
                }
                for m in messages { try? m.ack() }
                totals.batches += 1
                totals.messages += messages.count
                totals.series = totals.series + result.0.series
                totals.events = totals.events + result.0.events
                totals.markets = totals.markets + result.0.markets
                totals.deactivated += result.1
                logger.debug("batch committed", metadata: [
                    "messages": "\(messages.count)", "markets_inserted": "\(result.0.markets.inserted)",
                    "markets_updated": "\(result.0.markets.updated)", "markets_unchanged": "\(result.0.markets.unchanged)",
                    "commit_ms": "\((ContinuousClock.now - started).seconds * 1000)"])
                return
            } catch let e as PostgresError where e.isConstraintViolation {
                if messages.count == 1 {
                    await setAside(messages[0], reason: "rejected by PostgreSQL: \(e)")
                } else {
                    let mid = messages.count / 2
                    await commitDecodable(Array(messages[..<mid]))
                    await commitDecodable(Array(messages[mid...]))
                }
                return
            } catch {
                attempt += 1
                if attempt == 1 || attempt % 10 == 0 {
                    logger.error("batch not committed; retrying (nothing acked)", metadata: ["error": "\(error)", "attempt": "\(attempt)", "messages": "\(messages.count)"])
                }
                if ContinuousClock.now - lastLease >= .milliseconds(ackWait.milliseconds / 3) {
                    for m in messages { try? m.inProgress() }
                    lastLease = ContinuousClock.now
                }
                let pause = RetryPolicy(maxAttempts: .max, base: .milliseconds(200), cap: .seconds(5)).delay(attempt: attempt, unit: Double.random(in: 0.5..<1))
                try? await Task.sleep(for: pause)
            }
        }
    }

    private func setAside(_ message: JetStreamMessage, reason: String) async {
        let letter = DeadLetter(stage: "db-writer", reason: reason, subject: message.subject,
                                deliveries: message.deliveryCount, failedAt: .now(), payload: message.data)
        do {
            try await deadLetters.publishAll([OutgoingMessage(subject: Subjects.deadLetter(stage: "db-writer"), data: letter.encoded(),
                                                              msgId: "dlq:db-writer:\(message.streamSequence)")])
            try message.term()
            totals.deadLetters += 1
            logger.error("message set aside on the dead-letter subject", metadata: ["subject": "\(message.subject)", "reason": "\(reason)"])
        } catch {
            logger.error("could not dead-letter message; leaving it for redelivery", metadata: ["reason": "\(reason)", "error": "\(error)"])
            try? message.nak(delay: .seconds(5))
        }
    }
}

extension UpsertCounts {
    static func + (a: UpsertCounts, b: UpsertCounts) -> UpsertCounts {
        UpsertCounts(inserted: a.inserted + b.inserted, updated: a.updated + b.updated, unchanged: a.unchanged + b.unchanged)
    }
}

@main
enum DBWriterMain {
    static func main() async {
        do {
            let cmd = try DBWriterCommand.parse()
            let r = SettingsResolver()
            let common = try cmd.common.resolve(connectionName: "db-writer")
            let conninfo = try cmd.database.resolve(r)
            let settings = WriterSettings(
                maxRows: try r.int("batch-max-rows", cmd.batchMaxRows, default: 5000, range: 1...1_000_000),
                maxBytes: try r.int("batch-max-bytes", cmd.batchMaxBytes, default: 8 << 20, range: 1024...(1 << 30)),
                maxAge: try r.duration("batch-max-age", cmd.batchMaxAge, default: .milliseconds(500), min: .milliseconds(1), max: .seconds(600)),
                migrate: !(try r.bool("no-migrate", cmd.noMigrate ? true : nil, default: false)))
            StructuredLogHandler.bootstrap(level: common.logLevel, format: common.logFormat)
            let logger = Logger(label: "db-writer")
            logger.info("starting", metadata: [
                "nats": "\(common.nats.urls.map(Redaction.url))", "database": "\(Redaction.conninfo(conninfo.isEmpty ? "(PG* environment)" : conninfo))",
                "batch_max_rows": "\(settings.maxRows)", "batch_max_bytes": "\(settings.maxBytes)",
                "batch_max_age_ms": "\(settings.maxAge.milliseconds)", "migrate": "\(settings.migrate)"])
            let service = DBWriterService(settings: settings, topology: Topology(), nats: common.nats, conninfo: conninfo, logger: logger)
            try await DaemonMain.run(services: [service], logger: logger, shutdownTimeout: common.shutdownTimeout)
        } catch {
            DaemonMain.exit(DBWriterCommand.self, error: error, program: "db-writer")
        }
    }
}
