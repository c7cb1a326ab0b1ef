import ArgumentParser
import BuildInfo
import Foundation
import Logging
import ServiceLifecycle
import DaemonKit
import NATSClient
import Pipeline
import RateBudget
import SSMDCore

/// market-fetcher: one replica of a tag pool. Replicas started with the same tags share the
/// tags' durable pull consumers, so JetStream splits the work among them.
struct MarketFetcherCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "market-fetcher",
        abstract: "Sync the markets of each series work item from ssmd.work.<tag> and publish them.",
        version: BuildInfo.versionLine(program: "market-fetcher"))

    @OptionGroup var common: CommonOptions
    @OptionGroup var exchange: ExchangeOptions
    @OptionGroup var ops: OpsOptions
    @Option(name: Settings.tag.name, help: Settings.tag.help)
    var tags: [String] = []
    @Option(name: Settings.excludeTag.name, help: Settings.excludeTag.help)
    var excludedTags: [String] = []
    @Option(name: Settings.concurrency.name, help: Settings.concurrency.help)
    var concurrency: String?
    @Option(name: Settings.workAckWait.name, help: Settings.workAckWait.help)
    var ackWait: String?
    @Option(name: Settings.poolShare.name, help: Settings.poolShare.help)
    var poolShare: String?
    @Option(name: Settings.lookback.name, help: Settings.lookback.help)
    var lookback: String?
}

struct MarketFetcherService: Service {
    let tags: [String]
    let excludedTags: [String]
    let pool: SharedRequestBudget.Pool?
    let concurrency: Int
    let topology: Topology
    let lookbackSeconds: Int64
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
        let client = try await exchange.makeClient(js: js, pool: pool, logger: logger)
        let workers = MarketWorkPool(js: js, topology: topology, tags: tags, excludedTags: excludedTags, concurrency: concurrency,
                                     syncer: MarketSyncer(client: client, js: js, lookbackSeconds: lookbackSeconds, logger: logger),
                                     listingSyncer: ListingSyncer(client: client, js: js, logger: logger), logger: logger)
        let budgetLog = Task {
            // Budget figures every 30 s: what this replica was granted and waited.
            var last = budgetSnapshot(client.budget)
            while await sleepUnlessShuttingDown(.seconds(30)) {
                let now = budgetSnapshot(client.budget)
                let s = client.stats.snapshot
                logger.info("budget", metadata: [
                    "tokens_granted": "\(now.tokens - last.tokens)", "requests": "\(now.requests - last.requests)",
                    "waited_s": "\(String(format: "%.1f", now.waited - last.waited))",
                    "replica_utilization": "\(String(format: "%.3f", Double(now.tokens - last.tokens) / 30 / exchange.tokensPerSecond))",
                    "throttled_total": "\(s.throttled)", "retries_total": "\(s.retries)", "cas_conflicts_total": "\(now.conflicts)"])
                last = now
            }
        }
        defer { budgetLog.cancel() }
        try await workers.run()
        let s = client.stats.snapshot, t = workers.totals
        logger.info("stopped", metadata: ["series_synced": "\(t.seriesSynced)", "markets": "\(t.markets)", "requests": "\(s.requests)",
                                          "throttled": "\(s.throttled)", "retries": "\(s.retries)", "dead_lettered": "\(t.deadLettered)"])
    }
}

func budgetSnapshot(_ budget: any RequestBudget) -> (tokens: Int, requests: Int, waited: Double, conflicts: Int) {
    guard let shared = budget as? SharedRequestBudget else { return (0, 0, 0, 0) }
    let s = shared.metrics.snapshot
    return (s.tokens, s.requests, s.waitedSeconds, s.conflicts)
}

@main
enum MarketFetcherMain {
    static func main() async {
        ProcessMemory.configureMalloc()
        do {
            let cmd = try MarketFetcherCommand.parse()
            let r = SettingsResolver()
            let common = try cmd.common.resolve(connectionName: "market-fetcher")
            let exchange = try cmd.exchange.resolve(r)
            let ops = try cmd.ops.resolve(r)
            let tags = r.value(Settings.tag, cmd.tags)
            let excluded = r.value(Settings.excludeTag, cmd.excludedTags)
            if !tags.isEmpty && !excluded.isEmpty {
                throw ConfigurationError(setting: Settings.excludeTag.label, problem: "applies only to a replica without --tag (SSMD_TAG)")
            }
            let concurrency = try r.value(Settings.concurrency, cmd.concurrency)
            var topology = common.topology
            topology.workAckWait = try r.value(Settings.workAckWait, cmd.ackWait)
            let lookback = try r.value(Settings.lookback, cmd.lookback)
            let share = try r.value(Settings.poolShare, cmd.poolShare)
            let pool = share < 1 ? SharedRequestBudget.Pool(name: tags.isEmpty ? "*" : tags.sorted().joined(separator: ","), share: share) : nil
            StructuredLogHandler.bootstrap(level: common.logLevel, format: common.logFormat)
            var logger = Logger(label: "market-fetcher")
            logger[metadataKey: "pool"] = "\(tags.isEmpty ? (excluded.isEmpty ? "*" : "* except " + excluded.joined(separator: ",")) : tags.joined(separator: ","))"
            logger.info("starting", metadata: [
                "nats": "\(common.nats.urls.map(Redaction.url))", "exchange": "\(exchange.client.baseURL)", "signed_as": "\(exchange.signer?.keyID ?? "unsigned")",
                "concurrency": "\(concurrency)", "ack_wait_s": "\(topology.workAckWait.seconds)",
                "rate_tokens_per_s": "\(exchange.tokensPerSecond)", "rate_scope": "\(exchange.scope)", "pool_share": "\(share)", "lookback_s": "\(lookback.seconds)"])
            let metrics = DaemonMetrics.bootstrap(program: "market-fetcher"), probe = ReadinessProbe()
            let service = MarketFetcherService(tags: tags, excludedTags: excluded, pool: pool, concurrency: concurrency, topology: topology,
                                               lookbackSeconds: Int64(lookback.seconds),
                                               nats: common.nats, exchange: exchange, probe: probe, logger: logger)
            try await DaemonMain.run(service, program: "market-fetcher", ops: ops, metrics: metrics, probe: probe, logger: logger,
                                     shutdownTimeout: common.shutdownTimeout)
        } catch {
            DaemonMain.exit(MarketFetcherCommand.self, error: error, program: "market-fetcher")
        }
    }
}
