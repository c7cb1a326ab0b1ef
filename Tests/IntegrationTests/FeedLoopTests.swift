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
}
