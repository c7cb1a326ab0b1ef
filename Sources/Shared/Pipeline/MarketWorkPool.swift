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

/// The work consumers a replica serves, and which of them have messages waiting — one per
/// replica, shared by its workers. With no tags it follows every tag's consumer as
/// series-fetcher creates them, except the excluded tags' (another pool's).
///
/// Why a directory: a replica serving every tag has one consumer per tag (about 70 here) and
/// many workers; each worker probing each consumer in turn sent thousands of pull requests a
/// second while nearly all of them were empty, and on a three-node cluster starved the very
/// requests it was there to make (seen as no request at all in a 10 s window with 50 workers).
/// The work stream keeps a message only until it is acked (work-queue retention), so its
/// per-subject counts — one stream-info request, shared by every worker, at most every
/// ``lookEvery`` — say which consumers have work; workers pull only from those.
actor WorkConsumers {
    struct Consumer: Sendable, Equatable {
        var name: String
        /// The consumer's filter subject; nil (or a wildcard) when its work cannot be told
        /// from the stream's subjects: it is then always probed.
        var subject: String?
        /// The consumer's own AckWait (set by whoever created it) paces the lease keeper.
        var ackWait: Duration
    }

    static let lookEvery: Duration = .milliseconds(200)

    private let js: JetStream
    private let topology: Topology
    private let fixedTags: [String]
    private let excludedConsumers: Set<String>
    /// Also take parts of exchange-wide listings (consumer `listing`).
    private let listing: Bool
    private var consumers: [Consumer] = []
    private var withWork: [Consumer] = []
    private var lookedAt: ContinuousClock.Instant?
    /// The stream-info request under way, awaited by every worker that asks meanwhile.
    private var looking: Task<[String: UInt64]?, Never>?

    private let logger: Logger

    init(js: JetStream, topology: Topology, tags: [String], excludedTags: [String] = [], listing: Bool, logger: Logger) {
        self.logger = logger
        self.listing = listing
        self.js = js
        self.topology = topology
        self.fixedTags = tags
        self.excludedConsumers = Set(excludedTags.map(Streams.workConsumer(tag:)))
    }

    var count: Int { consumers.count }

    /// Learns of consumers not yet known (creating the fixed tags' and the listing's).
    func discover() async throws {
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
        // One consumer that cannot answer (its group electing a leader after a node died)
        // does not keep the ones after it out: each is tried, the first failure thrown after.
        var failure: Error?
        var added = 0
        for name in names where !consumers.contains(where: { $0.name == name }) {
            let info: ConsumerState
            do {
                info = try await js.consumerInfo(stream: Streams.work, name: name)
            } catch {
                failure = failure ?? error
                continue
            }
            // Another discovery may have added it while this one waited.
            guard !consumers.contains(where: { $0.name == name }) else { continue }
            let subject = info.filterSubject.flatMap { $0.contains("*") || $0.contains(">") ? nil : $0 }
            consumers.append(Consumer(name: name, subject: subject, ackWait: info.ackWait))
            added += 1
        }
        if added > 0 { logger.info("following work consumers", metadata: ["added": "\(added)", "consumers": "\(consumers.count)"]) }
        if let failure { throw failure }
    }

    /// The consumers with messages waiting (delivered but unacked ones count: the stream still
    /// holds them), as of a look at most ``lookEvery`` old. When the stream cannot be read,
    /// every consumer: workers then probe them all, as before the directory existed.
    func ready() async -> [Consumer] {
        if let lookedAt, ContinuousClock.now - lookedAt < Self.lookEvery { return withWork }
        let look: Task<[String: UInt64]?, Never>
        if let looking { look = looking } else {
            let js = self.js
            look = Task { try? await js.streamInfo(name: Streams.work, subjectsFilter: ">").subjects }
            looking = look
        }
        let subjects = await look.value
        // The first worker back records the look; the others read it.
        if looking == look {
            looking = nil
            lookedAt = .now
            withWork = subjects.map { Self.withWork(consumers, subjects: $0) } ?? consumers
        }
        return withWork
    }

    /// Which of `consumers` the stream's per-subject message counts say have work.
    static func withWork(_ consumers: [Consumer], subjects: [String: UInt64]) -> [Consumer] {
        consumers.filter { c in c.subject.map { (subjects[$0] ?? 0) > 0 } ?? true }
    }
}

/// One worker's pull subscriptions, bound the first time the worker pulls from a consumer
/// (cnats allows one fetch at a time per subscription, so workers never share one).
final class WorkerSubscriptions: @unchecked Sendable {
    private let js: JetStream
    /// Touched only by the worker's own task.
    private var bound: [String: PullSubscription] = [:]
    /// Where this worker's rotation starts: random, so that the workers of every replica
    /// spread over the consumers with work instead of all pulling from the same one (200
    /// workers on one consumer exceeded its MaxWaiting, 512 pull requests).
    private var cursor = Int.random(in: 0..<(1 << 30))

    init(js: JetStream) { self.js = js }

    /// The next of `ready` to pull from: round-robin, preferring consumers already bound.
    func choose(from ready: [WorkConsumers.Consumer]) -> WorkConsumers.Consumer? {
        guard !ready.isEmpty else { return nil }
        cursor &+= 1
        let start = cursor % ready.count
        let rotated = Array(ready[start...] + ready[..<start])
        return rotated.first { bound[$0.name] != nil } ?? rotated.first
    }

    func subscription(for consumer: WorkConsumers.Consumer) async throws -> PullSubscription {
        if let sub = bound[consumer.name] { return sub }
        let sub = try await js.pullSubscribe(stream: Streams.work, consumer: consumer.name)
        bound[consumer.name] = sub
        return sub
    }

    /// A subscription that failed is bound again next time.
    func drop(_ consumer: WorkConsumers.Consumer) {
        bound.removeValue(forKey: consumer.name)?.close()
    }

    func closeAll() {
        for sub in bound.values { sub.close() }
        bound.removeAll()
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
        let directory = WorkConsumers(js: js, topology: topology, tags: tags, excludedTags: excludedTags, listing: listingSyncer != nil, logger: logger)
        try await retryUntilReady(logger: logger, what: "work consumers") { try await directory.discover() }
        let deadLetters = DeadLetterPublisher(stage: "market-fetcher", js: js, logger: logger)
        let done = DoneFlag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while await sleepUnlessShuttingDown(.seconds(1)) {
                    if await finished() { done.set(); return }
                }
            }
            if tags.isEmpty {
                // New tags' consumers appear as series-fetcher creates them.
                group.addTask {
                    while !done.isSet, await sleepUnlessShuttingDown(.seconds(2)) {
                        do { try await directory.discover() } catch { self.logger.warning("consumer discovery failed", metadata: ["error": "\(error)"]) }
                    }
                }
            }
            for worker in 0..<concurrency {
                group.addTask {
                    var log = self.logger
                    log[metadataKey: "worker"] = "\(worker)"
                    let subs = WorkerSubscriptions(js: self.js)
                    await self.workLoop(directory: directory, subs: subs, deadLetters: deadLetters, done: done, logger: log)
                    subs.closeAll()
                }
            }
        }
    }

    func workLoop(directory: WorkConsumers, subs: WorkerSubscriptions, deadLetters: DeadLetterPublisher, done: DoneFlag,
                  logger: Logger) async {
        // With one consumer a fetch waits for work; with several, each consumer that has work
        // is probed without waiting, and the worker rests only after a whole round of them
        // gave nothing (their messages in flight elsewhere, or waiting out a backoff).
        var emptyInARow = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled && !done.isSet {
            let ready = await directory.ready()
            let single = await directory.count == 1
            guard let consumer = subs.choose(from: ready) else {
                _ = await sleepUnlessShuttingDown(single ? .milliseconds(50) : WorkConsumers.lookEvery)
                continue
            }
            let messages: [JetStreamMessage]
            do {
                let sub = try await subs.subscription(for: consumer)
                messages = try await sub.fetch(batch: 1, maxWait: single ? .seconds(1) : .milliseconds(5))
            } catch {
                logger.warning("work fetch failed", metadata: ["consumer": "\(consumer.name)", "error": "\(error)"])
                subs.drop(consumer)
                _ = await sleepUnlessShuttingDown(.milliseconds(500))
                continue
            }
            if messages.isEmpty {
                emptyInARow += 1
                if emptyInARow >= ready.count {
                    emptyInARow = 0
                    if !single { _ = await sleepUnlessShuttingDown(.milliseconds(100)) }
                }
                continue
            }
            emptyInARow = 0
            for message in messages {
                await process(message, ackWait: consumer.ackWait, deadLetters: deadLetters, logger: logger)
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
