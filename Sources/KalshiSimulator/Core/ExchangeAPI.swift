import NIOCore

/// A response from the pure core: status, body bytes and a label for request statistics.
public struct SimResponse: Sendable {
    public var status: Int
    /// The body as sent (large pages are rendered straight into it).
    public var payload: ByteBuffer
    public var contentType: String
    /// The route template (`/markets/{ticker}`), for per-endpoint counters.
    public var endpoint: String

    public init(status: Int, body: [UInt8], contentType: String = "application/json", endpoint: String) {
        self.init(status: status, payload: ByteBuffer(bytes: body), contentType: contentType, endpoint: endpoint)
    }

    public init(status: Int, payload: ByteBuffer, contentType: String = "application/json", endpoint: String) {
        self.status = status
        self.payload = payload
        self.contentType = contentType
        self.endpoint = endpoint
    }

    /// The body as an array (a copy; fault injection and tests).
    public var body: [UInt8] {
        get { Array(buffer: payload) }
        set { payload = ByteBuffer(bytes: newValue) }
    }

    public var bodyString: String { String(buffer: payload) }
}

/// The exchange's market-data endpoints and the simulator's truth endpoints, as a pure
/// function of (universe, simulated time, request). No I/O, no clock reads.
public struct ExchangeAPI: Sendable {
    public let universe: Universe
    /// Renderings of each market's time-dependent members, reused while still exact.
    public let tails: MarketTailCache
    /// Every transition, sorted, built on first use.
    public let transitions: TransitionIndex
    public static let basePath = "/trade-api/v2"

    public init(universe: Universe) {
        self.universe = universe
        tails = MarketTailCache(count: universe.markets.count)
        transitions = TransitionIndex(universe: universe)
    }

    /// Strips the base path; the API answers both under `/trade-api/v2` and at the root.
    public static func routePath(_ path: String) -> String {
        if path.hasPrefix(basePath) {
            let rest = String(path.dropFirst(basePath.count))
            return rest.isEmpty ? "/" : rest
        }
        return path
    }

    /// `faults` carries the page-level faults (repeated cursor, oversized page) chosen for
    /// this request; transport faults are the shell's.
    public func handle(method: String, path rawPath: String, query: String, at t: Int64,
                       faults: FaultPlan = FaultPlan(), mode: UpdatedTimeMode = .metadataOnly) -> SimResponse {
        let path = ExchangeAPI.routePath(rawPath)
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { QueryParams.decode($0) }
        let params = QueryParams(query)
        let endpoint: String
        switch parts.count {
        case 1: endpoint = "/" + parts[0]
        case 2 where ["series", "markets", "events"].contains(parts[0]): endpoint = "/\(parts[0])/{ticker}"
        default: endpoint = "/" + parts.joined(separator: "/")
        }
        do throws(APIError) {
            guard method == "GET" || method == "HEAD" else {
                throw APIError(status: 405, code: "method_not_allowed", message: "method not allowed")
            }
            if parts.count == 1, parts[0] == "markets" {
                // The hot path: rendered straight into the response buffer.
                return SimResponse(status: 200, payload: try marketsList(params, at: t, faults: faults, mode: mode), endpoint: endpoint)
            }
            let body: [UInt8]
            switch (parts.count, parts.first ?? "") {
            case (2, "search") where parts[1] == "tags_by_categories": body = tagsByCategories()
            case (2, "search") where parts[1] == "filters_by_sport": body = filtersBySport()
            case (1, "series"): body = try seriesList(params, at: t)
            case (2, "series"): body = try seriesSingle(parts[1], params, at: t)
            case (2, "markets"): body = try marketSingle(parts[1], at: t, mode: mode)
            case (1, "events"): body = try eventsList(params, at: t, faults: faults, mode: mode)
            case (2, "events"): body = try eventSingle(parts[1], params, at: t, mode: mode)
            case (3, "_sim") where parts[1] == "truth":
                if parts[2] == "ws_messages" {
                    return SimResponse(status: 200, body: try webSocketTruth(params, now: t),
                                       contentType: "application/x-ndjson", endpoint: endpoint)
                }
                if parts[2] == "transitions" {
                    return SimResponse(status: 200, body: try transitionsTruth(params, now: t, mode: mode),
                                       contentType: "application/x-ndjson", endpoint: endpoint)
                }
                // `?at=<unix seconds>`: the truth at another simulated time (tests look ahead).
                let t = try params.int64("at") ?? t
                switch parts[2] {
                case "series": return SimResponse(status: 200, body: Truth.series(universe, at: t), contentType: "application/x-ndjson", endpoint: endpoint)
                case "events": return SimResponse(status: 200, body: Truth.events(universe, at: t), contentType: "application/x-ndjson", endpoint: endpoint)
                case "markets": return SimResponse(status: 200, body: Truth.markets(universe, at: t, mode: mode), contentType: "application/x-ndjson", endpoint: endpoint)
                default: throw APIError.notFound("page not found")
                }
            default: throw APIError.notFound("page not found")
            }
            return SimResponse(status: 200, body: body, endpoint: endpoint)
        } catch {
            return SimResponse(status: error.status, body: error.body, endpoint: endpoint)
        }
    }

    // MARK: Search

    func tagsByCategories() -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"tags_by_categories\":{")
        for (i, c) in Catalog.tagsByCategory.enumerated() {
            if i > 0 { w.comma() }
            w.string(c.category); w.raw(":"); w.stringArray(c.tags)
        }
        w.raw("}}")
        return w.bytes
    }

    /// Sports from the Sports tags, with scopes and competitions from the universe's series.
    func filtersBySport() -> [UInt8] {
        var scopes: [String: Set<String>] = [:]
        var comps: [String: [String: Set<String>]] = [:]
        for s in universe.series where s.category == "Sports" && s.kind != .multivariate {
            guard let sport = s.sport, let scope = s.scope else { continue }
            scopes[sport, default: []].insert(scope)
            if let c = s.competition { comps[sport, default: [:]][c, default: []].insert(scope) }
        }
        let all = scopes.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        var w = JSONWriter()
        w.raw("{\"filters_by_sports\":{")
        w.raw("\"All sports\":{\"competitions\":{},\"scopes\":"); w.stringArray(all.sorted()); w.raw("}")
        for sport in Catalog.sportOrdering {
            w.comma(); w.string(sport); w.raw(":{\"competitions\":{")
            for (i, (c, sc)) in (comps[sport] ?? [:]).sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { w.comma() }
                w.string(c); w.raw(":{\"scopes\":"); w.stringArray(sc.sorted()); w.raw("}")
            }
            w.raw("},\"scopes\":"); w.stringArray((scopes[sport] ?? []).sorted()); w.raw("}")
        }
        w.raw("},\"sport_ordering\":")
        w.stringArray(["All sports"] + Catalog.sportOrdering)
        w.raw("}")
        return w.bytes
    }

    // MARK: Series

    func seriesVolume(_ s: SeriesRecord, at t: Int64) -> Int64 {
        var v: Int64 = 0
        for i in s.marketRange where universe.markets[i].timeline.createdTs <= t {
            v += MarketRendering.volume(universe.markets[i], at: t)
        }
        return v
    }

    func seriesList(_ p: QueryParams, at t: Int64) throws(APIError) -> [UInt8] {
        let category = p.nonEmpty("category")
        let tags = p.list("tags").map(Set.init)
        let includeVolume = try p.bool("include_volume")
        let includeMeta = try p.bool("include_product_metadata")
        let minUpdated = try p.int64("min_updated_ts")
        var w = JSONWriter(capacity: 1 << 16)
        w.raw("{\"series\":[")
        var first = true
        for s in universe.series where s.kind != .multivariate && s.isListed(at: t) {
            if let c = category, s.category != c { continue }
            if let want = tags, !(s.tags ?? []).contains(where: want.contains) { continue }
            if let x = minUpdated, s.lastUpdatedTs(at: t) < x { continue }
            if !first { w.comma() }
            first = false
            EntityRendering.appendSeries(s, volume: includeVolume ? seriesVolume(s, at: t) : nil,
                                         includeProductMetadata: includeMeta, at: t, to: &w)
        }
        w.raw("]}")
        return w.bytes
    }

    func seriesSingle(_ ticker: String, _ p: QueryParams, at t: Int64) throws(APIError) -> [UInt8] {
        guard let i = universe.seriesIndex[ticker], universe.series[i].isListed(at: t) else { throw .notFound() }
        let s = universe.series[i]
        let includeVolume = try p.bool("include_volume")
        var w = JSONWriter()
        w.raw("{\"series\":")
        EntityRendering.appendSeries(s, volume: includeVolume ? seriesVolume(s, at: t) : nil,
                                     includeProductMetadata: try p.bool("include_product_metadata"), at: t, to: &w)
        w.raw("}")
        return w.bytes
    }

    // MARK: Markets

    /// Candidate positions for a market query before per-market filters.
    func marketCandidates(_ q: MarketsQuery) -> Candidates {
        var range = 0..<universe.markets.count
        if let s = q.seriesTicker {
            guard let si = universe.seriesIndex[s] else { return .range(0..<0) }
            range = range.clamped(to: universe.series[si].marketRange)
        }
        if let e = q.eventTicker {
            guard let ei = universe.eventIndex[e] else { return .range(0..<0) }
            range = range.clamped(to: universe.events[ei].marketRange)
        }
        if let tickers = q.tickers {
            let idx = Set(tickers.compactMap { universe.marketIndex[$0] }).filter(range.contains).sorted()
            return .list(idx)
        }
        return .range(range)
    }

    public func marketsPage(_ q0: MarketsQuery, at t: Int64, faults: FaultPlan = FaultPlan(),
                            mode: UpdatedTimeMode = .metadataOnly) throws(APIError) -> (items: [Int], cursor: String) {
        var q = q0
        if faults.oversizedPage { q.limit += max(1, q.limit / 2) }
        var after: Int? = nil
        if let c = q.cursorTicker {
            guard let i = universe.marketIndex[c] else { throw .badRequest("invalid cursor") }
            after = i
        }
        if let why = q.incompatibility { throw .badRequest(why) }
        let (items, more) = marketCandidates(q).page(after: after, limit: q.limit) { q.matches(universe, $0, at: t, mode: mode) }
        var cursor = more && !items.isEmpty ? Cursor.encode(kind: "m", ticker: universe.markets[items.last!].ticker) : ""
        if faults.repeatCursor, let c = q.cursorTicker { cursor = Cursor.encode(kind: "m", ticker: c) }
        return (items, cursor)
    }

    /// A page of markets, assembled from each market's static JSON and cached tail into one
    /// buffer sized up front (no per-request String, Foundation or re-rendering).
    func marketsList(_ p: QueryParams, at t: Int64, faults: FaultPlan, mode: UpdatedTimeMode) throws(APIError) -> ByteBuffer {
        let q = try MarketsQuery(p)
        let (items, cursor) = try marketsPage(q, at: t, faults: faults, mode: mode)
        var size = 64 + cursor.utf8.count
        for i in items { size += universe.markets[i].staticJSON.count + 1000 }
        var out = ByteBufferAllocator().buffer(capacity: size)
        out.writeStaticString("{\"markets\":[")
        var first = true
        tails.forEachTail(items, of: universe, at: t, mode: mode) { i, tail in
            if first { first = false } else { out.writeInteger(UInt8(ascii: ",")) }
            out.writeInteger(UInt8(ascii: "{"))
            out.writeBytes(universe.markets[i].staticBytes(at: t))
            out.writeBytes(tail)
            out.writeInteger(UInt8(ascii: "}"))
        }
        var w = JSONWriter(capacity: 32 + cursor.utf8.count)
        w.raw("],\"cursor\":"); w.string(cursor); w.raw("}")
        out.writeBytes(w.bytes)
        return out
    }

    /// One market object as seen at `t`, through the tail cache.
    func appendMarkets(_ items: some Sequence<Int>, at t: Int64, mode: UpdatedTimeMode, to w: inout JSONWriter) {
        var first = true
        tails.forEachTail(items, of: universe, at: t, mode: mode) { i, tail in
            if first { first = false } else { w.comma() }
            w.bytes.append(0x7B)
            w.raw(universe.markets[i].staticBytes(at: t))
            w.raw(tail)
            w.bytes.append(0x7D)
        }
    }

    func marketSingle(_ ticker: String, at t: Int64, mode: UpdatedTimeMode) throws(APIError) -> [UInt8] {
        guard let i = universe.marketIndex[ticker], universe.isMarketVisible(i, at: t) else { throw .notFound() }
        var w = JSONWriter(capacity: 2048)
        w.raw("{\"market\":")
        appendMarkets(CollectionOfOne(i), at: t, mode: mode, to: &w)
        w.raw("}")
        return w.bytes
    }

    // MARK: Events

    func appendMarkets(of e: EventRecord, at t: Int64, mode: UpdatedTimeMode, to w: inout JSONWriter) {
        w.raw("[")
        let u = universe
        appendMarkets(e.marketRange.lazy.filter { u.isMarketVisible($0, at: t) }, at: t, mode: mode, to: &w)
        w.raw("]")
    }

    func eventsList(_ p: QueryParams, at t: Int64, faults: FaultPlan, mode: UpdatedTimeMode) throws(APIError) -> [UInt8] {
        var limit = 200
        if let l = try p.int64("limit") {
            guard l >= 0, l <= 200 else { throw .badRequest("invalid limit: must be between 1 and 200") }
            if l > 0 { limit = Int(l) }
        }
        if faults.oversizedPage { limit += max(1, limit / 2) }
        var after: Int? = nil
        if let c = p.nonEmpty("cursor") {
            guard let tk = Cursor.decode(c, kind: "e"), let i = universe.eventIndex[tk] else { throw .badRequest("invalid cursor") }
            after = i
        }
        let nested = try p.bool("with_nested_markets")
        var status: QueryStatus? = nil
        if let s = p.nonEmpty("status") {
            guard let q = QueryStatus(rawValue: s), q != .paused else { throw .badRequest("invalid status: \(s)") }
            status = q
        }
        let minClose = try p.int64("min_close_ts")
        let minUpdated = try p.int64("min_updated_ts")
        var range = 0..<universe.events.count
        var candidates: Candidates
        if let s = p.nonEmpty("series_ticker") {
            if let si = universe.seriesIndex[s] { range = universe.series[si].eventRange } else { range = 0..<0 }
        }
        candidates = .range(range)
        if let tickers = p.list("tickers") {
            candidates = .list(Set(tickers.compactMap { universe.eventIndex[$0] }).filter(range.contains).sorted())
        }
        let u = universe
        let (items, more) = candidates.page(after: after, limit: limit) { i in
            let e = u.events[i]
            guard !u.isMultivariate(series: e.seriesIndex), u.isEventVisible(i, at: t) else { return false }
            if let x = minUpdated, e.lastUpdatedTs(at: t) < x { return false }
            if status != nil || minClose != nil {
                var any = false
                for m in e.marketRange where u.isMarketVisible(m, at: t) {
                    let tl = u.markets[m].timeline
                    if let s = status, !s.matches(tl.status(at: t)) { continue }
                    if let x = minClose, tl.shownCloseTs(at: t) < x { continue }
                    any = true
                    break
                }
                if !any { return false }
            }
            return true
        }
        var w = JSONWriter(capacity: 64 + items.count * (nested ? 6000 : 600))
        w.raw("{\"events\":[")
        for (k, i) in items.enumerated() {
            if k > 0 { w.comma() }
            let e = u.events[i]
            EntityRendering.appendEvent(e, series: u.series[e.seriesIndex], at: t, to: &w) { w in
                if nested { w.raw(",\"markets\":"); appendMarkets(of: e, at: t, mode: mode, to: &w) }
            }
        }
        var cursor = more && !items.isEmpty ? Cursor.encode(kind: "e", ticker: u.events[items.last!].ticker) : ""
        if faults.repeatCursor, let c = p.nonEmpty("cursor") { cursor = c }
        w.raw("],\"cursor\":"); w.string(cursor); w.raw("}")
        return w.bytes
    }

    func eventSingle(_ ticker: String, _ p: QueryParams, at t: Int64, mode: UpdatedTimeMode) throws(APIError) -> [UInt8] {
        guard let i = universe.eventIndex[ticker], universe.isEventVisible(i, at: t) else { throw .notFound() }
        let nested = try p.bool("with_nested_markets")
        let e = universe.events[i]
        var w = JSONWriter(capacity: 8192)
        w.raw("{\"event\":")
        EntityRendering.appendEvent(e, series: universe.series[e.seriesIndex], at: t, to: &w) { w in
            if nested { w.raw(",\"markets\":"); appendMarkets(of: e, at: t, mode: mode, to: &w) }
        }
        w.raw(",\"markets\":")
        appendMarkets(of: e, at: t, mode: mode, to: &w)
        w.raw("}")
        return w.bytes
    }
}

extension ExchangeAPI {
    /// `/_sim/truth/transitions?from=&to=[&entity=][&kind=]`: every transition with
    /// `from <= at < to` (unix seconds; default from the simulation's start to now,
    /// inclusive), in order, as JSON lines.
    func transitionsTruth(_ p: QueryParams, now t: Int64, mode: UpdatedTimeMode) throws(APIError) -> [UInt8] {
        let from = try p.int64("from") ?? universe.referenceTs
        let to = try p.int64("to") ?? (t + 1)
        guard to >= from else { throw .badRequest("to must not be before from") }
        var entities: Set<TransitionEntity>? = nil
        if let list = p.list("entity") {
            var set = Set<TransitionEntity>()
            for name in list {
                guard let e = TransitionEntity.allCases.first(where: { $0.name == name }) else {
                    throw .badRequest("invalid entity: \(name)")
                }
                set.insert(e)
            }
            entities = set
        }
        var kinds: Set<TransitionKind>? = nil
        if let list = p.list("kind") {
            var set = Set<TransitionKind>()
            for name in list {
                guard let k = TransitionKind(name: name) else { throw .badRequest("invalid kind: \(name)") }
                set.insert(k)
            }
            kinds = set
        }
        let all = transitions.entries
        let range = transitions.range(from: from, to: to)
        var w = JSONWriter(capacity: min(range.count, 100_000) * 300 + 16)
        for k in range {
            let e = all[k]
            if let entities, !entities.contains(e.entity) { continue }
            if let kinds, !kinds.contains(e.kind) { continue }
            Transitions.appendTruthLine(universe, e, mode: mode, to: &w)
        }
        return w.bytes
    }
}

extension ExchangeAPI {
    /// `/_sim/truth/ws_messages?from=&to=`: the lifecycle messages the WebSocket sends for
    /// the transitions with `from <= at < to`, as JSON lines
    /// `{"at":…,"channel":…,"message":{"type":…,"sid":1,"msg":{…}}}` (`sid` is each
    /// subscription's own; 1 stands in for it here).
    func webSocketTruth(_ p: QueryParams, now t: Int64) throws(APIError) -> [UInt8] {
        let from = try p.int64("from") ?? universe.referenceTs
        let to = try p.int64("to") ?? (t + 1)
        guard to >= from else { throw .badRequest("to must not be before from") }
        let all = transitions.entries
        var w = JSONWriter(capacity: 4096)
        for k in transitions.range(from: from, to: to) {
            guard let m = LifecycleMessages.message(universe, all[k]) else { continue }
            w.raw("{\"at\":"); w.int(m.at)
            w.raw(",\"channel\":"); w.string(m.channel.rawValue)
            w.raw(",\"message\":{\"type\":"); w.string(m.type)
            w.raw(",\"sid\":1,\"msg\":"); w.raw(m.msg)
            w.raw("}}\n")
        }
        return w.bytes
    }
}

/// Ground truth for tests, as JSON lines (one object per line) at a simulated time.
public enum Truth {
    public static func series(_ u: Universe, at t: Int64) -> [UInt8] {
        var w = JSONWriter(capacity: u.series.count * 200)
        for s in u.series where s.isListed(at: t) {
            w.raw("{\"ticker\":"); w.string(s.ticker)
            w.raw(",\"category\":"); w.string(s.category)
            w.raw(",\"tags\":"); w.stringArray(s.tags)
            w.raw(",\"title\":"); w.string(s.title)
            w.raw(",\"frequency\":"); w.string(s.frequency)
            w.raw(",\"last_updated_ts\":"); w.time(s.lastUpdatedTs(at: t))
            w.raw(",\"is_mve\":"); w.bool(s.kind == .multivariate)
            w.raw(",\"is_game\":"); w.bool(s.kind == .game)
            w.raw("}\n")
        }
        return w.bytes
    }

    public static func events(_ u: Universe, at t: Int64) -> [UInt8] {
        var w = JSONWriter(capacity: u.events.count * 200)
        for (i, e) in u.events.enumerated() where u.isEventVisible(i, at: t) {
            let s = u.series[e.seriesIndex]
            w.raw("{\"event_ticker\":"); w.string(e.ticker)
            w.raw(",\"series_ticker\":"); w.string(s.ticker)
            w.raw(",\"title\":"); w.string(e.title)
            w.raw(",\"sub_title\":"); w.string(e.subTitle(at: t))
            w.raw(",\"last_updated_ts\":"); w.time(e.lastUpdatedTs(at: t))
            w.raw(",\"market_count\":"); w.int(e.marketRange.filter { u.isMarketVisible($0, at: t) }.count)
            w.raw(",\"is_mve\":"); w.bool(s.kind == .multivariate)
            w.raw("}\n")
        }
        return w.bytes
    }

    public static func markets(_ u: Universe, at t: Int64, mode: UpdatedTimeMode = .metadataOnly) -> [UInt8] {
        var w = JSONWriter(capacity: u.markets.count * 700)
        for (i, m) in u.markets.enumerated() where u.isMarketVisible(i, at: t) {
            let tl = m.timeline
            let st = tl.status(at: t)
            let q = MarketRendering.quote(m, status: st, at: t)
            let f = m.fields(at: t)
            w.raw("{\"ticker\":"); w.string(m.ticker)
            w.raw(",\"event_ticker\":"); w.string(u.events[m.eventIndex].ticker)
            w.raw(",\"series_ticker\":"); w.string(u.series[m.seriesIndex].ticker)
            w.raw(",\"status\":\""); w.rawString(st.rawValue); w.raw("\"")
            w.raw(",\"created_time\":"); w.time(tl.createdTs)
            w.raw(",\"open_time\":"); w.time(tl.openTs)
            w.raw(",\"close_time\":"); w.time(tl.shownCloseTs(at: t))
            w.raw(",\"scheduled_close_time\":"); w.time(tl.scheduledCloseTs)
            w.raw(",\"determination_ts\":"); w.optionalTime(t >= tl.determinedTs ? tl.determinedTs : nil)
            w.raw(",\"settlement_ts\":"); w.optionalTime(tl.settlementTs(at: t))
            w.raw(",\"updated_time\":"); w.time(tl.updatedTs(at: t, mode: mode))
            w.raw(",\"settlement_timer_seconds\":"); w.int(tl.settlementTimerSeconds)
            w.raw(",\"can_close_early\":"); w.bool(m.canCloseEarly)
            w.raw(",\"title\":"); w.string(f.title)
            w.raw(",\"yes_sub_title\":"); w.string(f.yesSubTitle)
            w.raw(",\"rules_secondary\":"); w.string(f.rulesSecondary)
            w.raw(",\"floor_strike\":"); if let x = f.floorStrike { w.rawString(x) } else { w.raw("null") }
            w.raw(",\"cap_strike\":"); if let x = f.capStrike { w.rawString(x) } else { w.raw("null") }
            w.raw(",\"price_level_structure\":"); w.string(m.priceLevelStructure(at: t).rawValue)
            w.raw(",\"yes_bid_dollars\":"); w.dollars(q.yesBid)
            w.raw(",\"yes_ask_dollars\":"); w.dollars(q.yesAsk)
            w.raw(",\"last_price_dollars\":"); w.dollars(q.lastPrice)
            w.raw(",\"volume_fp\":"); w.count(q.volume)
            w.raw(",\"result\":"); w.string(st >= .determined ? (m.resultYes ? "yes" : "no") : "")
            w.raw(",\"is_mve\":"); w.bool(m.isMultivariate)
            w.raw("}\n")
        }
        return w.bytes
    }
}
