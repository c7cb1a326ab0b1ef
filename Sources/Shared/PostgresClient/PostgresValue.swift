import Foundation
import SSMDCore

/// A bind parameter in PostgreSQL's text format. `nil` (a `PostgresValue?`) is SQL NULL.
///
/// Values always travel as separate parameters of `PQexecParams`, never spliced into SQL;
/// the server parses the text as the type the statement gives it (`$1::timestamptz`,
/// `$2::text[]`, …).
public struct PostgresValue: Sendable, Hashable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral
{
    /// The text representation sent to the server.
    public var text: String

    public init(text: String) { self.text = text }
    public init(stringLiteral value: String) { self.text = value }
    public init(integerLiteral value: Int) { self.text = String(value) }
    public init(booleanLiteral value: Bool) { self.text = value ? "t" : "f" }

    public var description: String { text }

    public static func text(_ value: String) -> PostgresValue { PostgresValue(text: value) }
    public static func int(_ value: Int) -> PostgresValue { PostgresValue(text: String(value)) }
    public static func int64(_ value: Int64) -> PostgresValue { PostgresValue(text: String(value)) }
    public static func bool(_ value: Bool) -> PostgresValue { PostgresValue(text: value ? "t" : "f") }

    /// A `float8`; Swift's shortest round-tripping form, `Infinity`/`-Infinity`/`NaN` as PostgreSQL spells them.
    public static func double(_ value: Double) -> PostgresValue {
        PostgresValue(text: PostgresValue.doubleText(value))
    }

    /// A `timestamptz`, exact to the microsecond (`2026-01-12T22:08:10.446961Z`).
    public static func timestamp(_ value: Timestamp) -> PostgresValue {
        PostgresValue(text: value.postgresText)
    }

    /// A `timestamptz` from a Foundation `Date` (rounded to the nearest microsecond).
    public static func date(_ value: Date) -> PostgresValue {
        .timestamp(Timestamp(microsecondsSinceEpoch: Int64((value.timeIntervalSince1970 * 1_000_000).rounded())))
    }

    /// A one-dimensional array literal (`{"a","b c",NULL}`); `nil` elements are NULL.
    public static func array(_ values: [String?]) -> PostgresValue {
        PostgresValue(text: PostgresArrayLiteral.encode(values))
    }
    public static func array(_ values: [String]) -> PostgresValue {
        PostgresValue(text: PostgresArrayLiteral.encode(values.map { Optional($0) }))
    }
    public static func array(_ values: [Int64]) -> PostgresValue {
        PostgresValue(text: "{" + values.map { String($0) }.joined(separator: ",") + "}")
    }
    public static func array(_ values: [Int]) -> PostgresValue {
        PostgresValue(text: "{" + values.map { String($0) }.joined(separator: ",") + "}")
    }
    public static func array(_ values: [Bool]) -> PostgresValue {
        PostgresValue(text: "{" + values.map { $0 ? "t" : "f" }.joined(separator: ",") + "}")
    }
    public static func array(_ values: [Bool?]) -> PostgresValue {
        PostgresValue(text: "{" + values.map { $0.map { $0 ? "t" : "f" } ?? "NULL" }.joined(separator: ",") + "}")
    }
    public static func array(_ values: [Double]) -> PostgresValue {
        PostgresValue(text: PostgresArrayLiteral.encode(values.map { Optional(doubleText($0)) }))
    }
    public static func array(_ values: [Timestamp?]) -> PostgresValue {
        PostgresValue(text: PostgresArrayLiteral.encode(values.map { $0?.postgresText }))
    }

    static func doubleText(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return "\(value)"
    }
}

/// Encodes and decodes one-dimensional PostgreSQL array literals in text format.
public enum PostgresArrayLiteral {
    /// `{"a","b\"c",NULL}` — every non-NULL element is double-quoted, with `"` and `\`
    /// backslash-escaped, so commas, braces, spaces, the word NULL and empty strings all
    /// survive exactly.
    public static func encode(_ values: [String?]) -> String {
        var out = "{"
        out.reserveCapacity(values.count * 8 + 2)
        var first = true
        for value in values {
            if !first { out.append(",") }
            first = false
            guard let value else { out.append("NULL"); continue }
            out.append("\"")
            for scalar in value.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { out.append("\\") }
                out.unicodeScalars.append(scalar)
            }
            out.append("\"")
        }
        out.append("}")
        return out
    }

    /// Parses the server's text output of a one-dimensional array (`{a,"b c",NULL}`).
    /// Returns nil for malformed or multi-dimensional input. A leading dimension
    /// decoration (`[0:1]={…}`) is accepted and ignored.
    public static func decode(_ text: String) -> [String?]? {
        var scalars = Array(text.unicodeScalars)
        if let first = scalars.first, first == "[" {
            guard let eq = scalars.firstIndex(of: "=") else { return nil }
            scalars = Array(scalars[(eq + 1)...])
        }
        guard scalars.first == "{", scalars.last == "}" else { return nil }
        var result: [String?] = []
        var i = 1
        let end = scalars.count - 1
        if i == end { return [] }
        while i <= end {
            // skip whitespace before an element
            while i < end, scalars[i] == " " || scalars[i] == "\t" || scalars[i] == "\n" { i += 1 }
            if i < end, scalars[i] == "{" { return nil }  // nested: not supported
            var element = String.UnicodeScalarView()
            var quoted = false
            if i < end, scalars[i] == "\"" {
                quoted = true
                i += 1
                while i < end, scalars[i] != "\"" {
                    if scalars[i] == "\\" { i += 1; guard i < end else { return nil } }
                    element.append(scalars[i])
                    i += 1
                }
                guard i < end else { return nil }
                i += 1  // closing quote
                while i < end, scalars[i] == " " { i += 1 }
            } else {
                while i < end, scalars[i] != "," {
                    if scalars[i] == "\\" { i += 1; guard i < end else { return nil } }
                    element.append(scalars[i])
                    i += 1
                }
                // trailing whitespace of an unquoted element is not part of it
                while let last = element.last, last == " " { element.removeLast() }
            }
            let string = String(element)
            if !quoted && string.uppercased() == "NULL" { result.append(nil) } else { result.append(string) }
            if i == end { break }
            guard scalars[i] == "," else { return nil }
            i += 1
        }
        return result
    }
}
