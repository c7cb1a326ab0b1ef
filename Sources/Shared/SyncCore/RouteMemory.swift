/// The routing tag each tracked series had when its work was last handed out, kept between
/// cycles (KV `ssmd_state`, `routes.<schedule>`). A series whose routing tag changes (the
/// exchange re-tagged it) publishes its markets under a new `ssmd.market.<tag>.…` subject;
/// the old subjects' last values would stay forever, so the series-fetcher purges them.
///
/// Stored grouped by tag (each tag written once), which keeps ten thousand series well
/// under a KV value's size limit.
public struct RouteMemory: Codable, Sendable, Equatable {
    /// Routing tag → its series, sorted.
    public private(set) var byTag: [String: [String]]

    public init(routes: [String: String] = [:]) {
        var byTag: [String: [String]] = [:]
        for (series, tag) in routes { byTag[tag, default: []].append(series) }
        for tag in byTag.keys { byTag[tag]!.sort() }
        self.byTag = byTag
    }

    /// Series → routing tag.
    public var routes: [String: String] {
        var out: [String: String] = [:]
        for (tag, series) in byTag { for s in series { out[s] = tag } }
        return out
    }

    /// Series routed before and now under another tag, with the tag they left, by series.
    public func moved(to now: [String: String]) -> [(series: String, from: String)] {
        routes.compactMap { series, old in
            guard let new = now[series], new != old else { return nil }
            return (series, old)
        }.sorted { $0.series < $1.series }
    }

    /// This memory with `now`'s routes for the series it names (others are kept: a series
    /// missing from one cycle — its category failed — keeps its route).
    public func updated(with now: [String: String]) -> RouteMemory {
        var all = routes
        for (series, tag) in now { all[series] = tag }
        return RouteMemory(routes: all)
    }

    enum CodingKeys: String, CodingKey { case byTag = "by_tag" }
}
