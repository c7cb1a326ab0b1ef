import Foundation
import KalshiModels
import SSMDCore

/// JSON payloads on ssmd subjects. Every payload carries `schema` (bumped on an incompatible
/// change) and `kind`, plus the original, unencoded tickers and tags — subject tokens are for
/// routing only. Field names follow the exchange's snake_case.
public enum MessageKind: String, Sendable, Codable {
    case work, series, catalog, event, market, snapshot, lifecycle, listing
    case lifecycleGap = "lifecycle_gap"
}

public protocol SSMDMessage: Codable, Sendable {
    static var kind: MessageKind { get }
}

public enum MessageSchema {
    public static let version = 1
}

/// How much of a series a work item asks for.
public enum SyncMode: String, Sendable, Codable, Equatable {
    /// Every market and event the exchange lists for the series, proving what is gone.
    case full
    /// The markets the change feed already returned (carried in the item): publish them
    /// and fetch only events not seen before.
    case delta
    /// Markets of the series updated since `since` (`min_updated_ts`), for changes too many
    /// to carry in the item.
    case incremental
}

/// "Sync series X": one per tracked series that needs it, on `ssmd.work.<routing tag>`.
public struct WorkItem: SSMDMessage, Equatable {
    public static let kind = MessageKind.work
    public var schema = MessageSchema.version
    public var kind = MessageKind.work
    public var seriesTicker: String
    public var category: String
    public var tags: [String]
    /// The one tag this series is routed (and its markets published) under.
    public var routingTag: String
    public var isGame: Bool
    public var schedule: String
    public var cycleId: String
    public var issuedAt: Timestamp
    /// The exchange's clock when the item was issued (its `Date` header), for a replica that
    /// has not heard from the exchange yet.
    public var exchangeTime: Timestamp?
    /// Absent in items from before sync modes: full.
    public var mode: SyncMode
    /// `incremental`: the exchange time changes are wanted from.
    public var since: Timestamp?
    /// `incremental`: the markets the change feed reported changed, too many to carry; the
    /// replica reads them by ticker. Absent (older items): it asks for `min_updated_ts=since`,
    /// which the exchange documents as metadata changes only.
    public var tickers: [String]?
    /// `delta`: the changed markets, as the change feed returned them. `full`: markets
    /// settled within the lookback whose events the full sync does not cover.
    public var markets: [Market]?
    /// `full`, for a series synced the first time with too many such markets to carry:
    /// also fetch its markets settled since then.
    public var settledSince: Timestamp?

    /// The subject it travels on: its routing tag's work subject.
    public var subject: String { Subjects.work(tag: routingTag) }
    /// `Nats-Msg-Id`: a re-published item of the same cycle is a duplicate the stream drops.
    public var messageID: String { "work:\(cycleId):\(seriesTicker)" }

    public init(seriesTicker: String, category: String, tags: [String], routingTag: String, isGame: Bool,
                schedule: String, cycleId: String, issuedAt: Timestamp, mode: SyncMode = .full,
                since: Timestamp? = nil, markets: [Market]? = nil) {
        self.seriesTicker = seriesTicker; self.category = category; self.tags = tags
        self.routingTag = routingTag; self.isGame = isGame; self.schedule = schedule
        self.cycleId = cycleId; self.issuedAt = issuedAt
        self.mode = mode; self.since = since; self.markets = markets
    }

    enum CodingKeys: String, CodingKey {
        case schema, kind, seriesTicker = "series_ticker", category, tags, routingTag = "routing_tag"
        case isGame = "is_game", schedule, cycleId = "cycle_id", issuedAt = "issued_at", exchangeTime = "exchange_time", mode, since, tickers, markets, settledSince = "settled_since"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(Int.self, forKey: .schema)
        kind = try c.decode(MessageKind.self, forKey: .kind)
        seriesTicker = try c.decode(String.self, forKey: .seriesTicker)
        category = try c.decode(String.self, forKey: .category)
        tags = try c.decode([String].self, forKey: .tags)
        routingTag = try c.decode(String.self, forKey: .routingTag)
        isGame = try c.decode(Bool.self, forKey: .isGame)
        schedule = try c.decode(String.self, forKey: .schedule)
        cycleId = try c.decode(String.self, forKey: .cycleId)
        issuedAt = try c.decode(Timestamp.self, forKey: .issuedAt)
        exchangeTime = try c.decodeIfPresent(Timestamp.self, forKey: .exchangeTime)
        mode = try c.decodeIfPresent(SyncMode.self, forKey: .mode) ?? .full
        since = try c.decodeIfPresent(Timestamp.self, forKey: .since)
        tickers = try c.decodeIfPresent([String].self, forKey: .tickers)
        markets = try c.decodeIfPresent([Market].self, forKey: .markets)
        settledSince = try c.decodeIfPresent(Timestamp.self, forKey: .settledSince)
        if mode == .incremental, since == nil {
            throw DecodingError.dataCorruptedError(forKey: .since, in: c, debugDescription: "incremental work needs since")
        }
        if mode == .delta, markets == nil {
            throw DecodingError.dataCorruptedError(forKey: .markets, in: c, debugDescription: "delta work needs markets")
        }
    }
}

/// Series metadata as tracked by ssmd, on `ssmd.series.<series>`.
public struct SeriesMessage: SSMDMessage, Equatable {
    public static let kind = MessageKind.series
    public var schema = MessageSchema.version
    public var kind = MessageKind.series
    public var fetchedAt: Timestamp
    public var isGame: Bool
    public var series: Series

    public init(fetchedAt: Timestamp, isGame: Bool, series: Series) {
        self.fetchedAt = fetchedAt; self.isGame = isGame; self.series = series
    }

    enum CodingKeys: String, CodingKey { case schema, kind, fetchedAt = "fetched_at", isGame = "is_game", series }
}

/// The complete list of a category's tracked series after a complete fetch, on
/// `ssmd.catalog.<category>`; series of the category missing from it are deactivated.
public struct CatalogMessage: SSMDMessage, Equatable {
    public static let kind = MessageKind.catalog
    public var schema = MessageSchema.version
    public var kind = MessageKind.catalog
    public var fetchedAt: Timestamp
    public var category: String
    public var seriesTickers: [String]

    public init(fetchedAt: Timestamp, category: String, seriesTickers: [String]) {
        self.fetchedAt = fetchedAt; self.category = category; self.seriesTickers = seriesTickers
    }

    enum CodingKeys: String, CodingKey { case schema, kind, fetchedAt = "fetched_at", category, seriesTickers = "series_tickers" }
}

/// An event (without nested markets), on `ssmd.event.<series>.<event>`.
public struct EventMessage: SSMDMessage, Equatable {
    public static let kind = MessageKind.event
    public var schema = MessageSchema.version
    public var kind = MessageKind.event
    public var fetchedAt: Timestamp
    /// The category of the event's series (connectors select by category without a lookup).
    public var category: String?
    public var event: Event

    public init(fetchedAt: Timestamp, category: String? = nil, event: Event) {
        self.fetchedAt = fetchedAt; self.category = category; self.event = event
    }

    enum CodingKeys: String, CodingKey { case schema, kind, fetchedAt = "fetched_at", category, event }
}

/// A market as the exchange last described it, on `ssmd.market.<tag>.<series>.<market>`.
public struct MarketMessage: SSMDMessage, Equatable {
    public static let kind = MessageKind.market
    public var schema = MessageSchema.version
    public var kind = MessageKind.market
    public var fetchedAt: Timestamp
    public var tag: String
    /// The category of the market's series (connectors select by category without a lookup).
    public var category: String?
    public var seriesTicker: String
    public var market: Market

    public init(fetchedAt: Timestamp, tag: String, category: String? = nil, seriesTicker: String, market: Market) {
        self.fetchedAt = fetchedAt; self.tag = tag; self.category = category; self.seriesTicker = seriesTicker; self.market = market
    }

    enum CodingKeys: String, CodingKey { case schema, kind, fetchedAt = "fetched_at", tag, category, seriesTicker = "series_ticker", market }
}

extension MarketMessage {
    /// The message's bytes around a market already written as JSON (`Market.jsonBytes`):
    /// byte for byte what `MessageCodec.encode` gives for the same message (tests pin it),
    /// keys in the same sorted order. The fetchers publish every market this way.
    public static func encoded(fetchedAt: Timestamp, tag: String, category: String?, seriesTicker: String,
                               marketJSON: [UInt8]) -> [UInt8] {
        var out = JSONOutput(capacity: marketJSON.count + 256)
        out.beginObject()
        if let category { out.key(CodingKeys.category.rawValue); out.string(category) }
        out.key(CodingKeys.fetchedAt.rawValue); out.string(fetchedAt.iso8601)
        out.key(CodingKeys.kind.rawValue); out.string(MessageKind.market.rawValue)
        out.key(CodingKeys.market.rawValue); out.json(marketJSON)
        out.key(CodingKeys.schema.rawValue); out.int(Int64(MessageSchema.version))
        out.key(CodingKeys.seriesTicker.rawValue); out.string(seriesTicker)
        out.key(CodingKeys.tag.rawValue); out.string(tag)
        out.endObject()
        return out.bytes
    }
}

/// What a complete sync of one series found, on `ssmd.snapshot.<series>`, published after
/// its events and markets. The sync covered every event with a market closing at or after
/// `closedSince`; the writer marks the series' markets in that scope that are not listed,
/// and were last fetched before `fetchedAt`, as gone from the exchange, and events whose
/// markets are all gone.
public struct SeriesSnapshotMessage: SSMDMessage, Equatable {
    public static let kind = MessageKind.snapshot
    public var schema = MessageSchema.version
    public var kind = MessageKind.snapshot
    public var fetchedAt: Timestamp
    public var seriesTicker: String
    public var closedSince: Timestamp
    public var marketTickers: [String]
    public var eventTickers: [String]

    public init(fetchedAt: Timestamp, seriesTicker: String, closedSince: Timestamp, marketTickers: [String], eventTickers: [String]) {
        self.fetchedAt = fetchedAt; self.seriesTicker = seriesTicker; self.closedSince = closedSince
        self.marketTickers = marketTickers; self.eventTickers = eventTickers
    }

    enum CodingKeys: String, CodingKey {
        case schema, kind, fetchedAt = "fetched_at", seriesTicker = "series_ticker", closedSince = "closed_since"
        case marketTickers = "market_tickers", eventTickers = "event_tickers"
    }
}

/// Why a payload could not be read; goes with the message to the dead-letter subject.
public struct MessageDecodingError: Error, Sendable, CustomStringConvertible {
    public var subject: String
    public var reason: String
    public var description: String { "undecodable message on \(subject): \(reason)" }
    public init(subject: String, reason: String) { self.subject = subject; self.reason = reason }
}

/// The fields every payload shares, read first to route and version-check.
public struct MessageHeader: Decodable, Sendable {
    public var schema: Int?
    public var kind: String?
}

public enum MessageCodec {
    public static func encode<M: SSMDMessage>(_ message: M) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(message))
    }

    /// Decodes and checks the schema version and kind, with the bad field's path on failure.
    public static func decode<M: SSMDMessage>(_ type: M.Type, from bytes: [UInt8], subject: String) throws -> M {
        let data = Data(bytes)
        let header: MessageHeader
        do { header = try JSONDecoder().decode(MessageHeader.self, from: data) } catch {
            throw MessageDecodingError(subject: subject, reason: "not a JSON object")
        }
        guard let schema = header.schema else { throw MessageDecodingError(subject: subject, reason: "missing schema") }
        guard schema == MessageSchema.version else {
            throw MessageDecodingError(subject: subject, reason: "unsupported schema \(schema) (this build reads \(MessageSchema.version))")
        }
        guard header.kind == M.kind.rawValue else {
            throw MessageDecodingError(subject: subject, reason: "kind \(header.kind ?? "nil") where \(M.kind.rawValue) was expected")
        }
        do {
            return try JSONDecoder().decode(M.self, from: data)
        } catch let e as DecodingError {
            throw MessageDecodingError(subject: subject, reason: "\(e.fieldPath.isEmpty ? "<root>" : e.fieldPath): \(e.reason)")
        }
    }
}

/// A message set aside on `ssmd.dlq.<stage>` with the reason it could not be processed.
/// The original payload travels verbatim (as UTF-8 text when it is, else base64).
public struct DeadLetter: Codable, Sendable, Equatable {
    public var schema = MessageSchema.version
    public var kind = "dead_letter"
    public var stage: String
    public var reason: String
    public var subject: String
    public var deliveries: UInt64
    public var failedAt: Timestamp
    public var payload: String?
    public var payloadBase64: String?

    public init(stage: String, reason: String, subject: String, deliveries: UInt64, failedAt: Timestamp, payload: [UInt8]) {
        self.stage = stage; self.reason = reason; self.subject = subject
        self.deliveries = deliveries; self.failedAt = failedAt
        if let text = String(validating: payload, as: UTF8.self) { self.payload = text }
        else { self.payloadBase64 = Data(payload).base64EncodedString() }
    }

    enum CodingKeys: String, CodingKey {
        case schema, kind, stage, reason, subject, deliveries, failedAt = "failed_at", payload, payloadBase64 = "payload_base64"
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array("{\"kind\":\"dead_letter\"}".utf8)
    }
}

/// What one series-fetcher cycle did, kept in the state KV bucket under `cycle.<schedule>`
/// (the dashboard's "last completed cycle per schedule").
public struct CycleReport: Codable, Sendable, Equatable {
    public var schedule: String
    public var cycleId: String
    public var startedAt: Timestamp
    public var finishedAt: Timestamp
    public var categories: Int
    public var categoriesFailed: Int
    public var seriesListed: Int
    public var seriesTracked: Int
    public var workItems: Int
    public var requests: Int
    /// Work items by kind: full syncs, changes carried in the item, changes to fetch.
    public var fullItems: Int
    public var deltaItems: Int
    public var incrementalItems: Int
    /// The change feed's requests and the markets it returned; whether it failed.
    public var feedRequests: Int
    public var feedMarkets: Int
    public var feedFailed: Bool
    /// Seconds spent on series metadata (listing and publishing series).
    public var seriesSeconds: Double
    /// The routing tags this cycle's work items went to (whose queues a caller that waits
    /// for this cycle's work watches), sorted.
    public var routingTags: [String]
    /// Markets the due-time index read again (an opening or a determination due), and how
    /// many of them had moved on.
    public var dueRead: Int
    public var dueChanged: Int
    /// Parts of an exchange-wide listing handed out on `ssmd.listing` (0: none this cycle).
    public var listingParts: Int

    public init(schedule: String, cycleId: String, startedAt: Timestamp, finishedAt: Timestamp, categories: Int,
                categoriesFailed: Int, seriesListed: Int, seriesTracked: Int, workItems: Int, requests: Int,
                fullItems: Int = 0, deltaItems: Int = 0, incrementalItems: Int = 0, feedRequests: Int = 0,
                feedMarkets: Int = 0, feedFailed: Bool = false, seriesSeconds: Double = 0, routingTags: [String] = [],
                dueRead: Int = 0, dueChanged: Int = 0, listingParts: Int = 0) {
        self.listingParts = listingParts
        self.schedule = schedule; self.cycleId = cycleId; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.categories = categories; self.categoriesFailed = categoriesFailed; self.seriesListed = seriesListed
        self.seriesTracked = seriesTracked; self.workItems = workItems; self.requests = requests
        self.fullItems = fullItems; self.deltaItems = deltaItems; self.incrementalItems = incrementalItems
        self.feedRequests = feedRequests; self.feedMarkets = feedMarkets; self.feedFailed = feedFailed
        self.seriesSeconds = seriesSeconds
        self.routingTags = routingTags; self.dueRead = dueRead; self.dueChanged = dueChanged
    }

    enum CodingKeys: String, CodingKey {
        case schedule, cycleId = "cycle_id", startedAt = "started_at", finishedAt = "finished_at", categories
        case categoriesFailed = "categories_failed", seriesListed = "series_listed", seriesTracked = "series_tracked"
        case workItems = "work_items", requests
        case fullItems = "full_items", deltaItems = "delta_items", incrementalItems = "incremental_items"
        case feedRequests = "feed_requests", feedMarkets = "feed_markets", feedFailed = "feed_failed"
        case seriesSeconds = "series_seconds", routingTags = "routing_tags", dueRead = "due_read", dueChanged = "due_changed"
        case listingParts = "listing_parts"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schedule = try c.decode(String.self, forKey: .schedule)
        cycleId = try c.decode(String.self, forKey: .cycleId)
        startedAt = try c.decode(Timestamp.self, forKey: .startedAt)
        finishedAt = try c.decode(Timestamp.self, forKey: .finishedAt)
        categories = try c.decode(Int.self, forKey: .categories)
        categoriesFailed = try c.decode(Int.self, forKey: .categoriesFailed)
        seriesListed = try c.decode(Int.self, forKey: .seriesListed)
        seriesTracked = try c.decode(Int.self, forKey: .seriesTracked)
        workItems = try c.decode(Int.self, forKey: .workItems)
        requests = try c.decode(Int.self, forKey: .requests)
        // Reports written before incremental sync lack these.
        fullItems = try c.decodeIfPresent(Int.self, forKey: .fullItems) ?? workItems
        deltaItems = try c.decodeIfPresent(Int.self, forKey: .deltaItems) ?? 0
        incrementalItems = try c.decodeIfPresent(Int.self, forKey: .incrementalItems) ?? 0
        feedRequests = try c.decodeIfPresent(Int.self, forKey: .feedRequests) ?? 0
        feedMarkets = try c.decodeIfPresent(Int.self, forKey: .feedMarkets) ?? 0
        feedFailed = try c.decodeIfPresent(Bool.self, forKey: .feedFailed) ?? false
        seriesSeconds = try c.decodeIfPresent(Double.self, forKey: .seriesSeconds) ?? 0
        routingTags = try c.decodeIfPresent([String].self, forKey: .routingTags) ?? []
        dueRead = try c.decodeIfPresent(Int.self, forKey: .dueRead) ?? 0
        dueChanged = try c.decodeIfPresent(Int.self, forKey: .dueChanged) ?? 0
        listingParts = try c.decodeIfPresent(Int.self, forKey: .listingParts) ?? 0
    }
}
