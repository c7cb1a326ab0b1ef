import Foundation
import Testing
import TestSupport

/// The shared change feed runs on its own short interval: transitions REST can see — a new
/// market, an opening (due-time index), a close, a settlement — reach
/// PostgreSQL within a few feed runs, long before the next cycle (an hour away), against the
/// strict simulator (`updated_time` moves only on metadata changes).
@Suite(.tags(.processes), .processSlot) struct FeedLoopTests {
    /// Determinations are read again at a pace that slows as the wait grows (up to 10 min,
    /// `DueIndex.recheckSeconds`); with the clock frozen after the move they may not come.
    static let restVisible: Set<String> = ["created", "opened", "closed", "settled"]

    @Test func changesReachPostgreSQLWithinFeedRunsNotCycles() async throws {
        let h = try await PipelineHarness(name: "feed-loop", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let fetcher = try await h.startThroughFirstCycle(seriesFetcher: ["--interval", "3600s", "--feed-interval", "1s", "--lifecycle-refresh", "off"])
        #expect(await eventually(timeout: .seconds(30)) { fetcher.output.contains("exchange-wide change feed running") }, "\(h.logs())")

        // The next moment with transitions REST can see that change a stored market's status
        // (or create a market of a tracked series).
        let now = try #require((try await h.simulatorJSON("/_sim/clock")["now_unix"] as? Int).map(Int64.init))
        let statusInDB = try await h.storedStatuses()
        let seriesRows = try await h.query("SELECT ticker FROM series WHERE active")
        let trackedSeries = Set((0..<seriesRows.rowCount).compactMap { seriesRows[$0, "ticker"] })
        let upcoming = try await h.simulatorJSONLines("/_sim/truth/transitions?entity=market&from=\(now + 1)&to=\(now + 3 * 86_400)")
            .filter { t in
                guard let kind = t["kind"] as? String, Self.restVisible.contains(kind), let ticker = t["ticker"] as? String else { return false }
                if kind == "created" { return (t["series_ticker"] as? String).map(trackedSeries.contains) ?? false }
                guard let was = statusInDB[ticker] else { return false }
                return (t["status_after"] as? String).map { $0 != was } ?? false
            }
        let first = try #require(upcoming.first, "no REST-visible transition ahead")
        let at = try #require(first["at"] as? Int)
        // Every kind within the next two hours of exchange time, up to the first of each.
        var chosen: [[String: Any]] = []
        var kinds = Set<String>()
        for t in upcoming {
            guard let tAt = t["at"] as? Int, tAt <= at + 7200, let kind = t["kind"] as? String else { continue }
            if kinds.insert(kind).inserted || (t["at"] as? Int) == at { chosen.append(t) }
        }
        let last = chosen.compactMap { $0["at"] as? Int }.max() ?? at
        _ = try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": \#(Int64(last) - now + 1)}"#)
        let advanced = ContinuousClock.now

        let truth = try await h.trueStatuses()
        let tickers = Array(Set(chosen.compactMap { $0["ticker"] as? String })).sorted()
        let arrived = await h.statusesArrive(tickers, truth: truth, timeout: .seconds(30))
        let seconds = (ContinuousClock.now - advanced).seconds
        print("feed loop: \(tickers.count) markets (\(chosen.compactMap { $0["kind"] as? String }.sorted())) in PostgreSQL \(String(format: "%.1f", seconds)) s after the clock moved")
        let got = try await h.storedStatuses(tickers)
        #expect(arrived, "not in PostgreSQL within 30 s: \(tickers.filter { got[$0] != truth[$0] }.map { "\($0): \(got[$0] ?? "missing") ≠ \(truth[$0] ?? "?")" })\n\(h.logs())")
        #expect(fetcher.output.components(separatedBy: "cycle complete").count == 2, "only the first cycle ran: the feed did it")
    }

    /// An opening falls due at its `open_time`, which no feed query reports, and a scheduled
    /// close at its `close_time`, which the closed feed reports only at its next run; the
    /// exchange sends no WebSocket message for either. The feed wakes for each between two
    /// runs (here 2 min apart) instead of leaving it up to a whole interval late. The
    /// exchange clock runs at real speed from a minute before, as the exchange's does.
    @Test(arguments: [("opened", "initialized"), ("closed", "active")])
    func anOpeningOrACloseArrivesWithinSecondsNotAFeedIntervalLater(kind: String, before: String) async throws {
        let h = try await PipelineHarness(name: "feed-opening", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let now = try #require((try await h.simulatorJSON("/_sim/clock")["now_unix"] as? Int).map(Int64.init))
        // ssmd's tracking rule: every series but combos, of Sports (a category or a sport's tag)
        // only the game series.
        let sports = Set(((try await h.simulatorJSON("/trade-api/v2/search/filters_by_sport"))["filters_by_sports"] as? [String: Any] ?? [:]).keys)
        let tracked = Set(try await h.simulatorJSONLines("/_sim/truth/series").compactMap { s -> String? in
            guard let ticker = s["ticker"] as? String, (s["is_mve"] as? Bool) != true else { return nil }
            let isSports = (s["category"] as? String) == "Sports" || ((s["tags"] as? [String]) ?? []).contains(where: sports.contains)
            return !isSports || ticker.uppercased().contains("GAME") || ticker.uppercased().contains("MATCH") ? ticker : nil
        })
        let ahead = try await h.simulatorJSONLines("/_sim/truth/transitions?entity=market&from=\(now + 600)&to=\(now + 3 * 86_400)")
        // A close at its scheduled time, not an early one (its close_time moved to that moment,
        // which the metadata feed and the WebSocket's close_date_updated report).
        let moved = Set(ahead.filter { ($0["kind"] as? String) == "close_date_updated" }.map { "\($0["ticker"] ?? "")@\($0["at"] ?? "")" })
        let transitions = ahead.filter {
            ($0["kind"] as? String) == kind && ($0["is_mve"] as? Bool) != true && tracked.contains(($0["series_ticker"] as? String) ?? "")
                && !moved.contains("\($0["ticker"] ?? "")@\($0["at"] ?? "")")
        }
        let at = try #require(transitions.first?["at"] as? Int, "no \(kind) transition ahead")
        let lead: Int64 = 60
        _ = try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": \#(Int64(at) - now - lead), "speed": 1}"#)
        let dueAt = ContinuousClock.now + .seconds(lead)

        let fetcher = try await h.startThroughFirstCycle(seriesFetcher: ["--interval", "3600s", "--feed-interval", "120s", "--lifecycle-refresh", "off"])
        // The markets changing then that the first cycle stored as they were before (tracked ones).
        let tickers = transitions.filter { ($0["at"] as? Int) == at }.compactMap { $0["ticker"] as? String }
        let stored = try await h.storedStatuses(tickers).filter { $0.value == before }.keys.sorted()
        try #require(ContinuousClock.now < dueAt - .seconds(5), "the first cycle ended too close to the \(kind) transition to tell:\n\(h.logs())")
        try #require(!stored.isEmpty, "none of \(tickers) is a tracked market stored \(before)")
        #expect(fetcher.output.contains("exchange-wide change feed running"))

        try await Task.sleep(until: dueAt, clock: .continuous)
        let truth = try await h.trueStatuses()
        #expect(stored.allSatisfy { truth[$0] != before }, "the simulator did not move \(stored) on from \(before)")
        // The feed's next regular run is more than a minute away: only waking for the
        // transition brings it within seconds (1 s after its time, then the work item's way).
        let arrived = await h.statusesArrive(stored, truth: truth, timeout: .seconds(12))
        let got = try await h.storedStatuses(stored)
        #expect(arrived, "\(kind) markets not in PostgreSQL within 12 s: \(stored.map { "\($0): \(got[$0] ?? "missing") ≠ \(truth[$0] ?? "?")" })\n\(h.logs())")
        #expect(fetcher.output.contains("due openings and closes handed out"), "\(fetcher.output.suffix(3000))")
    }
}
