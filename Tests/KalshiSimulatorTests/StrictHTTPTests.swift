#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import Testing
import _CryptoExtras
@testable import KalshiSimulator

func lines(_ r: HTTPResult) -> [[String: Any]] {
    r.text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

func post(_ s: TestServer, _ path: String, _ body: String) async throws -> HTTPResult {
    try await httpRequest(port: s.port, method: "POST", path: path, body: body)
}

/// Sets the frozen clock to `t` (only forward).
func advance(_ s: TestServer, to t: Int64) async throws {
    let now = Int64((try await s.get("/_sim/clock").object["now_unix"] as! Double).rounded(.down))
    precondition(t >= now, "the clock only moves forward")
    if t > now { _ = try await post(s, "/_sim/clock", "{\"advance_seconds\": \(t - now)}") }
}

/// Filters, 400s, updated_time modes and transitions over real HTTP.
@Suite(.serialized) struct StrictHTTPTests {
    static let start = TestServer.fixedStart

    func market(_ s: TestServer, _ ticker: String) async throws -> [String: Any] {
        let r = try await s.get("/trade-api/v2/markets/\(ticker)")
        #expect(r.status == 200, "\(ticker): \(r.text)")
        return r.object["market"] as? [String: Any] ?? [:]
    }

    func allMarkets(_ s: TestServer, _ query: String) async throws -> [String] {
        var out: [String] = []
        var cursor = ""
        repeat {
            let r = try await s.get("/trade-api/v2/markets?\(query)\(cursor.isEmpty ? "" : "&cursor=\(cursor)")")
            #expect(r.status == 200, "\(query): \(r.text)")
            out += (r.object["markets"] as? [[String: Any]] ?? []).map { $0["ticker"] as! String }
            cursor = r.object["cursor"] as? String ?? ""
        } while !cursor.isEmpty
        return out
    }

    @Test func incompatibleCombinationsAre400() async throws {
        let s = try await TestServer.start()
        for q in ["status=open&min_close_ts=1", "status=closed&min_settled_ts=1", "status=settled&min_close_ts=1",
                  "status=closed&min_created_ts=1", "status=settled&max_created_ts=1", "status=paused&min_created_ts=1",
                  "min_updated_ts=1&status=open", "min_updated_ts=1&series_ticker=KXBTCD", "min_updated_ts=1&event_ticker=E",
                  "min_updated_ts=1&tickers=A,B", "min_updated_ts=1&mve_filter=only", "min_close_ts=1&min_created_ts=1",
                  "min_settled_ts=1&max_close_ts=2", "min_updated_ts=1&max_created_ts=2"] {
            let r = try await s.get("/trade-api/v2/markets?\(q)")
            #expect(r.status == 400, "\(q): \(r.status)")
            #expect((r.object["error"] as? [String: Any])?["code"] as? String == "bad_request", "\(q)")
        }
        for q in ["status=unopened&min_created_ts=1", "status=open&max_created_ts=9999999999", "min_created_ts=1",
                  "status=closed&min_close_ts=1", "status=settled&max_settled_ts=9999999999",
                  "min_updated_ts=1&mve_filter=exclude", "min_updated_ts=1&mve_filter=exclude&series_ticker=KXBTCD",
                  "min_updated_ts=1"] {
            #expect(try await s.get("/trade-api/v2/markets?\(q)&limit=1").status == 200, "\(q)")
        }
        await s.stop()
    }

    @Test func createdTimeFiltersWithUnopenedOpenOrNoStatus() async throws {
        let s = try await TestServer.start()
        let truth = lines(try await s.get("/_sim/truth/markets"))
        func ts(_ v: Any?) -> Int64 { SimTime.parse(v as! String)! }
        let lo = Self.start - 3 * 86_400, hi = Self.start - 3600
        func want(_ st: String?) -> Set<String> {
            Set(truth.filter { m in
                let c = ts(m["created_time"])
                return c >= lo && c <= hi && (st == nil || m["status"] as? String == st)
            }.map { $0["ticker"] as! String })
        }
        for (q, st) in [("status=unopened&", "initialized"), ("status=open&", "active"), ("", nil)] as [(String, String?)] {
            let got = try await allMarkets(s, "\(q)min_created_ts=\(lo)&max_created_ts=\(hi)&limit=1000")
            #expect(!want(st).isEmpty, "\(q)")
            #expect(Set(got) == want(st), "\(q)")
        }
        await s.stop()
    }

    @Test func tickersBatches() async throws {
        let s = try await TestServer.start()
        let truth = lines(try await s.get("/_sim/truth/markets")).map { $0["ticker"] as! String }
        let batch = Array(truth.shuffled().prefix(250))
        let list = (batch + ["NO-SUCH-MARKET", batch[0]]).joined(separator: ",")
        let got = try await allMarkets(s, "limit=100&tickers=\(list)")
        #expect(got.count == batch.count && Set(got) == Set(batch))
        // With another filter the batch narrows.
        let open = try await allMarkets(s, "limit=1000&status=open&tickers=\(list)")
        let truthOpen = Set(lines(try await s.get("/_sim/truth/markets")).filter { $0["status"] as? String == "active" }.map { $0["ticker"] as! String })
        #expect(Set(open) == Set(batch).intersection(truthOpen))
        await s.stop()
    }

    @Test func eventsMinUpdatedTsAndEditedSubtitles() async throws {
        let s = try await TestServer.start(scale: 0.05)
        let u = s.server.universe
        // An event whose metadata changes in the next day.
        guard let (i, e) = u.events.enumerated().first(where: { i, e in
            !u.isMultivariate(series: e.seriesIndex) && (e.metadataChangeTs ?? 0) > Self.start
                && (e.metadataChangeTs ?? .max) < Self.start + 86_400 && u.isEventVisible(i, at: Self.start)
        }) else { Issue.record("no event edited in the next day"); return }
        let m = e.metadataChangeTs!
        func polled(_ since: Int64) async throws -> Set<String> {
            var out = Set<String>()
            var cursor = ""
            repeat {
                let r = try await s.get("/trade-api/v2/events?min_updated_ts=\(since)&limit=200\(cursor.isEmpty ? "" : "&cursor=\(cursor)")")
                #expect(r.status == 200)
                for ev in r.object["events"] as? [[String: Any]] ?? [] { out.insert(ev["event_ticker"] as! String) }
                cursor = r.object["cursor"] as? String ?? ""
            } while !cursor.isEmpty
            return out
        }
        let before = try await polled(Self.start)
        #expect(!before.contains(e.ticker))
        let truthBefore = lines(try await s.get("/_sim/truth/events")).filter {
            SimTime.parse($0["last_updated_ts"] as! String)! >= Self.start && !($0["is_mve"] as! Bool)
        }
        #expect(Set(truthBefore.map { $0["event_ticker"] as! String }) == before)
        try await advance(s, to: m)
        #expect(try await polled(Self.start).contains(e.ticker))
        let ev = try await s.get("/trade-api/v2/events/\(e.ticker)").object["event"] as! [String: Any]
        #expect(ev["last_updated_ts"] as? String == SimTime.iso8601(m))
        #expect(ev["sub_title"] as? String == e.editedSubTitle)
        #expect(try await s.get("/trade-api/v2/events?min_updated_ts=soon").status == 400)
        _ = i
        await s.stop()
    }

    @Test func updatedTimeModes() async throws {
        let s = try await TestServer.start(scale: 0.05)
        let u = s.server.universe
        // A market that closes in the next day with no metadata change on the way.
        guard let m = u.markets.enumerated().first(where: { i, m in
            let t = m.timeline
            return !m.isMultivariate && t.status(at: Self.start) == .active && t.closeEdit1 == nil
                && t.scheduledCloseTs > Self.start && t.determinedTs < Self.start + 86_400
                && t.metadataChangeTs == nil && t.priceLevelStructureChangeTs == nil && u.isMarketVisible(i, at: Self.start)
        })?.element else { Issue.record("no market closing in the next day"); return }
        let created = SimTime.iso8601(m.timeline.createdTs)
        #expect(try await market(s, m.ticker)["updated_time"] as? String == created)
        try await advance(s, to: m.timeline.determinedTs)
        let after = try await market(s, m.ticker)
        #expect(after["status"] as? String == "determined")
        // metadata-only (default): closing and determination leave updated_time alone …
        #expect(after["updated_time"] as? String == created)
        let strict = try await allMarkets(s, "min_updated_ts=\(Self.start)&mve_filter=exclude&limit=1000")
        #expect(!strict.contains(m.ticker))
        // … every-change: they move it.
        #expect(try await post(s, "/_sim/settings", #"{"updated_time": "every-change"}"#).status == 200)
        #expect(try await market(s, m.ticker)["updated_time"] as? String == SimTime.iso8601(m.timeline.determinedTs))
        #expect(try await allMarkets(s, "min_updated_ts=\(Self.start)&mve_filter=exclude&limit=1000").contains(m.ticker))
        #expect(try await s.get("/_sim/settings").object["updated_time"] as? String == "every-change")
        #expect(try await post(s, "/_sim/settings", #"{"updated_time": "sometimes"}"#).status == 400)
        await s.stop()
    }

    /// One transition of each kind, in time order: the REST view just before and at the
    /// instant agrees with the truth line, and updated_time moves only for metadata kinds.
    @Test func eachTransitionKindAtItsTimeInRESTAndTruth() async throws {
        let s = try await TestServer.start(scale: 0.05)
        let window = try await s.get("/_sim/truth/transitions?from=\(Self.start + 1)&to=\(Self.start + 2 * 86_400)&entity=market")
        #expect(window.status == 200)
        let all = lines(window).filter { !($0["is_mve"] as! Bool) }
        var picked: [String: [String: Any]] = [:]
        var usedTickers = Set<String>()
        for l in all {
            let k = l["kind"] as! String, t = l["ticker"] as! String
            if picked[k] == nil, !usedTickers.contains(t) { picked[k] = l; usedTickers.insert(t) }
        }
        let wanted = ["created", "opened", "paused", "unpaused", "close_date_updated", "reopened", "closed", "determined",
                      "settled", "metadata_updated", "price_level_structure_updated"]
        for k in wanted { #expect(picked[k] != nil, "no \(k) in the window") }
        var now = Self.start
        for l in picked.values.sorted(by: { ($0["at"] as! Int) < ($1["at"] as! Int) }) {
            let at = Int64(l["at"] as! Int), ticker = l["ticker"] as! String, kind = l["kind"] as! String
            if at - 1 < now { continue }  // another pick happened at the same instant
            if at - 1 > now {
                try await advance(s, to: at - 1)
                now = at - 1
            }
            let before = kind == "created" ? nil : try await market(s, ticker)
            if kind == "created" { #expect(try await s.get("/trade-api/v2/markets/\(ticker)").status == 404) }
            try await advance(s, to: at)
            now = at
            let after = try await market(s, ticker)
            #expect(after["status"] as? String == l["status_after"] as? String, "\(kind) \(ticker)")
            #expect(after["close_time"] as? String == l["close_time_after"] as? String, "\(kind) \(ticker)")
            #expect(after["updated_time"] as? String == l["updated_time_after"] as? String, "\(kind) \(ticker)")
            // Several changes may share the instant (an early close is close_date_updated + closed).
            let moves = all.contains { $0["ticker"] as? String == ticker && ($0["at"] as? Int) == Int(at) && $0["moves_updated_time"] as? Bool == true }
            let moved = before.map { ($0["updated_time"] as? String) != (after["updated_time"] as? String) }
            if let moved { #expect(moved == moves, "\(kind) \(ticker)") }
            if kind == "closed" || kind == "opened" || kind == "paused" || kind == "determined" || kind == "settled" {
                #expect(l["moves_updated_time"] as? Bool == false, "\(kind) must not move updated_time in metadata-only mode")
            }
            switch kind {
            case "close_date_updated": #expect(before?["close_time"] as? String != after["close_time"] as? String)
            case "reopened": #expect(before?["status"] as? String == "closed" && after["status"] as? String == "active")
            case "paused": #expect(after["status"] as? String == "inactive")
            case "unpaused": #expect(before?["status"] as? String == "inactive" && after["status"] as? String == "active")
            case "opened": #expect(before?["status"] as? String == "initialized" && after["status"] as? String == "active")
            case "determined":
                #expect(before?["result"] as? String == "" && ["yes", "no"].contains(after["result"] as? String))
                #expect(after["settlement_ts"] == nil)
            case "settled":
                #expect(after["status"] as? String == "finalized" && after["settlement_ts"] as? String == SimTime.iso8601(at))
            case "price_level_structure_updated":
                #expect(after["price_level_structure"] as? String == l["price_level_structure"] as? String)
                #expect(before?["price_level_structure"] as? String != after["price_level_structure"] as? String)
            case "metadata_updated":
                let fields = ["title", "yes_sub_title", "rules_secondary", "floor_strike", "cap_strike"]
                #expect(fields.contains { "\(before?[$0] ?? "-")" != "\(after[$0] ?? "-")" }, "\(ticker)")
            default: break
            }
        }
        await s.stop()
    }

    @Test func transitionsEndpointParameters() async throws {
        let s = try await TestServer.start()
        #expect(try await s.get("/_sim/truth/transitions?from=x").status == 400)
        #expect(try await s.get("/_sim/truth/transitions?from=10&to=5").status == 400)
        #expect(try await s.get("/_sim/truth/transitions?kind=exploded").status == 400)
        #expect(try await s.get("/_sim/truth/transitions?entity=planet").status == 400)
        let all = lines(try await s.get("/_sim/truth/transitions?from=\(Self.start - 86_400)&to=\(Self.start + 86_400)"))
        #expect(!all.isEmpty)
        let ats = all.map { $0["at"] as! Int }
        #expect(ats == ats.sorted() && ats.allSatisfy { $0 >= Self.start - 86_400 && $0 < Self.start + 86_400 })
        let settled = lines(try await s.get("/_sim/truth/transitions?from=\(Self.start - 86_400)&to=\(Self.start + 86_400)&kind=settled,determined&entity=market"))
        #expect(settled.count == all.filter { ["settled", "determined"].contains($0["kind"] as! String) && $0["entity"] as? String == "market" }.count)
        // Default window: the simulation's start through now.
        #expect(lines(try await s.get("/_sim/truth/transitions")).allSatisfy { ($0["at"] as! Int) == Int(Self.start) })
        await s.stop()
    }

    @Test func newMarketFieldsHaveTheDocumentedShapes() async throws {
        let s = try await TestServer.start(scale: 0.05)
        var all: [[String: Any]] = []
        var cursor = ""
        repeat {
            let r = try await s.get("/trade-api/v2/markets?limit=1000\(cursor.isEmpty ? "" : "&cursor=\(cursor)")")
            all += r.object["markets"] as? [[String: Any]] ?? []
            cursor = r.object["cursor"] as? String ?? ""
        } while !cursor.isEmpty
        let structures = Set(PriceLevelStructure.allCases.map(\.rawValue))
        for m in all {
            let t = m["ticker"] as! String
            #expect(structures.contains(m["price_level_structure"] as? String ?? ""), "\(t)")
            let ranges = m["price_ranges"] as? [[String: Any]] ?? []
            #expect(!ranges.isEmpty && ranges.allSatisfy { r in ["start", "end", "step"].allSatisfy { r[$0] is String } }, "\(t)")
            #expect(m["settlement_timer_seconds"] is Int, "\(t)")
            #expect(m["expiration_time"] as? String == m["latest_expiration_time"] as? String, "\(t)")
            #expect(m["exchange_index"] as? Int == 0)
            #expect(m.keys.contains("occurrence_datetime"))
            #expect(m["fractional_trading_enabled"] == nil)
            if m["can_close_early"] as? Bool == true {
                #expect(m["early_close_condition"] as? String == "This market will close and expire early if the event occurs.")
            } else {
                #expect(m["early_close_condition"] == nil)
            }
            if (t.hasPrefix("KXMVE")) {
                #expect(m["price_level_structure"] as? String == "center_deci_edge_centi_cent")
                #expect(m["custom_strike"] is [String: Any])
            }
        }
        #expect(Set(all.map { $0["price_level_structure"] as! String }).count >= 4)
        await s.stop()
    }
}
