/// Follows the exchange's cursor pagination: stop on an empty cursor, refuse a cursor that
/// repeats (a broken server would otherwise loop forever), and bound the page count.
public struct CursorPaginator: Sendable {
    public let endpoint: String
    public let maxPages: Int
    public private(set) var pages = 0
    private var seen: Set<String> = []

    public init(endpoint: String, maxPages: Int = 10_000) {
        self.endpoint = endpoint
        self.maxPages = maxPages
    }

    /// The cursor for the next request, or nil when the listing is complete.
    /// Call once per page received, with the cursor that page returned.
    public mutating func next(after cursor: String?) throws -> String? {
        pages += 1
        guard let cursor, !cursor.isEmpty else { return nil }
        guard seen.insert(cursor).inserted else {
            throw ExchangeError.repeatedCursor(endpoint: endpoint, cursor: cursor, page: pages)
        }
        guard pages < maxPages else { throw ExchangeError.tooManyPages(endpoint: endpoint, pages: pages) }
        return cursor
    }
}
