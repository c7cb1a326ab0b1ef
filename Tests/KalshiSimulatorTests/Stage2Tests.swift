import Foundation
import Testing
@testable import KalshiSimulator

@Suite struct TokenBucketTests {
    @Test func burstThenSustainedRate() {
        var b = TokenBucket(tokensPerSecond: 200, burstSeconds: 2, now: 0)
        var ok = 0
        for _ in 0..<100 where b.take(10, now: 0) { ok += 1 }
        #expect(ok == 40)  // 2 s × 200 tokens / 10 per request
        // Sustained at exactly budget (20 req/s): all allowed once refilled.
        var allowed = 0
        for i in 1...200 where b.take(10, now: Double(i) * 0.05) { allowed += 1 }
        #expect(allowed == 200)
        // Above budget (40 req/s for 5 s): about half refused.
        var refused = 0
        for i in 1...200 where !b.take(10, now: 10 + Double(i) * 0.025) { refused += 1 }
        #expect(refused > 80 && refused < 120)
    }

    @Test func faultPlanIsSeededAndRespectsRates() {
        var s = SimSettings()
        s.error5xxRate = 0.3
        s.latencyFixedMs = 5
        s.latencyJitterMs = 10
        let a = (0..<1000).map { FaultPlan(settings: s, requestNumber: UInt64($0)) }
        let b = (0..<1000).map { FaultPlan(settings: s, requestNumber: UInt64($0)) }
        #expect(a == b)
        let errors = a.filter(\.serverError).count
        #expect(errors > 240 && errors < 360)
        #expect(a.allSatisfy { $0.latencyMs >= 5 && $0.latencyMs <= 15 })
        #expect(!a.contains { $0.truncatedBody || $0.connectionReset })
    }
}

@Suite(.serialized) struct FaultHTTPTests {
    func settings(_ s: TestServer, _ json: String) async throws {
        let r = try await httpRequest(port: s.port, method: "POST", path: "/_sim/settings", body: json)
        #expect(r.status == 200, "\(r.text)")
    }

    @Test func rateLimitAboveBudgetGets429AtBudgetNone() async throws {
        var cfg = SimSettings()
        cfg.rateLimit = true
        // 10 tokens per request: a bucket of 2 requests refilled at 2 a second, so that
        // however slowly this machine sends, 40 requests in a row must meet a 429.
        cfg.rateTokensPerSecond = 20
        cfg.unsignedRateTokensPerSecond = 20
        cfg.rateBurstSeconds = 1
        let s = try await TestServer.start(settings: cfg)
        var codes: [Int] = []
        let t0 = Date()
        for _ in 0..<40 { codes.append(try await s.get("/trade-api/v2/series/KXBTCD").status) }
        // 2 fit the bucket, plus what refilled (2 requests/s) while the loop ran.
        let allowedAtMost = 2 + Int((Date().timeIntervalSince(t0) * 2).rounded(.up)) + 1
        #expect(codes.filter { $0 == 200 }.count <= allowedAtMost)
        #expect(codes.contains(429), "no 429 in 40 requests sent in \(Date().timeIntervalSince(t0)) s")
        let limited = try await s.get("/trade-api/v2/markets/X")
        if limited.status == 429 {
            #expect(limited.text == #"{"error": "too many requests"}"#)
            #expect(limited.headers["retry-after"] == nil)
        }
        // Signed requests have their own bucket.
        #expect(try await httpRequest(port: s.port, path: "/trade-api/v2/series/KXBTCD", headers: ["KALSHI-ACCESS-KEY": "k"]).status == 200)
        // At budget: after the bucket refills, 1 request every 0.6 s (under 2/s) → no 429.
        try await Task.sleep(nanoseconds: 1_100_000_000)
        var refused = 0
        for _ in 0..<4 {
            if try await s.get("/trade-api/v2/series/KXBTCD").status == 429 { refused += 1 }
            try await Task.sleep(nanoseconds: 600_000_000)
        }
        #expect(refused == 0)
        // Run-time switch off.
        try await settings(s, #"{"rate_limit": "off"}"#)
        for _ in 0..<60 { #expect(try await s.get("/trade-api/v2/series/KXBTCD").status == 200) }
        await s.stop()
    }

    @Test func serverErrorsAndLatency() async throws {
        let s = try await TestServer.start()
        try await settings(s, #"{"error_5xx_rate": 1}"#)
        let r = try await s.get("/trade-api/v2/markets")
        #expect(r.status == 503)
        #expect((r.object["error"] as? [String: Any])?["code"] as? String == "service_unavailable")
        try await settings(s, #"{"error_5xx_rate": 0, "latency_fixed_ms": 150}"#)
        let t0 = Date()
        #expect(try await s.get("/trade-api/v2/markets?limit=1").status == 200)
        #expect(Date().timeIntervalSince(t0) >= 0.15)
        #expect(try await s.get("/_sim/settings").object["latency_fixed_ms"] as? Double == 150)
        let bad = try await httpRequest(port: s.port, method: "POST", path: "/_sim/settings", body: #"{"error_5xx_rate": 2}"#)
        #expect(bad.status == 400)
        await s.stop()
    }

    @Test func connectionResetTruncationAndMalformedJSON() async throws {
        let s = try await TestServer.start()
        try await settings(s, #"{"connection_reset_rate": 1}"#)
        await #expect(throws: (any Error).self) { try await s.get("/trade-api/v2/markets?limit=5") }
        try await settings(s, #"{"connection_reset_rate": 0, "truncated_body_rate": 1}"#)
        let t = try await s.get("/trade-api/v2/markets?limit=50")
        #expect(t.status == 200)
        #expect(Int(t.headers["content-length"] ?? "0")! > t.body.count)
        #expect(t.json == nil)
        try await settings(s, #"{"truncated_body_rate": 0, "malformed_json_rate": 1}"#)
        let m = try await s.get("/trade-api/v2/markets?limit=5")
        #expect(m.status == 200)
        #expect(Int(m.headers["content-length"] ?? "0")! == m.body.count)
        #expect(m.json == nil)
        await s.stop()
    }

    @Test func repeatedCursorAndOversizedPage() async throws {
        let s = try await TestServer.start()
        let first = try await s.get("/trade-api/v2/markets?limit=10").object
        let cursor = first["cursor"] as! String
        try await settings(s, #"{"repeat_cursor_rate": 1}"#)
        let again = try await s.get("/trade-api/v2/markets?limit=10&cursor=\(cursor)").object
        #expect(again["cursor"] as? String == cursor)
        try await settings(s, #"{"repeat_cursor_rate": 0, "oversized_page_rate": 1}"#)
        let big = try await s.get("/trade-api/v2/markets?limit=10").object
        #expect((big["markets"] as! [Any]).count > 10)
        let ev = try await s.get("/trade-api/v2/events?limit=10").object
        #expect((ev["events"] as! [Any]).count > 10)
        await s.stop()
    }

    @Test func lifecycleOverTimeNewAndDelistedSeries() async throws {
        let u = UniverseTests.universe
        let later = ref + 3 * 86_400
        let appearing = u.series.filter { $0.createdTs > ref && $0.createdTs <= later }
        let vanishing = u.series.filter { ($0.delistedTs ?? .max) > ref && ($0.delistedTs ?? .max) <= later }
        let bigger = Universe(seed: 42, scale: 0.3, referenceTs: ref)
        #expect(!bigger.series.filter { $0.createdTs > ref }.isEmpty)
        #expect(!bigger.series.filter { $0.delistedTs != nil }.isEmpty)
        for s in appearing { #expect(!s.isListed(at: ref) && s.isListed(at: later)) }
        for s in vanishing { #expect(s.isListed(at: ref) && !s.isListed(at: later)) }
        // New markets appear in existing events as the clock passes their creation.
        let newMarkets = u.markets.indices.filter { u.markets[$0].timeline.createdTs > ref && u.isEventVisible(u.markets[$0].eventIndex, at: ref) }
        #expect(!newMarkets.isEmpty)
        let i = newMarkets[0]
        #expect(!u.isMarketVisible(i, at: ref) && u.isMarketVisible(i, at: u.markets[i].timeline.createdTs))
    }
}
