import Foundation
import Testing
import TestSupport
import PostgresClient
import SSMDCore

/// data-api over real HTTP against a PostgreSQL filled by one real pipeline cycle (simulator
/// clock frozen), every answer compared with SQL on the same database.
@Suite(.tags(.processes), .processSlot) struct DataAPITests {
    static let frozenClock = ["--clock-speed", "0"]

    /// Every page of a list endpoint, following cursors; fails on a repeated cursor.
    static func allPages(_ base: String, _ path: String, key: String, limit: Int) async throws -> (items: [[String: Any]], pages: Int) {
        var items: [[String: Any]] = []
        var cursor: String?
        var pages = 0
        var seen = Set<String>()
        repeat {
            let sep = path.contains("?") ? "&" : "?"
            let url = base + path + sep + "limit=\(limit)" + (cursor.map { "&cursor=" + APIClient.escape($0) } ?? "")
            let r = try await APIClient.get(url)
            guard r.status == 200, let json = r.json else { throw HarnessError.failed("GET \(url) → \(r.status): \(r.body.prefix(300))") }
            let page = json[key] as? [[String: Any]] ?? []
            #expect(page.count <= limit)
            items += page
            pages += 1
            cursor = json["cursor"] as? String
            if let c = cursor {
                #expect(!seen.contains(c), "cursor repeated")
                seen.insert(c)
                #expect(page.count == limit, "a page before the last is full")
            } else {
                #expect(json.keys.contains("cursor"), "cursor is present (null) on the last page")
            }
        } while cursor != nil && pages < 10_000
        return (items, pages)
    }

    static func tickers(_ items: [[String: Any]]) -> [String] { items.compactMap { $0["ticker"] as? String } }

    static func column(_ h: PipelineHarness, _ sql: String, _ params: [PostgresValue?] = []) async throws -> [String] {
        let r = try await h.query(sql, params)
        return (0..<r.rowCount).compactMap { r[$0, 0] }
    }

    static func expectError(_ base: String, _ path: String, status: Int, code: String, parameter: String? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let r = try await APIClient.get(base + path)
        #expect(r.status == status, "GET \(path) → \(r.status) \(r.body)", sourceLocation: sourceLocation)
        let e = r.json?["error"] as? [String: Any]
        #expect(e?["code"] as? String == code, "GET \(path): \(r.body)", sourceLocation: sourceLocation)
        #expect((e?["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        if let parameter { #expect(e?["parameter"] as? String == parameter, "GET \(path): \(r.body)", sourceLocation: sourceLocation) }
    }

    @Test func badConfigurationExitsTwoWithOneLine() async throws {
        for (args, setting) in [(["--http-port", "http"], "--http-port"), (["--http-port", "70000"], "--http-port"),
                                (["--database-url", "mysql://x/y"], "--database-url"), (["--db-connections", "0"], "--db-connections"),
                                (["--nats-url", "http://x"], "--nats-url"), (["--no-such-flag"], "--no-such-flag")] {
            let r = try await runTool(BuiltProducts.executable("data-api").path, args, timeout: .seconds(20))
            #expect(r.status == 2, "\(args): \(r.output)")
            let lines = r.output.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("data-api: ") && lines[0].contains(setting), "\(args): \(r.output)")
        }
    }

    @Test func seriesMarketsStatsAndErrorsMatchPostgres() async throws {
        let h = try await PipelineHarness(name: "data-api", simulatorArguments: Self.frozenClock)
        defer { h.teardown() }
        try await h.fillSecmaster()
        let (_, base) = try await h.startDataAPI()

        await #expect(try APIClient.get(base + "/healthz").status == 200)
        let ready = try await APIClient.get(base + "/readyz")
        #expect(ready.status == 200 && ready.json?["status"] as? String == "ready", "\(ready.body)")

        // Pagination: every series exactly once, in ticker order, across small pages.
        let allSeries = try await Self.column(h, "SELECT ticker FROM series ORDER BY ticker")
        #expect(allSeries.count > 50)
        let paged = try await Self.allPages(base, "/v1/series", key: "series", limit: 7)
        #expect(Self.tickers(paged.items) == allSeries, "every series exactly once, in order")
        #expect(paged.pages == (allSeries.count + 6) / 7)
        let unpaged = try await APIClient.get(base + "/v1/series?limit=1000").json
        #expect((unpaged?["series"] as? [Any])?.count == allSeries.count)
        #expect(unpaged?["cursor"] is NSNull)

        // One series: every field as in PostgreSQL.
        let one = try #require(try await h.query("SELECT ticker, title, category, tags, is_game, active FROM series WHERE tags <> '{}' ORDER BY ticker LIMIT 1").rows.first)
        let got = try await APIClient.get(base + "/v1/series/" + APIClient.escape(one[0]!))
        #expect(got.status == 200)
        let s = try #require(got.json?["series"] as? [String: Any])
        #expect(s["ticker"] as? String == one[0] && s["title"] as? String == one[1] && s["category"] as? String == one[2])
        #expect(s["tags"] as? [String] == PostgresArrayLiteral.decode(one[3]!)?.compactMap { $0 })
        #expect(s["is_game"] as? Bool == (one[4] == "t") && s["active"] as? Bool == (one[5] == "t"))
        #expect((s["created_at"] as? String).flatMap(Timestamp.init(iso8601:)) != nil, "RFC 3339 times")

        // Filters: category, tag (with `&`), games_only, active, and combined.
        let category = try #require(try await Self.column(h, "SELECT category FROM series GROUP BY category ORDER BY count(*) DESC LIMIT 1").first)
        await #expect(Self.tickers(try Self.allPages(base, "/v1/series?category=" + APIClient.escape(category), key: "series", limit: 1000).items)
                == (try await Self.column(h, "SELECT ticker FROM series WHERE category = $1 ORDER BY ticker", [.text(category)])))
        let spTagged = try await Self.column(h, "SELECT ticker FROM series WHERE 'S&P' = ANY(tags) ORDER BY ticker")
        #expect(!spTagged.isEmpty, "the simulator universe has series tagged S&P")
        let sp = try await Self.allPages(base, "/v1/series?tag=S%26P", key: "series", limit: 3)
        #expect(Self.tickers(sp.items) == spTagged)
        #expect(sp.items.allSatisfy { ($0["tags"] as? [String])?.contains("S&P") == true })
        let games = try await Self.column(h, "SELECT ticker FROM series WHERE is_game ORDER BY ticker")
        #expect(!games.isEmpty)
        await #expect(Self.tickers(try Self.allPages(base, "/v1/series?games_only=true", key: "series", limit: 1000).items) == games)
        await #expect(Self.tickers(try Self.allPages(base, "/v1/series?games_only=false", key: "series", limit: 1000).items) == allSeries)
        await #expect(Self.tickers(try Self.allPages(base, "/v1/series?category=Sports&games_only=true", key: "series", limit: 1000).items)
                == (try await Self.column(h, "SELECT ticker FROM series WHERE category = 'Sports' AND is_game ORDER BY ticker")))
        await #expect(Self.tickers(try Self.allPages(base, "/v1/series?active=true", key: "series", limit: 1000).items)
                == (try await Self.column(h, "SELECT ticker FROM series WHERE active ORDER BY ticker")))
        await #expect(try Self.allPages(base, "/v1/series?active=false", key: "series", limit: 1000).items.isEmpty)
        await #expect(try Self.allPages(base, "/v1/series?tag=No%20such%20tag", key: "series", limit: 10).items.isEmpty)

        // Per-category stats.
        let stats = try #require(try await APIClient.get(base + "/v1/series/stats").json?["categories"] as? [[String: Any]])
        let sqlStats = try await h.query("SELECT category, count(*) AS t, count(*) FILTER (WHERE is_game) AS g, count(*) FILTER (WHERE active) AS a FROM series GROUP BY category ORDER BY category")
        #expect(stats.count == sqlStats.rowCount)
        for (i, row) in stats.enumerated() where i < sqlStats.rowCount {
            #expect(row["category"] as? String == sqlStats[i, "category"])
            #expect(row["total"] as? Int == Int(sqlStats[i, "t"]!) && row["games"] as? Int == Int(sqlStats[i, "g"]!) && row["active"] as? Int == Int(sqlStats[i, "a"]!))
        }

        // Per-series market stats by status.
        let busy = try #require(try await Self.column(h, "SELECT series_ticker FROM markets GROUP BY series_ticker ORDER BY count(DISTINCT status) DESC, count(*) DESC LIMIT 1").first)
        let perSeries = try #require(try await APIClient.get(base + "/v1/stats/series?series=" + APIClient.escape(busy)).json?["series"] as? [[String: Any]])
        #expect(perSeries.count == 1)
        let byStatus = try await h.query("SELECT status, count(*) AS n FROM markets WHERE series_ticker = $1 AND gone_at IS NULL GROUP BY status", [.text(busy)])
        var want: [String: Int] = [:]
        for i in 0..<byStatus.rowCount { want[byStatus[i, "status"]!] = Int(byStatus[i, "n"]!) }
        #expect(perSeries.first?["markets_by_status"] as? [String: Int] == want)
        #expect(perSeries.first?["markets_total"] as? Int == want.values.reduce(0, +))
        // Across pages, every series once, in order.
        let statsPages = try await Self.allPages(base, "/v1/stats/series", key: "series", limit: 7)
        #expect(statsPages.items.compactMap { $0["series_ticker"] as? String } == (try await Self.column(h, "SELECT ticker FROM series ORDER BY ticker")))
        let spStats = try #require(try await APIClient.get(base + "/v1/stats/series?tag=S%26P").json?["series"] as? [[String: Any]])
        #expect(spStats.compactMap { $0["series_ticker"] as? String } == spTagged)

        // Markets: by series, by tag across pages, by status.
        let seriesMarkets = try await Self.allPages(base, "/v1/markets?series=" + APIClient.escape(busy), key: "markets", limit: 5)
        #expect(Self.tickers(seriesMarkets.items) == (try await Self.column(h, "SELECT ticker FROM markets WHERE series_ticker = $1 ORDER BY ticker", [.text(busy)])))
        let sample = try #require(seriesMarkets.items.first)
        let sqlSample = try await h.query("SELECT status, yes_bid_dollars::text AS b, event_ticker FROM markets WHERE ticker = $1", [.text(sample["ticker"] as! String)])
        #expect(sample["status"] as? String == sqlSample[0, "status"] && sample["event_ticker"] as? String == sqlSample[0, "event_ticker"])
        #expect(sample["yes_bid_dollars"] as? String == sqlSample[0, "b"], "prices are exact decimal strings")
        let spMarkets = try await Self.allPages(base, "/v1/markets?tag=S%26P", key: "markets", limit: 50)
        let sqlSPMarkets = try await Self.column(h, "SELECT m.ticker FROM markets m JOIN series s ON s.ticker = m.series_ticker WHERE 'S&P' = ANY(s.tags) ORDER BY m.ticker")
        #expect(!sqlSPMarkets.isEmpty)
        #expect(Self.tickers(spMarkets.items) == sqlSPMarkets)
        for status in ["active", "finalized", "closed"] {
            let items = try await Self.allPages(base, "/v1/markets?status=\(status)", key: "markets", limit: 1000).items
            #expect(Self.tickers(items) == (try await Self.column(h, "SELECT ticker FROM markets WHERE status = $1 ORDER BY ticker", [.text(status)])), "status=\(status)")
            #expect(items.allSatisfy { $0["status"] as? String == status })
        }
        let combined = try await Self.allPages(base, "/v1/markets?tag=S%26P&status=active", key: "markets", limit: 1000).items
        #expect(Self.tickers(combined) == (try await Self.column(h, "SELECT m.ticker FROM markets m JOIN series s ON s.ticker = m.series_ticker WHERE 'S&P' = ANY(s.tags) AND m.status = 'active' ORDER BY m.ticker")))

        // A market ticker with a `.` (a decimal strike): the simulator's truth has them.
        let truthDotted = try await h.simulatorJSONLines("/_sim/truth/markets").compactMap { $0["ticker"] as? String }.filter { $0.contains(".") }
        #expect(!truthDotted.isEmpty, "the simulator has tickers with a dot")
        let dotted = try #require(try await Self.column(h, "SELECT ticker FROM markets WHERE ticker LIKE '%.%' ORDER BY ticker LIMIT 1").first)
        let dm = try await APIClient.get(base + "/v1/markets/" + dotted)
        #expect(dm.status == 200, "\(dm.body)")
        #expect((dm.json?["market"] as? [String: Any])?["ticker"] as? String == dotted)
        let dottedSeries = try await Self.column(h, "SELECT series_ticker FROM markets WHERE ticker = $1", [.text(dotted)])[0]
        await #expect(Self.tickers(try Self.allPages(base, "/v1/markets?series=" + APIClient.escape(dottedSeries), key: "markets", limit: 1000).items).contains(dotted))

        // Bad parameters → 400 naming the parameter; unknown tickers and paths → 404.
        try await Self.expectError(base, "/v1/series?limit=1001", status: 400, code: "bad_request", parameter: "limit")
        try await Self.expectError(base, "/v1/series?limit=0", status: 400, code: "bad_request", parameter: "limit")
        try await Self.expectError(base, "/v1/series?limit=ten", status: 400, code: "bad_request", parameter: "limit")
        try await Self.expectError(base, "/v1/markets?limit=5000", status: 400, code: "bad_request", parameter: "limit")
        try await Self.expectError(base, "/v1/series?cursor=%21%21", status: 400, code: "bad_request", parameter: "cursor")
        try await Self.expectError(base, "/v1/series?games_only=maybe", status: 400, code: "bad_request", parameter: "games_only")
        try await Self.expectError(base, "/v1/series?active=sometimes", status: 400, code: "bad_request", parameter: "active")
        try await Self.expectError(base, "/v1/series?catgory=Sports", status: 400, code: "bad_request", parameter: "catgory")
        try await Self.expectError(base, "/v1/markets?status=open", status: 400, code: "bad_request", parameter: "status")
        try await Self.expectError(base, "/v1/series/NO-SUCH-SERIES", status: 404, code: "not_found")
        try await Self.expectError(base, "/v1/markets/NO-SUCH.MARKET", status: 404, code: "not_found")
        try await Self.expectError(base, "/v1/nothing", status: 404, code: "not_found")
        // A repeated parameter has no one meaning: 400, not last-wins.
        try await Self.expectError(base, "/v1/markets?limit=2&limit=3", status: 400, code: "bad_request", parameter: "limit")
        try await Self.expectError(base, "/v1/events?series=A&series=B", status: 400, code: "bad_request", parameter: "series")

        // Events: every stored column, by ticker and by series.
        let anEvent = try #require(try await Self.column(h, "SELECT ticker FROM events ORDER BY ticker LIMIT 1").first)
        let ev = try await APIClient.get(base + "/v1/events/" + APIClient.escape(anEvent))
        #expect(ev.status == 200, "\(ev.body)")
        let evObject = try #require(ev.json?["event"] as? [String: Any])
        let stored = try await Self.column(h, "SELECT column_name FROM information_schema.columns WHERE table_name = 'events' ORDER BY 1")
        #expect(Set(evObject.keys) == Set(stored), "event JSON \(evObject.keys.sorted()) vs columns \(stored)")
        let eventSeries = try #require(evObject["series_ticker"] as? String)
        let eventsOfSeries = try await Self.allPages(base, "/v1/events?series=" + APIClient.escape(eventSeries), key: "events", limit: 2).items
        let inDB = try await Self.column(h, "SELECT ticker FROM events WHERE series_ticker = $1 ORDER BY 1", [.text(eventSeries)])
        #expect(Self.tickers(eventsOfSeries) == inDB)
        try await Self.expectError(base, "/v1/events/NO-SUCH-EVENT", status: 404, code: "not_found")
        // And markets: every stored column too.
        let marketObject = try #require(dm.json?["market"] as? [String: Any])
        let marketStored = try await Self.column(h, "SELECT column_name FROM information_schema.columns WHERE table_name = 'markets' ORDER BY 1")
        #expect(Set(marketObject.keys) == Set(marketStored), "market JSON lacks \(Set(marketStored).subtracting(marketObject.keys).sorted())")

        // The OpenAPI document parses, is valid OpenAPI 3, and describes these very answers.
        let checks = [
            "/v1/series=/v1/series?limit=3", "/v1/series=/v1/series?tag=S%26P", "/v1/series=/v1/series?limit=5000",
            "/v1/series/{ticker}=/v1/series/" + APIClient.escape(one[0]!), "/v1/series/{ticker}=/v1/series/NOPE",
            "/v1/series/stats=/v1/series/stats", "/v1/stats/series=/v1/stats/series?tag=S%26P",
            "/v1/markets=/v1/markets?limit=20", "/v1/markets=/v1/markets?status=finalized&limit=20", "/v1/markets=/v1/markets?status=x",
            "/v1/markets/{ticker}=/v1/markets/" + dotted, "/healthz=/healthz", "/readyz=/readyz", "/=/",
            "/v1/events=/v1/events?limit=5", "/v1/events/{ticker}=/v1/events/" + APIClient.escape(anEvent), "/v1/events/{ticker}=/v1/events/NOPE",
        ]
        let py = try await runTool("python3", [testSourceFile("Tests/DataAPITests/check_openapi.py"), base] + checks)
        #expect(py.status == 0, "\(py.output)")

        try await Self.checkDashboard(h, base)
    }

    /// The numbers of one row of a dashboard table (`<tr data-name="…">`), as rendered.
    static func dashboardRow(_ dom: String, table: String, name: String) -> [Int]? {
        guard let t = dom.range(of: "id=\"\(table)\"") else { return nil }
        let escaped = name.replacingOccurrences(of: "&", with: "&amp;")
        guard let row = dom.range(of: "data-name=\"\(escaped)\"", range: t.upperBound..<dom.endIndex),
              let end = dom.range(of: "</tr>", range: row.upperBound..<dom.endIndex) else { return nil }
        let cells = dom[row.upperBound..<end.lowerBound].components(separatedBy: "<td").dropFirst(2)
        return cells.compactMap { c in
            guard let gt = c.firstIndex(of: ">"), let lt = c.firstIndex(of: "<") else { return nil }
            return Int(c[c.index(after: gt)..<lt].trimmingCharacters(in: .whitespaces))
        }
    }

    static func chromium(_ h: PipelineHarness, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runTool("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                                 "--user-data-dir=\(h.directory.url.path)/chromium", "--window-size=1366,900"] + arguments, timeout: .seconds(90))
    }

    /// The dashboard in a real headless browser: the rendered numbers equal SQL's, and a
    /// screenshot is kept under .build/test-artifacts/ for people to look at.
    static func checkDashboard(_ h: PipelineHarness, _ base: String) async throws {
        let dump = try await chromium(h, ["--dump-dom", base + "/"])
        #expect(dump.status == 0, "chromium: \(dump.output.suffix(1000))")
        let dom = dump.output
        let sql = try await h.query("""
            SELECT s.category AS name, count(*) AS total, count(*) FILTER (WHERE s.is_game) AS games, count(*) FILTER (WHERE s.active) AS active,
                   coalesce(sum((SELECT count(*) FROM markets m WHERE m.series_ticker = s.ticker AND m.status = 'active')), 0) AS open,
                   coalesce(sum((SELECT count(*) FROM markets m WHERE m.series_ticker = s.ticker AND m.status IN ('closed','determined','disputed','amended'))), 0) AS closed,
                   coalesce(sum((SELECT count(*) FROM markets m WHERE m.series_ticker = s.ticker AND m.status = 'finalized')), 0) AS settled
            FROM series s GROUP BY s.category
            """)
        #expect(sql.rowCount > 1)
        for i in 0..<sql.rowCount {
            let name = sql[i, "name"]!
            let want = ["total", "games", "active", "open", "closed", "settled"].map { Int(sql[i, $0]!)! }
            #expect(dashboardRow(dom, table: "by-category", name: name) == want, "category \(name) on the dashboard")
        }
        let spSeries = Int(try await h.query("SELECT count(*) FROM series WHERE 'S&P' = ANY(tags)")[0, 0]!)!
        #expect(dashboardRow(dom, table: "by-tag", name: "S&P")?.first == spSeries, "tag S&P (escaped) on the dashboard")
        #expect(dom.contains("id=\"cycles\"") && dom.contains("<td>all</td>"), "the last cycle of schedule all is shown")
        #expect(dom.contains("id=\"budget\"") && dom.contains("id=\"queues\"") && dom.contains("db-writer lag"))
        #expect(!dom.contains("NATS unavailable"))

        // The series filter shows that series' markets.
        let series = try #require(try await h.query("SELECT series_ticker FROM markets GROUP BY series_ticker ORDER BY count(*) DESC LIMIT 1")[0, 0])
        let markets = try await column(h, "SELECT ticker FROM markets WHERE series_ticker = $1", [.text(series)])
        let filtered = try await chromium(h, ["--dump-dom", base + "/?series=" + APIClient.escape(series)])
        #expect(filtered.output.contains("series-markets-table"))
        #expect(markets.prefix(500).allSatisfy { filtered.output.contains(">\($0)<") }, "every market of \(series) listed")

        // Screenshots, kept even when the test passes.
        let artifacts = BuiltProducts.packageRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        for (file, url) in [("dashboard.png", base + "/"), ("dashboard-series.png", base + "/?series=" + APIClient.escape(series))] {
            let path = artifacts.appendingPathComponent(file).path
            try? FileManager.default.removeItem(atPath: path)
            let shot = try await chromium(h, ["--screenshot=\(path)", url])
            #expect(shot.status == 0 && FileManager.default.fileExists(atPath: path), "screenshot: \(shot.output.suffix(500))")
        }

        // NATS down: the database sections still render, the pipeline ones say so.
        let (_, blind) = try await h.startDataAPI(["--nats-url", "nats://127.0.0.1:9"])
        let page = try await APIClient.get(blind + "/")
        #expect(page.status == 200 && page.body.contains("NATS unavailable") && page.body.contains("id=\"by-category\""))
    }
}
