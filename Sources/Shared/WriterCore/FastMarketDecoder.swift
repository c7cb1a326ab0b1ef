import Foundation
import SSMDCore
import SecmasterSchema
import WireContract

/// The writer's hot path: a `market` payload straight to a ``MarketRow`` in one pass over
/// the bytes, without Foundation's `JSONDecoder` (which costs more than PostgreSQL's whole
/// upsert of the row).
///
/// It accepts only the current, well-formed shape — strict RFC 8259 JSON, schema 1, kind
/// `market`, string prices and counts, RFC 3339 strings for times — and returns nil for
/// anything else (legacy integer fields, numeric strikes, a duplicate key, a field of an
/// unexpected type, invalid UTF-8 …). The caller then decodes the message with the reference
/// decoder (`MarketMessage`'s `Decodable`), which either accepts it or says why not. For every
/// payload it accepts, the row equals `MarketRow(reference-decoded message)`; the writer's
/// tests check that on generated and recorded exchange data.
public enum FastMarketDecoder {
    public static func decode(_ bytes: [UInt8]) -> MarketRow? {
        bytes.withUnsafeBufferPointer { buffer -> MarketRow? in
            var p = Parser(buffer)
            return p.message()
        }
    }

    // Market fields (bit positions in the seen-mask; a repeated key means "not sure").
    enum Field: Int, CaseIterable {
        case ticker, eventTicker, marketType, title, subtitle, yesSubTitle, noSubTitle, status, result
        case createdTime, updatedTime, openTime, closeTime, expectedExpirationTime, latestExpirationTime, settlementTs
        case settlementTimerSeconds, canCloseEarly, strikeType, floorStrike, capStrike, customStrike
        case rulesPrimary, rulesSecondary, yesBid, yesAsk, noBid, noAsk, lastPrice, notionalValue, settlementValue
        case volume, volume24h, openInterest, mveCollectionTicker
        case legacy  // any legacy integer field: let the reference decoder handle the fallback

        static let byName: [String: Field] = [
            "ticker": .ticker, "event_ticker": .eventTicker, "market_type": .marketType, "title": .title,
            "subtitle": .subtitle, "yes_sub_title": .yesSubTitle, "no_sub_title": .noSubTitle, "status": .status,
            "result": .result, "created_time": .createdTime, "updated_time": .updatedTime, "open_time": .openTime,
            "close_time": .closeTime, "expected_expiration_time": .expectedExpirationTime,
            "latest_expiration_time": .latestExpirationTime, "settlement_ts": .settlementTs,
            "settlement_timer_seconds": .settlementTimerSeconds, "can_close_early": .canCloseEarly,
            "strike_type": .strikeType, "floor_strike": .floorStrike, "cap_strike": .capStrike,
            "custom_strike": .customStrike, "rules_primary": .rulesPrimary, "rules_secondary": .rulesSecondary,
            "yes_bid_dollars": .yesBid, "yes_ask_dollars": .yesAsk, "no_bid_dollars": .noBid, "no_ask_dollars": .noAsk,
            "last_price_dollars": .lastPrice, "notional_value_dollars": .notionalValue,
            "settlement_value_dollars": .settlementValue, "volume_fp": .volume, "volume_24h_fp": .volume24h,
            "open_interest_fp": .openInterest, "mve_collection_ticker": .mveCollectionTicker,
            "yes_bid": .legacy, "yes_ask": .legacy, "no_bid": .legacy, "no_ask": .legacy, "last_price": .legacy,
            "notional_value": .legacy, "settlement_value": .legacy, "volume": .legacy, "volume_24h": .legacy,
            "open_interest": .legacy,
        ]
    }

    /// A JSON value as the hot path needs it.
    enum Value {
        case null
        case string(String)
        case bool(Bool)
        case number
        /// An object or array: its raw text, `start..<end` in the buffer.
        case composite(Range<Int>)
    }

    struct Parser {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0

        init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

        // MARK: The message

        mutating func message() -> MarketRow? {
            var schemaOK = false, kindOK = false
            var fetchedAt: Timestamp?, tag: String?, series: String?
            var market: MarketRow?
            var seen = Set<String>()
            guard object(onKey: { p, key in
                guard seen.insert(key).inserted else { return false }
                switch key {
                case "schema":
                    guard let n = p.integer() else { return false }
                    schemaOK = n == Int64(MessageSchema.version)
                case "kind":
                    guard case .string(let s)? = p.value() else { return false }
                    kindOK = s == MessageKind.market.rawValue
                case "fetched_at":
                    guard case .string(let s)? = p.value(), let t = Timestamp(iso8601: s) else { return false }
                    fetchedAt = t
                case "tag":
                    guard case .string(let s)? = p.value() else { return false }
                    tag = s
                case "series_ticker":
                    guard case .string(let s)? = p.value() else { return false }
                    series = s
                case "market":
                    market = p.marketObject()
                    return market != nil
                default:
                    return p.value() != nil
                }
                return true
            }) else { return nil }
            skipSpace()
            guard i == b.count, schemaOK, kindOK, let fetchedAt, tag != nil, let series, var market else { return nil }
            market.seriesTicker = series
            market.fetchedAt = fetchedAt
            return market
        }

        mutating func marketObject() -> MarketRow? {
            var row = MarketRow(ticker: "", eventTicker: "", seriesTicker: "", status: "", fetchedAt: Timestamp(microsecondsSinceEpoch: 0))
            var seen: UInt64 = 0
            guard object(onKey: { p, key in
                guard let field = Field.byName[key] else { return p.value() != nil }
                let bit: UInt64 = 1 << UInt64(field.rawValue)
                if field == .legacy || seen & bit != 0 { return false }
                seen |= bit
                guard let v = p.value() else { return false }
                return p.assign(field, v, to: &row)
            }) else { return nil }
            let required: UInt64 = (1 << UInt64(Field.ticker.rawValue)) | (1 << UInt64(Field.eventTicker.rawValue))
                | (1 << UInt64(Field.status.rawValue))
            return seen & required == required ? row : nil
        }

        /// Stores one field the way the reference decoder would; false = not sure.
        func assign(_ field: Field, _ v: Value, to row: inout MarketRow) -> Bool {
            func text() -> String?? {  // .some(nil) = null; nil = wrong type
                switch v {
                case .null: return .some(nil)
                case .string(let s): return .some(s)
                default: return nil
                }
            }
            func required() -> String? {
                if case .string(let s) = v { return s }
                return nil
            }
            func time() -> Timestamp?? {
                switch v {
                case .null: return .some(nil)
                case .string(let s):
                    if s.isEmpty { return .some(nil) }
                    guard let t = Timestamp(iso8601: s) else { return nil }
                    return .some(t)
                default: return nil
                }
            }
            /// Decimal strings (prices, counts, string strikes): "" and null are absent.
            func decimal() -> String?? {
                switch v {
                case .null: return .some(nil)
                case .string(let s):
                    if s.isEmpty { return .some(nil) }
                    guard let d = FixedPoint(s) else { return nil }
                    return .some(d.text)
                default: return nil  // numeric strikes, wrong types: the reference decoder decides
                }
            }
            switch field {
            case .ticker: guard let s = required() else { return false }; row.ticker = s
            case .eventTicker: guard let s = required() else { return false }; row.eventTicker = s
            case .status: guard let s = required() else { return false }; row.status = s
            case .marketType: guard let s = text() else { return false }; row.marketType = s
            case .title: guard let s = text() else { return false }; row.title = s
            case .subtitle: guard let s = text() else { return false }; row.subtitle = s
            case .yesSubTitle: guard let s = text() else { return false }; row.yesSubTitle = s
            case .noSubTitle: guard let s = text() else { return false }; row.noSubTitle = s
            case .result: guard let s = text() else { return false }; row.result = s
            case .strikeType: guard let s = text() else { return false }; row.strikeType = s
            case .rulesPrimary: guard let s = text() else { return false }; row.rulesPrimary = s
            case .rulesSecondary: guard let s = text() else { return false }; row.rulesSecondary = s
            case .mveCollectionTicker: guard text() != nil else { return false }
            case .createdTime: guard let t = time() else { return false }; row.createdTime = t
            case .updatedTime: guard let t = time() else { return false }; row.updatedTime = t
            case .openTime: guard let t = time() else { return false }; row.openTime = t
            case .closeTime: guard let t = time() else { return false }; row.closeTime = t
            case .expectedExpirationTime: guard let t = time() else { return false }; row.expectedExpirationTime = t
            case .latestExpirationTime: guard let t = time() else { return false }; row.latestExpirationTime = t
            case .settlementTs: guard let t = time() else { return false }; row.settlementTs = t
            case .settlementTimerSeconds:
                switch v { case .null, .number: break; default: return false }
            case .canCloseEarly:
                switch v {
                case .null: row.canCloseEarly = nil
                case .bool(let x): row.canCloseEarly = x
                default: return false
                }
            case .floorStrike: guard let d = decimal() else { return false }; row.floorStrike = d
            case .capStrike: guard let d = decimal() else { return false }; row.capStrike = d
            case .customStrike:
                switch v {
                case .null: row.customStrikeJSON = nil
                case .string(let s): row.customStrikeJSON = JSONValue.string(s).jsonText
                case .bool(let x): row.customStrikeJSON = x ? "true" : "false"
                case .number: return false
                case .composite(let range):
                    // Rare and small: the reference JSONValue gives the canonical text.
                    let raw = Data(UnsafeBufferPointer(rebasing: b[range]))
                    guard let value = try? JSONDecoder().decode(JSONValue.self, from: raw) else { return false }
                    row.customStrikeJSON = value.jsonText
                }
            case .yesBid: guard let d = decimal() else { return false }; row.yesBidDollars = d
            case .yesAsk: guard let d = decimal() else { return false }; row.yesAskDollars = d
            case .noBid: guard let d = decimal() else { return false }; row.noBidDollars = d
            case .noAsk: guard let d = decimal() else { return false }; row.noAskDollars = d
            case .lastPrice: guard let d = decimal() else { return false }; row.lastPriceDollars = d
            case .notionalValue: guard let d = decimal() else { return false }; row.notionalValueDollars = d
            case .settlementValue: guard let d = decimal() else { return false }; row.settlementValueDollars = d
            case .volume: guard let d = decimal() else { return false }; row.volumeFp = d
            case .volume24h: guard let d = decimal() else { return false }; row.volume24hFp = d
            case .openInterest: guard let d = decimal() else { return false }; row.openInterestFp = d
            case .legacy: return false
            }
            return true
        }

        // MARK: JSON

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        /// `{ "key": value, … }`; `onKey` must consume the value. False on any error.
        mutating func object(onKey: (inout Parser, String) -> Bool) -> Bool {
            skipSpace()
            guard i < b.count, b[i] == 0x7B else { return false }
            i += 1
            skipSpace()
            if i < b.count, b[i] == 0x7D { i += 1; return true }
            while true {
                skipSpace()
                guard let key = string() else { return false }
                skipSpace()
                guard i < b.count, b[i] == 0x3A else { return false }
                i += 1
                guard onKey(&self, key) else { return false }
                skipSpace()
                guard i < b.count else { return false }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x7D { i += 1; return true }
                return false
            }
        }

        mutating func value() -> Value? {
            skipSpace()
            guard i < b.count else { return nil }
            switch b[i] {
            case 0x22: return string().map(Value.string)
            case 0x7B, 0x5B:
                let start = i
                guard skipComposite() else { return nil }
                return .composite(start..<i)
            case 0x74: return literal("true") ? .bool(true) : nil
            case 0x66: return literal("false") ? .bool(false) : nil
            case 0x6E: return literal("null") ? .null : nil
            default: return number() ? .number : nil
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= b.count else { return false }
            let w = word.utf8Start
            for k in 0..<n where b[i + k] != w[k] { return false }
            i += n
            return true
        }

        /// A JSON integer that fits Int64 (for `schema`).
        mutating func integer() -> Int64? {
            skipSpace()
            let start = i
            guard number() else { return nil }
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            return Int64(text)
        }

        /// Validates a JSON number's grammar and steps over it.
        mutating func number() -> Bool {
            if i < b.count, b[i] == 0x2D { i += 1 }
            guard i < b.count else { return false }
            if b[i] == 0x30 { i += 1 } else if b[i] >= 0x31 && b[i] <= 0x39 { digits() } else { return false }
            if i < b.count, b[i] == 0x2E {
                i += 1
                guard i < b.count, isDigit(b[i]) else { return false }
                digits()
            }
            if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
                i += 1
                if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
                guard i < b.count, isDigit(b[i]) else { return false }
                digits()
            }
            return true
        }

        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        mutating func digits() { while i < b.count, isDigit(b[i]) { i += 1 } }

        /// Steps over an object or array (validating it).
        mutating func skipComposite() -> Bool {
            if b[i] == 0x7B { return object { p, _ in p.value() != nil } }
            i += 1  // [
            skipSpace()
            if i < b.count, b[i] == 0x5D { i += 1; return true }
            while true {
                guard value() != nil else { return false }
                skipSpace()
                guard i < b.count else { return false }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x5D { i += 1; return true }
                return false
            }
        }

        /// A JSON string (at `"`), unescaped; nil when malformed or not valid UTF-8.
        mutating func string() -> String? {
            guard i < b.count, b[i] == 0x22 else { return nil }
            i += 1
            let start = i
            while i < b.count {
                let c = b[i]
                if c == 0x22 {
                    let s = String(validating: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
                    i += 1
                    return s
                }
                if c == 0x5C { break }
                if c < 0x20 { return nil }
                i += 1
            }
            // Escapes: build the bytes.
            var out = Array(UnsafeBufferPointer(rebasing: b[start..<i]))
            while i < b.count {
                let c = b[i]
                if c == 0x22 {
                    i += 1
                    return String(validating: out, as: UTF8.self)
                }
                if c < 0x20 { return nil }
                if c != 0x5C { out.append(c); i += 1; continue }
                i += 1
                guard i < b.count else { return nil }
                let e = b[i]
                i += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    guard var scalar = hex4() else { return nil }
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard i + 1 < b.count, b[i] == 0x5C, b[i + 1] == 0x75 else { return nil }
                        i += 2
                        guard let low = hex4(), low >= 0xDC00 && low < 0xE000 else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        return nil
                    }
                    guard let u = Unicode.Scalar(scalar) else { return nil }
                    out.append(contentsOf: UTF8.encode(u)!)
                default: return nil
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard i + 4 <= b.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: return nil
                }
                v = v << 4 | UInt32(d)
                i += 1
            }
            return v
        }
    }
}
