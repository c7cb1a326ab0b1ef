import Foundation
import Logging
import KalshiModels
import PostgresClient
import SSMDCore
import SecmasterSchema

/// The read-only API: routing, parameter validation and parameterized SQL. Everything it
/// answers is JSON (snake_case) except `/` (the dashboard) and `/openapi.yaml`.
struct DataAPI: Sendable {
    let pool: ReadOnlyPool
    let dashboard: Dashboard
    let logger: Logger

    static let marketStatuses = Set(MarketStatus.allCases.map(\.rawValue))

    func handle(method: String, path: String, query: String) async -> APIResponse {
        do {
            guard method == "GET" || method == "HEAD" else {
                throw APIError(status: 405, code: "method_not_allowed", parameter: nil, message: "this API is read-only: use GET")
            }
            let q = try QueryParameters(query)
            let segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            switch segments.first {
            case nil:
                try q.allow(["series"])
                return .html(await dashboard.render(series: q["series"]))
            case "healthz":
                return .json(.object(["status": .string("ok")]))
            case "readyz":
                do {
                    _ = try await pool.query("SELECT 1")
                    return .json(.object(["status": .string("ready")]))
                } catch {
                    return .json(.object(["status": .string("unavailable"), "reason": .string("database: \(error)")]), status: 503)
                }
            case "openapi.yaml":
                return APIResponse(status: 200, contentType: "application/yaml; charset=utf-8", body: Array(OpenAPIDocument.yaml.utf8))
            case "v1":
                return try await v1(Array(segments.dropFirst()), q)
            default:
                throw APIError.notFound("no such path: \(path)")
            }
        } catch let e as APIError {
            return e.response
        } catch {
            logger.error("request failed", metadata: ["path": "\(path)", "error": "\(error)"])
            return APIError(status: 503, code: "unavailable", parameter: nil, message: "the database did not answer").response
        }
    }

    private func v1(_ s: [String], _ q: QueryParameters) async throws -> APIResponse {
        guard let path = Self.decodeSegments(s) else { throw APIError.notFound("malformed path") }
        switch path.count {
        case 1 where path[0] == "series": return try await seriesList(q)
        case 2 where path[0] == "series" && path[1] == "stats": return try await categoryStats(q)
        case 2 where path[0] == "series": try q.allow([]); return try await seriesOne(path[1])
        case 2 where path[0] == "stats" && path[1] == "series": return try await seriesStats(q)
        case 1 where path[0] == "markets": return try await marketList(q)
        case 2 where path[0] == "markets": try q.allow([]); return try await marketOne(path[1])
        case 1 where path[0] == "events": return try await eventList(q)
        case 2 where path[0] == "events": try q.allow([]); return try await eventOne(path[1])
        default: throw APIError.notFound("no such path: /v1/\(s.joined(separator: "/"))")
        }
    }

    /// Path segments are percent-decoded one by one (a ticker may be `A%2FB`).
    static func decodeSegments(_ s: [String]) -> [String]? {
        var out: [String] = []
        for x in s {
            guard let d = x.removingPercentEncoding else { return nil }
            out.append(d)
        }
        return out
    }

    // MARK: Series

    static let seriesColumns = "ticker, title, category, tags, is_game, active, created_at, updated_at"

    static func seriesJSON(_ r: PostgresResult, _ i: Int) -> JSONValue {
        .object(["ticker": r.text(i, "ticker"), "title": r.text(i, "title"), "category": r.text(i, "category"),
                 "tags": r.textArray(i, "tags"), "is_game": r.bool(i, "is_game"), "active": r.bool(i, "active"),
                 "created_at": r.time(i, "created_at"), "updated_at": r.time(i, "updated_at")])
    }

    func seriesList(_ q: QueryParameters) async throws -> APIResponse {
        try q.allow(["category", "tag", "games_only", "active", "limit", "cursor"])
        let limit = try q.limit()
        let after = try q.cursor()
        let gamesOnly = try q.bool("games_only") ?? false
        let active = try q.bool("active")
        let r = try await pool.query("""
            SELECT \(Self.seriesColumns) FROM series
            WHERE ($1::text IS NULL OR category = $1)
              AND ($2::text IS NULL OR tags @> ARRAY[$2::text])
              AND (NOT $3::bool OR is_game)
              AND ($4::bool IS NULL OR active = $4)
              AND ($5::text IS NULL OR ticker > $5)
            ORDER BY ticker
            LIMIT $6
            """, [q["category"].map(PostgresValue.text), q["tag"].map(PostgresValue.text), .bool(gamesOnly),
                  active.map(PostgresValue.bool), after.map(PostgresValue.text), .int(limit + 1)])
        let n = min(r.rowCount, limit)
        let items = (0..<n).map { Self.seriesJSON(r, $0) }
        let cursor: JSONValue = r.rowCount > limit ? .string(Cursor.encode(r[n - 1, "ticker"]!)) : .null
        return .json(.object(["series": .array(items), "cursor": cursor]))
    }

    func seriesOne(_ ticker: String) async throws -> APIResponse {
        let r = try await pool.query("SELECT \(Self.seriesColumns) FROM series WHERE ticker = $1", [.text(ticker)])
        guard r.rowCount == 1 else { throw APIError.notFound("no series \(ticker)") }
        return .json(.object(["series": Self.seriesJSON(r, 0)]))
    }

    /// Per category: series total, game series, active series.
    func categoryStats(_ q: QueryParameters) async throws -> APIResponse {
        try q.allow(["category"])
        let r = try await pool.query("""
            SELECT category, count(*) AS total, count(*) FILTER (WHERE is_game) AS games, count(*) FILTER (WHERE active) AS active
            FROM series WHERE ($1::text IS NULL OR category = $1) GROUP BY category ORDER BY category
            """, [q["category"].map(PostgresValue.text)])
        let items = (0..<r.rowCount).map { i in
            JSONValue.object(["category": r.text(i, "category"), "total": .number(Double(r.int(i, "total"))),
                              "games": .number(Double(r.int(i, "games"))), "active": .number(Double(r.int(i, "active")))])
        }
        return .json(.object(["categories": .array(items)]))
    }

    /// Per series: its markets by raw exchange status.
    func seriesStats(_ q: QueryParameters) async throws -> APIResponse {
        try q.allow(["series", "tag", "category", "limit", "cursor"])
        let limit = try q.limit()
        let after = try q.cursor()
        // One page of series, then their markets: live ones by status, gone ones apart (a
        // market the exchange no longer lists is not counted as open).
        let r = try await pool.query("""
            WITH page AS (
                SELECT ticker, category, is_game, active FROM series s
                WHERE ($1::text IS NULL OR s.ticker = $1) AND ($2::text IS NULL OR s.tags @> ARRAY[$2::text])
                  AND ($3::text IS NULL OR s.category = $3) AND ($4::text IS NULL OR s.ticker > $4)
                ORDER BY ticker LIMIT $5
            )
            SELECT p.ticker, p.category, p.is_game, p.active, m.status,
                   count(m.ticker) FILTER (WHERE m.gone_at IS NULL) AS n,
                   count(m.ticker) FILTER (WHERE m.gone_at IS NOT NULL) AS gone
            FROM page p LEFT JOIN markets m ON m.series_ticker = p.ticker
            GROUP BY p.ticker, p.category, p.is_game, p.active, m.status
            ORDER BY p.ticker, m.status
            """, [q["series"].map(PostgresValue.text), q["tag"].map(PostgresValue.text), q["category"].map(PostgresValue.text),
                  after.map(PostgresValue.text), .int(limit + 1)])
        var items: [JSONValue] = []
        var i = 0
        var last: String?
        var more = false
        while i < r.rowCount {
            // Rows of a series past the page size mean another page exists.
            if items.count == limit { more = true; break }
            let ticker = r[i, "ticker"]!
            var byStatus: [String: JSONValue] = [:]
            var total = 0, gone = 0
            let first = i
            while i < r.rowCount, r[i, "ticker"] == ticker {
                if let status = r[i, "status"], r.int(i, "n") > 0 {
                    byStatus[status] = .number(Double(r.int(i, "n")))
                    total += r.int(i, "n")
                }
                gone += r.int(i, "gone")
                i += 1
            }
            last = ticker
            items.append(.object(["series_ticker": .string(ticker), "category": r.text(first, "category"),
                                  "is_game": r.bool(first, "is_game"), "active": r.bool(first, "active"),
                                  "markets_total": .number(Double(total)), "markets_gone": .number(Double(gone)),
                                  "markets_by_status": .object(byStatus)]))
        }
        return .json(.object(["series": .array(items), "cursor": more && last != nil ? .string(Cursor.encode(last!)) : .null]))
    }

    // MARK: Markets

    /// Every stored column of `markets`, as `MarketRow.columns` declares them, then the
    /// store's own bookkeeping (gone from the exchange since; row created and last changed).
    static let marketBookkeeping = ["gone_at", "created_at", "updated_at"]

    static let marketColumns: String = (MarketRow.columns.map { c in
        // NUMERIC and JSONB as their exact text.
        c.kind == .decimal || c.kind == .json ? "\(c.name)::text AS \(c.name)" : c.name
    } + marketBookkeeping).joined(separator: ", ")

    static func marketJSON(_ r: PostgresResult, _ i: Int) -> JSONValue {
        var o: [String: JSONValue] = [:]
        for c in MarketRow.columns {
            switch c.kind {
            case .text, .decimal: o[c.name] = r.text(i, c.name)
            case .timestamp: o[c.name] = r.time(i, c.name)
            case .bool: o[c.name] = r.bool(i, c.name)
            case .integer: o[c.name] = r[i, c.name].flatMap(Double.init).map(JSONValue.number) ?? .null
            case .json: o[c.name] = r.json(i, c.name)
            }
        }
        for c in marketBookkeeping { o[c] = r.time(i, c) }
        return .object(o)
    }

    func marketList(_ q: QueryParameters) async throws -> APIResponse {
        try q.allow(["series", "tag", "status", "limit", "cursor"])
        let limit = try q.limit()
        let after = try q.cursor()
        if let s = q["status"], !Self.marketStatuses.contains(s) {
            throw APIError.badRequest("status", "must be a raw exchange status: \(Self.marketStatuses.sorted().joined(separator: ", "))")
        }
        let r = try await pool.query("""
            SELECT \(Self.marketColumns) FROM markets
            WHERE ($1::text IS NULL OR series_ticker = $1)
              AND ($2::text IS NULL OR series_ticker IN (SELECT ticker FROM series WHERE tags @> ARRAY[$2::text]))
              AND ($3::text IS NULL OR status = $3)
              AND ($4::text IS NULL OR ticker > $4)
            ORDER BY ticker
            LIMIT $5
            """, [q["series"].map(PostgresValue.text), q["tag"].map(PostgresValue.text), q["status"].map(PostgresValue.text),
                  after.map(PostgresValue.text), .int(limit + 1)])
        let n = min(r.rowCount, limit)
        let cursor: JSONValue = r.rowCount > limit ? .string(Cursor.encode(r[n - 1, "ticker"]!)) : .null
        return .json(.object(["markets": .array((0..<n).map { Self.marketJSON(r, $0) }), "cursor": cursor]))
    }

    func marketOne(_ ticker: String) async throws -> APIResponse {
        let r = try await pool.query("SELECT \(Self.marketColumns) FROM markets WHERE ticker = $1", [.text(ticker)])
        guard r.rowCount == 1 else { throw APIError.notFound("no market \(ticker)") }
        return .json(.object(["market": Self.marketJSON(r, 0)]))
    }

    // MARK: Events

    /// Every stored column of `events`: what the exchange said (its own `last_updated_ts` as
    /// `exchange_updated_at`), when it was read, and the store's bookkeeping.
    static let eventTextColumns = ["ticker", "series_ticker", "title", "sub_title", "category", "strike_period", "collateral_return_type"]
    static let eventTimeColumns = ["strike_date", "exchange_updated_at", "fetched_at", "gone_at", "created_at", "updated_at"]
    static let eventColumns = (eventTextColumns + ["mutually_exclusive"] + eventTimeColumns).joined(separator: ", ")

    static func eventJSON(_ r: PostgresResult, _ i: Int) -> JSONValue {
        var o: [String: JSONValue] = [:]
        for c in eventTextColumns { o[c] = r.text(i, c) }
        o["mutually_exclusive"] = r.bool(i, "mutually_exclusive")
        for c in eventTimeColumns { o[c] = r.time(i, c) }
        return .object(o)
    }

    func eventList(_ q: QueryParameters) async throws -> APIResponse {
        try q.allow(["series", "limit", "cursor"])
        let limit = try q.limit()
        let after = try q.cursor()
        let r = try await pool.query("""
            SELECT \(Self.eventColumns) FROM events
            WHERE ($1::text IS NULL OR series_ticker = $1)
              AND ($2::text IS NULL OR ticker > $2)
            ORDER BY ticker
            LIMIT $3
            """, [q["series"].map(PostgresValue.text), after.map(PostgresValue.text), .int(limit + 1)])
        let n = min(r.rowCount, limit)
        let cursor: JSONValue = r.rowCount > limit ? .string(Cursor.encode(r[n - 1, "ticker"]!)) : .null
        return .json(.object(["events": .array((0..<n).map { Self.eventJSON(r, $0) }), "cursor": cursor]))
    }

    func eventOne(_ ticker: String) async throws -> APIResponse {
        let r = try await pool.query("SELECT \(Self.eventColumns) FROM events WHERE ticker = $1", [.text(ticker)])
        guard r.rowCount == 1 else { throw APIError.notFound("no event \(ticker)") }
        return .json(.object(["event": Self.eventJSON(r, 0)]))
    }
}
