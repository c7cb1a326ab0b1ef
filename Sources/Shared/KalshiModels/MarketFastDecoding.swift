import Foundation
import SSMDCore

/// An exchange market object read in one pass over its bytes, without `JSONDecoder`'s keyed
/// containers (a quarter of a cold start's CPU went to `Market.init(from:)`).
///
/// It accepts only the shape the exchange sends today — string prices, counts and strikes,
/// RFC 3339 strings (or "") for times, an integer `settlement_timer_seconds`, distinct keys,
/// legacy integer fields as integers, strikes as numbers (as documented) or strings — and
/// returns nil for anything else: a number inside `custom_strike`, a field of an unexpected type, malformed JSON. The caller then
/// decodes with `Market`'s `Decodable`, which accepts it or says what is wrong. For what it
/// accepts, the market equals the `Decodable` one (tests check recorded exchange data and
/// mutations of it). Unknown members are skipped after a syntax check.
enum MarketFastDecoding {
    typealias Token = JSONReader.Token
    /// Sets one field from its value; false for "not sure" (let `Decodable` decide).
    typealias Setter = (inout Market, Token, UnsafeBufferPointer<UInt8>) -> Bool

    static func decode(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Market? {
        var r = JSONReader(b, start: range.lowerBound, end: range.upperBound)
        var m = Market(ticker: "", eventTicker: "", status: "")
        var seen = Set<String>()
        var legacyValues: [(Legacy, Token)] = []
        guard r.object(onKey: { r, key in
            guard seen.insert(key).inserted, let value = r.token(depth: 2) else { return false }
            if let set = setters[key] { return set(&m, value, b) }
            if let legacy = legacy[key] { legacyValues.append((legacy, value)) }
            return true
        }) else { return nil }
        r.skipSpace()
        guard r.i == range.upperBound, seen.contains("ticker"), seen.contains("event_ticker"), seen.contains("status") else { return nil }
        // A legacy integer field counts only where its `*_dollars` / `*_fp` field is absent
        // or "" (then a plain integer or null is read here; anything else is Decodable's).
        for (legacy, value) in legacyValues where m[keyPath: legacy.field] == nil {
            switch value {
            case .null: continue
            case .number(let range):
                guard let n = Int64(String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self)) else { return nil }
                m[keyPath: legacy.field] = legacy.cents ? FixedPoint(cents: n) : FixedPoint(count: n)
            default: return nil
            }
        }
        return m
    }

    /// A legacy integer field (removed by the exchange in March 2026, still in older
    /// recordings beside the new ones): which field it stands in for, and in what unit.
    struct Legacy {
        let field: WritableKeyPath<Market, FixedPoint?>
        let cents: Bool
    }

    nonisolated(unsafe) static let legacy: [String: Legacy] = [
        Keys.legacyYesBid.rawValue: Legacy(field: \.yesBid, cents: true), Keys.legacyYesAsk.rawValue: Legacy(field: \.yesAsk, cents: true),
        Keys.legacyNoBid.rawValue: Legacy(field: \.noBid, cents: true), Keys.legacyNoAsk.rawValue: Legacy(field: \.noAsk, cents: true),
        Keys.legacyLastPrice.rawValue: Legacy(field: \.lastPrice, cents: true),
        Keys.legacyNotional.rawValue: Legacy(field: \.notionalValue, cents: true),
        Keys.legacySettlementValue.rawValue: Legacy(field: \.settlementValue, cents: true),
        Keys.legacyVolume.rawValue: Legacy(field: \.volume, cents: false), Keys.legacyVolume24h.rawValue: Legacy(field: \.volume24h, cents: false),
        Keys.legacyOpenInterest.rawValue: Legacy(field: \.openInterest, cents: false),
    ]

    typealias Keys = Market.CodingKeys

    /// Built once, never mutated (its closures capture only key paths).
    nonisolated(unsafe) static let setters: [String: Setter] = {
        var out: [String: Setter] = [:]
        func required(_ k: Keys, _ p: WritableKeyPath<Market, String>) {
            out[k.rawValue] = { m, v, _ in
                guard case .string(let s) = v else { return false }
                m[keyPath: p] = s
                return true
            }
        }
        func text(_ k: Keys, _ p: WritableKeyPath<Market, String?>) {
            out[k.rawValue] = { m, v, _ in
                switch v {
                case .null: return true
                case .string(let s): m[keyPath: p] = s; return true
                default: return false
                }
            }
        }
        func time(_ k: Keys, _ p: WritableKeyPath<Market, Timestamp?>) {
            out[k.rawValue] = { m, v, _ in
                switch v {
                case .null: return true
                case .string(let s):
                    if s.isEmpty { return true }
                    guard let t = Timestamp(iso8601: s) else { return false }
                    m[keyPath: p] = t
                    return true
                default: return false
                }
            }
        }
        /// Prices, counts and (string) strikes: "" is absent.
        func fixed(_ k: Keys, _ p: WritableKeyPath<Market, FixedPoint?>) {
            out[k.rawValue] = { m, v, _ in
                switch v {
                case .null: return true
                case .string(let s):
                    if s.isEmpty { return true }
                    guard let d = FixedPoint(s) else { return false }
                    m[keyPath: p] = d
                    return true
                default: return false
                }
            }
        }
        /// Strikes: the exchange documents them as numbers (older responses sent strings).
        func strike(_ k: Keys, _ p: WritableKeyPath<Market, FixedPoint?>) {
            out[k.rawValue] = { m, v, b in
                switch v {
                case .null: return true
                case .string(let s):
                    if s.isEmpty { return true }
                    guard let d = FixedPoint(s) else { return false }
                    m[keyPath: p] = d
                    return true
                case .number(let range):
                    // As Decodable reads it: the Double, then its shortest text. An
                    // out-of-range number is Decodable's to refuse.
                    guard let d = Double(String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self)), d.isFinite else { return false }
                    m[keyPath: p] = FixedPoint(number: d)
                    return true
                default: return false
                }
            }
        }
        func bool(_ k: Keys, _ p: WritableKeyPath<Market, Bool?>) {
            out[k.rawValue] = { m, v, _ in
                switch v {
                case .null: return true
                case .bool(let x): m[keyPath: p] = x; return true
                default: return false
                }
            }
        }
        func int(_ k: Keys, _ p: WritableKeyPath<Market, Int64?>) {
            out[k.rawValue] = { m, v, b in
                switch v {
                case .null: return true
                case .number(let range):
                    // Plain integers only; fractions and exponents are Decodable's.
                    guard let n = Int64(String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self)) else { return false }
                    m[keyPath: p] = n
                    return true
                default: return false
                }
            }
        }
        func json(_ k: Keys, _ p: WritableKeyPath<Market, JSONValue?>) {
            out[k.rawValue] = { m, v, b in
                switch v {
                case .null: return true
                case .string(let s): m[keyPath: p] = .string(s); return true
                case .bool(let x): m[keyPath: p] = .bool(x); return true
                case .number: return false
                case .composite(let range):
                    var r = JSONReader(b, start: range.lowerBound, end: range.upperBound)
                    guard let value = jsonValue(&r, depth: 2) else { return false }
                    m[keyPath: p] = value
                    return true
                }
            }
        }
        required(.ticker, \.ticker); required(.eventTicker, \.eventTicker); required(.status, \.status)
        for (k, p) in [(Keys.marketType, \Market.marketType), (.title, \.title), (.subtitle, \.subtitle),
                       (.yesSubTitle, \.yesSubTitle), (.noSubTitle, \.noSubTitle), (.result, \.result),
                       (.strikeType, \.strikeType), (.rulesPrimary, \.rulesPrimary), (.rulesSecondary, \.rulesSecondary),
                       (.mveCollectionTicker, \.mveCollectionTicker), (.priceLevelStructure, \.priceLevelStructure),
                       (.earlyCloseCondition, \.earlyCloseCondition), (.expirationValue, \.expirationValue),
                       (.functionalStrike, \.functionalStrike), (.primaryParticipantKey, \.primaryParticipantKey)] { text(k, p) }
        for (k, p) in [(Keys.createdTime, \Market.createdTime), (.updatedTime, \.updatedTime), (.openTime, \.openTime),
                       (.closeTime, \.closeTime), (.expectedExpirationTime, \.expectedExpirationTime),
                       (.latestExpirationTime, \.latestExpirationTime), (.settlementTs, \.settlementTs),
                       (.expirationTime, \.expirationTime), (.occurrenceDatetime, \.occurrenceDatetime),
                       (.feeWaiverExpirationTime, \.feeWaiverExpirationTime)] { time(k, p) }
        strike(.floorStrike, \.floorStrike); strike(.capStrike, \.capStrike)
        for (k, p) in [(Keys.yesBid, \Market.yesBid),
                       (.yesAsk, \.yesAsk), (.noBid, \.noBid), (.noAsk, \.noAsk), (.lastPrice, \.lastPrice),
                       (.notionalValue, \.notionalValue), (.settlementValue, \.settlementValue), (.volume, \.volume),
                       (.volume24h, \.volume24h), (.openInterest, \.openInterest)] { fixed(k, p) }
        bool(.canCloseEarly, \.canCloseEarly); bool(.isProvisional, \.isProvisional)
        int(.settlementTimerSeconds, \.settlementTimerSeconds)
        json(.customStrike, \.customStrike); json(.priceRanges, \.priceRanges)
        return out
    }()

    /// An object or array of strings, booleans and nulls (numbers are Decodable's: its
    /// `Double` parsing is the reference); nil for anything else.
    static func jsonValue(_ r: inout JSONReader, depth: Int) -> JSONValue? {
        r.skipSpace()
        switch r.peek {
        case UInt8(ascii: "{"):
            var object: [String: JSONValue] = [:]
            guard r.object(depth: depth, onKey: { r, key in
                guard object[key] == nil, let v = jsonValue(&r, depth: depth + 1) else { return false }
                object[key] = v
                return true
            }) else { return nil }
            return .object(object)
        case UInt8(ascii: "["):
            var array: [JSONValue] = []
            guard r.array(depth: depth, onElement: { r in
                guard let v = jsonValue(&r, depth: depth + 1) else { return false }
                array.append(v)
                return true
            }) else { return nil }
            return .array(array)
        default:
            switch r.token(depth: depth) {
            case .null?: return .null
            case .string(let s)?: return .string(s)
            case .bool(let x)?: return .bool(x)
            default: return nil
            }
        }
    }
}

/// An exchange event object in one pass, its nested markets by ``MarketFastDecoding``: an
/// events page with nested markets is mostly markets, and `JSONDecoder` indexed every byte
/// of them even when asked for the event's own fields only (50–150 ms a page of 100 events).
/// Same contract as the market's: today's shape or nil, and for what it accepts the event
/// equals the `Decodable` one.
enum EventFastDecoding {
    typealias Keys = Event.CodingKeys

    static func decode(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Event? {
        var r = JSONReader(b, start: range.lowerBound, end: range.upperBound)
        var e = Event(ticker: "", seriesTicker: "")
        var seen = Set<String>()
        guard r.object(onKey: { r, key in
            guard seen.insert(key).inserted else { return false }
            if key == Keys.markets.rawValue { return markets(&r, into: &e) }
            guard let value = r.token(depth: 2) else { return false }
            switch (key, value) {
            case (_, .null) where key != Keys.ticker.rawValue && key != Keys.seriesTicker.rawValue: return true
            case (Keys.ticker.rawValue, .string(let s)): e.ticker = s
            case (Keys.seriesTicker.rawValue, .string(let s)): e.seriesTicker = s
            case (Keys.title.rawValue, .string(let s)): e.title = s
            case (Keys.subTitle.rawValue, .string(let s)): e.subTitle = s
            case (Keys.category.rawValue, .string(let s)): e.category = s
            case (Keys.strikePeriod.rawValue, .string(let s)): e.strikePeriod = s.isEmpty ? nil : s
            case (Keys.collateralReturnType.rawValue, .string(let s)): e.collateralReturnType = s
            case (Keys.mutuallyExclusive.rawValue, .bool(let x)): e.mutuallyExclusive = x
            case (Keys.strikeDate.rawValue, .string(let s)):
                guard s.isEmpty || Timestamp(iso8601: s) != nil else { return false }
                e.strikeDate = Timestamp(iso8601: s)
            case (Keys.lastUpdated.rawValue, .string(let s)):
                guard s.isEmpty || Timestamp(iso8601: s) != nil else { return false }
                e.lastUpdated = Timestamp(iso8601: s)
            case (Keys.ticker.rawValue, _), (Keys.seriesTicker.rawValue, _), (Keys.title.rawValue, _), (Keys.subTitle.rawValue, _),
                 (Keys.category.rawValue, _), (Keys.strikePeriod.rawValue, _), (Keys.collateralReturnType.rawValue, _),
                 (Keys.mutuallyExclusive.rawValue, _), (Keys.strikeDate.rawValue, _), (Keys.lastUpdated.rawValue, _):
                return false  // a known field of an unexpected type: Decodable's to name
            default:
                break  // unknown: skipped
            }
            return true
        }) else { return nil }
        r.skipSpace()
        guard r.i == range.upperBound, seen.contains(Keys.ticker.rawValue), seen.contains(Keys.seriesTicker.rawValue) else { return nil }
        return e
    }

    /// `"markets"`: null (absent) or an array of markets each read fast.
    static func markets(_ r: inout JSONReader, into e: inout Event) -> Bool {
        r.skipSpace()
        if r.literal("null") { return true }
        var markets: [Market] = []
        let ok = r.array(depth: 2) { r in
            r.skipSpace()
            let start = r.i
            guard r.skipValue(depth: 3), let m = MarketFastDecoding.decode(r.b, start..<r.i) else { return false }
            markets.append(m)
            return true
        }
        e.markets = markets
        return ok
    }
}
