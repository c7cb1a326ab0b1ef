import Foundation
import PureTestSupport
import Testing
import TestSupport
import NATSClient
import WireContract

/// The real db-writer binary against a real nats-server and PostgreSQL: crashes, a database
/// restart, poison messages and category listings.
@Suite(.tags(.processes), .processSlot) struct WriterProcessTests {
    /// 100,000 markets (and 20,000 later updates of some of them) published in chunks while
    /// the writer is SIGKILLed at random moments and restarted; the table must end exactly
    /// equal to the newest state published for every ticker — nothing lost, nothing extra.
    @Test(.timeLimit(.minutes(20))) func sigkillAtRandomMomentsLosesNothing() async throws {
        let f = try await WriterFixture("writer-sigkill")
        defer { f.teardown() }
        let n = 100_000
        let chunks = 10
        let perChunk = n / chunks
        var rng = SeededRandom(seed: 0x5EED_0001)
        var expected: [String: MarketState] = [:]
        var plan: [[PayloadMessage]] = []
        func ticker(_ i: Int) -> (market: String, event: String) { ("KXKILL-E\(i / 100)-M\(i)", "KXKILL-E\(i / 100)") }
        for c in 0..<chunks {
            var chunk: [PayloadMessage] = []
            for i in c * perChunk..<(c + 1) * perChunk {
                let t = ticker(i)
                chunk.append(Payload.market(t.market, event: t.event, series: "KXKILL", updated: 0, fetched: c))
                expected[t.market] = MarketState(status: "active", yesBid: "0.5600")
            }
            // Later states of markets published in earlier chunks (newer updated_time).
            if c > 0 {
                for _ in 0..<2_000 {
                    let i = Int(rng.next() % UInt64(c * perChunk))
                    let t = ticker(i)
                    let bid = String(format: "0.%02d00", c * 7 % 100)
                    chunk.append(Payload.market(t.market, event: t.event, series: "KXKILL", status: c % 2 == 0 ? "closed" : "inactive",
                                                yesBid: bid, updated: 100 * c, fetched: 100 * c))
                    expected[t.market] = MarketState(status: c % 2 == 0 ? "closed" : "inactive", yesBid: bid)
                }
            }
            plan.append(chunk)
        }

        let chunksToPublish = plan
        let publishingDone = LockedBox(false)
        let publishing = Task {
            defer { publishingDone.value = true }
            let started = ContinuousClock.now
            for chunk in chunksToPublish {
                try await f.publish(chunk)
                try await Task.sleep(for: .milliseconds(100))
            }
            print("sigkill test: published in \(ContinuousClock.now - started)")
        }
        var kills = 0
        var killedWithRowsWritten: [Int] = []
        while !publishingDone.value || kills < 3 {
            let w = try f.startWriter(["--batch-max-rows", "2000"])
            try await Task.sleep(for: .microseconds(300_000 + Int64(rng.next() % 1_200_000)))
            w.signal(SIGKILL)
            #expect(await w.waitForExit(timeout: .seconds(10)))
            kills += 1
            killedWithRowsWritten.append(Int(try await f.query("SELECT count(*) FROM markets").scalar ?? "0") ?? 0)
        }
        let published: Void? = try? await publishing.value
        #expect(published != nil, "publishing failed")
        #expect(kills >= 3)
        let killedAt = ContinuousClock.now
        let final = try f.startWriter()
        let drained = try await f.waitUntilDrained(timeout: .seconds(180)) { try await f.query("SELECT count(*) FROM markets").scalar == "\(n)" }
        #expect(drained, "writer did not drain:\n\(f.logs())")
        let stored = try await f.markets()
        #expect(stored.count == n)
        let wrong = expected.filter { stored[$0.key] != $0.value }
        #expect(wrong.isEmpty, "\(wrong.count) markets differ, e.g. \(wrong.prefix(5).map { "\($0.key): want \($0.value), have \(String(describing: stored[$0.key]))" })")
        #expect(Set(stored.keys) == Set(expected.keys))
        #expect(final.isRunning)
        print("sigkill test: \(kills) kills; rows in the table at each kill: \(killedWithRowsWritten); final drain \(ContinuousClock.now - killedAt)")
    }

    /// PostgreSQL stops for 10 s while markets flow; the same writer process reconnects by
    /// itself and the table ends complete and exact.
    @Test(.timeLimit(.minutes(20))) func survivesPostgresRestart() async throws {
        let f = try await WriterFixture("writer-pg-restart", privatePostgres: true)
        defer { f.teardown() }
        let writer = try f.startWriter()
        var expected: [String: MarketState] = [:]
        func batch(_ range: Range<Int>, status: String = "active", bid: String = "0.5600", updated: Int = 0) -> [PayloadMessage] {
            range.map { i in
                expected["KXPG-E\(i / 50)-M\(i)"] = MarketState(status: status, yesBid: bid)
                return Payload.market("KXPG-E\(i / 50)-M\(i)", event: "KXPG-E\(i / 50)", series: "KXPG", status: status,
                                      yesBid: bid, updated: updated, fetched: updated)
            }
        }
        try await f.publish(batch(0..<5_000))
        #expect(try await f.waitUntilDrained(timeout: .seconds(60)) { try await f.query("SELECT count(*) FROM markets").scalar == "5000" },
                "first load not written:\n\(f.logs())")

        // Keep publishing (new markets and changes) before, during and after the outage.
        var plan: [[PayloadMessage]] = []
        for k in 0..<14 {
            plan.append(batch(5_000 + k * 1_000..<6_000 + k * 1_000)
                        + batch(k * 300..<k * 300 + 300, status: "closed", bid: "0.9900", updated: 10 + k))
        }
        let chunksToPublish = plan
        let publishing = Task {
            for chunk in chunksToPublish {
                try await f.publish(chunk)
                try await Task.sleep(for: .seconds(1))
            }
        }
        try await Task.sleep(for: .milliseconds(1500))
        await f.postgresServer.stop()
        let downAt = ContinuousClock.now
        try await Task.sleep(for: .seconds(10))
        try await f.postgresServer.start()
        let downFor = ContinuousClock.now - downAt
        let published: Void? = try? await publishing.value
        #expect(published != nil)

        let total = 5_000 + 14 * 1_000
        let drained = try await f.waitUntilDrained(timeout: .seconds(90)) { try await f.query("SELECT count(*) FROM markets").scalar == "\(total)" }
        #expect(drained, "writer did not catch up after the restart:\n\(f.logs())")
        #expect(writer.isRunning, "the writer must survive the outage itself")
        #expect(f.writers.count == 1)
        let stored = try await f.markets()
        #expect(stored.count == total)
        let wrong = expected.filter { stored[$0.key] != $0.value }
        #expect(wrong.isEmpty, "\(wrong.count) markets differ, e.g. \(Array(wrong.prefix(5)))")
        let log = writer.output
        #expect(log.contains("batch not committed; retrying"), "the outage was not noticed:\n\(log.suffix(3000))")
        #expect(log.contains("batch committed after retrying"))
        #expect(log.contains("commit_retries="))
        print("postgres was down for \(downFor)")
    }

    /// Poison messages mixed into a batch — undecodable, or rejected by PostgreSQL (NUL byte
    /// in text, a NUL escape in JSONB, a key too long for its index) — are dead-lettered with
    /// a reason and terminated; every good row commits.
    @Test(.timeLimit(.minutes(20))) func poisonIsDeadLetteredAndTheRestCommits() async throws {
        let f = try await WriterFixture("writer-poison")
        defer { f.teardown() }
        var messages = (0..<300).map { i in Payload.market("KXOK-E\(i / 10)-M\(i)", event: "KXOK-E\(i / 10)", series: "KXOK") }
        // Absurd numbers never reach PostgreSQL: the decoder accepts at most 64 characters.
        let hugeNumber = String(repeating: "9", count: 140_000)
        // Too long (and incompressible) for the primary key's btree entry (~2,700 bytes).
        var rng = SeededRandom(seed: 54_000)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let longTicker = "KXBAD-E1-" + String((0..<3_000).map { _ in alphabet[Int(rng.next() % 36)] })
        let poison: [(PayloadMessage, expect: String)] = [
            (PayloadMessage(subject: Subjects.market(tag: "Basketball", series: "KXBAD", market: "KXBAD-JSON"),
                             data: Array("{not json".utf8)), "not a JSON object"),
            (PayloadMessage(subject: Subjects.market(tag: "Basketball", series: "KXBAD", market: "KXBAD-SCHEMA"),
                             data: Array(#"{"schema":2,"kind":"market"}"#.utf8)), "unsupported schema 2"),
            (PayloadMessage(subject: Subjects.market(tag: "Basketball", series: "KXBAD", market: "KXBAD-NOSTATUS"),
                             data: Array(#"{"schema":1,"kind":"market","fetched_at":"2026-01-12T22:08:10Z","tag":"t","series_ticker":"KXBAD","market":{"ticker":"KXBAD-NOSTATUS","event_ticker":"E"}}"#.utf8)),
             "status"),
            (PayloadMessage(subject: Subjects.event(series: "KXBAD", event: "KXBAD-KIND"),
                             data: Array(#"{"schema":1,"kind":"market"}"#.utf8)), "kind market where event was expected"),
            (Payload.market("KXBAD-E1-NUL", event: "KXBAD-E1", series: "KXBAD", title: "nul \\u0000 byte"), "rejected by PostgreSQL"),
            (Payload.market("KXBAD-E1-HUGE", event: "KXBAD-E1", series: "KXBAD", floorStrike: hugeNumber), "not a decimal"),
            (Payload.market(longTicker, event: "KXBAD-E1", series: "KXBAD"), "rejected by PostgreSQL: PostgreSQL error 54000"),
            (Payload.market("KXBAD-E1-JSONB", event: "KXBAD-E1", series: "KXBAD", customStrike: #"{"x":"\u0000"}"#), "rejected by PostgreSQL"),
        ]
        // Spread the poison through the batch.
        for (k, p) in poison.enumerated() { messages.insert(p.0, at: min(messages.count, 17 + k * 41)) }
        try await f.publish(messages)
        let writer = try f.startWriter(["--batch-max-age", "500ms"])

        let drained = try await f.waitUntilDrained(timeout: .seconds(60)) { try await f.query("SELECT count(*) FROM markets").scalar == "300" }
        #expect(drained, "good rows not all committed:\n\(f.logs())")
        let tickers = Set(try await f.query("SELECT ticker FROM markets").rows.map { $0[0]! })
        #expect(tickers == Set((0..<300).map { "KXOK-E\($0 / 10)-M\($0)" }))

        // Read the dead letters back.
        let watch = try await f.js.orderedWatch(stream: Streams.deadLetters, filterSubject: Subjects.deadLetter(stage: "db-writer"),
                                          deliverLastPerSubject: false)
        defer { watch.close() }
        var letters: [DeadLetter] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while letters.count < poison.count, ContinuousClock.now < deadline {
            if let m = try await watch.next(timeout: .seconds(1)) {
                letters.append(try JSONDecoder().decode(DeadLetter.self, from: Data(m.data)))
            }
        }
        #expect(letters.count == poison.count, "dead letters: \(letters.map(\.subject))\n\(writer.output.suffix(4000))")
        for (message, expect) in poison {
            let letter = letters.first { $0.subject == message.subject }
            #expect(letter != nil, "no dead letter for \(message.subject)")
            guard let letter else { continue }
            #expect(letter.stage == "db-writer")
            #expect(letter.kind == "dead_letter")
            #expect(letter.reason.contains(expect), "\(message.subject): reason \(letter.reason.prefix(300))")
            #expect(letter.deliveries >= 1)
            let original = letter.payload.map { Array($0.utf8) }
                ?? letter.payloadBase64.flatMap { Data(base64Encoded: $0) }.map { Array($0) }
            #expect(original == message.data, "\(message.subject): payload not kept verbatim")
        }
        // Nothing left for redelivery: poison was terminated, the rest acked.
        #expect(try await f.backlog() == 0)
        #expect(writer.isRunning)
    }

    /// A category listing deactivates the category's series it does not name and
    /// reactivates those it names again; other categories are untouched; within one batch a
    /// series snapshot newer than the listing wins, an older one does not.
    @Test(.timeLimit(.minutes(20))) func catalogDeactivatesAndReactivatesSeries() async throws {
        let f = try await WriterFixture("writer-catalog")
        defer { f.teardown() }
        func active() async throws -> [String: Bool] {
            var out: [String: Bool] = [:]
            for row in try await f.query("SELECT ticker, active FROM series").rows { out[row[0]!] = row[1] == "t" }
            return out
        }
        var writer = try f.startWriter()
        try await f.publish(["KXS1", "KXS2", "KXS3", "KXS4"].map { Payload.series($0, category: "Sports", fetched: 0) }
                      + ["KXP1", "KXP2"].map { Payload.series($0, category: "Politics", fetched: 0) })
        #expect(try await f.waitUntilDrained(timeout: .seconds(30)) { try await f.query("SELECT count(*) FROM series").scalar == "6" })
        #expect(try await active().values.allSatisfy { $0 })

        // A complete listing of Sports without KXS3 and KXS4.
        try await f.publish([Payload.catalog("Sports", ["KXS1", "KXS2"], fetched: 10)])
        #expect(try await f.waitUntilDrained(timeout: .seconds(30)) { try await active()["KXS3"] == false })
        #expect(try await active() == ["KXS1": true, "KXS2": true, "KXS3": false, "KXS4": false, "KXP1": true, "KXP2": true])

        // KXS3 is listed again: reactivated by the listing itself. KXS4 reappears through its
        // own (newer) series message.
        try await f.publish([Payload.catalog("Sports", ["KXS1", "KXS2", "KXS3"], fetched: 20)])
        #expect(try await f.waitUntilDrained(timeout: .seconds(30)) { try await active()["KXS3"] == true })
        try await f.publish([Payload.series("KXS4", category: "Sports", fetched: 30)])
        #expect(try await f.waitUntilDrained(timeout: .seconds(30)) { try await active()["KXS4"] == true })
        #expect(try await active() == ["KXS1": true, "KXS2": true, "KXS3": true, "KXS4": true, "KXP1": true, "KXP2": true])

        // One batch (the writer is stopped while they are published): KXS1's snapshot is
        // older than the listing that drops it (→ inactive), KXS5 is newer than the listing
        // that does not know it yet (→ stays active). Politics listed empty: all inactive.
        await writer.stop()
        try await f.publish([
            Payload.series("KXS1", category: "Sports", fetched: 35, title: "renamed"),
            Payload.series("KXS5", category: "Sports", fetched: 50),
            Payload.catalog("Sports", ["KXS2", "KXS3", "KXS4"], fetched: 40),
            Payload.catalog("Politics", [], fetched: 40),
        ])
        writer = try f.startWriter()
        #expect(try await f.waitUntilDrained(timeout: .seconds(30)) { try await active()["KXS5"] != nil })
        #expect(try await active() == ["KXS1": false, "KXS2": true, "KXS3": true, "KXS4": true, "KXS5": true, "KXP1": false, "KXP2": false])
        #expect(try await f.query("SELECT title FROM series WHERE ticker = 'KXS1'").scalar == "renamed")
        await writer.stop()
        #expect(writer.output.contains("series_deactivated=") && writer.output.contains("series_reactivated="))
    }
}

/// A value shared with a background thread.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
