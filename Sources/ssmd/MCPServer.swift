import ArgumentParser
import Foundation
import Logging
import MCP
import DaemonKit
import KalshiModels
import PostgresClient
import SSMDCore

/// `ssmd mcp`: Model Context Protocol tools over stdio (JSON-RPC on stdin/stdout; logs on
/// stderr) reading the security master in PostgreSQL, read-only.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve MCP tools (list_series, series_stats, series_markets) over stdio.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let conninfo = try database.resolve()
        StructuredLogHandler.bootstrap(level: .warning, format: .logfmt)
        let tools = SecmasterTools(conninfo: conninfo)
        let server = Server(name: "ssmd", version: SSMDCore.SSMD.version,
                            instructions: "Read-only access to the ssmd security master of Kalshi series and markets.",
                            capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: SecmasterTools.definitions) }
        await server.withMethodHandler(CallTool.self) { params in
            do {
                let result = try await tools.call(params.name, params.arguments ?? [:])
                return .init(content: [.text(text: result.jsonText, annotations: nil, _meta: nil)], isError: false)
            } catch let e as ToolError {
                return .init(content: [.text(text: e.message, annotations: nil, _meta: nil)], isError: true)
            } catch {
                return .init(content: [.text(text: "database error: \(error)", annotations: nil, _meta: nil)], isError: true)
            }
        }
        try await server.start(transport: StdioTransport())
        await server.waitUntilCompleted()
        await tools.close()
    }
}

struct ToolError: Error { var message: String }

/// The tools: argument checking and parameterized SQL over one read-only connection.
actor SecmasterTools {
    let conninfo: String
    private var connection: PostgresConnection?

    init(conninfo: String) { self.conninfo = conninfo }

    static let closed = MarketStatus.closedPhase.map(\.rawValue)

    static let definitions: [Tool] = [
        Tool(name: "list_series",
             description: "Tracked Kalshi series from the security master, by ticker. Filters: category (exact, e.g. Sports), tag (exact, e.g. Basketball or S&P), games_only, include_inactive; limit (default 200, max 1000).",
             inputSchema: .object(["type": .string("object"), "properties": .object([
                "category": .object(["type": .string("string"), "description": .string("Exact category")]),
                "tag": .object(["type": .string("string"), "description": .string("Exact tag")]),
                "games_only": .object(["type": .string("boolean"), "description": .string("Only game series")]),
                "include_inactive": .object(["type": .string("boolean"), "description": .string("Also series the exchange no longer lists")]),
                "limit": .object(["type": .string("integer"), "minimum": .int(1), "maximum": .int(1000)]),
             ])]),
             annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(name: "series_stats",
             description: "Per category: series total, game series, active series, and their markets open (active), closed (closed/determined/disputed/amended) and settled (finalized). Optional category filter.",
             inputSchema: .object(["type": .string("object"), "properties": .object([
                "category": .object(["type": .string("string"), "description": .string("Only this category")]),
             ])]),
             annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(name: "series_markets",
             description: "Markets of one series (by ticker), with raw exchange status and dollar prices. Optional status filter (raw: active, closed, determined, finalized …); limit (default 200, max 1000).",
             inputSchema: .object(["type": .string("object"), "properties": .object([
                "series": .object(["type": .string("string"), "description": .string("Series ticker, e.g. KXNBAGAME")]),
                "status": .object(["type": .string("string")]),
                "limit": .object(["type": .string("integer"), "minimum": .int(1), "maximum": .int(1000)]),
             ]), "required": .array([.string("series")])]),
             annotations: .init(readOnlyHint: true, openWorldHint: false)),
    ]

    func call(_ name: String, _ args: [String: Value]) async throws -> JSONValue {
        func string(_ k: String) throws -> String? {
            guard let v = args[k], v != .null else { return nil }
            guard let s = v.stringValue else { throw ToolError(message: "\(k) must be a string") }
            return s.isEmpty ? nil : s
        }
        func bool(_ k: String) throws -> Bool {
            guard let v = args[k], v != .null else { return false }
            if let b = v.boolValue { return b }
            if let s = v.stringValue, ["true", "false"].contains(s) { return s == "true" }
            throw ToolError(message: "\(k) must be a boolean")
        }
        func limit() throws -> Int {
            guard let v = args["limit"], v != .null else { return 200 }
            guard let n = v.intValue ?? v.doubleValue.map({ Int($0) }) ?? v.stringValue.flatMap({ Int($0) }), (1...1000).contains(n) else {
                throw ToolError(message: "limit must be an integer from 1 to 1000")
            }
            return n
        }
        switch name {
        case "list_series":
            let (category, tag, games, inactive, n) = (try string("category"), try string("tag"), try bool("games_only"), try bool("include_inactive"), try limit())
            let r = try await query("""
                SELECT ticker, title, category, tags, is_game, active FROM series
                WHERE ($1::text IS NULL OR category = $1) AND ($2::text IS NULL OR tags @> ARRAY[$2::text])
                  AND (NOT $3::bool OR is_game) AND ($4::bool OR active)
                ORDER BY ticker LIMIT $5
                """, [category.map(PostgresValue.text), tag.map(PostgresValue.text), .bool(games), .bool(inactive), .int(n + 1)])
            let items: [JSONValue] = (0..<min(n, r.rowCount)).map { i in
                .object(["ticker": .string(r[i, "ticker"] ?? ""), "title": .string(r[i, "title"] ?? ""), "category": .string(r[i, "category"] ?? ""),
                         "tags": .array((PostgresArrayLiteral.decode(r[i, "tags"] ?? "{}") ?? []).compactMap { $0 }.map(JSONValue.string)),
                         "is_game": .bool(r[i, "is_game"] == "t"), "active": .bool(r[i, "active"] == "t")])
            }
            return .object(["series": .array(items), "count": .number(Double(items.count)), "truncated": .bool(r.rowCount > n)])
        case "series_stats":
            let category = try string("category")
            let r = try await query("""
                WITH m AS (SELECT series_ticker, count(*) FILTER (WHERE status = 'active') AS open,
                                  count(*) FILTER (WHERE status = ANY($2::text[])) AS closed,
                                  count(*) FILTER (WHERE status = 'finalized') AS settled
                           FROM markets WHERE gone_at IS NULL GROUP BY series_ticker)
                SELECT s.category, count(*) AS total, count(*) FILTER (WHERE s.is_game) AS games, count(*) FILTER (WHERE s.active) AS active,
                       coalesce(sum(m.open), 0) AS open, coalesce(sum(m.closed), 0) AS closed, coalesce(sum(m.settled), 0) AS settled
                FROM series s LEFT JOIN m ON m.series_ticker = s.ticker
                WHERE ($1::text IS NULL OR s.category = $1)
                GROUP BY s.category ORDER BY s.category
                """, [category.map(PostgresValue.text), .array(Self.closed)])
            let items: [JSONValue] = (0..<r.rowCount).map { i in
                var o: [String: JSONValue] = ["category": .string(r[i, "category"] ?? "")]
                for k in ["total", "games", "active"] { o[k] = .number(Double(r[i, k].flatMap { Int($0) } ?? 0)) }
                o["markets"] = .object(Dictionary(uniqueKeysWithValues: ["open", "closed", "settled"].map { ($0, JSONValue.number(Double(r[i, $0].flatMap { Int($0) } ?? 0))) }))
                return .object(o)
            }
            return .object(["categories": .array(items)])
        case "series_markets":
            guard let series = try string("series") else { throw ToolError(message: "series is required") }
            let (status, n) = (try string("status"), try limit())
            let exists = try await query("SELECT 1 FROM series WHERE ticker = $1", [.text(series)])
            guard exists.rowCount == 1 else { throw ToolError(message: "no series \(series)") }
            let r = try await query("""
                SELECT ticker, event_ticker, status, title, yes_bid_dollars::text AS yes_bid_dollars, yes_ask_dollars::text AS yes_ask_dollars,
                       last_price_dollars::text AS last_price_dollars, volume_fp::text AS volume_fp, close_time, result, gone_at
                FROM markets WHERE series_ticker = $1 AND ($2::text IS NULL OR status = $2)
                ORDER BY ticker LIMIT $3
                """, [.text(series), status.map(PostgresValue.text), .int(n + 1)])
            let items: [JSONValue] = (0..<min(n, r.rowCount)).map { i in
                var o: [String: JSONValue] = [:]
                for k in ["ticker", "event_ticker", "status", "title", "yes_bid_dollars", "yes_ask_dollars", "last_price_dollars", "volume_fp", "result"] {
                    o[k] = r[i, k].map(JSONValue.string) ?? .null
                }
                o["close_time"] = r[i, "close_time"].flatMap { Timestamp(postgresText: $0)?.iso8601 }.map(JSONValue.string) ?? .null
                // Set when the exchange no longer lists the market: its status is the last one seen.
                o["gone_at"] = r[i, "gone_at"].flatMap { Timestamp(postgresText: $0)?.iso8601 }.map(JSONValue.string) ?? .null
                return .object(o)
            }
            return .object(["series": .string(series), "markets": .array(items), "count": .number(Double(items.count)), "truncated": .bool(r.rowCount > n)])
        default:
            throw ToolError(message: "unknown tool \(name)")
        }
    }

    private func query(_ sql: String, _ params: [PostgresValue?]) async throws -> PostgresResult {
        if let c = connection, !(await c.isIdleAndHealthy) {
            c.close()
            connection = nil
        }
        if connection == nil {
            let c = try await PostgresConnection.connect(conninfo)
            try await c.execute("SET default_transaction_read_only = on")
            try await c.execute("SET TIME ZONE 'UTC'")
            connection = c
        }
        return try await connection!.execute(sql, params)
    }

    func close() async {
        connection?.close()
        connection = nil
    }
}
