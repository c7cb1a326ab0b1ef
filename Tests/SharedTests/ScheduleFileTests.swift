import Foundation
import Testing
@testable import DaemonKit
@testable import SyncCore

@Suite struct ScheduleFileTests {
    static var repositorySchedules: String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/schedules.yaml")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    @Test func theShippedFileParses() throws {
        let s = try ScheduleFile.parse(Self.repositorySchedules)
        #expect(s.map(\.name) == ["sync-sports-us", "sync-sports-soccer", "sync-financials", "sync-politics", "sync-everything-else"])
        #expect(s[0].selection == SeriesSelection(tags: ["Basketball", "Football", "Hockey", "Baseball"], gamesOnly: true))
        #expect(s[0].interval == .seconds(300))
        #expect(s[4].selection.coversEverything)
    }

    @Test(arguments: [
        ("schedules: []", "empty"),
        ("schedules:\n  - tags: [A]\n    interval: 5m", "schedules[0].name"),
        ("schedules:\n  - name: a\n    interval: soon", "schedules[0].interval"),
        ("schedules:\n  - name: a\n    interval: 1m\n  - name: a\n    interval: 1m", "used twice"),
        ("schedules:\n  - name: a\n    interval: 1m\n    games_only: perhaps", "games_only"),
        ("schedules: [", "YAML"),
    ])
    func badFilesNameTheProblem(_ yaml: String, _ mention: String) {
        #expect { try ScheduleFile.parse(yaml) } throws: { "\($0)".contains(mention) && "\($0)".contains("--schedule-file") }
    }
}
