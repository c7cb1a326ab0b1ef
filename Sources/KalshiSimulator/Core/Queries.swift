/// A parsed query string. Values are percent-decoded; `+` is a space.
public struct QueryParams: Sendable {
    public private(set) var values: [String: String] = [:]

    public init(_ raw: Substring) {
        for part in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = QueryParams.decode(kv[0])
            let v = kv.count > 1 ? QueryParams.decode(kv[1]) : ""
            if values[k] == nil { values[k] = v }
        }
    }

    public init(_ raw: String) { self.init(Substring(raw)) }

    public subscript(_ key: String) -> String? { values[key] }

    /// A parameter given with an empty value counts as absent, as Go's query binding does.
    public func nonEmpty(_ key: String) -> String? {
        guard let v = values[key], !v.isEmpty else { return nil }
        return v
    }

    public static func decode(_ s: Substring) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == 0x2B { out.append(0x20); continue }
            if c == 0x25, it.count >= 2, let h = hex(it[it.startIndex]), let l = hex(it[it.startIndex + 1]) {
                out.append(h << 4 | l)
                it = it.dropFirst(2)
                continue
            }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    public func int64(_ key: String) throws(APIError) -> Int64? {
        guard let v = nonEmpty(key) else { return nil }
        guard let n = Int64(v) else { throw .badRequest("invalid value for \(key): must be an integer") }
        return n
    }

    public func bool(_ key: String) throws(APIError) -> Bool {
        guard let v = nonEmpty(key) else { return false }
        switch v.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw .badRequest("invalid value for \(key): must be a boolean")
        }
    }

    public func list(_ key: String) -> [String]? {
        guard let v = nonEmpty(key) else { return nil }
        return v.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
    }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

/// An error answered with the exchange's error shape.
public struct APIError: Error, Sendable, Equatable {
    public var status: Int
    public var code: String
    public var message: String

    public static func badRequest(_ message: String) -> APIError { APIError(status: 400, code: "bad_request", message: message) }
    public static func notFound(_ message: String = "not found") -> APIError { APIError(status: 404, code: "not_found", message: message) }

    /// `{"error": {"code": …, "message": …, "service": …}}`: the exchange wraps its
    /// ErrorResponse object (code/message/details/service) in an `error` member.
    public var body: [UInt8] {
        var w = JSONWriter()
        w.raw("{\"error\":{\"code\":"); w.string(code)
        w.raw(",\"message\":"); w.string(message)
        w.raw(",\"service\":\"kalshi-sim\"}}")
        return w.bytes
    }
}

/// Opaque page cursors: URL-safe base64 of a kind prefix and the last returned ticker.
/// A ticker names a fixed position in the universe's stable order, so a cursor stays
/// valid however the clock moves, and every item after it is returned exactly once.
public enum Cursor {
    public static func encode(kind: String, ticker: String) -> String {
        base64URL(Array("\(kind):\(ticker)".utf8))
    }

    public static func decode(_ s: String, kind: String) -> String? {
        guard let bytes = unbase64URL(s), let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let prefix = kind + ":"
        guard text.hasPrefix(prefix) else { return nil }
        return String(text.dropFirst(prefix.count))
    }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func base64URL(_ b: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            let n = min(3, b.count - i)
            let v = (UInt32(b[i]) << 16) | (n > 1 ? UInt32(b[i + 1]) << 8 : 0) | (n > 2 ? UInt32(b[i + 2]) : 0)
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            if n > 1 { out.append(alphabet[Int(v >> 6 & 63)]) }
            if n > 2 { out.append(alphabet[Int(v & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unbase64URL(_ s: String) -> [UInt8]? {
        var vals: [UInt32] = []
        for c in s.utf8 {
            switch c {
            case 0x41...0x5A: vals.append(UInt32(c - 0x41))
            case 0x61...0x7A: vals.append(UInt32(c - 0x61 + 26))
            case 0x30...0x39: vals.append(UInt32(c - 0x30 + 52))
            case 0x2D, 0x2B: vals.append(62)
            case 0x5F, 0x2F: vals.append(63)
            case 0x3D: continue
            default: return nil
            }
        }
        if vals.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < vals.count {
            let n = min(4, vals.count - i)
            var v: UInt32 = 0
            for j in 0..<4 { v = v << 6 | (j < n ? vals[i + j] : 0) }
            out.append(UInt8(v >> 16 & 0xFF))
            if n > 2 { out.append(UInt8(v >> 8 & 0xFF)) }
            if n > 3 { out.append(UInt8(v & 0xFF)) }
            i += 4
        }
        return out
    }
}

public enum MultivariateFilter: String, Sendable { case only, exclude }

/// `GET /markets` parameters, validated.
public struct MarketsQuery: Sendable {
    public var limit = 100
    public var cursorTicker: String?
    public var eventTicker: String?
    public var seriesTicker: String?
    public var tickers: [String]?
    public var status: QueryStatus?
    public var minCreatedTs: Int64?, maxCreatedTs: Int64?
    public var minCloseTs: Int64?, maxCloseTs: Int64?
    public var minSettledTs: Int64?, maxSettledTs: Int64?
    public var minUpdatedTs: Int64?
    public var mveFilter: MultivariateFilter?

    public init() {}

    public init(_ p: QueryParams) throws(APIError) {
        if let l = try p.int64("limit") {
            guard l >= 0, l <= 1000 else { throw .badRequest("invalid limit: must be between 0 and 1000") }
            limit = l == 0 ? 100 : Int(l)
        }
        if let c = p.nonEmpty("cursor") {
            guard let t = Cursor.decode(c, kind: "m") else { throw .badRequest("invalid cursor") }
            cursorTicker = t
        }
        eventTicker = p.nonEmpty("event_ticker")
        seriesTicker = p.nonEmpty("series_ticker")
        tickers = p.list("tickers")
        if let s = p.nonEmpty("status") {
            guard !s.contains(",") else { throw .badRequest("only one status filter may be supplied at a time") }
            guard let q = QueryStatus(rawValue: s) else { throw .badRequest("invalid status: \(s)") }
            status = q
        }
        minCreatedTs = try p.int64("min_created_ts")
        maxCreatedTs = try p.int64("max_created_ts")
        minCloseTs = try p.int64("min_close_ts")
        maxCloseTs = try p.int64("max_close_ts")
        minSettledTs = try p.int64("min_settled_ts")
        maxSettledTs = try p.int64("max_settled_ts")
        minUpdatedTs = try p.int64("min_updated_ts")
        if let m = p.nonEmpty("mve_filter") {
            guard let f = MultivariateFilter(rawValue: m) else { throw .badRequest("invalid mve_filter: \(m)") }
            mveFilter = f
        }
    }

    /// Why the combination of filters is not allowed, per the compatibility table of
    /// docs/api-reference_market_get-markets.md (answered 400), or nil when it is allowed:
    /// timestamp families are mutually exclusive; `min/max_created_ts` go with `unopened`,
    /// `open` or no status; `min/max_close_ts` with `closed` or none; `min/max_settled_ts`
    /// with `settled` or none; `min_updated_ts` with no other filter but
    /// `mve_filter=exclude`, and `series_ticker` only together with `mve_filter=exclude`.
    public var incompatibility: String? {
        let created = minCreatedTs != nil || maxCreatedTs != nil
        let close = minCloseTs != nil || maxCloseTs != nil
        let settled = minSettledTs != nil || maxSettledTs != nil
        let updated = minUpdatedTs != nil
        if [created, close, settled, updated].filter({ $0 }).count > 1 {
            return "timestamp filters are mutually exclusive: use one of created, close, settled or updated"
        }
        if created, let s = status, s != .unopened, s != .open {
            return "min_created_ts/max_created_ts can only be combined with status unopened or open"
        }
        if close, let s = status, s != .closed {
            return "min_close_ts/max_close_ts can only be combined with status closed"
        }
        if settled, let s = status, s != .settled {
            return "min_settled_ts/max_settled_ts can only be combined with status settled"
        }
        if updated {
            if status != nil { return "min_updated_ts cannot be combined with status" }
            if eventTicker != nil { return "min_updated_ts cannot be combined with event_ticker" }
            if tickers != nil { return "min_updated_ts cannot be combined with tickers" }
            if mveFilter == .only { return "min_updated_ts can only be combined with mve_filter=exclude" }
            if seriesTicker != nil, mveFilter != .exclude { return "min_updated_ts with series_ticker requires mve_filter=exclude" }
        }
        return nil
    }

    public var isCompatible: Bool { incompatibility == nil }

    /// Whether market `i` matches every filter at `t` (candidate ranges are the caller's).
    public func matches(_ u: Universe, _ i: Int, at t: Int64, mode: UpdatedTimeMode = .metadataOnly) -> Bool {
        guard u.isMarketVisible(i, at: t) else { return false }
        // Field reads only: copying the whole record would retain a dozen strings per market.
        if let f = mveFilter {
            if (f == .only) != u.markets[i].isMultivariate { return false }
        }
        let tl = u.markets[i].timeline
        if let s = status, !s.matches(tl.status(at: t)) { return false }
        if let x = minCreatedTs, tl.createdTs < x { return false }
        if let x = maxCreatedTs, tl.createdTs > x { return false }
        if minCloseTs != nil || maxCloseTs != nil {
            let c = tl.shownCloseTs(at: t)
            if let x = minCloseTs, c < x { return false }
            if let x = maxCloseTs, c > x { return false }
        }
        if minSettledTs != nil || maxSettledTs != nil {
            guard let st = tl.settlementTs(at: t) else { return false }
            if let x = minSettledTs, st < x { return false }
            if let x = maxSettledTs, st > x { return false }
        }
        if let x = minUpdatedTs, tl.updatedTs(at: t, mode: mode) < x { return false }
        return true
    }
}

/// Candidate positions for a list query, in the universe's stable order.
public enum Candidates: Sendable {
    case range(Range<Int>)
    case list([Int])

    /// Walks candidates after position `after`, collecting up to `limit` matches; reports
    /// whether at least one more match exists (so the last page gets an empty cursor).
    public func page(after: Int?, limit: Int, _ match: (Int) -> Bool) -> (items: [Int], more: Bool) {
        var items: [Int] = []
        items.reserveCapacity(min(limit, 1024))
        func visit(_ i: Int) -> Bool {  // false = stop
            if match(i) {
                if items.count == limit { return false }
                items.append(i)
            }
            return true
        }
        switch self {
        case .range(let r):
            let start = max(r.lowerBound, (after ?? -1) + 1)
            if start < r.upperBound {
                for i in start..<r.upperBound where !visit(i) { return (items, true) }
            }
        case .list(let l):
            for i in l where i > (after ?? -1) {
                if !visit(i) { return (items, true) }
            }
        }
        return (items, false)
    }
}
