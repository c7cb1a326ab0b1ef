import KalshiModels
import SSMDCore

/// What a schedule remembers between cycles (KV `ssmd_state`, key `plan.<schedule>`), so a
/// restarted series-fetcher goes on incrementally instead of starting over.
public struct SyncPlanState: Codable, Sendable, Equatable {
    /// Exchange time at which the last cycle whose changes were all handed out began its
    /// change feed; the next feed asks for changes since then (less the overlap).
    public var feedSince: Timestamp?
    /// Series → exchange time (unix seconds) of its last full sync work item.
    public var lastFull: [String: Int64]
    /// Exchange time of the last exchange-wide listing handed out (every tracked market
    /// read again); nil: none yet.
    public var lastListing: Timestamp?

    public init(feedSince: Timestamp? = nil, lastFull: [String: Int64] = [:], lastListing: Timestamp? = nil) {
        self.feedSince = feedSince
        self.lastFull = lastFull
        self.lastListing = lastListing
    }

    enum CodingKeys: String, CodingKey { case feedSince = "feed_since", lastFull = "last_full", lastListing = "last_listing" }
}

/// The knobs of incremental sync.
public struct SyncPolicy: Sendable, Equatable {
    /// The schedule's interval: how often a cycle runs.
    public var intervalSeconds: Int64
    /// Every series gets a full sync at least this often (round-robin, a slice per cycle),
    /// which catches whatever the change feed cannot see and proves what is gone.
    public var reconcileSeconds: Int64
    /// A feed older than this is not trusted to be complete (a long outage): every series
    /// gets a full sync instead.
    public var maxFeedAgeSeconds: Int64
    /// Changes asked for again from before the last feed, for updates that became visible
    /// late. Repeats cost nothing downstream: unchanged messages are deduplicated.
    public var feedOverlapSeconds: Int64
    /// At most this many changed markets travel inside one work item; more, and the item
    /// asks the market-fetcher to fetch the series' changes itself.
    public var deltaLimit: Int
    /// "Recently" closed or settled: a series synced for the first time also gets its
    /// markets settled this long ago or later, even when their event closed before.
    public var lookbackSeconds: Int64
    /// Every unopened market is listed again this often (`status=unopened`), so the due-time
    /// index knows markets it has not seen created (`DueIndex`).
    public var unopenedSweepSeconds: Int64
    /// Every tracked market is read again at least this often, so no row's quotes are older
    /// (without the lifecycle WebSocket, nothing else re-reads prices). A schedule tracking
    /// at least `listingMinSeries` series does it with an exchange-wide listing; a smaller
    /// one with per-series full syncs on this period instead of `reconcileSeconds`.
    public var rereadSeconds: Int64
    /// From this many tracked series on, a first cycle and each re-read use an exchange-wide
    /// listing (about 200 requests for the whole exchange at 100 events a page, whatever the
    /// series count) instead of one request per series. 0: never.
    public var listingMinSeries: Int

    public init(intervalSeconds: Int64 = 300, reconcileSeconds: Int64 = 6 * 3600, maxFeedAgeSeconds: Int64? = nil,
                feedOverlapSeconds: Int64 = 60, deltaLimit: Int = 100, lookbackSeconds: Int64 = 86_400,
                unopenedSweepSeconds: Int64 = 600, rereadSeconds: Int64 = 600, listingMinSeries: Int = 200) {
        self.rereadSeconds = max(1, rereadSeconds)
        self.listingMinSeries = max(0, listingMinSeries)
        self.unopenedSweepSeconds = max(1, unopenedSweepSeconds)
        self.intervalSeconds = max(1, intervalSeconds)
        self.reconcileSeconds = max(1, reconcileSeconds)
        self.maxFeedAgeSeconds = maxFeedAgeSeconds ?? self.reconcileSeconds
        self.feedOverlapSeconds = max(0, feedOverlapSeconds)
        self.deltaLimit = max(1, deltaLimit)
        self.lookbackSeconds = max(60, lookbackSeconds)
    }

    /// Whether a re-read listing is due, this long after the cycle that handed out the last.
    /// Cycles start an interval apart, so the cycle nearest the period lists: one within half
    /// an interval of it, not only one at or past it. The exchange clock is corrected from
    /// whole-second `Date` headers, so the cycle on the period can read a second short of it;
    /// with `≥ period` it waited a whole interval more (listings 631 s apart at `--interval 30s`
    /// for a 600 s period).
    public func rereadDue(elapsedMicroseconds: Int64) -> Bool {
        elapsedMicroseconds * 2 >= (rereadSeconds * 2 - intervalSeconds) * 1_000_000
    }

    /// Whether a schedule of this size reads with exchange-wide listings.
    public func usesListing(tracked: Int) -> Bool { listingMinSeries > 0 && tracked >= listingMinSeries }

    /// Full syncs per cycle that keep every series within `reconcileSeconds` of its last —
    /// or within `rereadSeconds` for a schedule too small for listings, whose full syncs are
    /// then also its re-reads.
    public func reconcileQuota(tracked: Int) -> Int {
        guard tracked > 0 else { return 0 }
        let period = usesListing(tracked: tracked) ? reconcileSeconds : min(reconcileSeconds, rereadSeconds)
        return Int((Int64(tracked) * intervalSeconds + period - 1) / period)
    }
}

/// What one series gets this cycle.
public enum SyncDecision: Sendable, Equatable {
    case full
    case delta([Market])
    /// Too many changes to carry: their tickers, read again by the replica.
    case incremental(since: Timestamp, tickers: [String])
}

/// Decides, from the change feed and what was synced before, which series need work and of
/// what kind. Pure: the series-fetcher feeds it and publishes the result.
public struct SyncPlanner: Sendable {
    public var policy: SyncPolicy

    public init(policy: SyncPolicy) { self.policy = policy }

    /// Whether the feed can be used this cycle: there is a previous feed time and it is
    /// recent enough to trust.
    public func feedSince(_ state: SyncPlanState, now: Timestamp) -> Timestamp? {
        guard let since = state.feedSince,
              now.secondsSinceEpoch - since.secondsSinceEpoch <= policy.maxFeedAgeSeconds else { return nil }
        return since.adding(seconds: -policy.feedOverlapSeconds)
    }

    public struct Plan: Sendable, Equatable {
        public struct Entry: Sendable, Equatable {
            public var series: String
            public var decision: SyncDecision
        }
        /// In the order of `tracked`; series with nothing to do are absent.
        public var decisions: [Entry]
        public var state: SyncPlanState
        /// Hand out an exchange-wide listing this cycle (every tracked market read again).
        public var listing = false

        public var counts: (full: Int, delta: Int, incremental: Int) {
            var f = 0, d = 0, i = 0
            for entry in decisions {
                switch entry.decision { case .full: f += 1; case .delta: d += 1; case .incremental: i += 1 }
            }
            return (f, d, i)
        }
    }

    /// What the change feed gave this cycle.
    public enum Feed: Sendable {
        /// No usable previous feed time (first cycle, or too old): everything is synced in full.
        case none
        /// The feed failed: new series and the reconciliation slice only; the next cycle
        /// asks again from the same point, so no change is lost.
        case failed
        /// Changed markets per series since `feedSince(state, now:)`.
        case changes([String: [Market]])

        public var isFailed: Bool { if case .failed = self { true } else { false } }
    }

    /// - Parameters:
    ///   - tracked: this cycle's tracked series, in publishing order. A series listed in a
    ///     category that failed this cycle is absent, drops out of the state, and so gets a
    ///     full sync when it is next listed.
    ///   - feedStarted: exchange time the feed (or, without one, the cycle) began.
    ///   - cycleStarted: exchange time the cycle began (default `now`). The re-read period is
    ///     counted between cycle starts, which come every interval: counted from the moment of
    ///     planning, a first cycle that planned 29 s in (listing every series first) put the
    ///     next listing a whole interval late (629 s apart at `--interval 30s`).
    public func plan(tracked: [String], feed: Feed, state: SyncPlanState, now: Timestamp, feedStarted: Timestamp,
                     cycleStarted: Timestamp? = nil) -> Plan {
        let nowS = now.secondsSinceEpoch
        var full = Set<String>()
        let changes: [String: [Market]]
        let cycleStarted = cycleStarted ?? now
        let listing = policy.usesListing(tracked: tracked.count)
            && (state.lastListing.map { policy.rereadDue(elapsedMicroseconds: cycleStarted.microsecondsSinceEpoch - $0.microsecondsSinceEpoch) } ?? true)
        var listedInFull = false
        switch feed {
        case .none where listing:
            // Every series is read by the listing. What a full sync adds — the snapshot that
            // proves markets gone — follows series by series on the reconciliation round,
            // as if each had been synced in full now.
            changes = [:]
            listedInFull = true
        case .none:
            full = Set(tracked)
            changes = [:]
        case .failed, .changes:
            if case .changes(let c) = feed { changes = c } else { changes = [:] }
            for s in tracked where state.lastFull[s] == nil { full.insert(s) }
            // The oldest reconciliations first; ties by ticker so the order is stable.
            let due = tracked.filter { state.lastFull[$0] != nil }
                .sorted { (state.lastFull[$0]!, $0) < (state.lastFull[$1]!, $1) }
            for s in due.prefix(policy.reconcileQuota(tracked: tracked.count)) { full.insert(s) }
        }

        var decisions: [Plan.Entry] = []
        var lastFull: [String: Int64] = [:]
        let since = feedSince(state, now: now) ?? feedStarted
        for s in tracked {
            if full.contains(s) {
                decisions.append(Plan.Entry(series: s, decision: .full))
                lastFull[s] = nowS
                continue
            }
            if listedInFull { lastFull[s] = nowS } else if let prev = state.lastFull[s] { lastFull[s] = prev }
            guard let changed = changes[s], !changed.isEmpty else { continue }
            decisions.append(Plan.Entry(series: s, decision: changed.count <= policy.deltaLimit ? .delta(changed) : .incremental(since: since, tickers: changed.map(\.ticker))))
        }
        let feedSince: Timestamp? = if case .failed = feed { state.feedSince } else { feedStarted }
        // Series no longer tracked drop out of the state, which keeps it small.
        var plan = Plan(decisions: decisions, state: SyncPlanState(feedSince: feedSince, lastFull: lastFull,
                                                                   lastListing: listing ? cycleStarted : state.lastListing))
        plan.listing = listing
        return plan
    }
}

/// Which series a market belongs to. Markets carry only their event's ticker, which on
/// Kalshi starts with the series ticker and a `-`; the longest listed series ticker that
/// prefixes the event ticker at a `-` boundary wins. Nil: not a series this cycle listed.
public enum SeriesAttribution {
    public static func series(ofEvent event: String, listed: Set<String>) -> String? {
        var best: String?
        var idx = event.startIndex
        while let dash = event[idx...].firstIndex(of: "-") {
            let prefix = String(event[..<dash])
            if listed.contains(prefix) { best = prefix }
            idx = event.index(after: dash)
        }
        if listed.contains(event) { best = event }
        return best
    }
}
