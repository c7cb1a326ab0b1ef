/// The market queries one series needs per cycle (the plan's three windows): open markets,
/// markets closed in the last `lookback`, markets settled in the last `lookback`.
public struct MarketWindows: Sendable, Equatable {
    public var lookbackSeconds: Int64
    public var pageLimit: Int

    public init(lookbackSeconds: Int64 = 86_400, pageLimit: Int = 1000) {
        self.lookbackSeconds = lookbackSeconds
        self.pageLimit = pageLimit
    }

    public func queries(series: String, now: Timestamp) -> [MarketQuery] {
        let since = now.secondsSinceEpoch - lookbackSeconds
        var open = MarketQuery(seriesTicker: series, status: .open)
        var closed = MarketQuery(seriesTicker: series, status: .closed)
        closed.minCloseTs = since
        var settled = MarketQuery(seriesTicker: series, status: .settled)
        settled.minSettledTs = since
        open.limit = pageLimit; closed.limit = pageLimit; settled.limit = pageLimit
        return [open, closed, settled]
    }
}
