extension Timestamp {
    /// In payloads a timestamp is RFC 3339 text, like the exchange's own.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            guard let t = Timestamp(iso8601: s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 time: \(s.prefix(40))")
            }
            self = t
        } else {
            self.init(microsecondsSinceEpoch: try c.decode(Int64.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(iso8601)
    }
}
