import Foundation
import Yams
import SSMDCore
import SyncCore

/// A schedule file:
///
/// ```yaml
/// schedules:
///   - name: sync-sports-us
///     tags: [Basketball, Football, Hockey, Baseball]
///     games_only: true
///     interval: 5m
///   - name: sync-financials
///     categories: [Financials]
///     interval: 15m
/// ```
///
/// Where schedules overlap, a series belongs to the first schedule (in file order) that
/// covers it, so it is synced once per that schedule's cycle and never twice.
public enum ScheduleFile {
    struct Document: Decodable {
        var schedules: [Entry]
    }

    struct Entry: Decodable {
        var name: String?
        var tags: [String]?
        var categories: [String]?
        var gamesOnly: Bool?
        var interval: String?
        enum CodingKeys: String, CodingKey { case name, tags, categories, gamesOnly = "games_only", interval }
    }

    public static func parse(_ yaml: String, source: String = "--schedule-file (SSMD_SCHEDULE_FILE)") throws -> [Schedule] {
        let document: Document
        do {
            document = try YAMLDecoder().decode(Document.self, from: yaml)
        } catch let e as DecodingError {
            throw ConfigurationError(setting: source, problem: "\(e.fieldPath.isEmpty ? "document" : e.fieldPath): \(e.reason)")
        } catch {
            throw ConfigurationError(setting: source, problem: "not valid YAML: \(error)")
        }
        guard !document.schedules.isEmpty else { throw ConfigurationError(setting: source, problem: "schedules: is empty") }
        var names = Set<String>()
        return try document.schedules.enumerated().map { i, e in
            let at = "schedules[\(i)]"
            guard let name = e.name?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
                throw ConfigurationError(setting: source, problem: "\(at).name is required")
            }
            guard names.insert(name).inserted else { throw ConfigurationError(setting: source, problem: "\(at).name \"\(name)\" is used twice") }
            guard let raw = e.interval, let interval = SettingsResolver.parseDuration(raw), interval >= .seconds(1) else {
                throw ConfigurationError(setting: source, problem: "\(at).interval \(e.interval.map { "\"\($0)\"" } ?? "is missing"); use e.g. 30s, 5m, 1h")
            }
            for t in (e.tags ?? []) + (e.categories ?? []) where t.trimmingCharacters(in: .whitespaces).isEmpty {
                throw ConfigurationError(setting: source, problem: "\(at) has an empty tag or category")
            }
            return Schedule(name: name, selection: SeriesSelection(tags: e.tags ?? [], categories: e.categories ?? [], gamesOnly: e.gamesOnly ?? false),
                            interval: interval)
        }
    }
}
