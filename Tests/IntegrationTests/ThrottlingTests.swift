import Foundation
import Shared
import Testing
import TestSupport

/// The exchange lowers its budget while a fleet of fetchers is working: the 429s are
/// detected, the whole fleet backs off through the shared budget, and no work is lost.
@Suite(.serialized) struct ThrottlingTests {
    @Test func loweringTheExchangeBudgetMidCycleLosesNothing() throws {
        let h = try PipelineHarness(name: "throttle", simulatorArguments: PipelineEndToEndTests.frozenClock + [
            "--rate-limit", "on", "--rate-tokens-per-s", "3000", "--unsigned-rate-tokens-per-s", "3000", "--rate-burst-s", "1"])
        defer { h.shutdown() }
        // The fleet believes in 3000 tokens/s (300 requests/s) shared by all.
        let fleet = ["SSMD_RATE_TOKENS_PER_S": "3000", "SSMD_RATE_BURST_S": "1", "SSMD_HTTP_MAX_ATTEMPTS": "8"]
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        let a = try h.start("market-fetcher", ["--concurrency", "4"], environment: fleet)
        let b = try h.start("market-fetcher", ["--concurrency", "4"], environment: fleet)
        #expect(try h.run("series-fetcher", ["--once"], environment: fleet).status == 0)
        _ = eventually(timeout: .seconds(30)) { (a.output + b.output).components(separatedBy: "series synced").count > 10 }
        // The exchange now allows 30 requests/s.
        try h.simulatorPost("/_sim/settings", json: #"{"rate_tokens_per_s": 300, "unsigned_rate_tokens_per_s": 300, "rate_burst_s": 1}"#)
        #expect(try h.waitUntilDrained(timeout: .seconds(180)), "did not drain:\n\(h.logs())")
        let codes = try h.simulatorStatusCounts()
        let throttled = codes["429"] ?? 0
        #expect(throttled > 0, "the lowered budget was never hit: \(codes)")
        // Backing off: after the first 429s the fleet halves its rate, so 429s stay a small
        // share of the traffic instead of a storm.
        let total = codes.values.reduce(0, +)
        #expect(Double(throttled) < 0.1 * Double(total), "429 storm: \(throttled) of \(total)")
        try PipelineEndToEndTests.assertExact(h, try PipelineEndToEndTests.expectation(h))
    }
}
