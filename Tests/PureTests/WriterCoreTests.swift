import Foundation
import PureTestSupport
import Testing
import SecmasterSchema
import WireContract
import WriterCore

/// The writer's pure core: decoding, coalescing, catalog ordering, metrics. No servers.
@Suite struct WriterCoreTests {
    @Test func newestExchangeStateWinsWithinABatch() throws {
        let older = Payload.market("M", event: "E", status: "active", updated: 10, fetched: 50)
        let newer = Payload.market("M", event: "E", status: "closed", updated: 20, fetched: 20)
        let sameUpdateLaterFetch = Payload.market("M2", event: "E", status: "closed", updated: 5, fetched: 9)
        let sameUpdateEarlierFetch = Payload.market("M2", event: "E", status: "active", updated: 5, fetched: 8)
        for order in [[older, newer, sameUpdateEarlierFetch, sameUpdateLaterFetch],
                      [newer, older, sameUpdateLaterFetch, sameUpdateEarlierFetch]] {
            let batch = DecodedBatch(subjects: order.map(\.subject), payloads: order.map(\.data))
            #expect(batch.poison.isEmpty)
            #expect(batch.coalesced.messages == 4)
            let rows = batch.rows.markets
            #expect(rows.map(\.ticker) == ["M", "M2"])
            #expect(rows.map(\.status) == ["closed", "closed"])
        }
    }

    @Test func undecodableMessagesArePoisonWithAReason() {
        let subjects = ["ssmd.market.t.S.M", "ssmd.market.t.S.M2", "ssmd.series.S", "ssmd.other.x"]
        let payloads: [[UInt8]] = [Array("[]".utf8), Array(#"{"schema":7,"kind":"market"}"#.utf8),
                                   Array(#"{"schema":1,"kind":"series","fetched_at":"2026-01-12T00:00:00Z"}"#.utf8),
                                   Array("{}".utf8)]
        let batch = DecodedBatch(subjects: subjects, payloads: payloads)
        #expect(batch.coalesced.isEmpty)
        #expect(batch.poison.map(\.index) == [0, 1, 2, 3])
        #expect(batch.poison[1].reason.contains("unsupported schema 7"))
        #expect(batch.poison[2].reason.contains("is_game") || batch.poison[2].reason.contains("series"))
        #expect(batch.poison[3].reason.contains("no writer for subject"))
    }

    @Test func catalogDoesNotDecideForNewerSeriesInTheSameBatch() {
        let msgs = [Payload.series("A", category: "Sports", fetched: 5), Payload.series("B", category: "Sports", fetched: 15),
                    Payload.series("C", category: "Politics", fetched: 15),
                    Payload.catalog("Sports", ["X"], fetched: 8), Payload.catalog("Sports", ["Y"], fetched: 10),
                    Payload.catalog("Politics", [], fetched: 1)]
        let batch = DecodedBatch(subjects: msgs.map(\.subject), payloads: msgs.map(\.data))
        #expect(batch.catalogs == [CatalogUpdate(category: "Politics", listed: [], newer: ["C"], listedAt: time(1)),
                                   CatalogUpdate(category: "Sports", listed: ["Y"], newer: ["B"], listedAt: time(10))])
    }

    @Test func metricsCountBatchesLatencyAndPercentiles() {
        var m = WriterMetrics()
        for i in 1...100 {
            m.recordCommit(messages: i * 10, bytes: i * 1000, seconds: Double(i) / 1000,
                           series: UpsertCounts(), events: UpsertCounts(inserted: 1),
                           markets: UpsertCounts(inserted: i, updated: 1, unchanged: 2), deactivated: 0, reactivated: 1)
        }
        #expect(m.batches == 100)
        #expect(m.messages == 50_500)
        #expect(m.markets == UpsertCounts(inserted: 5050, updated: 100, unchanged: 200))
        #expect(m.rowsWritten == 5050 + 100 + 100)
        #expect(m.lastBatchMessages == 1000)
        #expect(m.recentCommitSeconds.quantile(0.5) == 0.05)
        #expect(m.recentCommitSeconds.quantile(0.99) == 0.099)
        #expect(m.commitSeconds.count == 100)
        #expect(m.commitSeconds.cumulative.last?.count == 100)
        #expect(m.commitSeconds.cumulative.first { $0.le == 0.01 }?.count == 10)
        #expect(m.batchSize.cumulative.first { $0.le == 500 }?.count == 50)
        let meta = m.logMetadata
        #expect(meta["commit_p50_ms"] == "50")
        #expect(meta["markets_inserted"] == "5050")
        #expect(meta["lag_pending"] == nil)
        m.consumerPending = 7
        #expect(m.logMetadata["lag_pending"] == "7")

        var window = WriterMetrics.RecentWindow(capacity: 3)
        for v in [5.0, 1, 2, 3] { window.append(v) }
        #expect(window.count == 3)
        #expect(window.quantile(1) == 3)
        #expect(window.quantile(0) == 1)
    }
}

/// The writer's one-pass market decoder against the reference `Decodable` path: whenever the
/// fast path accepts a payload, its row must equal the reference's; it may decline (nil),
/// never disagree.
@Suite(.ownThread) struct FastMarketDecoderTests {
    static func reference(_ data: [UInt8]) -> MarketRow? {
        (try? MessageCodec.decode(MarketMessage.self, from: data, subject: "ssmd.market.t.s.m")).map(MarketRow.init)
    }

    static func agree(_ data: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> MarketRow? {
        let fast = FastMarketDecoder.decode(data)
        if let fast {
            #expect(fast == reference(data), "fast and reference rows differ for \(String(decoding: data, as: UTF8.self).prefix(400))",
                    sourceLocation: sourceLocation)
        }
        return fast
    }

    @Test func acceptsTheCurrentShapeAndMatchesTheReference() {
        let variants: [PayloadMessage] = [
            Payload.market("KXA-1", event: "KXA"),
            Payload.market("KXA-T3.5", event: "KXA", status: "finalized", yesBid: "0.0100", updated: 77, fetched: 99,
                           title: #"Tab\there \"quoted\" \\ back\/slash \u00e9 \ud83d\ude80 nul\u0000"#),
            Payload.market("KXA-2", event: "KXA", title: "ünïcödé 🚀 raw", floorStrike: "-0.000001"),
            Payload.market("KXA-3", event: "KXA", customStrike: #"{"b":[1,2.5,{"c":null}],"a":"x","n":1e3,"t":true}"#),
            Payload.market("KXA-4", event: "KXA", customStrike: "null"),
            Payload.market("KXA-5", event: "KXA", customStrike: #""text""#),
            Payload.market("KXA-6", event: "KXA", customStrike: "[]"),
        ]
        for v in variants {
            #expect(Self.agree(v.data) != nil, "declined \(String(decoding: v.data, as: UTF8.self).prefix(200))")
        }
        // Nulls, empty strings and absent fields, with whitespace everywhere.
        let sparse = """
             { "schema" : 1 , "kind":"market","fetched_at":"2026-01-12T22:08:10.446961Z","tag":"T","series_ticker":"S",
              "market" : {"ticker":"M","event_ticker":"E","status":"active","title":null,"result":"","close_time":"",
              "settlement_ts":null,"floor_strike":"","cap_strike":null,"yes_bid_dollars":"","no_ask_dollars":null,
              "can_close_early":false,"settlement_timer_seconds":600,"extra":{"nested":[true,false,null,-0.5E+2]} } }
            """
        let row = Self.agree(Array(sparse.utf8))
        #expect(row?.title == nil && row?.result == "" && row?.closeTime == nil && row?.canCloseEarly == false)
        #expect(row?.settlementTimerSeconds == 600)
        // A fractional timer is the reference decoder's to judge (it reads it as absent).
        #expect(FastMarketDecoder.decode(Array(sparse.replacingOccurrences(of: ":600,", with: ":1.5,").utf8)) == nil)
    }

    @Test func declinesWhatOnlyTheReferenceShouldJudge() {
        let base = String(decoding: Payload.market("KXA-1", event: "KXA").data, as: UTF8.self)
        let declined = [
            base.replacingOccurrences(of: #""floor_strike":"101.5""#, with: #""floor_strike":101.5"#),  // numeric strike
            base.replacingOccurrences(of: #""open_interest_fp":"7.00""#, with: #""open_interest":7"#),  // legacy field
            base.replacingOccurrences(of: #""schema":1"#, with: #""schema":2"#),
            base.replacingOccurrences(of: #""kind":"market""#, with: #""kind":"event""#),
            base.replacingOccurrences(of: #""status":"active""#, with: #""status":"active","status":"closed""#),
            base.replacingOccurrences(of: #""yes_bid_dollars":"0.5600""#, with: #""yes_bid_dollars":0.56"#),
            base.replacingOccurrences(of: #""yes_bid_dollars":"0.5600""#, with: #""yes_bid_dollars":"56c""#),
            base.replacingOccurrences(of: #""close_time":""#, with: #""close_time":"tomorrow","x":""#),
            base.replacingOccurrences(of: #""status":"active","#, with: ""),
            base + " x",
        ]
        for text in declined {
            #expect(FastMarketDecoder.decode(Array(text.utf8)) == nil, "accepted \(text.prefix(300))")
            _ = Self.agree(Array(text.utf8))
        }
        #expect(FastMarketDecoder.decode([0xFF, 0xFE]) == nil)
        // Invalid UTF-8 inside a string.
        var bytes = Payload.market("KXA-1", event: "KXA", title: "AB").data
        let at = bytes.firstIndex(of: UInt8(ascii: "B"))!
        bytes[at] = 0xC3
        #expect(FastMarketDecoder.decode(bytes) == nil)
    }

    /// Every truncation and many single-byte corruptions: the fast path never accepts what
    /// the reference would decode differently.
    @Test func corruptedPayloadsNeverDisagree() {
        let data = Payload.market("KXA-T3.5", event: "KXA", title: #"esc \" \\ \u00e9"#, customStrike: #"{"a":[1,"x"]}"#).data
        for cut in 0..<data.count { _ = Self.agree(Array(data[..<cut])) }
        var rng = SeededRandom(seed: 99)
        let replacements: [UInt8] = Array(#"{}[]",:\ 0123456789.-+eEtfnul"#.utf8) + [0x00, 0x1F, 0x7F, 0xC3, 0xFF]
        for _ in 0..<3_000 {
            var mutated = data
            mutated[Int(rng.next() % UInt64(data.count))] = replacements[Int(rng.next() % UInt64(replacements.count))]
            _ = Self.agree(mutated)
        }
    }

    /// Real production markets (January 2026 recordings) in a market payload: as recorded
    /// (legacy integer fields: the fast path declines), and without the legacy fields
    /// (the fast path accepts and must match).
    @Test func recordedExchangeMarketsMatchTheReference() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("shared/kalshi/recorded-2026-01/markets_list_response.json")
        let dir = ProcessInfo.processInfo.environment["SSMD_SHARED_DIR"].map {
            URL(fileURLWithPath: $0).appendingPathComponent("kalshi/recorded-2026-01/markets_list_response.json")
        } ?? url
        guard let file = try? Data(contentsOf: dir) else {
            Issue.record("recorded markets not found at \(dir.path)")
            return
        }
        let root = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
        let response = try #require(root["response"] as? [String: Any])
        let markets = try #require(response["markets"] as? [[String: Any]])
        #expect(markets.count >= 5)
        let legacy = ["yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "notional_value", "settlement_value",
                      "volume", "volume_24h", "open_interest", "previous_yes_bid", "previous_yes_ask", "previous_price",
                      "liquidity", "tick_size", "risk_limit_cents"]
        var accepted = 0
        for market in markets {
            for stripped in [false, true] {
                var m = market
                if stripped { for k in legacy { m.removeValue(forKey: k) } }
                let inner = try JSONSerialization.data(withJSONObject: m)
                let payload = Array(#"{"schema":1,"kind":"market","fetched_at":"2026-01-12T22:08:10.446961Z","tag":"T","series_ticker":"S","market":"#.utf8)
                    + Array(inner) + Array("}".utf8)
                #expect(Self.reference(payload) != nil)
                if Self.agree(payload) != nil { accepted += 1 }
            }
        }
        #expect(accepted >= markets.count, "the fast path declined recorded markets without legacy fields")
    }
}
