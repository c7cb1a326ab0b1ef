import Logging
import KalshiAPI
import KalshiModels
import NATSClient
import SSMDCore
import WireContract

/// What syncing one series produced.
public struct SeriesSyncResult: Sendable, Equatable {
    public var events: Int
    public var markets: Int
    public var requests: Int
}

/// The market side of a work item. By the item's mode:
/// * `full`: every event of the series with a market closing within the lookback or later,
///   with all its markets (`/events?series_ticker=…&with_nested_markets=true&min_close_ts=…`:
///   open, unopened, recently closed and recently settled markets in one request for most
///   series), then a snapshot listing them, from which the writer marks what is gone;
/// * `delta`: the markets the change feed carried in the item;
/// * `incremental`: the series' markets updated since the item's time (`min_updated_ts`).
/// For `delta` and `incremental`, events not yet in the secmaster stream are fetched.
/// Events are published before their markets, and publishes are acknowledged by
/// JetStream before this returns, so the caller may then ack the work item.
public final class MarketSyncer: Sendable {
    private let client: ExchangeClient
    private let js: JetStream
    private let logger: Logger
    /// Events per `/events` page with nested markets: bounds memory for series with
    /// many markets per event (the old system ran out of memory at 200).
    private let eventsPerPage: Int
    /// Full syncs cover events with a market closing this long ago or later.
    private let lookbackSeconds: Int64
    /// Event tickers per `/events?tickers=` request (keeps URLs short).
    private let eventBatch = 100

    public init(client: ExchangeClient, js: JetStream, lookbackSeconds: Int64 = 86_400, eventsPerPage: Int = 50, logger: Logger) {
        self.client = client
        self.js = js
        self.lookbackSeconds = lookbackSeconds
        self.eventsPerPage = eventsPerPage
        self.logger = logger
    }

    public func sync(_ item: WorkItem, heartbeat: @escaping @Sendable () async -> Void = {}) async throws -> SeriesSyncResult {
        let tally = RequestTally()
        return try await ExchangeClient.$tally.withValue(tally) {
            switch item.mode {
            case .full:
                return try await syncFull(item, tally: tally, heartbeat: heartbeat)
            case .delta:
                return try await publishChanges(item.markets ?? [], fetchedAt: item.issuedAt, item: item, tally: tally, heartbeat: heartbeat)
            case .incremental:
                var markets: [Market] = []
                let collect: ([Market]) async throws -> Void = { page in
                    markets += page
                    await heartbeat()
                }
                if let tickers = item.tickers {
                    // The changed markets themselves: a status change does not move
                    // updated_time, so min_updated_ts would not find them.
                    try await client.forEachMarketsPage(tickers: tickers, collect)
                } else {
                    var query = MarketQuery(seriesTicker: item.seriesTicker)
                    query.minUpdatedTs = (item.since ?? item.issuedAt).secondsSinceEpoch
                    query.mveFilter = "exclude"
                    try await client.forEachMarketsPage(query, collect)
                }
                return try await publishChanges(markets, fetchedAt: .now(), item: item, tally: tally, heartbeat: heartbeat)
            }
        }
    }

    private func syncFull(_ item: WorkItem, tally: RequestTally, heartbeat: @escaping @Sendable () async -> Void) async throws -> SeriesSyncResult {
        var query = EventQuery(seriesTicker: item.seriesTicker)
        query.withNestedMarkets = true
        query.limit = eventsPerPage
        // In the exchange's clock: "the last 24 h" of a simulator running fast is not ours.
        let exchangeNow = client.clock.isSynchronized ? client.clock.now() : (item.exchangeTime ?? .now())
        let closedSince = exchangeNow.adding(seconds: -lookbackSeconds)
        query.minCloseTs = closedSince.secondsSinceEpoch
        var eventTickers: [String] = [], marketTickers: [String] = []
        var seenMarkets = Set<String>()
        var publisher = SlicedPublisher(js: js, logger: logger, heartbeat: heartbeat)
        // Page by page, published in slices: memory is bounded by one page, whatever the
        // series' size. A page's events go before its markets.
        try await client.forEachEventsPage(query) { page in
            let fetchedAt = Timestamp.now()
            for e in page where e.seriesTicker == item.seriesTicker {
                eventTickers.append(e.ticker)
                try await publisher.append(try eventMessage(e.withoutMarkets, fetchedAt: fetchedAt, item: item))
            }
            for e in page where e.seriesTicker == item.seriesTicker {
                for m in e.markets ?? [] where seenMarkets.insert(m.ticker).inserted {
                    marketTickers.append(m.ticker)
                    try await publisher.append(try marketMessage(m, fetchedAt: fetchedAt, item: item))
                }
            }
            try await publisher.flush()
            await heartbeat()
        }
        // Markets settled within the lookback whose event closed before it, for a series
        // synced the first time: carried in the item, or fetched here.
        var extra = item.markets ?? []
        if let since = item.settledSince {
            var q = MarketQuery(seriesTicker: item.seriesTicker, status: .settled)
            q.minSettledTs = since.secondsSinceEpoch
            try await client.forEachMarketsPage(q) { page in
                extra += page
                await heartbeat()
            }
        }
        extra.removeAll { seenMarkets.contains($0.ticker) }
        var extraEvents = 0
        if !extra.isEmpty {
            let r = try await publishChanges(extra, fetchedAt: item.issuedAt, item: item, tally: tally, heartbeat: heartbeat)
            extraEvents = r.events
            for m in extra where seenMarkets.insert(m.ticker).inserted { marketTickers.append(m.ticker) }
        }
        // Only after every page: the snapshot is what proves the rest gone.
        let snapshot = SeriesSnapshotMessage(fetchedAt: item.issuedAt, seriesTicker: item.seriesTicker, closedSince: .seconds(closedSince.secondsSinceEpoch),
                                             marketTickers: marketTickers, eventTickers: eventTickers)
        try await publisher.append(OutgoingMessage(
            subject: Subjects.snapshot(series: item.seriesTicker), data: try MessageCodec.encode(snapshot),
            msgId: "snapshot:\(item.cycleId):\(item.seriesTicker)"))
        try await publisher.flush()
        return SeriesSyncResult(events: eventTickers.count + extraEvents, markets: marketTickers.count, requests: tally.requests)
    }

    /// Publishes changed markets, preceded by those of their events that the secmaster
    /// stream does not hold yet (fetched from the exchange).
    private func publishChanges(_ markets: [Market], fetchedAt: Timestamp, item: WorkItem, tally: RequestTally,
                                heartbeat: @escaping @Sendable () async -> Void) async throws -> SeriesSyncResult {
        var eventTickers: [String] = []
        var seen = Set<String>()
        for m in markets where seen.insert(m.eventTicker).inserted { eventTickers.append(m.eventTicker) }
        var missing: [String] = []
        for event in eventTickers where try await js.lastMessage(stream: Streams.secmaster, subject: Subjects.event(series: item.seriesTicker, event: event)) == nil {
            missing.append(event)
        }
        var messages: [OutgoingMessage] = []
        var start = 0
        let eventsFetchedAt = Timestamp.now()
        while start < missing.count {
            let chunk = Array(missing[start..<min(start + eventBatch, missing.count)])
            start += eventBatch
            let wanted = Set(chunk)
            try await client.forEachEventsPage(EventQuery(tickers: chunk)) { page in
                for e in page where wanted.contains(e.ticker) {
                    messages.append(try eventMessage(e.withoutMarkets, fetchedAt: eventsFetchedAt, item: item))
                }
                await heartbeat()
            }
        }
        // Events first, then markets, in slices.
        let events = messages.count
        var publisher = SlicedPublisher(js: js, logger: logger, heartbeat: heartbeat)
        for m in messages { try await publisher.append(m) }
        var published = Set<String>()
        for m in markets where published.insert(m.ticker).inserted {
            try await publisher.append(try marketMessage(m, fetchedAt: fetchedAt, item: item))
        }
        try await publisher.flush()
        return SeriesSyncResult(events: events, markets: published.count, requests: tally.requests)
    }

    private func eventMessage(_ event: Event, fetchedAt: Timestamp, item: WorkItem) throws -> OutgoingMessage {
        try SecmasterMessages.event(event, fetchedAt: fetchedAt, series: item.seriesTicker, category: item.category, cycleId: item.cycleId)
    }

    private func marketMessage(_ m: Market, fetchedAt: Timestamp, item: WorkItem) throws -> OutgoingMessage {
        try SecmasterMessages.market(m, fetchedAt: fetchedAt, series: item.seriesTicker, tag: item.routingTag, category: item.category, cycleId: item.cycleId)
    }
}

/// The event and market messages every syncer publishes, with their subjects and ids.
enum SecmasterMessages {
    static func event(_ event: Event, fetchedAt: Timestamp, series: String, category: String, cycleId: String) throws -> OutgoingMessage {
        let body = try JSONCodec.encode(event)
        return OutgoingMessage(
            subject: Subjects.event(series: series, event: event.ticker),
            data: try MessageCodec.encode(EventMessage(fetchedAt: fetchedAt, category: category, event: event)),
            // The cycle is in the id so a value that returns (A → B → A) within the duplicate
            // window still lands; resends of one sync are still deduplicated.
            msgId: "event:\(event.ticker):\(cycleId):\(FNV1a.hash64(bytes: body).hex)")
    }

    static func market(_ m: Market, fetchedAt: Timestamp, series: String, tag: String, category: String, cycleId: String) throws -> OutgoingMessage {
        let body = m.jsonBytes
        return OutgoingMessage(
            subject: Subjects.market(tag: tag, series: series, market: m.ticker),
            data: MarketMessage.encoded(fetchedAt: fetchedAt, tag: tag, category: category, seriesTicker: series, marketJSON: body),
            // Same sync, same content → same id (a retried publish, or the same market in two
            // parts of a listing, is deduplicated); the cycle is in the id so a value that
            // returns (A → B → A) within the duplicate window still lands.
            msgId: "market:\(m.ticker):\(cycleId):\(FNV1a.hash64(bytes: body).hex)")
    }
}
