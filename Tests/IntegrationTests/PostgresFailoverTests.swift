import Foundation
import Logging
import Testing
import TestSupport
import NATSClient
import Pipeline
import PostgresClient
import SSMDCore
import WireContract

#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL failover for real, on loopback: a primary and a synchronous streaming standby
/// (`pg_basebackup -R`), the real `db-writer` on a multi-host `--database-url`
/// (`target_session_attrs=read-write`) and two `data-api`s — one reading from the standby
/// (`--read-database-url`), one from the multi-host URL. Markets flow steadily; the primary
/// and all its processes are SIGKILLed with batches in flight; the standby is promoted; the
/// flow goes on. The promoted database must then hold every published market exactly once
/// with its last value, and no process may have exited.
@Suite(.tags(.processes), .processSlot) struct PostgresFailoverTests {
    /// What was published: each market's last yes bid, in publish order.
    final class Published: @unchecked Sendable {
        private let lock = NSLock()
        private var last: [String: String] = [:]
        private var messages = 0
        private var sequence = 0
        private var stopped = false
        var snapshot: (markets: [String: String], messages: Int) { lock.withLock { (last, messages) } }
        /// Asks the publisher to stop after the chunk it is sending (not cancellation, which
        /// would cut a chunk short after the expectation had counted it).
        func stop() { lock.withLock { stopped = true } }
        var isStopped: Bool { lock.withLock { stopped } }

        /// The next chunk: `fresh` new markets and `updates` newer values of earlier ones.
        func nextChunk(fresh: Int, updates: Int, rng: inout SplitMix) -> [OutgoingMessage] {
            lock.withLock {
                var out: [OutgoingMessage] = []
                let known = last.count
                for k in 0..<(fresh + updates) {
                    sequence += 1
                    let i = k < fresh || known == 0 ? last.count : Int(rng.next() % UInt64(known))
                    let ticker = "KXFAIL-E\(i / 40)-M\(i)"
                    let bid = String(format: "0.%04d", sequence % 10_000)
                    last[ticker] = bid
                    out.append(OutgoingMessage(subject: Subjects.market(tag: "Basketball", series: "KXFAIL", market: ticker),
                                               data: Array(PostgresFailoverTests.market(ticker, event: "KXFAIL-E\(i / 40)", bid: bid,
                                                                                         updated: sequence).utf8)))
                }
                messages += out.count
                return out
            }
        }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A market message as market-fetcher publishes it; `updated` orders its versions.
    static func market(_ ticker: String, event: String, bid: String, updated: Int) -> String {
        let base: Int64 = 1_768_255_690
        func at(_ s: Int) -> String { Timestamp(microsecondsSinceEpoch: (base + Int64(s)) * 1_000_000).iso8601 }
        return """
            {"schema":1,"kind":"market","fetched_at":"\(at(updated))","tag":"Basketball","series_ticker":"KXFAIL",\
            "market":{"ticker":"\(ticker)","event_ticker":"\(event)","status":"active","market_type":"binary",\
            "title":"Failover market","yes_sub_title":"Yes","no_sub_title":"No","result":"",\
            "created_time":"\(at(-86_400))","updated_time":"\(at(updated))",\
            "open_time":"\(at(-3_600))","close_time":"\(at(864_000))",\
            "can_close_early":true,"strike_type":"greater","floor_strike":"1.5","custom_strike":{},\
            "rules_primary":"If it happens, yes.","yes_bid_dollars":"\(bid)","yes_ask_dollars":"0.9900",\
            "no_bid_dollars":"0.0100","no_ask_dollars":"0.9800","last_price_dollars":"0.5000",\
            "volume_fp":"10.00","volume_24h_fp":"2.00","open_interest_fp":"7.00"}}
            """
    }

    static func startDataAPI(_ name: String, environment: [String: String], arguments: [String], in directory: TestDirectory) async throws -> (ChildProcess, String) {
        let p = try ChildProcess(name: name, executable: BuiltProducts.executable("data-api"), arguments: ["--http-port", "0"] + arguments,
                                 environment: environment, logDirectory: directory.url)
        let marker = "data-api listening on "
        guard await eventually(timeout: .seconds(30), { p.output.contains(marker) || !p.isRunning }),
              let line = p.output.split(separator: "\n").first(where: { $0.hasPrefix(marker) }) else {
            p.abandon()
            throw HarnessError.failed("\(name) did not start:\n\(p.output.suffix(2000))")
        }
        return (p, String(line.dropFirst(marker.count)).trimmingCharacters(in: .whitespaces))
    }

    static func ms(_ d: Duration) -> Int { Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000) }

    // The limit includes the wait for a process slot; the test itself takes well under a minute.
    @Test(.timeLimit(.minutes(20))) func writerAndDataAPISurviveAPrimaryLossWithNothingLostOrDuplicated() async throws {
        let testStarted = ContinuousClock.now
        let directory = try TestDirectory("pg-failover")
        let pair = try await PostgresReplicaPair()
        let nats = try await NATSTestServer.sharedAccount()
        var processes: [ChildProcess] = []
        defer {
            for p in processes { p.abandon() }
            pair.teardown()
            directory.cleanup()
        }
        // A role with a password, so the logs can be checked for it (the superuser is trusted).
        let password = "fail-over-S3cret"
        try await pair.primary.createRole(name: "ssmd_writer", password: password)
        let writerURL = pair.multiHostURL(user: "ssmd_writer", password: password)
        let connection = try await NATSConnection.connect(options: NATSOptions(urls: [nats.url], name: "failover-test"), logger: Logger(label: "test"))
        defer { connection.close() }
        let js = try connection.jetStream(timeout: .seconds(10))
        try await Topology().provision(js)

        let writer = try ChildProcess(
            name: "db-writer", executable: BuiltProducts.executable("db-writer"),
            arguments: ["--batch-max-age", "100ms", "--ack-wait", "10s", "--metrics-interval", "2s"],
            environment: ["SSMD_NATS_URL": nats.url, "SSMD_DATABASE_URL": writerURL, "SSMD_LOG_LEVEL": "debug"],
            logDirectory: directory.url)
        processes.append(writer)
        func logs() -> String {
            processes.map { "--- \($0.name)\n" + $0.report(tail: 5000) }.joined(separator: "\n")
                + "\n--- standby log\n" + pair.standbyServerLog().suffix(3000)
        }
        #expect(await eventually(timeout: .seconds(30)) { writer.output.contains("connected to PostgreSQL") || !writer.isRunning },
                "the writer never connected:\n\(logs())")
        try #require(writer.isRunning, "\(logs())")

        // Reads: one data-api on the standby alone, one on the multi-host URL (the primary).
        let apiEnvironment = ["SSMD_NATS_URL": nats.url, "SSMD_DATABASE_URL": writerURL, "SSMD_LOG_LEVEL": "debug"]
        let (standbyAPI, standbyBase) = try await Self.startDataAPI(
            "data-api-standby", environment: apiEnvironment,
            arguments: ["--read-database-url", pair.standbyConnectionString(user: "ssmd_writer", password: password)], in: directory)
        processes.append(standbyAPI)
        let (primaryAPI, primaryBase) = try await Self.startDataAPI("data-api-primary", environment: apiEnvironment, arguments: [], in: directory)
        processes.append(primaryAPI)

        let published = Published()
        // A publisher that loses nothing: a chunk whose publish failed (NATS slow to confirm
        // on a loaded machine; nothing to do with PostgreSQL) is sent again until it is stored:
        // the expectation already counts it. Only a chunk given up after a minute of retries
        // fails the test.
        let publishing = Task {
            var rng = SplitMix(state: 15)
            var retries = 0, givenUp = 0
            while !published.isStopped {
                let chunk = published.nextChunk(fresh: 20, updates: 20, rng: &rng)
                let deadline = ContinuousClock.now + .seconds(60)
                while true {
                    do { _ = try await js.publishAll(chunk, timeout: .seconds(10)); break } catch {
                        guard ContinuousClock.now < deadline else { givenUp += 1; break }
                        retries += 1
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                }
                try? await Task.sleep(for: .milliseconds(25))
            }
            return (retries, givenUp)
        }

        // Before the loss: rows written on the primary are read from the standby.
        let earlyTicker = "KXFAIL-E0-M0"
        let readFromStandby = await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
            (try? await APIClient.get(standbyBase + "/v1/markets/" + earlyTicker))?.status == 200
        }
        #expect(readFromStandby, "data-api on the standby never read what the writer wrote on the primary:\n\(logs())")
        #expect(standbyAPI.output.contains("\"standby\":\"true\"") || standbyAPI.output.contains("standby=true"),
                "the standby data-api must log that it reads from a standby:\n\(standbyAPI.output.suffix(2000))")
        try await Task.sleep(for: .seconds(2))
        let committedBeforeKill = try await PostgresConnection.with(pair.standbyConnectionString()) {
            Int(try await $0.execute("SELECT count(*) FROM markets").scalar ?? "0") ?? 0
        }
        #expect(committedBeforeKill > 0)

        // The primary's machine goes: every PostgreSQL process on it is SIGKILLed.
        let killed = await pair.killPrimary()
        let killedAt = ContinuousClock.now
        // Reads go on during the outage: poll both data-apis until the writer is back.
        let polling = Task {
            var standbyStatuses: [Int: Int] = [:], primaryStatuses: [Int: Int] = [:]
            var unavailableBody = ""
            while !Task.isCancelled {
                // -1: no HTTP answer (unless the poll was cancelled mid-request, which is not counted).
                let s = (try? await APIClient.get(standbyBase + "/v1/markets/" + earlyTicker))?.status ?? -1
                if Task.isCancelled { break }
                standbyStatuses[s, default: 0] += 1
                let p = try? await APIClient.get(primaryBase + "/v1/markets/" + earlyTicker)
                if Task.isCancelled { break }
                primaryStatuses[p?.status ?? -1, default: 0] += 1
                if let p, p.status == 503, unavailableBody.isEmpty { unavailableBody = p.body }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return (standbyStatuses, primaryStatuses, unavailableBody)
        }
        try await Task.sleep(for: .milliseconds(500))
        try await pair.promoteStandby()
        let promotedAt = ContinuousClock.now

        // The first commit on the new primary: its market count grows.
        let newPrimary = try await PostgresConnection.connect(pair.standbyConnectionString())
        defer { newPrimary.close() }
        let atPromotion = Int(try await newPrimary.execute("SELECT count(*) FROM markets").scalar ?? "0") ?? 0
        let resumed = try await eventually(timeout: .seconds(30), every: .milliseconds(20)) {
            (Int(try await newPrimary.execute("SELECT count(*) FROM markets").scalar ?? "0") ?? 0) > atPromotion
        }
        let firstCommitAt = ContinuousClock.now
        #expect(resumed, "the writer never committed on the promoted standby:\n\(logs())")

        // The multi-host data-api answers again (from the new primary).
        let primaryAPIRecovered = await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
            (try? await APIClient.get(primaryBase + "/v1/markets/" + earlyTicker))?.status == 200
        }
        try await Task.sleep(for: .seconds(2))
        published.stop()
        let (publishRetries, chunksGivenUp) = await publishing.value
        if publishRetries > 0 { print("postgres failover: \(publishRetries) NATS publish retries by the test's publisher") }
        polling.cancel()
        let (standbyStatuses, primaryStatuses, unavailableBody) = await polling.value

        // Everything published is in the promoted database, once, with its last value.
        let (expected, messages) = published.snapshot
        let drained = try await eventually(timeout: .seconds(40), every: .milliseconds(250)) {
            let info = try await js.consumerInfo(stream: Streams.secmaster, name: Streams.writerConsumer)
            guard info.numPending == 0 && info.numAckPending == 0 else { return false }
            return Int(try await newPrimary.execute("SELECT count(*) FROM markets").scalar ?? "0") == expected.count
        }
        #expect(drained, "the writer did not drain onto the new primary:\n\(logs())")
        var stored: [String: String] = [:]
        var rows = 0
        for row in try await newPrimary.execute("SELECT ticker, yes_bid_dollars::text FROM markets WHERE series_ticker = 'KXFAIL'").rows {
            rows += 1
            stored[row[0]!] = row[1] ?? "nil"
        }
        let missing = expected.keys.filter { stored[$0] == nil }.sorted()
        let wrong = expected.filter { stored[$0.key] != nil && Decimal(string: stored[$0.key]!) != Decimal(string: $0.value) }
            .map { "\($0.key): stored \(stored[$0.key]!), last published \($0.value)" }.sorted()
        let extra = stored.keys.filter { expected[$0] == nil }.sorted()
        #expect(chunksGivenUp == 0, "\(chunksGivenUp) chunks could not be published to NATS in a minute of retries")
        #expect(missing.isEmpty, "\(missing.count) published markets are missing: \(missing.prefix(10))\n\(logs())")
        #expect(wrong.isEmpty, "\(wrong.count) markets do not hold their last value: \(wrong.prefix(10))\n\(logs())")
        #expect(extra.isEmpty && rows == stored.count, "rows nobody published, or twice: \(extra.prefix(10)), \(rows) rows for \(stored.count) tickers")
        let deadLetters = try await js.streamInfo(name: Streams.deadLetters).messages
        #expect(deadLetters == 0, "a failover must not dead-letter anything:\n\(logs())")

        // No process exited; the writer saw the loss, reconnected to the new primary, and
        // never logged the password.
        for p in processes { #expect(p.isRunning, "\(p.name) exited:\n\(p.report(tail: 4000))") }
        #expect(writer.output.contains("PostgreSQL connection lost; reconnecting"), "\(writer.report(tail: 4000))")
        #expect(writer.output.contains("127.0.0.1:\(pair.standbyPort)"), "the writer must log the server it reconnected to:\n\(writer.report(tail: 4000))")
        for p in processes { #expect(!p.output.contains(password), "\(p.name) logged the database password") }

        // Reads: the standby's data-api never failed; the primary's said 503 (with a reason)
        // or waited, and answers again.
        #expect(standbyStatuses.keys.allSatisfy { $0 == 200 }, "reads from the standby failed during the failover: \(standbyStatuses)\n\(standbyAPI.report())")
        #expect(primaryAPIRecovered, "data-api on the multi-host URL did not recover: \(primaryStatuses)\n\(primaryAPI.report())")
        #expect(Set(primaryStatuses.keys).isSubset(of: [200, 503]), "only 200 or 503 during the failover: \(primaryStatuses)")
        if primaryStatuses[503] != nil {
            #expect(unavailableBody.contains("unavailable"), "a 503 must say the database is unavailable: \(unavailableBody)")
        }

        let killToPromoted = promotedAt - killedAt, killToCommit = firstCommitAt - killedAt, promotedToCommit = firstCommitAt - promotedAt
        print("""
            postgres failover: \(messages) messages, \(expected.count) markets; \(killed) primary processes SIGKILLed with \(committedBeforeKill) markets committed; \
            kill → promoted \(Self.ms(killToPromoted)) ms (0.5 s of it waiting on purpose), promoted → first commit on the new primary \(Self.ms(promotedToCommit)) ms, \
            kill → first commit \(Self.ms(killToCommit)) ms; reads during the outage: standby \(standbyStatuses), multi-host \(primaryStatuses); \
            test wall \(Self.ms(ContinuousClock.now - testStarted)) ms
            """)
        for p in processes { _ = await p.stop(grace: .seconds(10)) }
        await pair.shutdown()
    }
}

/// A read URL that is not a PostgreSQL one stops data-api at start with one line naming the
/// setting (exit 2), without its password.
@Suite struct ReadDatabaseURLSettingTests {
    @Test func aBadReadURLIsAConfigurationError() async throws {
        let directory = try TestDirectory("read-url-setting")
        defer { directory.cleanup() }
        let p = try ChildProcess(name: "data-api", executable: BuiltProducts.executable("data-api"),
                                 arguments: ["--http-port", "0", "--read-database-url", "mysql://reader:hunter2-secret@db/ssmd"],
                                 environment: ["SSMD_NATS_URL": "nats://127.0.0.1:1"], logDirectory: directory.url)
        let exited = await p.waitForExit(timeout: .seconds(30))
        if !exited { _ = await p.kill() }
        #expect(exited && p.exitCode == 2, "exit \(String(describing: p.exitCode)):\n\(p.output)")
        #expect(p.output.contains("--read-database-url (SSMD_READ_DATABASE_URL)"), "\(p.output)")
        #expect(!p.output.contains("hunter2-secret"), "the password must not be printed: \(p.output)")
    }
}
