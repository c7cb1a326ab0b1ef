import ArgumentParser
import DaemonKit

/// `ssmd settings`: every setting of every daemon and command, from their declarations —
/// `--markdown` prints README.md's settings table.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings", abstract: "List every setting: flag, environment variable, default, values and who takes it.",
        discussion: "README.md's settings table is `ssmd settings --markdown`; a test fails when they differ.")
    @Flag(name: .customLong("markdown"), help: "Print README.md's settings table (Markdown)")
    var markdown = false
    @Option(name: .customLong("program"), help: "Only the settings this program takes (series-fetcher, …, or an ssmd command such as 'ssmd prune')")
    var program: String?

    func validate() throws {
        if let program, !Program.every.contains(Program(program)) {
            throw ValidationError("--program \(program) is not one of \(Program.every.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        let declarations = program.map { Settings.taken(by: Program($0)) } ?? Settings.all
        print(markdown ? Settings.markdownTable(declarations) : Settings.plainListing(declarations), terminator: "")
    }
}
