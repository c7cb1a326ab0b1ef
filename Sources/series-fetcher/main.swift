import ArgumentParser
import Foundation
import BuildInfo
import Logging
import ServiceLifecycle
import DaemonKit
import NATSClient
import Pipeline
import SSMDCore
import SyncCore

/// series-fetcher: each cycle reads the exchange's categories, tags, sports and series,
/// keeps the tracked ones and publishes one work item per series to `ssmd.work.<tag>`.
struct SeriesFetcherCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "series-fetcher",
        abstract: "Publish series metadata and one work item per tracked series, every interval.",
        version: BuildInfo.versionLine(program: "series-fetcher"))

    @OptionGroup var common: CommonOptions
    @OptionGroup var exchange: ExchangeOptions
    @OptionGroup var ops: OpsOptions
    @Option(name: .customLong("schedule"), help: "Schedule name, used in cycle ids and reports (SSMD_SCHEDULE). Default all")
    var schedule: String?
    @Option(name: .customLong("tag"), help: "Tag to cover; repeatable (SSMD_TAG, comma-separated). None and no --category: everything")
    var tags: [String] = []
    @Option(name: .customLong("category"), help: "Whole category to cover; repeatable (SSMD_CATEGORY)")
    var categories: [String] = []
    @Flag(name: .customLong("games-only"), help: "Keep only game series in every category (SSMD_GAMES_ONLY)")
    var gamesOnly = false
    @Option(name: .customLong("interval"), help: "Time between cycle starts (SSMD_INTERVAL). Default 5m")
    var interval: String?
    @Option(name: .customLong("schedule-file"), help: "YAML file of schedules (name, tags, categories, games_only, interval), run side by side; replaces --schedule/--tag/--category/--games-only/--interval (SSMD_SCHEDULE_FILE)")
    var scheduleFile: String?
    @Option(name: .customLong("ack-wait"), help: "AckWait of the work consumers it creates: a work item whose replica went silent this long is redelivered (SSMD_ACK_WAIT). Default 30s")
    var ackWait: String?
    @Option(name: .customLong("reconcile-every"), help: "Every series gets a full sync at least this often, a slice of them each cycle; between, only what the change feed reports (SSMD_RECONCILE_EVERY). Default 6h")
    var reconcileEvery: String?
    @Option(name: .customLong("feed-interval"), help: "The exchange-wide change feed runs this often, shared by every schedule (new, opened, closed, settled and edited markets within about this long); 0: each cycle runs its own feed instead (SSMD_FEED_INTERVAL). Default 15s")
    var feedInterval: String?
    @Option(name: .customLong("reread-every"), help: "Every tracked market is read again at least this often, so no row's quotes are older (SSMD_REREAD_EVERY). Default 10m")
    var rereadEvery: String?
    @Option(name: .customLong("listing-min-series"), help: "A schedule tracking at least this many series reads its first cycle and each re-read with an exchange-wide listing (about 200 requests) instead of one request per series; 0: never (SSMD_LISTING_MIN_SERIES). Default 200")
    var listingMinSeries: String?
    @Option(name: .customLong("delta-limit"), help: "Changed markets carried inside one work item; more and the market-fetcher fetches them (SSMD_DELTA_LIMIT). Default 100")
    var deltaLimit: String?
    @Option(name: .customLong("lookback"), help: "Markets settled this long ago or later are fetched for a series synced the first time (SSMD_LOOKBACK; the market-fetchers' full-sync window). Default 24h")
    var lookback: String?
    @Flag(name: .customLong("full"), help: "Ignore the change feed: the first cycle syncs every series in full")
    var full = false
    @Flag(name: .customLong("once"), help: "Run one cycle and exit: 0 if every category synced, 1 otherwise")
    var once = false
    @Option(name: .customLong("leader-lease"), help: "Several series-fetchers may run: the one holding a lease in NATS KV runs the schedules, the others take over within two lease periods of its loss (SSMD_LEADER_LEASE). Default 15s")
    var leaderLease: String?
    @Option(name: .customLong("instance-id"), help: "This instance's name in the leader lease and logs (SSMD_INSTANCE_ID). Default host name and process id")
    var instanceID: String?
    @Option(name: .customLong("lifecycle-refresh"), help: "on: re-read markets named by lifecycle messages (SSMD_LIFECYCLE, from lifecycle-listener) within seconds; off: REST feeds only (SSMD_LIFECYCLE_REFRESH). Default on")
    var lifecycleRefresh: String?
}

struct SeriesFetcherService: Service {
    let schedules: [Schedule]
    let once: Bool
    let lifecycleRefresh: Bool
    let leaderLease: Duration
    let instanceID: String
    let fullFirst: Bool
    let reconcileSeconds: Int64
    let rereadSeconds: Int64
    let listingMinSeries: Int
    /// The shared feed's interval; nil: each cycle runs its own feed.
    let feedInterval: Duration?
    let deltaLimit: Int
    let lookbackSeconds: Int64
    let topology: Topology
    let nats: NATSOptions
    let exchange: ExchangeOptions.Resolved
    let probe: ReadinessProbe
    let logger: Logger

    func run() async throws {
        try await withNATS(nats, logger: logger) { connection in
            probe.watch(nats: connection)
            try await run(js: try await provisionPipeline(connection, topology: topology, logger: logger))
        }
    }

    func run(js: JetStream) async throws {
        let client = try await exchange.makeClient(js: js, pool: nil, logger: logger)
        // A one-shot run (--once, like `ssmd series sync`) is an operator's action and takes no
        // part in the election; daemons run the schedules only while they hold the lease.
        let election = once ? nil : LeaderElection(js: js, instance: instanceID, period: leaderLease, logger: logger)
        // A one-shot cycle reads its own changes; daemons share one feed on its own interval.
        let sharedFeed = once ? nil : feedInterval
        let syncer = SeriesSyncer(client: client, js: js, topology: topology, logger: logger, sharedFeed: sharedFeed != nil,
                                  mayWrite: { election?.isLeader ?? true })
        let schedulesAndRefresher: @Sendable () async throws -> Void = {
            try await withThrowingTaskGroup(of: Void.self) { services in
                if lifecycleRefresh && !once {
                    let refresher = LifecycleRefresher(client: client, js: js, topology: topology, syncer: syncer, logger: logger)
                    services.addTask { try await refresher.run() }
                }
                if let sharedFeed {
                    let feed = FeedLoop(client: client, js: js, topology: topology, syncer: syncer, interval: sharedFeed,
                                        policy: SyncPolicy(reconcileSeconds: reconcileSeconds, deltaLimit: deltaLimit, lookbackSeconds: lookbackSeconds),
                                        logger: logger, mayWrite: { election?.isLeader ?? true })
                    services.addTask { await feed.run() }
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (i, schedule) in schedules.enumerated() {
                        let earlier = schedules[..<i].map(\.selection)
                        group.addTask { try await loop(schedule, claimedByEarlier: earlier, syncer: syncer) }
                    }
                    try await group.waitForAll()
                }
                // The schedules have stopped (shutdown, or --once): so does the refresher.
                services.cancelAll()
            }
        }
        if let election { try await election.run(schedulesAndRefresher) } else { try await schedulesAndRefresher() }
    }

    func loop(_ schedule: Schedule, claimedByEarlier: [SeriesSelection], syncer: SeriesSyncer) async throws {
        var log = logger
        log[metadataKey: "schedule"] = "\(schedule.name)"
        let policy = SyncPolicy(intervalSeconds: Int64(schedule.interval.seconds), reconcileSeconds: reconcileSeconds, deltaLimit: deltaLimit,
                                lookbackSeconds: lookbackSeconds, rereadSeconds: rereadSeconds, listingMinSeries: listingMinSeries)
        var forceFull = fullFirst
        while !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            do {
                let report = try await syncer.runCycle(schedule: schedule.name, selection: schedule.selection, claimedByEarlier: claimedByEarlier,
                                                       policy: policy, forceFull: forceFull)
                forceFull = false
                // A cycle's listings and work items are freed now; hand the pages back to the
                // system instead of keeping them until the next cycle (off the cooperative
                // pool: trimming walks the whole heap).
                await ProcessMemory.releaseFreed()
                log.info("cycle complete", metadata: [
                    "cycle": "\(report.cycleId)", "categories": "\(report.categories)", "categories_failed": "\(report.categoriesFailed)",
                    "series_listed": "\(report.seriesListed)", "series_tracked": "\(report.seriesTracked)",
                    "work_items": "\(report.workItems)", "full": "\(report.fullItems)", "delta": "\(report.deltaItems)",
                    "incremental": "\(report.incrementalItems)", "listing_parts": "\(report.listingParts)",
                    "feed_markets": "\(report.feedMarkets)",
                    "feed_failed": "\(report.feedFailed)", "requests": "\(report.requests)",
                    "duration_s": "\((ContinuousClock.now - started).seconds)"])
                if once {
                    if report.categoriesFailed > 0 { throw CycleIncomplete(failed: report.categoriesFailed) }
                    return
                }
            } catch let e as CycleIncomplete {
                throw e
            } catch {
                if once { throw error }
                log.error("cycle failed; next cycle will retry", metadata: ["error": "\(error)"])
            }
            let wait = started + schedule.interval - ContinuousClock.now
            if wait > .zero, !(await sleepUnlessShuttingDown(wait)) { break }
        }
    }
}

enum Switch: String, CaseIterable { case on, off }

struct CycleIncomplete: Error, CustomStringConvertible {
    var failed: Int
    var description: String { "\(failed) categories could not be fetched" }
}

@main
enum SeriesFetcherMain {
    static func main() async {
        ProcessMemory.configureMalloc()
        do {
            let cmd = try SeriesFetcherCommand.parse()
            let r = SettingsResolver()
            let common = try cmd.common.resolve(connectionName: "series-fetcher")
            let exchange = try cmd.exchange.resolve(r)
            let ops = try cmd.ops.resolve(r)
            let schedules: [Schedule]
            if let file = r.string("schedule-file", cmd.scheduleFile) {
                if cmd.schedule != nil || !cmd.tags.isEmpty || !cmd.categories.isEmpty || cmd.gamesOnly || cmd.interval != nil {
                    throw ConfigurationError(setting: "--schedule-file (SSMD_SCHEDULE_FILE)", problem: "cannot be combined with --schedule, --tag, --category, --games-only or --interval")
                }
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ConfigurationError(setting: "--schedule-file (SSMD_SCHEDULE_FILE)", problem: "cannot read \(file)")
                }
                schedules = try ScheduleFile.parse(text)
            } else {
                schedules = [Schedule(
                    name: r.string("schedule", cmd.schedule, default: "all") ?? "all",
                    selection: SeriesSelection(tags: r.list("tag", cmd.tags), categories: r.list("category", cmd.categories),
                                               gamesOnly: try r.bool("games-only", cmd.gamesOnly ? true : nil, default: false)),
                    interval: try r.duration("interval", cmd.interval, default: .seconds(300), min: .seconds(1)))]
            }
            let reconcile = try r.duration("reconcile-every", cmd.reconcileEvery, default: .seconds(6 * 3600), min: .seconds(1))
            let deltaLimit = try r.int("delta-limit", cmd.deltaLimit, default: 100, range: 1...500)
            let reread = try r.duration("reread-every", cmd.rereadEvery, default: .seconds(600), min: .seconds(1))
            let feedInterval = try r.duration("feed-interval", cmd.feedInterval, default: .seconds(15), min: .zero, max: .seconds(86_400))
            let listingMinSeries = try r.int("listing-min-series", cmd.listingMinSeries, default: 200, range: 0...1_000_000)
            let lookback = try r.duration("lookback", cmd.lookback, default: .seconds(86_400), min: .seconds(60))
            var topology = Topology(streamReplicas: common.streamReplicas)
            topology.workAckWait = try r.duration("ack-wait", cmd.ackWait, default: .seconds(30), min: .seconds(1), max: .seconds(3600))
            StructuredLogHandler.bootstrap(level: common.logLevel, format: common.logFormat)
            let logger = Logger(label: "series-fetcher")
            logger.info("starting", metadata: [
                "schedules": "\(schedules.map { "\($0.name)(tags: \($0.selection.tags), categories: \($0.selection.categories), games_only: \($0.selection.gamesOnly), every \($0.interval.seconds)s)" })",
                "nats": "\(common.nats.urls.map(Redaction.url))", "exchange": "\(exchange.client.baseURL)", "signed_as": "\(exchange.signer?.keyID ?? "unsigned")",
                "once": "\(cmd.once)", "full": "\(cmd.full)", "reconcile_every_s": "\(reconcile.seconds)", "delta_limit": "\(deltaLimit)",
                "reread_every_s": "\(reread.seconds)", "feed_interval_s": "\(feedInterval.seconds)", "listing_min_series": "\(listingMinSeries)",
                "rate_tokens_per_s": "\(exchange.tokensPerSecond)"])
            let metrics = DaemonMetrics.bootstrap(program: "series-fetcher"), probe = ReadinessProbe()
            let lifecycleRefresh = try r.choice("lifecycle-refresh", cmd.lifecycleRefresh, default: Switch.on) == .on
            let leaderLease = try r.duration("leader-lease", cmd.leaderLease, default: .seconds(15), min: .seconds(1), max: .seconds(3600))
            let instanceID = r.string("instance-id", cmd.instanceID) ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
            let service = SeriesFetcherService(schedules: schedules, once: cmd.once, lifecycleRefresh: lifecycleRefresh,
                                               leaderLease: leaderLease, instanceID: instanceID, fullFirst: cmd.full,
                                               reconcileSeconds: Int64(reconcile.seconds), rereadSeconds: Int64(reread.seconds),
                                               listingMinSeries: listingMinSeries, feedInterval: feedInterval > .zero ? feedInterval : nil,
                                               deltaLimit: deltaLimit,
                                               lookbackSeconds: Int64(lookback.seconds), topology: topology,
                                               nats: common.nats, exchange: exchange, probe: probe, logger: logger)
            try await DaemonMain.run(service, program: "series-fetcher", ops: ops, metrics: metrics, probe: probe, logger: logger,
                                     shutdownTimeout: common.shutdownTimeout)
        } catch {
            DaemonMain.exit(SeriesFetcherCommand.self, error: error, program: "series-fetcher")
        }
    }
}
