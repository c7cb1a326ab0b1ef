import KalshiModels

/// Which series ssmd tracks (from the plan): in Sports only *game* series — the ticker
/// contains `GAME` or `MATCH`, case-insensitive — and every series of every other category.
public struct TrackingRule: Sendable, Equatable {
    public var sportsCategory: String
    /// Sport names from `/search/filters_by_sport`; a series carrying one of them as a tag is
    /// a sports series even when filed under another category.
    public var sports: Set<String>

    public init(sportsCategory: String = "Sports", sports: Set<String> = []) {
        self.sportsCategory = sportsCategory
        self.sports = sports
    }

    public static func isGame(ticker: String) -> Bool {
        let upper = ticker.uppercased()
        return upper.contains("GAME") || upper.contains("MATCH")
    }

    public func isSports(_ series: Series) -> Bool {
        series.category.lowercased() == sportsCategory.lowercased()
            || series.tags.contains(where: sports.contains)
    }

    /// Whether the series is a game series, and whether ssmd tracks it.
    public func track(_ series: Series) -> (isGame: Bool, tracked: Bool) {
        let game = TrackingRule.isGame(ticker: series.ticker)
        return (game, isSports(series) ? game : true)
    }
}

