import Foundation
import Logging
import Testing
import KalshiAPI
import KalshiModels
import RateBudget
import TestSupport

/// ExchangeClient's cursor chains over real HTTP to kalshi-sim: pages arrive whole and in
/// order, a repeated cursor fails the chain after its page, and a failing page handler
/// stops the chain at once.
@Suite(.tags(.processes)) struct ExchangePagingTests {
    static func client(_ h: PipelineHarness) -> ExchangeClient {
        var config = ExchangeClientConfig(baseURL: h.exchangeURL)
        config.retry.maxAttempts = 1
        return ExchangeClient(config: config, budget: UnlimitedRequestBudget(), logger: Logger(label: "paging-test"))
    }

    /// `/markets` requests the simulator has answered.
    static func marketRequests(_ h: PipelineHarness) async throws -> Int {
        let stats = try await h.simulatorJSON("/_sim/stats")
        return ((stats["requests"] as? [String: [String: Int]])?["/markets"] ?? [:]).values.reduce(0, +)
    }

    @Test func pagesArriveWholeAndInOrder() async throws {
        let h = try await PipelineHarness(name: "paging-order", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let client = Self.client(h)
        var whole = MarketQuery()
        whole.limit = 1000
        var expected: [String] = []
        try await client.forEachMarketsPage(whole) { expected += $0.map(\.ticker) }
        #expect(expected.count > 200, "the universe is too small to page: \(expected.count)")
        var paged = whole
        paged.limit = 50
        var seen: [String] = []
        var pages = 0
        let before = try await Self.marketRequests(h)
        try await client.forEachMarketsPage(paged) { page in
            pages += 1
            seen += page.map(\.ticker)
        }
        #expect(seen == expected, "paging by 50 must give the same markets in the same order as one page")
        #expect(pages == (expected.count + 49) / 50)
        #expect(try await Self.marketRequests(h) - before == pages, "one request per page, none beyond the chain")
    }

    @Test func aRepeatedCursorFailsTheChainAfterItsPage() async throws {
        let h = try await PipelineHarness(name: "paging-repeat", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        _ = try await h.simulatorPost("/_sim/settings", json: #"{"repeat_cursor_rate": 1}"#)
        var query = MarketQuery()
        query.limit = 10
        var pages = 0
        await #expect {
            try await Self.client(h).forEachMarketsPage(query) { _ in pages += 1 }
        } throws: { error in
            guard case ExchangeError.repeatedCursor(let endpoint, _, let page)? = error as? ExchangeError else { return false }
            return endpoint == "/markets" && page == 2
        }
        #expect(pages == 2, "the page that repeated the cursor is handled before the chain fails")
    }

    @Test func aFailingHandlerStopsTheChain() async throws {
        let h = try await PipelineHarness(name: "paging-stop", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        struct Stop: Error {}
        var query = MarketQuery()
        query.limit = 20
        let before = try await Self.marketRequests(h)
        var pages = 0
        await #expect(throws: Stop.self) {
            try await Self.client(h).forEachMarketsPage(query) { _ in
                pages += 1
                if pages == 2 { throw Stop() }
            }
        }
        #expect(pages == 2)
        #expect(try await Self.marketRequests(h) - before == 2, "no page asked for after the handler failed")
    }
}
