import Foundation
import KalshiModels
import SSMDCore
import WireContract

/// A message for the writer as a subject and bytes: what `DecodedBatch` reads, and what the
/// writer's process tests publish (as NATS messages) — without depending on a NATS client.
public struct PayloadMessage: Sendable {
    public var subject: String
    public var data: [UInt8]
    public init(subject: String, data: [UInt8]) {
        self.subject = subject
        self.data = data
    }
}

/// 2026-01-12T22:08:10.446961Z plus `seconds`.
public func time(_ seconds: Int) -> Timestamp {
    Timestamp(microsecondsSinceEpoch: 1_768_255_690_446_961 + Int64(seconds) * 1_000_000)
}

/// Payloads written by hand (fast even in a debug build, and free to be wrong on purpose).
public enum Payload {
    public static func market(_ ticker: String, event: String, series: String = "KXTEST", tag: String = "Basketball",
                              status: String = "active", yesBid: String = "0.5600", updated: Int = 0, fetched: Int = 0,
                              title: String = "A market", floorStrike: String = "101.5",
                              customStrike: String = #"{"team":"A"}"#) -> PayloadMessage {
        let json = """
            {"schema":1,"kind":"market","fetched_at":"\(time(fetched).iso8601)","tag":"\(tag)","series_ticker":"\(series)",\
            "market":{"ticker":"\(ticker)","event_ticker":"\(event)","status":"\(status)","market_type":"binary",\
            "title":"\(title)","yes_sub_title":"Yes","no_sub_title":"No","result":"",\
            "created_time":"\(time(-86_400).iso8601)","updated_time":"\(time(updated).iso8601)",\
            "open_time":"\(time(-3_600).iso8601)","close_time":"\(time(86_400).iso8601)",\
            "can_close_early":true,"strike_type":"greater","floor_strike":"\(floorStrike)","custom_strike":\(customStrike),\
            "rules_primary":"If it happens, yes.","yes_bid_dollars":"\(yesBid)","yes_ask_dollars":"0.5800",\
            "no_bid_dollars":"0.4200","no_ask_dollars":"0.4400","last_price_dollars":"0.5700",\
            "volume_fp":"10.00","volume_24h_fp":"2.00","open_interest_fp":"7.00","new_field_from_the_future":[1,2]}}
            """
        return PayloadMessage(subject: Subjects.market(tag: tag, series: series, market: ticker), data: Array(json.utf8))
    }

    public static func series(_ ticker: String, category: String, fetched: Int, title: String? = nil) -> PayloadMessage {
        let m = SeriesMessage(fetchedAt: time(fetched), isGame: false,
                              series: Series(ticker: ticker, title: title ?? "Series \(ticker)", category: category, tags: [category]))
        return PayloadMessage(subject: Subjects.series(ticker), data: try! MessageCodec.encode(m))
    }

    public static func catalog(_ category: String, _ tickers: [String], fetched: Int) -> PayloadMessage {
        let m = CatalogMessage(fetchedAt: time(fetched), category: category, seriesTickers: tickers)
        return PayloadMessage(subject: Subjects.catalog(category: category), data: try! MessageCodec.encode(m))
    }
}

/// SplitMix64: reproducible test randomness.
public struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
