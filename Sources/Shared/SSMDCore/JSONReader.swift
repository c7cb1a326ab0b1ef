/// A validating reader over JSON text (RFC 8259) that steps over values without building
/// them, and reads strings and numbers where asked — the one JSON scanner ssmd has. The
/// exchange's list pages are split into elements with it (`ListPageDecoder`, through
/// `JSONScan`), and the writer's hot path reads market payloads with it
/// (`FastMarketDecoder`). Nesting deeper than ``maxDepth`` is refused, never recursed into.
public struct JSONReader {
    public let b: UnsafeBufferPointer<UInt8>
    public var i: Int
    public let end: Int
    /// Deeper than this is refused (as `JSONDecoder` refuses it): no unbounded recursion.
    public static let maxDepth = 512

    public init(_ b: UnsafeBufferPointer<UInt8>, start: Int = 0, end: Int? = nil) {
        self.b = b
        self.i = start
        self.end = end ?? b.count
    }

    /// A value as a reader of payloads needs it.
    public enum Token: Equatable {
        case null
        case string(String)
        case bool(Bool)
        /// Its text, `start..<end` in the buffer.
        case number(Range<Int>)
        /// An object or array: its raw text, `start..<end` in the buffer.
        case composite(Range<Int>)
    }

    public var peek: UInt8? { i < end ? b[i] : nil }
    public var atEnd: Bool { i >= end }

    public mutating func skipSpace() {
        while i < end, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    /// The next value, strings decoded; nil when malformed.
    public mutating func token(depth: Int = 1) -> Token? {
        skipSpace()
        guard let c = peek else { return nil }
        switch c {
        case UInt8(ascii: "\""): return string().map(Token.string)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let start = i
            return skipValue(depth: depth) ? .composite(start..<i) : nil
        case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        default:
            let start = i
            return number() ? .number(start..<i) : nil
        }
    }

    /// Steps over one value, checking its syntax (strings for escapes and control
    /// characters, not for UTF-8); false when malformed or nested deeper than `maxDepth`.
    public mutating func skipValue(depth: Int = 1) -> Bool {
        skipSpace()
        guard depth <= Self.maxDepth, let c = peek else { return false }
        switch c {
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "{"): return skipObject(depth: depth)
        case UInt8(ascii: "["): return array(depth: depth) { r in r.skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return number()
        }
    }

    /// `{ "key": value, … }`; `onKey` must consume the value. False on any error (a key
    /// that is not valid UTF-8 included).
    public mutating func object(depth: Int = 1, onKey: (inout JSONReader, String) -> Bool) -> Bool {
        skipSpace()
        guard depth <= Self.maxDepth, peek == UInt8(ascii: "{") else { return false }
        i += 1
        skipSpace()
        if peek == UInt8(ascii: "}") { i += 1; return true }
        while true {
            skipSpace()
            guard let key = string() else { return false }
            skipSpace()
            guard peek == UInt8(ascii: ":") else { return false }
            i += 1
            guard onKey(&self, key) else { return false }
            skipSpace()
            guard let c = peek else { return false }
            i += 1
            if c == UInt8(ascii: ",") { continue }
            return c == UInt8(ascii: "}")
        }
    }

    /// Steps over an object without decoding its keys.
    private mutating func skipObject(depth: Int) -> Bool {
        i += 1
        skipSpace()
        if peek == UInt8(ascii: "}") { i += 1; return true }
        while true {
            skipSpace()
            guard skipString() else { return false }
            skipSpace()
            guard peek == UInt8(ascii: ":") else { return false }
            i += 1
            guard skipValue(depth: depth + 1) else { return false }
            skipSpace()
            guard let c = peek else { return false }
            i += 1
            if c == UInt8(ascii: ",") { continue }
            return c == UInt8(ascii: "}")
        }
    }

    /// `[ value, … ]`; `onElement` must consume the element.
    public mutating func array(depth: Int = 1, onElement: (inout JSONReader) -> Bool) -> Bool {
        skipSpace()
        guard depth <= Self.maxDepth, peek == UInt8(ascii: "[") else { return false }
        i += 1
        skipSpace()
        if peek == UInt8(ascii: "]") { i += 1; return true }
        while true {
            skipSpace()
            guard onElement(&self) else { return false }
            skipSpace()
            guard let c = peek else { return false }
            i += 1
            if c == UInt8(ascii: ",") { continue }
            return c == UInt8(ascii: "]")
        }
    }

    public mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= end else { return false }
        let w = word.utf8Start
        for k in 0..<n where b[i + k] != w[k] { return false }
        i += n
        return true
    }

    /// A JSON integer that fits Int64; nil for anything else (fractions, exponents).
    public mutating func integer() -> Int64? {
        skipSpace()
        let start = i
        guard number() else { return nil }
        return Int64(String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self))
    }

    /// Steps over a number, checking its grammar.
    public mutating func number() -> Bool {
        if peek == UInt8(ascii: "-") { i += 1 }
        guard let first = peek, Self.isDigit(first) else { return false }
        i += 1
        if first != UInt8(ascii: "0") { digits() }
        if peek == UInt8(ascii: ".") {
            i += 1
            guard let d = peek, Self.isDigit(d) else { return false }
            digits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            guard let d = peek, Self.isDigit(d) else { return false }
            digits()
        }
        return true
    }

    private mutating func digits() {
        while let c = peek, Self.isDigit(c) { i += 1 }
    }

    /// Steps over a string, checking escapes and control characters (not UTF-8).
    public mutating func skipString() -> Bool {
        guard peek == UInt8(ascii: "\"") else { return false }
        i += 1
        while i < end {
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; return true }
            if c < 0x20 { return false }
            if c == UInt8(ascii: "\\") {
                guard i + 1 < end else { return false }
                switch b[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 6 <= end, b[(i + 2)..<(i + 6)].allSatisfy({ Self.isHexDigit($0) }) else { return false }
                    i += 6
                default:
                    return false
                }
                continue
            }
            i += 1
        }
        return false
    }

    /// A string (at `"`), unescaped; nil when malformed or not valid UTF-8.
    public mutating func string() -> String? {
        guard peek == UInt8(ascii: "\"") else { return nil }
        i += 1
        let start = i
        while i < end {
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
        while i < end {
            let c = b[i]
            if c == 0x22 {
                i += 1
                return String(validating: out, as: UTF8.self)
            }
            if c < 0x20 { return nil }
            if c != 0x5C { out.append(c); i += 1; continue }
            i += 1
            guard i < end else { return nil }
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
                    guard i + 1 < end, b[i] == 0x5C, b[i + 1] == 0x75 else { return nil }
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

    private mutating func hex4() -> UInt32? {
        guard i + 4 <= end else { return nil }
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

    public static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    public static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
}
