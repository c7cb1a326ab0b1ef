import SSMDCore

/// A market's fields, described once: JSON key, property and kind. `Market`'s `Decodable`
/// and `Encodable`, the JSON writer the fetchers publish with (`writeJSON`, byte for byte what
/// `JSONEncoder` with sorted keys writes) and the one-pass page decoder
/// (``MarketFastDecoding``) are all driven by this table, so a field added here is read,
/// written and published everywhere. (The writer's `MarketRow.columns` maps the same keys to
/// PostgreSQL columns.)
struct MarketField: @unchecked Sendable {  // key paths into a value type, never mutated
    typealias Keys = Market.CodingKeys

    enum Kind {
        /// A string the exchange always sends (ticker, event ticker, status).
        case required(WritableKeyPath<Market, String>)
        case text(WritableKeyPath<Market, String?>)
        /// RFC 3339 text; "" and null are absent.
        case time(WritableKeyPath<Market, Timestamp?>)
        /// A `*_dollars` price (legacy: integer cents) or `*_fp` count (legacy: an integer),
        /// "" absent; the legacy integer field stands in only where this one is absent.
        case fixed(WritableKeyPath<Market, FixedPoint?>, legacy: Keys?, cents: Bool)
        /// A strike: a number, as documented, or a decimal string, as older responses sent.
        case strike(WritableKeyPath<Market, FixedPoint?>)
        case integer(WritableKeyPath<Market, Int64?>)
        case bool(WritableKeyPath<Market, Bool?>)
        /// Open-ended JSON (`custom_strike`, `price_ranges`), kept as sent.
        case json(WritableKeyPath<Market, JSONValue?>)
    }

    let key: Keys
    let kind: Kind

    init(_ key: Keys, _ kind: Kind) { self.key = key; self.kind = kind }

    // MARK: Codable

    func decode(from c: KeyedDecodingContainer<Keys>, into m: inout Market) throws {
        switch kind {
        case .required(let p): m[keyPath: p] = try c.requiredString(key)
        case .text(let p): m[keyPath: p] = try c.string(key)
        case .time(let p): m[keyPath: p] = try c.timestamp(key)
        case .fixed(let p, let legacy, let cents):
            m[keyPath: p] = try cents ? c.dollars(key, legacyCents: legacy) : c.count(key, legacy: legacy)
        case .strike(let p): m[keyPath: p] = try c.decimal(key)
        case .integer(let p): m[keyPath: p] = try c.int(key)
        case .bool(let p): m[keyPath: p] = try c.bool(key)
        case .json(let p): m[keyPath: p] = try c.decodeIfPresent(JSONValue.self, forKey: key)
        }
    }

    func encode(_ m: Market, to c: inout KeyedEncodingContainer<Keys>) throws {
        switch kind {
        case .required(let p): try c.encode(m[keyPath: p], forKey: key)
        case .text(let p): try c.encodeIfPresent(m[keyPath: p], forKey: key)
        case .time(let p): try c.encodeTime(m[keyPath: p], forKey: key)
        case .fixed(let p, _, _), .strike(let p): try c.encodeIfPresent(m[keyPath: p], forKey: key)
        case .integer(let p): try c.encodeIfPresent(m[keyPath: p], forKey: key)
        case .bool(let p): try c.encodeIfPresent(m[keyPath: p], forKey: key)
        case .json(let p): try c.encodeIfPresent(m[keyPath: p], forKey: key)
        }
    }

    // MARK: JSONOutput

    /// The member as `JSONEncoder` writes it through `encode`, or nothing when absent.
    func write(_ m: Market, to out: inout JSONOutput) {
        switch kind {
        case .required(let p): out.key(key.rawValue); out.string(m[keyPath: p])
        case .text(let p): if let v = m[keyPath: p] { out.key(key.rawValue); out.string(v) }
        case .time(let p): if let v = m[keyPath: p] { out.key(key.rawValue); out.string(v.iso8601) }
        case .fixed(let p, _, _), .strike(let p): if let v = m[keyPath: p] { out.key(key.rawValue); out.string(v.text) }
        case .integer(let p): if let v = m[keyPath: p] { out.key(key.rawValue); out.int(v) }
        case .bool(let p): if let v = m[keyPath: p] { out.key(key.rawValue); out.bool(v) }
        case .json(let p): if let v = m[keyPath: p] { out.key(key.rawValue); v.write(to: &out) }
        }
    }
}

extension Market {
    /// Every stored property, in the order `Decodable` reads them (which decides which of
    /// several bad fields an error names).
    static let fields: [MarketField] = [
        .init(.ticker, .required(\.ticker)), .init(.eventTicker, .required(\.eventTicker)), .init(.status, .required(\.status)),
        .init(.marketType, .text(\.marketType)), .init(.title, .text(\.title)), .init(.subtitle, .text(\.subtitle)),
        .init(.yesSubTitle, .text(\.yesSubTitle)), .init(.noSubTitle, .text(\.noSubTitle)), .init(.result, .text(\.result)),
        .init(.createdTime, .time(\.createdTime)), .init(.updatedTime, .time(\.updatedTime)), .init(.openTime, .time(\.openTime)),
        .init(.closeTime, .time(\.closeTime)), .init(.expectedExpirationTime, .time(\.expectedExpirationTime)),
        .init(.latestExpirationTime, .time(\.latestExpirationTime)), .init(.settlementTs, .time(\.settlementTs)),
        .init(.settlementTimerSeconds, .integer(\.settlementTimerSeconds)), .init(.canCloseEarly, .bool(\.canCloseEarly)),
        .init(.strikeType, .text(\.strikeType)), .init(.floorStrike, .strike(\.floorStrike)), .init(.capStrike, .strike(\.capStrike)),
        .init(.customStrike, .json(\.customStrike)), .init(.rulesPrimary, .text(\.rulesPrimary)),
        .init(.rulesSecondary, .text(\.rulesSecondary)),
        .init(.yesBid, .fixed(\.yesBid, legacy: .legacyYesBid, cents: true)),
        .init(.yesAsk, .fixed(\.yesAsk, legacy: .legacyYesAsk, cents: true)),
        .init(.noBid, .fixed(\.noBid, legacy: .legacyNoBid, cents: true)),
        .init(.noAsk, .fixed(\.noAsk, legacy: .legacyNoAsk, cents: true)),
        .init(.lastPrice, .fixed(\.lastPrice, legacy: .legacyLastPrice, cents: true)),
        .init(.notionalValue, .fixed(\.notionalValue, legacy: .legacyNotional, cents: true)),
        .init(.settlementValue, .fixed(\.settlementValue, legacy: .legacySettlementValue, cents: true)),
        .init(.volume, .fixed(\.volume, legacy: .legacyVolume, cents: false)),
        .init(.volume24h, .fixed(\.volume24h, legacy: .legacyVolume24h, cents: false)),
        .init(.openInterest, .fixed(\.openInterest, legacy: .legacyOpenInterest, cents: false)),
        .init(.mveCollectionTicker, .text(\.mveCollectionTicker)), .init(.priceLevelStructure, .text(\.priceLevelStructure)),
        .init(.priceRanges, .json(\.priceRanges)), .init(.earlyCloseCondition, .text(\.earlyCloseCondition)),
        .init(.expirationTime, .time(\.expirationTime)), .init(.expirationValue, .text(\.expirationValue)),
        .init(.occurrenceDatetime, .time(\.occurrenceDatetime)), .init(.feeWaiverExpirationTime, .time(\.feeWaiverExpirationTime)),
        .init(.functionalStrike, .text(\.functionalStrike)), .init(.primaryParticipantKey, .text(\.primaryParticipantKey)),
        .init(.isProvisional, .bool(\.isProvisional)),
    ]

    /// `fields` in `JSONEncoder`'s sorted-key order.
    static let fieldsInJSONOrder = fields.sorted { JSONOutput.sortedKeyOrder($0.key.rawValue, $1.key.rawValue) }

    /// Integer fields the exchange removed in March 2026; read only as fallbacks for the
    /// `*_dollars` / `*_fp` strings.
    public static let legacyKeys: Set<String> = Set(fields.compactMap {
        if case .fixed(_, let legacy?, _) = $0.kind { return legacy.rawValue } else { return nil }
    })

    /// The market as JSON: byte for byte what `JSONCodec.encode(market)` gives (tests pin it
    /// for recorded exchange markets and a market with every field set). The fetchers publish
    /// every market they read this way; `JSONEncoder` cost about 0.2 ms a market, half a
    /// cold start's CPU.
    public func writeJSON(to out: inout JSONOutput) {
        out.beginObject()
        for field in Self.fieldsInJSONOrder { field.write(self, to: &out) }
        out.endObject()
    }

    public var jsonBytes: [UInt8] {
        var out = JSONOutput(capacity: 2048)
        writeJSON(to: &out)
        return out.bytes
    }
}
