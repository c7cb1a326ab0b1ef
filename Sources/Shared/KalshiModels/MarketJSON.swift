import SSMDCore

extension Market {
    /// The market as JSON: byte for byte what `JSONCodec.encode(market)` gives through
    /// `encode(to:)` (tests pin it for recorded exchange markets and a market with every field
    /// set), written from one table of the fields. The fetchers publish every market they read
    /// this way; `JSONEncoder` cost about 0.2 ms a market, half a cold start's CPU.
    public func writeJSON(to out: inout JSONOutput) {
        out.beginObject()
        for field in Self.jsonFields { field.write(self, &out) }
        out.endObject()
    }

    public var jsonBytes: [UInt8] {
        var out = JSONOutput(capacity: 2048)
        writeJSON(to: &out)
        return out.bytes
    }

    struct JSONField: Sendable {
        let key: String
        let write: @Sendable (Market, inout JSONOutput) -> Void
    }

    /// Every stored property, by its JSON key, in `JSONEncoder`'s sorted-key order; absent
    /// values are left out, as `encodeIfPresent` leaves them out.
    static let jsonFields: [JSONField] = {
        typealias F = JSONField
        func text(_ k: CodingKeys, _ p: KeyPath<Market, String> & Sendable) -> F {
            F(key: k.rawValue) { m, out in out.key(k.rawValue); out.string(m[keyPath: p]) }
        }
        func text(_ k: CodingKeys, _ p: KeyPath<Market, String?> & Sendable) -> F {
            F(key: k.rawValue) { m, out in if let v = m[keyPath: p] { out.key(k.rawValue); out.string(v) } }
        }
        func time(_ k: CodingKeys, _ p: KeyPath<Market, Timestamp?> & Sendable) -> F {
            F(key: k.rawValue) { m, out in if let v = m[keyPath: p] { out.key(k.rawValue); out.string(v.iso8601) } }
        }
        func fixed(_ k: CodingKeys, _ p: KeyPath<Market, FixedPoint?> & Sendable) -> F {
            F(key: k.rawValue) { m, out in if let v = m[keyPath: p] { out.key(k.rawValue); out.string(v.text) } }
        }
        func int(_ k: CodingKeys, _ p: KeyPath<Market, Int64?> & Sendable) -> F {
            F(key: k.rawValue) { m, out in if let v = m[keyPath: p] { out.key(k.rawValue); out.int(v) } }
        }
        func bool(_ k: CodingKeys, _ p: KeyPath<Market, Bool?> & Sendable) -> F {
            F(key: k.rawValue) { m, out in if let v = m[keyPath: p] { out.key(k.rawValue); out.bool(v) } }
        }
        func json(_ k: CodingKeys, _ p: KeyPath<Market, JSONValue?> & Sendable) -> F {
            F(key: k.rawValue) { m, out in if let v = m[keyPath: p] { out.key(k.rawValue); v.write(to: &out) } }
        }
        let fields: [F] = [
            text(.ticker, \.ticker), text(.eventTicker, \.eventTicker), text(.marketType, \.marketType),
            text(.title, \.title), text(.subtitle, \.subtitle), text(.yesSubTitle, \.yesSubTitle),
            text(.noSubTitle, \.noSubTitle), text(.status, \.status), text(.result, \.result),
            time(.createdTime, \.createdTime), time(.updatedTime, \.updatedTime), time(.openTime, \.openTime),
            time(.closeTime, \.closeTime), time(.expectedExpirationTime, \.expectedExpirationTime),
            time(.latestExpirationTime, \.latestExpirationTime), time(.settlementTs, \.settlementTs),
            int(.settlementTimerSeconds, \.settlementTimerSeconds), bool(.canCloseEarly, \.canCloseEarly),
            text(.strikeType, \.strikeType), fixed(.floorStrike, \.floorStrike), fixed(.capStrike, \.capStrike),
            json(.customStrike, \.customStrike), text(.rulesPrimary, \.rulesPrimary), text(.rulesSecondary, \.rulesSecondary),
            fixed(.yesBid, \.yesBid), fixed(.yesAsk, \.yesAsk), fixed(.noBid, \.noBid), fixed(.noAsk, \.noAsk),
            fixed(.lastPrice, \.lastPrice), fixed(.notionalValue, \.notionalValue), fixed(.settlementValue, \.settlementValue),
            fixed(.volume, \.volume), fixed(.volume24h, \.volume24h), fixed(.openInterest, \.openInterest),
            text(.mveCollectionTicker, \.mveCollectionTicker), text(.priceLevelStructure, \.priceLevelStructure),
            json(.priceRanges, \.priceRanges), text(.earlyCloseCondition, \.earlyCloseCondition),
            time(.expirationTime, \.expirationTime), text(.expirationValue, \.expirationValue),
            time(.occurrenceDatetime, \.occurrenceDatetime), time(.feeWaiverExpirationTime, \.feeWaiverExpirationTime),
            text(.functionalStrike, \.functionalStrike), text(.primaryParticipantKey, \.primaryParticipantKey),
            bool(.isProvisional, \.isProvisional),
        ]
        return fields.sorted { JSONOutput.sortedKeyOrder($0.key, $1.key) }
    }()
}
