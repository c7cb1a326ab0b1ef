import DaemonKit
import Foundation
import Testing
import TestSupport

/// Every daemon's and command's flags, as its own binary reports them, are the declared ones:
/// a flag added without a declaration (or a declaration no program reads) fails here.
@Suite(.tags(.processes)) struct SettingsHelpTests {
    /// Flags of `ssmd` commands that are arguments of one run, not settings.
    static let commandArguments: Set<String> = ["json", "new-only", "dry-run", "stage", "apply", "keep-messages", "by-series"]

    @Test(arguments: Program.every)
    func aProgramsFlagsAreItsDeclaredSettings(_ program: Program) async throws {
        let words = program.name.split(separator: " ").map(String.init)
        let (status, output) = try await runTool(BuiltProducts.executable(words[0]).path, Array(words.dropFirst()) + ["--experimental-dump-help"])
        #expect(status == 0, "\(output)")
        let dump = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let command = try #require(dump["command"] as? [String: Any])
        let arguments = (command["arguments"] as? [[String: Any]]) ?? []
        let flags = Set(arguments.flatMap { a in
            ((a["names"] as? [[String: Any]]) ?? []).filter { $0["kind"] as? String == "long" }.compactMap { $0["name"] as? String }
        }).subtracting(["help", "version", "experimental-dump-help"])
        let declared = Set(Settings.taken(by: program).map(\.flag))
        if program.isCLI {
            #expect(flags.subtracting(Self.commandArguments).subtracting(program.name == "ssmd series list" ? ["category", "tag", "games-only", "include-inactive"] : []) == declared,
                    "\(program)")
        } else {
            #expect(flags == declared, "\(program): undeclared \(flags.subtracting(declared).sorted()), not taken \(declared.subtracting(flags).sorted())")
        }
    }

    /// The text `--help` prints for a setting is its declaration's.
    @Test func helpPrintsTheDeclaredSentenceDefaultAndRange() async throws {
        let (status, output) = try await runTool(BuiltProducts.executable("series-fetcher").path, ["--help"])
        #expect(status == 0)
        let flat = output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for d in Settings.taken(by: .seriesFetcher) {
            #expect(flat.contains(d.helpText.split(whereSeparator: \.isWhitespace).joined(separator: " ")), "--\(d.flag): \(d.helpText)")
        }
    }
}
