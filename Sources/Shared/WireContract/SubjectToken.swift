/// Reversible encoding of a tag, category or ticker into one NATS subject token.
///
/// NATS splits subjects on `.` and treats `*`, `>` and whitespace specially, but tags look
/// like `S&P`, `EUR/USD`, `SCOTUS & courts` and tickers like `KXBTCD-25NOV25-T98999.99`.
/// The encoding is percent-encoding of every byte outside `[A-Za-z0-9_-]` (UTF-8, uppercase
/// hex), so `S&P` → `S%26P`, `KXBTCD-T98999.99` → `KXBTCD-T98999%2E99`: plain tickers and
/// tags stay readable, and any language decodes a token with its standard URL-unescape.
public enum SubjectToken {
    public static func encode(_ value: String) -> String {
        precondition(!value.isEmpty, "a subject token cannot be empty")
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            if isPlain(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out.append("%")
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0xF))
            }
        }
        return out
    }

    public enum DecodingError: Error, Equatable, CustomStringConvertible {
        case empty, badEscape(String), notUTF8(String), illegalCharacter(String)
        public var description: String {
            switch self {
            case .empty: return "empty subject token"
            case .badEscape(let t): return "bad %-escape in subject token \(t)"
            case .notUTF8(let t): return "subject token \(t) does not decode to UTF-8"
            case .illegalCharacter(let t): return "subject token \(t) contains a character that must be escaped"
            }
        }
    }

    public static func decode(_ token: String) throws -> String {
        guard !token.isEmpty else { throw DecodingError.empty }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        var it = token.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else {
                    throw DecodingError.badEscape(token)
                }
                bytes.append(hv << 4 | lv)
            } else if isPlain(b) {
                bytes.append(b)
            } else {
                throw DecodingError.illegalCharacter(token)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw DecodingError.notUTF8(token) }
        return s
    }

    @inline(__always) static func isPlain(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
    }

    static func hexDigit(_ v: UInt8) -> Character {
        Character(Unicode.Scalar(v < 10 ? v + 0x30 : v - 10 + 0x41))
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
