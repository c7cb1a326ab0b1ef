/// The whole simulated exchange: every series, event and market that exists at any time of
/// the simulation, in one stable order. Entities created "later" are already here with a
/// future `created_time`; the clock decides what is visible. The universe itself never
/// changes after generation, so it is shared freely between request handlers.
public struct Universe: Sendable {
    public let seed: UInt64
    public let scale: Double
    /// The simulated instant the universe was generated around (the clock's start).
    public let referenceTs: Int64
    /// Sorted by ticker.
    public let series: [SeriesRecord]
    /// Grouped by series (in series order), sorted by ticker within a series.
    public let events: [EventRecord]
    /// Grouped by event (in event order), sorted by ticker within an event.
    public let markets: [MarketRecord]
    public let seriesIndex: [String: Int]
    public let eventIndex: [String: Int]
    public let marketIndex: [String: Int]

    public init(seed: UInt64, scale: Double, referenceTs: Int64) {
        var gen = UniverseGenerator(seed: seed, scale: scale, ref: referenceTs)
        let built = gen.build()
        self.seed = seed
        self.scale = scale
        self.referenceTs = referenceTs
        self.series = built.series
        self.events = built.events
        self.markets = built.markets
        var si: [String: Int] = [:]
        si.reserveCapacity(series.count)
        for (i, s) in series.enumerated() { si[s.ticker] = i }
        var ei: [String: Int] = [:]
        ei.reserveCapacity(events.count)
        for (i, e) in events.enumerated() { ei[e.ticker] = i }
        var mi: [String: Int] = [:]
        mi.reserveCapacity(markets.count)
        for (i, m) in markets.enumerated() { mi[m.ticker] = i }
        seriesIndex = si
        eventIndex = ei
        marketIndex = mi
    }

    // MARK: Visibility at a simulated time

    public func isSeriesVisible(_ i: Int, at t: Int64) -> Bool { series[i].isListed(at: t) }

    public func isEventVisible(_ i: Int, at t: Int64) -> Bool {
        events[i].createdTs <= t && series[events[i].seriesIndex].isListed(at: t)
    }

    public func isMarketVisible(_ i: Int, at t: Int64) -> Bool {
        markets[i].timeline.createdTs <= t && isEventVisible(markets[i].eventIndex, at: t)
    }

    public func isMultivariate(series i: Int) -> Bool { series[i].kind == .multivariate }
}
