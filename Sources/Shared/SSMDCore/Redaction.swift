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
