import Foundation
import Testing
import TestSupport
import CurlHTTP

/// Each daemon's /healthz, /readyz and /metrics, with NATS going away and coming back.
@Suite(.tags(.processes), .processSlot) struct OpsEndpointTests {
    static func endpoint(of p: ChildProcess) -> String? {
        guard let line = p.output.split(separator: "\n").first(where: { $0.contains("metrics and health endpoints listening") }),
              let r = line.range(of: "url=http://") else { return nil }
        return String(line[r.lowerBound...].dropFirst(4).prefix { $0 != " " })
    }

    static func get(_ url: String) async -> (Int, String) {
        guard let r = try? await TestHTTP.client.get(url: url) else { return (0, "") }
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    @Test func readinessFollowsNATSAndMetricsCount() async throws {
        let h = try await PipelineHarness(name: "ops", simulatorArguments: PipelineEndToEndTests.frozenClock, privateNATS: true)
        defer { h.teardown() }
        let fetcher = try h.start("market-fetcher")
        #expect(await eventually(timeout: .seconds(20)) { Self.endpoint(of: fetcher) != nil }, "\(fetcher.output.suffix(2000))")
        let base = try #require(Self.endpoint(of: fetcher))
        #expect(await Self.get(base + "/healthz").0 == 200)
        #expect(await eventually(timeout: .seconds(10)) { await Self.get(base + "/readyz").0 == 200 })

        try await h.runToSuccess("series-fetcher", ["--once"])
        await #expect(try h.waitUntilDrained(timeout: .seconds(60), workOnly: true))
        let metrics = await Self.get(base + "/metrics").1
        #expect(metrics.contains("# TYPE ssmd_exchange_requests_total counter"), "\(metrics)")
        let synced = metrics.split(separator: "\n").first { $0.hasPrefix("ssmd_series_synced_total ") }
        #expect(synced.flatMap { Int($0.split(separator: " ")[1]) } ?? 0 > 0, "\(metrics)")

        await h.nats.stop()
        #expect(await eventually(timeout: .seconds(15)) { await Self.get(base + "/readyz").0 == 503 }, "readyz stayed ready without NATS")
        #expect(await Self.get(base + "/healthz").0 == 200, "alive even when not ready")
        try await h.nats.start()
        #expect(await eventually(timeout: .seconds(30)) { await Self.get(base + "/readyz").0 == 200 }, "readyz did not recover:\n\(fetcher.output.suffix(2000))")
        #expect(fetcher.isRunning)
        // And the daemon still works after the restart.
        try await h.runToSuccess("series-fetcher", ["--once"])
        await #expect(try h.waitUntilDrained(timeout: .seconds(60), workOnly: true))
    }
}

/// SIGTERM in the middle of a busy cycle: in-flight work is finished or handed back, the
/// writer commits its batch, every daemon exits 0 in time, and nothing is lost.
@Suite(.tags(.processes), .processSlot) struct GracefulShutdownTests {
    @Test func sigtermDuringABusyCycleLosesNothing() async throws {
        let h = try await PipelineHarness(name: "sigterm", scale: 0.01, simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let writer = try h.start("db-writer", ["--batch-max-age", "2s"])
        let slow = ["SSMD_RATE_TOKENS_PER_S": "100", "SSMD_RATE_BURST_S": "0", "SSMD_SHUTDOWN_TIMEOUT": "10s"]
        let fetcher = try h.start("market-fetcher", ["--concurrency", "4"], environment: slow)
        try await h.runToSuccess("series-fetcher", ["--once"])
        #expect(await eventually(timeout: .seconds(30)) { fetcher.output.components(separatedBy: "series synced").count > 5 })
        await #expect(try h.backlog().work > 0, "the SIGTERM must land mid-cycle")
        let started = ContinuousClock.now
        await #expect(fetcher.stop(grace: .seconds(15)) == 0, "\(fetcher.output.suffix(2000))")
        await #expect(writer.stop(grace: .seconds(15)) == 0, "\(writer.output.suffix(2000))")
        #expect(ContinuousClock.now - started < .seconds(15))
        // A fresh writer and fetcher finish the cycle; the end state is exact.
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        try h.start("market-fetcher")
        await #expect(try h.waitUntilDrained(timeout: .seconds(120)), "did not drain:\n\(h.logs())")
        try await PipelineEndToEndTests.assertExact(h, try PipelineEndToEndTests.expectation(h))
    }
}
