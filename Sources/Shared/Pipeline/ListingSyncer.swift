import Logging
import Synchronization
import KalshiAPI
import KalshiModels
import NATSClient
import SSMDCore
import WireContract

/// The market side of a `ListingItem`: pages through one exchange-wide chain and publishes
/// the events and markets of the schedule's tracked series (by the route table the
/// series-fetcher stored for the listing), events before their markets, acknowledged by
/// JetStream before this returns. Memory is bounded by one page, whatever the exchange's size.
public final class ListingSyncer: Sendable {
    private let client: ExchangeClient
    private let js: JetStream
    private let logger: Logger
    /// Events per page with nested markets: a page of the whole exchange averages about
    /// 5 markets an event (0.75 MB at 100 events); the exchange allows 200.
    private let eventsPerPage: Int
    /// Event tickers per `/events?tickers=` request (keeps URLs short).
    private let eventBatch = 100
    /// The last route table loaded, by listing: the parts of one listing share it.
    private let routeCache = Mutex<(cycleId: String, table: RouteTable)?>(nil)

    public init(client: ExchangeClient, js: JetStream, eventsPerPage: Int = 100, logger: Logger) {
        self.client = client
        self.js = js
        self.eventsPerPage = max(1, min(200, eventsPerPage))
        self.logger = logger
    }

    /// What reading one part produced.
    public struct Result: Sendable, Equatable {
        public var events = 0
        public var markets = 0
        /// Events of series the schedule does not track (skipped).
        public var untracked = 0
        public var requests = 0
    }

    public func sync(_ item: ListingItem, heartbeat: @escaping @Sendable () async -> Void = {}) async throws -> Result {
        let tally = RequestTally()
        return try await ExchangeClient.$tally.withValue(tally) {
            let routes = try await routeTable(for: item)
            var result = try await (item.part.eventStatus != nil
                ? readEvents(item, routes: routes, heartbeat: heartbeat)
                : readMarkets(item, routes: routes, heartbeat: heartbeat))
            result.requests = tally.requests
            return result
        }
    }

    /// An event chain: events with their markets, as a per-series full sync reads them.
    private func readEvents(_ item: ListingItem, routes: RouteTable, heartbeat: @escaping @Sendable () async -> Void) async throws -> Result {
        var query = EventQuery()
        query.status = item.part.eventStatus
        query.withNestedMarkets = true
        query.minCloseTs = item.closedSince.secondsSinceEpoch
        query.limit = eventsPerPage
        var result = Result()
        var publisher = SlicedPublisher(js: js, logger: logger, heartbeat: heartbeat)
        try await client.forEachEventsPage(query) { page in
            let fetchedAt = Timestamp.now()
            let tracked = page.compactMap { e in routes.routes[e.seriesTicker].map { (e, $0) } }
            result.untracked += page.count - tracked.count
            for (e, route) in tracked { try await publisher.append(try Self.eventMessage(e, route: route, fetchedAt: fetchedAt, item: item)) }
            result.events += tracked.count
            for (e, route) in tracked {
                for m in e.markets ?? [] {
                    try await publisher.append(try Self.marketMessage(m, of: e, route: route, fetchedAt: fetchedAt, item: item))
                    result.markets += 1
                }
            }
            try await publisher.flush()
            await heartbeat()
        }
        return result
    }

    /// A market chain: markets no event chain has; their events (and so their series) read
    /// by ticker, exactly.
    private func readMarkets(_ item: ListingItem, routes: RouteTable, heartbeat: @escaping @Sendable () async -> Void) async throws -> Result {
        var query: MarketQuery
        var keep: (Market) -> Bool = { _ in true }
        switch item.part {
        case .pausedMarkets:
            query = MarketQuery(status: .paused)
        case .lateSettledMarkets:
            query = MarketQuery(status: .settled)
            query.minSettledTs = item.closedSince.secondsSinceEpoch
            let since = item.closedSince
            keep = { m in m.closeTime.map { $0 < since } ?? false }
        default:
            return Result()
        }
        query.mveFilter = "exclude"
        var result = Result()
        // Event ticker → its event, once read (nil: not found or not tracked).
        var events: [String: (event: Event, route: SeriesRoute)?] = [:]
        var publisher = SlicedPublisher(js: js, logger: logger, heartbeat: heartbeat)
        try await client.forEachMarketsPage(query) { page in
            let markets = page.filter(keep)
            let unknown = Array(Set(markets.map(\.eventTicker)).filter { events[$0] == nil }).sorted()
            let fetchedAt = Timestamp.now()
            var start = 0
            while start < unknown.count {
                let chunk = Array(unknown[start..<min(start + eventBatch, unknown.count)])
                start += eventBatch
                for t in chunk { events[t] = .some(nil) }
                try await client.forEachEventsPage(EventQuery(tickers: chunk)) { found in
                    for e in found where events[e.ticker] != nil {
                        guard let route = routes.routes[e.seriesTicker] else { result.untracked += 1; continue }
                        events[e.ticker] = .some((e, route))
                        try await publisher.append(try Self.eventMessage(e, route: route, fetchedAt: fetchedAt, item: item))
                        result.events += 1
                    }
                    await heartbeat()
                }
            }
            for m in markets {
                guard let known = events[m.eventTicker], let (event, route) = known.map({ ($0.event, $0.route) }) else { continue }
                try await publisher.append(try Self.marketMessage(m, of: event, route: route, fetchedAt: fetchedAt, item: item))
                result.markets += 1
            }
            try await publisher.flush()
            await heartbeat()
        }
        return result
    }

    static func eventMessage(_ e: Event, route: SeriesRoute, fetchedAt: Timestamp, item: ListingItem) throws -> OutgoingMessage {
        try SecmasterMessages.event(e.withoutMarkets, fetchedAt: fetchedAt, series: e.seriesTicker, category: route.category, cycleId: item.cycleId)
    }

    /// A market published under its event's series (the exact attribution) and that series' tag.
    static func marketMessage(_ m: Market, of e: Event, route: SeriesRoute, fetchedAt: Timestamp, item: ListingItem) throws -> OutgoingMessage {
        try SecmasterMessages.market(m, fetchedAt: fetchedAt, series: e.seriesTicker, tag: route.tag, category: route.category, cycleId: item.cycleId)
    }

    /// The listing's route table from KV (cached for the listing's other parts). A missing
    /// chunk fails the part, which is retried: the series-fetcher writes the chunks before
    /// it hands out the parts.
    func routeTable(for item: ListingItem) async throws -> RouteTable {
        if let cached = routeCache.withLock({ $0 }), cached.cycleId == item.cycleId { return cached.table }
        let kv = try await js.keyValue(bucket: Topology.stateBucket)
        var chunks: [RouteTable] = []
        for i in 0..<max(1, item.routeChunks) {
            let key = StateKeys.listingRoutes(schedule: item.schedule, index: i)
            guard let entry = try await kv.get(key) else { throw ListingRoutesMissing(key: key) }
            chunks.append(try JSONCodec.decode(RouteTable.self, from: entry.value))
        }
        let table = RouteTable(merging: chunks)
        routeCache.withLock { $0 = (item.cycleId, table) }
        return table
    }
}

/// A listing part arrived before (or long after) its route table.
public struct ListingRoutesMissing: Error, CustomStringConvertible {
    public var key: String
    public var description: String { "route table chunk \(key) is missing from KV ssmd_state" }
}
