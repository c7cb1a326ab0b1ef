import KalshiModels

/// The feed's queries merged: markets grouped by series in first-seen order, one entry per
/// ticker — the newer description when the same market comes from two queries. Markets go
/// straight into their series' list, so a large feed is held once, not copied at the end.
package struct FeedMerge {
    package private(set) var changes: [String: [Market]] = [:]

    package init() {}
    private var position: [String: (series: String, index: Int)] = [:]

    package mutating func add(_ m: Market, series: String) {
        if let at = position[m.ticker] {
            let old = changes[at.series]![at.index]
            if (m.updatedTime ?? .seconds(0)) >= (old.updatedTime ?? .seconds(0)) {
                changes[at.series]![at.index] = m
            }
        } else {
            position[m.ticker] = (series, changes[series, default: []].count)
            changes[series, default: []].append(m)
        }
    }
}
