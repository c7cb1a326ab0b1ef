import Foundation
import Testing
import TestSupport

/// The dashboard's charts over time, in a real headless browser: data-api samples the pipeline
/// every second while a cycle runs against a rate-limited simulator, and the page then shows
/// the budget in use, requests and 429s, the work queue filling and emptying, the writer's lag
/// and the age of the schedule's data. A screenshot is kept for people to look at.
@Suite(.serialized, .tags(.processes), .processSlotAlone) struct DashboardChartsTests {
    /// One line of a chart as rendered: its figures from the `data-*` attributes.
    struct Line { var count: Int; var last: Double?; var max: Double? }

    static func lines(_ dom: String, chart: String) -> [String: Line]? {
        guard let start = dom.range(of: "id=\"chart-\(chart)\""),
              let end = dom.range(of: "</svg>", range: start.upperBound..<dom.endIndex) else { return nil }
        let svg = String(dom[start.upperBound..<end.lowerBound])
        var out: [String: Line] = [:]
        for part in svg.components(separatedBy: "<g class=\"series\"").dropFirst() {
            func attribute(_ name: String) -> String? {
                guard let r = part.range(of: "\(name)=\"") else { return nil }
                return String(part[r.upperBound...].prefix { $0 != "\"" })
            }
            guard let name = attribute("data-name"), let count = attribute("data-count").flatMap({ Int($0) }) else { continue }
            out[name] = Line(count: count, last: attribute("data-last").flatMap { Double($0) }, max: attribute("data-max").flatMap { Double($0) })
        }
        return out
    }

    static func chromium(_ h: PipelineHarness, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runTool("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                                       "--user-data-dir=\(h.directory.url.path)/chromium", "--window-size=1366,900"] + arguments, timeout: .seconds(90))
    }

    @Test func chartsFollowACycle() async throws {
        // The exchange allows 15 requests/s; ssmd is configured for 30, so it meets 429s, halves
        // its rate and recovers: every chart has something to show.
        let h = try await PipelineHarness(name: "charts", scale: 0.02,
                                          simulatorArguments: ["--rate-limit", "on", "--unsigned-rate-tokens-per-s", "150", "--rate-burst-s", "1"])
        defer { h.teardown() }
        let budget = ["SSMD_RATE_TOKENS_PER_S": "300", "SSMD_RATE_BURST_S": "1"]
        let (_, base) = try await h.startDataAPI(["--dashboard-sample-interval", "1s"])
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        try h.start("market-fetcher", environment: budget)
        let cycleStarted = Date()
        try await h.runToSuccess("series-fetcher", ["--once"], environment: budget)
        #expect(try await h.waitUntilDrained(timeout: .seconds(180)), "did not drain:\n\(h.logs())")
        try await Task.sleep(for: .seconds(4))  // a few quiet samples after the cycle

        let dump = try await Self.chromium(h, ["--dump-dom", base + "/"])
        #expect(dump.status == 0, "chromium: \(dump.output.suffix(1000))")
        let dom = dump.output
        #expect(dom.contains("Sampled from NATS every 1s by this data-api and kept in its memory"), "the page says where the history comes from")

        // Budget use: the shared budget's tokens over its configured refill, never far above it.
        let use = try #require(Self.lines(dom, chart: "budget")?["budget use %"], "no budget chart")
        #expect(use.count >= 5 && (use.max ?? 0) > 10, "budget use \(use)")
        #expect((use.max ?? 0) <= 210, "a 1 s burst allows at most 2 s of refill in a 1 s sample: \(use)")

        // Requests and 429s: the chart's totals are what the exchange saw, at most.
        let requests = try #require(Self.lines(dom, chart: "requests"))
        #expect((requests["requests/s"]?.max ?? 0) > 1, "requests/s \(String(describing: requests["requests/s"]))")
        #expect((requests["429/s"]?.max ?? 0) > 0, "the 429s show: \(String(describing: requests["429/s"]))")
        let simulator = try await h.simulatorStatusCounts()
        let headline = try #require(dom.range(of: "id=\"tile-requests\"").map { String(dom[$0.upperBound...].prefix(400)) })
        let figures = headline.components(separatedBy: "<b>").dropFirst().first?.components(separatedBy: "</b>").first ?? ""
        let numbers = figures.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(numbers.count == 3, "headline \(figures)")  // "N req · M×429"
        if numbers.count == 3 {
            #expect(numbers[0] > 0 && numbers[0] <= simulator.values.reduce(0, +), "\(numbers[0]) requests charted, the exchange saw \(simulator)")
            #expect(numbers[1] > 0 && numbers[1] <= simulator["429", default: 0], "\(numbers[1]) 429s charted, the exchange sent \(simulator["429", default: 0])")
        }

        // The work queue filled during the cycle and is empty now; so is the writer's lag.
        let queue = try #require(Self.lines(dom, chart: "queue"))
        #expect((queue["pending"]?.max ?? 0) + (queue["in flight"]?.max ?? 0) > 0, "the queue never showed work: \(queue)")
        #expect(queue["pending"]?.last == 0 && queue["in flight"]?.last == 0, "\(queue)")
        let lag = try #require(Self.lines(dom, chart: "writer-lag"))
        #expect((lag["pending"]?.count ?? 0) >= 5 && lag["pending"]?.last == 0 && lag["in flight"]?.last == 0, "\(lag)")

        // The schedule's data is as old as the time since its cycle started.
        let age = try #require(Self.lines(dom, chart: "data-age")?["all"], "no age line for schedule all")
        let sinceStart = Date().timeIntervalSince(cycleStarted)
        #expect((age.last ?? -1) >= 0 && (age.last ?? .infinity) <= sinceStart + 5, "age \(String(describing: age.last)), cycle started \(sinceStart) s ago")

        // A screenshot, kept for people to look at.
        let artifacts = BuiltProducts.packageRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let path = artifacts.appendingPathComponent("dashboard-charts.png").path
        try? FileManager.default.removeItem(atPath: path)
        let shot = try await Self.chromium(h, ["--screenshot=\(path)", base + "/"])
        #expect(shot.status == 0 && FileManager.default.fileExists(atPath: path), "screenshot: \(shot.output.suffix(500))")
    }

    /// Before the first sample, and with NATS away, the page says so instead of drawing nothing.
    @Test func chartsSayWhenThereIsNothingToShow() async throws {
        let h = try await PipelineHarness(name: "charts-blind")
        defer { h.teardown() }
        let (_, blind) = try await h.startDataAPI(["--nats-url", "nats://127.0.0.1:9", "--dashboard-sample-interval", "1s"])
        try await Task.sleep(for: .seconds(3))
        let page = try await APIClient.get(blind + "/")
        #expect(page.status == 200 && page.body.contains("id=\"chart-queue\""), "charts are drawn, with gaps")
        #expect(Self.lines(page.body, chart: "queue")?["pending"]?.count == 0, "no value while NATS is away")
        #expect(page.body.contains("NATS unavailable"))
    }
}
