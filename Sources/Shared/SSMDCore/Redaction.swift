import Foundation

/// Keeps secrets out of logs and error messages.
public enum Redaction {
    /// `nats://user:pass@host` → `nats://user:[redacted]@host`; a lone user-info is a NATS
    /// token (`nats://TOKEN@host`, also without a scheme) → `nats://[redacted]@host`, except
    /// in a database URI, where it is only the user name. A `password=` query parameter
    /// (libpq URIs accept one) is redacted too.
    public static func url(_ s: String) -> String {
        var s = s
        if let q = s.firstIndex(of: "?") {
            let query = s[s.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { item in
                item.lowercased().hasPrefix("password=") ? "password=[redacted]" : String(item)
            }
            s = String(s[...q]) + query.joined(separator: "&")
        }
        guard let secret = secretRange(in: s) else { return s }
        return s.replacingCharacters(in: secret, with: "[redacted]")
    }

    /// The secret in a URL's user-info (the password, or a lone token), nil when there is none.
    public static func secret(inURL s: String) -> String? {
        secretRange(in: s).map { String(s[$0]) }
    }

    /// Where a URL's secret is: the password of `user:password@`, or a whole lone user-info
    /// (a NATS token) except in a database URI, where that is only the user name.
    static func secretRange(in s: String) -> Range<String.Index>? {
        let schemeEnd = s.range(of: "://")
        let authorityStart = schemeEnd?.upperBound ?? s.startIndex
        let authorityEnd = s[authorityStart...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? s.endIndex
        guard let at = s[authorityStart..<authorityEnd].lastIndex(of: "@") else { return nil }
        let range: Range<String.Index>
        if let colon = s[authorityStart..<at].firstIndex(of: ":") {
            range = s.index(after: colon)..<at
        } else {
            let scheme = schemeEnd.map { s[..<$0.lowerBound].lowercased() } ?? ""
            if scheme == "postgres" || scheme == "postgresql" { return nil }
            range = authorityStart..<at
        }
        return range.isEmpty ? nil : range
    }

    /// libpq conninfo: `password=…` → `password=[redacted]`; URIs as `url(_:)`. Values may
    /// be single-quoted with backslash escapes (`password='a b\\'c'`), as libpq allows.
    public static func conninfo(_ s: String) -> String {
        if s.contains("://") { return url(s) }
        var out: [String] = []
        var i = s.startIndex
        func skipSpaces() { while i < s.endIndex, s[i].isWhitespace { i = s.index(after: i) } }
        while true {
            skipSpaces()
            guard i < s.endIndex else { break }
            var key = ""
            while i < s.endIndex, s[i] != "=", !s[i].isWhitespace { key.append(s[i]); i = s.index(after: i) }
            skipSpaces()
            guard i < s.endIndex, s[i] == "=" else { out.append(key); continue }
            i = s.index(after: i)
            skipSpaces()
            var raw = ""
            if i < s.endIndex, s[i] == "'" {
                raw.append(s[i]); i = s.index(after: i)
                while i < s.endIndex, s[i] != "'" {
                    if s[i] == "\\", s.index(after: i) < s.endIndex { raw.append(s[i]); i = s.index(after: i) }
                    raw.append(s[i]); i = s.index(after: i)
                }
                if i < s.endIndex { raw.append(s[i]); i = s.index(after: i) }
            } else {
                while i < s.endIndex, !s[i].isWhitespace {
                    if s[i] == "\\", s.index(after: i) < s.endIndex { raw.append(s[i]); i = s.index(after: i) }
                    raw.append(s[i]); i = s.index(after: i)
                }
            }
            out.append(key.lowercased() == "password" ? "password=[redacted]" : "\(key)=\(raw)")
        }
        return out.joined(separator: " ")
    }
}

/// Strings that must never reach a log line or an error message (passwords, tokens), and
/// the one way text is cleaned of them: each occurrence becomes `***`. Percent-decoded forms
/// count too (a URI's password is encoded; a server echoes it decoded), and longer secrets
/// go first, so one containing another is replaced whole.
public struct Secrets: Sendable, Equatable {
    public let values: [String]

    public init(_ values: [String]) {
        var unique: [String] = []
        for secret in values where !secret.isEmpty && !unique.contains(secret) {
            unique.append(secret)
            if let decoded = secret.removingPercentEncoding, decoded != secret, !unique.contains(decoded) {
                unique.append(decoded)
            }
        }
        self.values = unique.sorted { $0.count > $1.count }
    }

    public func scrub(_ text: String) -> String {
        values.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }
}

extension Redaction {
    /// The password values written in a PostgreSQL connection string, read lexically:
    /// `password=value` or `password='quoted value'` (keyword form, also as a URI
    /// parameter) and a URI's `user:password@`. For strings a parser cannot read too — its
    /// error may echo them.
    public static func passwords(inConnectionString text: String) -> [String] {
        var found: [String] = []
        var searchStart = text.startIndex
        while let range = text.range(of: "password", options: .caseInsensitive, range: searchStart..<text.endIndex) {
            searchStart = range.upperBound
            var index = range.upperBound
            while index < text.endIndex, text[index] == " " { index = text.index(after: index) }
            guard index < text.endIndex, text[index] == "=" else { continue }
            index = text.index(after: index)
            while index < text.endIndex, text[index] == " " { index = text.index(after: index) }
            let rest = Array(text[index...])
            var value = ""
            if rest.first == "'" {
                var i = 1
                while i < rest.count, rest[i] != "'" {
                    if rest[i] == "\\", i + 1 < rest.count { i += 1 }
                    value.append(rest[i])
                    i += 1
                }
            } else {
                for character in rest {
                    if character == " " || character == "&" || character == "\t" || character == "\n" { break }
                    value.append(character)
                }
            }
            if !value.isEmpty { found.append(value) }
        }
        if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://"), let password = secret(inURL: text) {
            found.append(password)
        }
        return found
    }
}
