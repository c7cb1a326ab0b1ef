import Foundation
import Testing
import TestSupport
import KalshiModels
import NATSClient
import Pipeline
import SSMDCore
import WireContract

/// `ssmd dlq list` and `ssmd dlq replay` against a real NATS: dead letters are listed with
/// their reason, replayed onto their original subjects once (a second replay is deduplicated),
/// and a secmaster message that a newer one has superseded is not put back.
@Suite(.tags(.processes), .processSlot) struct DeadLetterCLITests {
    @Test func listAndReplayDeadLetters() async throws {
        let h = try await PipelineHarness(name: "dlq", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let (connection, js) = try await h.jetStream()
        defer { connection.close() }
        try await Topology().provision(js)

        // A work item the market-fetcher gave up on, and a market message the writer refused.
        let item = WorkItem(seriesTicker: "KXREPLAY", category: "Economics", tags: ["Fed"], routingTag: "Fed", isGame: false,
                            schedule: "all", cycleId: "c1", issuedAt: .now(), mode: .full)
        let work = DeadLetter(stage: "market-fetcher", reason: "exchange answered 500 five times", subject: item.subject,
                              deliveries: 5, failedAt: .now(), payload: try MessageCodec.encode(item))
        let marketSubject = Subjects.market(tag: "Fed", series: "KXREPLAY", market: "KXREPLAY-1")
        let market = DeadLetter(stage: "db-writer", reason: "value out of range", subject: marketSubject,
                                deliveries: 1, failedAt: .now(), payload: Array(#"{"kind":"market"}"#.utf8))
        _ = try await js.publishAll([
            OutgoingMessage(subject: Subjects.deadLetter(stage: "market-fetcher"), data: work.encoded(), msgId: "dlq:t:1"),
            OutgoingMessage(subject: Subjects.deadLetter(stage: "db-writer"), data: market.encoded(), msgId: "dlq:t:2"),
        ])
        // The market's subject has since received a newer value.
        try await Task.sleep(for: .milliseconds(20))
        _ = try await js.publish(OutgoingMessage(subject: marketSubject, data: Array(#"{"kind":"market","newer":true}"#.utf8), msgId: "newer"))

        let list = try await h.run("ssmd", ["dlq", "list"])
        #expect(list.status == 0, "\(list.output)")
        #expect(list.output.contains("market-fetcher  \(item.subject)") && list.output.contains("exchange answered 500 five times"), "\(list.output)")
        #expect(list.output.contains("value out of range") && list.output.contains("-- 2 dead letters"), "\(list.output)")
        let onlyWriter = try await h.run("ssmd", ["dlq", "list", "--stage", "db-writer", "--json"])
        #expect(onlyWriter.output.split(separator: "\n").filter { $0.hasPrefix("{") }.count == 1, "\(onlyWriter.output)")

        let dry = try await h.run("ssmd", ["dlq", "replay", "--dry-run"])
        #expect(dry.status == 0 && dry.output.contains("would replay 1; skipped 1 superseded"), "\(dry.output)")
        #expect(try await js.streamInfo(name: Streams.work).messages == 0, "a dry run publishes nothing")

        let replay = try await h.run("ssmd", ["dlq", "replay", "--since", "1h"])
        #expect(replay.status == 0 && replay.output.contains("replayed 1; skipped 1 superseded"), "\(replay.output)")
        let again = try await h.run("ssmd", ["dlq", "replay"])
        #expect(again.status == 0, "\(again.output)")
        let queued = try await js.streamInfo(name: Streams.work, subjectsFilter: Subjects.allWork)
        #expect(queued.subjects == [item.subject: 1], "replayed once onto the work queue: \(queued.subjects)")
        let replayed = try #require(try await js.lastMessage(stream: Streams.work, subject: item.subject))
        #expect(try MessageCodec.decode(WorkItem.self, from: replayed.data, subject: replayed.subject).seriesTicker == "KXREPLAY")
        let last = try #require(try await js.lastMessage(stream: Streams.secmaster, subject: marketSubject))
        #expect(String(decoding: last.data, as: UTF8.self).contains("newer"), "the newer value stays the last one")
    }
}
