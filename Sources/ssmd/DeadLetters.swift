import ArgumentParser
import Foundation
import Logging
import DaemonKit
import NATSClient
import SSMDCore
import WireContract

/// `ssmd dlq list` and `ssmd dlq replay`: what was set aside on `ssmd.dlq.<stage>`, and
/// re-driving it after a fix. Dead letters stay in `SSMD_DLQ` (14 days) either way.
struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "List or replay dead letters (messages set aside with their reason).",
        subcommands: [DeadLetterList.self, DeadLetterReplay.self])
}

/// Which dead letters a command looks at.
struct DeadLetterFilter: ParsableArguments {
    @Option(name: .customLong("stage"), help: "Only this stage's (market-fetcher, db-writer, …)")
    var stage: String?
    @Option(name: Settings.deadLetterSince.name, help: Settings.deadLetterSince.help)
    var since: String?

    var subject: String { stage.map { Subjects.deadLetter(stage: $0) } ?? Subjects.allDeadLetters }

    /// The command's settings, the filter's earliest time, and its logger.
    func resolve(_ common: CommonOptions) throws -> (CommonOptions.Resolved, Timestamp?, Logger) {
        let r = SettingsResolver.quietCLI
        let c = try common.resolve(connectionName: "ssmd-dlq", r)
        return (c, try earliest(r), bootstrapLogging(c))
    }

    func earliest(_ r: SettingsResolver) throws -> Timestamp? {
        guard let d = try r.value(Settings.deadLetterSince, since) else { return nil }
        return Timestamp.now().adding(seconds: -Int64(d.seconds.rounded(.up)))
    }
}

/// A dead letter as stored, with its place in `SSMD_DLQ`.
struct StoredDeadLetter {
    var sequence: UInt64
    var letter: DeadLetter

    /// The message as it was before it was set aside.
    var originalPayload: [UInt8]? {
        if let text = letter.payload { return Array(text.utf8) }
        return letter.payloadBase64.flatMap { Data(base64Encoded: $0) }.map(Array.init)
    }
}

extension DeadLetterFilter {
    /// Every matching dead letter, oldest first; `unreadable` counts those that do not decode.
    func read(_ js: JetStream, earliest: Timestamp?) async throws -> (letters: [StoredDeadLetter], unreadable: Int) {
        let state = try await js.streamInfo(name: Streams.deadLetters)
        guard state.messages > 0 else { return ([], 0) }
        let watch = try await js.orderedWatch(stream: Streams.deadLetters, filterSubject: subject, deliverLastPerSubject: false)
        defer { watch.close() }
        var out: [StoredDeadLetter] = [], unreadable = 0
        while let m = try await watch.next(timeout: .seconds(2)) {
            if let letter = try? JSONCodec.decode(DeadLetter.self, from: m.data) {
                if earliest.map({ letter.failedAt >= $0 }) ?? true { out.append(StoredDeadLetter(sequence: m.streamSequence, letter: letter)) }
            } else {
                unreadable += 1
            }
            if m.pending == 0 || m.streamSequence >= state.lastSeq { break }
        }
        return (out, unreadable)
    }
}

struct DeadLetterList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "One line per dead letter: when, stage, subject, deliveries, reason.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var filter: DeadLetterFilter
    @Flag(name: .customLong("json"), help: "Print each dead letter as stored (one JSON object a line)")
    var json = false

    func run() async throws {
        let (c, earliest, logger) = try filter.resolve(common)
        let (letters, unreadable) = try await withCLIConnection(c, logger: logger) { js in try await filter.read(js, earliest: earliest) }
        for s in letters {
            if json {
                print(String(decoding: s.letter.encoded(), as: UTF8.self))
            } else {
                print("\(s.sequence)  \(s.letter.failedAt)  \(s.letter.stage)  \(s.letter.subject)  deliveries=\(s.letter.deliveries)  \(s.letter.reason)")
            }
        }
        FileHandle.standardError.write(Data("-- \(letters.count) dead letters\(unreadable > 0 ? ", \(unreadable) unreadable" : "")\n".utf8))
    }
}

struct DeadLetterReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay", abstract: "Publish dead letters' messages again on their original subjects.",
        discussion: """
            Work items go back to their tag's queue; secmaster messages go back to the writer,
            unless the subject has since received a newer message (replaying would put an old
            value back as the subject's last value), which is skipped and counted. Each dead
            letter is published with the message id replay:<sequence>, so replaying twice within
            the stream's duplicate window publishes once.
            """)
    @OptionGroup var common: CommonOptions
    @OptionGroup var filter: DeadLetterFilter
    @Flag(name: .customLong("dry-run"), help: "Say what would be replayed; publish nothing")
    var dryRun = false

    func run() async throws {
        let (c, earliest, logger) = try filter.resolve(common)
        let dryRun = self.dryRun
        let (replayed, superseded, unusable) = try await withCLIConnection(c, logger: logger) { js -> (Int, Int, Int) in
            let (letters, unreadable) = try await filter.read(js, earliest: earliest)
            var replayed = 0, superseded = 0, unusable = unreadable
            for s in letters {
                guard let payload = s.originalPayload, !s.letter.subject.isEmpty else { unusable += 1; continue }
                // A secmaster subject keeps one last value: never put an older one back over it.
                if let kind = Subjects.kind(of: s.letter.subject), kind != .work,
                   let last = try await js.lastMessage(stream: Streams.secmaster, subject: s.letter.subject),
                   last.timestamp > s.letter.failedAt {
                    superseded += 1
                    continue
                }
                if dryRun {
                    print("would replay \(s.sequence)  \(s.letter.stage)  \(s.letter.subject)")
                } else {
                    _ = try await js.publish(OutgoingMessage(subject: s.letter.subject, data: payload, msgId: "replay:\(s.sequence)"))
                }
                replayed += 1
            }
            return (replayed, superseded, unusable)
        }
        print("\(dryRun ? "would replay" : "replayed") \(replayed); skipped \(superseded) superseded by a newer message, \(unusable) without a usable payload")
    }
}

extension SettingsResolver {
    /// The CLI's settings: warnings only on stderr unless asked otherwise.
    static var quietCLI: SettingsResolver {
        let env = ProcessInfo.processInfo.environment
        return SettingsResolver(environment: env.merging(["SSMD_LOG_LEVEL": env["SSMD_LOG_LEVEL"] ?? "warning"]) { a, _ in a })
    }
}
