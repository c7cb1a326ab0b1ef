import Foundation
import Testing
import TestSupport
import SSMDCore

/// Several cycles at accelerated simulated time: the simulator's clock is frozen and moved
/// on by one schedule interval (5 simulated minutes) between cycles, so each cycle sees a
/// known amount of exchange life — markets created, opened, closed, settled — and ssmd must
/// track it from the change feed plus a reconciliation slice, with far fewer requests.
@Suite(.tags(.processes), .processSlot) struct IncrementalSyncTests {
    static let interval: Int64 = 300

    /// Market status by ticker in the simulator's truth, for tracked series.
    static func truthStatuses(_ h: PipelineHarness, tracked: Set<String>) async throws -> [String: (status: String, series: String)] {
        var out: [String: (String, String)] = [:]
        for m in try await h.simulatorJSONLines("/_sim/truth/markets") {
            guard let s = m["series_ticker"] as? String, tracked.contains(s) else { continue }
            out[m["ticker"] as! String] = (m["status"] as! String, s)
        }
        return out
    }

    /// Markets PostgreSQL holds as live (not gone), with their status.
    static func dbStatuses(_ h: PipelineHarness) async throws -> [String: String] {
        let r = try await h.query("SELECT ticker, status FROM markets WHERE gone_at IS NULL")
        var out: [String: String] = [:]
        for i in 0..<r.rowCount { out[r[i, "ticker"]!] = r[i, "status"]! }
        return out
    }

    func totalRequests(_ h: PipelineHarness) async throws -> Int {
        (try await h.simulatorJSON("/_sim/stats")["total"] as? Int) ?? 0
    }

    /// With the default delta limit the changes travel inside the work items; with a limit of
    /// 1 most series get `incremental` items, whose changed markets the replica reads by ticker.
    @Test(arguments: [100, 1])
    func severalCyclesAtAcceleratedTimeMissNoTransitionWithUnderOneRequestPerSeries(deltaLimit: Int) async throws {
        let h = try await PipelineHarness(name: "incremental", scale: 0.05, simulatorArguments: ["--clock-speed", "0"])
        defer { h.teardown() }
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        try h.start("market-fetcher", ["--concurrency", "8"])
        let cycleArguments = ["--once", "--interval", "\(Self.interval)s", "--reconcile-every", "3600s", "--delta-limit", "\(deltaLimit)"]

        // Start a few intervals before the next game market opens, so the cycles see it
        // created or opening (the plan's promise: games within one interval).
        let now = try #require((try await h.simulatorJSON("/_sim/clock")["now_unix"] as? Int).map(Int64.init))
        let ahead = try await h.simulatorJSONLines("/_sim/truth/markets?at=\(now + 12 * 86_400)")
        let opens: [Int64] = ahead.compactMap { m in
            guard let s = m["series_ticker"] as? String, s.contains("GAME") || s.contains("MATCH"),
                  let t = (m["open_time"] as? String).flatMap(Timestamp.init(iso8601:))?.secondsSinceEpoch, t > now + 3 * Self.interval else { return nil }
            return t
        }
        let nextOpen = try #require(opens.min(), "no game market opens in the next 12 days")
        _ = try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": \#(nextOpen - now - 2 * Self.interval - 1)}"#)

        // Cycle 1: no state yet, so every series is synced in full; the result is exact.
        var before = try await totalRequests(h)
        let first = try await h.run("series-fetcher", cycleArguments)
        #expect(first.status == 0, "series-fetcher: \(first.output.suffix(2000))")
        await #expect(try h.waitUntilDrained(timeout: .seconds(180)), "did not drain:\n\(h.logs())")
        let firstRequests = try await totalRequests(h) - before
        let e = try await PipelineEndToEndTests.expectation(h)
        try await PipelineEndToEndTests.assertExact(h, e)
        let tracked = Set(e.series.keys)
        let games = Set(e.series.filter { $0.value.isGame && $0.value.category == "Sports" }.keys)
        #expect(!games.isEmpty)
        // One full sync per series (more pages for series with many events), plus the category
        // listings, the settled-late feed and the due-time index's first sweep: 1.08-1.32 per
        // series over the universes seen; the bulk cold start (issue 14) is what will cut it.
        #expect(Double(firstRequests) / Double(tracked.count) < 1.5, "first cycle: \(firstRequests) requests for \(tracked.count) series")

        print("incremental cycle 1 (full): \(firstRequests) requests for \(tracked.count) series")
        for line in first.output.split(separator: "\n") where line.contains("due-time") || line.contains("unopened") { print("cycle 1: \(line)") }
        var previous = try await Self.truthStatuses(h, tracked: tracked)
        var transitions = 0, gameOpens = 0
        for cycle in 2...7 {
            _ = try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": \#(Self.interval)}"#)
            before = try await totalRequests(h)
            let run = try await h.run("series-fetcher", cycleArguments)
            #expect(run.status == 0, "cycle \(cycle): \(run.output.suffix(2000))")
            await #expect(try h.waitUntilDrained(timeout: .seconds(120)), "cycle \(cycle) did not drain:\n\(h.logs())")
            let requests = try await totalRequests(h) - before
            for line in run.output.split(separator: "\n") where line.contains("due-time") || line.contains("unopened") { print("cycle \(cycle): \(line)") }

            let truth = try await Self.truthStatuses(h, tracked: tracked)
            let db = try await Self.dbStatuses(h)
            let simNow = try #require((try await h.simulatorJSON("/_sim/clock")["now_unix"] as? Int).map(Int64.init))
            let openedNow = try await h.simulatorJSONLines("/_sim/truth/markets").filter { m in
                guard let s = m["series_ticker"] as? String, games.contains(s),
                      let t = (m["open_time"] as? String).flatMap(Timestamp.init(iso8601:))?.secondsSinceEpoch else { return false }
                return t > simNow - Self.interval && t <= simNow
            }
            var missed: [String] = []
            for m in openedNow {
                gameOpens += 1
                let ticker = m["ticker"] as! String
                if db[ticker] != (m["status"] as! String) { missed.append("\(ticker): game market opened, db \(db[ticker] ?? "absent")") }
            }
            for (ticker, now) in truth {
                let was = previous[ticker]?.status
                guard was != now.status else { continue }
                transitions += 1
                // Every transition of this interval is in PostgreSQL after this one cycle,
                // including markets that did not exist a cycle ago.
                if db[ticker] != now.status { missed.append("\(ticker): \(was ?? "new") → \(now.status), db \(db[ticker] ?? "absent")") }
            }
            // And nothing PostgreSQL shows as live disagrees with the exchange.
            for (ticker, status) in db where truth[ticker] != nil && truth[ticker]!.status != status {
                if !missed.contains(where: { $0.hasPrefix(ticker + ":") }) { missed.append("\(ticker): db \(status) ≠ \(truth[ticker]!.status)") }
            }
            // A pause and its end change no filter and no updated_time (the exchange documents
            // only a WebSocket event for them): without the lifecycle listener they wait for the
            // series' reconciliation (--reconcile-every), which this test does not reach. Every
            // other transition must be in PostgreSQL after the cycle.
            let history = try await h.simulatorJSONLines("/_sim/truth/transitions?entity=market&from=\(simNow - 3 * 86_400)&to=\(simNow + 1)")
            func story(_ ticker: String) -> String {
                history.filter { ($0["ticker"] as? String) == ticker }
                    .map { "\($0["kind"] as? String ?? "?")@\(($0["at"] as? Int).map { $0 - Int(simNow) } ?? 0)s" }.joined(separator: ",")
            }
            let pausing: Set<String> = ["paused", "unpaused"]
            var restInvisible: [String] = []
            missed = missed.compactMap { line in
                let ticker = String(line.prefix { $0 != ":" })
                let kinds = history.filter { ($0["ticker"] as? String) == ticker && ($0["at"] as? Int ?? 0) > Int(simNow - Self.interval) }
                    .compactMap { $0["kind"] as? String }
                if !kinds.isEmpty && kinds.allSatisfy(pausing.contains) || line.contains("active ≠ inactive") || line.contains("inactive ≠ active") {
                    restInvisible.append(ticker)
                    return nil
                }
                return "\(line) [\(story(ticker))]"
            }
            if !restInvisible.isEmpty { print("cycle \(cycle): pauses left to reconciliation (REST cannot see them): \(restInvisible)") }
            #expect(missed.isEmpty, "cycle \(cycle): \(missed.count) missed, first: \(missed.prefix(10))")
            // Steady state: the feed, the reconciliation slice (1/12 of the series per cycle
            // at 5 min / 1 h) and new events, against the plan's 3 and more per series.
            let perSeries = Double(requests) / Double(tracked.count)
            print("incremental cycle \(cycle): \(requests) requests for \(tracked.count) series (\(String(format: "%.3f", perSeries))/series), \(gameOpens) game opens so far")
            #expect(perSeries <= 1.0, "cycle \(cycle): \(requests) requests for \(tracked.count) series")
            previous = truth
        }
        #expect(transitions > 10, "the simulated half hour must move markets: \(transitions)")
        #expect(gameOpens > 0, "a game market must open during the test")
    }
}
