import Foundation

/// Compact JSON written straight into bytes, for the few messages published by the tens of
/// thousands (markets): the same text `JSONCodec.encode` (`JSONEncoder` with sorted keys and
/// unescaped slashes) writes for the same values, byte for byte — tests pin that — without
/// Codable's boxing of every field. Keys are written in the order given: callers give them
/// sorted, as `JSONEncoder` sorts them (by their UTF-8 bytes).
///
/// Why it exists: a cold start spent 44% of the market-fetchers' CPU in `JSONEncoder`,
/// encoding each market twice (once for its content hash, once inside its message).
public struct JSONOutput {
    public private(set) var bytes: [UInt8]
    /// A value was written at this level: the next key or element needs a comma first.
    private var needsComma = false

    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() { separate(); bytes.append(0x7B); needsComma = false }
    public mutating func endObject() { bytes.append(0x7D); needsComma = true }
    public mutating func beginArray() { separate(); bytes.append(0x5B); needsComma = false }
    public mutating func endArray() { bytes.append(0x5D); needsComma = true }

    /// A key of the object being written; its value comes next.
    public mutating func key(_ key: String) {
        separate()
        needsComma = false
        string(key)
        bytes.append(0x3A)
        needsComma = false
    }

    public mutating func string(_ s: String) {
        separate()
        bytes.append(0x22)
        var s = s
        s.withUTF8 { utf8 in
            var run = 0  // start of the bytes not yet copied
            for (i, c) in utf8.enumerated() where c < 0x20 || c == 0x22 || c == 0x5C {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<i]))
                run = i + 1
                bytes.append(0x5C)
                switch c {
                case 0x22: bytes.append(0x22)
                case 0x5C: bytes.append(0x5C)
                case 0x0A: bytes.append(0x6E)  // \n
                case 0x0D: bytes.append(0x72)  // \r
                case 0x09: bytes.append(0x74)  // \t
                case 0x08: bytes.append(0x62)  // \b
                case 0x0C: bytes.append(0x66)  // \f
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])  // u00XX
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run...]))
        }
        bytes.append(0x22)
        needsComma = true
    }

    public mutating func int(_ v: Int64) {
        separate()
        bytes.append(contentsOf: String(v).utf8)
        needsComma = true
    }

    public mutating func bool(_ v: Bool) {
        separate()
        bytes.append(contentsOf: (v ? "true" : "false").utf8)
        needsComma = true
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// A number as `JSONEncoder` formats a `Double` (rare in market payloads: it formats it).
    public mutating func number(_ v: Double) {
        separate()
        bytes.append(contentsOf: (try? JSONEncoder().encode(v)).map(Array.init) ?? Array("null".utf8))
        needsComma = true
    }

    /// Text already in JSON form (a value written by another `JSONOutput`), as one value.
    public mutating func json(_ value: [UInt8]) {
        separate()
        bytes.append(contentsOf: value)
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { bytes.append(0x2C) }
    }

    /// Keys in the order `JSONEncoder`'s `.sortedKeys` writes them.
    public static func sortedKeyOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

extension JSONValue {
    /// Writes the value as `JSONCodec.encode` would (object keys sorted).
    public func write(to out: inout JSONOutput) {
        switch self {
        case .null: out.null()
        case .bool(let b): out.bool(b)
        case .number(let n): out.number(n)
        case .string(let s): out.string(s)
        case .array(let a):
            out.beginArray()
            for v in a { v.write(to: &out) }
            out.endArray()
        case .object(let o):
            out.beginObject()
            for k in o.keys.sorted(by: JSONOutput.sortedKeyOrder) {
                out.key(k)
                o[k]!.write(to: &out)
            }
            out.endObject()
        }
    }
}
