import ArgumentParser
import BuildInfo
import Foundation
import Logging
import ServiceLifecycle
import DaemonKit
import KalshiModels
import NATSClient
import Pipeline
import PostgresClient
import SSMDCore
import Secmaster
import SyncCore
import WireContract

/// `ssmd`: the plan's command line, driving the same pipeline as the daemons.
/// Exit 0 on success, 1 on failure, 2 on a usage or configuration error (one line).
struct SSMD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssmd",
        abstract: "Kalshi security master: sync series and markets, list series, migrate the database, watch updates, serve MCP tools, list settings.",
        version: BuildInfo.versionLine(program: "ssmd"),
        subcommands: [SeriesCommand.self, SecmasterCommand.self, MigrateCommand.self, WatchCommand.self, MCPCommand.self, DeadLetterCommand.self, PruneCommand.self,
                      SettingsCommand.self])
}

struct SeriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "series", abstract: "Series: sync from the exchange, list from the database.",
                                                    subcommands: [SeriesSync.self, SeriesList.self])
}

struct SecmasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "secmaster", abstract: "The whole security master.",
                                                    subcommands: [SecmasterSync.self])
}

/// Selection flags shared by the sync commands.
struct SelectionOptions: ParsableArguments {
    @Option(name: Settings.tag.name, help: Settings.tag.help)
    var tags: [String] = []
    @Option(name: Settings.category.name, help: Settings.category.help)
    var categories: [String] = []
    @Flag(name: Settings.gamesOnly.name, help: Settings.gamesOnly.help)
    var gamesOnly = false
    @Flag(name: Settings.full.name, help: Settings.full.help)
    var full = false

    func resolve(_ r: SettingsResolver) throws -> SeriesSelection {
        SeriesSelection(tags: r.value(Settings.tag, tags), categories: r.value(Settings.category, categories),
                        gamesOnly: try r.value(Settings.gamesOnly, gamesOnly))
    }
}

func bootstrapLogging(_ common: CommonOptions.Resolved) -> Logger {
    // The CLI's own output is its summary on stdout; logs go to stderr at warning unless asked.
    StructuredLogHandler.bootstrap(level: common.logLevel, format: common.logFormat)
    return Logger(label: "ssmd")
}

/// `ssmd series sync`: one series cycle — series metadata and one work item per tracked series.
struct SeriesSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Publish series metadata and work items for one cycle.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var exchange: ExchangeOptions
    @OptionGroup var selection: SelectionOptions

    func run() async throws {
        let r = SettingsResolver(environment: ProcessInfo.processInfo.environment.merging(["SSMD_LOG_LEVEL": ProcessInfo.processInfo.environment["SSMD_LOG_LEVEL"] ?? "warning"]) { a, _ in a })
        let c = try common.resolve(connectionName: "ssmd-cli", r)
        let x = try exchange.resolve(r)
        let sel = try selection.resolve(r)
        let logger = bootstrapLogging(c)
        let started = ContinuousClock.now
        let report = try await withCLIConnection(c, logger: logger) { js in
            let client = try await x.makeClient(js: js, pool: nil, logger: logger)
            return try await SeriesSyncer(client: client, js: js, topology: Topology(), logger: logger)
                .runCycle(schedule: "cli", selection: sel, forceFull: selection.full)
        }
        print("series listed: \(report.seriesListed), tracked: \(report.seriesTracked), work items: \(report.workItems) (full \(report.fullItems), delta \(report.deltaItems), incremental \(report.incrementalItems)), categories: \(report.categories) (\(report.categoriesFailed) failed), requests: \(report.requests), duration: \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s")
        if report.categoriesFailed > 0 { throw ExitCode.failure }
    }
}

/// `ssmd secmaster sync --by-series`: a series cycle, then the markets of every series it
/// queued (this process works as one more market-fetcher replica until the queues of its
/// tags are empty), then waits until db-writer has committed everything.
struct SecmasterSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Sync series, events and markets into the security master.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var exchange: ExchangeOptions
    @OptionGroup var selection: SelectionOptions
    @Flag(name: .customLong("by-series"), help: "Sync per series (the only mode; the old time-window scan is gone)")
    var bySeries = false
    @Option(name: Settings.concurrency.name, help: Settings.concurrency.help)
    var concurrency: String?
    @Option(name: Settings.syncTimeout.name, help: Settings.syncTimeout.help)
    var timeout: String?

    func validate() throws {
        guard bySeries else { throw ValidationError("--by-series is required (series-based sync is the only mode)") }
    }

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let r = SettingsResolver(environment: env.merging(["SSMD_LOG_LEVEL": env["SSMD_LOG_LEVEL"] ?? "warning"]) { a, _ in a })
        let c = try common.resolve(connectionName: "ssmd-cli", r)
        let x = try exchange.resolve(r)
        let sel = try selection.resolve(r)
        let workers = try r.value(Settings.concurrency, concurrency)
        let limit = try r.value(Settings.syncTimeout, timeout)
        let logger = bootstrapLogging(c)
        let started = ContinuousClock.now
        try await withCLIConnection(c, logger: logger) { js in
            try await syncSecmaster(js: js, exchange: x, selection: sel, workers: workers, limit: limit, started: started, logger: logger)
        }
    }

    func syncSecmaster(js: JetStream, exchange x: ExchangeOptions.Resolved, selection sel: SeriesSelection, workers: Int, limit: Duration,
                       started: ContinuousClock.Instant, logger: Logger) async throws {
        let topology = Topology()
        let client = try await x.makeClient(js: js, pool: nil, logger: logger)
        let report = try await SeriesSyncer(client: client, js: js, topology: topology, logger: logger).runCycle(schedule: "cli", selection: sel, forceFull: selection.full)
        let seriesDone = ContinuousClock.now

        // The tags this cycle routed to: only their queues are worked and waited for (other
        // schedules' work belongs to their own replicas).
        // An exchange-wide listing's parts go to the shared `listing` consumer.
        let consumers = report.routingTags.map { Streams.workConsumer(tag: $0) } + (report.listingParts > 0 ? [Streams.listingConsumer] : [])
        let pool = MarketWorkPool(js: js, topology: topology, tags: report.routingTags, concurrency: workers,
                                  syncer: MarketSyncer(client: client, js: js, logger: logger),
                                  listingSyncer: ListingSyncer(client: client, js: js, logger: logger), logger: logger)
        let deadline = ContinuousClock.now + limit
        if !consumers.isEmpty { try await pool.run(finished: {
            if ContinuousClock.now > deadline { return true }
            for name in consumers {
                guard let i = try? await js.consumerInfo(stream: Streams.work, name: name) else { return false }
                if i.numPending != 0 || i.numAckPending != 0 { return false }
            }
            return true
        }) }
        let marketsDone = ContinuousClock.now
        // Written means committed by db-writer.
        var written = false
        while ContinuousClock.now < deadline {
            if let i = try? await js.consumerInfo(stream: Streams.secmaster, name: Streams.writerConsumer) {
                if i.numPending == 0 && i.numAckPending == 0 { written = true; break }
            } else {
                FileHandle.standardError.write(Data("ssmd: no db-writer consumer exists; start db-writer to write the security master\n".utf8))
                throw ExitCode.failure
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        let t = pool.totals
        func s(_ d: Duration) -> String { String(format: "%.1f", d.seconds) }
        print("series: \(report.seriesTracked) tracked (\(report.seriesListed) listed), \(t.seriesSynced) synced by this process; markets: \(t.markets), events: \(t.events); requests: \(report.requests + t.requests); duration: \(s(ContinuousClock.now - started)) s (series \(s(seriesDone - started)) s, markets \(s(marketsDone - seriesDone)) s)")
        if !written { FileHandle.standardError.write(Data("ssmd: db-writer did not commit everything within the timeout\n".utf8)); throw ExitCode.failure }
        if report.categoriesFailed > 0 || t.deadLettered > 0 {
            FileHandle.standardError.write(Data("ssmd: \(report.categoriesFailed) categories failed, \(t.deadLettered) series set aside on the dead-letter subject\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// `ssmd series list`: tracked series from the database.
struct SeriesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tracked series from the database.")
    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("category"), help: "Only this category") var category: String?
    @Option(name: .customLong("tag"), help: "Only series with this tag") var tag: String?
    @Flag(name: .customLong("games-only"), help: "Only game series") var gamesOnly = false
    @Flag(name: .customLong("include-inactive"), help: "Also series the exchange no longer lists") var includeInactive = false

    func run() async throws {
        let conninfo = try database.resolve()
        let (category, tag, gamesOnly, all) = (self.category, self.tag, self.gamesOnly, includeInactive)
        let rows = try await PostgresConnection.with(conninfo) { conn in
            try await conn.execute("""
                SELECT ticker, category, is_game, active, array_to_string(tags, ', ') AS tags, title FROM series
                WHERE ($1::text IS NULL OR category = $1) AND ($2::text IS NULL OR $2 = ANY(tags))
                  AND (NOT $3::bool OR is_game) AND ($4::bool OR active)
                ORDER BY category, ticker
                """, [category.map(PostgresValue.text), tag.map(PostgresValue.text), .bool(gamesOnly), .bool(all)])
        }
        print(["TICKER", "CATEGORY", "GAME", "ACTIVE", "TAGS", "TITLE"].joined(separator: "\t"))
        for i in 0..<rows.rowCount {
            print([rows[i, "ticker"] ?? "", rows[i, "category"] ?? "", rows[i, "is_game"] == "t" ? "game" : "-",
                   rows[i, "active"] == "t" ? "active" : "inactive", rows[i, "tags"] ?? "", rows[i, "title"] ?? ""].joined(separator: "\t"))
        }
        FileHandle.standardError.write(Data("\(rows.rowCount) series\n".utf8))
    }
}

/// `ssmd migrate`: apply pending migrations.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending database migrations.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let conninfo = try database.resolve()
        let applied = try await PostgresConnection.with(conninfo) { try await Migrator.standard().migrate($0).map(\.fileName) }
        print(applied.isEmpty ? "schema up to date" : "applied: \(applied.joined(separator: ", "))")
    }
}

/// A command's NATS connection, provisioned, drained when `body` is done. A command fails
/// fast where a daemon would wait for the server.
func withCLIConnection<T: Sendable>(_ c: CommonOptions.Resolved, logger: Logger, _ body: (JetStream) async throws -> T) async throws -> T {
    var options = c.nats
    options.retryOnFailedConnect = false
    return try await withNATS(options, logger: logger) { connection in
        let js = try connection.jetStream()
        try await c.topology.provision(js)
        return try await body(js)
    }
}

@main
enum SSMDMain {
    static func main() async {
        do {
            var command = try SSMD.parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            DaemonMain.exit(SSMD.self, error: error, program: "ssmd")
        }
    }
}
