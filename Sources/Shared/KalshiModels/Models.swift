import SSMDCore

/// The exchange's objects as ssmd understands them: decoded tolerantly from the Trade API v2
/// (current fixed-point format and the legacy integer-cent one), and encoded back in the
/// current format with the exchange's own field names — the same JSON is the payload that
/// connectors read from `ssmd.market.…` subjects.

/// A series: a recurring question (`KXNBAGAME`: "NBA game winner").
public struct Series: Sendable, Hashable, Codable {
    public var ticker: String
    public var title: String
    public var category: String
    /// `null` on the exchange becomes empty.
    public var tags: [String]
    public var frequency: String?
    public var lastUpdated: Timestamp?

    public init(ticker: String, title: String, category: String, tags: [String], frequency: String? = nil, lastUpdated: Timestamp? = nil) {
        self.ticker = ticker; self.title = title; self.category = category
        self.tags = tags; self.frequency = frequency; self.lastUpdated = lastUpdated
    }

    enum CodingKeys: String, CodingKey {
        case ticker, title, category, tags, frequency
        case lastUpdated = "last_updated_ts"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ticker = try c.requiredString(.ticker)
        title = try c.string(.title) ?? ""
        category = try c.string(.category) ?? ""
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
        frequency = try c.string(.frequency)
        lastUpdated = try c.timestamp(.lastUpdated)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ticker, forKey: .ticker)
        try c.encode(title, forKey: .title)
        try c.encode(category, forKey: .category)
        try c.encode(tags, forKey: .tags)
        try c.encodeIfPresent(frequency, forKey: .frequency)
        try c.encodeTime(lastUpdated, forKey: .lastUpdated)
    }
}

/// An event: one occurrence of a series (`KXNBAGAME-25NOV25LALBOS`), grouping markets.
public struct Event: Sendable, Hashable, Codable {
    public var ticker: String
    public var seriesTicker: String
    public var title: String?
    public var subTitle: String?
    public var category: String?
    public var mutuallyExclusive: Bool?
    public var strikeDate: Timestamp?
    public var strikePeriod: String?
    public var collateralReturnType: String?
    public var lastUpdated: Timestamp?
    /// Present only with `with_nested_markets=true`.
    public var markets: [Market]?

    public init(ticker: String, seriesTicker: String, title: String? = nil, subTitle: String? = nil, category: String? = nil,
                mutuallyExclusive: Bool? = nil, strikeDate: Timestamp? = nil, strikePeriod: String? = nil,
                collateralReturnType: String? = nil, lastUpdated: Timestamp? = nil, markets: [Market]? = nil) {
        self.ticker = ticker; self.seriesTicker = seriesTicker; self.title = title; self.subTitle = subTitle
        self.category = category; self.mutuallyExclusive = mutuallyExclusive; self.strikeDate = strikeDate
        self.strikePeriod = strikePeriod; self.collateralReturnType = collateralReturnType
        self.lastUpdated = lastUpdated; self.markets = markets
    }

    enum CodingKeys: String, CodingKey {
        case ticker = "event_ticker", seriesTicker = "series_ticker", title, subTitle = "sub_title", category
        case mutuallyExclusive = "mutually_exclusive", strikeDate = "strike_date", strikePeriod = "strike_period"
        case collateralReturnType = "collateral_return_type", lastUpdated = "last_updated_ts", markets
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ticker = try c.requiredString(.ticker)
        seriesTicker = try c.requiredString(.seriesTicker)
        title = try c.string(.title)
        subTitle = try c.string(.subTitle)
        category = try c.string(.category)
        mutuallyExclusive = try c.bool(.mutuallyExclusive)
        strikeDate = try c.timestamp(.strikeDate)
        strikePeriod = try c.string(.strikePeriod).flatMap { $0.isEmpty ? nil : $0 }
        collateralReturnType = try c.string(.collateralReturnType)
        lastUpdated = try c.timestamp(.lastUpdated)
        markets = try c.decodeIfPresent([Market].self, forKey: .markets)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ticker, forKey: .ticker)
        try c.encode(seriesTicker, forKey: .seriesTicker)
        try c.encodeIfPresent(title, forKey: .title)
        try c.encodeIfPresent(subTitle, forKey: .subTitle)
        try c.encodeIfPresent(category, forKey: .category)
        try c.encodeIfPresent(mutuallyExclusive, forKey: .mutuallyExclusive)
        try c.encodeTime(strikeDate, forKey: .strikeDate)
        try c.encodeIfPresent(strikePeriod, forKey: .strikePeriod)
        try c.encodeIfPresent(collateralReturnType, forKey: .collateralReturnType)
        try c.encodeTime(lastUpdated, forKey: .lastUpdated)
        try c.encodeIfPresent(markets, forKey: .markets)
    }

    /// The event without its nested markets (they travel as their own messages).
    public var withoutMarkets: Event {
        var e = self
        e.markets = nil
        return e
    }
}

/// A market: one binary or scalar contract. `status` is the exchange's raw returned status.
public struct Market: Sendable, Hashable, Codable {
    public var ticker: String
    public var eventTicker: String
    public var marketType: String?
    public var title: String?
    public var subtitle: String?
    public var yesSubTitle: String?
    public var noSubTitle: String?
    public var status: String
    public var result: String?
    public var createdTime: Timestamp?
    public var updatedTime: Timestamp?
    public var openTime: Timestamp?
    public var closeTime: Timestamp?
    public var expectedExpirationTime: Timestamp?
    public var latestExpirationTime: Timestamp?
    public var settlementTs: Timestamp?
    public var settlementTimerSeconds: Int64?
    public var canCloseEarly: Bool?
    public var strikeType: String?
    public var floorStrike: FixedPoint?
    public var capStrike: FixedPoint?
    public var customStrike: JSONValue?
    public var rulesPrimary: String?
    public var rulesSecondary: String?
    public var yesBid: FixedPoint?
    public var yesAsk: FixedPoint?
    public var noBid: FixedPoint?
    public var noAsk: FixedPoint?
    public var lastPrice: FixedPoint?
    public var notionalValue: FixedPoint?
    public var settlementValue: FixedPoint?
    public var volume: FixedPoint?
    public var volume24h: FixedPoint?
    public var openInterest: FixedPoint?
    public var mveCollectionTicker: String?
    /// The price grid orders must follow: a named structure (`linear_cent`, `deci_cent`, …) and
    /// its bands (`[{"start", "end", "step"}]`, dollars). Changes arrive on the lifecycle
    /// channel as `price_level_structure_updated`.
    public var priceLevelStructure: String?
    public var priceRanges: JSONValue?
    public var earlyCloseCondition: String?
    /// Deprecated by the exchange in favour of `latest_expiration_time`; still sent, kept as sent.
    public var expirationTime: Timestamp?
    public var expirationValue: String?
    public var occurrenceDatetime: Timestamp?
    public var feeWaiverExpirationTime: Timestamp?
    public var functionalStrike: String?
    public var primaryParticipantKey: String?
    public var isProvisional: Bool?

    public init(ticker: String, eventTicker: String, status: String) {
        self.ticker = ticker; self.eventTicker = eventTicker; self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case ticker, eventTicker = "event_ticker", marketType = "market_type", title, subtitle
        case yesSubTitle = "yes_sub_title", noSubTitle = "no_sub_title", status, result
        case createdTime = "created_time", updatedTime = "updated_time", openTime = "open_time", closeTime = "close_time"
        case expectedExpirationTime = "expected_expiration_time", latestExpirationTime = "latest_expiration_time"
        case settlementTs = "settlement_ts", settlementTimerSeconds = "settlement_timer_seconds"
        case canCloseEarly = "can_close_early", strikeType = "strike_type", floorStrike = "floor_strike"
        case capStrike = "cap_strike", customStrike = "custom_strike"
        case rulesPrimary = "rules_primary", rulesSecondary = "rules_secondary"
        case yesBid = "yes_bid_dollars", yesAsk = "yes_ask_dollars", noBid = "no_bid_dollars", noAsk = "no_ask_dollars"
        case lastPrice = "last_price_dollars", notionalValue = "notional_value_dollars"
        case settlementValue = "settlement_value_dollars"
        case volume = "volume_fp", volume24h = "volume_24h_fp", openInterest = "open_interest_fp"
        case mveCollectionTicker = "mve_collection_ticker"
        case priceLevelStructure = "price_level_structure", priceRanges = "price_ranges"
        case earlyCloseCondition = "early_close_condition", expirationTime = "expiration_time"
        case expirationValue = "expiration_value", occurrenceDatetime = "occurrence_datetime"
        case feeWaiverExpirationTime = "fee_waiver_expiration_time", functionalStrike = "functional_strike"
        case primaryParticipantKey = "primary_participant_key", isProvisional = "is_provisional"
        // Legacy integer fields (removed from the exchange in March 2026), read as fallbacks.
        case legacyYesBid = "yes_bid", legacyYesAsk = "yes_ask", legacyNoBid = "no_bid", legacyNoAsk = "no_ask"
        case legacyLastPrice = "last_price", legacyNotional = "notional_value", legacySettlementValue = "settlement_value"
        case legacyVolume = "volume", legacyVolume24h = "volume_24h", legacyOpenInterest = "open_interest"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(ticker: "", eventTicker: "", status: "")
        for field in Market.fields { try field.decode(from: c, into: &self) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        for field in Market.fields { try field.encode(self, to: &c) }
    }
}

/// `GET /search/tags_by_categories`: category → tags; some categories map to `null`.
public struct TagsByCategories: Sendable, Equatable, Decodable {
    public var categories: [String: [String]]

    public init(categories: [String: [String]]) { self.categories = categories }

    enum CodingKeys: String, CodingKey { case tagsByCategories = "tags_by_categories" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let raw = try c.decode([String: [String]?].self, forKey: .tagsByCategories)
        categories = raw.mapValues { $0 ?? [] }
    }
}

/// `GET /search/filters_by_sport`: the sports the exchange lists; each is a Sports tag.
public struct SportFilters: Sendable, Equatable, Decodable {
    public var sports: [String]

    public init(sports: [String]) { self.sports = sports }

    enum CodingKeys: String, CodingKey { case filtersBySports = "filters_by_sports", sportOrdering = "sport_ordering" }
    struct AnyValue: Decodable { init(from decoder: Decoder) throws {} }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let filters = try c.decodeIfPresent([String: AnyValue].self, forKey: .filtersBySports) ?? [:]
        let ordering = try c.decodeIfPresent([String].self, forKey: .sportOrdering) ?? []
        let named = filters.keys.filter { $0 != "All sports" }
        sports = ordering.filter { named.contains($0) } + named.filter { !ordering.contains($0) }.sorted()
    }
}

package struct MarketsPage: ListPage {
    package var markets: [Market]
    package var cursor: String?
    package static let listKey = "markets"
    package init(elements: [Market], cursor: String?) { markets = elements; self.cursor = cursor }
}

package struct EventsPage: ListPage {
    package var events: [Event]
    package var cursor: String?
    package static let listKey = "events"
    package init(elements: [Event], cursor: String?) { events = elements; self.cursor = cursor }
}
