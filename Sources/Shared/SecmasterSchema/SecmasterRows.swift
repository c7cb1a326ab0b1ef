import SSMDCore

/// Storage-level rows of the secmaster, independent of the exchange's JSON.
/// Decimal fields are exact decimal text (`"0.5600"`, `"10.00"`) stored as `NUMERIC`.

public struct SeriesRow: Sendable, Equatable {
    public var ticker: String
    public var title: String
    public var category: String
    public var tags: [String]
    public var isGame: Bool

    public init(ticker: String, title: String, category: String, tags: [String], isGame: Bool) {
        self.ticker = ticker
        self.title = title
        self.category = category
        self.tags = tags
        self.isGame = isGame
    }
}

public struct EventRow: Sendable, Equatable {
    public var ticker: String
    public var seriesTicker: String
    public var title: String?
    public var subTitle: String?
    public var category: String?
    public var mutuallyExclusive: Bool?
    public var strikeDate: Timestamp?
    public var strikePeriod: String?
    public var collateralReturnType: String?
    public var exchangeUpdatedAt: Timestamp?
    public var fetchedAt: Timestamp

    public init(
        ticker: String, seriesTicker: String, title: String? = nil, subTitle: String? = nil,
        category: String? = nil, mutuallyExclusive: Bool? = nil, strikeDate: Timestamp? = nil,
        strikePeriod: String? = nil, collateralReturnType: String? = nil,
        exchangeUpdatedAt: Timestamp? = nil, fetchedAt: Timestamp
    ) {
        self.ticker = ticker
        self.seriesTicker = seriesTicker
        self.title = title
        self.subTitle = subTitle
        self.category = category
        self.mutuallyExclusive = mutuallyExclusive
        self.strikeDate = strikeDate
        self.strikePeriod = strikePeriod
        self.collateralReturnType = collateralReturnType
        self.exchangeUpdatedAt = exchangeUpdatedAt
        self.fetchedAt = fetchedAt
    }
}

/// A market as the secmaster stores it. Its columns — name, the exchange's JSON key, type —
/// are listed once, in ``MarketRow/columns``; the fast decoder, the COPY order, the SELECT
/// lists, the data API and its OpenAPI schema all follow that list.
public struct MarketRow: Sendable, Equatable {
    public var ticker: String
    public var eventTicker: String
    public var seriesTicker: String
    public var marketType: String?
    public var title: String?
    public var subtitle: String?
    public var yesSubTitle: String?
    public var noSubTitle: String?
    /// Raw exchange status: initialized, active, inactive, closed, determined, disputed, amended, finalized.
    public var status: String
    public var result: String?
    public var createdTime: Timestamp?
    public var updatedTime: Timestamp?
    public var openTime: Timestamp?
    public var closeTime: Timestamp?
    public var expectedExpirationTime: Timestamp?
    public var latestExpirationTime: Timestamp?
    public var expirationTime: Timestamp?
    public var settlementTs: Timestamp?
    public var settlementTimerSeconds: Int64?
    public var canCloseEarly: Bool?
    public var earlyCloseCondition: String?
    public var strikeType: String?
    public var floorStrike: String?
    public var capStrike: String?
    /// `custom_strike` as JSON text (stored as JSONB).
    public var customStrikeJSON: String?
    public var functionalStrike: String?
    public var rulesPrimary: String?
    public var rulesSecondary: String?
    public var priceLevelStructure: String?
    /// `price_ranges` (`[{"start", "end", "step"}]`) as JSON text (stored as JSONB).
    public var priceRangesJSON: String?
    public var yesBidDollars: String?
    public var yesAskDollars: String?
    public var noBidDollars: String?
    public var noAskDollars: String?
    public var lastPriceDollars: String?
    public var notionalValueDollars: String?
    public var settlementValueDollars: String?
    public var volumeFp: String?
    public var volume24hFp: String?
    public var openInterestFp: String?
    public var expirationValue: String?
    public var occurrenceDatetime: Timestamp?
    public var feeWaiverExpirationTime: Timestamp?
    public var primaryParticipantKey: String?
    public var isProvisional: Bool?
    public var fetchedAt: Timestamp

    public init(
        ticker: String, eventTicker: String, seriesTicker: String, marketType: String? = nil,
        title: String? = nil, subtitle: String? = nil, yesSubTitle: String? = nil, noSubTitle: String? = nil,
        status: String, result: String? = nil, createdTime: Timestamp? = nil, updatedTime: Timestamp? = nil,
        openTime: Timestamp? = nil, closeTime: Timestamp? = nil, expectedExpirationTime: Timestamp? = nil,
        latestExpirationTime: Timestamp? = nil, expirationTime: Timestamp? = nil, settlementTs: Timestamp? = nil,
        settlementTimerSeconds: Int64? = nil, canCloseEarly: Bool? = nil, earlyCloseCondition: String? = nil,
        strikeType: String? = nil, floorStrike: String? = nil, capStrike: String? = nil,
        customStrikeJSON: String? = nil, functionalStrike: String? = nil, rulesPrimary: String? = nil,
        rulesSecondary: String? = nil, priceLevelStructure: String? = nil, priceRangesJSON: String? = nil,
        yesBidDollars: String? = nil, yesAskDollars: String? = nil, noBidDollars: String? = nil,
        noAskDollars: String? = nil, lastPriceDollars: String? = nil, notionalValueDollars: String? = nil,
        settlementValueDollars: String? = nil, volumeFp: String? = nil, volume24hFp: String? = nil,
        openInterestFp: String? = nil, expirationValue: String? = nil, occurrenceDatetime: Timestamp? = nil,
        feeWaiverExpirationTime: Timestamp? = nil, primaryParticipantKey: String? = nil, isProvisional: Bool? = nil,
        fetchedAt: Timestamp
    ) {
        self.ticker = ticker; self.eventTicker = eventTicker; self.seriesTicker = seriesTicker
        self.marketType = marketType; self.title = title; self.subtitle = subtitle
        self.yesSubTitle = yesSubTitle; self.noSubTitle = noSubTitle; self.status = status; self.result = result
        self.createdTime = createdTime; self.updatedTime = updatedTime; self.openTime = openTime
        self.closeTime = closeTime; self.expectedExpirationTime = expectedExpirationTime
        self.latestExpirationTime = latestExpirationTime; self.expirationTime = expirationTime
        self.settlementTs = settlementTs; self.settlementTimerSeconds = settlementTimerSeconds
        self.canCloseEarly = canCloseEarly; self.earlyCloseCondition = earlyCloseCondition
        self.strikeType = strikeType; self.floorStrike = floorStrike; self.capStrike = capStrike
        self.customStrikeJSON = customStrikeJSON; self.functionalStrike = functionalStrike
        self.rulesPrimary = rulesPrimary; self.rulesSecondary = rulesSecondary
        self.priceLevelStructure = priceLevelStructure; self.priceRangesJSON = priceRangesJSON
        self.yesBidDollars = yesBidDollars; self.yesAskDollars = yesAskDollars
        self.noBidDollars = noBidDollars; self.noAskDollars = noAskDollars
        self.lastPriceDollars = lastPriceDollars; self.notionalValueDollars = notionalValueDollars
        self.settlementValueDollars = settlementValueDollars; self.volumeFp = volumeFp
        self.volume24hFp = volume24hFp; self.openInterestFp = openInterestFp
        self.expirationValue = expirationValue; self.occurrenceDatetime = occurrenceDatetime
        self.feeWaiverExpirationTime = feeWaiverExpirationTime; self.primaryParticipantKey = primaryParticipantKey
        self.isProvisional = isProvisional; self.fetchedAt = fetchedAt
    }
}

/// What one upsert did to one table. `inserted + updated + unchanged` equals the number of
/// rows passed in; `unchanged` includes duplicates dropped within the batch, rows identical
/// to what is stored, and snapshots older than what is stored.
public struct UpsertCounts: Sendable, Equatable, CustomStringConvertible {
    public var inserted: Int
    public var updated: Int
    public var unchanged: Int

    public init(inserted: Int = 0, updated: Int = 0, unchanged: Int = 0) {
        self.inserted = inserted
        self.updated = updated
        self.unchanged = unchanged
    }

    public var written: Int { inserted + updated }
    public var description: String { "inserted \(inserted), updated \(updated), unchanged \(unchanged)" }
}
