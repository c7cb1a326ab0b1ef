import SSMDCore

/// The subject and stream layout — the public contract between daemons and connectors
/// (documented in docs/connectors.md; change both together).
public enum Subjects {
    public static let root = "ssmd"

    /// Work item "sync series X", routed by one tag: `ssmd.work.<tag>`.
    public static func work(tag: String) -> String { "ssmd.work.\(SubjectToken.encode(tag))" }
    public static let allWork = "ssmd.work.>"
    /// Parts of an exchange-wide listing (`ListingItem`), for any replica: `ssmd.listing`.
    public static let listing = "ssmd.listing"

    /// Series metadata, last value per subject: `ssmd.series.<series>`.
    public static func series(_ ticker: String) -> String { "ssmd.series.\(SubjectToken.encode(ticker))" }
    /// The complete list of a category's series, published only after a complete fetch:
    /// `ssmd.catalog.<category>`. The writer deactivates series missing from it.
    public static func catalog(category: String) -> String { "ssmd.catalog.\(SubjectToken.encode(category))" }
    /// Event: `ssmd.event.<series>.<event>`.
    public static func event(series: String, event: String) -> String {
        "ssmd.event.\(SubjectToken.encode(series)).\(SubjectToken.encode(event))"
    }
    /// Market update: `ssmd.market.<tag>.<series>.<market>` — connectors subscribe with wildcards.
    public static func market(tag: String, series: String, market: String) -> String {
        "ssmd.market.\(SubjectToken.encode(tag)).\(SubjectToken.encode(series)).\(SubjectToken.encode(market))"
    }
    /// Every market subject of one series under any routing tag (`ssmd.market.*.<series>.*`):
    /// what its markets left behind on every tag they were ever routed by.
    public static func marketFilter(series: String) -> String {
        "ssmd.market.*.\(SubjectToken.encode(series)).*"
    }
    /// Every event subject of one series (`ssmd.event.<series>.*`).
    public static func eventFilter(series: String) -> String { "ssmd.event.\(SubjectToken.encode(series)).*" }
    /// Every market subject of one series under one tag (`ssmd.market.<tag>.<series>.>`).
    public static func marketFilter(tag: String, series: String) -> String {
        "ssmd.market.\(SubjectToken.encode(tag)).\(SubjectToken.encode(series)).>"
    }
    /// A complete series sync's list of what exists: `ssmd.snapshot.<series>`. The writer
    /// marks what is missing from it as gone.
    public static func snapshot(series: String) -> String { "ssmd.snapshot.\(SubjectToken.encode(series))" }
    /// Poison messages, kept with their reason: `ssmd.dlq.<stage>`.
    public static func deadLetter(stage: String) -> String { "ssmd.dlq.\(SubjectToken.encode(stage))" }

    /// The exchange's lifecycle messages as the lifecycle-listener republishes them:
    /// `ssmd.lifecycle.market.<event type>.<market>` (created, activated, deactivated,
    /// close_date_updated, determined, settled, price_level_structure_updated,
    /// metadata_updated), `ssmd.lifecycle.event.<event>` (event created) and
    /// `ssmd.lifecycle.gap` (the listener may have missed messages in a window).
    public static func lifecycle(marketEvent eventType: String, market: String) -> String {
        "ssmd.lifecycle.market.\(SubjectToken.encode(eventType)).\(SubjectToken.encode(market))"
    }
    public static func lifecycle(event: String) -> String { "ssmd.lifecycle.event.\(SubjectToken.encode(event))" }
    public static let lifecycleGap = "ssmd.lifecycle.gap"
    public static let allLifecycle = "ssmd.lifecycle.>"

    public static let secmasterSubjects = ["ssmd.series.>", "ssmd.catalog.>", "ssmd.event.>", "ssmd.market.>", "ssmd.snapshot.>"]
    public static let allDeadLetters = "ssmd.dlq.>"

    /// The kind of payload a subject carries, from its second token (`ssmd.market.…` →
    /// `.market`); nil for a subject outside this layout.
    public static func kind(of subject: String) -> MessageKind? {
        let tokens = subject.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard tokens.count == 3, tokens[0] == root else { return nil }
        return MessageKind(rawValue: String(tokens[1]))
    }
}

/// Keys of ssmd's KV buckets. A KV key allows only `[-/_=.a-zA-Z0-9]`, so names (schedules
/// are free text) are encoded like subject tokens with `=` as the escape instead of `%`
/// (`sports & more` → `sports=20=26=20more`): reversible, readable for plain names, and the
/// same key as before for names that need no escaping.
public enum StateKeys {
    /// A schedule's planner state (`ssmd_state`).
    public static func plan(schedule: String) -> String { "plan." + encode(schedule) }
    /// A schedule's last cycle report (`ssmd_state`).
    public static func cycle(schedule: String) -> String { "cycle." + encode(schedule) }
    public static let cyclePrefix = "cycle."
    /// The routing tag of each series a schedule tracks (`ssmd_state`).
    public static func routes(schedule: String) -> String { "routes." + encode(schedule) }
    /// Chunk `index` of the route table a schedule's exchange-wide listing attributes series
    /// by (`ssmd_state`); each listing overwrites them (`RouteTable`).
    public static func listingRoutes(schedule: String, index: Int) -> String { "listing-routes.\(encode(schedule)).\(index)" }
    /// The shared exchange-wide change feed's position (`ssmd_state`, `FeedState`).
    public static let feed = "feed"
    /// The shared change feed's due-time index (`ssmd_state`), for a restart.
    public static let feedDue = "due-feed"
    /// A schedule's due-time index of unopened markets (`ssmd_state`), for a restart.
    public static func due(schedule: String) -> String { "due." + encode(schedule) }

    static func encode(_ name: String) -> String {
        SubjectToken.encode(name).replacingOccurrences(of: "%", with: "=")
    }

    /// The name a key was made from.
    public static func decode(_ encoded: String) throws -> String {
        try SubjectToken.decode(encoded.replacingOccurrences(of: "=", with: "%"))
    }
}

public enum Streams {
    /// Work queue: each work item is delivered to one replica of the pool serving its tag.
    public static let work = "SSMD_WORK"
    /// Last value per subject of every series, event and market (the connectors' snapshot).
    public static let secmaster = "SSMD_SECMASTER"
    public static let deadLetters = "SSMD_DLQ"
    /// The exchange's lifecycle messages (a day of them), for the series-fetcher's targeted
    /// refreshes and for connectors.
    public static let lifecycle = "SSMD_LIFECYCLE"
    /// Durable consumer over `lifecycle` of the series-fetcher's targeted refreshes.
    public static let freshnessConsumer = "freshness"
    /// Durable consumer over `work` (subject `ssmd.listing`) that every replica shares for
    /// the parts of exchange-wide listings.
    public static let listingConsumer = "listing"
    /// Durable consumer of the writer over `secmaster`.
    public static let writerConsumer = "db-writer"

    /// The durable consumer that every replica serving `tag` shares. Durable names may not
    /// contain `.`, so the name is a readable prefix plus a hash of the exact tag.
    public static func workConsumer(tag: String) -> String { SafeName.make(prefix: "work", from: tag) }
}
