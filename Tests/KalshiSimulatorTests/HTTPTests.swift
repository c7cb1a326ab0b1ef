import Foundation
import Testing
@testable import KalshiSimulator

/// Everything over real HTTP on loopback against an in-process server with a frozen clock.
@Suite(.serialized) struct HTTPTests {
    func truthMarkets(_ s: TestServer) async throws -> [[String: Any]] {
        try await s.get("/_sim/truth/markets").text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// Follows cursors to the end; fails on a repeated ticker.
    func allMarkets(_ s: TestServer, _ query: String) async throws -> [String] {
        var tickers: [String] = []
        var cursor = ""
        var pages = 0
        repeat {
            let r = try await s.get("/trade-api/v2/markets?\(query)\(cursor.isEmpty ? "" : "&cursor=\(cursor)")")
            #expect(r.status == 200, "\(r.text)")
            let page = r.object["markets"] as? [[String: Any]] ?? []
            tickers += page.map { $0["ticker"] as! String }
            cursor = r.object["cursor"] as? String ?? ""
            pages += 1
        } while !cursor.isEmpty && pages < 10_000
        return tickers
    }

    @Test func paginationReturnsEveryMarketExactlyOnce() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stop() } }
        let truth = try await truthMarkets(s)
        let all = try await allMarkets(s, "limit=97")
        #expect(all.count == Set(all).count)
        #expect(Set(all) == Set(truth.map { $0["ticker"] as! String }))
        let mveExcluded = try await allMarkets(s, "limit=1000&mve_filter=exclude")
        #expect(Set(mveExcluded) == Set(truth.filter { !($0["is_mve"] as! Bool) }.map { $0["ticker"] as! String }))
        // Default page size is 100, last page has an empty cursor.
        let first = try await s.get("/trade-api/v2/markets")
        #expect((first.object["markets"] as! [Any]).count == 100)
        #expect((first.object["cursor"] as! String) != "")
        await s.stop()
    }

    @Test func paginationSurvivesAMovingClock() async throws {
        let s = try await TestServer.start()
        var seen: [String] = []
        var cursor = ""
        repeat {
            let r = try await s.get("/markets?limit=250\(cursor.isEmpty ? "" : "&cursor=\(cursor)")")
            seen += (r.object["markets"] as! [[String: Any]]).map { $0["ticker"] as! String }
            cursor = r.object["cursor"] as! String
            _ = try await httpRequest(port: s.port, method: "POST", path: "/_sim/clock", body: "{\"advance_seconds\": 600}")
        } while !cursor.isEmpty
        #expect(seen.count == Set(seen).count)
        await s.stop()
    }

    @Test func statusFilterMapsQueryValuesToReturnedStatuses() async throws {
        let s = try await TestServer.start()
        let truth = try await truthMarkets(s)
        let mapping: [String: Set<String>] = [
            "unopened": ["initialized"], "open": ["active"], "paused": ["inactive"],
            "closed": ["closed", "determined", "disputed", "amended"], "settled": ["finalized"],
        ]
        for (query, returned) in mapping {
            let got = try await allMarkets(s, "limit=1000&status=\(query)")
            let want = truth.filter { returned.contains($0["status"] as! String) }.map { $0["ticker"] as! String }
            #expect(!want.isEmpty, "\(query)")
            #expect(Set(got) == Set(want), "\(query)")
        }
        await s.stop()
    }

    @Test func eachFilter() async throws {
        let s = try await TestServer.start()
        let truth = try await truthMarkets(s)
        let sample = truth.first { ($0["ticker"] as! String).hasPrefix("KXBTCD-") }!
        let series = sample["series_ticker"] as! String
        let event = sample["event_ticker"] as! String
        func tickers(_ f: ([String: Any]) -> Bool) -> Set<String> { Set(truth.filter(f).map { $0["ticker"] as! String }) }

        #expect(Set(try await allMarkets(s, "limit=50&series_ticker=\(series)")) == tickers { $0["series_ticker"] as! String == series })
        #expect(Set(try await allMarkets(s, "event_ticker=\(event)")) == tickers { $0["event_ticker"] as! String == event })
        let some = truth.prefix(5).map { $0["ticker"] as! String } + [sample["ticker"] as! String]
        #expect(Set(try await allMarkets(s, "limit=2&tickers=\(some.joined(separator: ","))")) == Set(some))
        #expect(try await allMarkets(s, "series_ticker=NOSUCHSERIES").isEmpty)

        func ts(_ v: Any?) -> Int64? { (v as? String).flatMap(SimTime.parse) }
        let now = TestServer.fixedStart
        let closeLo = now - 86_400
        #expect(Set(try await allMarkets(s, "limit=1000&status=closed&min_close_ts=\(closeLo)"))
                == tickers { ["closed", "determined", "disputed", "amended"].contains($0["status"] as! String) && ts($0["close_time"])! >= closeLo })
        #expect(Set(try await allMarkets(s, "limit=1000&max_close_ts=\(now)")) == tickers { ts($0["close_time"])! <= now })
        #expect(Set(try await allMarkets(s, "limit=1000&status=settled&min_settled_ts=\(closeLo)"))
                == tickers { ts($0["settlement_ts"]).map { $0 >= closeLo } ?? false })
        #expect(Set(try await allMarkets(s, "limit=1000&max_settled_ts=\(closeLo)")) == tickers { ts($0["settlement_ts"]).map { $0 <= closeLo } ?? false })
        #expect(Set(try await allMarkets(s, "limit=1000&status=open&min_created_ts=\(closeLo)"))
                == tickers { $0["status"] as! String == "active" && ts($0["created_time"])! >= closeLo })
        #expect(Set(try await allMarkets(s, "limit=1000&max_created_ts=\(closeLo)")) == tickers { ts($0["created_time"])! <= closeLo })
        let upd = now - 3 * 86_400
        let updated = try await allMarkets(s, "limit=1000&min_updated_ts=\(upd)&mve_filter=exclude")
        #expect(!updated.isEmpty)
        #expect(Set(updated) == tickers { ts($0["updated_time"])! >= upd && !($0["is_mve"] as! Bool) })
        #expect(Set(try await allMarkets(s, "limit=1000&mve_filter=only")) == tickers { $0["is_mve"] as! Bool })
        await s.stop()
    }

    @Test func incompatibleCombinationsAreBadRequests() async throws {
        let s = try await TestServer.start()
        for q in ["status=open&min_close_ts=1", "status=closed&min_settled_ts=1", "min_updated_ts=1&status=open",
                  "min_updated_ts=1&series_ticker=KXBTCD", "min_close_ts=1&min_created_ts=1"] {
            let r = try await s.get("/trade-api/v2/markets?\(q)")
            #expect(r.status == 400, "\(q)")
            #expect((r.object["error"] as? [String: Any])?["code"] as? String == "bad_request", "\(q)")
        }
        await s.stop()
    }

    @Test func errorBodies() async throws {
        let s = try await TestServer.start()
        for path in ["/trade-api/v2/markets/NOPE", "/trade-api/v2/events/NOPE", "/trade-api/v2/series/NOPE"] {
            let r = try await s.get(path)
            #expect(r.status == 404)
            let err = r.object["error"] as? [String: Any]
            #expect(err?["code"] as? String == "not_found")
            #expect(err?["message"] is String)
        }
        for path in ["/markets?limit=1001", "/markets?limit=x", "/markets?status=nope", "/markets?cursor=garbage!",
                     "/events?limit=201", "/series?include_volume=maybe", "/markets?min_close_ts=soon"] {
            let r = try await s.get("/trade-api/v2" + path)
            #expect(r.status == 400, "\(path)")
            #expect((r.object["error"] as? [String: Any])?["code"] as? String == "bad_request", "\(path)")
        }
        await s.stop()
    }

    @Test func singleObjectsAndSearch() async throws {
        let s = try await TestServer.start()
        let t = try await s.get("/trade-api/v2/search/tags_by_categories").object["tags_by_categories"] as! [String: Any]
        #expect(t["Elections"] is NSNull)
        #expect((t["Sports"] as! [String]).contains("Basketball"))
        let f = try await s.get("/trade-api/v2/search/filters_by_sport").object
        #expect((f["sport_ordering"] as! [String]).first == "All sports")
        #expect((f["filters_by_sports"] as! [String: Any])["Basketball"] != nil)

        let series = try await s.get("/trade-api/v2/series").object["series"] as! [[String: Any]]
        let truthSeries = try await s.get("/_sim/truth/series").text.split(separator: "\n").filter { !$0.contains("\"is_mve\":true") }
        #expect(series.count == truthSeries.count && series.count > 190)
        #expect(series.contains { $0["tags"] is NSNull })
        let sports = try await s.get("/trade-api/v2/series?category=Sports&include_volume=true").object["series"] as! [[String: Any]]
        #expect(sports.count >= 18 && sports.allSatisfy { $0["volume_fp"] is String })
        let tagged = try await s.get("/trade-api/v2/series?tags=Basketball").object["series"] as! [[String: Any]]
        #expect(!tagged.isEmpty && tagged.allSatisfy { ($0["tags"] as? [String])?.contains("Basketball") == true })

        let m = try await s.get("/trade-api/v2/markets?limit=1&series_ticker=KXBTCD").object["markets"] as! [[String: Any]]
        let ticker = m[0]["ticker"] as! String
        #expect(ticker.contains("."))
        let single = try await s.get("/trade-api/v2/markets/\(ticker)").object["market"] as! [String: Any]
        #expect(single["ticker"] as? String == ticker)
        for k in ["yes_bid_dollars", "last_price_dollars", "volume_fp", "open_interest_fp"] { #expect(single[k] is String) }
        for k in ["yes_bid", "last_price", "volume", "liquidity"] { #expect(single[k] == nil) }
        let ev = try await s.get("/trade-api/v2/events/\(single["event_ticker"] as! String)?with_nested_markets=true").object
        #expect((ev["markets"] as! [Any]).count > 0)
        #expect(((ev["event"] as! [String: Any])["markets"] as! [Any]).count > 0)
        #expect(try await s.get("/markets/\(ticker)").status == 200)  // root path too
        await s.stop()
    }

    @Test func eventsPaginationAndFilters() async throws {
        let s = try await TestServer.start()
        let truth = try await s.get("/_sim/truth/events").text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }.filter { !($0["is_mve"] as! Bool) }
        var seen: [String] = []
        var cursor = ""
        repeat {
            let r = try await s.get("/trade-api/v2/events?limit=33\(cursor.isEmpty ? "" : "&cursor=\(cursor)")")
            seen += (r.object["events"] as! [[String: Any]]).map { $0["event_ticker"] as! String }
            cursor = r.object["cursor"] as! String
        } while !cursor.isEmpty
        #expect(seen.count == Set(seen).count)
        #expect(Set(seen) == Set(truth.map { $0["event_ticker"] as! String }))
        let open = try await s.get("/trade-api/v2/events?status=open&with_nested_markets=true").object["events"] as! [[String: Any]]
        #expect(!open.isEmpty)
        for e in open {
            #expect((e["markets"] as! [[String: Any]]).contains { $0["status"] as! String == "active" })
        }
        await s.stop()
    }

    @Test func clockAndStats() async throws {
        let s = try await TestServer.start()
        let c0 = try await s.get("/_sim/clock").object
        #expect(c0["now"] as? String == "2026-11-25T09:46:40Z")
        let c1 = try await httpRequest(port: s.port, method: "POST", path: "/_sim/clock", body: "{\"advance_seconds\": 3600, \"speed\": 2}").object
        #expect(c1["now"] as? String == "2026-11-25T10:46:40Z")
        #expect(c1["speed"] as? Double == 2)
        _ = try await s.get("/trade-api/v2/markets/NOPE")
        let stats = try await s.get("/_sim/stats").object["requests"] as! [String: [String: Int]]
        #expect(stats["/markets/{ticker}"]?["404"] == 1)
        await s.stop()
    }
}
