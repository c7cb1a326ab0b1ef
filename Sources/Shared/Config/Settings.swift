import Foundation
import Logging

/// A setting that failed validation: one line naming the flag, its environment variable and
/// what is wrong. Daemons print it and exit 2.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var setting: String
    public var problem: String
    public init(setting: String, problem: String) { self.setting = setting; self.problem = problem }
    public var description: String { "invalid setting \(setting): \(problem)" }
}

/// Reads each setting from its flag, else its `SSMD_*` environment variable, else a default,
/// and validates it with a message that names the setting.
public struct SettingsResolver: Sendable {
    public let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public static func envName(_ flag: String) -> String {
        "SSMD_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    static func label(_ flag: String) -> String { "--\(flag) (\(envName(flag)))" }

    public func string(_ flag: String, _ value: String?, default d: String? = nil) -> String? {
        if let value { return value }
        if let e = environment[Self.envName(flag)], !e.isEmpty { return e }
        return d
    }

    public func required(_ flag: String, _ value: String?, default d: String? = nil) throws -> String {
        guard let v = string(flag, value, default: d), !v.isEmpty else {
            throw ConfigurationError(setting: Self.label(flag), problem: "is required")
        }
        return v
    }

    public func list(_ flag: String, _ values: [String]) -> [String] {
        if !values.isEmpty { return values }
        guard let e = environment[Self.envName(flag)], !e.isEmpty else { return [] }
        return e.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public func int(_ flag: String, _ value: String?, default d: Int, range: ClosedRange<Int>) throws -> Int {
        guard let s = string(flag, value) else { return d }
        guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(Self.quote(s)) is not an integer")
        }
        guard range.contains(v) else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(v) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    public func double(_ flag: String, _ value: String?, default d: Double, range: ClosedRange<Double>) throws -> Double {
        guard let s = string(flag, value) else { return d }
        guard let v = Double(s.trimmingCharacters(in: .whitespaces)), v.isFinite else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(Self.quote(s)) is not a number")
        }
        guard range.contains(v) else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(v) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    public func bool(_ flag: String, _ value: Bool?, default d: Bool) throws -> Bool {
        if let value { return value }
        guard let e = environment[Self.envName(flag)], !e.isEmpty else { return d }
        switch e.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(setting: Self.label(flag), problem: "\(Self.quote(e)) is not a boolean (true/false)")
        }
    }

    /// Durations like `500ms`, `30s`, `5m`, `1h`, or a bare number of seconds.
    public func duration(_ flag: String, _ value: String?, default d: Duration, min: Duration = .zero, max: Duration = .seconds(86_400 * 7)) throws -> Duration {
        guard let s = string(flag, value) else { return d }
        guard let v = Self.parseDuration(s) else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(Self.quote(s)) is not a duration (e.g. 500ms, 30s, 5m, 1h)")
        }
        guard v >= min, v <= max else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(s) is outside \(min)…\(max)")
        }
        return v
    }

    public func url(_ flag: String, _ value: String?, default d: String, schemes: [String]) throws -> String {
        let s = string(flag, value, default: d) ?? d
        guard let u = URL(string: s), let scheme = u.scheme?.lowercased(), schemes.contains(scheme), u.host != nil else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(Self.quote(Redaction.url(s))) is not a \(schemes.joined(separator: "/")) URL")
        }
        return s
    }

    public func choice<T: RawRepresentable & CaseIterable>(_ flag: String, _ value: String?, default d: T) throws -> T where T.RawValue == String {
        guard let s = string(flag, value) else { return d }
        guard let v = T(rawValue: s.lowercased()) else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(Self.quote(s)) is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    public func logLevel(_ value: String?) throws -> Logger.Level {
        guard let s = string("log-level", value) else { return .info }
        guard let l = Logger.Level(rawValue: s.lowercased()) else {
            throw ConfigurationError(setting: Self.label("log-level"), problem: "\(Self.quote(s)) is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return l
    }

    public static func parseDuration(_ raw: String) -> Duration? {
        let s = raw.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            let number = s.dropLast(suffix.count)
            guard let v = Double(number), v.isFinite, v >= 0, v * factor < 9.0e12 else { return nil }
            return .microseconds(Int64(v * factor * 1e6))
        }
        guard let v = Double(s), v.isFinite, v >= 0, v < 9.0e12 else { return nil }
        return .microseconds(Int64(v * 1e6))
    }

    static func quote(_ s: String) -> String { "\"\(s.prefix(80))\"" }
}

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
