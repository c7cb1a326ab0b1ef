import CoreMetrics
import Foundation
import DaemonKit
import PostgresClient
import SSMDCore

/// What a route answers, before it becomes a Hummingbird response.
struct APIResponse: Sendable {
    var status: Int
    var contentType: String
    var body: [UInt8]

    static func json(_ value: JSONValue, status: Int = 200) -> APIResponse {
        APIResponse(status: status, contentType: "application/json; charset=utf-8", body: Array((value.jsonText + "\n").utf8))
    }

    static func html(_ text: String, status: Int = 200) -> APIResponse {
        APIResponse(status: status, contentType: "text/html; charset=utf-8", body: Array(text.utf8))
    }
}

/// The route a request path belongs to, as the `route` label of data-api's metrics: the
/// template (`/v1/markets/{ticker}`), never the path itself, and `other` for a path no route
/// has, so the label's values stay a small fixed set whatever clients ask for.
enum APIRoute {
    static func template(_ path: String) -> String {
        let s = path.split(separator: "/", omittingEmptySubsequences: true)
        switch (s.count, s.first ?? "") {
        case (0, _): return "/"
        case (1, let first) where ["healthz", "readyz", "metrics", "openapi.yaml"].contains(first): return "/\(first)"
        case (2, "v1") where s[1] == "series" || s[1] == "markets" || s[1] == "events": return "/v1/\(s[1])"
        case (3, "v1") where s[1] == "series": return s[2] == "stats" ? "/v1/series/stats" : "/v1/series/{ticker}"
        case (3, "v1") where s[1] == "markets": return "/v1/markets/{ticker}"
        case (3, "v1") where s[1] == "events": return "/v1/events/{ticker}"
        case (3, "v1") where s[1] == "stats" && s[2] == "series": return "/v1/stats/series"
        default: return "other"
        }
    }

    /// Counts one answered request and its latency (`ssmd_api_*`).
    static func record(path: String, status: Int, duration: Duration) {
        let route = template(path), code = "\(status)"
        Counter(label: APIMetrics.requests.name, dimensions: APIMetrics.requests.dimensions(route, code)).increment()
        CoreMetrics.Timer(label: APIMetrics.requestDuration.name, dimensions: APIMetrics.requestDuration.dimensions(route, code))
            .recordNanoseconds(duration.wholeNanoseconds)
    }
}

/// A request the API refuses: `{"error": {"code", "parameter"?, "message"}}`.
struct APIError: Error, Sendable {
    var status: Int
    var code: String
    var parameter: String?
    var message: String

    static func badRequest(_ parameter: String, _ message: String) -> APIError {
        APIError(status: 400, code: "bad_request", parameter: parameter, message: message)
    }

    static func notFound(_ message: String) -> APIError {
        APIError(status: 404, code: "not_found", parameter: nil, message: message)
    }

    var response: APIResponse {
        var e: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let parameter { e["parameter"] = .string(parameter) }
        return .json(.object(["error": .object(e)]), status: status)
    }
}

/// Query-string parameters: `+` is a space, `%XX` bytes are UTF-8. An empty value counts
/// as absent. Parameters a route does not know are refused (a misspelt filter must not
/// silently return everything).
struct QueryParameters: Sendable {
    private(set) var values: [String: String] = [:]

    init(_ query: String) throws {
        var given = Set<String>()
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let rawName = String(parts[0]), rawValue = parts.count > 1 ? String(parts[1]) : ""
            guard let name = Self.unescape(rawName) else { throw APIError.badRequest(rawName, "parameter name is not valid percent-encoded UTF-8") }
            guard let value = Self.unescape(rawValue) else { throw APIError.badRequest(name, "value is not valid percent-encoded UTF-8") }
            // limit=2&limit=3 has no one meaning: refused rather than last-wins.
            guard given.insert(name).inserted else { throw APIError.badRequest(name, "given more than once; give it once") }
            if !value.isEmpty { values[name] = value }
        }
    }

    static func unescape(_ s: String) -> String? {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    func allow(_ names: Set<String>) throws {
        if let unknown = values.keys.sorted().first(where: { !names.contains($0) }) {
            throw APIError.badRequest(unknown, "unknown parameter; this endpoint takes \(names.sorted().joined(separator: ", "))")
        }
    }

    subscript(_ name: String) -> String? { values[name] }

    func bool(_ name: String) throws -> Bool? {
        guard let v = values[name] else { return nil }
        switch v.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw APIError.badRequest(name, "must be true or false, not \(Self.quote(v))")
        }
    }

    func limit(default d: Int = 100, max m: Int = 1000) throws -> Int {
        guard let v = values["limit"] else { return d }
        guard let n = Int(v) else { throw APIError.badRequest("limit", "must be an integer, not \(Self.quote(v))") }
        guard n >= 1 else { throw APIError.badRequest("limit", "must be at least 1") }
        guard n <= m else { throw APIError.badRequest("limit", "must be at most \(m), not \(n)") }
        return n
    }

    /// The opaque cursor: base64 (URL-safe or standard) of the last key of the previous page.
    func cursor() throws -> String? {
        guard let v = values["cursor"] else { return nil }
        guard let key = Cursor.decode(v) else { throw APIError.badRequest("cursor", "is not a cursor returned by this API") }
        return key
    }

    static func quote(_ s: String) -> String { "\"\(s.prefix(60))\"" }
}

enum Cursor {
    static func encode(_ key: String) -> String {
        Data(key.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) -> String? {
        var s = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        guard let data = Data(base64Encoded: s), !data.isEmpty, let key = String(data: data, encoding: .utf8) else { return nil }
        return key
    }
}

enum HTML {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A value for a query string (`/?series=…`).
    static func queryValue(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

extension PostgresResult {
    func text(_ row: Int, _ column: String) -> JSONValue {
        self[row, column].map(JSONValue.string) ?? .null
    }

    func bool(_ row: Int, _ column: String) -> JSONValue {
        self[row, column].map { .bool($0 == "t") } ?? .null
    }

    func int(_ row: Int, _ column: String) -> Int {
        self[row, column].flatMap { Int($0) } ?? 0
    }

    /// `timestamptz` as RFC 3339 in UTC, like the payloads on NATS.
    func time(_ row: Int, _ column: String) -> JSONValue {
        guard let s = self[row, column] else { return .null }
        return .string(Timestamp(postgresText: s)?.iso8601 ?? s)
    }

    /// A `jsonb` column (selected as text) as the JSON value it holds.
    func json(_ row: Int, _ column: String) -> JSONValue {
        guard let s = self[row, column] else { return .null }
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(s.utf8))) ?? .string(s)
    }

    func textArray(_ row: Int, _ column: String) -> JSONValue {
        guard let s = self[row, column] else { return .array([]) }
        return .array((PostgresArrayLiteral.decode(s) ?? []).compactMap { $0 }.map(JSONValue.string))
    }
}
