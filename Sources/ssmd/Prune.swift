import ArgumentParser
import Foundation
import DaemonKit
import Pipeline
import PostgresClient
import SSMDCore

/// `ssmd prune --gone-older-than 30d`: what the exchange stopped listing long ago leaves the
/// security master (rows) and SSMD_SECMASTER (last values). A dry run unless `--apply`.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Delete markets and events gone from the exchange longer than a time, and their last values.",
        discussion: """
            Counts only, unless --apply. With --apply, rows are deleted in short batches that skip rows
            the writer is busy with, so db-writer keeps running at full speed; the subjects of deleted
            markets and events are purged from SSMD_SECMASTER (--keep-messages leaves them).
            """)
    @OptionGroup var common: CommonOptions
    @OptionGroup var database: DatabaseOptions
    @Option(name: Settings.pruneGoneOlderThan.name, help: Settings.pruneGoneOlderThan.help)
    var goneOlderThan: String
    @Flag(name: .customLong("apply"), help: "Delete; without it only counts are printed")
    var apply = false
    @Option(name: Settings.pruneBatchSize.name, help: Settings.pruneBatchSize.help)
    var batchSize: String?
    @Flag(name: .customLong("keep-messages"), help: "Leave the pruned rows' last values in SSMD_SECMASTER")
    var keepMessages = false

    func run() async throws {
        let r = SettingsResolver.quietCLI
        guard let age = try r.value(Settings.pruneGoneOlderThan, goneOlderThan) else {
            throw ConfigurationError(setting: Settings.pruneGoneOlderThan.label, problem: "is required")
        }
        let batch = try r.value(Settings.pruneBatchSize, batchSize)
        let conninfo = try database.resolve(r)
        let cutoff = Timestamp.now().adding(seconds: -Int64(age.seconds))
        let c = try common.resolve(connectionName: "ssmd-prune", r)
        let logger = bootstrapLogging(c)
        let (apply, keepMessages) = (self.apply, self.keepMessages)
        let started = ContinuousClock.now
        try await PostgresConnection.with(conninfo) { connection in
            if !apply {
                let n = try await Pruner(connection: connection, js: nil, logger: logger).count(goneBefore: cutoff)
                print("would delete \(n.markets) markets and \(n.events) events gone before \(cutoff) (dry run; --apply deletes)")
                return
            }
            let done: Pruner.Counts
            if keepMessages {
                var pruner = Pruner(connection: connection, js: nil, logger: logger)
                pruner.batchSize = batch
                done = try await pruner.prune(goneBefore: cutoff)
            } else {
                done = try await withCLIConnection(c, logger: logger) { js in
                    var pruner = Pruner(connection: connection, js: js, logger: logger)
                    pruner.batchSize = batch
                    return try await pruner.prune(goneBefore: cutoff)
                }
            }
            print("deleted \(done.markets) markets and \(done.events) events gone before \(cutoff); purged \(done.subjectsPurged) subjects; \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s")
        }
    }
}
