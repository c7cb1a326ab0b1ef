import SecmasterSchema
import WireContract

/// Messages → storage rows. The storage layer knows nothing of the exchange's JSON.
extension SeriesRow {
    public init(_ m: SeriesMessage) {
        self.init(ticker: m.series.ticker, title: m.series.title, category: m.series.category, tags: m.series.tags, isGame: m.isGame)
    }
}

extension EventRow {
    public init(_ m: EventMessage) {
        let e = m.event
        self.init(ticker: e.ticker, seriesTicker: e.seriesTicker, title: e.title, subTitle: e.subTitle, category: e.category,
                  mutuallyExclusive: e.mutuallyExclusive, strikeDate: e.strikeDate, strikePeriod: e.strikePeriod,
                  collateralReturnType: e.collateralReturnType, exchangeUpdatedAt: e.lastUpdated, fetchedAt: m.fetchedAt)
    }
}

extension MarketRow {
    public init(_ msg: MarketMessage) {
        let m = msg.market
        self.init(ticker: m.ticker, eventTicker: m.eventTicker, seriesTicker: msg.seriesTicker, marketType: m.marketType,
                  title: m.title, subtitle: m.subtitle, yesSubTitle: m.yesSubTitle, noSubTitle: m.noSubTitle,
                  status: m.status, result: m.result, createdTime: m.createdTime, updatedTime: m.updatedTime,
                  openTime: m.openTime, closeTime: m.closeTime, expectedExpirationTime: m.expectedExpirationTime,
                  latestExpirationTime: m.latestExpirationTime, settlementTs: m.settlementTs, canCloseEarly: m.canCloseEarly,
                  strikeType: m.strikeType, floorStrike: m.floorStrike?.text, capStrike: m.capStrike?.text,
                  customStrikeJSON: m.customStrike?.jsonText, rulesPrimary: m.rulesPrimary, rulesSecondary: m.rulesSecondary,
                  yesBidDollars: m.yesBid?.text, yesAskDollars: m.yesAsk?.text, noBidDollars: m.noBid?.text,
                  noAskDollars: m.noAsk?.text, lastPriceDollars: m.lastPrice?.text, notionalValueDollars: m.notionalValue?.text,
                  settlementValueDollars: m.settlementValue?.text, volumeFp: m.volume?.text, volume24hFp: m.volume24h?.text,
                  openInterestFp: m.openInterest?.text, fetchedAt: msg.fetchedAt)
    }
}
