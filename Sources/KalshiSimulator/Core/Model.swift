public struct SettlementSource: Sendable, Equatable {
    public var name: String
    public var url: String
}

public enum SeriesKind: String, Sendable {
    /// A series of individual games or matches (KXNBAGAME): one event per game.
    case game
    /// Sports futures, awards, season props: sports, but not games.
    case sportsFutures
    /// Hourly/daily strike ladders (KXBTCD): many events, decimal strikes.
    case strikeLadder
    /// Everything else: one-off or recurring questions with a few outcomes.
    case general
    /// Multivariate (combo) collections (KXMVE…): excluded from `/events` and `/series`.
    case multivariate
}

public struct SeriesRecord: Sendable {
    public var ticker: String
    public var title: String
    public var category: String
    public var tags: [String]?
    public var frequency: String
    public var kind: SeriesKind
    /// For sports series: the sport (filters_by_sport key) and competition name.
    public var sport: String?
    public var competition: String?
    public var scope: String?
    public var feeType: String
    public var feeMultiplier: Double
    public var settlementSources: [SettlementSource]
    public var contractURL: String
    public var contractTermsURL: String
    public var additionalProhibitions: [String]?
    public var createdTs: Int64
    /// The series disappears from every endpoint at this time.
    public var delistedTs: Int64?
    public var metadataChangeTs: Int64?
    /// Indices into `Universe.events` / `Universe.markets` (both contiguous).
    public var eventRange: Range<Int> = 0..<0
    public var marketRange: Range<Int> = 0..<0

    public func isListed(at t: Int64) -> Bool {
        createdTs <= t && (delistedTs.map { t < $0 } ?? true)
    }

    public func lastUpdatedTs(at t: Int64) -> Int64 {
        if let m = metadataChangeTs, m <= t, m > createdTs { return m }
        return createdTs
    }
}

public struct EventRecord: Sendable {
    public var ticker: String
    public var seriesIndex: Int
    public var title: String
    public var subTitle: String
    public var mutuallyExclusive: Bool
    public var strikeDate: Int64?
    public var strikePeriod: String?
    public var createdTs: Int64
    /// An edit of the event's metadata: `sub_title` reads `editedSubTitle` from then on.
    public var metadataChangeTs: Int64?
    public var marketRange: Range<Int> = 0..<0

    public func lastUpdatedTs(at t: Int64) -> Int64 {
        if let m = metadataChangeTs, m <= t, m > createdTs { return m }
        return createdTs
    }

    public var editedSubTitle: String { subTitle + " (revised)" }

    /// `sub_title` as shown at `t`.
    public func subTitle(at t: Int64) -> String {
        if let m = metadataChangeTs, m <= t, m > createdTs { return editedSubTitle }
        return subTitle
    }
}

/// The market members a metadata edit may change.
public struct MarketFields: Sendable, Equatable {
    public var title: String
    public var yesSubTitle: String
    public var noSubTitle: String
    public var rulesPrimary: String
    public var rulesSecondary: String
    /// `strike_type`, and the strikes as JSON number text (`98999.99`), nil when absent.
    public var strikeType: String?
    public var floorStrike: String?
    public var capStrike: String?

    public init(title: String, yesSubTitle: String, noSubTitle: String, rulesPrimary: String, rulesSecondary: String = "",
                strikeType: String? = nil, floorStrike: String? = nil, capStrike: String? = nil) {
        self.title = title
        self.yesSubTitle = yesSubTitle
        self.noSubTitle = noSubTitle
        self.rulesPrimary = rulesPrimary
        self.rulesSecondary = rulesSecondary
        self.strikeType = strikeType
        self.floorStrike = floorStrike
        self.capStrike = capStrike
    }
}

/// What a metadata edit changed (what `metadata_updated` carries on the WebSocket).
public enum MetadataEditKind: String, Sendable, CaseIterable {
    /// `title` (no WebSocket field carries it).
    case title
    /// `yes_sub_title` and `no_sub_title` (the message carries `yes_sub_title`).
    case subtitle
    /// `rules_primary` and `rules_secondary` (no WebSocket field carries them).
    case rules
    /// `floor_strike` / `cap_strike` (the message carries `strike_type` and the strikes).
    case strike
}

public struct MarketRecord: Sendable {
    public var ticker: String
    public var eventIndex: Int
    public var seriesIndex: Int
    public var timeline: MarketTimeline
    public var isMultivariate: Bool
    public var marketType: String
    /// The editable members as listed, and after `timeline.metadataChangeTs` (if any).
    public var fields: MarketFields
    public var edited: MarketFields?
    public var editKind: MetadataEditKind?
    public var canCloseEarly: Bool
    public var expectedExpirationTs: Int64
    public var latestExpirationTs: Int64
    /// Quote centre in ten-thousandths of a dollar, and how the market resolves.
    public var basePrice: Int64
    public var resultYes: Bool
    public var expirationValue: String
    public var baseVolume: Int64
    /// Everything in the market's JSON that does not depend on the simulated time, without
    /// braces: rendered once at generation so a page of markets is mostly memcpy. After a
    /// metadata edit `editedStaticJSON` (rendered from `edited`) replaces it.
    public var staticJSON: [UInt8] = []
    public var editedStaticJSON: [UInt8] = []
    /// Extra static members the generator chose (MVE legs, custom strike), as raw JSON members.
    public var extraJSON: String = ""
    /// The structure as listed, and after `timeline.priceLevelStructureChangeTs` (if any).
    public var priceLevelStructure: PriceLevelStructure
    public var newPriceLevelStructure: PriceLevelStructure?

    public var title: String { fields.title }
    public var yesSubTitle: String { fields.yesSubTitle }
    public var noSubTitle: String { fields.noSubTitle }
    public var rulesPrimary: String { fields.rulesPrimary }

    /// The editable members as shown at `t`.
    public func fields(at t: Int64) -> MarketFields {
        if let e = edited, let c = timeline.metadataChangeTs, t >= c { return e }
        return fields
    }

    /// The static members as shown at `t`.
    @inline(__always)
    public func staticBytes(at t: Int64) -> [UInt8] {
        if let c = timeline.metadataChangeTs, t >= c, !editedStaticJSON.isEmpty { return editedStaticJSON }
        return staticJSON
    }

    public func priceLevelStructure(at t: Int64) -> PriceLevelStructure {
        if let n = newPriceLevelStructure, let c = timeline.priceLevelStructureChangeTs, t >= c { return n }
        return priceLevelStructure
    }
}
