import CurlHTTP

/// Everything that can go wrong talking to the exchange, typed so callers can decide
/// between retrying, backing off and setting work aside.
public enum ExchangeError: Error, Sendable, CustomStringConvertible {
    /// 429: the account's (or address's) token bucket is empty.
    case rateLimited(endpoint: String)
    /// A non-2xx answer; `code`/`message` come from the exchange's ErrorResponse body when it had one.
    case http(status: Int, endpoint: String, code: String?, message: String?)
    /// No usable answer: connection refused or reset, timeout, oversized body.
    case transport(endpoint: String, HTTPTransportError)
    /// The body was not the JSON we expect; `path` names the bad field (`markets[3].close_time`).
    case decoding(endpoint: String, path: String, message: String)
    /// The exchange handed back a cursor it had already given us: following it would never end.
    case repeatedCursor(endpoint: String, cursor: String, page: Int)
    /// More pages than any real answer has: refuse rather than loop.
    case tooManyPages(endpoint: String, pages: Int)

    public var description: String {
        switch self {
        case .rateLimited(let e): return "exchange rate limit (429) on \(e)"
        case .http(let s, let e, let code, let message):
            return "exchange answered \(s) on \(e)" + (code.map { " [\($0)]" } ?? "") + (message.map { ": \($0)" } ?? "")
        case .transport(let e, let t): return "exchange unreachable on \(e): \(t.kind) — \(t.message)"
        case .decoding(let e, let path, let m): return "undecodable exchange response from \(e) at \(path.isEmpty ? "<root>" : path): \(m)"
        case .repeatedCursor(let e, let c, let p): return "exchange repeated cursor \(c.prefix(40)) on page \(p) of \(e)"
        case .tooManyPages(let e, let p): return "more than \(p) pages from \(e); refusing to continue"
        }
    }

    /// Worth trying again after a pause: throttling, server errors, transport failures and
    /// garbled bodies (a truncated or malformed body is usually a transient fault).
    public var isRetryable: Bool {
        switch self {
        case .rateLimited: return true
        case .http(let s, _, _, _): return s >= 500 || s == 408
        case .transport(_, let t): return t.kind != .tooLarge
        case .decoding: return true
        case .repeatedCursor, .tooManyPages: return false
        }
    }

    public var isRateLimited: Bool {
        if case .rateLimited = self { return true }
        return false
    }
}

