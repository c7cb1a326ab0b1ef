import KalshiModels
import SSMDCore

/// One part of an exchange-wide listing: a cold start, or the periodic re-read of every
/// tracked market, read as a few exchange-wide page chains instead of one request per series.
/// The series-fetcher publishes the parts on `ssmd.listing`; any market-fetcher replica takes
/// one (they share the durable consumer `listing`), pages through its chain under the shared
/// budget, and publishes the events and markets of tracked series on the usual subjects.
/// Series are attributed through each event's own `series_ticker`, never by ticker prefix.
public struct ListingItem: SSMDMessage, Equatable {
    public static let kind = MessageKind.listing
    public var schema = MessageSchema.version
    public var kind = MessageKind.listing
    public var schedule: String
    public var cycleId: String
    public var part: ListingPart
    /// Our clock when the item was issued.
    public var issuedAt: Timestamp
    /// The exchange's clock then: the lookback is counted from it.
    public var exchangeTime: Timestamp
    /// Events with a market closing at or after this (the lookback's start), as a full sync reads.
    public var closedSince: Timestamp
    /// Chunks of the schedule's route table in KV `ssmd_state` (`StateKeys.listingRoutes`).
    public var routeChunks: Int

    public init(schedule: String, cycleId: String, part: ListingPart, issuedAt: Timestamp, exchangeTime: Timestamp,
                closedSince: Timestamp, routeChunks: Int) {
        self.schedule = schedule; self.cycleId = cycleId; self.part = part; self.issuedAt = issuedAt
        self.exchangeTime = exchangeTime; self.closedSince = closedSince; self.routeChunks = routeChunks
    }

    public var subject: String { Subjects.listing }
    /// `Nats-Msg-Id`: a re-published part of the same cycle is a duplicate the stream drops.
    public var messageID: String { "listing:\(cycleId):\(part.rawValue)" }

    enum CodingKeys: String, CodingKey {
        case schema, kind, schedule, cycleId = "cycle_id", part, issuedAt = "issued_at", exchangeTime = "exchange_time"
        case closedSince = "closed_since", routeChunks = "route_chunks"
    }
}

/// The page chains an exchange-wide listing is cut into. Each is independent (its own
/// cursor), so replicas read them in parallel; together they cover what a per-series full
/// sync reads — every event with a market closing within the lookback or later, with all
/// its markets — plus markets settled within the lookback whose event closed before it.
/// Parts overlap a little (an event with open and closed markets is in two chains); the
/// duplicates carry the same message ids and the stream drops them.
public enum ListingPart: String, Sendable, Codable, Equatable, CaseIterable {
    /// `GET /events?with_nested_markets=true&status=<s>&min_close_ts=<lookback>`.
    case unopenedEvents = "events-unopened"
    case openEvents = "events-open"
    case closedEvents = "events-closed"
    case settledEvents = "events-settled"
    /// `GET /markets?status=paused`: the docs list no `paused` event filter, so an event
    /// whose markets are all paused is in no event chain; its markets are read here and
    /// their events by ticker.
    case pausedMarkets = "markets-paused"
    /// `GET /markets?status=settled&min_settled_ts=<lookback>`, keeping markets whose close
    /// is before the lookback (no event chain has them); events read by ticker.
    case lateSettledMarkets = "markets-late-settled"

    /// The event status of an event chain; nil for a market chain.
    public var eventStatus: MarketQueryStatus? {
        switch self {
        case .unopenedEvents: .unopened
        case .openEvents: .open
        case .closedEvents: .closed
        case .settledEvents: .settled
        case .pausedMarkets, .lateSettledMarkets: nil
        }
    }
}

/// Where a tracked series' messages go: its routing tag (the market subjects' first token)
/// and category. An exchange-wide listing returns every series' events; only those in the
/// table are published.
public struct SeriesRoute: Codable, Sendable, Equatable {
    public var tag: String
    public var category: String
    public var isGame: Bool

    public init(tag: String, category: String, isGame: Bool) {
        self.tag = tag; self.category = category; self.isGame = isGame
    }

    enum CodingKeys: String, CodingKey { case tag, category, isGame = "game" }
}

/// A schedule's routes, stored in chunks (a KV value must stay under NATS' 1 MB payload
/// limit; 10,000 series is about 600 kB).
public struct RouteTable: Codable, Sendable, Equatable {
    public var routes: [String: SeriesRoute]

    public init(routes: [String: SeriesRoute] = [:]) { self.routes = routes }

    /// Series per chunk: about 150 kB each.
    public static let chunkSize = 2_500

    /// The table cut into chunks (at least one, so an empty table is still stored), in a
    /// stable order.
    public func chunks(of size: Int = RouteTable.chunkSize) -> [RouteTable] {
        let keys = routes.keys.sorted()
        guard !keys.isEmpty else { return [RouteTable()] }
        return stride(from: 0, to: keys.count, by: max(1, size)).map { start in
            RouteTable(routes: Dictionary(uniqueKeysWithValues: keys[start..<min(start + max(1, size), keys.count)].map { ($0, routes[$0]!) }))
        }
    }

    /// The chunks put back together.
    public init(merging chunks: [RouteTable]) {
        var all: [String: SeriesRoute] = [:]
        for c in chunks { all.merge(c.routes) { a, _ in a } }
        self.routes = all
    }
}
