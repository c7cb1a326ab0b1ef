/// `GET /events` filters.
public struct EventQuery: Sendable, Equatable {
    public var seriesTicker: String?
    public var tickers: [String] = []
    public var status: MarketQueryStatus?
    public var withNestedMarkets = false
    public var minCloseTs: Int64?
    public var limit = 200

    public init(seriesTicker: String? = nil, tickers: [String] = []) {
        self.seriesTicker = seriesTicker
        self.tickers = tickers
    }

    package var queryItems: [(String, String)] {
        var q: [(String, String)] = [("limit", String(limit))]
        if let seriesTicker { q.append(("series_ticker", seriesTicker)) }
        if !tickers.isEmpty { q.append(("tickers", tickers.joined(separator: ","))) }
        if let status { q.append(("status", status.rawValue)) }
        if withNestedMarkets { q.append(("with_nested_markets", "true")) }
        if let minCloseTs { q.append(("min_close_ts", String(minCloseTs))) }
        return q
    }
}

/// One `GET /markets` request's filters. `validate()` enforces the exchange's compatibility
/// table, because the exchange answers an incompatible combination with silence, not an error.
public struct MarketQuery: Sendable, Equatable {
    public var seriesTicker: String?
    public var eventTicker: String?
    public var tickers: [String] = []
    public var status: MarketQueryStatus?
    public var minCreatedTs: Int64?
    public var maxCreatedTs: Int64?
    public var minCloseTs: Int64?
    public var maxCloseTs: Int64?
    public var minSettledTs: Int64?
    public var maxSettledTs: Int64?
    public var minUpdatedTs: Int64?
    public var mveFilter: String?
    public var limit: Int = 1000

    public init(seriesTicker: String? = nil, status: MarketQueryStatus? = nil) {
        self.seriesTicker = seriesTicker
        self.status = status
    }

    public struct Incompatible: Error, CustomStringConvertible {
        public var description: String
    }

    public func validate() throws {
        guard (1...1000).contains(limit) else { throw Incompatible(description: "limit \(limit) outside 1…1000") }
        let created = minCreatedTs != nil || maxCreatedTs != nil
        let close = minCloseTs != nil || maxCloseTs != nil
        let settled = minSettledTs != nil || maxSettledTs != nil
        let updated = minUpdatedTs != nil
        guard [created, close, settled, updated].filter({ $0 }).count <= 1 else {
            throw Incompatible(description: "timestamp filters of different kinds cannot be combined")
        }
        if created, let s = status, s != .unopened && s != .open {
            throw Incompatible(description: "created_ts filters allow only status unopened or open, not \(s)")
        }
        if close, let s = status, s != .closed { throw Incompatible(description: "close_ts filters allow only status closed, not \(s)") }
        if settled, let s = status, s != .settled { throw Incompatible(description: "settled_ts filters allow only status settled, not \(s)") }
        if updated {
            guard status == nil, eventTicker == nil, tickers.isEmpty, mveFilter == "exclude" else {
                throw Incompatible(description: "min_updated_ts combines only with series_ticker and mve_filter=exclude")
            }
        }
    }

    package var queryItems: [(String, String)] {
        var q: [(String, String)] = [("limit", String(limit))]
        if let seriesTicker { q.append(("series_ticker", seriesTicker)) }
        if let eventTicker { q.append(("event_ticker", eventTicker)) }
        if !tickers.isEmpty { q.append(("tickers", tickers.joined(separator: ","))) }
        if let status { q.append(("status", status.rawValue)) }
        for (name, value) in [("min_created_ts", minCreatedTs), ("max_created_ts", maxCreatedTs),
                              ("min_close_ts", minCloseTs), ("max_close_ts", maxCloseTs),
                              ("min_settled_ts", minSettledTs), ("max_settled_ts", maxSettledTs),
                              ("min_updated_ts", minUpdatedTs)] {
            if let value { q.append((name, String(value))) }
        }
        if let mveFilter { q.append(("mve_filter", mveFilter)) }
        return q
    }
}

/// The query statuses `GET /markets` accepts — they differ from the statuses it returns.
public enum MarketQueryStatus: String, Sendable, CaseIterable, Codable {
    case unopened, open, paused, closed, settled
}
