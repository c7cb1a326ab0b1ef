import Foundation
import Testing
@testable import CurlHTTP
@testable import KalshiAPI
@testable import KalshiModels
@testable import SSMDCore
@testable import WireContract

/// The fetchers write market messages with `JSONOutput` instead of `JSONEncoder`; the bytes
/// must be the very ones `JSONEncoder` writes, or message ids (a hash of the market's JSON)
/// would change between versions and connectors would see a different text for one value.
@Suite struct MarketJSONTests {
    /// Every field set, with strings that need escaping and open-ended values of every shape.
    static var everyField: Market {
        var m = Market(ticker: "KX\"Q\\/1", eventTicker: "E-1", status: "active")
        m.marketType = "binary"; m.title = "Tab\there, newline\nthere, \u{1}\u{1f}\u{7f} é 中文 🎉 \u{2028}"
        m.subtitle = "\r\u{8}\u{c}"; m.yesSubTitle = "a/b"; m.noSubTitle = ""; m.result = "yes"
        m.createdTime = Timestamp(iso8601: "2026-01-12T10:00:00.123456Z"); m.updatedTime = .seconds(1_764_108_300)
        m.openTime = .seconds(0); m.closeTime = Timestamp(iso8601: "1969-12-31T23:59:59.5Z")
        m.expectedExpirationTime = .seconds(2_000_000_000); m.latestExpirationTime = .seconds(2_000_000_001)
        m.settlementTs = .seconds(1_764_108_301); m.settlementTimerSeconds = -5; m.canCloseEarly = true
        m.strikeType = "between"; m.floorStrike = FixedPoint("98999.99"); m.capStrike = FixedPoint("-1")
        m.customStrike = .object(["b": .array([.number(1), .number(0.1), .number(-2.5e-7), .number(1e21), .null, .bool(false)]),
                                  "a": .string("x\"y"), "B": .object(["z": .string("1"), "é": .bool(true)])])
        m.rulesPrimary = "Rules <b>&</b>"; m.rulesSecondary = "2"
        m.yesBid = FixedPoint("0.5600"); m.yesAsk = FixedPoint("0.5700"); m.noBid = FixedPoint("0.4300")
        m.noAsk = FixedPoint("0.4400"); m.lastPrice = FixedPoint("0.5650"); m.notionalValue = FixedPoint("1.0000")
        m.settlementValue = FixedPoint("0.0000"); m.volume = FixedPoint("10.00"); m.volume24h = FixedPoint("0.00")
        m.openInterest = FixedPoint("123456789.00"); m.mveCollectionTicker = "KXMVE"; m.priceLevelStructure = "deci_cent"
        m.priceRanges = .array([.object(["start": .string("0.0000"), "end": .string("0.1000"), "step": .string("0.0010")])])
        m.earlyCloseCondition = "if the event happens"; m.expirationTime = .seconds(2_000_000_002); m.expirationValue = "7"
        m.occurrenceDatetime = .seconds(2_000_000_003); m.feeWaiverExpirationTime = .seconds(2_000_000_004)
        m.functionalStrike = "f(x)"; m.primaryParticipantKey = "p"; m.isProvisional = false
        return m
    }

    func recordedMarkets() throws -> [Market] {
        let response = { (name: String) in HTTPResponse(status: 200, body: Array(try Fixtures.recorded(name)), contentType: "application/json", elapsedSeconds: 0) }
        let list = try ExchangeClient.interpret(try response("markets_list_response.json"), endpoint: "markets", as: MarketsPage.self).markets
        struct EventEnvelope: Decodable { var markets: [Market]? }
        let nested = try ExchangeClient.interpret(try response("event_single_response.json"), endpoint: "event", as: EventEnvelope.self).markets ?? []
        return list + nested
    }

    @Test func marketBytesAreJSONEncodersBytes() throws {
        let documented = try JSONDecoder().decode(Market.self, from: Data(CurrentFormatDecodingTests.documentedMarket.utf8))
        let markets = try recordedMarkets() + [documented, Self.everyField, Market(ticker: "T", eventTicker: "E", status: "initialized")]
        #expect(markets.count >= 9, "the recorded markets were not all read")
        for m in markets {
            let fast = m.jsonBytes
            let reference = try JSONCodec.encode(m)
            #expect(fast == reference, "\(m.ticker):\n\(String(decoding: fast, as: UTF8.self))\n\(String(decoding: reference, as: UTF8.self))")
            #expect(try JSONDecoder().decode(Market.self, from: Data(fast)) == m)
        }
    }

    @Test func everyStoredPropertyIsInTheTable() {
        let properties = Mirror(reflecting: Self.everyField).children.compactMap(\.label)
        #expect(properties.count == Market.fields.count, "Market has \(properties.count) properties, its JSON table \(Market.fields.count)")
        // ...and the full market really sets every one (a nil would hide a missing row).
        #expect(Mirror(reflecting: Self.everyField).children.allSatisfy { child in
            let inner = Mirror(reflecting: child.value)
            return inner.displayStyle != .optional || !inner.children.isEmpty
        })
    }

    @Test(arguments: [nil, "Sports"])
    func messageBytesAreMessageCodecsBytes(category: String?) throws {
        for m in [Self.everyField, Market(ticker: "T", eventTicker: "E", status: "active")] {
            let at = Timestamp(iso8601: "2026-01-12T10:00:00.5Z")!
            let fast = MarketMessage.encoded(fetchedAt: at, tag: "Tag \"quoted\"", category: category, seriesTicker: "KXS", marketJSON: m.jsonBytes)
            let reference = try MessageCodec.encode(MarketMessage(fetchedAt: at, tag: "Tag \"quoted\"", category: category, seriesTicker: "KXS", market: m))
            #expect(fast == reference, "\(String(decoding: fast, as: UTF8.self))\n\(String(decoding: reference, as: UTF8.self))")
        }
    }

    /// Every control and ASCII character, one at a time, as `JSONEncoder` escapes it.
    @Test func stringsAreEscapedAsJSONEncoderEscapesThem() throws {
        for scalar in (0..<0x80).compactMap(Unicode.Scalar.init) + ["\u{2028}", "\u{feff}", "é", "😀"] {
            let s = "a\(Character(scalar))b"
            var out = JSONOutput()
            out.string(s)
            let reference = try JSONCodec.encode(s)
            #expect(out.bytes == reference, "U+\(String(scalar.value, radix: 16))")
        }
    }
}

/// The page decoders read markets (alone, or nested in events) with `MarketFastDecoding`;
/// whatever it accepts must be exactly what `Decodable` gives, and it must accept today's shape.
@Suite struct MarketFastDecodingTests {
    func recordedMarketObjects() throws -> [[UInt8]] {
        let list = try JSONSerialization.jsonObject(with: Fixtures.recorded("markets_list_response.json")) as! [String: Any]
        let event = try JSONSerialization.jsonObject(with: Fixtures.recorded("event_single_response.json")) as! [String: Any]
        let objects = (list["markets"] as! [Any]) + ((event["markets"] as? [Any]) ?? [])
        return try objects.map { Array(try JSONSerialization.data(withJSONObject: $0)) }
            + [Array(CurrentFormatDecodingTests.documentedMarket.utf8), MarketJSONTests.everyField.jsonBytes]
    }

    static func fast(_ bytes: [UInt8]) -> Market? {
        bytes.withUnsafeBufferPointer { MarketFastDecoding.decode($0, 0..<$0.count) }
    }

    @Test func todaysShapeIsReadFastAndExactly() throws {
        for bytes in try recordedMarketObjects() {
            let reference = try JSONDecoder().decode(Market.self, from: Data(bytes))
            let fast = Self.fast(bytes)
            // The full market has numbers in custom_strike: Decodable's.
            if reference == MarketJSONTests.everyField {
                #expect(fast == nil)
                continue
            }
            #expect(fast == reference, "\(reference.ticker)")
        }
    }

    @Test func whatIsUnusualIsLeftToDecodable() {
        for json in [#"{"ticker":"A","event_ticker":"E","status":"active","yes_bid":56.5}"#,     // legacy cents, not an integer
                     #"{"ticker":"A","event_ticker":"E","status":"active","floor_strike":1e400}"#,  // out of range
                     #"{"ticker":"A","event_ticker":"E","status":"active","ticker":"B"}"#,      // duplicate key
                     #"{"ticker":"A","event_ticker":"E","status":null}"#,                      // required null
                     #"{"ticker":"A","event_ticker":"E"}"#,                                    // required missing
                     #"{"ticker":"A","event_ticker":"E","status":"active","custom_strike":{"x":1.5}}"#,
                     #"{"ticker":"A","event_ticker":"E","status":"active","settlement_timer_seconds":1.5}"#,
                     #"{"ticker":"A","event_ticker":"E","status":"active","close_time":"yesterday"}"#,
                     #"{"ticker":"A","event_ticker":"E","status":"active"} x"#] {
            #expect(Self.fast(Array(json.utf8)) == nil, "\(json)")
        }
        for json in [#"{"event_ticker":"E","series_ticker":null}"#, #"{"event_ticker":"E","series_ticker":"S","strike_date":"soon"}"#,
                     #"{"event_ticker":"E","series_ticker":"S","title":5}"#, #"{"event_ticker":"E","series_ticker":"S","markets":[{"ticker":"A"}]}"#,
                     #"{"event_ticker":"E","series_ticker":"S","markets":{}}"#] {
            #expect(Array(json.utf8).withUnsafeBufferPointer { EventFastDecoding.decode($0, 0..<$0.count) } == nil, "\(json)")
        }
        for ok in [#"{"ticker":"A","event_ticker":"E","status":"active","new_field":{"deep":[1,2,{"x":null}]},"close_time":"","yes_bid_dollars":""}"#,
                   #"{"ticker":"A","event_ticker":"E","status":"active","yes_bid":56,"yes_bid_dollars":"","volume":7,"no_bid":"x","no_bid_dollars":"0.1000"}"#,
                   #"{"ticker":"A","event_ticker":"E","status":"active","floor_strike":98999.99,"cap_strike":-0.000001,"strike_type":"between"}"#,
                   #"{"ticker":"A","event_ticker":"E","status":"active","floor_strike":5,"cap_strike":1.5e3}"#] {
            let fast = Self.fast(Array(ok.utf8))
            #expect(fast != nil && fast == (try? JSONDecoder().decode(Market.self, from: Data(ok.utf8))), "\(ok)")
        }
    }

    /// The recorded event with its markets nested, as `with_nested_markets=true` returns it.
    func recordedEventWithMarkets() throws -> [String: Any] {
        let single = try JSONSerialization.jsonObject(with: Fixtures.recorded("event_single_response.json")) as! [String: Any]
        var nested = single["event"] as! [String: Any]
        nested["markets"] = single["markets"]
        return nested
    }

    /// Mutations of `seeds`: whenever `T`'s fast decoder accepts one, `Decodable` gives the
    /// same value; and it accepts enough of them for that to mean something.
    func fastNeverDisagrees<T: FastListElement & Decodable & Equatable>(_ type: T.Type, seeds: [[UInt8]], iterations: Int,
                                                                         seed: UInt64, minAccepted: Int) {
        var rng = DecoderFuzzTests.Rng(state: seed)
        var accepted = 0
        for i in 0..<iterations {
            let input = DecoderFuzzTests.mutate(seeds[i % seeds.count], &rng)
            guard let fast = input.withUnsafeBufferPointer({ T.fastDecode($0, 0..<$0.count) }) else { continue }
            accepted += 1
            let reference = try? JSONDecoder().decode(T.self, from: Data(input))
            #expect(fast == reference, "\(String(decoding: input, as: UTF8.self))")
            if fast != reference { return }
        }
        #expect(accepted > minAccepted, "only \(accepted) mutations were read fast: the test would prove little")
    }

    @Test func mutationsNeverDisagree() throws {
        fastNeverDisagrees(Market.self, seeds: try recordedMarketObjects(), iterations: 20_000, seed: 0x5eed_f00d, minAccepted: 1_000)
    }

    /// Event objects with nested markets, likewise.
    @Test func eventMutationsNeverDisagree() throws {
        let list = try JSONSerialization.jsonObject(with: Fixtures.recorded("events_list_response.json")) as! [String: Any]
        let seeds = try ([try recordedEventWithMarkets()] + (list["events"] as! [Any])).map { Array(try JSONSerialization.data(withJSONObject: $0)) }
        fastNeverDisagrees(Event.self, seeds: seeds, iterations: 10_000, seed: 0xe7e4_7500, minAccepted: 500)
    }

    /// Whole pages: the element-wise decoder (fast markets, nested or not) equals `JSONDecoder`.
    @Test func pagesDecodeAsJSONDecoderDecodesThem() throws {
        let markets = Array(try Fixtures.recorded("markets_list_response.json"))
        let page = try #require(ListPageDecoder.decode(MarketsPage.self, from: markets))
        #expect(page.markets == (try JSONDecoder().decode(MarketsPage.self, from: Data(markets))).markets)
        // An events page with nested markets, built from the recorded event and its markets.
        let nested = try recordedEventWithMarkets()
        var withNull = nested, without = nested
        without["markets"] = nil
        withNull["markets"] = NSNull()
        let body = Array(try JSONSerialization.data(withJSONObject: ["events": [nested, withNull, without], "cursor": "c"]))
        // The fast path, not the fallback, read each of them.
        try body.withUnsafeBufferPointer { b in
            let members = try #require(JSONScan.members(ofObject: 0..<b.count, in: b))
            for r in try #require(JSONScan.elements(ofArray: members["events"]!, in: b)) {
                let fast = try #require(EventFastDecoding.decode(b, r))
                #expect(fast == (try JSONDecoder().decode(Event.self, from: Data(UnsafeBufferPointer(rebasing: b[r])))))
            }
        }
        let events = try #require(ListPageDecoder.decode(EventsPage.self, from: body))
        let reference = try JSONDecoder().decode(EventsPage.self, from: Data(body))
        #expect(events.events == reference.events)
        #expect(events.events[0].markets?.isEmpty == false)
        #expect(events.events[1].markets == nil)
    }
}
