/// Exact decimal text as the exchange sends it: prices in dollars (`"0.5600"`) and
/// fixed-point counts (`"10.00"`). Kept as text end to end (exchange → message → NUMERIC)
/// so that no binary floating point ever rounds a price.
public struct FixedPoint: Sendable, Hashable, Codable, CustomStringConvertible {
    public let text: String

    /// Accepts an optional sign, digits, and an optional fraction; nothing else.
    public init?(_ text: String) {
        guard FixedPoint.isValid(text) else { return nil }
        self.text = text
    }

    /// From the exchange's legacy integer-cent fields (`"yes_bid": 56` → `"0.5600"`).
    public init(cents: Int64) {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = String(magnitude % 100)
        self.text = "\(sign)\(magnitude / 100).\(fraction.count == 1 ? "0" + fraction : fraction)00"
    }

    /// From an integer count (legacy `"volume": 10` → `"10.00"`).
    public init(count: Int64) { self.text = "\(count).00" }

    /// From a JSON number (strike values are numbers in older responses); the shortest
    /// representation that round-trips, never exponent notation for ordinary values.
    public init?(number: Double) {
        guard number.isFinite else { return nil }
        if number == number.rounded(), abs(number) < 1e15 {
            self.text = String(Int64(number))
        } else {
            let s = "\(number)"
            guard FixedPoint.isValid(s) else { return nil }
            self.text = s
        }
    }

    public var description: String { text }

    static func isValid(_ s: String) -> Bool {
        var digitsBefore = 0, digitsAfter = 0, seenDot = false, first = true
        for c in s.utf8 {
            defer { first = false }
            if first && (c == 45 || c == 43) { continue }
            if c == 46 { if seenDot { return false }; seenDot = true; continue }
            guard c >= 48 && c <= 57 else { return false }
            if seenDot { digitsAfter += 1 } else { digitsBefore += 1 }
        }
        return digitsBefore > 0 && (!seenDot || digitsAfter > 0) && s.utf8.count <= 64
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = FixedPoint(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a fixed-point decimal: \(s.prefix(40))")
        }
        self = v
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}
