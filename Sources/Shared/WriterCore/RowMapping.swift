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
        self.init(msg.market, seriesTicker: msg.seriesTicker, fetchedAt: msg.fetchedAt)
    }
}
