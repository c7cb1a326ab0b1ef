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
    @Option(name: Settings.schedule.name, help: Settings.schedule.help)
    var schedule: String?
    @Option(name: Settings.tag.name, help: Settings.tag.help)
    var tags: [String] = []
    @Option(name: Settings.category.name, help: Settings.category.help)
    var categories: [String] = []
    @Flag(name: Settings.gamesOnly.name, help: Settings.gamesOnly.help)
    var gamesOnly = false
    @Option(name: Settings.interval.name, help: Settings.interval.help)
    var interval: String?
    @Option(name: Settings.scheduleFile.name, help: Settings.scheduleFile.help)
    var scheduleFile: String?
    @Option(name: Settings.workAckWait.name, help: Settings.workAckWait.help)
    var ackWait: String?
    @Option(name: Settings.reconcileEvery.name, help: Settings.reconcileEvery.help)
    var reconcileEvery: String?
    @Option(name: Settings.feedInterval.name, help: Settings.feedInterval.help)
    var feedInterval: String?
    @Option(name: Settings.rereadEvery.name, help: Settings.rereadEvery.help)
    var rereadEvery: String?
    @Option(name: Settings.listingMinSeries.name, help: Settings.listingMinSeries.help)
    var listingMinSeries: String?
    @Option(name: Settings.deltaLimit.name, help: Settings.deltaLimit.help)
    var deltaLimit: String?
    @Option(name: Settings.lookback.name, help: Settings.lookback.help)
    var lookback: String?
    @Flag(name: Settings.full.name, help: Settings.full.help)
    var full = false
    @Flag(name: Settings.once.name, help: Settings.once.help)
    var once = false
    @Option(name: Settings.leaderLease.name, help: Settings.leaderLease.help)
    var leaderLease: String?
    @Option(name: Settings.instanceID.name, help: Settings.instanceID.help)
    var instanceID: String?
    @Option(name: Settings.lifecycleRefresh.name, help: Settings.lifecycleRefresh.help)
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
            if let file = try r.value(Settings.scheduleFile, cmd.scheduleFile) {
                if cmd.schedule != nil || !cmd.tags.isEmpty || !cmd.categories.isEmpty || cmd.gamesOnly || cmd.interval != nil {
                    throw ConfigurationError(setting: Settings.scheduleFile.label, problem: "cannot be combined with --schedule, --tag, --category, --games-only or --interval")
                }
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ConfigurationError(setting: Settings.scheduleFile.label, problem: "cannot read \(file)")
                }
                schedules = try ScheduleFile.parse(text)
            } else {
                schedules = [Schedule(
                    name: try r.value(Settings.schedule, cmd.schedule),
                    selection: SeriesSelection(tags: r.value(Settings.tag, cmd.tags), categories: r.value(Settings.category, cmd.categories),
                                               gamesOnly: try r.value(Settings.gamesOnly, cmd.gamesOnly)),
                    interval: try r.value(Settings.interval, cmd.interval))]
            }
            let reconcile = try r.value(Settings.reconcileEvery, cmd.reconcileEvery)
            let deltaLimit = try r.value(Settings.deltaLimit, cmd.deltaLimit)
            let reread = try r.value(Settings.rereadEvery, cmd.rereadEvery)
            let feedInterval = try r.value(Settings.feedInterval, cmd.feedInterval)
            let listingMinSeries = try r.value(Settings.listingMinSeries, cmd.listingMinSeries)
            let lookback = try r.value(Settings.lookback, cmd.lookback)
            var topology = common.topology
            topology.workAckWait = try r.value(Settings.workAckWait, cmd.ackWait)
            StructuredLogHandler.bootstrap(level: common.logLevel, format: common.logFormat)
            let logger = Logger(label: "series-fetcher")
            logger.info("starting", metadata: [
                "schedules": "\(schedules.map { "\($0.name)(tags: \($0.selection.tags), categories: \($0.selection.categories), games_only: \($0.selection.gamesOnly), every \($0.interval.seconds)s)" })",
                "nats": "\(common.nats.urls.map(Redaction.url))", "exchange": "\(exchange.client.baseURL)", "signed_as": "\(exchange.signer?.keyID ?? "unsigned")",
                "once": "\(cmd.once)", "full": "\(cmd.full)", "reconcile_every_s": "\(reconcile.seconds)", "delta_limit": "\(deltaLimit)",
                "reread_every_s": "\(reread.seconds)", "feed_interval_s": "\(feedInterval.seconds)", "listing_min_series": "\(listingMinSeries)",
                "rate_tokens_per_s": "\(exchange.tokensPerSecond)"])
            let metrics = DaemonMetrics.bootstrap(program: "series-fetcher"), probe = ReadinessProbe()
            let lifecycleRefresh = try r.value(Settings.lifecycleRefresh, cmd.lifecycleRefresh) == .on
            let leaderLease = try r.value(Settings.leaderLease, cmd.leaderLease)
            let instanceID = try r.value(Settings.instanceID, cmd.instanceID) ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
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
