import Foundation
import Logging
import Synchronization
import CurlHTTP
import KalshiModels
import RateBudget
import SSMDCore

public struct ExchangeClientConfig: Sendable {
    /// e.g. `https://api.elections.kalshi.com/trade-api/v2` or the simulator's.
    public var baseURL: String
    public var http = HTTPClientOptions()
    public var retry = RetryPolicy()
    /// Tokens one read request costs (Kalshi: 10).
    public var costPerRequest = 10
    public var maxPages = 10_000

    public init(baseURL: String) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
    }
}

/// Request headers added to every call (API-key signing plugs in here).
public protocol RequestSigner: Sendable {
    func headers(method: String, path: String) throws -> [(String, String)]
}

/// Counts what the client did, for cycle summaries and metrics.
public final class ExchangeStats: @unchecked Sendable {
    private let lock = NSLock()
    private var _requests = 0, _throttled = 0, _retries = 0, _failures = 0
    public init() {}
    func record(request: Bool = false, throttled: Bool = false, retry: Bool = false, failure: Bool = false) {
        lock.lock()
        if request { _requests += 1 }
        if throttled { _throttled += 1 }
        if retry { _retries += 1 }
        if failure { _failures += 1 }
        lock.unlock()
    }
    public var snapshot: (requests: Int, throttled: Int, retries: Int, failures: Int) {
        lock.lock(); defer { lock.unlock() }
        return (_requests, _throttled, _retries, _failures)
    }
}

/// The exchange's clock as read from its `Date` headers, carried forward by the local
/// monotonic clock between readings. Windows such as "closed in the last 24 h" and the
/// change feed's "updated since" are asked in the exchange's time, which is not ours when
/// the clocks drift or the exchange is a simulator running faster than real time.
public final class ExchangeClock: Sendable {
    private let reading = Mutex<(server: Timestamp, at: ContinuousClock.Instant)?>(nil)

    public init() {}

    func record(_ server: Timestamp?) {
        guard let server else { return }
        reading.withLock { $0 = (server, ContinuousClock.now) }
    }

    /// Whether any response carried a `Date` header yet.
    public var isSynchronized: Bool { reading.withLock { $0 != nil } }

    /// The exchange's now; the local clock until a response has told the exchange's.
    /// `Date` has one-second resolution and is truncated, so this errs early, which only
    /// widens "since" windows.
    public func now() -> Timestamp {
        guard let r = reading.withLock({ $0 }) else { return .now() }
        let elapsed = ContinuousClock.now - r.at
        return Timestamp(microsecondsSinceEpoch: r.server.microsecondsSinceEpoch
                         + elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
    }
}

/// Counts the requests made by one unit of work (a series sync) even when many run
/// concurrently on one client: bind it with `ExchangeClient.$tally.withValue(…)`.
public final class RequestTally: Sendable {
    private let count = Atomic<Int>(0)
    public init() {}
    func add() { count.add(1, ordering: .relaxed) }
    public var requests: Int { count.load(ordering: .relaxed) }
}

/// The Kalshi Trade API v2 read endpoints ssmd uses, with the shared request budget,
/// bounded retries (429, 5xx, transport, garbled body) and safe cursor pagination.
public final class ExchangeClient: Sendable {
    public let config: ExchangeClientConfig
    public let stats = ExchangeStats()
    public let clock = ExchangeClock()
    @TaskLocal public static var tally: RequestTally?
    private let http: CurlHTTPClient
    public let budget: any RequestBudget
    private let signer: (any RequestSigner)?
    private let logger: Logger
    private let basePath: String
    private let metrics = ExchangeMetricsEmitter()

    public init(config: ExchangeClientConfig, budget: any RequestBudget, signer: (any RequestSigner)? = nil, logger: Logger) {
        self.config = config
        self.http = CurlHTTPClient(options: config.http)
        self.budget = budget
        self.signer = signer
        self.logger = logger
        // The signature covers the path from the host on, e.g. /trade-api/v2/markets.
        if let schemeEnd = config.baseURL.range(of: "://"),
           let slash = config.baseURL[schemeEnd.upperBound...].firstIndex(of: "/") {
            basePath = String(config.baseURL[slash...])
        } else {
            basePath = ""
        }
    }

    // MARK: Endpoints

    public func tagsByCategories() async throws -> TagsByCategories {
        try await get("/search/tags_by_categories", [], as: TagsByCategories.self)
    }

    public func sportFilters() async throws -> SportFilters {
        try await get("/search/filters_by_sport", [], as: SportFilters.self)
    }

    /// A whole category's series in one response (the endpoint has no cursor).
    public func series(category: String, tags: [String] = []) async throws -> [Series] {
        var q = [("category", category)]
        if !tags.isEmpty { q.append(("tags", tags.joined(separator: ","))) }
        struct Response: ListPage {
            var series: [Series]
            static let listKey = "series"
            init(elements: [Series], cursor: String?) { series = elements }
            init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                series = try c.decodeIfPresent([Series].self, forKey: .series) ?? []
            }
            enum CodingKeys: String, CodingKey { case series }
        }
        return try await get("/series", q, as: Response.self).series
    }

    /// Every page of a markets query; `onPage` sees each page as it arrives so memory stays
    /// bounded by one page.
    public func forEachMarketsPage(_ query: MarketQuery, _ onPage: ([Market]) async throws -> Void) async throws {
        do { try query.validate() } catch let e as MarketQuery.Incompatible {
            throw ExchangeError.http(status: 400, endpoint: "/markets", code: "invalid_query", message: e.description)
        }
        try await forEachPage("/markets", query.queryItems, as: MarketsPage.self, cursor: \.cursor) { try await onPage($0.markets) }
    }

    /// Tickers per `GET /markets?tickers=…` request: the URL stays a few kilobytes.
    public static let tickersPerRequest = 100

    /// The markets with these tickers, read `tickersPerRequest` at a time (`tickers=`), page
    /// by page. A ticker the exchange does not know is simply absent.
    public func forEachMarketsPage(tickers: [String], _ onPage: ([Market]) async throws -> Void) async throws {
        for start in stride(from: 0, to: tickers.count, by: Self.tickersPerRequest) {
            var query = MarketQuery()
            query.tickers = Array(tickers[start..<Swift.min(start + Self.tickersPerRequest, tickers.count)])
            try await forEachMarketsPage(query, onPage)
        }
    }

    public func forEachEventsPage(_ query: EventQuery, _ onPage: ([Event]) async throws -> Void) async throws {
        try await forEachPage("/events", query.queryItems, as: EventsPage.self, cursor: \.cursor) { try await onPage($0.events) }
    }

    /// Every page of a cursor chain, one at a time: memory stays bounded by one page. (Asking
    /// for the next page while `onPage` handles this one was tried: it did not shorten the
    /// cold start's longest chain, which decoding and publishing bind on two cores, not
    /// waiting.) A cursor that repeats, or too many pages, is thrown after the page that
    /// returned it is handled.
    func forEachPage<Page: Decodable & Sendable>(_ endpoint: String, _ query: [(String, String)], as: Page.Type,
                                                 cursor cursorOf: (Page) -> String?,
                                                 _ onPage: (Page) async throws -> Void) async throws {
        var paginator = CursorPaginator(endpoint: endpoint, maxPages: config.maxPages)
        var cursor: String? = nil
        repeat {
            let page = try await get(endpoint, cursor.map { query + [("cursor", $0)] } ?? query, as: Page.self)
            try await onPage(page)
            cursor = try paginator.next(after: cursorOf(page))
        } while cursor != nil
    }

    // MARK: Transport

    /// One GET with the budget and retries. Non-retryable errors and the last retryable one
    /// are thrown to the caller.
    func get<T: Decodable & Sendable>(_ path: String, _ query: [(String, String)], as: T.Type) async throws -> T {
        let url = config.baseURL + path + ExchangeClient.encodeQuery(query)
        var attempt = 0
        while true {
            do {
                try await budget.acquire(cost: config.costPerRequest)
                stats.record(request: true)
                ExchangeClient.tally?.add()
                let headers = try signer?.headers(method: "GET", path: basePath + path) ?? []
                let http = self.http
                let response: HTTPResponse
                let sent = ContinuousClock.now
                do {
                    response = try await http.get(url: url, headers: headers)
                } catch let t as HTTPTransportError {
                    metrics.attempt(endpoint: path, status: ExchangeMetrics.transportError, duration: ContinuousClock.now - sent)
                    throw ExchangeError.transport(endpoint: path, t)
                }
                metrics.attempt(endpoint: path, status: "\(response.status)", duration: ContinuousClock.now - sent)
                clock.record(response.serverDate)
                return try ExchangeClient.interpret(response, endpoint: path, as: T.self)
            } catch let error as ExchangeError {
                if error.isRateLimited {
                    stats.record(throttled: true)
                    metrics.throttled(endpoint: path)
                    await budget.reportThrottled()
                }
                attempt += 1
                guard error.isRetryable, attempt < config.retry.maxAttempts else {
                    stats.record(failure: true)
                    metrics.failed(endpoint: path)
                    throw error
                }
                stats.record(retry: true)
                metrics.retried(endpoint: path)
                let pause = config.retry.delay(attempt: attempt - 1, unit: Double.random(in: 0..<1))
                logger.debug("retrying exchange request", metadata: [
                    "endpoint": "\(path)", "attempt": "\(attempt)", "error": "\(error)", "pause_ms": "\(pause.milliseconds)"])
                try await Task.sleep(for: pause)
            }
        }
    }

    /// Status code and body → value or typed error. Pure, so tests can feed it odd bodies.
    public static func interpret<T: Decodable>(_ response: HTTPResponse, endpoint: String, as: T.Type) throws -> T {
        switch response.status {
        case 200..<300:
            // Not JSON at all (an HTML error page from a proxy, say): say what came instead.
            if let first = response.body.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }), first != UInt8(ascii: "{"), first != UInt8(ascii: "[") {
                let snippet = String(decoding: response.body.prefix(60), as: UTF8.self)
                    .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: "")
                throw ExchangeError.decoding(endpoint: endpoint, path: "",
                                             message: "expected JSON, got \(response.contentType ?? "no content type"): \(snippet)")
            }
            // List pages element by element (bounded memory); the whole body when that
            // declines, which also names the problem of a bad one.
            if let page = ListPageDecoder.decodeIfListPage(T.self, from: response.body) { return page }
            do {
                return try JSONDecoder().decode(T.self, from: Data(response.body))
            } catch let e as DecodingError {
                throw ExchangeError.decoding(endpoint: endpoint, path: e.fieldPath, message: e.reason)
            } catch {
                throw ExchangeError.decoding(endpoint: endpoint, path: "", message: "\(error)")
            }
        case 429:
            throw ExchangeError.rateLimited(endpoint: endpoint)
        default:
            let (code, message) = errorBody(response.body)
            throw ExchangeError.http(status: response.status, endpoint: endpoint, code: code, message: message)
        }
    }

    /// The exchange's error bodies: `{"error": {"code", "message"}}` or `{"error": "text"}`.
    static func errorBody(_ body: [UInt8]) -> (String?, String?) {
        struct Nested: Decodable { var code: String?; var message: String? }
        struct Wrapper: Decodable {
            var nested: Nested?
            var text: String?
            enum CodingKeys: String, CodingKey { case error }
            init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                nested = try? c.decode(Nested.self, forKey: .error)
                text = try? c.decode(String.self, forKey: .error)
            }
        }
        if let w = try? JSONDecoder().decode(Wrapper.self, from: Data(body)) {
            if let n = w.nested { return (n.code, n.message) }
            if let t = w.text { return (nil, t) }
        }
        let snippet = String(decoding: body.prefix(120), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ")
        return (nil, snippet.isEmpty ? nil : snippet)
    }

    static func encodeQuery(_ items: [(String, String)]) -> String {
        guard !items.isEmpty else { return "" }
        return "?" + items.map { percentEncode($0.0) + "=" + percentEncode($0.1) }.joined(separator: "&")
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: ","):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

