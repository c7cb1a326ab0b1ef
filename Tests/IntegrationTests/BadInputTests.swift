import Foundation
import Testing
import TestSupport
import CurlHTTP
import SSMDCore
import WireContract

/// Each daemon meets bad input as a real process: an exchange that cannot be reached or
/// answers HTML, NATS refused or refusing our credentials, a wrong database password, an
/// unknown tag, invalid settings. Each gives one clear line and either the right exit code
/// or a retry — never a crash, never a secret in the output.
@Suite(.tags(.processes), .processSlot) struct BadInputTests {
    /// The last line a process printed (a daemon's final word on stderr).
    static func lastLine(_ p: ChildProcess) -> String {
        String(p.output.split(separator: "\n").last ?? "")
    }

    static func lines(_ p: ChildProcess, containing needle: String) -> [Substring] {
        p.output.split(separator: "\n").filter { $0.contains(needle) }
    }

    /// A loopback port nothing listens on.
    static func closedPort() throws -> Int { try NATSTestServer.freePort() }

    static func streamMessages(_ h: PipelineHarness, _ stream: String) async throws -> UInt64 {
        let (c, js) = try await h.jetStream()
        defer { c.close() }
        return try await js.streamInfo(name: stream).messages
    }

    // MARK: The exchange

    @Test(.timeLimit(.minutes(20))) func unreachableExchange() async throws {
        let h = try await PipelineHarness(name: "bad-exchange", scale: 0.01, simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let nowhere = ["SSMD_EXCHANGE_URL": "http://127.0.0.1:\(try Self.closedPort())/trade-api/v2", "SSMD_HTTP_MAX_ATTEMPTS": "2"]

        // --once: the cycle fails, exit 1, the last line says what and where.
        let once = try h.start("series-fetcher", ["--once"], environment: nowhere)
        #expect(await once.waitForExit(timeout: .seconds(60)))
        #expect(once.exitCode == 1, "\(once.output.suffix(2000))")
        #expect(Self.lastLine(once).hasPrefix("series-fetcher: exchange unreachable on /search/tags_by_categories"), "\(Self.lastLine(once))")

        // As a daemon it keeps running and tries again every interval.
        let daemon = try h.start("series-fetcher", ["--interval", "1s"], environment: nowhere)
        #expect(await eventually(timeout: .seconds(40)) { Self.lines(daemon, containing: "cycle failed").count >= 2 }, "\(daemon.output.suffix(2000))")
        #expect(Self.lines(daemon, containing: "cycle failed").allSatisfy { $0.contains("exchange unreachable on /search/tags_by_categories") })
        #expect(daemon.isRunning)

        // market-fetcher: each work item fails with one line and is handed back, not lost.
        try await h.runToSuccess("series-fetcher", ["--once"])
        let work = try await h.backlog().work
        #expect(work > 0)
        let fetcher = try h.start("market-fetcher", ["--concurrency", "1"], environment: nowhere)
        #expect(await eventually(timeout: .seconds(40)) { Self.lines(fetcher, containing: "will be retried").count >= 3 }, "\(fetcher.output.suffix(2000))")
        #expect(Self.lines(fetcher, containing: "will be retried").allSatisfy { $0.contains("exchange unreachable on /events") })
        #expect(fetcher.isRunning)
        #expect(try await h.backlog().work == work, "work must wait for the exchange, not vanish")
        #expect(try await Self.streamMessages(h, Streams.deadLetters) == 0)
        await #expect(fetcher.stop(grace: .seconds(15)) == 0)
        await #expect(daemon.stop(grace: .seconds(15)) == 0)
    }

    /// An "exchange" that answers every request with an HTML page (a maintenance page, a
    /// captive proxy): a typed error naming the endpoint, retried, nothing written, nothing
    /// lost — the real exchange then gets every item through.
    @Test(.timeLimit(.minutes(20))) func exchangeAnsweringHTML() async throws {
        let h = try await PipelineHarness(name: "bad-html", scale: 0.01, simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let port = try Self.closedPort()
        let html = try ChildProcess(name: "html-server", executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *a): pass
            http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
            """, "\(port)"], logDirectory: h.directory.url)
        defer { html.abandon() }
        #expect(await eventually(timeout: .seconds(10)) { (try? await TestHTTP.client.get(url: "http://127.0.0.1:\(port)/"))?.status == 200 })
        let htmlExchange = ["SSMD_EXCHANGE_URL": "http://127.0.0.1:\(port)/trade-api/v2", "SSMD_HTTP_MAX_ATTEMPTS": "2"]

        let once = try h.start("series-fetcher", ["--once"], environment: htmlExchange)
        #expect(await once.waitForExit(timeout: .seconds(60)))
        #expect(once.exitCode == 1, "\(once.output.suffix(2000))")
        #expect(Self.lastLine(once).hasPrefix("series-fetcher: undecodable exchange response from /search/tags_by_categories"), "\(Self.lastLine(once))")

        try h.start("db-writer", ["--batch-max-age", "100ms"])
        try await h.runToSuccess("series-fetcher", ["--once"])
        let work = try await h.backlog().work
        let fetcher = try h.start("market-fetcher", ["--concurrency", "1"], environment: htmlExchange)
        #expect(await eventually(timeout: .seconds(40)) { Self.lines(fetcher, containing: "will be retried").count >= 3 }, "\(fetcher.output.suffix(2000))")
        #expect(Self.lines(fetcher, containing: "will be retried").allSatisfy { $0.contains("undecodable exchange response from /events") })
        #expect(fetcher.isRunning)
        #expect(try await h.backlog().work == work)
        #expect(try await h.query("SELECT count(*) AS n FROM markets")[0, "n"] == "0", "nothing may be written from an HTML page")
        await #expect(fetcher.stop(grace: .seconds(15)) == 0)

        // The real exchange is back: every item goes through, exactly.
        try h.start("market-fetcher")
        #expect(try await h.waitUntilDrained(timeout: .seconds(120)), "\(h.logs())")
        try await PipelineEndToEndTests.assertExact(h, try PipelineEndToEndTests.expectation(h))
        #expect(try await Self.streamMessages(h, Streams.deadLetters) == 0)
    }

    // MARK: NATS

    /// NATS not there at start: every daemon says so in one line, waits (not ready), and
    /// works once NATS appears; asked to stop while waiting, it exits 0.
    @Test(.timeLimit(.minutes(20))) func natsRefusedAtStart() async throws {
        let h = try await PipelineHarness(name: "bad-nats", scale: 0.01, simulatorArguments: PipelineEndToEndTests.frozenClock,
                                          privateNATS: true)
        defer { h.teardown() }
        await h.nats.stop()
        let daemons = [try h.start("db-writer"), try h.start("market-fetcher"), try h.start("series-fetcher", ["--interval", "1h"])]
        #expect(await eventually(timeout: .seconds(20)) { daemons.allSatisfy { OpsEndpointTests.endpoint(of: $0) != nil } }, "\(h.logs())")
        for d in daemons {
            let line = Self.lines(d, containing: "NATS not reachable yet").first ?? ""
            #expect(line.contains("nats.urls=\(h.nats.url)"), "\(d.name): \(d.output.suffix(2000))")
            let base = try #require(OpsEndpointTests.endpoint(of: d))
            let ready = await OpsEndpointTests.get(base + "/readyz")
            #expect(ready.0 == 503 && ready.1.contains("nats"), "\(d.name): \(ready)")
            #expect(d.isRunning)
        }
        // One of them is told to stop while it waits: a clean stop.
        let stopped = daemons[2]
        await #expect(stopped.stop(grace: .seconds(15)) == 0, "\(stopped.output.suffix(2000))")
        #expect(Self.lastLine(stopped).contains("stopped while waiting for NATS"), "\(Self.lastLine(stopped))")

        try await h.nats.start()
        for d in daemons.prefix(2) {
            let base = try #require(OpsEndpointTests.endpoint(of: d))
            #expect(await eventually(timeout: .seconds(30)) { await OpsEndpointTests.get(base + "/readyz").0 == 200 }, "\(d.name): \(d.output.suffix(2000))")
        }
        // And the pipeline works end to end with the daemons that waited.
        try await h.runToSuccess("series-fetcher", ["--once"])
        #expect(try await h.waitUntilDrained(timeout: .seconds(120)), "\(h.logs())")
        try await PipelineEndToEndTests.assertExact(h, try PipelineEndToEndTests.expectation(h))
    }

    /// A NATS server that refuses our credentials (user and password by setting or in the
    /// URL, a token in the URL): exit 2 at once, one line naming the settings and the
    /// server's reason, no password or token anywhere in the output.
    @Test(.timeLimit(.minutes(20))) func natsRefusesTheCredentials() async throws {
        let nats = try await NATSTestServer(auth: .userPassword(user: "ssmd", password: "sekrit-nats"))
        defer { nats.teardown() }
        let dir = try TestDirectory("bad-nats-auth")
        defer { dir.cleanup() }
        for (program, extra) in [("db-writer", ["--database-url", "host=127.0.0.1 port=1 dbname=x"]),
                                 ("market-fetcher", []), ("series-fetcher", ["--once"])] {
            for env in [["SSMD_NATS_URL": nats.url, "SSMD_NATS_USER": "ssmd", "SSMD_NATS_PASSWORD": "hunter2-wrong"],
                        ["SSMD_NATS_URL": "nats://ssmd:hunter2-wrong@127.0.0.1:\(nats.port)"],
                        ["SSMD_NATS_URL": "nats://hunter2-token@127.0.0.1:\(nats.port)"]] {
                let p = try ChildProcess(name: program, executable: BuiltProducts.executable(program), arguments: extra,
                                         environment: env.merging(["SSMD_EXCHANGE_URL": "http://127.0.0.1:1/trade-api/v2"]) { a, _ in a },
                                         logDirectory: dir.url)
                #expect(await p.waitForExit(timeout: .seconds(20)), "\(program) kept running: \(p.output.suffix(2000))")
                await p.kill()
                #expect(p.exitCode == 2, "\(program): \(p.output.suffix(2000))")
                let last = Self.lastLine(p)
                #expect(last.hasPrefix("\(program): invalid setting --nats-url/--nats-user/--nats-password"), "\(last)")
                #expect(last.contains("Authorization Violation"), "\(last)")
                #expect(!p.output.contains("hunter2"), "a password was printed: \(p.output)")
            }
        }
    }

    // MARK: PostgreSQL

    /// A wrong database password: the writer exits 2 with one line naming the setting and
    /// PostgreSQL's reason, never the password; a database that is merely down is waited for.
    @Test(.timeLimit(.minutes(20))) func wrongDatabasePassword() async throws {
        let h = try await PipelineHarness(name: "bad-pg", scale: 0.01, simulatorArguments: PipelineEndToEndTests.frozenClock,
                                          privatePostgres: true)
        defer { h.teardown() }
        try await h.postgres.createRole(name: "ssmd_writer", password: "right horse battery")
        let pg = h.postgres
        let wrong = [
            pg.connectionString(user: "ssmd_writer", password: "hunter2 wrong"),
            "postgresql://ssmd_writer:hunter2wrong@127.0.0.1:\(pg.port)/\(pg.database)",
            pg.connectionString(user: "nobody_here", password: "hunter2"),
            pg.server.connectionString(database: "no_such_db", user: "postgres"),
        ]
        for (i, url) in wrong.enumerated() {
            let w = try h.start("db-writer", i == 1 ? ["--no-migrate"] : [], environment: ["SSMD_DATABASE_URL": url])
            #expect(await w.waitForExit(timeout: .seconds(30)), "db-writer kept running with \(Redaction.conninfo(url)): \(w.output.suffix(2000))")
            await w.kill()
            #expect(w.exitCode == 2, "\(w.output.suffix(2000))")
            let last = Self.lastLine(w)
            #expect(last.hasPrefix("db-writer: invalid setting --database-url (SSMD_DATABASE_URL): PostgreSQL refused the connection:"), "\(last)")
            #expect(last.contains(i == 3 ? "does not exist" : i == 2 ? "nobody_here" : "password authentication failed"), "\(last)")
            #expect(!w.output.contains("hunter2") && !w.output.contains("horse"), "a password was printed: \(w.output)")
        }

        // Down, not refusing: the writer waits, then works.
        await h.postgresServer.stop()
        let writer = try h.start("db-writer", ["--batch-max-age", "100ms"])
        #expect(await eventually(timeout: .seconds(20)) { Self.lines(writer, containing: "database migration failed; retrying").count >= 1 }, "\(writer.output.suffix(2000))")
        try await Task.sleep(for: .seconds(2))
        #expect(writer.isRunning)
        try await h.postgresServer.start()
        try h.start("market-fetcher")
        try await h.runToSuccess("series-fetcher", ["--once"])
        #expect(try await h.waitUntilDrained(timeout: .seconds(120)), "\(h.logs())")
        try await PipelineEndToEndTests.assertExact(h, try PipelineEndToEndTests.expectation(h))
    }

    // MARK: Tags and settings

    /// A tag no series carries: market-fetcher simply finds no work (ready, quiet, alive);
    /// series-fetcher completes its cycle with nothing to publish.
    @Test(.timeLimit(.minutes(20))) func unknownTag() async throws {
        let h = try await PipelineHarness(name: "bad-tag", scale: 0.01, simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let fetcher = try h.start("market-fetcher", ["--tag", "No Such Tag & Co"])
        #expect(await eventually(timeout: .seconds(20)) { OpsEndpointTests.endpoint(of: fetcher) != nil })
        let base = try #require(OpsEndpointTests.endpoint(of: fetcher))
        #expect(await eventually(timeout: .seconds(20)) { await OpsEndpointTests.get(base + "/readyz").0 == 200 })
        let cycle = try await h.run("series-fetcher", ["--once", "--tag", "No Such Tag & Co"])
        #expect(cycle.status == 0, "\(cycle.output.suffix(2000))")
        #expect(try await Self.streamMessages(h, Streams.work) == 0, "no work for a tag nobody has")
        try await Task.sleep(for: .seconds(3))
        #expect(fetcher.isRunning)
        let complaints = fetcher.output.split(separator: "\n").filter { $0.contains("level=error") || $0.contains("level=critical") }
        #expect(complaints.isEmpty, "\(complaints)")
        await #expect(fetcher.stop(grace: .seconds(15)) == 0)
    }

    /// Settings not covered by ConfigurationErrorTests: each exits 2 with one line naming it.
    @Test(arguments: [
        ("market-fetcher", ["--lookback", "5s"], "--lookback"),
        ("market-fetcher", ["--ack-wait", "0s"], "--ack-wait"),
        ("market-fetcher", ["--http-timeout", "forever"], "--http-timeout"),
        ("market-fetcher", ["--nats-creds", "/nonexistent/ssmd.creds"], "--nats-creds"),
        ("series-fetcher", ["--schedule-file", "/nonexistent/schedules.yaml"], "--schedule-file"),
        ("series-fetcher", ["--metrics-port", "70000"], "--metrics-port"),
        ("series-fetcher", ["--nats-password", "hunter2"], "--nats-password"),
        ("db-writer", ["--ack-wait", "0s"], "--ack-wait"),
        ("db-writer", ["--batch-max-bytes", "12"], "--batch-max-bytes"),
        ("db-writer", ["--nats-url", ""], "--nats-url"),
    ])
    func invalidSettingExitsTwo(_ program: String, _ arguments: [String], _ mentions: String) async throws {
        let dir = try TestDirectory("bad-setting")
        defer { dir.cleanup() }
        let p = try ChildProcess(name: program, executable: BuiltProducts.executable(program), arguments: arguments,
                                 environment: ["SSMD_NATS_URL": "nats://127.0.0.1:1"], logDirectory: dir.url)
        #expect(await p.waitForExit(timeout: .seconds(10)))
        await p.kill()
        #expect(p.exitCode == 2, "\(p.output)")
        let lines = p.output.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("\(program): ") && lines[0].contains(mentions), "\(p.output)")
        #expect(!p.output.contains("hunter2"))
    }
}
