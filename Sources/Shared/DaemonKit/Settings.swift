import Foundation
import Logging
import SSMDCore

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

    /// Conventional environment names read after `SSMD_*` ones: what other tools set.
    public static let conventionalNames: [String: String] = ["database-url": "DATABASE_URL", "nats-url": "NATS_URL"]

    public func string(_ flag: String, _ value: String?, default d: String? = nil) -> String? {
        if let value { return value }
        if let e = environment[Self.envName(flag)], !e.isEmpty { return e }
        if let name = Self.conventionalNames[flag], let e = environment[name], !e.isEmpty { return e }
        return d
    }

    public func required(_ flag: String, _ value: String?, default d: String? = nil) throws -> String {
        guard let v = string(flag, value, default: d), !v.isEmpty else {
            throw ConfigurationError(setting: Self.label(flag), problem: "is required")
        }
        return v
    }

    /// A repeatable flag's values, each of which may itself be comma-separated (`--tag A,B`
    /// is `--tag A --tag B`), else the environment variable's comma-separated values.
    public func list(_ flag: String, _ values: [String]) -> [String] {
        let raw = values.isEmpty ? [environment[Self.envName(flag)] ?? ""] : values
        return raw.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
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

    /// Durations like `500ms`, `30s`, `5m`, `1h`, `30d`, or a bare number of seconds.
    public func duration(_ flag: String, _ value: String?, default d: Duration, min: Duration = .zero, max: Duration = .seconds(86_400 * 7)) throws -> Duration {
        guard let s = string(flag, value) else { return d }
        guard let v = Self.parseDuration(s) else {
            throw ConfigurationError(setting: Self.label(flag), problem: "\(Self.quote(s)) is not a duration (e.g. 500ms, 30s, 5m, 1h, 30d)")
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
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
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

