import Foundation

/// A validating scan over JSON text that finds where values are without building them.
package enum JSONScan {
    /// The members of a top-level object, by key; nil for anything but one well-formed
    /// object (surrounded by whitespace only) with distinct keys.
    package static func topLevelMembers(_ b: UnsafeBufferPointer<UInt8>) -> [String: Range<Int>]? {
        var s = Scanner(b)
        s.whitespace()
        guard s.peek == UInt8(ascii: "{") else { return nil }
        s.i += 1
        var members: [String: Range<Int>] = [:]
        s.whitespace()
        if s.peek == UInt8(ascii: "}") {
            s.i += 1
        } else {
            while true {
                s.whitespace()
                let keyStart = s.i
                guard s.string() else { return nil }
                guard let key = Self.string(keyStart..<s.i, in: b) else { return nil }
                s.whitespace()
                guard s.peek == UInt8(ascii: ":") else { return nil }
                s.i += 1
                s.whitespace()
                let valueStart = s.i
                guard s.value(depth: 1) else { return nil }
                guard members.updateValue(valueStart..<s.i, forKey: key) == nil else { return nil }
                s.whitespace()
                if s.peek == UInt8(ascii: ",") { s.i += 1; continue }
                guard s.peek == UInt8(ascii: "}") else { return nil }
                s.i += 1
                break
            }
        }
        s.whitespace()
        return s.i == b.count ? members : nil
    }

    /// The ranges of an array's elements; nil unless `range` is a well-formed array.
    package static func elements(ofArray range: Range<Int>, in b: UnsafeBufferPointer<UInt8>) -> [Range<Int>]? {
        var s = Scanner(b, start: range.lowerBound, end: range.upperBound)
        guard s.peek == UInt8(ascii: "[") else { return nil }
        s.i += 1
        var out: [Range<Int>] = []
        s.whitespace()
        if s.peek == UInt8(ascii: "]") {
            s.i += 1
        } else {
            while true {
                s.whitespace()
                let start = s.i
                guard s.value(depth: 2) else { return nil }
                out.append(start..<s.i)
                s.whitespace()
                if s.peek == UInt8(ascii: ",") { s.i += 1; continue }
                guard s.peek == UInt8(ascii: "]") else { return nil }
                s.i += 1
                break
            }
        }
        return s.i == range.upperBound ? out : nil
    }

    /// A string or null value: `.some(nil)` for null, nil for anything else.
    package static func stringOrNull(_ range: Range<Int>, in b: UnsafeBufferPointer<UInt8>, decoder: JSONDecoder) -> String?? {
        if b[range].elementsEqual("null".utf8) { return .some(nil) }
        guard b[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        return string(range, in: b, decoder: decoder).map { .some($0) }
    }

    /// The text of a string token (quotes included in `range`): read directly when it has
    /// no escapes, else by `JSONDecoder`; nil for invalid UTF-8.
    package static func string(_ range: Range<Int>, in b: UnsafeBufferPointer<UInt8>, decoder: JSONDecoder = JSONDecoder()) -> String? {
        let inner = UnsafeBufferPointer(rebasing: b[(range.lowerBound + 1)..<(range.upperBound - 1)])
        if !inner.contains(UInt8(ascii: "\\")) { return String(validating: inner, as: UTF8.self) }
        return try? decoder.decode(String.self, from: Data(UnsafeBufferPointer(rebasing: b[range])))
    }

    /// Steps over one JSON value at a time, checking its syntax (RFC 8259; strings are
    /// checked for escapes and control characters, not for UTF-8).
    package struct Scanner {
        package let b: UnsafeBufferPointer<UInt8>
        package var i: Int
        package let end: Int
        /// Deeper than this is refused (as `JSONDecoder` refuses it): no unbounded recursion.
        package static let maxDepth = 512

        package init(_ b: UnsafeBufferPointer<UInt8>, start: Int = 0, end: Int? = nil) {
            self.b = b
            self.i = start
            self.end = end ?? b.count
        }

        package var peek: UInt8? { i < end ? b[i] : nil }

        package mutating func whitespace() {
            while i < end, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        package mutating func value(depth: Int) -> Bool {
            guard depth <= Self.maxDepth, let c = peek else { return false }
            switch c {
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "{"): return container(close: UInt8(ascii: "}"), keyed: true, depth: depth)
            case UInt8(ascii: "["): return container(close: UInt8(ascii: "]"), keyed: false, depth: depth)
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return false
            }
        }

        private mutating func container(close: UInt8, keyed: Bool, depth: Int) -> Bool {
            i += 1
            whitespace()
            if peek == close { i += 1; return true }
            while true {
                whitespace()
                if keyed {
                    guard string() else { return false }
                    whitespace()
                    guard peek == UInt8(ascii: ":") else { return false }
                    i += 1
                    whitespace()
                }
                guard value(depth: depth + 1) else { return false }
                whitespace()
                guard let c = peek else { return false }
                i += 1
                if c == UInt8(ascii: ",") { continue }
                return c == close
            }
        }

        package mutating func string() -> Bool {
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

        private mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= end else { return false }
            let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
            guard b[i..<(i + n)].elementsEqual(w) else { return false }
            i += n
            return true
        }

        private mutating func number() -> Bool {
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

        package static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        package static func isHexDigit(_ c: UInt8) -> Bool {
            isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
        }
    }
}
