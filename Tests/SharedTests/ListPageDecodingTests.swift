import Foundation
import Testing
import PureTestSupport
@testable import CurlHTTP
@testable import KalshiAPI
@testable import KalshiModels

/// The element-by-element decoding of list responses must give exactly what decoding the
/// whole body gives, or decline (and let the whole-body decode answer).
@Suite(.ownThread) struct ListPageDecodingTests {
    struct SeriesPage: ListPage, Equatable {
        var series: [Series]
        static let listKey = "series"
        init(elements: [Series], cursor: String?) { series = elements }
    }

    static func whole<P: Decodable>(_ type: P.Type, _ body: [UInt8]) -> P? {
        try? JSONDecoder().decode(P.self, from: Data(body))
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func recordedResponsesDecodeAsTheWholeBodyDoes() throws {
        let markets = Array(try Fixtures.recorded("markets_list_response.json"))
        let m = try #require(ListPageDecoder.decode(MarketsPage.self, from: markets))
        let mWhole = try #require(Self.whole(MarketsPage.self, markets))
        #expect(!m.markets.isEmpty)
        #expect(m.markets == mWhole.markets)
        #expect(m.cursor == mWhole.cursor)

        let events = Array(try Fixtures.recorded("events_list_response.json"))
        let e = try #require(ListPageDecoder.decode(EventsPage.self, from: events))
        let eWhole = try #require(Self.whole(EventsPage.self, events))
        #expect(!e.events.isEmpty)
        #expect(e.events == eWhole.events)
        #expect(e.cursor == eWhole.cursor)

        let series = Array(try Fixtures.recorded("series_list_response.json"))
        let s = try #require(ListPageDecoder.decode(SeriesPage.self, from: series))
        #expect(s.series.count > 100)
        #expect(s.series == Self.whole(SeriesPage.self, series)?.series)
    }

    @Test func oddButValidShapesDecodeAsTheWholeBodyDoes() throws {
        let market = CurrentFormatDecodingTests.documentedMarket
        let cases = [
            #"{"markets": [], "cursor": ""}"#,
            #"{"cursor": null, "markets": [\#(market)]}"#,
            // An escaped key and cursor, unknown members of every kind, spacing everywhere.
            " \n{ \"mark\\u0065ts\" : [ \(market) , \(market) ] , \"cursor\" : \"a\\\"b\\u00e9\" , \"x\": [1, -2.5e+3, {\"y\": [true, false, null]}], \"z\": \"\\/\" }\t",
        ]
        for text in cases {
            let page = try #require(ListPageDecoder.decode(MarketsPage.self, from: Self.bytes(text)), "declined: \(text)")
            let whole = try #require(Self.whole(MarketsPage.self, Self.bytes(text)))
            #expect(page.markets == whole.markets)
            #expect(page.cursor == whole.cursor)
        }
        #expect(ListPageDecoder.decode(MarketsPage.self, from: Self.bytes(cases[2]))?.cursor == "a\"bé")
    }

    @Test func unusualTopLevelsAreLeftToTheWholeBodyDecode() {
        let market = CurrentFormatDecodingTests.documentedMarket
        let declined = [
            "", "[]", "null", #"{"markets": null}"#, #"{"cursor": "c"}"#, #"{"markets": {}}"#,
            #"{"markets": [], "markets": []}"#,             // duplicate key
            #"{"markets": [], "cursor": 5}"#,               // cursor not a string
            #"{"markets": []} x"#,                          // trailing text
            #"{"markets": [], "x": tru}"#,                  // malformed ignored member
            #"{"markets": [], "x": 01}"#, #"{"markets": [], "x": 1.}"#, #"{"markets": [], "x": "\q"}"#,
            "{\"markets\": [], \"x\": \"a\u{1}\"}",          // control character in a string
            #"{"markets": [\#(market),]}"#,                 // trailing comma
            #"{"markets": [{"ticker": 5}]}"#,               // an element that fails
            #"{"markets": []"#,                             // truncated
            "{\"markets\": [], \"x\": \"abc",            // unterminated string
            "{\"markets\": [], \"x\": " + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
        ]
        for text in declined {
            #expect(ListPageDecoder.decode(MarketsPage.self, from: Self.bytes(text)) == nil, "accepted: \(text.prefix(80))")
        }
        // Invalid UTF-8 in a key.
        #expect(ListPageDecoder.decode(MarketsPage.self, from: Self.bytes(#"{"markets": [], ""#) + [0xFF] + Self.bytes(#"": 1}"#)) == nil)
    }

    @Test func theExchangeClientGivesTheSameErrorsAsBefore() throws {
        let bad = Self.bytes(#"{"markets": [{"ticker": "A", "event_ticker": "E", "status": "active", "close_time": "soon"}]}"#)
        let response = HTTPResponse(status: 200, body: bad, contentType: "application/json", elapsedSeconds: 0)
        #expect(throws: ExchangeError.self) { try ExchangeClient.interpret(response, endpoint: "/markets", as: MarketsPage.self) }
        do {
            _ = try ExchangeClient.interpret(response, endpoint: "/markets", as: MarketsPage.self)
        } catch let ExchangeError.decoding(endpoint, path, message) {
            #expect(endpoint == "/markets")
            #expect(path == "markets[0].close_time", "path: \(path)")
            #expect(message.contains("soon"), "message: \(message)")
        }
    }

    /// Mutated recorded pages: whenever the element-wise decode answers, the whole-body
    /// decode answers the same.
    @Test func mutatedPagesNeverDisagree() throws {
        let seeds = [Array(try Fixtures.recorded("markets_list_response.json"))]
        var rng = DecoderFuzzTests.Rng(state: 21)
        var accepted = 0, declined = 0
        for i in 0..<1500 {
            let input = DecoderFuzzTests.mutate(seeds[i % seeds.count], &rng)
            guard let page = ListPageDecoder.decode(MarketsPage.self, from: input) else { declined += 1; continue }
            accepted += 1
            let whole = Self.whole(MarketsPage.self, input)
            #expect(whole?.markets == page.markets, "input \(i) decoded differently")
            #expect(whole?.cursor == page.cursor)
        }
        #expect(accepted > 0 && declined > 0, "accepted \(accepted), declined \(declined)")
    }
}
