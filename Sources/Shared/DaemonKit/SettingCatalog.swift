import Foundation
import Logging
import RateBudget

/// Every setting of every daemon and `ssmd` command, declared once. `all` is their order in
/// `--help`-independent listings: README.md's settings table is `ssmd settings --markdown`.
public enum Settings {
    // MARK: Common: every daemon and every `ssmd` command that connects to NATS

    public static let natsURL = Setting<[String]>.urls(
        "nats-url", default: "nats://127.0.0.1:4222", schemes: ["nats", "tls", "nats+tls"], fallback: "NATS_URL", for: Program.all,
        "NATS server URL(s), comma-separated; a user:password@ or TOKEN@ part is accepted and logged redacted")
    public static let natsUser = Setting<String?>.string("nats-user", for: Program.all, "NATS user")
    public static let natsPassword = Setting<String?>.string("nats-password", secret: true, for: Program.all, "NATS password; needs --nats-user")
    public static let natsToken = Setting<String?>.string("nats-token", secret: true, for: Program.all, "NATS token")
    public static let natsCreds = Setting<String?>.string("nats-creds", for: Program.all, "NATS credentials file")
    public static let natsTLSCA = Setting<String?>.string("nats-tls-ca", for: Program.all, "CA certificate file for NATS; enables TLS")
    public static let logLevel = Setting<Logger.Level>.choice(
        "log-level", default: .info, for: Program.all, "Lowest level logged", default: "info (warning for `ssmd` commands)")
    public static let logFormat = Setting<LogFormat>.choice("log-format", default: .logfmt, for: Program.all,
                                                            "Log line format: logfmt for people, json for collectors")
    public static let streamReplicas = Setting<Int>.int(
        "stream-replicas", default: 1, range: 1...5, for: Program.all,
        "Copies of the JetStream streams ssmd creates (work, secmaster, dead letters, lifecycle), for a NATS cluster; raised on existing ones, never lowered, so an operator's R3 survives a start with the default. The compare-and-set buckets follow --coordination-replicas")
    public static let coordinationReplicas = Setting<Int>.int(
        "coordination-replicas", default: 1, range: 1...5, for: Program.all,
        "Copies of the two KV buckets ssmd coordinates through by compare-and-set: the shared rate budget, and the series-fetchers' leader lease and sync state. 1 even on a cluster unless raised: before nats-server 2.9.21 a replicated bucket checks an update's expected revision outside Raft (nats-server#4320), so racing replicas can all win — two leaders, or more requests than the exchange allows; 3 on 2.9.21 or later keeps them through a node's loss. Raised on existing buckets, never lowered")
    public static let shutdownTimeout = Setting<Duration>.duration(
        "shutdown-timeout", default: .seconds(20), max: .seconds(3600), for: Program.all,
        "Longest graceful drain on SIGTERM/SIGINT before in-flight work is abandoned to redelivery")

    // MARK: Ops endpoint

    static let opsPrograms: [Program] = [.seriesFetcher, .marketFetcher, .dbWriter, .lifecycleListener]
    public static let metricsPort = Setting<Int?>.int(
        "metrics-port", default: 0, range: 0...65535, off: "off", for: opsPrograms,
        "Port of /metrics (Prometheus), /healthz and /readyz; 0 picks a free one (logged), off disables them")
    public static let metricsHost = Setting<String>.string("metrics-host", default: "127.0.0.1", for: opsPrograms,
                                                           "Address /metrics, /healthz and /readyz listen on")

    // MARK: The exchange

    static let exchangePrograms: [Program] = Program.fetchers + Program.syncCommands
    public static let exchangeURL = Setting<String>.url(
        "exchange-url", default: ExchangeOptions.kalshiProduction, schemes: ["http", "https"], for: exchangePrograms + [.lifecycleListener],
        "Trade API v2 base URL; lifecycle-listener derives its WebSocket URL from it")
    public static let rateTier = Setting<BudgetLimits.Tier>.choice(
        "rate-tier", default: nil, for: exchangePrograms,
        "Budget preset, tokens/s and seconds deep: unsigned 60 and 1, basic 200 and 2, advanced 300 and 2, expert 600 and 1, premier 1000, paragon 2000, prime 4000, prestige 10000",
        default: "basic with an API key, unsigned without")
    public static let rateTokensPerSecond = Setting<Double>.double(
        "rate-tokens-per-s", default: nil, range: 0.1...1_000_000, for: exchangePrograms,
        "Read budget refill in tokens/s, overriding the tier", default: "the tier's")
    public static let rateBurstSeconds = Setting<Double>.double(
        "rate-burst-s", default: nil, range: 0...3600, for: exchangePrograms,
        "Read budget depth in seconds of refill, overriding the tier", default: "the tier's")
    public static let rateScope = Setting<ExchangeOptions.Scope>.choice(
        "rate-scope", default: .shared, for: exchangePrograms,
        "shared: one budget for every process (NATS KV ssmd_budget); local: this process alone")
    public static let rateLeaseSlots = Setting<String>.string(
        "rate-lease-slots", default: "auto", for: exchangePrograms,
        "Slots of the shared budget's schedule one compare-and-set on NATS KV takes for this process: auto sizes a block to 8 write round trips of the rate (10–100 ms of it; 1 slot at Basic), 1–\(LeaseSize.maximumSlots) fixes it; 1 is one write per request. Slots are never shared, so no size lets the fleet exceed the rate; a dead replica's unused slots are lost")
    public static let rateCost = Setting<Int>.int("rate-cost", default: 10, range: 1...1000, for: exchangePrograms, "Tokens per request")
    public static let apiKeyID = Setting<String?>.string(
        "api-key-id", for: exchangePrograms + [.lifecycleListener],
        "Kalshi API key id; with --api-private-key, requests are signed (RSA-PSS) and get the tier's budget; lifecycle-listener requires it, its WebSocket handshake is signed")
    public static let apiPrivateKey = Setting<String?>.string(
        "api-private-key", for: exchangePrograms + [.lifecycleListener],
        "Path of the PEM private key of --api-key-id; the path is logged, the key never")
    public static let httpTimeout = Setting<Duration>.duration(
        "http-timeout", default: .seconds(30), min: .milliseconds(100), max: .seconds(600), for: exchangePrograms,
        "Total timeout of one exchange request")
    public static let httpMaxAttempts = Setting<Int>.int(
        "http-max-attempts", default: 6, range: 1...100, for: exchangePrograms,
        "Attempts per exchange request (429, 5xx, transport errors) before giving up")

    // MARK: series-fetcher (and the `ssmd` sync commands' selection)

    public static let schedule = Setting<String>.string("schedule", default: "all", for: [.seriesFetcher],
                                                        "Schedule name, used in cycle ids and reports")
    public static let tag = Setting<[String]>.list(
        "tag", for: Program.fetchers + Program.syncCommands,
        "Tag to cover (series-fetcher, `ssmd … sync`) or whose work to take (market-fetcher); repeatable or comma-separated",
        default: "every tag (series-fetcher: unless --category)")
    public static let category = Setting<[String]>.list(
        "category", for: [.seriesFetcher] + Program.syncCommands, "Whole category to cover; repeatable or comma-separated")
    public static let gamesOnly = Setting<Bool>.flag(
        "games-only", for: [.seriesFetcher] + Program.syncCommands, "Keep only game series in every category")
    public static let interval = Setting<Duration>.duration(
        "interval", default: .seconds(300), min: .seconds(1), for: [.seriesFetcher], "Time between cycle starts")
    public static let scheduleFile = Setting<String?>.string(
        "schedule-file", for: [.seriesFetcher],
        "YAML file of schedules (name, tags, categories, games_only, interval; see config/schedules.yaml) run side by side, replacing --schedule/--tag/--category/--games-only/--interval; a series belongs to the first schedule that covers it")
    public static let once = Setting<Bool>.flag(
        "once", environment: .none, for: [.seriesFetcher],
        "Run one cycle (of each schedule) and exit: 0 if every category synced, 1 otherwise")
    public static let full = Setting<Bool>.flag(
        "full", environment: .none, for: [.seriesFetcher] + Program.syncCommands,
        "Ignore the change feed: the (first) cycle syncs every series in full")
    /// The work consumers' AckWait (the fetchers); db-writer's is `writerAckWait`.
    public static let workAckWait = Setting<Duration>.duration(
        "ack-wait", default: .seconds(30), min: .seconds(1), max: .seconds(3600), for: Program.fetchers,
        "AckWait of the work consumers it creates: a work item whose replica went silent this long is redelivered; replicas keep leases alive with in-progress acks")
    public static let reconcileEvery = Setting<Duration>.duration(
        "reconcile-every", default: .seconds(6 * 3600), min: .seconds(1), for: [.seriesFetcher],
        "Every series gets a full sync at least this often, a slice of them each cycle; between, only what the change feed reports")
    public static let feedInterval = Setting<Duration>.duration(
        "feed-interval", default: .seconds(15), max: .seconds(86_400), for: [.seriesFetcher],
        "The exchange-wide change feed runs this often, shared by every schedule (new, opened, closed, settled and edited markets within about this long); 0: each cycle runs its own feed, as --once does")
    public static let rereadEvery = Setting<Duration>.duration(
        "reread-every", default: .seconds(600), min: .seconds(1), for: [.seriesFetcher],
        "Every tracked market is read again at least this often (an exchange-wide listing, or full syncs for a small schedule), so no row's quotes are older")
    public static let listingMinSeries = Setting<Int>.int(
        "listing-min-series", default: 200, range: 0...1_000_000, for: [.seriesFetcher],
        "From this many tracked series, a first cycle and each re-read use an exchange-wide listing (about 200 requests) instead of one request per series; 0: never")
    public static let deltaLimit = Setting<Int>.int(
        "delta-limit", default: 100, range: 1...500, for: [.seriesFetcher],
        "Changed markets carried inside one work item; more and the market-fetcher fetches them")
    public static let lookback = Setting<Duration>.duration(
        "lookback", default: .seconds(86_400), min: .seconds(60), for: Program.fetchers,
        "A full sync covers events with a market closing this long ago or later (open, unopened, recently closed and settled); a series synced the first time also gets its markets settled this long ago or later")
    public static let leaderLease = Setting<Duration>.duration(
        "leader-lease", default: .seconds(15), min: .seconds(1), max: .seconds(3600), for: [.seriesFetcher],
        "Any number may run: the holder of a lease in NATS KV (ssmd_state, leader.series-fetcher) runs the schedules, the others stand by and take over within two lease periods of its loss (at once after a clean stop); a --once run takes no part")
    public static let instanceID = Setting<String?>.string(
        "instance-id", for: [.seriesFetcher], "This instance's name in the leader lease and logs", default: "host name and process id")
    public static let lifecycleRefresh = Setting<OnOff>.choice(
        "lifecycle-refresh", default: .on, for: [.seriesFetcher],
        "on: re-read within seconds the markets named by lifecycle messages (stream SSMD_LIFECYCLE, from lifecycle-listener); off: REST feeds only")

    // MARK: market-fetcher

    public static let excludeTag = Setting<[String]>.list(
        "exclude-tag", for: [.marketFetcher],
        "Without --tag: a tag whose work this replica leaves to another pool; repeatable or comma-separated")
    public static let concurrency = Setting<Int>.int(
        "concurrency", default: 4, range: 1...256, for: [.marketFetcher, .ssmd("secmaster sync")],
        "Work items (series) synced at once by this process")
    public static let poolShare = Setting<Double>.double(
        "pool-share", default: 1, range: 0.01...1, for: [.marketFetcher],
        "Cap this pool (its --tag set) at a share of the shared budget; what it leaves is available to other pools")

    // MARK: PostgreSQL

    static let databasePrograms: [Program] = [.dbWriter, .dataAPI] + Program.databaseCommands
    public static let databaseURL = Setting<String?>.string(
        "database-url", environment: .derived(fallbacks: ["DATABASE_URL"]), for: databasePrograms,
        "libpq connection string or postgres:// URI; the password is logged redacted", default: "the PG* environment variables")
    public static let readDatabaseURL = Setting<String?>.string(
        "read-database-url", for: [.dataAPI],
        "Where every read goes: a standby, or several hosts with target_session_attrs=prefer-standby; reconnects after a failover, see docs/operations-scale.md",
        default: "the --database-url")

    // MARK: db-writer

    public static let batchMaxRows = Setting<Int>.int(
        "batch-max-rows", default: 2500, range: 1...1_000_000, for: [.dbWriter],
        "Messages per transaction at most; one batch commits while the next is pulled, so at most two are in memory")
    public static let batchMaxBytes = Setting<Int>.int(
        "batch-max-bytes", default: 8 << 20, range: 1024...(1 << 30), for: [.dbWriter], "Payload bytes per transaction at most")
    public static let batchMaxAge = Setting<Duration>.duration(
        "batch-max-age", default: .milliseconds(500), min: .milliseconds(1), max: .seconds(600), for: [.dbWriter],
        "Longest a message waits for its batch")
    /// db-writer's consumer AckWait; the fetchers' is `workAckWait`.
    public static let writerAckWait = Setting<Duration>.duration(
        "ack-wait", default: .seconds(60), min: .seconds(1), max: .seconds(3600), for: [.dbWriter],
        "AckWait of the writer's consumer: silence after which the server redelivers an unacknowledged message; leases are kept alive while a commit retries")
    public static let statementTimeout = Setting<Duration>.duration(
        "statement-timeout", default: .seconds(120), min: .seconds(1), max: .seconds(86_400), for: [.dbWriter],
        "PostgreSQL statement timeout of the writer's session")
    public static let metricsInterval = Setting<Duration>.duration(
        "metrics-interval", default: .seconds(10), min: .milliseconds(100), max: .seconds(86_400), for: [.dbWriter],
        "How often the writer logs its figures: rows, batches, commit p50/p99, lag")
    public static let noMigrate = Setting<Bool>.flag("no-migrate", for: [.dbWriter], "Do not apply migrations at start")
    public static let retention = Setting<Duration?>.duration(
        "retention", default: .seconds(30 * 86_400), min: .seconds(3600), max: .seconds(3650 * 86_400), off: "off", for: [.dbWriter],
        "Markets and events gone from the exchange longer than this are deleted, with their last values in SSMD_SECMASTER; off keeps everything; `ssmd prune` does the same on demand")
    public static let retentionEvery = Setting<Duration>.duration(
        "retention-every", default: .seconds(3600), min: .seconds(1), max: .seconds(86_400), for: [.dbWriter],
        "How often the retention runs")

    // MARK: lifecycle-listener

    public static let wsURL = Setting<String?>.url(
        "ws-url", schemes: ["ws", "wss"], for: [.lifecycleListener],
        "The exchange's WebSocket URL (wss://…/trade-api/ws/v2), overriding the one derived from --exchange-url",
        default: "derived from --exchange-url")
    public static let wsPingInterval = Setting<Duration>.duration(
        "ws-ping-interval", default: .seconds(10), min: .milliseconds(100), max: .seconds(300), for: [.lifecycleListener],
        "Period of our Ping frames; a connection whose Pong is not back by the next Ping is given up")
    public static let reconnectMaxDelay = Setting<Duration>.duration(
        "reconnect-max-delay", default: .seconds(30), min: .milliseconds(500), max: .seconds(3600), for: [.lifecycleListener],
        "Cap of the reconnect backoff: full jitter from 0.5 s, doubling")
    public static let bufferLimit = Setting<Int>.int(
        "buffer-limit", default: 100_000, range: 1...10_000_000, for: [.lifecycleListener],
        "Notices held while NATS does not take them; past it the oldest are dropped and a gap published")

    // MARK: data-api

    public static let httpHost = Setting<String>.string("http-host", default: "127.0.0.1", for: [.dataAPI], "Address the API listens on")
    public static let httpPort = Setting<Int>.int("http-port", default: 8080, range: 0...65535, for: [.dataAPI],
                                                  "Port the API listens on; 0 picks a free one")
    public static let dbConnections = Setting<Int>.int("db-connections", default: 4, range: 1...64, for: [.dataAPI],
                                                       "Most PostgreSQL connections at once")
    public static let dashboardSampleInterval = Setting<Duration>.duration(
        "dashboard-sample-interval", default: .seconds(5), min: .milliseconds(100), max: .seconds(3600), for: [.dataAPI],
        "How often the dashboard samples the pipeline for its charts")
    public static let dashboardHistory = Setting<Duration>.duration(
        "dashboard-history", default: .seconds(3600), min: .seconds(10), max: .seconds(7 * 86_400), for: [.dataAPI],
        "How far back the dashboard's charts reach, kept in memory: at most 100,000 samples")

    // MARK: `ssmd` commands

    public static let syncTimeout = Setting<Duration>.duration(
        "timeout", default: .seconds(1800), min: .seconds(1), for: [.ssmd("secmaster sync")],
        "Give up after this long")
    public static let deadLetterSince = Setting<Duration?>.duration(
        "since", max: .seconds(366 * 86_400), environment: .none, for: [.ssmd("dlq list"), .ssmd("dlq replay")],
        "Only dead letters set aside within this long, e.g. 2h or 3d")
    public static let pruneGoneOlderThan = Setting<Duration?>.duration(
        "gone-older-than", min: .seconds(60), max: .seconds(3650 * 86_400), environment: .none, for: [.ssmd("prune")],
        "Rows gone from the exchange longer than this, e.g. 30d or 12h; required")
    public static let pruneBatchSize = Setting<Int>.int("batch-size", default: 2000, range: 1...100_000, for: [.ssmd("prune")],
                                                        "Rows per delete transaction")

    /// Every declaration, in the README's order.
    public static let all: [SettingDeclaration] = [
        natsURL.declaration, natsUser.declaration, natsPassword.declaration, natsToken.declaration, natsCreds.declaration,
        natsTLSCA.declaration, logLevel.declaration, logFormat.declaration, metricsPort.declaration, metricsHost.declaration,
        shutdownTimeout.declaration, streamReplicas.declaration, coordinationReplicas.declaration,
        exchangeURL.declaration, rateTier.declaration, rateTokensPerSecond.declaration, rateBurstSeconds.declaration,
        rateScope.declaration, rateLeaseSlots.declaration, apiKeyID.declaration, apiPrivateKey.declaration, rateCost.declaration,
        httpTimeout.declaration, httpMaxAttempts.declaration,
        schedule.declaration, tag.declaration, category.declaration, gamesOnly.declaration, interval.declaration,
        scheduleFile.declaration, once.declaration, excludeTag.declaration, concurrency.declaration, workAckWait.declaration,
        poolShare.declaration, lookback.declaration, reconcileEvery.declaration, deltaLimit.declaration, feedInterval.declaration,
        rereadEvery.declaration, listingMinSeries.declaration, leaderLease.declaration, instanceID.declaration,
        lifecycleRefresh.declaration, full.declaration,
        databaseURL.declaration, readDatabaseURL.declaration,
        batchMaxRows.declaration, batchMaxBytes.declaration, batchMaxAge.declaration, writerAckWait.declaration,
        statementTimeout.declaration, metricsInterval.declaration, noMigrate.declaration, retention.declaration,
        retentionEvery.declaration,
        wsURL.declaration, wsPingInterval.declaration, reconnectMaxDelay.declaration, bufferLimit.declaration,
        httpHost.declaration, httpPort.declaration, dbConnections.declaration, dashboardSampleInterval.declaration,
        dashboardHistory.declaration,
        syncTimeout.declaration, deadLetterSince.declaration, pruneGoneOlderThan.declaration, pruneBatchSize.declaration,
    ]

    /// The settings `program` takes.
    public static func taken(by program: Program) -> [SettingDeclaration] {
        all.filter { $0.programs.contains(program) }
    }
}
