/// A sync schedule: which series (tags, categories, games only) and how often.
public struct Schedule: Sendable, Equatable {
    public var name: String
    public var selection: SeriesSelection
    public var interval: Duration

    public init(name: String, selection: SeriesSelection, interval: Duration) {
        self.name = name
        self.selection = selection
        self.interval = interval
    }

    /// The default: one schedule covering everything.
    public static let everything = Schedule(name: "all", selection: SeriesSelection(), interval: .seconds(300))
}
