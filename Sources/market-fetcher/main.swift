import ArgumentParser
import Logging
import ServiceLifecycle
import Shared

/// market-fetcher: one replica of a tag pool. Replicas started with the same tags share the
/// tags' durable pull consumers, so JetStream splits the work among them.
struct MarketFetcherCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "market-fetcher",
        abstract: "Sync the markets of each series work item from ssmd.work.<tag> and publish them.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var exchange: ExchangeOptions
    @Option(name: .customLong("tag"), help: "Tag whose work this replica takes; repeatable (SSMD_TAG, comma-separated). None: every tag")
    var tags: [String] = []
    @Option(name: .customLong("concurrency"), help: "Work items synced at once by this replica (SSMD_CONCURRENCY). Default 4")
    var concurrency: String?
    @Option(name: .customLong("ack-wait"), help: "AckWait of the work consumers this replica creates: a work item whose replica went silent this long is redelivered (SSMD_ACK_WAIT). Default 30s")
    var ackWait: String?
    @Option(name: .customLong("pool-share"), help: "Cap this pool at a share (0–1] of the shared budget; unused share stays with the others (SSMD_POOL_SHARE). Default 1")
    var poolShare: String?
    @Option(name: .customLong("lookback"), help: "Closed and settled markets of the last … (SSMD_LOOKBACK). Default 24h")
    var lookback: String?
}

/// Sends in-progress acks for a work item at most every `every`, so a replica waiting for
/// rate-budget tokens keeps its lease instead of having the item redelivered elsewhere.
final class LeaseKeeper: @unchecked Sendable {
    private let message: JetStreamMessage
    private let every: Duration
    private let lock = SimpleLock()
    private var last = ContinuousClock.now

    init(message: JetStreamMessage, every: Duration) {
        self.message = message
        self.every = every
    }

    func beat() async {
        let due: Bool = lock.withLock {
            let now = ContinuousClock.now
            guard now - last >= every else { return false }
            last = now
            return true
        }
        if due {
            let m = message
            _ = try? await Offload.run { try m.inProgress() }
        }
    }
}

/// The set of work subscriptions a replica pulls from; with no tags it follows every tag's
/// consumer as series-fetcher creates them.
actor WorkSubscriptions {
    private let js: JetStream
    private let topology: Topology
    private let fixedTags: [String]
    private var subscriptions: [(name: String, sub: PullSubscription, ackWait: Duration)] = []
    private var cursor = 0

    init(js: JetStream, topology: Topology, tags: [String]) {
        self.js = js
        self.topology = topology
        self.fixedTags = tags
    }

    var count: Int { subscriptions.count }

    func refresh() throws {
        let names: [String]
        if fixedTags.isEmpty {
            names = try js.consumerNames(stream: Streams.work).filter { $0.hasPrefix("work-") }.sorted()
        } else {
            names = fixedTags.map { Streams.workConsumer(tag: $0) }
            for tag in fixedTags { try js.ensureConsumer(stream: Streams.work, topology.workConsumer(tag: tag)) }
        }
        for name in names where !subscriptions.contains(where: { $0.name == name }) {
            // The consumer's own AckWait (set by whoever created it) paces the lease keeper.
            let ackWait = try js.consumerInfo(stream: Streams.work, name: name).ackWait
            subscriptions.append((name, try js.pullSubscribe(stream: Streams.work, consumer: name), ackWait))
        }
    }

    func next() -> (sub: PullSubscription, ackWait: Duration)? {
        guard !subscriptions.isEmpty else { return nil }
        cursor = (cursor + 1) % subscriptions.count
        return (subscriptions[cursor].sub, subscriptions[cursor].ackWait)
    }

    func closeAll() {
        for s in subscriptions { s.sub.close() }
        subscriptions.removeAll()
    }
}

struct MarketFetcherService: Service {
    let tags: [String]
    let pool: SharedRequestBudget.Pool?
    let concurrency: Int
    let topology: Topology
    let windows: MarketWindows
    let nats: NATSOptions
    let exchange: ExchangeOptions.Resolved
    let logger: Logger

    func run() async throws {
        let connection = try NATSConnection(options: nats, logger: logger)
        // Drain on the way out: pending acks and publishes reach the server before close.
        defer { try? connection.drain(timeout: .seconds(5)) }
        let js = try connection.jetStream()
        try await retryUntilReady(logger: logger, what: "NATS JetStream provisioning") {
            try await Offload.run { try topology.provision(js) }
        }
        // cnats allows one fetch at a time per subscription, so each worker binds its own
        // subscriptions to the shared durable consumers.
        var workerSubscriptions: [WorkSubscriptions] = []
        for _ in 0..<concurrency {
            let subs = WorkSubscriptions(js: js, topology: topology, tags: tags)
            try await retryUntilReady(logger: logger, what: "work subscriptions") { try await subs.refresh() }
            workerSubscriptions.append(subs)
        }
        let budget = try exchange.makeBudget(js: js, pool: pool, logger: logger)
        let client = ExchangeClient(config: exchange.client, budget: budget, signer: exchange.signer, logger: logger)
        let syncer = MarketSyncer(client: client, js: js, windows: windows, logger: logger)
        let deadLetters = ReliablePublisher(js: js, logger: logger)

        let allSubscriptions = workerSubscriptions
        await withTaskGroup(of: Void.self) { group in
            if tags.isEmpty {
                group.addTask {
                    while await sleepUnlessShuttingDown(.seconds(2)) {
                        for subs in allSubscriptions {
                            do { try await subs.refresh() } catch { logger.warning("consumer discovery failed", metadata: ["error": "\(error)"]) }
                        }
                    }
                }
            }
            group.addTask {
                // Budget figures every 30 s: what this replica was granted and waited.
                var last = budgetSnapshot(budget)
                while await sleepUnlessShuttingDown(.seconds(30)) {
                    let now = budgetSnapshot(budget)
                    let s = client.stats.snapshot
                    logger.info("budget", metadata: [
                        "tokens_granted": "\(now.tokens - last.tokens)", "requests": "\(now.requests - last.requests)",
                        "waited_s": "\(String(format: "%.1f", now.waited - last.waited))",
                        "replica_utilization": "\(String(format: "%.3f", Double(now.tokens - last.tokens) / 30 / exchange.tokensPerSecond))",
                        "throttled_total": "\(s.throttled)", "retries_total": "\(s.retries)", "cas_conflicts_total": "\(now.conflicts)"])
                    last = now
                }
            }
            for worker in 0..<concurrency {
                let subs = allSubscriptions[worker]
                group.addTask {
                    var log = logger
                    log[metadataKey: "worker"] = "\(worker)"
                    await workLoop(subs: subs, syncer: syncer, deadLetters: deadLetters, logger: log)
                }
            }
        }
        for subs in allSubscriptions { await subs.closeAll() }
        let s = client.stats.snapshot
        logger.info("stopped", metadata: ["requests": "\(s.requests)", "throttled": "\(s.throttled)", "retries": "\(s.retries)"])
    }

    func workLoop(subs: WorkSubscriptions, syncer: MarketSyncer, deadLetters: ReliablePublisher, logger: Logger) async {
        // With one tag a fetch waits for work; with many, each is probed without waiting and
        // the worker rests only after a whole round found nothing.
        var emptyInARow = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            guard let (sub, ackWait) = await subs.next() else {
                _ = await sleepUnlessShuttingDown(.milliseconds(500))
                continue
            }
            let count = await subs.count
            let messages: [JetStreamMessage]
            do {
                messages = try await Offload.run { try sub.fetch(batch: 1, maxWait: count > 1 ? .milliseconds(5) : .seconds(1)) }
            } catch {
                logger.warning("work fetch failed", metadata: ["error": "\(error)"])
                _ = await sleepUnlessShuttingDown(.milliseconds(500))
                continue
            }
            if messages.isEmpty {
                emptyInARow += 1
                if count > 1, emptyInARow >= count {
                    emptyInARow = 0
                    _ = await sleepUnlessShuttingDown(.milliseconds(250))
                }
                continue
            }
            emptyInARow = 0
            for message in messages {
                await process(message, ackWait: ackWait, syncer: syncer, deadLetters: deadLetters, logger: logger)
            }
        }
    }

    func process(_ message: JetStreamMessage, ackWait: Duration, syncer: MarketSyncer, deadLetters: ReliablePublisher, logger: Logger) async {
        let item: WorkItem
        do {
            item = try MessageCodec.decode(WorkItem.self, from: message.data, subject: message.subject)
        } catch {
            await setAside(message, reason: "\(error)", deadLetters: deadLetters, logger: logger)
            return
        }
        var log = logger
        log[metadataKey: "series"] = "\(item.seriesTicker)"
        log[metadataKey: "tag"] = "\(item.routingTag)"
        log[metadataKey: "cycle"] = "\(item.cycleId)"
        let lease = LeaseKeeper(message: message, every: .milliseconds(max(100, ackWait.milliseconds / 3)))
        let started = ContinuousClock.now
        do {
            let result = try await syncer.sync(item) { await lease.beat() }
            try await Offload.run { try message.ackSync() }
            log.info("series synced", metadata: [
                "markets": "\(result.markets)", "events": "\(result.events)", "requests": "\(result.requests)",
                "duration_ms": "\((ContinuousClock.now - started).seconds * 1000)", "delivery": "\(message.deliveryCount)"])
        } catch let e as ExchangeError where !e.isRetryable {
            await setAside(message, reason: e.description, deadLetters: deadLetters, logger: log)
        } catch {
            if message.deliveryCount >= UInt64(max(1, topology.workMaxDeliver - 1)) {
                await setAside(message, reason: "gave up after \(message.deliveryCount) deliveries: \(error)", deadLetters: deadLetters, logger: log)
                return
            }
            // Retry later, on whichever replica takes it.
            let delay = RetryPolicy(maxAttempts: .max, base: .seconds(1), cap: .seconds(60))
                .delay(attempt: Int(message.deliveryCount), unit: Double.random(in: 0.5..<1))
            log.warning("series sync failed; work item will be retried", metadata: ["error": "\(error)", "retry_in_ms": "\(delay.milliseconds)"])
            _ = try? await Offload.run { try message.nak(delay: delay) }
        }
    }

    /// Publishes the item with its reason to the dead-letter subject, then terminates it.
    func setAside(_ message: JetStreamMessage, reason: String, deadLetters: ReliablePublisher, logger: Logger) async {
        let letter = DeadLetter(stage: "market-fetcher", reason: reason, subject: message.subject,
                                deliveries: message.deliveryCount, failedAt: .now(), payload: message.data)
        do {
            try await deadLetters.publishAll([OutgoingMessage(subject: Subjects.deadLetter(stage: "market-fetcher"), data: letter.encoded(),
                                                              msgId: "dlq:market-fetcher:\(message.streamSequence)")])
            try await Offload.run { try message.term() }
            logger.error("work item set aside on the dead-letter subject", metadata: ["reason": "\(reason)"])
        } catch {
            // Could not record it: leave it to redelivery rather than lose it.
            logger.error("could not dead-letter work item; leaving it for redelivery", metadata: ["reason": "\(reason)", "error": "\(error)"])
            _ = try? await Offload.run { try message.nak(delay: .seconds(5)) }
        }
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
        do {
            let cmd = try MarketFetcherCommand.parse()
            let r = SettingsResolver()
            let common = try cmd.common.resolve(connectionName: "market-fetcher")
            let exchange = try cmd.exchange.resolve(r)
            let tags = r.list("tag", cmd.tags)
            let concurrency = try r.int("concurrency", cmd.concurrency, default: 4, range: 1...256)
            var topology = Topology()
            topology.workAckWait = try r.duration("ack-wait", cmd.ackWait, default: .seconds(30), min: .seconds(1), max: .seconds(3600))
            let lookback = try r.duration("lookback", cmd.lookback, default: .seconds(86_400), min: .seconds(60))
            let share = try r.double("pool-share", cmd.poolShare, default: 1, range: 0.01...1)
            let pool = share < 1 ? SharedRequestBudget.Pool(name: tags.isEmpty ? "*" : tags.sorted().joined(separator: ","), share: share) : nil
            StructuredLogHandler.bootstrap(level: common.logLevel, format: common.logFormat)
            var logger = Logger(label: "market-fetcher")
            logger[metadataKey: "pool"] = "\(tags.isEmpty ? "*" : tags.joined(separator: ","))"
            logger.info("starting", metadata: [
                "nats": "\(common.nats.urls.map(Redaction.url))", "exchange": "\(exchange.client.baseURL)", "signed_as": "\(exchange.signer?.keyID ?? "unsigned")",
                "concurrency": "\(concurrency)", "ack_wait_s": "\(topology.workAckWait.seconds)",
                "rate_tokens_per_s": "\(exchange.tokensPerSecond)", "rate_scope": "\(exchange.scope)", "pool_share": "\(share)", "lookback_s": "\(lookback.seconds)"])
            let service = MarketFetcherService(tags: tags, pool: pool, concurrency: concurrency, topology: topology,
                                               windows: MarketWindows(lookbackSeconds: Int64(lookback.seconds)),
                                               nats: common.nats, exchange: exchange, logger: logger)
            try await DaemonMain.run(services: [service], logger: logger, shutdownTimeout: common.shutdownTimeout)
        } catch {
            DaemonMain.exit(MarketFetcherCommand.self, error: error, program: "market-fetcher")
        }
    }
}
