import Foundation
import SSMDCore

/// An exchange market object read in one pass over its bytes, without `JSONDecoder`'s keyed
/// containers (a quarter of a cold start's CPU went to `Market.init(from:)`).
///
/// It accepts only the shapes the exchange sends — string prices and counts, strikes as
/// numbers (as documented) or strings, RFC 3339 strings (or "") for times, an integer
/// `settlement_timer_seconds`, legacy integer fields as integers, distinct keys — and
/// returns nil for anything else: a number inside `custom_strike`, a field of an unexpected
/// type, malformed JSON. The caller then decodes with `Market`'s `Decodable`, which accepts
/// it or says what is wrong. For what it accepts, the market equals the `Decodable` one
/// (tests check recorded exchange data and mutations of it). Fields are read as
/// ``MarketField`` describes them; unknown members are skipped after a syntax check.
enum MarketFastDecoding {
    typealias Token = JSONReader.Token

    static func decode(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Market? {
        var r = JSONReader(b, start: range.lowerBound, end: range.upperBound)
        var m = Market(ticker: "", eventTicker: "", status: "")
        var seen = Set<String>()
        var legacyValues: [(MarketField.Legacy, Token)] = []
        guard r.object(onKey: { r, key in
            guard seen.insert(key).inserted, let value = r.token(depth: 2) else { return false }
            if let field = fieldsByKey[key] { return field.read(value, into: &m, b) }
            if let legacy = legacyByKey[key] { legacyValues.append((legacy, value)) }
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

    static let fieldsByKey = Dictionary(uniqueKeysWithValues: Market.fields.map { ($0.key.rawValue, $0) })

    static let legacyByKey: [String: MarketField.Legacy] = Dictionary(uniqueKeysWithValues: Market.fields.compactMap { f in
        guard case .fixed(let p, let legacy?, let cents) = f.kind else { return nil }
        return (legacy.rawValue, MarketField.Legacy(field: p, cents: cents))
    })

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
                guard let t = time(s) else { return false }
                e.strikeDate = t
            case (Keys.lastUpdated.rawValue, .string(let s)):
                guard let t = time(s) else { return false }
                e.lastUpdated = t
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

    /// An RFC 3339 time, "" absent (`.some(nil)`); nil when it is neither.
    static func time(_ s: String) -> Timestamp?? {
        if s.isEmpty { return .some(nil) }
        return Timestamp(iso8601: s).map { .some($0) }
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

extension MarketField {
    /// A legacy integer field: the field it stands in for, and in what unit.
    struct Legacy: @unchecked Sendable {
        let field: WritableKeyPath<Market, FixedPoint?>
        let cents: Bool
    }

    /// Sets the field from its value as `decode(from:into:)` would; false for "not sure"
    /// (a type `Decodable` might still accept or must refuse: it decides).
    func read(_ v: JSONReader.Token, into m: inout Market, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self) }
        switch (kind, v) {
        case (.required(let p), .string(let s)): m[keyPath: p] = s
        case (.required, _): return false
        case (_, .null): return true
        case (.text(let p), .string(let s)): m[keyPath: p] = s
        case (.time(let p), .string(let s)):
            if s.isEmpty { return true }
            guard let t = Timestamp(iso8601: s) else { return false }
            m[keyPath: p] = t
        case (.fixed(let p, _, _), .string(let s)), (.strike(let p), .string(let s)):
            if s.isEmpty { return true }
            guard let d = FixedPoint(s) else { return false }
            m[keyPath: p] = d
        case (.strike(let p), .number(let range)):
            // As Decodable reads it: the Double, then its shortest text. An out-of-range
            // number is Decodable's to refuse.
            guard let d = Double(text(range)), d.isFinite else { return false }
            m[keyPath: p] = FixedPoint(number: d)
        case (.integer(let p), .number(let range)):
            // Plain integers only; fractions and exponents are Decodable's.
            guard let n = Int64(text(range)) else { return false }
            m[keyPath: p] = n
        case (.bool(let p), .bool(let x)): m[keyPath: p] = x
        case (.json(let p), .string(let s)): m[keyPath: p] = .string(s)
        case (.json(let p), .bool(let x)): m[keyPath: p] = .bool(x)
        case (.json(let p), .composite(let range)):
            var r = JSONReader(b, start: range.lowerBound, end: range.upperBound)
            guard let value = MarketFastDecoding.jsonValue(&r, depth: 2) else { return false }
            m[keyPath: p] = value
        default: return false
        }
        return true
    }
}
