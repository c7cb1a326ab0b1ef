import SSMDCore

/// The subject and stream layout — the public contract between daemons and connectors
/// (documented in docs/connectors.md; change both together).
public enum Subjects {
    public static let root = "ssmd"

    /// Work item "sync series X", routed by one tag: `ssmd.work.<tag>`.
    public static func work(tag: String) -> String { "ssmd.work.\(SubjectToken.encode(tag))" }
    public static let allWork = "ssmd.work.>"

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
    /// A complete series sync's list of what exists: `ssmd.snapshot.<series>`. The writer
    /// marks what is missing from it as gone.
    public static func snapshot(series: String) -> String { "ssmd.snapshot.\(SubjectToken.encode(series))" }
    /// Poison messages, kept with their reason: `ssmd.dlq.<stage>`.
    public static func deadLetter(stage: String) -> String { "ssmd.dlq.\(SubjectToken.encode(stage))" }

    public static let secmasterSubjects = ["ssmd.series.>", "ssmd.catalog.>", "ssmd.event.>", "ssmd.market.>", "ssmd.snapshot.>"]
}

public enum Streams {
    /// Work queue: each work item is delivered to one replica of the pool serving its tag.
    public static let work = "SSMD_WORK"
    /// Last value per subject of every series, event and market (the connectors' snapshot).
    public static let secmaster = "SSMD_SECMASTER"
    public static let deadLetters = "SSMD_DLQ"
    /// Durable consumer of the writer over `secmaster`.
    public static let writerConsumer = "db-writer"

    /// The durable consumer that every replica serving `tag` shares. Durable names may not
    /// contain `.`, so the name is a readable prefix plus a hash of the exact tag.
    public static func workConsumer(tag: String) -> String { SafeName.make(prefix: "work", from: tag) }
}
