import Logging
import ServiceLifecycle
import Synchronization
import KalshiAPI
import NATSClient
import SSMDCore
import SyncCore
import WireContract

/// Sends in-progress acks for a work item at most every `every`, so a replica waiting for
/// rate-budget tokens keeps its lease instead of having the item redelivered elsewhere.
final class LeaseKeeper: Sendable {
    private let message: JetStreamMessage
    private let every: Duration
    private let last = Mutex(ContinuousClock.now)

    init(message: JetStreamMessage, every: Duration) {
        self.message = message
        self.every = every
    }

    func beat() async {
        let due: Bool = last.withLock { last in
            let now = ContinuousClock.now
            guard now - last >= every else { return false }
            last = now
            return true
        }
        if due { try? message.inProgress() }
    }
}

/// The set of work subscriptions a replica pulls from; with no tags it follows every tag's
/// consumer as series-fetcher creates them, except the excluded tags' (another pool's).
actor WorkSubscriptions {
    private let js: JetStream
    private let topology: Topology
    private let fixedTags: [String]
    private let excludedConsumers: Set<String>
    /// Also take parts of exchange-wide listings (consumer `listing`).
    private let listing: Bool
    private var subscriptions: [(name: String, sub: PullSubscription, ackWait: Duration)] = []
    private var cursor = 0

    init(js: JetStream, topology: Topology, tags: [String], excludedTags: [String] = [], listing: Bool) {
        self.listing = listing
        self.js = js
        self.topology = topology
        self.fixedTags = tags
        self.excludedConsumers = Set(excludedTags.map(Streams.workConsumer(tag:)))
    }

    var count: Int { subscriptions.count }

    /// Binds to consumers not yet subscribed.
    func refresh() async throws {
        var names: [String]
        if fixedTags.isEmpty {
            names = try await js.consumerNames(stream: Streams.work).filter { $0.hasPrefix("work-") && !excludedConsumers.contains($0) }.sorted()
        } else {
            names = fixedTags.map { Streams.workConsumer(tag: $0) }
            for tag in fixedTags { try await js.ensureConsumer(stream: Streams.work, topology.workConsumer(tag: tag)) }
        }
        if listing {
            try await js.ensureConsumer(stream: Streams.work, topology.listingConsumer)
            names.append(Streams.listingConsumer)
        }
        for name in names where !subscriptions.contains(where: { $0.name == name }) {
            // The consumer's own AckWait (set by whoever created it) paces the lease keeper.
            let ackWait = try await js.consumerInfo(stream: Streams.work, name: name).ackWait
            let sub = try await js.pullSubscribe(stream: Streams.work, consumer: name)
            // Another refresh may have bound it while this one waited.
            if subscriptions.contains(where: { $0.name == name }) { sub.close() } else { subscriptions.append((name, sub, ackWait)) }
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

/// What a pool of work-item workers did.
public struct WorkPoolTotals: Sendable, Equatable {
    public var seriesSynced = 0
    /// Parts of exchange-wide listings read.
    public var listingParts = 0
    public var markets = 0
    public var events = 0
    public var requests = 0
    public var retried = 0
    public var deadLettered = 0
}

/// Workers that take series work items from the tags' durable consumers, sync each series'
/// markets and ack it — the body of a market-fetcher replica, also used by `ssmd secmaster
/// sync`. Items that fail are retried later (nak with backoff) on whichever replica takes
/// them, or set aside on `ssmd.dlq.market-fetcher` with the reason; none is dropped.
public final class MarketWorkPool: Sendable {
    private let js: JetStream
    private let topology: Topology
    private let tags: [String]
    private let excludedTags: [String]
    private let concurrency: Int
    private let syncer: MarketSyncer
    private let listingSyncer: ListingSyncer?
    private let logger: Logger
    private let totalsState = Mutex(WorkPoolTotals())
    private let metrics = WorkPoolMetricsEmitter()

    /// - Parameter excludedTags: with no `tags`, tags whose work this pool leaves to others.
    /// - Parameter listingSyncer: given, the pool also takes parts of exchange-wide listings
    ///   (every pool shares them: a listing covers every tag).
    public init(js: JetStream, topology: Topology, tags: [String], excludedTags: [String] = [], concurrency: Int,
                syncer: MarketSyncer, listingSyncer: ListingSyncer? = nil, logger: Logger) {
        self.listingSyncer = listingSyncer
        self.excludedTags = excludedTags
        self.js = js
        self.topology = topology
        self.tags = tags
        self.concurrency = concurrency
        self.syncer = syncer
        self.logger = logger
    }

    public var totals: WorkPoolTotals { totalsState.withLock { $0 } }

    private func record(_ update: (inout WorkPoolTotals) -> Void) {
        let (before, after) = totalsState.withLock { totals -> (WorkPoolTotals, WorkPoolTotals) in
            let before = totals
            update(&totals)
            return (before, totals)
        }
        metrics.add(from: before, to: after)
    }

    /// Runs until the process shuts down gracefully, or until `finished()` says so (checked
    /// about once a second).
    public func run(finished: @escaping @Sendable () async -> Bool = { false }) async throws {
        // cnats allows one fetch at a time per subscription, so each worker binds its own
        // subscriptions to the shared durable consumers.
        var workerSubscriptions: [WorkSubscriptions] = []
        for _ in 0..<concurrency {
            let subs = WorkSubscriptions(js: js, topology: topology, tags: tags, excludedTags: excludedTags, listing: listingSyncer != nil)
            try await retryUntilReady(logger: logger, what: "work subscriptions") { try await subs.refresh() }
            workerSubscriptions.append(subs)
        }
        let allSubscriptions = workerSubscriptions
        let deadLetters = DeadLetterPublisher(stage: "market-fetcher", js: js, logger: logger)
        let done = DoneFlag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while await sleepUnlessShuttingDown(.seconds(1)) {
                    if await finished() { done.set(); return }
                }
            }
            if tags.isEmpty {
                group.addTask {
                    while !done.isSet, await sleepUnlessShuttingDown(.seconds(2)) {
                        for subs in allSubscriptions {
                            do { try await subs.refresh() } catch { self.logger.warning("consumer discovery failed", metadata: ["error": "\(error)"]) }
                        }
                    }
                }
            }
            for worker in 0..<concurrency {
                let subs = allSubscriptions[worker]
                group.addTask {
                    var log = self.logger
                    log[metadataKey: "worker"] = "\(worker)"
                    await self.workLoop(subs: subs, deadLetters: deadLetters, done: done, logger: log)
                }
            }
        }
        for subs in allSubscriptions { await subs.closeAll() }
    }

    func workLoop(subs: WorkSubscriptions, deadLetters: DeadLetterPublisher, done: DoneFlag, logger: Logger) async {
        // With one tag a fetch waits for work; with many, each is probed without waiting and
        // the worker rests only after a whole round found nothing.
        var emptyInARow = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled && !done.isSet {
            guard let (sub, ackWait) = await subs.next() else {
                _ = await sleepUnlessShuttingDown(.milliseconds(500))
                continue
            }
            let count = await subs.count
            let messages: [JetStreamMessage]
            do {
                messages = try await sub.fetch(batch: 1, maxWait: count > 1 ? .milliseconds(5) : .seconds(1))
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
                await process(message, ackWait: ackWait, deadLetters: deadLetters, logger: logger)
            }
        }
    }

    func process(_ message: JetStreamMessage, ackWait: Duration, deadLetters: DeadLetterPublisher, logger: Logger) async {
        if message.subject == Subjects.listing, let listingSyncer {
            // One part of an exchange-wide listing.
            await handle(message, as: ListingItem.self, ackWait: ackWait, deadLetters: deadLetters, logger: logger,
                         context: { item, log in
                             log[metadataKey: "listing"] = "\(item.part.rawValue)"
                             log[metadataKey: "cycle"] = "\(item.cycleId)"
                         },
                         sync: { item, beat in try await listingSyncer.sync(item, heartbeat: beat) },
                         done: { _, result, duration, log in
                             self.record { $0.listingParts += 1; $0.markets += result.markets; $0.events += result.events; $0.requests += result.requests }
                             log.info("listing part read", metadata: [
                                 "markets": "\(result.markets)", "events": "\(result.events)", "untracked_events": "\(result.untracked)",
                                 "requests": "\(result.requests)", "duration_ms": "\(duration.seconds * 1000)"])
                         })
            return
        }
        await handle(message, as: WorkItem.self, ackWait: ackWait, deadLetters: deadLetters, logger: logger,
                     context: { item, log in
                         log[metadataKey: "series"] = "\(item.seriesTicker)"
                         log[metadataKey: "tag"] = "\(item.routingTag)"
                         log[metadataKey: "cycle"] = "\(item.cycleId)"
                     },
                     sync: { item, beat in try await self.syncer.sync(item, heartbeat: beat) },
                     done: { item, result, duration, log in
                         self.record { $0.seriesSynced += 1; $0.markets += result.markets; $0.events += result.events; $0.requests += result.requests }
                         self.metrics.synced(mode: item.mode, duration: duration)
                         log.info("series synced", metadata: [
                             "mode": "\(item.mode.rawValue)", "markets": "\(result.markets)", "events": "\(result.events)",
                             "requests": "\(result.requests)", "duration_ms": "\(duration.seconds * 1000)"])
                     })
    }

    /// One message of a work consumer: decoded, synced while its lease is kept alive, then
    /// acked — or retried (nak with backoff) or set aside with its reason, as `WorkOutcome`
    /// decides. Nothing is acked before everything it published was acked.
    private func handle<Item: SSMDMessage, Result: Sendable>(
        _ message: JetStreamMessage, as: Item.Type, ackWait: Duration, deadLetters: DeadLetterPublisher, logger: Logger,
        context: (Item, inout Logger) -> Void,
        sync: (Item, @escaping @Sendable () async -> Void) async throws -> Result,
        done: (Item, Result, Duration, Logger) -> Void
    ) async {
        let item: Item
        do {
            item = try MessageCodec.decode(Item.self, from: message.data, subject: message.subject)
        } catch {
            await act(on: .decide(.undecodable("\(error)"), deliveries: message.deliveryCount, maxDeliver: topology.workMaxDeliver, jitter: 0),
                      message, deadLetters: deadLetters, logger: logger)
            return
        }
        var log = logger
        context(item, &log)
        let lease = LeaseKeeper(message: message, every: .milliseconds(max(100, ackWait.milliseconds / 3)))
        let started = ContinuousClock.now
        let failure: WorkOutcome.Failure?
        var result: Result?
        do {
            result = try await sync(item) { await lease.beat() }
            failure = nil
        } catch let e as ExchangeError where !e.isRetryable {
            failure = .permanent(e.description)
        } catch {
            failure = .transient("\(error)")
        }
        let outcome = WorkOutcome.decide(failure, deliveries: message.deliveryCount, maxDeliver: topology.workMaxDeliver,
                                         jitter: .random(in: 0..<1))
        if case .ack = outcome, let result {
            do {
                try await message.ackSync()
            } catch {
                // Not acknowledged: the server redelivers it; the publishes are deduplicated.
                log.warning("work item done but its ack failed; it will be redelivered", metadata: ["error": "\(error)"])
                return
            }
            log[metadataKey: "delivery"] = "\(message.deliveryCount)"
            done(item, result, ContinuousClock.now - started, log)
            return
        }
        if case .transient(let reason)? = failure { log[metadataKey: "error"] = "\(reason)" }
        await act(on: outcome, message, deadLetters: deadLetters, logger: log)
    }

    /// Hands the item back or sets it aside, as `outcome` says.
    private func act(on outcome: WorkOutcome, _ message: JetStreamMessage, deadLetters: DeadLetterPublisher, logger: Logger) async {
        switch outcome {
        case .ack:
            break
        case .retry(let delay):
            logger.warning("series sync failed; work item will be retried", metadata: ["retry_in_ms": "\(delay.milliseconds)"])
            record { $0.retried += 1 }
            try? message.nak(delay: delay)
        case .deadLetter(let reason):
            if await deadLetters.setAside(message, reason: reason, logger: logger) { record { $0.deadLettered += 1 } }
        }
    }
}

/// A flag set once, read from many tasks.
final class DoneFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
