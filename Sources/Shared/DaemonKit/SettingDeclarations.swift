import ArgumentParser
import Foundation
import Logging
import RateBudget

/// A program that takes settings: a daemon, or one `ssmd` command.
public struct Program: Hashable, Sendable, CustomStringConvertible {
    /// `series-fetcher`, or `ssmd series sync`.
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }
    public var isCLI: Bool { name.hasPrefix("ssmd ") }

    public static let seriesFetcher = Program("series-fetcher")
    public static let marketFetcher = Program("market-fetcher")
    public static let dbWriter = Program("db-writer")
    public static let lifecycleListener = Program("lifecycle-listener")
    public static let dataAPI = Program("data-api")
    public static func ssmd(_ command: String) -> Program { Program("ssmd \(command)") }

    public static let daemons: [Program] = [.seriesFetcher, .marketFetcher, .dbWriter, .lifecycleListener, .dataAPI]
    /// The `ssmd` commands that connect to NATS (they take the common options).
    public static let natsCommands: [Program] = [.ssmd("series sync"), .ssmd("secmaster sync"), .ssmd("watch"),
                                                 .ssmd("dlq list"), .ssmd("dlq replay"), .ssmd("prune")]
    /// The `ssmd` commands that read the exchange.
    public static let syncCommands: [Program] = [.ssmd("series sync"), .ssmd("secmaster sync")]
    /// The `ssmd` commands that connect to PostgreSQL.
    public static let databaseCommands: [Program] = [.ssmd("series list"), .ssmd("migrate"), .ssmd("mcp"), .ssmd("prune")]
    /// Every program with the common options.
    public static let all: [Program] = daemons + natsCommands
    public static let fetchers: [Program] = [.seriesFetcher, .marketFetcher]
    /// Every program there is: daemons and `ssmd` commands with settings.
    public static let every: [Program] = daemons + natsCommands + databaseCommands.filter { !natsCommands.contains($0) }
}

/// Everything about one setting, written once: its flag, its environment names, its kind
/// with default and range or choices, whether it is secret, who takes it and what it means.
/// The `--help` text, the resolver's defaults and checks, and README.md's settings table
/// all come from it.
public struct SettingDeclaration: Sendable {
    /// Where a setting is read besides its flag.
    public enum Environment: Sendable, Equatable {
        /// Flag only (a one-shot switch, or a command argument).
        case none
        /// `SSMD_<FLAG>`, then each conventional name other tools set (`NATS_URL`).
        case derived(fallbacks: [String])
    }

    public enum Kind: Sendable {
        /// Free text; nil: no default.
        case string(default: String?)
        case int(default: Int, range: ClosedRange<Int>)
        /// nil default: computed at start (`defaultDescription` says how).
        case double(default: Double?, range: ClosedRange<Double>)
        /// A flag (false unless given); with an environment name, also `true`/`false` there.
        case bool
        /// nil default: none (or required).
        case duration(default: Duration?, range: ClosedRange<Duration>)
        /// nil default: none (or derived at start).
        case url(default: String?, schemes: [String])
        /// Comma-separated URLs.
        case urls(default: String, schemes: [String])
        /// Repeatable, each value possibly comma-separated.
        case list
        /// nil default: computed at start.
        case choice(default: String?, choices: [String])
    }

    public let flag: String
    public let kind: Kind
    public let environment: Environment
    /// The value is never logged or echoed in an error.
    public let secret: Bool
    public let programs: [Program]
    /// One sentence (or two) for people: `--help` and the README.
    public let help: String
    /// How the default reads when it is not a fixed value ("the tier's"), else nil.
    public let defaultDescription: String?
    /// A word accepted besides the kind's values that turns the feature off ("off").
    public let offWord: String?

    public init(flag: String, kind: Kind, environment: Environment = .derived(fallbacks: []), secret: Bool = false,
                programs: [Program], help: String, defaultDescription: String? = nil, offWord: String? = nil) {
        self.flag = flag; self.kind = kind; self.environment = environment; self.secret = secret
        self.programs = programs; self.help = help; self.defaultDescription = defaultDescription; self.offWord = offWord
    }

    /// `SSMD_<FLAG>` (dashes become underscores), or nil for a flag-only setting.
    public var environmentName: String? {
        environment == .none ? nil : SettingsResolver.envName(flag)
    }

    /// Every environment name read, in order.
    public var environmentNames: [String] {
        switch environment {
        case .none: return []
        case .derived(let fallbacks): return [SettingsResolver.envName(flag)] + fallbacks
        }
    }

    /// How errors name the setting: `--flag (SSMD_FLAG)`.
    public var label: String {
        environmentName.map { "--\(flag) (\($0))" } ?? "--\(flag)"
    }

    /// The default as people read it, or nil when there is none.
    public var defaultText: String? {
        if let defaultDescription { return defaultDescription }
        switch kind {
        case .string(let d): return d
        case .int(let d, _): return "\(d)"
        case .double(let d, _): return d.map(Self.format)
        case .bool: return environment == .none ? nil : "false"
        case .duration(let d, _): return d.map(Self.format)
        case .url(let d, _): return d
        case .urls(let d, _): return d
        case .list: return nil
        case .choice(let d, _): return d
        }
    }

    /// What values it takes, when that is narrower than its kind: a range or the choices.
    public var valuesText: String? {
        let off = offWord.map { ", or \($0)" } ?? ""
        switch kind {
        case .string, .bool, .list: return offWord.map { "or \($0)" }
        case .int(_, let r): return "range \(r.lowerBound)–\(r.upperBound)\(off)"
        case .double(_, let r): return "range \(Self.format(r.lowerBound))–\(Self.format(r.upperBound))\(off)"
        case .duration(_, let r): return "range \(Self.format(r.lowerBound))–\(Self.format(r.upperBound))\(off)"
        case .url(_, let schemes), .urls(_, let schemes): return "\(schemes.joined(separator: "/")) URL\(off)"
        case .choice(_, let choices): return "one of \(choices.joined(separator: ", "))"
        }
    }

    /// The `--help` text: the sentence, where else it is read, its default and range.
    public var helpText: String {
        var text = help
        if !environmentNames.isEmpty {
            text += " (\(environmentNames.joined(separator: ", else ")))"
        }
        var facts: [String] = []
        if let d = defaultText { facts.append("Default \(d)") }
        if let v = valuesText { facts.append(facts.isEmpty ? v.prefix(1).uppercased() + v.dropFirst() : v) }
        if !facts.isEmpty { text += ". " + facts.joined(separator: "; ") }
        if secret { text += ". Never logged" }
        return text
    }

    public var argumentHelp: ArgumentHelp {
        ArgumentHelp(stringLiteral: helpText)
    }

    /// `1d`, `6h`, `5m`, `30s`, `500ms`: the largest unit that is exact.
    public static func format(_ d: Duration) -> String {
        let (seconds, attoseconds) = d.components
        if attoseconds != 0 || seconds == 0 {
            let ms = Double(seconds) * 1000 + Double(attoseconds) / 1e15
            return seconds == 0 && attoseconds == 0 ? "0s" : "\(format(ms))ms"
        }
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    /// `1`, `0.01`, `1000000`: no exponent, no trailing zeros.
    public static func format(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return "\(Int64(v))" }
        return "\(v)"
    }
}

/// A declared setting whose resolved value is a `Value`; `SettingsResolver.value(_:_:)` turns
/// a flag (or its environment variable) into one.
public struct Setting<Value>: Sendable {
    public let declaration: SettingDeclaration
    init(_ declaration: SettingDeclaration) { self.declaration = declaration }

    public var flag: String { declaration.flag }
    /// For `@Option(name:)` / `@Flag(name:)`.
    public var name: NameSpecification { .customLong(declaration.flag) }
    /// For `@Option(help:)` / `@Flag(help:)`.
    public var help: ArgumentHelp { declaration.argumentHelp }
    public var label: String { declaration.label }
}

/// on/off settings.
public enum OnOff: String, Sendable, CaseIterable { case on, off }

// MARK: - Declaring

extension Setting {
    typealias Env = SettingDeclaration.Environment
    static var week: Duration { .seconds(7 * 86_400) }
}

extension Setting where Value == String {
    static func string(_ flag: String, default d: String, for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .string(default: d), programs: programs, help: help))
    }
    static func url(_ flag: String, default d: String, schemes: [String], for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .url(default: d, schemes: schemes), programs: programs, help: help))
    }
}

extension Setting where Value == String? {
    static func string(_ flag: String, environment: Env = .derived(fallbacks: []), secret: Bool = false, for programs: [Program],
                       _ help: String, default described: String? = nil) -> Self {
        Self(.init(flag: flag, kind: .string(default: nil), environment: environment, secret: secret, programs: programs, help: help,
                   defaultDescription: described))
    }
    static func url(_ flag: String, schemes: [String], for programs: [Program], _ help: String, default described: String? = nil) -> Self {
        Self(.init(flag: flag, kind: .url(default: nil, schemes: schemes), programs: programs, help: help, defaultDescription: described))
    }
}

extension Setting where Value == Int {
    static func int(_ flag: String, default d: Int, range: ClosedRange<Int>, for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .int(default: d, range: range), programs: programs, help: help))
    }
}

extension Setting where Value == Int? {
    /// An integer, or `off`.
    static func int(_ flag: String, default d: Int, range: ClosedRange<Int>, off: String, for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .int(default: d, range: range), programs: programs, help: help, offWord: off))
    }
}

extension Setting where Value == Double {
    static func double(_ flag: String, default d: Double?, range: ClosedRange<Double>, for programs: [Program], _ help: String,
                       default described: String? = nil) -> Self {
        Self(.init(flag: flag, kind: .double(default: d, range: range), programs: programs, help: help, defaultDescription: described))
    }
}

extension Setting where Value == Bool {
    static func flag(_ flag: String, environment: Env = .derived(fallbacks: []), for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .bool, environment: environment, programs: programs, help: help))
    }
}

extension Setting where Value == Duration {
    static func duration(_ flag: String, default d: Duration, min: Duration = .zero, max: Duration = week,
                         for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .duration(default: d, range: min...max), programs: programs, help: help))
    }
}

extension Setting where Value == Duration? {
    /// A duration, or `off` (nil).
    static func duration(_ flag: String, default d: Duration, min: Duration = .zero, max: Duration = week, off: String,
                         for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .duration(default: d, range: min...max), programs: programs, help: help, offWord: off))
    }
    /// A duration with no default: nil when not given.
    static func duration(_ flag: String, min: Duration = .zero, max: Duration = week, environment: Env,
                         for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .duration(default: nil, range: min...max), environment: environment, programs: programs, help: help))
    }
}

extension Setting where Value == [String] {
    static func list(_ flag: String, for programs: [Program], _ help: String, default described: String? = nil) -> Self {
        Self(.init(flag: flag, kind: .list, programs: programs, help: help, defaultDescription: described))
    }
    static func urls(_ flag: String, default d: String, schemes: [String], fallback: String, for programs: [Program], _ help: String) -> Self {
        Self(.init(flag: flag, kind: .urls(default: d, schemes: schemes), environment: .derived(fallbacks: [fallback]), programs: programs, help: help))
    }
}

extension Setting where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    static func choice(_ flag: String, default d: Value?, for programs: [Program], _ help: String, default described: String? = nil) -> Self {
        Self(.init(flag: flag, kind: .choice(default: d?.rawValue, choices: Value.allCases.map(\.rawValue)), programs: programs, help: help,
                   defaultDescription: described))
    }
}
