import SSMDCore

/// Lenient-but-honest decoding helpers: unknown fields are ignored (the exchange adds fields
/// every month), missing optional fields become nil, but a field that is present with the
/// wrong shape is an error carrying its coding path — it is never silently dropped.
extension KeyedDecodingContainer {
    func string(_ key: Key) throws -> String? {
        try decodeIfPresent(String.self, forKey: key)
    }

    func requiredString(_ key: Key) throws -> String {
        guard let s = try decodeIfPresent(String.self, forKey: key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "required field \(key.stringValue) is missing or null"))
        }
        return s
    }

    func bool(_ key: Key) throws -> Bool? {
        try decodeIfPresent(Bool.self, forKey: key)
    }

    func int(_ key: Key) throws -> Int64? {
        if let i = try? decodeIfPresent(Int64.self, forKey: key) { return i }
        if let d = try decodeIfPresent(Double.self, forKey: key) {
            // Int64(d) traps outside Int64's range; an absurd number is a bad field, not a crash.
            guard d.isFinite, d == d.rounded() else { return nil }
            guard abs(d) < 9.0e18 else {
                throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "integer out of range: \(d)")
            }
            return Int64(d)
        }
        return nil
    }

    /// An RFC 3339 time; `""` and null mean absent (the exchange sends both).
    func timestamp(_ key: Key) throws -> Timestamp? {
        guard let s = try decodeIfPresent(String.self, forKey: key), !s.isEmpty else { return nil }
        guard let t = Timestamp(iso8601: s) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not an RFC 3339 time: \(s.prefix(40))")
        }
        return t
    }

    /// A `*_dollars` string, or — for responses recorded before March 2026 — the legacy
    /// integer-cent field beside it.
    func dollars(_ key: Key, legacyCents: Key? = nil) throws -> FixedPoint? {
        if let s = try decodeIfPresent(String.self, forKey: key), !s.isEmpty {
            guard let v = FixedPoint(s) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not a dollar amount: \(s.prefix(40))")
            }
            return v
        }
        if let legacyCents, let cents = try int(legacyCents) { return FixedPoint(cents: cents) }
        return nil
    }

    /// A `*_fp` fixed-point count string, or the legacy integer count.
    func count(_ key: Key, legacy: Key? = nil) throws -> FixedPoint? {
        if let s = try decodeIfPresent(String.self, forKey: key), !s.isEmpty {
            guard let v = FixedPoint(s) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not a fixed-point count: \(s.prefix(40))")
            }
            return v
        }
        if let legacy, let n = try int(legacy) { return FixedPoint(count: n) }
        return nil
    }

    /// A strike: a JSON number in older responses, a decimal string in newer ones.
    func decimal(_ key: Key) throws -> FixedPoint? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let d = try? decode(Double.self, forKey: key) { return FixedPoint(number: d) }
        let s = try decode(String.self, forKey: key)
        if s.isEmpty { return nil }
        guard let v = FixedPoint(s) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not a decimal: \(s.prefix(40))")
        }
        return v
    }
}

extension KeyedEncodingContainer {
    mutating func encodeTime(_ t: Timestamp?, forKey key: Key) throws {
        if let t { try encode(t.iso8601, forKey: key) }
    }
}
