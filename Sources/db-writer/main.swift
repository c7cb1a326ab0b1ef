import ArgumentParser
import BuildInfo
import Logging
import ServiceLifecycle
import DaemonKit
import NATSClient
import Pipeline
import PostgresClient
import SSMDCore
import WireContract
import WriterCore

/// db-writer: the only place data becomes durable. Pulls series, events, markets and
/// category listings from the secmaster stream, coalesces each batch to the newest state per
/// key, upserts it in one transaction, and acknowledges only after the commit.
struct DBWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db-writer",
        abstract: "Batch secmaster messages from NATS into PostgreSQL.",
        version: BuildInfo.versionLine(program: "db-writer"))

    @OptionGroup var common: CommonOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var ops: OpsOptions
    @Option(name: Settings.batchMaxRows.name, help: Settings.batchMaxRows.help)
    var batchMaxRows: String?
    @Option(name: Settings.batchMaxBytes.name, help: Settings.batchMaxBytes.help)
    var batchMaxBytes: String?
    @Option(name: Settings.batchMaxAge.name, help: Settings.batchMaxAge.help)
    var batchMaxAge: String?
    @Option(name: Settings.writerAckWait.name, help: Settings.writerAckWait.help)
    var ackWait: String?
    @Option(name: Settings.statementTimeout.name, help: Settings.statementTimeout.help)
    var statementTimeout: String?
    @Option(name: Settings.metricsInterval.name, help: Settings.metricsInterval.help)
    var metricsInterval: String?
    @Flag(name: Settings.noMigrate.name, help: Settings.noMigrate.help)
    var noMigrate = false
    @Option(name: Settings.retention.name, help: Settings.retention.help)
    var retention: String?
    @Option(name: Settings.retentionEvery.name, help: Settings.retentionEvery.help)
    var retentionEvery: String?
}

struct WriterSettings: Sendable {
    var maxRows: Int
    var maxBytes: Int
    var maxAge: Duration
    var ackWait: Duration
    var statementTimeout: Duration
    var metricsInterval: Duration
    var migrate: Bool
    /// Rows gone longer than this are pruned (nil: never), every `retentionEvery`.
    var retention: Duration?
    var retentionEvery: Duration
}

struct DBWriterService: Service {
    let settings: WriterSettings
    let topology: Topology
    let nats: NATSOptions
    let conninfo: String
    let probe: ReadinessProbe
    let logger: Logger

    /// Messages per pull request at most (the rest of the batch's room, up to this).
    static let fetchChunk = 2500

    func run() async throws {
        // Drained on the way out: pending acks and publishes reach the server before close.
        try await withNATS(nats, logger: logger) { connection in
            probe.watch(nats: connection)
            probe.watch(postgres: conninfo)
            var consumerSpec = topology.writerConsumer
            consumerSpec.ackWait = settings.ackWait
            let js = try await provisionPipeline(connection, topology: topology, logger: logger) { [consumerSpec] js in
                try await js.ensureConsumer(stream: Streams.secmaster, consumerSpec)
            }
            try await run(js: js)
            // Acks are fire-and-forget: push the last ones out before the connection drains.
            try? await connection.flush(timeout: .seconds(2))
        }
    }

    func run(js: JetStream) async throws {
        // A pull consumer: the server delivers only what a fetch asks for, so its
        // MaxAckPending is a ceiling, never a push; what is in flight is bounded by one batch.
        var subscription: PullSubscription?
        try await retryUntilReady(logger: logger, what: "subscribing to the secmaster stream") {
            subscription = try await js.pullSubscribe(stream: Streams.secmaster, consumer: Streams.writerConsumer)
        }
        guard let sub = subscription else { return }
        defer { sub.close() }
        let db = WriterDatabase(conninfo: conninfo, statementTimeout: settings.statementTimeout, logger: logger)
        // PostgreSQL must answer before anything is pulled: a database that is not up yet is
        // waited for; one that refuses the credentials ends the writer with one line (exit 2).
        do {
            try await retryUntilReady(logger: logger, what: settings.migrate ? "database migration" : "connecting to PostgreSQL") {
                if settings.migrate {
                    let applied = try await db.migrate()
                    if !applied.isEmpty { logger.info("migrations applied", metadata: ["applied": "\(applied)"]) }
                } else {
                    try await db.withStore { _ in () }
                }
            }
        } catch {
            await db.close()
            throw error
        }
        let metrics = WriterMetricsRecorder()
        let writer = BatchWriter(db: db, deadLetters: DeadLetterPublisher(stage: "db-writer", js: js, logger: logger), ackWait: settings.ackWait,
                                 metrics: metrics, logger: logger)

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await reportMetrics(metrics, js: js) }
            if let retention = settings.retention { group.addTask { await enforceRetention(retention, js: js) } }
            await batchLoop(sub: sub, writer: writer)
            group.cancelAll()
        }
        await db.close()
        await refreshLag(metrics, js: js)
        logger.info("stopped", metadata: metrics.snapshot.logMetadata)
    }

    /// Deletes rows gone longer than `retention`, and their last values, every
    /// `retentionEvery` (the first run a minute after start), on a connection of its own in
    /// small batches that never wait for the writer's rows. A failure is logged and retried
    /// at the next run.
    private func enforceRetention(_ retention: Duration, js: JetStream) async {
        var wait = Duration.seconds(60)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: wait)
            wait = settings.retentionEvery
            guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return }
            let cutoff = Timestamp.now().adding(seconds: -Int64(retention.seconds))
            do {
                let done = try await PostgresConnection.with(conninfo) { connection in
                    try await Pruner(connection: connection, js: js, logger: logger).prune(goneBefore: cutoff)
                }
                if done.markets + done.events > 0 {
                    logger.info("retention: pruned rows gone from the exchange", metadata: [
                        "markets": "\(done.markets)", "events": "\(done.events)", "subjects_purged": "\(done.subjectsPurged)", "gone_before": "\(cutoff)"])
                }
            } catch {
                logger.warning("retention run failed; the next run tries again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Pull → decode → commit, with at most one batch committing while the next one is
    /// pulled and decoded: when PostgreSQL is slow, the loop waits for the commit before it
    /// starts another, so it stops pulling instead of growing memory (at most two batches —
    /// 2 × `maxRows` messages, about 2 × `maxBytes` of payload — are held at once). Batches
    /// commit in order, one at a time.
    private func batchLoop(sub: PullSubscription, writer: BatchWriter) async {
        var batch: [JetStreamMessage] = []
        batch.reserveCapacity(settings.maxRows)
        var accumulator = BatchAccumulator(limits: .init(maxRows: settings.maxRows, maxBytes: settings.maxBytes,
                                                          maxAge: settings.maxAge, fetchChunk: Self.fetchChunk))
        var committing: Task<Bool, Never>?
        while true {
            let stopping = Task.isShuttingDownGracefully || Task.isCancelled
            if accumulator.isDue(now: .now, stopping: stopping) {
                let prepared = writer.prepare(batch)  // overlaps the previous batch's commit
                batch = []
                batch.reserveCapacity(settings.maxRows)
                accumulator.reset()
                if let previous = committing, !(await previous.value) { committing = nil; break }
                committing = Task { await writer.commit(prepared) }
            }
            if stopping { break }
            let pull = accumulator.nextPull(now: .now)
            do {
                let got = try await sub.fetch(batch: pull.batch, maxWait: pull.maxWait, maxBytes: pull.maxBytes)
                accumulator.add(count: got.count, bytes: got.reduce(0) { $0 + $1.data.count }, now: .now)
                batch.append(contentsOf: got)
            } catch {
                logger.warning("fetch from secmaster stream failed; retrying", metadata: ["error": "\(error)"])
                _ = await sleepUnlessShuttingDown(.milliseconds(500))
            }
        }
        if let c = committing { _ = await c.value }
    }

    /// Logs totals, the last batch, commit latency percentiles and the consumer's lag every
    /// `metricsInterval`.
    private func reportMetrics(_ metrics: WriterMetricsRecorder, js: JetStream) async {
        while await sleepUnlessShuttingDown(settings.metricsInterval) {
            await refreshLag(metrics, js: js)
            logger.info("writer metrics", metadata: metrics.snapshot.logMetadata)
        }
    }

    private func refreshLag(_ metrics: WriterMetricsRecorder, js: JetStream) async {
        if let info = try? await js.consumerInfo(stream: Streams.secmaster, name: Streams.writerConsumer) {
            metrics.update {
                $0.consumerPending = info.numPending
                $0.consumerAckPending = info.numAckPending
            }
            WriterMetricsEmitter.lag(pending: info.numPending, ackPending: info.numAckPending)
        }
    }
}

@main
enum DBWriterMain {
    static func main() async {
        // Few malloc arenas: the writer's memory is a couple of batches, and per-thread
        // arenas (one per Dispatch worker) would multiply its peak resident size.
        ProcessMemory.configureMalloc()
        do {
            let cmd = try DBWriterCommand.parse()
            let r = SettingsResolver()
            let common = try cmd.common.resolve(connectionName: "db-writer")
            let ops = try cmd.ops.resolve(r)
            let conninfo = try cmd.database.resolve(r)
            let settings = WriterSettings(
                // 2,500: as fast as larger batches, and two of them in flight stay well under 100 MB.
                maxRows: try r.value(Settings.batchMaxRows, cmd.batchMaxRows),
                maxBytes: try r.value(Settings.batchMaxBytes, cmd.batchMaxBytes),
                maxAge: try r.value(Settings.batchMaxAge, cmd.batchMaxAge),
                ackWait: try r.value(Settings.writerAckWait, cmd.ackWait),
                statementTimeout: try r.value(Settings.statementTimeout, cmd.statementTimeout),
                metricsInterval: try r.value(Settings.metricsInterval, cmd.metricsInterval),
                migrate: !(try r.value(Settings.noMigrate, cmd.noMigrate)),
                retention: try r.value(Settings.retention, cmd.retention),
                retentionEvery: try r.value(Settings.retentionEvery, cmd.retentionEvery))
            StructuredLogHandler.bootstrap(level: common.logLevel, format: common.logFormat)
            let logger = Logger(label: "db-writer")
            logger.info("starting", metadata: [
                "nats": "\(common.nats.urls.map(Redaction.url))", "database": "\(Redaction.conninfo(conninfo.isEmpty ? "(PG* environment)" : conninfo))",
                "batch_max_rows": "\(settings.maxRows)", "batch_max_bytes": "\(settings.maxBytes)",
                "batch_max_age_ms": "\(settings.maxAge.milliseconds)", "ack_wait_s": "\(settings.ackWait.seconds)",
                "statement_timeout_s": "\(settings.statementTimeout.seconds)", "migrate": "\(settings.migrate)",
                "retention": "\(settings.retention.map { "\(Int($0.seconds / 86_400))d" } ?? "off")"])
            let registry = DaemonMetrics.bootstrap(program: "db-writer"), probe = ReadinessProbe()
            let service = DBWriterService(settings: settings, topology: common.topology, nats: common.nats, conninfo: conninfo,
                                          probe: probe, logger: logger)
            try await DaemonMain.run(service, program: "db-writer", ops: ops, metrics: registry, probe: probe, logger: logger,
                                     shutdownTimeout: common.shutdownTimeout)
        } catch {
            DaemonMain.exit(DBWriterCommand.self, error: error, program: "db-writer")
        }
    }
}
