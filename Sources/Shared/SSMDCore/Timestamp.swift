/// An instant with microsecond precision, as the exchange and PostgreSQL both use.
public struct Timestamp: Sendable, Hashable, Comparable, Codable {
    public var microsecondsSinceEpoch: Int64
    public init(microsecondsSinceEpoch: Int64) { self.microsecondsSinceEpoch = microsecondsSinceEpoch }
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microsecondsSinceEpoch < b.microsecondsSinceEpoch }
}
