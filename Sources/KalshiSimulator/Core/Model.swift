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
    public var metadataChangeTs: Int64?
    public var marketRange: Range<Int> = 0..<0

    public func lastUpdatedTs(at t: Int64) -> Int64 {
        if let m = metadataChangeTs, m <= t, m > createdTs { return m }
        return createdTs
    }
}

public struct MarketRecord: Sendable {
    public var ticker: String
    public var eventIndex: Int
    public var seriesIndex: Int
    public var timeline: MarketTimeline
    public var isMultivariate: Bool
    public var marketType: String
    public var title: String
    public var yesSubTitle: String
    public var noSubTitle: String
    public var canCloseEarly: Bool
    public var expectedExpirationTs: Int64
    public var latestExpirationTs: Int64
    public var rulesPrimary: String
    public var rulesSecondary: String
    /// Quote centre in ten-thousandths of a dollar, and how the market resolves.
    public var basePrice: Int64
    public var resultYes: Bool
    public var expirationValue: String
    public var baseVolume: Int64
    /// Everything in the market's JSON that never changes, without braces: rendered once
    /// at generation so a page of markets is mostly memcpy.
    public var staticJSON: [UInt8] = []
    /// Extra static fields the generator chose (strikes, MVE legs), as raw JSON members.
    public var extraJSON: String = ""
    public var priceLevelStructure: String
}
