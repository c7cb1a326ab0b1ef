import Foundation
import Logging
import SSMDCore

/// Reads each declared setting (`Settings`) from its flag, else its environment variables
/// (`SSMD_*`, then a conventional name), else its declared default, and validates it against
/// its declared range or choices with a message that names the setting: `--flag (SSMD_FLAG)`.
public struct SettingsResolver: Sendable {
    public let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public static func envName(_ flag: String) -> String {
        "SSMD_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    // MARK: Declared settings: default, range and environment names come from the declaration.

    /// The flag's value, else the first non-empty environment variable the declaration names.
    func raw(_ d: SettingDeclaration, _ value: String?) -> String? {
        if let value { return value }
        for name in d.environmentNames {
            if let e = environment[name], !e.isEmpty { return e }
        }
        return nil
    }

    func invalid(_ d: SettingDeclaration, _ problem: String) -> ConfigurationError {
        ConfigurationError(setting: d.label, problem: problem)
    }

    /// A value as an error may show it: a secret one never is.
    func shown(_ d: SettingDeclaration, _ s: String) -> String {
        d.secret ? "the value given" : Self.quote(s)
    }

    func isOff(_ d: SettingDeclaration, _ s: String) -> Bool {
        d.offWord.map { s.trimmingCharacters(in: .whitespaces).lowercased() == $0 } ?? false
    }

    /// Text, a URL checked against its schemes, with the declared default.
    public func value(_ s: Setting<String>, _ value: String?) throws -> String {
        let d = s.declaration
        switch d.kind {
        case .string(let def?):
            return raw(d, value) ?? def
        case .url(let def?, let schemes):
            return try checkedURL(d, raw(d, value) ?? def, schemes: schemes)
        default:
            preconditionFailure("\(d.flag) is not a string or URL setting with a default")
        }
    }

    /// Text or a URL that may be absent (nil: not given anywhere; the caller knows its
    /// default, which the declaration describes).
    public func value(_ s: Setting<String?>, _ value: String?) throws -> String? {
        let d = s.declaration
        guard let given = raw(d, value) else { return nil }
        switch d.kind {
        case .string: return given
        case .url(_, let schemes): return try checkedURL(d, given, schemes: schemes)
        default: preconditionFailure("\(d.flag) is not a string or URL setting")
        }
    }

    /// A required text setting: absent or empty is an error.
    public func required(_ s: Setting<String?>, _ value: String?) throws -> String {
        guard let v = try self.value(s, value), !v.isEmpty else { throw invalid(s.declaration, "is required") }
        return v
    }

    public func value(_ s: Setting<Int>, _ value: String?) throws -> Int {
        guard case .int(let def, let range) = s.declaration.kind else { preconditionFailure("\(s.flag) is not an integer setting") }
        guard let given = raw(s.declaration, value) else { return def }
        return try integer(s.declaration, given, range: range)
    }

    /// An integer, or nil for the declaration's off word (`--metrics-port off`).
    public func value(_ s: Setting<Int?>, _ value: String?) throws -> Int? {
        guard case .int(let def, let range) = s.declaration.kind else { preconditionFailure("\(s.flag) is not an integer setting") }
        guard let given = raw(s.declaration, value) else { return def }
        if isOff(s.declaration, given) { return nil }
        return try integer(s.declaration, given, range: range)
    }

    /// A number; `default` replaces the declared one when it is computed at start (a tier's).
    public func value(_ s: Setting<Double>, _ value: String?, default computed: Double? = nil) throws -> Double {
        let d = s.declaration
        guard case .double(let declared, let range) = d.kind, let def = computed ?? declared else {
            preconditionFailure("\(d.flag) is not a number setting with a default")
        }
        guard let given = raw(d, value) else { return def }
        guard let v = Double(given.trimmingCharacters(in: .whitespaces)), v.isFinite else {
            throw invalid(d, "\(shown(d, given)) is not a number")
        }
        guard range.contains(v) else { throw invalid(d, "\(v) is outside \(range.lowerBound)…\(range.upperBound)") }
        return v
    }

    /// A flag: true when given, else its environment variable's boolean, else false.
    public func value(_ s: Setting<Bool>, _ flag: Bool) throws -> Bool {
        let d = s.declaration
        if flag { return true }
        guard let e = raw(d, nil) else { return false }
        switch e.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw invalid(d, "\(shown(d, e)) is not a boolean (true/false)")
        }
    }

    public func value(_ s: Setting<Duration>, _ value: String?) throws -> Duration {
        guard case .duration(let def?, let range) = s.declaration.kind else { preconditionFailure("\(s.flag) is not a duration setting with a default") }
        guard let given = raw(s.declaration, value) else { return def }
        return try duration(s.declaration, given, range: range)
    }

    /// A duration, or nil: the declaration's off word (`--retention off`), or not given when
    /// it has no default.
    public func value(_ s: Setting<Duration?>, _ value: String?) throws -> Duration? {
        guard case .duration(let def, let range) = s.declaration.kind else { preconditionFailure("\(s.flag) is not a duration setting") }
        guard let given = raw(s.declaration, value) else { return def }
        if isOff(s.declaration, given) { return nil }
        return try duration(s.declaration, given, range: range)
    }

    /// A repeatable flag's values, each of which may itself be comma-separated (`--tag A,B`
    /// is `--tag A --tag B`), else the environment variable's comma-separated values.
    public func value(_ s: Setting<[String]>, _ values: [String]) -> [String] {
        guard case .list = s.declaration.kind else { preconditionFailure("\(s.flag) is not a list setting") }
        let raw = values.isEmpty ? [self.raw(s.declaration, nil) ?? ""] : values
        return raw.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Comma-separated URLs, each checked against the declared schemes.
    public func value(_ s: Setting<[String]>, _ value: String?) throws -> [String] {
        let d = s.declaration
        guard case .urls(let def, let schemes) = d.kind else { preconditionFailure("\(d.flag) is not a URL list setting") }
        let urls = (raw(d, value) ?? def).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !urls.isEmpty else { throw invalid(d, "is empty") }
        return try urls.map { try checkedURL(d, $0, schemes: schemes) }
    }

    /// One of the choices; `default` replaces the declared one when it is computed at start.
    public func value<T: RawRepresentable & CaseIterable>(_ s: Setting<T>, _ value: String?, default computed: T? = nil) throws -> T
    where T.RawValue == String {
        let d = s.declaration
        guard case .choice(let declared, let choices) = d.kind else { preconditionFailure("\(d.flag) is not a choice setting") }
        guard let given = raw(d, value) else {
            guard let def = computed ?? declared.flatMap(T.init(rawValue:)) else { preconditionFailure("\(d.flag) has no default") }
            return def
        }
        guard let v = T(rawValue: given.lowercased()) else {
            throw invalid(d, "\(shown(d, given)) is not one of \(choices.joined(separator: ", "))")
        }
        return v
    }

    func integer(_ d: SettingDeclaration, _ s: String, range: ClosedRange<Int>) throws -> Int {
        guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
            throw invalid(d, "\(shown(d, s)) is not an integer\(d.offWord.map { " (or \($0))" } ?? "")")
        }
        guard range.contains(v) else { throw invalid(d, "\(v) is outside \(range.lowerBound)…\(range.upperBound)") }
        return v
    }

    func duration(_ d: SettingDeclaration, _ s: String, range: ClosedRange<Duration>) throws -> Duration {
        guard let v = Self.parseDuration(s) else {
            throw invalid(d, "\(shown(d, s)) is not a duration (e.g. 500ms, 30s, 5m, 1h, 30d)\(d.offWord.map { " or \($0)" } ?? "")")
        }
        // Bounds as people write them (1h…3650d), not as Duration prints them.
        guard range.contains(v) else {
            throw invalid(d, "\(s) is outside \(SettingDeclaration.format(range.lowerBound))…\(SettingDeclaration.format(range.upperBound))")
        }
        return v
    }

    func checkedURL(_ d: SettingDeclaration, _ s: String, schemes: [String]) throws -> String {
        guard let u = URL(string: s), let scheme = u.scheme?.lowercased(), schemes.contains(scheme), u.host != nil else {
            throw invalid(d, "\(Self.quote(Redaction.url(s))) is not a \(schemes.joined(separator: "/")) URL")
        }
        return s
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

