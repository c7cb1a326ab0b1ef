import Foundation
import Testing
@testable import DaemonKit
import Logging
import Pipeline
import SSMDCore

/// The settings catalog (`Settings`): one declaration per setting, consistent in itself, and
/// the source of `--help`, the resolver's defaults and README.md's table. No process: these
/// live here rather than in PureTests because DaemonKit links the C clients.
@Suite struct SettingCatalogTests {
    @Test func noProgramTakesAFlagTwice() {
        for program in Program.every {
            let flags = Settings.taken(by: program).map(\.flag)
            #expect(Set(flags).count == flags.count, "\(program): \(flags.sorted())")
        }
    }

    @Test func everyDeclarationIsTakenByAKnownProgram() {
        for d in Settings.all {
            #expect(!d.programs.isEmpty, "--\(d.flag)")
            #expect(d.programs.allSatisfy(Program.every.contains), "--\(d.flag): \(d.programs)")
            #expect(Set(d.programs).count == d.programs.count, "--\(d.flag) lists a program twice")
        }
    }

    @Test func flagsAreLowercaseWordsAndEnvironmentNamesAreDerivedFromThem() {
        for d in Settings.all {
            #expect(d.flag.range(of: "^[a-z][a-z0-9]*(-[a-z0-9]+)*$", options: .regularExpression) != nil, "--\(d.flag)")
            guard case .derived(let fallbacks) = d.environment else { continue }
            #expect(d.environmentName == "SSMD_" + d.flag.uppercased().replacingOccurrences(of: "-", with: "_"))
            #expect(d.environmentNames.first == d.environmentName)
            // Only the names other tools already set are read besides SSMD_* ones.
            #expect(fallbacks.allSatisfy { ["NATS_URL", "DATABASE_URL"].contains($0) }, "--\(d.flag): \(fallbacks)")
        }
        #expect(Settings.natsURL.declaration.environmentNames == ["SSMD_NATS_URL", "NATS_URL"])
        #expect(Settings.databaseURL.declaration.environmentNames == ["SSMD_DATABASE_URL", "DATABASE_URL"])
        #expect(Settings.once.declaration.environmentNames.isEmpty && Settings.full.declaration.environmentNames.isEmpty)
    }

    @Test func declarationsSharingAFlagShareItsKindOfValue() {
        let byFlag = Dictionary(grouping: Settings.all, by: \.flag).filter { $0.value.count > 1 }
        #expect(Set(byFlag.keys) == ["ack-wait"], "only --ack-wait means different things to different programs")
        for (flag, ds) in byFlag {
            #expect(Set(ds.map(\.environmentNames)).count == 1, "--\(flag)")
        }
    }

    @Test func defaultsLieWithinTheirRangesAndChoices() throws {
        for d in Settings.all {
            switch d.kind {
            case .int(let def, let range): #expect(range.contains(def), "--\(d.flag)")
            case .double(let def, let range): if let def { #expect(range.contains(def), "--\(d.flag)") }
            case .duration(let def, let range):
                #expect(range.lowerBound >= .zero, "--\(d.flag)")
                if let def { #expect(range.contains(def), "--\(d.flag)") }
            case .choice(let def, let choices):
                #expect(!choices.isEmpty && Set(choices).count == choices.count, "--\(d.flag)")
                if let def { #expect(choices.contains(def), "--\(d.flag)") }
            case .url(let def, let schemes):
                if let def { #expect(schemes.contains(URL(string: def)?.scheme ?? ""), "--\(d.flag)") }
            case .urls(let def, let schemes):
                #expect(def.split(separator: ",").allSatisfy { schemes.contains(URL(string: String($0))?.scheme ?? "") }, "--\(d.flag)")
            case .string, .bool, .list: break
            }
            // A default computed at start is described; a missing one is said so ("—").
            if case .choice(.none, _) = d.kind { #expect(d.defaultDescription != nil, "--\(d.flag)") }
            if case .double(.none, _) = d.kind { #expect(d.defaultDescription != nil, "--\(d.flag)") }
        }
    }

    /// Defaults that another module also knows must agree with it.
    @Test func ackWaitDefaultsAreTheTopologys() throws {
        let r = SettingsResolver(environment: [:])
        #expect(try r.value(Settings.workAckWait, nil) == Topology().workAckWait)
        #expect(try r.value(Settings.writerAckWait, nil) == Topology().writerAckWait)
        #expect(try r.value(Settings.rateLeaseSlots, nil) == "auto")
    }

    @Test func helpNamesTheEnvironmentTheDefaultAndTheRange() {
        for d in Settings.all {
            #expect(!d.help.isEmpty && !d.help.hasSuffix(".") && !d.help.hasSuffix(")"), "--\(d.flag): the sentence ends where the facts begin")
            #expect(!d.help.contains("(SSMD_"), "--\(d.flag): the environment name is added from the declaration, not written in the sentence")
            for name in d.environmentNames { #expect(d.helpText.contains(name), "--\(d.flag): \(d.helpText)") }
            if let def = d.defaultText { #expect(d.helpText.contains("Default \(def)"), "--\(d.flag): \(d.helpText)") }
            if d.secret { #expect(d.helpText.contains("Never logged"), "--\(d.flag)") }
        }
        #expect(Settings.interval.declaration.helpText == "Time between cycle starts (SSMD_INTERVAL). Default 5m; range 1s–7d")
        #expect(Settings.natsURL.declaration.helpText.contains("(SSMD_NATS_URL, else NATS_URL). Default nats://127.0.0.1:4222"))
        #expect(Settings.retention.declaration.helpText.hasSuffix("Default 30d; range 1h–3650d, or off"))
        #expect(Settings.logFormat.declaration.helpText.hasSuffix("Default logfmt; one of logfmt, json"))
    }

    /// The option groups' `--help` is the declarations' (no column wrapping to split names).
    @Test func optionGroupsHelpComesFromTheDeclarations() {
        let help = CommonOptions.helpMessage(columns: 10_000) + ExchangeOptions.helpMessage(columns: 10_000)
            + DatabaseOptions.helpMessage(columns: 10_000) + OpsOptions.helpMessage(columns: 10_000)
        let declared = Settings.all.filter { d in
            d.programs.contains(.marketFetcher) || d.programs.contains(.dbWriter) }.filter {
            ["nats", "log", "stream", "shutdown", "exchange", "rate", "api", "http-t", "http-m", "database", "metrics-p", "metrics-h"]
                .contains(where: $0.flag.hasPrefix)
        }
        #expect(declared.count == 24)
        for d in declared {
            #expect(help.contains("--\(d.flag) "), "--\(d.flag)")
            #expect(help.contains(d.helpText), "--\(d.flag): \(d.helpText)")
        }
    }

    @Test func durationsAndNumbersReadAsPeopleWriteThem() {
        #expect(SettingDeclaration.format(Duration.seconds(300)) == "5m")
        #expect(SettingDeclaration.format(Duration.seconds(86_400)) == "1d")
        #expect(SettingDeclaration.format(Duration.seconds(90)) == "90s")
        #expect(SettingDeclaration.format(Duration.milliseconds(500)) == "500ms")
        #expect(SettingDeclaration.format(Duration.zero) == "0s")
        #expect(SettingDeclaration.format(0.01) == "0.01")
        #expect(SettingDeclaration.format(1_000_000.0) == "1000000")
        // What the help prints parses back to the same value.
        for d in Settings.all {
            if case .duration(let def?, let range) = d.kind {
                for v in [def, range.lowerBound, range.upperBound] {
                    #expect(SettingsResolver.parseDuration(SettingDeclaration.format(v)) == v, "--\(d.flag) \(v)")
                }
            }
        }
    }
}

/// The resolver reads each declared setting as the declaration says.
@Suite struct DeclaredSettingResolutionTests {
    @Test func flagThenEnvironmentThenFallbackThenDefault() throws {
        let none = SettingsResolver(environment: [:])
        #expect(try none.value(Settings.interval, nil) == .seconds(300))
        #expect(try SettingsResolver(environment: ["SSMD_INTERVAL": "1m"]).value(Settings.interval, nil) == .seconds(60))
        #expect(try SettingsResolver(environment: ["SSMD_INTERVAL": "1m"]).value(Settings.interval, "2m") == .seconds(120), "the flag wins")
        #expect(try SettingsResolver(environment: ["SSMD_INTERVAL": ""]).value(Settings.interval, nil) == .seconds(300), "empty is unset")
        #expect(try SettingsResolver(environment: ["NATS_URL": "nats://a:1, nats://b:2"]).value(Settings.natsURL, nil) == ["nats://a:1", "nats://b:2"])
        #expect(try none.value(Settings.natsURL, nil) == ["nats://127.0.0.1:4222"])
        #expect(try SettingsResolver(environment: ["SSMD_ONCE": "true"]).value(Settings.once, false) == false, "--once has no environment name")
    }

    @Test func badValuesNameTheFlagAndTheEnvironmentName() {
        let r = SettingsResolver(environment: [:])
        #expect(message { try r.value(Settings.interval, "soon") } == "invalid setting --interval (SSMD_INTERVAL): \"soon\" is not a duration (e.g. 500ms, 30s, 5m, 1h, 30d)")
        #expect(message { try r.value(Settings.interval, "0s") } == "invalid setting --interval (SSMD_INTERVAL): 0s is outside 1s…7d")
        #expect(message { try r.value(Settings.concurrency, "0") } == "invalid setting --concurrency (SSMD_CONCURRENCY): 0 is outside 1…256")
        #expect(message { try r.value(Settings.logFormat, "xml") } == "invalid setting --log-format (SSMD_LOG_FORMAT): \"xml\" is not one of logfmt, json")
        #expect(message { try r.value(Settings.poolShare, "2") } == "invalid setting --pool-share (SSMD_POOL_SHARE): 2.0 is outside 0.01…1.0")
        #expect(message { try r.value(Settings.natsURL, "http://h:4222") }?.hasPrefix("invalid setting --nats-url (SSMD_NATS_URL)") == true)
        #expect(message { try SettingsResolver(environment: ["SSMD_GAMES_ONLY": "maybe"]).value(Settings.gamesOnly, false) }
                == "invalid setting --games-only (SSMD_GAMES_ONLY): \"maybe\" is not a boolean (true/false)")
        #expect(message { try r.value(Settings.deadLetterSince, "soon") }?.hasPrefix("invalid setting --since: ") == true, "no environment name to give")
    }

    @Test func offWordsAndComputedDefaults() throws {
        let r = SettingsResolver(environment: [:])
        #expect(try r.value(Settings.retention, nil) == .seconds(30 * 86_400))
        #expect(try r.value(Settings.retention, "OFF") == nil)
        #expect(try r.value(Settings.metricsPort, nil) == 0)
        #expect(try r.value(Settings.metricsPort, "off") == nil)
        #expect(message { try r.value(Settings.metricsPort, "of") } == "invalid setting --metrics-port (SSMD_METRICS_PORT): \"of\" is not an integer (or off)")
        #expect(try r.value(Settings.rateTokensPerSecond, nil, default: 200) == 200)
        #expect(try r.value(Settings.deadLetterSince, nil) == nil)
    }

    @Test func aSecretValueIsNeverEchoed() {
        let secret = SettingDeclaration(flag: "nats-token", kind: .choice(default: "a", choices: ["a"]), secret: true, programs: [.dbWriter], help: "t")
        let m = message { try SettingsResolver(environment: [:]).value(Setting<OnOff>(secret), "hunter2") }
        #expect(m?.contains("hunter2") == false, "\(m ?? "")")
        #expect(m?.contains("--nats-token (SSMD_NATS_TOKEN)") == true)
    }

    func message(_ body: () throws -> Any?) -> String? {
        do { _ = try body(); return nil } catch { return "\(error)" }
    }
}

/// README.md's settings table is the generated one: edit a declaration, then run
/// `swift run ssmd settings --markdown` and paste its output over the table.
@Suite struct READMESettingsTableTests {
    @Test func readmeTableIsTheGeneratedOne() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let table = try #require(Settings.tableIn(readme: text), "README.md has no generated settings table between its markers")
        let generated = Settings.markdownTable()
        if table != generated {
            let have = table.split(separator: "\n"), want = generated.split(separator: "\n")
            let first = Array(zip(have, want)).firstIndex { $0 != $1 } ?? min(have.count, want.count)
            Issue.record("""
                README.md's settings table differs from `ssmd settings --markdown` at line \(first + 1) of the table:
                README:    \(first < have.count ? String(have[first]) : "(end)")
                generated: \(first < want.count ? String(want[first]) : "(end)")
                Regenerate it: swift run ssmd settings --markdown
                """)
        }
        #expect(generated.split(separator: "\n").count == Settings.all.count + 4)
    }
}
