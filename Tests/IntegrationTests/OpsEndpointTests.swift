import Foundation
import Shared
import Testing
import TestSupport

/// Each daemon's /healthz, /readyz and /metrics, with NATS going away and coming back.
@Suite(.serialized) struct OpsEndpointTests {
    static func endpoint(of p: ChildProcess) -> String? {
        guard let line = p.output.split(separator: "\n").first(where: { $0.contains("metrics and health endpoints listening") }),
              let r = line.range(of: "url=http://") else { return nil }
        return String(line[r.lowerBound...].dropFirst(4).prefix { $0 != " " })
    }

    static func get(_ url: String) -> (Int, String) {
        guard let r = try? CurlHTTPClient().get(url: url) else { return (0, "") }
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    @Test func readinessFollowsNATSAndMetricsCount() throws {
        let h = try PipelineHarness(name: "ops", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.shutdown() }
        let fetcher = try h.start("market-fetcher")
        #expect(eventually(timeout: .seconds(20)) { Self.endpoint(of: fetcher) != nil }, "\(fetcher.output.suffix(2000))")
        let base = try #require(Self.endpoint(of: fetcher))
        #expect(Self.get(base + "/healthz").0 == 200)
        #expect(eventually(timeout: .seconds(10)) { Self.get(base + "/readyz").0 == 200 })

        #expect(try h.run("series-fetcher", ["--once"]).status == 0)
        #expect(try h.waitUntilDrained(timeout: .seconds(60), workOnly: true))
        let metrics = Self.get(base + "/metrics").1
        #expect(metrics.contains("# TYPE ssmd_exchange_requests_total counter"), "\(metrics)")
        let synced = metrics.split(separator: "\n").first { $0.hasPrefix("ssmd_series_synced_total ") }
        #expect(synced.flatMap { Int($0.split(separator: " ")[1]) } ?? 0 > 0, "\(metrics)")

        h.nats.stop()
        #expect(eventually(timeout: .seconds(15)) { Self.get(base + "/readyz").0 == 503 }, "readyz stayed ready without NATS")
        #expect(Self.get(base + "/healthz").0 == 200, "alive even when not ready")
        try h.nats.start()
        #expect(eventually(timeout: .seconds(30)) { Self.get(base + "/readyz").0 == 200 }, "readyz did not recover:\n\(fetcher.output.suffix(2000))")
        #expect(fetcher.isRunning)
        // And the daemon still works after the restart.
        #expect(try h.run("series-fetcher", ["--once"]).status == 0)
        #expect(try h.waitUntilDrained(timeout: .seconds(60), workOnly: true))
    }
}
