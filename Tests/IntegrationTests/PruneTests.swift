import Foundation
import Testing
import TestSupport
import NATSClient
import Pipeline
import WireContract

/// `ssmd prune`: a dry run counts, `--apply` deletes markets and events gone longer than the
/// cutoff (and only those) and erases their last values from SSMD_SECMASTER without moving
/// the writer's consumer.
@Suite(.tags(.processes), .processSlot) struct PruneTests {
    @Test func prunesRowsAndLastValuesGoneLongerThanTheCutoff() async throws {
        let h = try await PipelineHarness(name: "prune", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        #expect(try await h.run("ssmd", ["migrate"]).status == 0)
        // Two events: OLD gone 40 days with three markets gone as long; LIVE with a live
        // market, a market gone 40 days (its event stays: it still has a market) and one gone
        // 2 days.
        _ = try await h.query("""
            INSERT INTO events (ticker, series_ticker, fetched_at, gone_at) VALUES
                ('S-OLD', 'S', now(), now() - interval '40 days'), ('S-LIVE', 'S', now(), NULL);
            """)
        _ = try await h.query("""
            INSERT INTO markets (ticker, event_ticker, series_ticker, status, fetched_at, gone_at) VALUES
                ('S-OLD-1', 'S-OLD', 'S', 'finalized', now(), now() - interval '40 days'),
                ('S-OLD-2', 'S-OLD', 'S', 'finalized', now(), now() - interval '41 days'),
                ('S-OLD-3', 'S-OLD', 'S', 'finalized', now(), now() - interval '42 days'),
                ('S-LIVE-A', 'S-LIVE', 'S', 'active', now(), NULL),
                ('S-LIVE-B', 'S-LIVE', 'S', 'finalized', now(), now() - interval '40 days'),
                ('S-LIVE-C', 'S-LIVE', 'S', 'finalized', now(), now() - interval '2 days');
            """)
        let (connection, js) = try await h.jetStream()
        defer { connection.close() }
        try await Topology().provision(js)
        var messages: [OutgoingMessage] = []
        for m in ["S-OLD-1", "S-OLD-2", "S-OLD-3", "S-LIVE-A", "S-LIVE-B", "S-LIVE-C"] {
            messages.append(OutgoingMessage(subject: Subjects.market(tag: "Fed", series: "S", market: m), data: Array("{}".utf8)))
        }
        // A market the series once published under another routing tag is purged too.
        messages.append(OutgoingMessage(subject: Subjects.market(tag: "Old Tag", series: "S", market: "S-OLD-1"), data: Array("{}".utf8)))
        messages.append(OutgoingMessage(subject: Subjects.event(series: "S", event: "S-OLD"), data: Array("{}".utf8)))
        messages.append(OutgoingMessage(subject: Subjects.event(series: "S", event: "S-LIVE"), data: Array("{}".utf8)))
        // The writer's consumer has every message still to deliver.
        try await js.ensureConsumer(stream: Streams.secmaster, Topology().writerConsumer)
        _ = try await js.publishAll(messages)

        let dry = try await h.run("ssmd", ["prune", "--gone-older-than", "30d"])
        #expect(dry.status == 0 && dry.output.contains("would delete 4 markets and 1 events"), "\(dry.output)")
        #expect(try await h.query("SELECT count(*) FROM markets").scalar == "6", "a dry run deletes nothing")

        let apply = try await h.run("ssmd", ["prune", "--gone-older-than", "30d", "--apply", "--batch-size", "2"])
        #expect(apply.status == 0 && apply.output.contains("deleted 4 markets and 1 events"), "\(apply.output)")
        let left = try await h.query("SELECT ticker FROM markets ORDER BY 1").rows.map { $0[0] ?? "" }
        #expect(left == ["S-LIVE-A", "S-LIVE-C"])
        #expect(try await h.query("SELECT ticker FROM events").rows.map { $0[0] ?? "" } == ["S-LIVE"])
        let stored = try await js.streamInfo(name: Streams.secmaster, subjectsFilter: "ssmd.>")
        #expect(Set(stored.subjects.keys) == [Subjects.market(tag: "Fed", series: "S", market: "S-LIVE-A"),
                                               Subjects.market(tag: "Fed", series: "S", market: "S-LIVE-C"),
                                               Subjects.event(series: "S", event: "S-LIVE")], "\(stored.subjects.keys.sorted())")
        // Erasing never moved the writer past what is still pending (a filtered purge did, on
        // nats-server 2.9): the three live values wait for it.
        let writer = try await js.consumerInfo(stream: Streams.secmaster, name: Streams.writerConsumer)
        #expect(writer.numPending == 3, "writer consumer pending \(writer.numPending)")

        let bad = try await h.run("ssmd", ["prune", "--gone-older-than", "soon"])
        #expect(bad.status == 2 && bad.output.contains("--gone-older-than"), "\(bad.output)")
    }
}
