import KalshiAPI
import KalshiModels
import SSMDCore
import SyncCore

/// The exchange-wide change feed: every market changed since a time, in a few paged requests
/// for the whole exchange instead of requests per series.
///
/// * `min_updated_ts` with `mve_filter=exclude`: markets whose status or metadata changed
///   (`updated_time`), including new ones — which is how unopened markets are discovered.
/// * `status=closed&min_close_ts` and `status=settled&min_settled_ts`: markets that closed
///   or settled since, even if the exchange did not move their `updated_time` for it.
///
/// A market's `open` (initialized → active) has no filter of its own; it is seen through
/// `updated_time`, and in any case by the series' next full reconciliation.
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
    }

    /// Markets changed since `since`: updated, closed or settled.
    public func fetch(since: Timestamp, listed: Set<String>) async throws -> Result {
        let sinceS = since.secondsSinceEpoch
        var updated = MarketQuery()
        updated.minUpdatedTs = sinceS
        updated.mveFilter = "exclude"
        var closed = MarketQuery(status: .closed)
        closed.minCloseTs = sinceS
        closed.mveFilter = "exclude"
        return try await fetch([updated, closed, Self.settled(since: since)], listed: listed)
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
                }
            }
        }
        result.changes = merge.changes
        return result
    }
}

