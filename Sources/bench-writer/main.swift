import Foundation
import Logging
import KalshiModels
import NATSClient
import Pipeline
import PostgresClient
import SSMDCore
import Secmaster
import SecmasterSchema
import WireContract
import WriterCore

// bench-writer: the db-writer's throughput against PostgreSQL's own COPY, on one server.
// Run through scripts/bench-writer, which builds release binaries and starts a private
// nats-server and PostgreSQL; this program only connects to them.
//
//   bench-writer --rows N --nats-url URL --database-url CONNINFO --db-writer PATH --work-dir DIR
//
// 1. COPY baseline: the N market rows COPYed in one transaction into the empty real
//    `markets` table (primary key, 4 indexes, foreign key to events — what the writer
//    writes into), then into a bare table of the same columns (no index, no constraint).
// 2. Writer path, three runs: N market messages are first published to JetStream, then the
//    real db-writer process is started and timed until its consumer has nothing pending or
//    unacknowledged and the table holds the expected rows: (a) new rows, (b) every row
//    changed (newer updated_time), (c) identical content re-fetched (new fetched_at, fresh
//    Nats-Msg-Id so nothing is deduplicated — the writer really sees every message).
// Rows written per phase come from pg_stat_user_tables (n_tup_ins + n_tup_upd deltas).

struct Options {
    var rows = 200_000
    var natsURL = "nats://127.0.0.1:4222"
    var databaseURL = ""
    var dbWriter = ""
    var workDir = FileManager.default.temporaryDirectory.path
    var writerArgs: [String] = []

    static func parse(_ args: [String]) -> Options {
        var o = Options()
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else { fail("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--rows": o.rows = Int(value()) ?? { fail("--rows: not a number") }()
            case "--nats-url": o.natsURL = value()
            case "--database-url": o.databaseURL = value()
            case "--db-writer": o.dbWriter = value()
            case "--work-dir": o.workDir = value()
            case "--writer-arg": o.writerArgs.append(value())
            default: fail("unknown argument \(args[i])")
            }
            i += 1
        }
        guard o.rows > 0 else { fail("--rows must be positive") }
        guard !o.dbWriter.isEmpty else { fail("--db-writer PATH is required") }
        return o
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-writer: \(message)\n".utf8))
    exit(1)
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("bench-writer: \(message)\n".utf8))
}

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    return (ContinuousClock.now - start).seconds
}

// MARK: - Data

let base = Timestamp(microsecondsSinceEpoch: 1_768_255_690_446_961)  // 2026-01-12T22:08:10.446961Z
func at(_ s: Int64) -> Timestamp { Timestamp(microsecondsSinceEpoch: base.microsecondsSinceEpoch + s * 1_000_000) }

let marketsPerEvent = 20
func eventTicker(_ i: Int) -> String { "KXBENCH-26JAN\(i / marketsPerEvent)" }

/// A market shaped like the exchange's (every field the writer stores is set).
func market(_ i: Int, yesBid: String, updated: Timestamp) -> Market {
    var m = Market(ticker: "\(eventTicker(i))-T\(i).5", eventTicker: eventTicker(i), status: "active")
    m.marketType = "binary"
    m.title = "Will the benchmark value be above \(i).5 on Jan 26, 2026?"
    m.subtitle = ""
    m.yesSubTitle = "Above \(i).5"
    m.noSubTitle = "\(i).5 or below"
    m.result = ""
    m.createdTime = at(-86_400)
    m.updatedTime = updated
    m.openTime = at(-3_600)
    m.closeTime = at(86_400 * 14)
    m.expectedExpirationTime = at(86_400 * 14 + 300)
    m.latestExpirationTime = at(86_400 * 21)
    m.settlementTimerSeconds = 300
    m.canCloseEarly = true
    m.strikeType = "greater"
    m.floorStrike = FixedPoint("\(i).5")
    m.rulesPrimary = "If the benchmark value is above \(i).5 at the close of trading on Jan 26, 2026, then the market resolves to Yes."
    m.rulesSecondary = "Not affected by revisions after expiration."
    m.yesBid = FixedPoint(yesBid)
    m.yesAsk = FixedPoint("0.5800")
    m.noBid = FixedPoint("0.4200")
    m.noAsk = FixedPoint("0.4400")
    m.lastPrice = FixedPoint("0.5700")
    m.notionalValue = FixedPoint("1.0000")
    m.volume = FixedPoint("1520.00")
    m.volume24h = FixedPoint("130.00")
    m.openInterest = FixedPoint("880.00")
    return m
}

func messages(_ n: Int, yesBid: String, updated: Timestamp, fetched: Timestamp, phase: String) throws -> [OutgoingMessage] {
    try (0..<n).map { i in
        let msg = MarketMessage(fetchedAt: fetched, tag: "Economics", seriesTicker: "KXBENCH",
                                market: market(i, yesBid: yesBid, updated: updated))
        return OutgoingMessage(subject: Subjects.market(tag: msg.tag, series: msg.seriesTicker, market: msg.market.ticker),
                               data: try MessageCodec.encode(msg), msgId: "bench-\(phase)-\(i)")
    }
}

// MARK: - PostgreSQL

func scalar(_ db: PostgresConnection, _ sql: String) async throws -> Int {
    Int(try await db.execute(sql).scalar ?? "0") ?? 0
}

/// Rows inserted + updated in the secmaster tables so far (pg_stat_user_tables; a fresh
/// snapshot each call).
func rowsWritten(_ db: PostgresConnection) async throws -> Int {
    try await db.execute("SELECT pg_stat_clear_snapshot()")
    return try await scalar(db, """
        SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0)::bigint FROM pg_stat_user_tables
        WHERE schemaname = 'public' AND relname IN ('series', 'events', 'markets')
        """)
}

// MARK: - The writer process

struct WriterRun {
    var seconds: Double
    var maxRSSMB: Double
    var rowsWritten: Int
}

func runWriter(_ o: Options, js: JetStream, db: PostgresConnection, phase: String, done: () async throws -> Bool) async throws -> WriterRun {
    let writtenBefore = try await rowsWritten(db)
    let logURL = URL(fileURLWithPath: o.workDir).appendingPathComponent("db-writer-\(phase).log")
    FileManager.default.createFile(atPath: logURL.path, contents: nil)
    let log = try FileHandle(forWritingTo: logURL)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: o.dbWriter)
    p.arguments = o.writerArgs
    var env = ProcessInfo.processInfo.environment
    env["SSMD_NATS_URL"] = o.natsURL
    env["SSMD_DATABASE_URL"] = o.databaseURL
    env["SSMD_RETENTION"] = "off"  // phase (d) prunes by itself, in the bench's own session
    env["SSMD_LOG_LEVEL"] = env["SSMD_LOG_LEVEL"] ?? "info"
    p.environment = env
    p.standardOutput = log
    p.standardError = log
    p.standardInput = FileHandle.nullDevice
    let start = ContinuousClock.now
    try p.run()
    var hwm = 0.0
    func sampleRSS() {
        guard let status = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8) else { return }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
            hwm = max(hwm, kb / 1024)
        }
    }
    var finished: Double?
    let deadline = start + .seconds(1800)
    while finished == nil {
        guard p.isRunning else { fail("db-writer exited early (\(phase)); see \(logURL.path)") }
        guard ContinuousClock.now < deadline else { p.terminate(); fail("db-writer did not finish \(phase) in 30 minutes") }
        sampleRSS()
        if let info = try? await js.consumerInfo(stream: Streams.secmaster, name: Streams.writerConsumer),
           info.numPending == 0, info.numAckPending == 0, try await done() {
            finished = (ContinuousClock.now - start).seconds
        } else {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
    sampleRSS()
    p.terminate()  // SIGTERM: graceful stop
    p.waitUntilExit()
    try? log.close()
    // The writer's backend has gone, so its table statistics are flushed.
    var written = try await rowsWritten(db)
    for _ in 0..<20 {
        try await Task.sleep(for: .milliseconds(100))
        let again = try await rowsWritten(db)
        if again == written { break }
        written = again
    }
    return WriterRun(seconds: finished!, maxRSSMB: hwm, rowsWritten: written - writtenBefore)
}

// MARK: - Main

let o = Options.parse(Array(CommandLine.arguments.dropFirst()))
let n = o.rows
let db = try await PostgresConnection.connect(o.databaseURL)
_ = try await Migrator.embedded().migrate(db)
func marketCount() async throws -> Int { try await db.secmaster { try $0.count(.markets) } }
let server = try await db.execute("SHOW server_version").scalar ?? "?"
let fsync = try await db.execute("SHOW fsync").scalar ?? "?"
let syncCommit = try await db.execute("SHOW synchronous_commit").scalar ?? "?"
let sharedBuffers = try await db.execute("SHOW shared_buffers").scalar ?? "?"

// Events exist before any market arrives (as the market-fetcher publishes them first), so
// neither COPY nor the writer creates placeholder events.
let eventCount = (n + marketsPerEvent - 1) / marketsPerEvent
let eventRows = (0..<eventCount).map {
    EventRow(ticker: eventTicker($0 * marketsPerEvent), seriesTicker: "KXBENCH", title: "Benchmark event \($0)",
             category: "Economics", mutuallyExclusive: false, fetchedAt: at(0))
}
_ = try await db.secmaster { try $0.upsert(events: eventRows) }
try await db.execute("VACUUM ANALYZE events")

note("generating \(n) rows")
let rows = (0..<n).map { i in
    MarketRow(MarketMessage(fetchedAt: at(0), tag: "Economics", seriesTicker: "KXBENCH", market: market(i, yesBid: "0.5600", updated: at(0))))
}
let columns = SecmasterStore.marketColumns.joined(separator: ", ")

note("COPY baselines")
try await db.execute("CHECKPOINT")
/// COPY of every generated row into `table`, in one transaction on the connection's thread.
func copyRows(into table: String) async throws {
    try await db.withSession { s in
        try s.transaction { tx in
            _ = try tx.copyIn("COPY \(table) (\(columns)) FROM STDIN", rows: rows, encode: SecmasterStore.encodeMarket)
        }
    }
}
let copyReal = try await seconds { try await copyRows(into: "markets") }
guard try await marketCount() == n else { fail("COPY into markets did not load \(n) rows") }
try await db.execute("DROP TABLE IF EXISTS bench_bare")
try await db.execute("CREATE TABLE bench_bare AS SELECT \(columns) FROM markets WITH NO DATA")
try await db.execute("TRUNCATE markets")
try await db.execute("CHECKPOINT")
let copyBare = try await seconds { try await copyRows(into: "bench_bare") }
try await db.execute("DROP TABLE bench_bare")
try await db.execute("VACUUM ANALYZE markets")
try await db.execute("CHECKPOINT")

let nc = try await NATSConnection.connect(options: NATSOptions(urls: [o.natsURL], name: "bench-writer"), logger: Logger(label: "bench-writer"))
let js = try nc.jetStream(timeout: .seconds(30))
try await Topology().provision(js)

/// Seconds each phase took to publish its messages (through ssmd's own publish path, chunks of
/// 5,000 awaiting every ack, as the market-fetchers publish).
nonisolated(unsafe) var publishSeconds: [Double] = []

func publish(_ label: String, _ msgs: [OutgoingMessage]) async throws -> Double {
    let t = try await seconds {
        var i = 0
        while i < msgs.count {
            let chunk = Array(msgs[i..<min(i + 5000, msgs.count)])
            let acks = try await js.publishAll(chunk, timeout: .seconds(60))
            if acks.contains(where: \.duplicate) { fail("\(label): a publish was deduplicated") }
            i += chunk.count
        }
    }
    note(String(format: "published %d messages (%@) in %.1f s", msgs.count, label, t))
    publishSeconds.append(t)
    return t
}

// (a) new rows
let newMessages = try messages(n, yesBid: "0.5600", updated: at(0), fetched: at(0), phase: "a")
// The writer's CPU work alone: JSON → coalesced rows, in batches of 5,000 (no I/O).
let decodeOnly = await seconds {
    var i = 0
    while i < n {
        let chunk = newMessages[i..<min(i + 5000, n)]
        let batch = DecodedBatch(subjects: chunk.map(\.subject), payloads: chunk.map(\.data))
        precondition(batch.poison.isEmpty && batch.rows.markets.count == chunk.count)
        i += 5000
    }
}
_ = try await publish("new", newMessages)
note("writer: insert")
let insert = try await runWriter(o, js: js, db: db, phase: "insert") { try await marketCount() == n }
try await db.execute("VACUUM ANALYZE markets")
try await db.execute("CHECKPOINT")

// (b) every row changed
_ = try await publish("changed", try messages(n, yesBid: "0.6100", updated: at(60), fetched: at(60), phase: "b"))
note("writer: update")
let update = try await runWriter(o, js: js, db: db, phase: "update") {
    try await scalar(db, "SELECT count(*) FROM markets WHERE yes_bid_dollars = 0.61") == n
}
try await db.execute("VACUUM ANALYZE markets")
try await db.execute("CHECKPOINT")

// (c) identical content, re-fetched
_ = try await publish("unchanged", try messages(n, yesBid: "0.6100", updated: at(60), fetched: at(120), phase: "c"))
note("writer: no-op")
let noop = try await runWriter(o, js: js, db: db, phase: "noop") { true }
let finalCount = try await marketCount()
guard finalCount == n else { fail("markets holds \(finalCount) rows, expected \(n)") }

// (d) every row changed again while `ssmd prune` deletes 100,000 rows gone long ago (in
// its own session, as the CLI or db-writer's retention would): the writer must keep ≥ 0.8
// of its throughput of (b).
let goneRows = 100_000
try await db.execute("INSERT INTO events (ticker, series_ticker, fetched_at, gone_at) VALUES ('KXGONE-1', 'KXGONE', now(), now() - interval '40 days')")
try await db.execute("""
    INSERT INTO markets (ticker, event_ticker, series_ticker, status, fetched_at, gone_at)
    SELECT 'KXGONE-1-' || i, 'KXGONE-1', 'KXGONE', 'finalized', now(), now() - interval '40 days'
    FROM generate_series(1, \(goneRows)) i
    """)
try await db.execute("VACUUM ANALYZE markets")
try await db.execute("CHECKPOINT")
_ = try await publish("changed during prune", try messages(n, yesBid: "0.6600", updated: at(180), fetched: at(180), phase: "d"))
let pruneDB = try await PostgresConnection.connect(o.databaseURL)
let pruneStarted = ContinuousClock.now
let prune = Task { () -> (Pruner.Counts, Double) in
    let counts = try await Pruner(connection: pruneDB, js: js, logger: Logger(label: "bench-prune")).prune(goneBefore: Timestamp.now().adding(seconds: -30 * 86_400))
    return (counts, (ContinuousClock.now - pruneStarted).seconds)
}
note("writer: update while pruning \(goneRows) gone rows")
let duringPrune = try await runWriter(o, js: js, db: db, phase: "update-during-prune") {
    try await scalar(db, "SELECT count(*) FROM markets WHERE yes_bid_dollars = 0.66") == n
}
let (pruned, pruneSeconds) = try await prune.value
pruneDB.close()
guard pruned.markets == goneRows else { fail("prune deleted \(pruned.markets) rows, expected \(goneRows)") }
nc.close()

// MARK: - Report

let copyRate = Double(n) / copyReal
let copyBareRate = Double(n) / copyBare
let insertRate = Double(n) / insert.seconds
let updateRate = Double(n) / update.seconds
let noopRate = Double(n) / noop.seconds
let duringPruneRate = Double(n) / duringPrune.seconds
let rss = max(insert.maxRSSMB, update.maxRSSMB, noop.maxRSSMB)
// The slowest of the four publish phases, messages per second.
let publishRate = Double(n) / (publishSeconds.max() ?? .infinity)
var load = "?"
if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
    load = text.split(separator: " ").prefix(3).joined(separator: " ")
}

func row(_ label: String, _ s: Double, _ extra: String) -> String {
    label.padding(toLength: 66, withPad: " ", startingAt: 0)
        + String(format: "%8.2f s %11.0f rows/s  ", s, Double(n) / s) + extra
}
print("""
db-writer benchmark: \(n) market rows, PostgreSQL \(server) (fsync=\(fsync), synchronous_commit=\(syncCommit), shared_buffers=\(sharedBuffers)), load average before report \(load)
writer settings: defaults\(o.writerArgs.isEmpty ? "" : " + " + o.writerArgs.joined(separator: " ")); time = db-writer process start → consumer drained and rows in place
\(String(repeating: "-", count: 120))
\(row("COPY into empty markets (PK + 4 indexes + FK) — the baseline", copyReal, "1.00× baseline"))
\(row("COPY into empty bare table (same columns, no index/constraint)", copyBare, String(format: "%.2f× baseline (context only)", copyBareRate / copyRate)))
\(row("writer (a) new rows (insert)", insert.seconds, String(format: "%.2f× baseline; rows written %d; max RSS %.1f MB", insertRate / copyRate, insert.rowsWritten, insert.maxRSSMB)))
\(row("writer (b) every row changed (update)", update.seconds, String(format: "%.2f× baseline; rows written %d; max RSS %.1f MB", updateRate / copyRate, update.rowsWritten, update.maxRSSMB)))
\(row("writer (c) identical re-fetch (no-op)", noop.seconds, String(format: "%.2f× baseline; rows written %d; max RSS %.1f MB", noopRate / copyRate, noop.rowsWritten, noop.maxRSSMB)))
\(row("writer (d) every row changed, while ssmd prune deletes \(goneRows) gone rows", duringPrune.seconds, String(format: "%.2f× (b); prune took %.1f s (%d rows, %d subjects purged)", duringPruneRate / updateRate, pruneSeconds, pruned.markets, pruned.subjectsPurged)))
\(row("writer CPU alone: decode JSON → coalesced rows (no I/O)", decodeOnly, "in-process, for where the time goes"))
\(row("publishing the messages (JetStream acks awaited; slowest of 4 phases)", publishSeconds.max() ?? 0, "ssmd's publish path, chunks of 5,000"))
\(String(repeating: "-", count: 120))
baseline = COPY into the real table's shape: the writer must maintain the same primary key, indexes and foreign key, so that
is the fair floor; the bare-table COPY shows what the indexes and constraints themselves cost.
""")
let json: [(String, String)] = [
    ("rows", "\(n)"),
    ("copy_rows_per_s", String(format: "%.0f", copyRate)),
    ("insert_rows_per_s", String(format: "%.0f", insertRate)),
    ("update_rows_per_s", String(format: "%.0f", updateRate)),
    ("noop_rows_written", "\(noop.rowsWritten)"),
    ("insert_vs_copy", String(format: "%.3f", insertRate / copyRate)),
    ("writer_max_rss_mb", String(format: "%.1f", rss)),
    ("copy_bare_rows_per_s", String(format: "%.0f", copyBareRate)),
    ("noop_rows_per_s", String(format: "%.0f", noopRate)),
    ("update_during_prune_rows_per_s", String(format: "%.0f", duringPruneRate)),
    ("during_prune_vs_update", String(format: "%.3f", duringPruneRate / updateRate)),
    ("prune_rows", "\(pruned.markets)"),
    ("prune_seconds", String(format: "%.1f", pruneSeconds)),
    ("publish_msgs_per_s", String(format: "%.0f", publishRate)),
]
print("{" + json.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
