import Foundation
import Testing
import TestSupport
import PostgresClient
import SSMDCore

/// The whole pipeline as separate processes — nats-server, PostgreSQL, kalshi-sim,
/// series-fetcher, market-fetcher(s), db-writer — compared with the simulator's truth.
@Suite(.tags(.processes), .processSlot) struct PipelineEndToEndTests {
    /// What the plan says one cycle must produce, computed from the simulator's truth
    /// independently of ssmd's own code.
    struct Expectation {
        var series: [String: (category: String, tags: [String], isGame: Bool)] = [:]
        var markets: [String: [String: Any]] = [:]
        /// Markets too close to the 24 h boundary to say which side the fetcher saw.
        var ambiguous: Set<String> = []
    }

    static let settledStatuses: Set<String> = ["finalized"]
    static let closedStatuses: Set<String> = ["closed", "determined", "disputed", "amended"]

    /// `marginSeconds`: markets whose close or settlement lies this close to the 24 h
    /// boundary are ambiguous (the fetchers compute the boundary from the wall clock; a test
    /// that moves the simulated clock needs a margin wider than how far it moved it).
    static func expectation(_ h: PipelineHarness, marginSeconds: Int64 = 600) async throws -> Expectation {
        let sportsFilters = try await h.simulatorJSON("/trade-api/v2/search/filters_by_sport")
        let sports = Set(((sportsFilters["filters_by_sports"] as? [String: Any]) ?? [:]).keys).subtracting(["All sports"])
        var e = Expectation()
        // Multivariate (combo) series are not listed by GET /series, so no series-based sync sees them.
        for s in try await h.simulatorJSONLines("/_sim/truth/series") where (s["is_mve"] as? Bool) != true {
            let ticker = s["ticker"] as! String, category = s["category"] as! String
            let tags = (s["tags"] as? [String]) ?? []
            let game = ticker.uppercased().contains("GAME") || ticker.uppercased().contains("MATCH")
            let isSports = category == "Sports" || tags.contains(where: sports.contains)
            if !isSports || game { e.series[ticker] = (category, tags, game) }
        }
        let clock = try await h.simulatorJSON("/_sim/clock")
        let now = Timestamp(iso8601: clock["now"] as! String)!
        let since = now.adding(seconds: -86_400)
        let margin: Int64 = marginSeconds * 1_000_000
        // A first sync covers every event with a market closing in the last 24 h or later
        // (open, unopened, recently closed or settled), with all of that event's markets…
        var byEvent: [String: [[String: Any]]] = [:]
        for m in try await h.simulatorJSONLines("/_sim/truth/markets") {
            guard let series = m["series_ticker"] as? String, e.series[series] != nil else { continue }
            byEvent[m["event_ticker"] as! String, default: []].append(m)
        }
        for (_, markets) in byEvent {
            let latestClose = markets.compactMap { ($0["close_time"] as? String).flatMap(Timestamp.init(iso8601:)) }.max()
            guard let latest = latestClose else { continue }
            let ambiguous = abs(latest.microsecondsSinceEpoch - since.microsecondsSinceEpoch) < margin
            for m in markets {
                let ticker = m["ticker"] as! String
                if ambiguous { e.ambiguous.insert(ticker) }
                if latest >= since { e.markets[ticker] = m }
                // …and every market settled in the last 24 h, whenever its event closed.
                if settledStatuses.contains(m["status"] as? String ?? ""),
                   let settled = (m["settlement_ts"] as? String).flatMap(Timestamp.init(iso8601:)) {
                    if abs(settled.microsecondsSinceEpoch - since.microsecondsSinceEpoch) < margin { e.ambiguous.insert(ticker) }
                    if settled >= since { e.markets[ticker] = m }
                }
            }
        }
        return e
    }

    /// Compares PostgreSQL with the expectation; returns human-readable differences.
    static func differences(_ h: PipelineHarness, _ e: Expectation) async throws -> [String] {
        var diffs: [String] = []
        let series = try await h.query("SELECT ticker, category, tags, is_game, active FROM series")
        var seen = Set<String>()
        for r in 0..<series.rowCount {
            let ticker = series[r, "ticker"]!
            seen.insert(ticker)
            guard let want = e.series[ticker] else { diffs.append("untracked series in db: \(ticker)"); continue }
            if series[r, "category"] != want.category { diffs.append("series \(ticker) category \(series[r, "category"] ?? "nil") ≠ \(want.category)") }
            let tags = PostgresArrayLiteral.decode(series[r, "tags"] ?? "{}")?.compactMap { $0 } ?? []
            if tags != want.tags { diffs.append("series \(ticker) tags \(tags) ≠ \(want.tags)") }
            if (series[r, "is_game"] == "t") != want.isGame { diffs.append("series \(ticker) is_game wrong") }
            if series[r, "active"] != "t" { diffs.append("series \(ticker) inactive") }
        }
        for t in Set(e.series.keys).subtracting(seen) { diffs.append("tracked series missing: \(t)") }

        let markets = try await h.query("""
            SELECT m.ticker, m.status, m.close_time, m.yes_bid_dollars::text AS yes_bid, m.yes_ask_dollars::text AS yes_ask,
                   m.last_price_dollars::text AS last_price, m.series_ticker, e.title AS event_title
            FROM markets m LEFT JOIN events e ON e.ticker = m.event_ticker
            """)
        var inDB = Set<String>()
        for r in 0..<markets.rowCount {
            let ticker = markets[r, "ticker"]!
            inDB.insert(ticker)
            if e.ambiguous.contains(ticker) { continue }
            guard let want = e.markets[ticker] else { diffs.append("unexpected market in db: \(ticker) (\(markets[r, "status"] ?? ""))"); continue }
            if markets[r, "status"] != want["status"] as? String { diffs.append("market \(ticker) status \(markets[r, "status"] ?? "nil") ≠ \(want["status"]!)") }
            let close = markets[r, "close_time"].flatMap { Timestamp(iso8601: $0.replacingOccurrences(of: " ", with: "T").replacingOccurrences(of: "+00", with: "Z")) }
            if close != (want["close_time"] as? String).flatMap(Timestamp.init(iso8601:)) {
                diffs.append("market \(ticker) close_time \(markets[r, "close_time"] ?? "nil") ≠ \(want["close_time"] ?? "nil")")
            }
            for (column, key) in [("yes_bid", "yes_bid_dollars"), ("yes_ask", "yes_ask_dollars"), ("last_price", "last_price_dollars")] {
                let a = markets[r, column].flatMap { Decimal(string: $0) }, b = (want[key] as? String).flatMap { Decimal(string: $0) }
                if a != b { diffs.append("market \(ticker) \(key) \(markets[r, column] ?? "nil") ≠ \(want[key] ?? "nil")") }
            }
            if markets[r, "series_ticker"] != want["series_ticker"] as? String { diffs.append("market \(ticker) series wrong") }
            if markets[r, "event_title"] == nil { diffs.append("market \(ticker) has no event row with a title") }
        }
        for t in Set(e.markets.keys).subtracting(inDB).subtracting(e.ambiguous) { diffs.append("market missing from db: \(t)") }
        return diffs
    }

    static func assertExact(_ h: PipelineHarness, _ e: Expectation, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let diffs = try await differences(h, e)
        #expect(diffs.isEmpty, "\(diffs.count) differences, first: \(diffs.prefix(15).joined(separator: "; "))\n\(h.logs())", sourceLocation: sourceLocation)
    }

    static let frozenClock = ["--clock-speed", "0"]

    /// A first cycle read both ways: per series (one request each), and by an exchange-wide
    /// listing (a few page chains for the whole exchange, attributed through events).
    @Test(arguments: [false, true])
    func oneCycleMatchesTheSimulatorExactly(byListing: Bool) async throws {
        let h = try await PipelineHarness(name: byListing ? "e2e-listing" : "e2e-exact", simulatorArguments: Self.frozenClock)
        defer { h.teardown() }
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        try h.start("market-fetcher")
        let cycle = try await h.run("series-fetcher", ["--once", "--listing-min-series", byListing ? "1" : "0"])
        #expect(cycle.status == 0, "series-fetcher: \(cycle.output.suffix(2000))")
        await #expect(try h.waitUntilDrained(timeout: .seconds(120)), "pipeline did not drain:\n\(h.logs())")
        let e = try await Self.expectation(h)
        let requests = try await h.simulatorStatusCounts().values.reduce(0, +)
        #expect(cycle.output.contains("exchange-wide listing handed out") == byListing, "\(cycle.output.suffix(2000))")
        if byListing {
            // The series side (categories, series, the sweep of unopened markets) plus about
            // ten page chains: far fewer than one request per tracked series.
            #expect(requests < e.series.count / 2, "\(requests) requests for \(e.series.count) series")
        } else {
            #expect(requests > e.series.count, "\(requests) requests for \(e.series.count) series")
        }
        #expect(e.series.count > 50)
        #expect(e.markets.count > 500)
        #expect(e.series.values.contains { $0.isGame && $0.category == "Sports" })
        #expect(e.markets.values.contains { ($0["status"] as? String) == "finalized" })
        #expect(e.markets.values.contains { Self.closedStatuses.contains(($0["status"] as? String) ?? "") })
        #expect(e.markets.values.contains { ($0["status"] as? String) == "initialized" }, "unopened markets are discovered")
        try await Self.assertExact(h, e)
    }

    @Test func twoReplicasOfOneTagSplitACycle() async throws {
        let h = try await PipelineHarness(name: "e2e-split", simulatorArguments: Self.frozenClock)
        defer { h.teardown() }
        // The tag with the most tracked series; a schedule of that tag routes all of them to it.
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        let e = try await Self.expectation(h)
        let tagCounts = Dictionary(grouping: e.series.values.flatMap(\.tags), by: { $0 }).mapValues(\.count)
        let tag = try #require(tagCounts.max { $0.value < $1.value }?.key)
        // About 10 requests/s between them, and both pulling before the cycle hands out work:
        // on a loaded machine one replica once started so late that the other had already
        // taken every item, and at 40 requests/s (CI, late in the suite) one replica took
        // all 7 items of the tag before the other's next look at the stream found work.
        let slow = ["SSMD_RATE_TOKENS_PER_S": "100", "SSMD_RATE_BURST_S": "0"]
        let a = try h.start("market-fetcher", ["--tag", tag, "--concurrency", "1"], environment: slow)
        let b = try h.start("market-fetcher", ["--tag", tag, "--concurrency", "1"], environment: slow)
        let pulling = await eventually(timeout: .seconds(60)) { [a, b].allSatisfy { $0.output.contains("following work consumers") } }
        #expect(pulling, "the replicas did not start:\n\(h.logs())")
        let cycle = try await h.run("series-fetcher", ["--once", "--tag", tag])
        #expect(cycle.status == 0, "series-fetcher: \(cycle.output.suffix(2000))")
        await #expect(try h.waitUntilDrained(timeout: .seconds(120)), "did not drain:\n\(h.logs())")
        let synced = { (p: ChildProcess) in p.output.split(separator: "\n").filter { $0.contains("msg=\"series synced\"") } }
        let seriesOf = { (lines: [Substring]) in lines.compactMap { l in l.split(separator: " ").first { $0.hasPrefix("series=") } } }
        let (la, lb) = (synced(a), synced(b))
        #expect(la.count > 0 && lb.count > 0, "both replicas must take work: \(la.count) + \(lb.count)")
        #expect(Set(seriesOf(la)).isDisjoint(with: Set(seriesOf(lb))), "a series was synced by both replicas")
        let rows = try await h.query("SELECT count(*) AS n FROM series")
        #expect(la.count + lb.count == Int(rows[0, "n"]!)!, "every routed series synced exactly once")
    }

    @Test func killingAMarketFetcherMidCycleLosesNothing() async throws {
        let h = try await PipelineHarness(name: "e2e-kill", scale: 0.01, simulatorArguments: Self.frozenClock)
        defer { h.teardown() }
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        // Slow enough (≈ 10 requests/s) that the kill lands mid-cycle.
        let slow = ["SSMD_RATE_TOKENS_PER_S": "100", "SSMD_RATE_BURST_S": "0"]
        let victim = try h.start("market-fetcher", ["--concurrency", "2"], environment: slow)
        let cycle = try await h.run("series-fetcher", ["--once", "--ack-wait", "3s"])
        #expect(cycle.status == 0, "series-fetcher: \(cycle.output.suffix(2000))")
        await #expect(eventually(timeout: .seconds(30)) { victim.output.components(separatedBy: "series synced").count > 3 })
        await victim.kill()
        let before = try await h.backlog()
        #expect(before.work > 0, "the kill must land mid-cycle")
        try h.start("market-fetcher")
        await #expect(try h.waitUntilDrained(timeout: .seconds(120)), "did not drain:\n\(h.logs())")
        try await Self.assertExact(h, try Self.expectation(h))
    }
}
