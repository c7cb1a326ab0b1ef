import Foundation
import Testing
import TestSupport

/// The plan's command line against the simulator, NATS and PostgreSQL.
@Suite(.tags(.processes), .processSlot) struct CLITests {
    @Test func migrateSyncAndListWithTagFilters() async throws {
        let h = try await PipelineHarness(name: "cli", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let migrate = try await h.run("ssmd", ["migrate"])
        #expect(migrate.status == 0 && migrate.output.contains("applied: 001_secmaster.sql, 002_series.sql"), "\(migrate.output)")
        #expect(try await h.run("ssmd", ["migrate"]).output.contains("schema up to date"))

        try h.start("db-writer", ["--batch-max-age", "100ms"])
        // Basketball, games only: series sync publishes only those work items.
        let seriesSync = try await h.run("ssmd", ["series", "sync", "--tag", "Basketball", "--games-only"])
        #expect(seriesSync.status == 0, "\(seriesSync.output)")
        let e = try await PipelineEndToEndTests.expectation(h)
        let basketballGames = e.series.filter { $0.value.tags.contains("Basketball") && $0.value.isGame }
        #expect(!basketballGames.isEmpty)
        #expect(seriesSync.output.contains("tracked: \(basketballGames.count),"), "\(seriesSync.output)")

        // Another tag's work waits in its own queue (no replica serves it here): the command
        // below works and waits for Basketball's queue only, never syncing Economics.
        let economics = try await h.run("ssmd", ["series", "sync", "--category", "Economics"])
        #expect(economics.status == 0 && !economics.output.contains("tracked: 0,"), "\(economics.output)")

        // The full plan command: series, then markets of those series, written by db-writer.
        let secmaster = try await h.run("ssmd", ["secmaster", "sync", "--by-series", "--tag", "Basketball", "--games-only"])
        #expect(secmaster.status == 0, "\(secmaster.output)\n\(h.logs())")
        #expect(secmaster.output.contains("series: \(basketballGames.count) tracked"), "\(secmaster.output)")
        let markets = try await h.query("SELECT count(DISTINCT series_ticker) AS s, count(*) AS m FROM markets")
        #expect(Int(markets[0, "s"]!)! >= 1)
        let expectedMarkets = e.markets.values.filter { basketballGames[$0["series_ticker"] as! String] != nil }.count
        #expect(Int(markets[0, "m"]!)! == expectedMarkets, "markets in db vs simulator truth")

        let list = try await h.run("ssmd", ["series", "list", "--tag", "Basketball", "--games-only"])
        #expect(list.status == 0)
        let rows = list.output.split(separator: "\n").filter { !$0.hasPrefix("TICKER") && $0.contains("\t") }
        #expect(Set(rows.map { String($0.split(separator: "\t")[0]) }) == Set(basketballGames.keys), "\(list.output)")

        // Usage errors exit 2 with one line.
        let bad = try await h.run("ssmd", ["secmaster", "sync"])
        #expect(bad.status == 2, "\(bad.output)")
        #expect(bad.output.contains("--by-series"))
    }
}

/// A schedule file whose schedules overlap: every series is synced by exactly one schedule.
@Suite(.tags(.processes), .processSlot) struct ScheduleFileRunTests {
    @Test func overlappingSchedulesSyncEachSeriesOnce() async throws {
        let h = try await PipelineHarness(name: "schedules", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let file = h.directory.url.appendingPathComponent("schedules.yaml")
        try """
        schedules:
          - name: games
            tags: [Basketball, Soccer]
            games_only: true
            interval: 1m
          - name: sports
            categories: [Sports]
            interval: 1m
          - name: everything
            interval: 1m
        """.write(to: file, atomically: true, encoding: .utf8)
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        let fetcher = try h.start("market-fetcher")
        let run = try await h.run("series-fetcher", ["--once", "--schedule-file", file.path])
        #expect(run.status == 0, "\(run.output)")
        #expect(try await h.waitUntilDrained(timeout: .seconds(120)))
        let synced = fetcher.output.split(separator: "\n").filter { $0.contains("msg=\"series synced\"") }
            .compactMap { $0.split(separator: " ").first { $0.hasPrefix("series=") } }
        #expect(synced.count == Set(synced).count, "a series was synced twice")
        let e = try await PipelineEndToEndTests.expectation(h)
        #expect(Set(synced.map { String($0.dropFirst("series=".count)) }) == Set(e.series.keys))
        // Which schedule claimed what: Basketball and Soccer games went to "games".
        let cycles = run.output.split(separator: "\n").filter { $0.contains("cycle complete") }
        #expect(cycles.count == 3)
        // Each cycle counts only its own requests (2 lookups + one per category, 13 at most),
        // though the three run at once on one client.
        for c in cycles {
            let n = c.split(separator: " ").first { $0.hasPrefix("requests=") }.flatMap { Int($0.dropFirst("requests=".count)) }
            #expect(n != nil && n! <= 15, "\(c)")
        }
        let games = e.series.filter { ($0.value.tags.contains("Basketball") || $0.value.tags.contains("Soccer")) && $0.value.isGame }.count
        #expect(cycles.contains { $0.contains("schedule=games") && $0.contains("series_tracked=\(games) ") }, "\(cycles)")
        try await PipelineEndToEndTests.assertExact(h, e)
    }
}
