/// A small append-only JSON byte writer.
///
/// The simulator renders every response by hand instead of through `JSONEncoder`: pages of
/// 1,000 markets must be cheap to produce, and the exchange's exact field order and
/// `null`-vs-absent choices are easier to keep by writing bytes directly.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inline(__always) public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    @inline(__always) public mutating func rawString(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// Writes `s` as a JSON string literal (quoted and escaped).
    public mutating func string(_ s: String) {
        bytes.append(0x22)
        for c in s.utf8 {
            switch c {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)
            case 0x09: bytes.append(0x5C); bytes.append(0x74)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
            default: bytes.append(c)
            }
        }
        bytes.append(0x22)
    }

    public mutating func optionalString(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }

    public mutating func int(_ v: Int64) { rawString(String(v)) }
    public mutating func int(_ v: Int) { rawString(String(v)) }
    public mutating func bool(_ v: Bool) { if v { raw("true") } else { raw("false") } }

    /// A double the way Go's encoder prints whole and fractional floats (`1`, `0.5`).
    public mutating func double(_ v: Double) {
        if v == v.rounded(), abs(v) < 1e15 { rawString(String(Int64(v))) } else { rawString(String(v)) }
    }

    /// An ISO 8601 UTC time (`2026-11-25T17:00:00Z`), as the exchange prints it.
    public mutating func time(_ unixSeconds: Int64) {
        bytes.append(0x22)
        SimTime.appendISO8601(unixSeconds, to: &bytes)
        bytes.append(0x22)
    }

    public mutating func optionalTime(_ unixSeconds: Int64?) {
        if let t = unixSeconds { time(t) } else { raw("null") }
    }

    /// A fixed-point dollar string with four decimals from ten-thousandths of a dollar.
    public mutating func dollars(_ tenThousandths: Int64) {
        bytes.append(0x22)
        FixedPoint.appendDollars(tenThousandths, to: &bytes)
        bytes.append(0x22)
    }

    /// A fixed-point count string with two decimals from hundredths of a contract.
    public mutating func count(_ hundredths: Int64) {
        bytes.append(0x22)
        FixedPoint.appendCount(hundredths, to: &bytes)
        bytes.append(0x22)
    }

    /// `"key":` — keys are static in this code base, so they are never escaped.
    @inline(__always) public mutating func key(_ k: StaticString) {
        bytes.append(0x22)
        raw(k)
        bytes.append(0x22)
        bytes.append(0x3A)
    }

    @inline(__always) public mutating func comma() { bytes.append(0x2C) }

    public mutating func stringArray(_ a: [String]?) {
        guard let a else { raw("null"); return }
        bytes.append(0x5B)
        for (i, s) in a.enumerated() {
            if i > 0 { bytes.append(0x2C) }
            string(s)
        }
        bytes.append(0x5D)
    }
}

public enum FixedPoint {
    /// Writes digits in place: no temporary array, since this runs ~20 times per market.
    static func appendDigits(_ v: UInt64, minDigits: Int, to out: inout [UInt8]) {
        var n = 1
        var x = v
        while x >= 10 { x /= 10; n += 1 }
        let width = max(n, minDigits)
        let start = out.count
        out.append(contentsOf: repeatElement(0x30, count: width))
        var y = v
        var i = start + width - 1
        while y > 0 { out[i] = UInt8(0x30 + y % 10); y /= 10; i -= 1 }
    }

    public static func appendDollars(_ tenThousandths: Int64, to out: inout [UInt8]) {
        if tenThousandths < 0 { out.append(0x2D) }
        let m = tenThousandths.magnitude
        appendDigits(m / 10_000, minDigits: 1, to: &out)
        out.append(0x2E)
        appendDigits(m % 10_000, minDigits: 4, to: &out)
    }

    public static func appendCount(_ hundredths: Int64, to out: inout [UInt8]) {
        if hundredths < 0 { out.append(0x2D) }
        let m = hundredths.magnitude
        appendDigits(m / 100, minDigits: 1, to: &out)
        out.append(0x2E)
        appendDigits(m % 100, minDigits: 2, to: &out)
    }

    public static func dollars(_ tenThousandths: Int64) -> String {
        var b: [UInt8] = []
        appendDollars(tenThousandths, to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    public static func count(_ hundredths: Int64) -> String {
        var b: [UInt8] = []
        appendCount(hundredths, to: &b)
        return String(decoding: b, as: UTF8.self)
    }
}
