import Foundation
import Testing
import TestSupport
import WireContract

/// NATS and PostgreSQL go away and come back while the pipeline runs: no daemon is
/// restarted, nothing is lost, and PostgreSQL ends equal to the simulator's truth.
@Suite(.tags(.processes), .processSlot) struct RecoveryTests {
    /// The fetchers take their 24 h window from the wall clock while the test moves the
    /// simulated clock by up to 30 minutes: markets that close or settle this close to the
    /// boundary may be on either side.
    static let margin: Int64 = 45 * 60

    /// Polls until PostgreSQL equals the truth; returns the last differences ([] = equal).
    static func settle(_ h: PipelineHarness, timeout: Duration) async throws -> [String] {
        var diffs = ["never compared"]
        let deadline = ContinuousClock.now + timeout
        repeat {
            diffs = try await PipelineEndToEndTests.differences(h, try PipelineEndToEndTests.expectation(h, marginSeconds: margin))
            if diffs.isEmpty { return [] }
            try await Task.sleep(for: .seconds(2))
        } while ContinuousClock.now < deadline
        return diffs
    }

    static func count(_ p: ChildProcess, _ needle: String) -> Int { p.output.components(separatedBy: needle).count - 1 }

    /// What the truth says of each tracked market now (status and quotes).
    static func snapshot(_ h: PipelineHarness) async throws -> [String: String] {
        let e = try await PipelineEndToEndTests.expectation(h, marginSeconds: margin)
        return e.markets.mapValues { m in
            ["status", "yes_bid_dollars", "yes_ask_dollars", "last_price_dollars"].map { "\(m[$0] ?? "nil")" }.joined(separator: "|")
        }
    }

    static func deadLetters(_ h: PipelineHarness) async throws -> UInt64 {
        let (c, js) = try await h.jetStream()
        defer { c.close() }
        return try await js.streamInfo(name: Streams.deadLetters).messages
    }

    @Test(.timeLimit(.minutes(20))) func natsAndPostgresRestartsAreSurvived() async throws {
        let h = try await PipelineHarness(name: "recovery", scale: 0.02, simulatorArguments: PipelineEndToEndTests.frozenClock,
                                          privateNATS: true, privatePostgres: true)
        defer { h.teardown() }
        // A paced budget (≈ 120 requests/s for everyone: half of each 15 s interval) so each cycle takes a while and the
        // outages land while work is in flight; short AckWaits so anything whose ack was lost
        // with the server comes back quickly.
        let paced = ["SSMD_RATE_TOKENS_PER_S": "1200", "SSMD_RATE_BURST_S": "0"]
        // Reconciling every interval makes each cycle a full re-fetch, so quotes that move
        // without a status change (which the change feed does not carry) are compared too.
        let writer = try h.start("db-writer", ["--batch-max-age", "100ms", "--ack-wait", "10s"])
        let fetchers = try (0..<2).map { _ in try h.start("market-fetcher", ["--concurrency", "2"], environment: paced) }
        let series = try h.start("series-fetcher", ["--interval", "15s", "--reconcile-every", "15s", "--ack-wait", "5s"], environment: paced)
        let daemons = [writer, series] + fetchers

        let started = ContinuousClock.now
        var diffs = try await Self.settle(h, timeout: .seconds(180))
        let firstCycle = ContinuousClock.now - started
        #expect(diffs.isEmpty, "first cycle never matched the truth: \(diffs.prefix(10))\n\(h.logs())")

        // New truth, then NATS goes away in the middle of the cycle that fetches it.
        let before = try await Self.snapshot(h)
        try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": 900}"#)
        let cycles = Self.count(series, "cycle complete")
        #expect(await eventually(timeout: .seconds(40)) { Self.count(series, "cycle complete") > cycles })
        #expect(await eventually(timeout: .seconds(20)) { fetchers.contains { Self.count($0, "series synced") > 0 } })
        #expect(try await h.backlog().work > 0, "NATS must stop while work is in flight")
        await h.nats.stop()
        try await Task.sleep(for: .seconds(5))
        try await h.nats.start()
        let reconnected = await eventually(timeout: .seconds(30)) { daemons.allSatisfy { Self.count($0, "NATS reconnected") >= 1 } }
        #expect(reconnected, "not every daemon reconnected:\n\(h.logs())")

        // Work flows again; then PostgreSQL goes away while it does.
        let synced = fetchers.map { Self.count($0, "series synced") }
        #expect(await eventually(timeout: .seconds(60)) { zip(fetchers, synced).contains { Self.count($0, "series synced") > $1 } },
                "no series synced after NATS came back:\n\(h.logs())")
        #expect(await eventually(timeout: .seconds(30)) { ((try? await h.backlog().work) ?? 0) > 0 })
        await h.postgresServer.stop()
        try await Task.sleep(for: .seconds(5))
        try await h.postgresServer.start()

        // More new truth: only cycles after both restarts can bring it in. (Prices that return
        // to a value published within the duplicate window take one window longer to land:
        // the fetchers' message ids are content hashes.)
        try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": 900}"#)
        let after = try await Self.snapshot(h)
        let changed = after.filter { before[$0.key] != $0.value }.count
        #expect(changed > 50, "the clock moves must change the truth (\(changed) markets changed)")

        let restarted = ContinuousClock.now
        diffs = try await Self.settle(h, timeout: .seconds(240))
        print("recovery: first cycle matched after \(firstCycle); matched the moved truth \(ContinuousClock.now - restarted) after PostgreSQL came back; \(changed) markets changed")
        #expect(diffs.isEmpty, "\(diffs.count) differences after the restarts, first: \(diffs.prefix(15))\n\(h.logs())")
        for d in daemons { #expect(d.isRunning, "\(d.name) did not survive:\n\(d.output.suffix(3000))") }
        #expect(h.daemons.count == daemons.count, "no daemon may be restarted")
        #expect(try await Self.deadLetters(h) == 0, "an outage must not dead-letter anything:\n\(h.logs())")
    }

    /// /readyz of every daemon turns 503 when NATS stops and 200 when it returns; the
    /// writer's also follows PostgreSQL. /healthz stays 200 throughout.
    @Test(.timeLimit(.minutes(20))) func readinessFollowsNATSAndPostgresForEveryDaemon() async throws {
        let h = try await PipelineHarness(name: "readyz", scale: 0.01, simulatorArguments: PipelineEndToEndTests.frozenClock,
                                          privateNATS: true, privatePostgres: true)
        defer { h.teardown() }
        let daemons = [try h.start("db-writer"), try h.start("market-fetcher"), try h.start("series-fetcher", ["--interval", "1h"])]
        #expect(await eventually(timeout: .seconds(30)) { daemons.allSatisfy { OpsEndpointTests.endpoint(of: $0) != nil } }, "\(h.logs())")
        let bases = try daemons.map { try #require(OpsEndpointTests.endpoint(of: $0)) }
        func ready(_ base: String) async -> Int { await OpsEndpointTests.get(base + "/readyz").0 }
        func alive(_ base: String) async -> Int { await OpsEndpointTests.get(base + "/healthz").0 }
        /// Every daemon's /readyz status, in the order of `bases`.
        func readiness() async -> [Int] {
            var out: [Int] = []
            for b in bases { out.append(await ready(b)) }
            return out
        }

        #expect(await eventually(timeout: .seconds(30)) { await readiness().allSatisfy { $0 == 200 } }, "\(h.logs())")

        await h.nats.stop()
        let notReady = await eventually(timeout: .seconds(20)) { await readiness().allSatisfy { $0 == 503 } }
        let afterStop = await readiness()
        #expect(notReady, "readyz stayed ready without NATS: \(afterStop)")
        #expect(await OpsEndpointTests.get(bases[0] + "/readyz").1.contains("nats"), "the writer's readyz must say what is missing")
        for b in bases { #expect(await alive(b) == 200, "alive even when not ready") }
        try await h.nats.start()
        let recovered = await eventually(timeout: .seconds(30)) { await readiness().allSatisfy { $0 == 200 } }
        let afterStart = await readiness()
        #expect(recovered, "readyz did not recover: \(afterStart)\n\(h.logs())")

        await h.postgresServer.stop()
        #expect(await eventually(timeout: .seconds(20)) { await ready(bases[0]) == 503 }, "the writer stayed ready without PostgreSQL")
        #expect(await OpsEndpointTests.get(bases[0] + "/readyz").1.contains("postgres"))
        #expect(await ready(bases[1]) == 200, "the fetchers do not need PostgreSQL")
        #expect(await ready(bases[2]) == 200, "the fetchers do not need PostgreSQL")
        try await h.postgresServer.start()
        #expect(await eventually(timeout: .seconds(30)) { await ready(bases[0]) == 200 }, "the writer's readyz did not recover")
        for d in daemons { #expect(d.isRunning, "\(d.name):\n\(d.output.suffix(2000))") }
    }
}
