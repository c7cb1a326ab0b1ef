import Logging
import Synchronization
import KalshiAPI
import KalshiModels
import NATSClient
import SSMDCore
import SyncCore
import WireContract

/// One series-side cycle: read the category→tags map and the sports, fetch each needed
/// category's series, apply the tracking rule and routing, and publish series metadata,
/// complete category listings and one work item per tracked series.
public final class SeriesSyncer: Sendable {
    private let client: ExchangeClient
    private let js: JetStream
    private let topology: Topology
    private let logger: Logger
    /// Tags whose work consumer this process has made sure of.
    private let knownConsumers = Mutex<Set<String>>([])
    private let metrics = CycleMetricsEmitter()
    /// Each schedule's due-time index of unopened markets, kept between cycles (and in KV
    /// `due.<schedule>` for a restart).
    private let dueIndexes = Mutex<[String: DueIndex]>([:])
    /// Entries of a due-time index saved for a restart at most (a KV value stays well under
    /// NATS' 1 MB payload limit); a restart with more cut sweeps at once.
    static let persistedDueLimit = 15_000
    /// Each schedule's tracked series as its last cycle listed them: the lifecycle refresher
    /// routes the markets it re-reads by them.
    private let trackedBySchedule = Mutex<[String: [String: TrackedSeriesRef]]>([:])
    /// Per schedule, the earliest time the lifecycle listener may have missed messages from
    /// (a gap), until a cycle's change feed has covered it.
    private let missedSince = Mutex<[String: Timestamp]>([:])

    /// Each schedule's listed series (tracked or not), as its last cycle listed them: the
    /// shared feed attributes markets by them.
    private let listedBySchedule = Mutex<[String: Set<String>]>([:])
    /// Changes are found by the shared `FeedLoop`, not by each cycle.
    private let sharedFeed: Bool
    /// For the shared feed's first run: the earliest point any schedule's changes are wanted
    /// from (a schedule's saved feed position, or its first cycle's start).
    private let feedStart = Mutex<Timestamp?>(nil)
    /// The lifecycle listener's gap not yet covered by the shared feed.
    private let feedGap = Mutex<Timestamp?>(nil)
    /// The shared feed's due-time index (kept in KV `due-feed` for a restart), used by one
    /// feed run or one first cycle's sweep at a time.
    private let feedIndex = Mutex<DueIndex?>(nil)
    private let feedIndexLock = AsyncLock()

    /// Whether this instance may still hand out work and write the schedules' state (the
    /// leader lease, where several series-fetchers run).
    private let mayWrite: @Sendable () -> Bool

    /// - Parameter sharedFeed: a `FeedLoop` finds the changes; cycles run no change feed of
    ///   their own (`series-fetcher --once` and `ssmd secmaster sync` run one).
    public init(client: ExchangeClient, js: JetStream, topology: Topology, logger: Logger, sharedFeed: Bool = false,
                mayWrite: @escaping @Sendable () -> Bool = { true }) {
        self.mayWrite = mayWrite
        self.sharedFeed = sharedFeed
        self.client = client
        self.js = js
        self.topology = topology
        self.logger = logger
    }

    /// - Parameter claimedByEarlier: selections of schedules that come first; a series they
    ///   cover is theirs, and this cycle leaves it out (overlapping schedules never sync a
    ///   series twice).
    /// - Parameter forceFull: ignore the change feed and sync every series in full.
    public func runCycle(schedule: String, selection: SeriesSelection, claimedByEarlier: [SeriesSelection] = [],
                         policy: SyncPolicy = SyncPolicy(), forceFull: Bool = false) async throws -> CycleReport {
        // Schedules run concurrently on one client: count this cycle's requests only.
        let tally = RequestTally()
        metrics.prepare(schedule: schedule)
        let started = ContinuousClock.now
        do {
            let report = try await ExchangeClient.$tally.withValue(tally) {
                try await runCounted(schedule: schedule, selection: selection, claimedByEarlier: claimedByEarlier,
                                     policy: policy, forceFull: forceFull, tally: tally)
            }
            metrics.finished(report, duration: ContinuousClock.now - started)
            return report
        } catch {
            metrics.failed(schedule: schedule)
            throw error
        }
    }

    private func runCounted(schedule: String, selection: SeriesSelection, claimedByEarlier: [SeriesSelection],
                            policy: SyncPolicy, forceFull: Bool, tally: RequestTally) async throws -> CycleReport {
        let started = Timestamp.now(), startedInstant = ContinuousClock.now
        let startedOnExchange = client.clock.now()
        let cycleId = "\(schedule)-\(started.secondsSinceEpoch)"
        var log = logger
        log[metadataKey: "cycle"] = "\(cycleId)"

        // 1. Series metadata, published as it is listed.
        let listing = try await listSeries(selection: selection, claimedByEarlier: claimedByEarlier, cycleId: cycleId, log: log)
        let seriesDone = ContinuousClock.now

        // 2. The change feed since the last cycle, in the exchange's clock.
        let stateKey = StateKeys.plan(schedule: schedule)
        var state = try await loadPlanState(key: stateKey, log: log)
        let cycleNow = client.clock.now()
        feedStart.withLock { start in
            let wanted = state.feedSince ?? cycleNow
            start = start.map { Swift.min($0, wanted) } ?? wanted
        }
        listedBySchedule.withLock { $0[schedule] = listing.listedTickers }
        trackedBySchedule.withLock { $0[schedule] = Dictionary(listing.tracked.map { ($0.ticker, $0) }, uniquingKeysWith: { a, _ in a }) }
        // The lifecycle listener missed messages from `missed`: the feed asks from there.
        let missed = missedSince.withLock { $0[schedule] }
        if let missed, let since = state.feedSince, missed < since {
            log.info("lifecycle gap: the change feed asks again from its start", metadata: ["from": "\(missed)", "instead_of": "\(since)"])
            state.feedSince = missed
        }
        let planner = SyncPlanner(policy: policy)
        let now = client.clock.now()
        var feed = SyncPlanner.Feed.none
        var feedReturned = 0, dueRead = 0, dueChanged = 0
        let feedTally = RequestTally()
        let dueKey = StateKeys.due(schedule: schedule)
        var due = await loadDueIndex(schedule: schedule, key: dueKey, log: log)
        let dueBefore = due
        if sharedFeed {
            // The shared feed hands out changes as it finds them; the cycle plans new series,
            // reconciliation and re-reads — everything in full when its state is missing or
            // too old to trust.
            if !forceFull, planner.feedSince(state, now: now) != nil { feed = .changes([:]) }
        } else if !forceFull, let since = planner.feedSince(state, now: now) {
            do {
                let result = try await ExchangeClient.$tally.withValue(feedTally) {
                    try await ChangeFeed(client: client).fetch(since: since, listed: listing.listedTickers, due: &due, now: now,
                                                               sweepEverySeconds: policy.unopenedSweepSeconds)
                }
                feed = .changes(result.changes)
                feedReturned = result.returned
                dueRead = result.dueRead
                dueChanged = result.dueChanged
                if result.dueRead > 0 || result.swept > 0 || result.closing > 0 {
                    log.info("due-time index", metadata: ["read_again": "\(result.dueRead)", "changed": "\(result.dueChanged)",
                                                          "swept": "\(result.swept)", "closing_soon": "\(result.closing)",
                                                          "indexed": "\(due.count)"])
                }
            } catch {
                feed = .failed
                log.error("change feed failed; this cycle syncs new series and its reconciliation slice only, the next asks again from the same point", metadata: [
                    "error": "\(error)", "since": "\(since)"])
            }
        } else if sharedFeed {
            // Before anything is read in full: a market that opens or is determined from now on
            // is then waited for by the shared feed (a sweep after the full reads could find
            // it already moved on and not know it had been waiting).
            do {
                try await withFeedDueIndex(log: log) { due in
                    guard due.sweptAt == nil else { return }
                    _ = try await ExchangeClient.$tally.withValue(feedTally) {
                        try await ChangeFeed(client: self.client).sweep(listed: self.listedTickers(), into: &due, now: now)
                    }
                }
            } catch {
                log.warning("unopened markets could not be listed; the shared feed sweeps on its next run", metadata: ["error": "\(error)"])
            }
        } else if due.needsSweep(now: now, every: policy.unopenedSweepSeconds) {
            // Full syncs this cycle: the sweep still learns which markets are yet to open.
            do {
                _ = try await ExchangeClient.$tally.withValue(feedTally) {
                    try await ChangeFeed(client: client).sweep(listed: listing.listedTickers, into: &due, now: now)
                }
            } catch {
                log.warning("unopened markets could not be listed; the next cycle tries again", metadata: ["error": "\(error)"])
            }
        }
        dueIndexes.withLock { $0[schedule] = due }
        if due != dueBefore { await saveDueIndex(due, key: dueKey, log: log) }

        // 3. Plan and hand out the work.
        let plan = planner.plan(tracked: listing.tracked.map(\.ticker), feed: feed, state: state, now: now, feedStarted: now,
                                cycleStarted: startedOnExchange)
        // A series synced for the first time also needs its markets settled within the
        // lookback whose event closed before it (the full sync covers events by close time).
        let firstTime = Set(plan.decisions.filter { $0.decision == .full && state.lastFull[$0.series] == nil }.map(\.series))
        let settledSince = now.adding(seconds: -policy.lookbackSeconds)
        var lateSettled: [String: [Market]]? = [:]
        if !firstTime.isEmpty {
            do {
                lateSettled = try await ExchangeClient.$tally.withValue(feedTally) {
                    try await ChangeFeed(client: client).settledButClosedBefore(settledSince, listed: listing.listedTickers).changes
                }
            } catch {
                lateSettled = nil
                log.warning("recently settled markets could not be listed; each new series' full sync asks for its own", metadata: ["error": "\(error)"])
            }
        }
        let bySeries = Dictionary(listing.tracked.map { ($0.ticker, $0) }, uniquingKeysWith: { a, _ in a })
        let builder = WorkItemBuilder(schedule: schedule, cycleId: cycleId, issuedAt: .now(), exchangeTime: now,
                                      deltaLimit: policy.deltaLimit, firstTime: firstTime, settledSince: settledSince,
                                      lateSettled: lateSettled)
        // A series-fetcher that lost its lease meanwhile hands out nothing: the new leader plans
        // from the state as it was.
        guard mayWrite() else { throw LeaseLost() }
        var listingParts = 0
        if plan.listing {
            // Before the per-series items: the long page chains start first.
            listingParts = try await handOutListing(schedule: schedule, cycleId: cycleId, tracked: listing.tracked,
                                                    exchangeNow: now, closedSince: settledSince, log: log)
        }
        var publisher = SlicedPublisher(js: js, logger: log)
        for entry in plan.decisions {
            let series = bySeries[entry.series]!
            try await ensureWorkConsumer(tag: series.routingTag)
            let item = builder.item(entry.decision, for: series)
            try await publisher.append(OutgoingMessage(subject: item.subject, data: try MessageCodec.encode(item), msgId: item.messageID))
        }
        try await publisher.flush()
        // Saved only once the work is handed out: a cycle that fails before asks again.
        guard mayWrite() else { throw LeaseLost() }
        await savePlanState(plan.state, key: stateKey, log: log)
        if let missed, !feed.isFailed { missedSince.withLock { if $0[schedule] == missed { $0[schedule] = nil } } }
        await purgeMovedRoutes(schedule: schedule, tracked: listing.tracked, log: log)

        let counts = plan.counts
        let report = CycleReport(schedule: schedule, cycleId: cycleId, startedAt: started, finishedAt: .now(),
                                 categories: listing.categories, categoriesFailed: listing.failed, seriesListed: listing.listed,
                                 seriesTracked: listing.tracked.count, workItems: plan.decisions.count,
                                 requests: tally.requests,
                                 fullItems: counts.full, deltaItems: counts.delta, incrementalItems: counts.incremental,
                                 feedRequests: feedTally.requests, feedMarkets: feedReturned, feedFailed: feed.isFailed,
                                 seriesSeconds: (seriesDone - startedInstant).seconds,
                                 // A listing's markets go out under every tracked series' tag.
                                 routingTags: Set(plan.listing ? listing.tracked.map(\.routingTag)
                                                  : plan.decisions.compactMap { bySeries[$0.series]?.routingTag }).sorted(),
                                 dueRead: dueRead, dueChanged: dueChanged, listingParts: listingParts)
        await recordReport(report)
        return report
    }

    /// Stores the schedule's route table and publishes one `ListingItem` per part: every
    /// tracked market read again by a few exchange-wide page chains, which replicas take in
    /// parallel under the shared budget.
    func handOutListing(schedule: String, cycleId: String, tracked: [TrackedSeriesRef], exchangeNow: Timestamp,
                        closedSince: Timestamp, log: Logger) async throws -> Int {
        var routes: [String: SeriesRoute] = [:]
        for t in tracked where routes[t.ticker] == nil {
            routes[t.ticker] = SeriesRoute(tag: t.routingTag, category: t.category, isGame: t.isGame)
        }
        let chunks = RouteTable(routes: routes).chunks()
        let kv = try await js.keyValue(bucket: Topology.stateBucket)
        for (i, chunk) in chunks.enumerated() {
            _ = try await kv.put(StateKeys.listingRoutes(schedule: schedule, index: i), value: try JSONCodec.encode(chunk))
        }
        try await js.ensureConsumer(stream: Streams.work, topology.listingConsumer)
        var publisher = SlicedPublisher(js: js, logger: log)
        for part in ListingPart.allCases {
            let item = ListingItem(schedule: schedule, cycleId: cycleId, part: part, issuedAt: .now(), exchangeTime: exchangeNow,
                                   closedSince: closedSince, routeChunks: chunks.count)
            try await publisher.append(OutgoingMessage(subject: item.subject, data: try MessageCodec.encode(item), msgId: item.messageID))
        }
        try await publisher.flush()
        log.info("exchange-wide listing handed out", metadata: ["parts": "\(ListingPart.allCases.count)", "series": "\(routes.count)",
                                                              "closed_since": "\(closedSince)"])
        return ListingPart.allCases.count
    }

    /// What one cycle's series listing found.
    struct Listing {
        var categories = 0, listed = 0, failed = 0
        /// Every series listed (tracked or not): the change feed attributes markets by them.
        var listedTickers = Set<String>()
        var tracked: [TrackedSeriesRef] = []
    }

    /// Reads the category→tags map, the sports and each needed category's series, applies
    /// the tracking rule, and publishes series metadata and complete category listings.
    /// A category that cannot be fetched is skipped (and nothing of it deactivated).
    private func listSeries(selection: SeriesSelection, claimedByEarlier: [SeriesSelection], cycleId: String, log: Logger) async throws -> Listing {
        let map = try await client.tagsByCategories()
        let sports = try await client.sportFilters()
        let rule = TrackingRule(sports: Set(sports.sports))
        let categories = selection.categoriesToFetch(map)
        // A tag no category has (a typo, or one the exchange dropped) selects nothing: say so.
        let knownTags = Set(map.categories.values.flatMap { $0 }).union(map.categories.keys)
        let unknown = selection.tags.filter { !knownTags.contains($0) } + selection.categories.filter { map.categories[$0] == nil }
        if !unknown.isEmpty {
            log.warning("no category of the exchange has these tags or names; they select nothing", metadata: ["unknown": "\(unknown)"])
        }
        var listing = Listing(categories: categories.count)
        for category in categories {
            // Ask the exchange for only the wanted tags when the schedule names tags of this
            // category and not the category itself; then the listing is partial.
            let whole = selection.coversEverything || selection.categories.contains(category)
            let tagFilter = whole ? [] : selection.tags.filter { (map.categories[category] ?? []).contains($0) }
            let series: [Series]
            do {
                series = try await client.series(category: category, tags: tagFilter)
            } catch {
                listing.failed += 1
                log.error("series fetch failed; category skipped this cycle, nothing deactivated", metadata: [
                    "category": "\(category)", "error": "\(error)"])
                continue
            }
            listing.listed += series.count
            for x in series { listing.listedTickers.insert(x.ticker) }
            let picked = selection.select(series, category: category, map: map, rule: rule).filter { t in
                !claimedByEarlier.contains { !$0.select([t.series], category: category, map: map, rule: rule).isEmpty }
            }
            for t in picked {
                listing.tracked.append(TrackedSeriesRef(ticker: t.series.ticker, category: t.series.category.isEmpty ? category : t.series.category,
                                                        tags: t.series.tags, routingTag: t.routingTag, isGame: t.isGame))
            }
            let fetchedAt = Timestamp.now()
            var publisher = SlicedPublisher(js: js, logger: log)
            for t in picked {
                let payload = try MessageCodec.encode(SeriesMessage(fetchedAt: fetchedAt, isGame: t.isGame, series: t.series))
                // Same cycle and content → same id: a retried publish is deduplicated, and a
                // value that returns (A → B → A) within the duplicate window still lands.
                let content = FNV1a.hash64(bytes: try JSONCodec.encode(t.series)).hex + (t.isGame ? "g" : "")
                try await publisher.append(OutgoingMessage(subject: Subjects.series(t.series.ticker), data: payload,
                                                           msgId: "series:\(t.series.ticker):\(cycleId):\(content)"))
            }
            if tagFilter.isEmpty {
                // Only a complete listing may deactivate anything.
                let catalog = CatalogMessage(fetchedAt: fetchedAt, category: category, seriesTickers: series.map(\.ticker).sorted())
                try await publisher.append(OutgoingMessage(subject: Subjects.catalog(category: category), data: try MessageCodec.encode(catalog),
                                                           msgId: "catalog:\(cycleId):\(category)"))
            }
            try await publisher.flush()
            log.debug("category listed", metadata: ["category": "\(category)", "listed": "\(series.count)", "tracked": "\(picked.count)"])
        }
        return listing
    }

    /// Every tracked series with its schedule (the first schedule's, when two track it), as
    /// the schedules' last cycles listed them; empty before the first cycle.
    public func trackedSeries() -> [String: (schedule: String, series: TrackedSeriesRef)] {
        trackedBySchedule.withLock { all in
            var out: [String: (String, TrackedSeriesRef)] = [:]
            for (schedule, refs) in all.sorted(by: { $0.key < $1.key }) {
                for (ticker, ref) in refs where out[ticker] == nil { out[ticker] = (schedule, ref) }
            }
            return out
        }
    }

    /// The lifecycle listener may have missed messages since `since`: each schedule's next
    /// change feed (or the shared feed's next run) starts there at the latest.
    public func noteLifecycleGap(since: Timestamp) {
        let schedules = trackedBySchedule.withLock { Array($0.keys) }
        missedSince.withLock { m in
            for s in schedules { m[s] = m[s].map { Swift.min($0, since) } ?? since }
        }
        noteFeedGap(since: since)
    }

    /// Runs `body` on the shared feed's due-time index, alone; what it leaves is kept (and saved
    /// for a restart) only if it returns: a run that fails keeps waiting for what it read.
    func withFeedDueIndex<T: Sendable>(log: Logger, _ body: @escaping @Sendable (inout DueIndex) async throws -> T) async throws -> T {
        try await feedIndexLock.withLock {
            var due: DueIndex
            if let kept = self.feedIndex.withLock({ $0 }) {
                due = kept
            } else {
                due = await self.loadDueIndex(schedule: "", key: StateKeys.feedDue, log: log)
            }
            let before = due
            let result = try await body(&due)
            let after = due
            self.feedIndex.withLock { $0 = after }
            if after != before { await self.saveDueIndex(after, key: StateKeys.feedDue, log: log) }
            return result
        }
    }

    /// When the shared feed's due-time index next has an opening or a close due (see `DueIndex.nextWake`).
    func nextFeedWake(from now: Timestamp) -> Timestamp? {
        feedIndex.withLock { $0?.nextWake(from: now) }
    }

    /// The shared feed's next run starts at `since` at the latest.
    func noteFeedGap(since: Timestamp) {
        feedGap.withLock { $0 = $0.map { Swift.min($0, since) } ?? since }
    }

    /// The gap the shared feed must cover, handed over once.
    func takeFeedGap() -> Timestamp? { feedGap.withLock { g in defer { g = nil }; return g } }

    /// Where the shared feed's first run starts; nil before any cycle ran.
    func feedStartHint() -> Timestamp? { feedStart.withLock { $0 } }

    /// Every series the schedules' last cycles listed (tracked or not).
    func listedTickers() -> Set<String> {
        listedBySchedule.withLock { $0.values.reduce(into: Set<String>()) { $0.formUnion($1) } }
    }

    /// The schedule's sync state. A missing key is a first cycle; an unreadable value is
    /// logged and treated as one (everything full once); NATS being unreachable fails the
    /// cycle instead, so a passing outage never costs a full cycle. A timeout is retried for
    /// about 15 s first: a bucket just created on a cluster answers only once its Raft group
    /// has elected a leader (a `--once` cycle on a fresh three-node cluster failed on it).
    func loadPlanState(key: String, log: Logger) async throws -> SyncPlanState {
        let read = try await retryingTransientNATS("reading sync state \(key)", log: log) {
            try await js.keyValue(bucket: Topology.stateBucket).get(key)
        }
        guard let entry = read else { return SyncPlanState() }
        do {
            return try JSONCodec.decode(SyncPlanState.self, from: entry.value)
        } catch {
            log.warning("sync state unreadable; this cycle syncs every series in full", metadata: ["key": "\(key)", "error": "\(error)"])
            return SyncPlanState()
        }
    }

    func savePlanState(_ state: SyncPlanState, key: String, log: Logger) async {
        do {
            let bytes = try JSONCodec.encode(state)
            _ = try await js.keyValue(bucket: Topology.stateBucket).put(key, value: bytes)
        } catch {
            log.warning("could not save sync state; the next cycle repeats this one's work", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }

    /// The schedule's due-time index: this process' copy, else the one saved for a restart,
    /// else an empty one (the first feed sweeps).
    func loadDueIndex(schedule: String, key: String, log: Logger) async -> DueIndex {
        if let kept = dueIndexes.withLock({ $0[schedule] }) { return kept }
        do {
            guard let entry = try await js.keyValue(bucket: Topology.stateBucket).get(key) else { return DueIndex() }
            return try JSONCodec.decode(DueIndex.self, from: entry.value)
        } catch {
            log.warning("due-time index unreadable; the feed sweeps unopened markets again", metadata: ["key": "\(key)", "error": "\(error)"])
            return DueIndex()
        }
    }

    func saveDueIndex(_ due: DueIndex, key: String, log: Logger) async {
        do {
            _ = try await js.keyValue(bucket: Topology.stateBucket).put(key, value: try JSONCodec.encode(due.persisted(limit: Self.persistedDueLimit)))
        } catch {
            log.warning("could not save the due-time index; a restart sweeps unopened markets again", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }

    /// Purges the market subjects a re-tagged series left under its old routing tag, so no
    /// stale last value stays there, and remembers this cycle's routes. Best effort: a
    /// failure is logged and the purge is tried again next cycle (the memory is not updated).
    func purgeMovedRoutes(schedule: String, tracked: [TrackedSeriesRef], log: Logger) async {
        let key = StateKeys.routes(schedule: schedule)
        let now = Dictionary(tracked.map { ($0.ticker, $0.routingTag) }, uniquingKeysWith: { a, _ in a })
        do {
            let kv = try await js.keyValue(bucket: Topology.stateBucket)
            let before = try await kv.get(key).flatMap { try? JSONCodec.decode(RouteMemory.self, from: $0.value) } ?? RouteMemory()
            for move in before.moved(to: now) {
                _ = try await LastValueEraser(js: js).erase(matching: Subjects.marketFilter(tag: move.from, series: move.series))
                log.info("series re-tagged: purged its market subjects under the old tag", metadata: [
                    "series": "\(move.series)", "from": "\(move.from)", "to": "\(now[move.series] ?? "")"])
            }
            let after = before.updated(with: now)
            if after != before { _ = try await kv.put(key, value: try JSONCodec.encode(after)) }
        } catch {
            log.warning("could not check or purge re-tagged series' old subjects; the next cycle tries again", metadata: ["error": "\(error)"])
        }
    }

    func ensureWorkConsumer(tag: String) async throws {
        guard !knownConsumers.withLock({ $0.contains(tag) }) else { return }
        try await retryingTransientNATS("creating the work consumer of tag \(tag)", log: logger) {
            try await js.ensureConsumer(stream: Streams.work, topology.workConsumer(tag: tag))
        }
        _ = knownConsumers.withLock { $0.insert(tag) }
    }

    func recordReport(_ report: CycleReport) async {
        do {
            let bytes = try JSONCodec.encode(report)
            _ = try await js.keyValue(bucket: Topology.stateBucket).put(StateKeys.cycle(schedule: report.schedule), value: bytes)
        } catch {
            logger.warning("could not record cycle report", metadata: ["error": "\(error)"])
        }
    }
}

/// The cycle stopped because this series-fetcher no longer holds the leader lease.
public struct LeaseLost: Error, CustomStringConvertible {
    public var description: String { "the leader lease was lost during the cycle" }
}
