import KalshiModels
import SSMDCore
import WireContract

/// What a work item needs of a tracked series (not the whole listing, which can be
/// megabytes at full scale and is published as soon as it is read).
public struct TrackedSeriesRef: Sendable, Equatable {
    public var ticker: String
    public var category: String
    public var tags: [String]
    public var routingTag: String
    public var isGame: Bool

    public init(ticker: String, category: String, tags: [String], routingTag: String, isGame: Bool) {
        self.ticker = ticker; self.category = category; self.tags = tags; self.routingTag = routingTag; self.isGame = isGame
    }
}

/// Turns a cycle's plan into work items. Pure: the series-fetcher publishes what it returns.
public struct WorkItemBuilder: Sendable {
    public var schedule: String
    public var cycleId: String
    /// Our clock when the items were issued.
    public var issuedAt: Timestamp
    /// The exchange's clock then, for a replica that has not heard from the exchange yet.
    public var exchangeTime: Timestamp
    /// Markets carried in one item at most; more and the replica fetches them.
    public var deltaLimit: Int
    /// Series synced for the first time: their full sync covers events by close time, so
    /// their markets settled since `settledSince` whose event closed before come separately.
    public var firstTime: Set<String>
    public var settledSince: Timestamp
    /// Those markets by series, when the exchange-wide listing of them worked (nil: it did
    /// not, and each first-time item asks for its own).
    public var lateSettled: [String: [Market]]?

    public init(schedule: String, cycleId: String, issuedAt: Timestamp, exchangeTime: Timestamp, deltaLimit: Int,
                firstTime: Set<String> = [], settledSince: Timestamp, lateSettled: [String: [Market]]? = [:]) {
        self.schedule = schedule; self.cycleId = cycleId; self.issuedAt = issuedAt; self.exchangeTime = exchangeTime
        self.deltaLimit = deltaLimit; self.firstTime = firstTime; self.settledSince = settledSince; self.lateSettled = lateSettled
    }

    /// The item for one decision of the plan.
    public func item(_ decision: SyncDecision, for series: TrackedSeriesRef) -> WorkItem {
        var item = WorkItem(seriesTicker: series.ticker, category: series.category, tags: series.tags,
                            routingTag: series.routingTag, isGame: series.isGame,
                            schedule: schedule, cycleId: cycleId, issuedAt: issuedAt)
        item.exchangeTime = exchangeTime
        switch decision {
        case .full:
            item.mode = .full
            if firstTime.contains(series.ticker) {
                // Carried when few; otherwise (or when the listing failed) fetched by the replica.
                if let settled = lateSettled.map({ $0[series.ticker] ?? [] }), settled.count <= deltaLimit {
                    if !settled.isEmpty { item.markets = settled }
                } else {
                    item.settledSince = settledSince
                }
            }
        case .delta(let markets):
            item.mode = .delta
            item.markets = markets
        case .incremental(let since, let tickers):
            item.mode = .incremental
            item.since = since
            item.tickers = tickers
        }
        return item
    }
}
