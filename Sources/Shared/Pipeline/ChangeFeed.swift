import KalshiAPI
import KalshiModels
import SSMDCore
import SyncCore

/// The exchange-wide change feed: every market changed since a time, in a few paged requests
/// for the whole exchange instead of requests per series. Each query relies only on what
/// `GET /markets` documents (docs/api-reference_market_get-markets.md):
///
/// * `status=unopened|open&min_created_ts`: markets created since, which is how new markets
///   are found (creation is not documented to move `updated_time`);
/// * `min_updated_ts` with `mve_filter=exclude`: markets whose non-trading metadata changed
///   (title, rules, strikes, a moved `open_time` or `close_time`);
/// * `status=closed&min_close_ts` and `status=settled&min_settled_ts`: markets that closed
///   or settled since;
/// * the due-time index (`DueIndex`): markets known to be unopened whose `open_time` has
///   passed, open markets whose `close_time` has, and closed markets awaiting
///   determination, read again by ticker (`tickers=`, in batches), since no filter and no
///   `updated_time` move reports an opening or a determination, and the closed feed sees a
///   close only at its next run; a periodic sweep keeps the index complete, and a listing of
///   the markets closing within the next minutes (`min_close_ts`/`max_close_ts`, any
///   status) tells it which closes to wait for.
///
/// What none of these can see — a pause and its reopening, a dispute — reaches the
/// secmaster through the lifecycle WebSocket where there is an API key, and otherwise
/// through the series' next full reconciliation.
public struct ChangeFeed: Sendable {
    public let client: ExchangeClient
    public var pageLimit = 1000

    public init(client: ExchangeClient) { self.client = client }

    public struct Result: Sendable {
        /// Changed markets of `listed` series, grouped by series, newest per ticker (the
        /// caller picks the series it tracks).
        public var changes: [String: [Market]] = [:]
        /// Markets the feed returned in all (before attribution).
        public var returned = 0
        /// Markets of series this cycle does not list (other categories or schedules).
        public var elsewhere = 0
        /// Markets read again because they were due (an opening or a determination), and how
        /// many of them had moved on.
        public var dueRead = 0, dueChanged = 0
        /// Markets the sweep listed: unopened, and closed within the determination window (0 when no sweep ran).
        public var swept = 0
        /// Markets listed as closing within the close horizon (0 when not listed this run).
        public var closing = 0
    }

    /// Markets changed since `since`: created, updated, closed, settled, or due to open by
    /// `now` according to `due` (which learns from everything the feed reads).
    /// - Parameter paced: waiting markets are read again at the index's pace (`DueIndex.recheckSeconds`),
    ///   for a feed that runs every few seconds; otherwise every waiting market at every run.
    public func fetch(since: Timestamp, listed: Set<String>, due: inout DueIndex, now: Timestamp,
                      sweepEverySeconds: Int64, paced: Bool = false) async throws -> Result {
        let sinceS = since.secondsSinceEpoch
        var updated = MarketQuery()
        updated.minUpdatedTs = sinceS
        updated.mveFilter = "exclude"
        var closed = MarketQuery(status: .closed)
        closed.minCloseTs = sinceS
        closed.mveFilter = "exclude"
        var queries = [updated, closed, Self.settled(since: since)]
        for status in [MarketQueryStatus.unopened, .open] {
            var created = MarketQuery(status: status)
            created.minCreatedTs = sinceS
            created.mveFilter = "exclude"
            queries.append(created)
        }
        var result = Result()
        var merge = FeedMerge()
        try await read(queries, listed: listed, into: &result, merge: &merge) { due.observe($0, readAt: now) }
        if due.needsSweep(now: now, every: sweepEverySeconds) {
            // A market the index waited for that the sweep shows moved on (say, determined)
            // changed since the last look: it goes out like any other change.
            result.swept = try await sweep(listed: listed, into: &due, now: now) { m, series in merge.add(m, series: series) }
        }
        if due.needsCloseListing(now: now) {
            result.closing = try await listClosing(listed: listed, into: &due, now: now)
        }
        try await readDue(listed: listed, due: &due, now: now, paced: paced, into: &result, merge: &merge)
        result.changes = merge.changes
        return result
    }

    /// Only the due-time index's part: markets due by `now` (openings, scheduled closes,
    /// determinations), read again by ticker. The feed runs it on its own when an opening or
    /// a close falls due between two runs (`DueIndex.nextWake`).
    public func fetchDue(listed: Set<String>, due: inout DueIndex, now: Timestamp) async throws -> Result {
        var result = Result()
        var merge = FeedMerge()
        try await readDue(listed: listed, due: &due, now: now, paced: true, into: &result, merge: &merge)
        result.changes = merge.changes
        return result
    }

    private func readDue(listed: Set<String>, due: inout DueIndex, now: Timestamp, paced: Bool,
                         into result: inout Result, merge: inout FeedMerge) async throws {
        due.expire(now: now)
        var dueRead = 0, dueChanged = 0
        let dueTickers = due.due(now: now)
        try await client.forEachMarketsPage(tickers: dueTickers) { page in
            result.returned += page.count
            for m in page {
                dueRead += 1
                let was = due.wait(m.ticker)
                due.observe(m)
                // Only a market that moved on is a change: one still waiting (not open yet,
                // not closed yet, not determined yet) is read again next time, not handed out
                // every run.
                guard DueIndex.movedOn(m, from: was) else { continue }
                dueChanged += 1
                if let series = SeriesAttribution.series(ofEvent: m.eventTicker, listed: listed) { merge.add(m, series: series) }
            }
        }
        if paced { due.markRead(dueTickers, now: now) }
        result.dueRead = dueRead
        result.dueChanged = dueChanged
    }

    /// Indexes every unopened market of `listed` series (`status=unopened`) and every market
    /// closed within the determination window (`status=closed&min_close_ts`); returns how
    /// many were listed. The first cycle and every `sweepEverySeconds` after run it.
    /// - Parameter movedOn: markets the index waited for that are no longer waiting, with
    ///   their series.
    public func sweep(listed: Set<String>, into due: inout DueIndex, now: Timestamp,
                      movedOn: (Market, String) -> Void = { _, _ in }) async throws -> Int {
        var unopened = MarketQuery(status: .unopened)
        unopened.mveFilter = "exclude"
        var closed = MarketQuery(status: .closed)
        closed.minCloseTs = now.secondsSinceEpoch - DueIndex.determinationWindowSeconds
        closed.mveFilter = "exclude"
        var swept = 0
        for var query in [unopened, closed] {
            query.limit = pageLimit
            try await client.forEachMarketsPage(query) { page in
                for m in page {
                    guard let series = SeriesAttribution.series(ofEvent: m.eventTicker, listed: listed) else { continue }
                    swept += 1
                    let waited = due.isWaiting(m.ticker)
                    due.observe(m, readAt: now)
                    if waited && !due.isWaiting(m.ticker) { movedOn(m, series) }
                }
            }
        }
        due.sweptAt = now
        return swept
    }

    /// Lists every market of `listed` series whose `close_time` falls within the next
    /// `DueIndex.closeHorizonSeconds` (`min_close_ts`/`max_close_ts` with no status: the
    /// documented combination), so the index waits for their closes; returns how many.
    public func listClosing(listed: Set<String>, into due: inout DueIndex, now: Timestamp) async throws -> Int {
        var closing = MarketQuery()
        closing.minCloseTs = now.secondsSinceEpoch
        closing.maxCloseTs = now.secondsSinceEpoch + DueIndex.closeHorizonSeconds
        closing.mveFilter = "exclude"
        closing.limit = pageLimit
        // Into a copy first: a listing that fails half-way leaves the horizon as it was, and
        // the next run lists it again.
        var listedNow = due
        listedNow.beginCloseListing(now: now)
        var count = 0
        try await client.forEachMarketsPage(closing) { page in
            for m in page where SeriesAttribution.series(ofEvent: m.eventTicker, listed: listed) != nil {
                count += 1
                listedNow.observe(m, readAt: now)
            }
        }
        due = listedNow
        return count
    }

    /// Markets settled since `since` that closed before it — for series synced the first
    /// time, whose full sync covers only events with a market closing since then. Only
    /// those are kept (the rest a full sync returns anyway), which keeps a first cycle's
    /// memory small.
    public func settledButClosedBefore(_ since: Timestamp, listed: Set<String>) async throws -> Result {
        try await fetch([Self.settled(since: since)], listed: listed) { m in
            guard let close = m.closeTime else { return false }
            return close < since
        }
    }

    static func settled(since: Timestamp) -> MarketQuery {
        var settled = MarketQuery(status: .settled)
        settled.minSettledTs = since.secondsSinceEpoch
        settled.mveFilter = "exclude"
        return settled
    }

    private func fetch(_ queries: [MarketQuery], listed: Set<String>, keep: (Market) -> Bool = { _ in true }) async throws -> Result {
        var result = Result()
        var merge = FeedMerge()
        try await read(queries, listed: listed, into: &result, merge: &merge, keep: keep) { _ in }
        result.changes = merge.changes
        return result
    }

    /// Reads each query's pages; markets of listed series that `keep` accepts go into `merge`
    /// and to `seen`.
    private func read(_ queries: [MarketQuery], listed: Set<String>, into result: inout Result, merge: inout FeedMerge,
                      keep: (Market) -> Bool = { _ in true }, seen: (Market) -> Void) async throws {
        for var query in queries {
            query.limit = pageLimit
            try await client.forEachMarketsPage(query) { page in
                result.returned += page.count
                for m in page where keep(m) {
                    guard let series = SeriesAttribution.series(ofEvent: m.eventTicker, listed: listed) else {
                        result.elsewhere += 1
                        continue
                    }
                    merge.add(m, series: series)
                    seen(m)
                }
            }
        }
    }
}
