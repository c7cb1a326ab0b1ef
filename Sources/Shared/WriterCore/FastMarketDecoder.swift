import Foundation
import KalshiModels
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

    /// The market object's keys, by the position of their column in `MarketRow.columns`.
    static let columnByKey: [String: Int] = {
        var out: [String: Int] = [:]
        for (i, c) in MarketRow.columns.enumerated() { if let key = c.exchangeKey { out[key] = i } }
        precondition(MarketRow.columns.count <= 64, "the seen-mask holds 64 columns")
        return out
    }()

    /// Keys the reference decoder reads but the row does not keep: checked for their type only.
    static let checkedOnly: [String: ColumnKind] = ["mve_collection_ticker": .text]

    typealias Value = JSONReader.Token

    /// The payload's structure on a ``JSONReader``.
    struct Parser {
        var r: JSONReader
        var b: UnsafeBufferPointer<UInt8> { r.b }

        init(_ b: UnsafeBufferPointer<UInt8>) { r = JSONReader(b) }

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
            var row = MarketRow.empty(fetchedAt: Timestamp(microsecondsSinceEpoch: 0))
            var seen: UInt64 = 0
            guard object(onKey: { p, key in
                if let index = FastMarketDecoder.columnByKey[key] {
                    let bit: UInt64 = 1 << UInt64(index)
                    if seen & bit != 0 { return false }
                    seen |= bit
                    guard let v = p.value() else { return false }
                    let column = MarketRow.columns[index]
                    guard let value = p.convert(v, to: column.kind, required: column.isRequired) else { return false }
                    return column.set(value, in: &row)
                }
                if let kind = FastMarketDecoder.checkedOnly[key] {
                    guard let v = p.value() else { return false }
                    return p.convert(v, to: kind, required: false) != nil
                }
                // A legacy integer field: let the reference decoder handle its fallback.
                if Market.legacyKeys.contains(key) { return false }
                return p.value() != nil
            }) else { return nil }
            let required = MarketRow.columns.indices.filter { MarketRow.columns[$0].isRequired && MarketRow.columns[$0].exchangeKey != nil }
                .reduce(UInt64(0)) { $0 | (1 << UInt64($1)) }
            return seen & required == required ? row : nil
        }

        /// A value as the reference decoder would read it into a column of `kind`: `.some(nil)`
        /// for absent (null, and "" where the reference treats it so), nil for "not sure" (a
        /// type the reference decoder might still accept, or reject).
        func convert(_ v: Value, to kind: ColumnKind, required: Bool) -> ColumnValue?? {
            if case .null = v { return required ? nil : .some(nil) }
            switch (kind, v) {
            case (.text, .string(let s)):
                return .some(.text(s))
            case (.decimal, .string(let s)):
                // Decimal strings (prices, counts, string strikes): "" is absent. Numeric
                // strikes go to the reference decoder.
                if s.isEmpty { return .some(nil) }
                guard let d = FixedPoint(s) else { return nil }
                return .some(.text(d.text))
            case (.timestamp, .string(let s)):
                if s.isEmpty { return .some(nil) }
                guard let t = Timestamp(iso8601: s) else { return nil }
                return .some(.timestamp(t))
            case (.bool, .bool(let b)):
                return .some(.bool(b))
            case (.integer, .number(let range)):
                // Plain integers only; fractions and exponents go to the reference decoder.
                let text = String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self)
                guard let n = Int64(text) else { return nil }
                return .some(.integer(n))
            case (.json, .string(let s)):
                return .some(.text(JSONValue.string(s).jsonText))
            case (.json, .bool(let x)):
                return .some(.text(x ? "true" : "false"))
            case (.json, .composite(let range)):
                // Rare and small: the reference JSONValue gives the canonical text.
                let raw = Data(UnsafeBufferPointer(rebasing: b[range]))
                guard let value = try? JSONDecoder().decode(JSONValue.self, from: raw) else { return nil }
                return .some(.text(value.jsonText))
            default:
                return nil
            }
        }

        // MARK: JSON, through the reader

        mutating func value() -> Value? { r.token(depth: 2) }
        mutating func integer() -> Int64? { r.integer() }
        mutating func skipSpace() { r.skipSpace() }
        var i: Int { r.i }

        mutating func object(onKey: (inout Parser, String) -> Bool) -> Bool {
            var failed = false
            let ok = r.object { reader, key in
                var p = Parser(reader: reader)
                let accepted = onKey(&p, key)
                reader = p.r
                if !accepted { failed = true }
                return accepted
            }
            return ok && !failed
        }

        init(reader: JSONReader) { r = reader }
    }
}
