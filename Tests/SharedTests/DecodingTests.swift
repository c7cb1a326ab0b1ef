import Foundation
import Testing
@testable import CurlHTTP
@testable import KalshiAPI
@testable import KalshiModels
@testable import SSMDCore

@Suite struct RecordedResponseDecodingTests {
    func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try ExchangeClient.interpret(HTTPResponse(status: 200, body: Array(try Fixtures.recorded(name)), contentType: "application/json", elapsedSeconds: 0),
                                     endpoint: name, as: T.self)
    }

    @Test func marketsList() throws {
        let page = try decode(MarketsPage.self, "markets_list_response.json")
        #expect(page.markets.count > 0)
        #expect(page.cursor?.isEmpty == false)
        let m = try #require(page.markets.first)
        #expect(m.ticker == "KXMVENFLSINGLEGAME-S202513E70FA7695-688BECB3826")
        #expect(m.status == "active")
        #expect(m.noAsk?.text == "1.0000")
        #expect(m.closeTime == Timestamp(iso8601: "2026-01-27T01:15:00Z"))
        #expect(m.createdTime?.microsecondsSinceEpoch ?? 0 % 1_000_000 != 0)
        if case .object(let o) = m.customStrike { #expect(o["Multivariate Event Ticker"] == .string("KXMVENFLSINGLEGAME-26JAN12HOUPIT")) }
        else { Issue.record("custom_strike not decoded") }
    }

    @Test func singleMarketAndEvent() throws {
        struct MarketEnvelope: Decodable { var market: Market }
        struct EventEnvelope: Decodable { var event: Event; var markets: [Market]? }
        let m = try decode(MarketEnvelope.self, "market_single_response.json").market
        #expect(!m.ticker.isEmpty && !m.eventTicker.isEmpty)
        let e = try decode(EventEnvelope.self, "event_single_response.json")
        #expect(!e.event.ticker.isEmpty && !e.event.seriesTicker.isEmpty)
    }

    @Test func eventsList() throws {
        let page = try decode(EventsPage.self, "events_list_response.json")
        #expect(page.events.count == 5)
        #expect(page.events[1].ticker == "KXNEWPOPE-70")
        #expect(page.events[1].mutuallyExclusive == true)
        #expect(page.events[0].strikePeriod == nil)  // "" means absent
    }

    @Test func seriesListWithNullTags() throws {
        struct R: Decodable { var series: [Series] }
        let list = try decode(R.self, "series_list_response.json").series
        #expect(list.count == 241)
        let low = try #require(list.first { $0.ticker == "KXLOWAUS" })
        #expect(low.tags == [])
        #expect(list.first { $0.ticker == "CO2" }?.tags == ["Climate change"])
    }

    @Test func singleSeries() throws {
        struct R: Decodable { var series: Series }
        #expect(!(try decode(R.self, "series_single_response.json")).series.ticker.isEmpty)
    }

    @Test func tagsByCategoriesWithNullCategories() throws {
        let map = try decode(TagsByCategories.self, "tags_by_categories_response.json")
        #expect(map.categories["Elections"] == [])
        #expect(map.categories["Financials"]?.contains("S&P") == true)
        #expect(map.categories["Politics"]?.contains("SCOTUS & courts") == true)
    }

    @Test func sportFilters() throws {
        let filters = try decode(SportFilters.self, "filters_by_sport_response.json")
        #expect(filters.sports.contains("Basketball"))
        #expect(!filters.sports.contains("All sports"))
    }
}

@Suite struct CurrentFormatDecodingTests {
    /// A market built from the documentation's examples (`"0.5600"`, `"10.00"`), in today's
    /// format with no integer-cent fields, plus fields this build has never heard of.
    static let documentedMarket = """
    {"ticker":"KXBTCD-25NOV2517-T98999.99","event_ticker":"KXBTCD-25NOV2517","market_type":"binary",
     "yes_sub_title":"$99,000 or above","no_sub_title":"below","created_time":"2025-11-24T17:00:00Z",
     "updated_time":"2025-11-24T17:00:00.5Z","open_time":"2025-11-24T17:00:00Z","close_time":"2025-11-25T22:00:00Z",
     "latest_expiration_time":"2025-12-02T22:00:00Z","settlement_timer_seconds":300,"status":"finalized",
     "notional_value_dollars":"1.0000","yes_bid_dollars":"0.5600","yes_ask_dollars":"0.5700","no_bid_dollars":"0.4300",
     "no_ask_dollars":"0.4400","yes_bid_size_fp":"10.00","yes_ask_size_fp":"10.00","last_price_dollars":"0.5600",
     "previous_yes_bid_dollars":"0.5500","previous_yes_ask_dollars":"0.5800","previous_price_dollars":"0.5500",
     "volume_fp":"10.00","volume_24h_fp":"10.00","open_interest_fp":"10.00","result":"yes","can_close_early":true,
     "expiration_value":"99012.44","rules_primary":"If …","rules_secondary":"","price_level_structure":"linear_cent",
     "price_ranges":[{"start":"0.0100","end":"0.9900","step":"0.0100"}],"floor_strike":98999.99,
     "settlement_ts":"2025-11-25T22:05:00Z","settlement_value_dollars":"1.0000",
     "a_field_from_the_future":{"nested":[1,2,3]},"another_one":null}
    """

    @Test func documentedExamplesDecode() throws {
        let m = try JSONDecoder().decode(Market.self, from: Data(Self.documentedMarket.utf8))
        #expect(m.yesBid?.text == "0.5600")
        #expect(m.volume?.text == "10.00")
        #expect(m.floorStrike?.text == "98999.99")
        #expect(m.status == "finalized")
        #expect(m.updatedTime == Timestamp(iso8601: "2025-11-24T17:00:00.500000Z"))
        #expect(m.settlementTs == Timestamp.seconds(1_764_108_300))
    }

    @Test func roundTripThroughOurOwnEncoding() throws {
        let m = try JSONDecoder().decode(Market.self, from: Data(Self.documentedMarket.utf8))
        let again = try JSONDecoder().decode(Market.self, from: JSONEncoder().encode(m))
        #expect(again == m)
    }

    @Test func legacyCentFieldsFillInMissingDollarFields() throws {
        let json = #"{"ticker":"A","event_ticker":"E","status":"active","yes_bid":56,"volume":12}"#
        let m = try JSONDecoder().decode(Market.self, from: Data(json.utf8))
        #expect(m.yesBid?.text == "0.5600")
        #expect(m.volume?.text == "12.00")
    }

    @Test func badFieldIsNamedByPath() {
        let body = #"{"markets":[{"ticker":"A","event_ticker":"E","status":"active"},{"ticker":"B","event_ticker":"E","status":"active","close_time":"yesterday"}],"cursor":""}"#
        #expect {
            _ = try ExchangeClient.interpret(HTTPResponse(status: 200, body: Array(body.utf8), contentType: nil, elapsedSeconds: 0),
                                             endpoint: "/markets", as: MarketsPage.self)
        } throws: { error in
            guard case ExchangeError.decoding(_, let path, _) = error else { return false }
            return path == "markets[1].close_time"
        }
    }

    @Test func missingRequiredFieldIsNamed() {
        let body = #"{"markets":[{"event_ticker":"E","status":"active"}],"cursor":""}"#
        #expect {
            _ = try ExchangeClient.interpret(HTTPResponse(status: 200, body: Array(body.utf8), contentType: nil, elapsedSeconds: 0),
                                             endpoint: "/markets", as: MarketsPage.self)
        } throws: { error in
            guard case ExchangeError.decoding(_, let path, _) = error else { return false }
            return path == "markets[0].ticker"
        }
    }

    @Test func htmlInsteadOfJSONIsADecodingErrorSayingWhatCame() {
        #expect {
            _ = try ExchangeClient.interpret(HTTPResponse(status: 200, body: Array("\n<html>oops</html>".utf8), contentType: "text/html", elapsedSeconds: 0),
                                             endpoint: "/series", as: MarketsPage.self)
        } throws: { error in
            guard case ExchangeError.decoding(let endpoint, _, let message) = error else { return false }
            return endpoint == "/series" && message == "expected JSON, got text/html:  <html>oops</html>"
        }
    }

    @Test func rateLimitBodyFromTheDocs() {
        #expect {
            _ = try ExchangeClient.interpret(HTTPResponse(status: 429, body: Array(#"{"error": "too many requests"}"#.utf8), contentType: nil, elapsedSeconds: 0),
                                             endpoint: "/markets", as: MarketsPage.self)
        } throws: { ($0 as? ExchangeError)?.isRateLimited == true }
    }

    @Test func errorResponseBodyIsReported() {
        #expect {
            _ = try ExchangeClient.interpret(HTTPResponse(status: 404, body: Array(#"{"error":{"code":"not_found","message":"market not found"}}"#.utf8), contentType: nil, elapsedSeconds: 0),
                                             endpoint: "/markets/X", as: MarketsPage.self)
        } throws: { error in
            guard case ExchangeError.http(404, _, "not_found", "market not found") = error else { return false }
            return !(error as! ExchangeError).isRetryable
        }
    }
}
