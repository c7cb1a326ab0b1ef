import Foundation
import Testing
import TestSupport

/// The exchange lowers its budget while a fleet of fetchers is working: the 429s are
/// detected, the whole fleet backs off through the shared budget, and no work is lost.
@Suite(.tags(.processes), .processSlotAlone) struct ThrottlingTests {
    @Test func loweringTheExchangeBudgetMidCycleLosesNothing() async throws {
        let h = try await PipelineHarness(name: "throttle", simulatorArguments: PipelineEndToEndTests.frozenClock + [
            "--rate-limit", "on", "--rate-tokens-per-s", "3000", "--unsigned-rate-tokens-per-s", "3000", "--rate-burst-s", "1"])
        defer { h.teardown() }
        // The fleet believes in 3000 tokens/s (300 requests/s) shared by all.
        let fleet = ["SSMD_RATE_TOKENS_PER_S": "3000", "SSMD_RATE_BURST_S": "1", "SSMD_HTTP_MAX_ATTEMPTS": "8"]
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        let a = try h.start("market-fetcher", ["--concurrency", "4"], environment: fleet)
        let b = try h.start("market-fetcher", ["--concurrency", "4"], environment: fleet)
        try await h.runToSuccess("series-fetcher", ["--once"], environment: fleet)
        // Lowered as soon as work flows: a cycle here is a few hundred requests, and lowering
        // late (a slow poll on a loaded machine) would leave fewer than the new burst.
        _ = await eventually(timeout: .seconds(30), every: .milliseconds(20)) {
            (a.output + b.output).components(separatedBy: "series synced").count > 2
        }
        // The exchange now allows 30 requests/s.
        try await h.simulatorPost("/_sim/settings", json: #"{"rate_tokens_per_s": 300, "unsigned_rate_tokens_per_s": 300, "rate_burst_s": 1}"#)
        #expect(try await h.waitUntilDrained(timeout: .seconds(180)), "did not drain:\n\(h.logs())")
        let codes = try await h.simulatorStatusCounts()
        let throttled = codes["429"] ?? 0
        #expect(throttled > 0, "the lowered budget was never hit: \(codes)")
        // Backing off: after the first 429s the fleet halves its rate, so 429s stay a small
        // share of the traffic instead of a storm.
        let total = codes.values.reduce(0, +)
        #expect(Double(throttled) < 0.1 * Double(total), "429 storm: \(throttled) of \(total)")
        try await PipelineEndToEndTests.assertExact(h, try PipelineEndToEndTests.expectation(h))
    }
}

/// Three market-fetcher processes and a series-fetcher configured with the exchange's own
/// budget never meet a 429: one shared budget, not three.
@Suite(.tags(.processes), .processSlotAlone) struct SharedBudgetProcessTests {
    @Test func threeProcessesAtTheExchangesBudgetAreNeverThrottled() async throws {
        let h = try await PipelineHarness(name: "budget-procs", scale: 0.01, simulatorArguments: PipelineEndToEndTests.frozenClock + [
            "--rate-limit", "on", "--rate-tokens-per-s", "400", "--unsigned-rate-tokens-per-s", "400", "--rate-burst-s", "1"])
        defer { h.teardown() }
        let budget = ["SSMD_RATE_TOKENS_PER_S": "400", "SSMD_RATE_BURST_S": "1"]
        try h.start("db-writer", ["--batch-max-age", "100ms"])
        for _ in 0..<3 { try h.start("market-fetcher", ["--concurrency", "4"], environment: budget) }
        let started = ContinuousClock.now
        try await h.runToSuccess("series-fetcher", ["--once"], environment: budget)
        #expect(try await h.waitUntilDrained(timeout: .seconds(120)), "did not drain:\n\(h.logs())")
        let elapsed = (ContinuousClock.now - started).seconds
        let codes = try await h.simulatorStatusCounts()
        #expect(codes["429"] == nil, "throttled: \(codes)")
        // Correctness, not speed: together they never beat the budget (40 requests/s plus the burst).
        let ok = codes.filter { $0.key.hasPrefix("2") }.values.reduce(0, +)
        #expect(Double(ok) <= 40 * elapsed + 40, "\(ok) requests in \(elapsed) s")
        try await PipelineEndToEndTests.assertExact(h, try PipelineEndToEndTests.expectation(h))
    }
}
