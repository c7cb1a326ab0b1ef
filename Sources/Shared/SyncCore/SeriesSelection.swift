import KalshiModels

/// What one schedule covers and how each of its series is routed — pure, so the whole
/// series-side decision of a cycle can be tested without the exchange.
public struct SeriesSelection: Sendable, Equatable {
    /// Tags to cover; empty with empty `categories` means everything.
    public var tags: [String]
    public var categories: [String]
    /// Keep only game series, in every category.
    public var gamesOnly: Bool

    public init(tags: [String] = [], categories: [String] = [], gamesOnly: Bool = false) {
        self.tags = tags
        self.categories = categories
        self.gamesOnly = gamesOnly
    }

    public var coversEverything: Bool { tags.isEmpty && categories.isEmpty }

    /// Categories whose `/series?category=` must be fetched.
    public func categoriesToFetch(_ map: TagsByCategories) -> [String] {
        if coversEverything { return map.categories.keys.sorted() }
        let wanted = Set(tags)
        var result = Set(categories)
        for (category, tags) in map.categories where tags.contains(where: wanted.contains) {
            result.insert(category)
        }
        return result.sorted()
    }

    /// The series of one fetched category that this selection tracks, with the tag each is
    /// routed under. A series is routed under exactly one tag so it is fetched once per cycle.
    public func select(_ series: [Series], category: String, map: TagsByCategories, rule: TrackingRule) -> [TrackedSeries] {
        let wanted = Set(tags)
        let wholeCategory = coversEverything || categories.contains(category)
        let order = map.categories[category] ?? []
        var seen = Set<String>()
        var out: [TrackedSeries] = []
        for s in series {
            guard seen.insert(s.ticker).inserted else { continue }
            let decision = rule.track(s)
            guard decision.tracked, !gamesOnly || decision.isGame else { continue }
            let matching = wholeCategory ? s.tags : s.tags.filter(wanted.contains)
            guard wholeCategory || !matching.isEmpty else { continue }
            out.append(TrackedSeries(series: s, isGame: decision.isGame,
                                     routingTag: SeriesSelection.routingTag(candidates: matching, categoryOrder: order, category: s.category.isEmpty ? category : s.category)))
        }
        return out
    }

    /// The first candidate tag in the category's own tag order (then alphabetically); a
    /// series with no tags is routed under its category's name.
    static func routingTag(candidates: [String], categoryOrder: [String], category: String) -> String {
        let usable = candidates.filter { !$0.isEmpty }
        guard !usable.isEmpty else { return category.isEmpty ? "uncategorized" : category }
        if let first = categoryOrder.first(where: usable.contains) { return first }
        return usable.sorted()[0]
    }
}

/// A series a cycle will sync.
public struct TrackedSeries: Sendable, Equatable {
    public var series: Series
    public var isGame: Bool
    public var routingTag: String
}
