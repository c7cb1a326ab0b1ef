import Logging

/// What syncing one series produced.
public struct SeriesSyncResult: Sendable, Equatable {
    public var events: Int
    public var markets: Int
    public var requests: Int
}

/// The market side of a work item: fetch a series' markets in every window (all pages), the
/// events they belong to, and publish each event and market to its subject. Publishes are
/// acknowledged by JetStream before this returns, so the caller may then ack the work item.
public final class MarketSyncer: Sendable {
    private let client: ExchangeClient
    private let js: JetStream
    private let windows: MarketWindows
    private let logger: Logger
    /// Event tickers per `/events?tickers=` request (keeps URLs short).
    private let eventBatch = 100

    public init(client: ExchangeClient, js: JetStream, windows: MarketWindows = MarketWindows(), logger: Logger) {
        self.client = client
        self.js = js
        self.windows = windows
        self.logger = logger
    }

    public func sync(_ item: WorkItem, heartbeat: @Sendable () async -> Void = {}) async throws -> SeriesSyncResult {
        let tally = RequestTally()
        return try await ExchangeClient.$tally.withValue(tally) {
            try await syncCounted(item, tally: tally, heartbeat: heartbeat)
        }
    }

    private func syncCounted(_ item: WorkItem, tally: RequestTally, heartbeat: @Sendable () async -> Void) async throws -> SeriesSyncResult {
        let now = Timestamp.now()
        var markets: [String: Market] = [:]
        var order: [String] = []
        for query in windows.queries(series: item.seriesTicker, now: now) {
            try await client.forEachMarketsPage(query) { page in
                for m in page where markets.updateValue(m, forKey: m.ticker) == nil { order.append(m.ticker) }
                await heartbeat()
            }
        }
        let fetchedAt = Timestamp.now()

        var eventTickers: [String] = []
        var seenEvents = Set<String>()
        for t in order where seenEvents.insert(markets[t]!.eventTicker).inserted { eventTickers.append(markets[t]!.eventTicker) }
        var events: [Event] = []
        var start = 0
        while start < eventTickers.count {
            let chunk = Array(eventTickers[start..<min(start + eventBatch, eventTickers.count)])
            start += eventBatch
            try await client.forEachEventsPage(EventQuery(tickers: chunk)) { page in
                events.append(contentsOf: page.filter { seenEvents.contains($0.ticker) })
                await heartbeat()
            }
        }

        // Events first: a writer that sees them in order never needs a placeholder.
        var messages: [OutgoingMessage] = []
        messages.reserveCapacity(events.count + markets.count)
        for e in events {
            let event = e.withoutMarkets
            let body = try JSONCodec.encode(event)
            messages.append(OutgoingMessage(
                subject: Subjects.event(series: item.seriesTicker, event: event.ticker),
                data: try MessageCodec.encode(EventMessage(fetchedAt: fetchedAt, event: event)),
                msgId: "event:\(event.ticker):\(FNV1a.hash64(bytes: body).hex)"))
        }
        for t in order {
            let m = markets[t]!
            let body = try JSONCodec.encode(m)
            messages.append(OutgoingMessage(
                subject: Subjects.market(tag: item.routingTag, series: item.seriesTicker, market: m.ticker),
                data: try MessageCodec.encode(MarketMessage(fetchedAt: fetchedAt, tag: item.routingTag, seriesTicker: item.seriesTicker, market: m)),
                // Same content → same id: unchanged markets are not re-sent within the duplicate window.
                msgId: "market:\(m.ticker):\(FNV1a.hash64(bytes: body).hex)"))
        }
        try await ReliablePublisher(js: js, logger: logger).publishAll(messages, heartbeat: heartbeat)
        return SeriesSyncResult(events: events.count, markets: markets.count, requests: tally.requests)
    }
}
