import SSMDCore
import SecmasterSchema
import WireContract

/// One batch of secmaster messages reduced to what must be written: per key only the newest
/// exchange state (by the exchange's update time, then fetch time). Pure; the writer's shell
/// feeds it decoded messages and turns the result into one transaction.
public struct CoalescedBatch: Sendable {
    public private(set) var series: [String: SeriesMessage] = [:]
    public private(set) var events: [String: EventMessage] = [:]
    public private(set) var markets: [String: MarketRow] = [:]
    public private(set) var catalogs: [String: CatalogMessage] = [:]
    public private(set) var snapshots: [String: SeriesSnapshotMessage] = [:]
    public private(set) var messages = 0

    public init() {}

    public var isEmpty: Bool { messages == 0 }

    public mutating func add(_ m: SeriesMessage) {
        messages += 1
        if let old = series[m.series.ticker], old.fetchedAt > m.fetchedAt { return }
        series[m.series.ticker] = m
    }

    public mutating func add(_ m: EventMessage) {
        messages += 1
        if let old = events[m.event.ticker],
           (old.event.lastUpdated, old.fetchedAt) > (m.event.lastUpdated, m.fetchedAt) { return }
        events[m.event.ticker] = m
    }

    public mutating func add(_ m: MarketMessage) {
        add(MarketRow(m))
    }

    /// A market already reduced to its row (the writer's fast decoding path).
    public mutating func add(_ m: MarketRow) {
        messages += 1
        if let old = markets[m.ticker], (old.updatedTime, old.fetchedAt) > (m.updatedTime, m.fetchedAt) { return }
        markets[m.ticker] = m
    }

    public mutating func add(_ m: CatalogMessage) {
        messages += 1
        if let old = catalogs[m.category], old.fetchedAt > m.fetchedAt { return }
        catalogs[m.category] = m
    }

    public mutating func add(_ m: SeriesSnapshotMessage) {
        messages += 1
        if let old = snapshots[m.seriesTicker], old.fetchedAt > m.fetchedAt { return }
        snapshots[m.seriesTicker] = m
    }
}

/// Optional timestamps order with "absent" first, so any known time beats an unknown one.
func > (a: (Timestamp?, Timestamp), b: (Timestamp?, Timestamp)) -> Bool {
    let x = a.0?.microsecondsSinceEpoch ?? Int64.min, y = b.0?.microsecondsSinceEpoch ?? Int64.min
    return x != y ? x > y : a.1 > b.1
}
