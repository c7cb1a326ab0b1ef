import Foundation
import Testing
import KalshiLive
import SSMDCore
import WireContract

/// The WebSocket protocol's messages, decoded from the exchange's own examples
/// (asyncapi.yaml) and the simulator's messages: tolerant of unknown fields, unknown types
/// reported, malformed frames an error that names the problem.
@Suite struct LiveProtocolTests {
    let t0 = Timestamp(microsecondsSinceEpoch: 1_795_600_000_000_000)

    @Test func subscribeCommandIsTheDocumentedShape() throws {
        let text = LiveCommand.subscribe(id: 5, channels: ["market_lifecycle_v2"]).jsonText
        #expect(text == #"{"cmd":"subscribe","id":5,"params":{"channels":["market_lifecycle_v2"]}}"#)
        #expect(LiveCommand.unsubscribe(id: 2, sids: [1]).jsonText == #"{"cmd":"unsubscribe","id":2,"params":{"sids":[1]}}"#)
    }

    @Test func controlAnswers() throws {
        #expect(try LiveMessage.decode(#"{"id":1,"type":"subscribed","msg":{"channel":"market_lifecycle_v2","sid":13}}"#)
                == .subscribed(id: 1, channel: "market_lifecycle_v2", sid: 13))
        #expect(try LiveMessage.decode(#"{"id":102,"sid":2,"seq":7,"type":"unsubscribed"}"#) == .unsubscribed(id: 102, sid: 2))
        #expect(try LiveMessage.decode(#"{"id":3,"type":"ok","msg":[{"channel":"market_lifecycle_v2","sid":1}]}"#) == .ok(id: 3))
        #expect(try LiveMessage.decode(#"{"id":123,"type":"error","msg":{"code":6,"msg":"Already subscribed"}}"#)
                == .error(id: 123, code: 6, message: "Already subscribed"))
        // Without an id (the exchange sends none for some errors).
        #expect(try LiveMessage.decode(#"{"type":"error","msg":{"code":1,"msg":"Unable to process message"}}"#)
                == .error(id: nil, code: 1, message: "Unable to process message"))
    }

    /// asyncapi.yaml's marketCreated example, plus a field the docs do not have.
    @Test func marketCreatedBecomesANotice() throws {
        let text = """
        {"type":"market_lifecycle_v2","sid":13,"future_field":{"x":1},"msg":{"market_ticker":"INXD-23SEP14-B4487","event_type":"created",
         "exchange_index":0,"open_ts":1694635200,"close_ts":1694721600,"price_level_structure":"linear_cent",
         "additional_metadata":{"name":"S&P 500 daily return on Sep 14","title":"S&P 500 closes up by 0.02% or more",
         "yes_sub_title":"S&P 500 closes up 0.02%+","no_sub_title":"S&P 500 closes up <0.02%",
         "rules_primary":"The S&P 500 index level at 4:00 PM ET...","rules_secondary":"","can_close_early":true,
         "event_ticker":"INXD-23SEP14","expected_expiration_ts":1694721600,"strike_type":"greater","floor_strike":4487}}}
        """
        guard case .lifecycle(let type, let sid, let msg) = try LiveMessage.decode(text) else { Issue.record("not lifecycle"); return }
        #expect(type == "market_lifecycle_v2" && sid == 13)
        let notice = try LifecycleNotice.from(type: type, msg: msg, receivedAt: t0)
        #expect(notice.eventType == "created")
        #expect(notice.marketTicker == "INXD-23SEP14-B4487")
        #expect(notice.eventTicker == "INXD-23SEP14")
        #expect(notice.subject == "ssmd.lifecycle.market.created.INXD-23SEP14-B4487")
        #expect(notice.message == JSONValue.object(msg), "the exchange's msg travels verbatim")
        #expect(notice.receivedAt == t0)
    }

    @Test(arguments: [
        (#"{"type":"market_lifecycle_v2","sid":13,"msg":{"market_ticker":"INXD-23SEP14-B4487","event_type":"price_level_structure_updated","price_level_structure":"deci_cent","price_ranges":[{"start":"0.0000","end":"1.0000","step":"0.0010"}]}}"#, "price_level_structure_updated"),
        (#"{"type":"market_lifecycle_v2","sid":13,"msg":{"market_ticker":"KXBTC-25APR30-T0915-B95000","event_type":"metadata_updated","strike_type":"between","floor_strike":95000,"cap_strike":95250}}"#, "metadata_updated"),
        (#"{"type":"market_lifecycle_v2","sid":1,"msg":{"market_ticker":"KXA-26NOV25-T1","event_type":"determined","result":"yes","determination_ts":1795600060,"settlement_value":"1.0000"}}"#, "determined"),
        (#"{"type":"market_lifecycle_v2","sid":1,"msg":{"market_ticker":"KXA-26NOV25-T1","event_type":"deactivated","is_deactivated":true}}"#, "deactivated"),
    ])
    func marketMessages(text: String, eventType: String) throws {
        guard case .lifecycle(let type, _, let msg) = try LiveMessage.decode(text) else { Issue.record("not lifecycle"); return }
        let notice = try LifecycleNotice.from(type: type, msg: msg, receivedAt: t0)
        #expect(notice.eventType == eventType)
        #expect(notice.subject.hasPrefix("ssmd.lifecycle.market.\(eventType)."))
        #expect(notice.eventTicker == nil)
    }

    @Test func eventLifecycleAndFeeUpdate() throws {
        let event = #"{"type":"event_lifecycle","sid":5,"msg":{"event_ticker":"KXQUICKSETTLE-26JAN25H2150","exchange_index":0,"title":"What will 1+1 equal on Jan 25 at 21:50?","subtitle":"Jan 25 at 21:50","collateral_return_type":"MECNET","series_ticker":"KXQUICKSETTLE"}}"#
        guard case .lifecycle(let type, _, let msg) = try LiveMessage.decode(event) else { Issue.record("not lifecycle"); return }
        let n = try LifecycleNotice.from(type: type, msg: msg, receivedAt: t0)
        #expect(n.eventTicker == "KXQUICKSETTLE-26JAN25H2150" && n.seriesTicker == "KXQUICKSETTLE" && n.marketTicker == nil)
        #expect(n.subject == "ssmd.lifecycle.event.KXQUICKSETTLE-26JAN25H2150")

        let fee = #"{"type":"event_fee_update","sid":5,"msg":{"event_ticker":"KXBTCD-26MAY2018","fee_type_override":null,"fee_multiplier_override":null}}"#
        guard case .lifecycle(let t2, _, let m2) = try LiveMessage.decode(fee) else { Issue.record("not lifecycle"); return }
        let f = try LifecycleNotice.from(type: t2, msg: m2, receivedAt: t0)
        #expect(f.type == "event_fee_update" && f.eventTicker == "KXBTCD-26MAY2018")
    }

    @Test func sameMessageSameIDDifferentMessageDifferentID() throws {
        let a = #"{"type":"market_lifecycle_v2","sid":1,"msg":{"market_ticker":"M","event_type":"settled","settled_ts":1}}"#
        let b = #"{"sid":7,"msg":{"settled_ts":1,"event_type":"settled","market_ticker":"M"},"type":"market_lifecycle_v2"}"#
        let c = #"{"type":"market_lifecycle_v2","sid":1,"msg":{"market_ticker":"M","event_type":"settled","settled_ts":2}}"#
        func notice(_ s: String, _ at: Timestamp) throws -> LifecycleNotice {
            guard case .lifecycle(let type, _, let msg) = try LiveMessage.decode(s) else { throw LiveDecodingError(reason: "x", excerpt: s) }
            return try LifecycleNotice.from(type: type, msg: msg, receivedAt: at)
        }
        // Two listeners receive the same message at different times on different sids: one id.
        #expect(try notice(a, t0).messageID == notice(b, Timestamp(microsecondsSinceEpoch: t0.microsecondsSinceEpoch + 5000)).messageID)
        #expect(try notice(a, t0).messageID != notice(c, t0).messageID)
    }

    @Test func unknownTypeIsReportedNotFatal() throws {
        #expect(try LiveMessage.decode(#"{"type":"orderbook_snapshot","sid":2,"msg":{}}"#) == .other(type: "orderbook_snapshot"))
    }

    @Test(arguments: ["", "not json", "[1,2]", #"{"sid":1}"#, #"{"type":5}"#, #"{"type":"market_lifecycle_v2","sid":1}"#,
                      #"{"type":"subscribed","msg":{"channel":"x"}}"#])
    func malformedFramesAreErrors(text: String) {
        #expect(throws: LiveDecodingError.self) { try LiveMessage.decode(text) }
    }

    @Test func aMarketMessageWithoutTickerOrTypeIsRefused() throws {
        for msg: [String: JSONValue] in [["event_type": .string("settled")], ["market_ticker": .string("M")],
                                         ["market_ticker": .string(""), "event_type": .string("settled")]] {
            #expect(throws: LiveDecodingError.self) { try LifecycleNotice.from(type: "market_lifecycle_v2", msg: msg, receivedAt: t0) }
        }
        #expect(throws: LiveDecodingError.self) { try LifecycleNotice.from(type: "event_lifecycle", msg: ["title": .string("x")], receivedAt: t0) }
    }

    @Test func oddTickersMakeValidSubjects() throws {
        let n = try LifecycleNotice.from(type: "market_lifecycle_v2",
                                         msg: ["market_ticker": .string("A.B *>C"), "event_type": .string("settled")], receivedAt: t0)
        let tokens = n.subject.split(separator: ".", omittingEmptySubsequences: false)
        #expect(tokens.count == 5, "\(n.subject)")
        #expect(!n.subject.contains(" ") && !n.subject.contains("*") && !n.subject.contains(">"))
    }

    @Test func webSocketURLFromTheExchangeURL() {
        #expect(LiveEndpoint.webSocketURL(exchangeURL: "https://api.elections.kalshi.com/trade-api/v2") == "wss://api.elections.kalshi.com/trade-api/ws/v2")
        #expect(LiveEndpoint.webSocketURL(exchangeURL: "http://127.0.0.1:8123/trade-api/v2") == "ws://127.0.0.1:8123/trade-api/ws/v2")
        #expect(LiveEndpoint.webSocketURL(exchangeURL: "https://demo-api.kalshi.co/trade-api/v2/") == "wss://demo-api.kalshi.co/trade-api/ws/v2")
        #expect(LiveEndpoint.webSocketURL(exchangeURL: "ftp://x/trade-api/v2") == nil)
        #expect(LiveEndpoint.webSocketURL(exchangeURL: "not a url") == nil)
        #expect(LiveEndpoint.signedPath(of: "wss://api.elections.kalshi.com/trade-api/ws/v2") == "/trade-api/ws/v2")
        #expect(LiveEndpoint.httpURL(of: "wss://h/trade-api/ws/v2") == "https://h/trade-api/ws/v2")
        #expect(LiveEndpoint.httpURL(of: "ws://127.0.0.1:5/trade-api/ws/v2") == "http://127.0.0.1:5/trade-api/ws/v2")
    }
}
