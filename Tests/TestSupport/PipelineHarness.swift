import Foundation
import Logging
import CurlHTTP
import NATSClient
import PostgresClient
import WireContract

/// The whole ssmd pipeline as real processes on loopback: nats-server with JetStream,
/// PostgreSQL, kalshi-sim, and whichever daemons a test starts. Every process is stopped by
/// PID in `shutdown()` (or killed without waiting by `teardown()`); logs are kept in the test
/// directory and shown on failure.
///
/// NATS and PostgreSQL are shared by default: a JetStream account of its own on the
/// process's nats-server, and an empty database of its own on the process's PostgreSQL
/// cluster (the daemons migrate it, as in production). A test that stops, restarts or
/// reconfigures a server asks for a private one (`privateNATS`, `privatePostgres`).
public final class PipelineHarness: @unchecked Sendable {
    public let directory: TestDirectory
    /// Where the daemons' NATS is: an account on the shared server, or a private server.
    public let natsURL: String
    private let privateNATSServer: NATSTestServer?
    /// The test's database (on the shared cluster unless `privatePostgres`).
    public let postgres: TestDatabase
    private let privatePostgresServer: PostgresTestServer?
    public private(set) var simulator: ChildProcess!
    public private(set) var simulatorURL = ""
    public private(set) var daemons: [ChildProcess] = []
    private var counter = 0
    private let lock = NSLock()

    /// `simulatorArguments` are added to `--port 0 --seed … --scale … --rate-limit off`
    /// (later flags win, so a test can turn the exchange's limiting back on).
    public init(name: String, scale: Double = 0.02, seed: Int = 7, simulatorArguments: [String] = [],
                privateNATS: Bool = false, privatePostgres: Bool = false) async throws {
        directory = try TestDirectory(name)
        if privateNATS {
            let server = try await NATSTestServer()
            privateNATSServer = server
            natsURL = server.url
        } else {
            privateNATSServer = nil
            natsURL = try await NATSTestServer.sharedAccount().url
        }
        do {
            if privatePostgres {
                let server = try await PostgresTestServer()
                privatePostgresServer = server
                postgres = server.defaultDatabase
            } else {
                privatePostgresServer = nil
                postgres = try await PostgresTestServer.sharedDatabase(migrated: false)
            }
        } catch {
            privateNATSServer?.teardown()
            throw error
        }
        do {
            try await startSimulator(["--scale", "\(scale)", "--seed", "\(seed)", "--rate-limit", "off"] + simulatorArguments)
        } catch {
            teardown()
            throw error
        }
    }

    /// The private nats-server (`privateNATS: true`), which the test may stop and start.
    public var nats: NATSTestServer {
        guard let privateNATSServer else {
            fatalError("this harness uses an account on the shared nats-server: ask for privateNATS: true to control the server")
        }
        return privateNATSServer
    }

    /// The private PostgreSQL cluster (`privatePostgres: true`), which the test may stop and start.
    public var postgresServer: PostgresTestServer {
        guard let privatePostgresServer else {
            fatalError("this harness uses a database on the shared cluster: ask for privatePostgres: true to control the server")
        }
        return privatePostgresServer
    }

    public var exchangeURL: String { simulatorURL + "/trade-api/v2" }

    public func startSimulator(_ arguments: [String]) async throws {
        await simulator?.stop()
        let sim = try ChildProcess(name: "kalshi-sim-\(nextIndex())", executable: BuiltProducts.executable("kalshi-sim"),
                                   arguments: ["--port", "0"] + arguments, logDirectory: directory.url)
        let found = await eventually(timeout: .seconds(30)) { sim.output.contains("kalshi-sim listening on ") || !sim.isRunning }
        guard found, let line = sim.output.split(separator: "\n").first(where: { $0.contains("kalshi-sim listening on ") }) else {
            throw HarnessError.failed("kalshi-sim did not start:\n\(sim.output.suffix(2000))")
        }
        simulatorURL = String(line[line.range(of: "http://")!.lowerBound...]).trimmingCharacters(in: .whitespaces)
        simulator = sim
    }

    /// Environment every daemon gets: the test's NATS, PostgreSQL and simulator, no limit
    /// worth hitting, debug logs.
    public var environment: [String: String] {
        ["SSMD_NATS_URL": natsURL, "SSMD_EXCHANGE_URL": exchangeURL, "SSMD_DATABASE_URL": postgres.connectionString,
         "SSMD_RATE_TOKENS_PER_S": "1000000", "SSMD_RATE_BURST_S": "1", "SSMD_LOG_LEVEL": "debug"]
    }

    @discardableResult
    public func start(_ program: String, _ arguments: [String] = [], environment extra: [String: String] = [:]) throws -> ChildProcess {
        var env = environment
        for (k, v) in extra { env[k] = v }
        let p = try ChildProcess(name: "\(program)-\(nextIndex())", executable: BuiltProducts.executable(program),
                                 arguments: arguments, environment: env, logDirectory: directory.url)
        lock.lock(); daemons.append(p); lock.unlock()
        return p
    }

    /// Runs a program to completion and returns its exit status and output.
    public func run(_ program: String, _ arguments: [String] = [], environment extra: [String: String] = [:], timeout: Duration = .seconds(120)) async throws -> (status: Int32, output: String) {
        let p = try start(program, arguments, environment: extra)
        guard await p.waitForExit(timeout: timeout) else {
            await p.kill()
            throw HarnessError.failed("\(program) did not finish within \(timeout):\n\(p.output.suffix(3000))")
        }
        return (p.exitCode ?? -1, p.output)
    }

    /// Runs a program to completion; unless it exits 0, fails with its output.
    @discardableResult
    public func runToSuccess(_ program: String, _ arguments: [String] = [], environment extra: [String: String] = [:]) async throws -> String {
        let r = try await run(program, arguments, environment: extra)
        guard r.status == 0 else { throw HarnessError.failed("\(program) \(arguments.joined(separator: " ")) exited \(r.status):\n\(r.output.suffix(3000))") }
        return r.output
    }

    private func nextIndex() -> Int {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        return counter
    }

    // MARK: Observing the pipeline

    public func jetStream() async throws -> (NATSConnection, JetStream) {
        let c = try await NATSConnection.connect(options: NATSOptions(urls: [natsURL], name: "test-observer"), logger: Logger(label: "test"))
        return (c, try c.jetStream())
    }

    /// Work items not yet acked, across every work consumer, plus the writer's backlog.
    public func backlog() async throws -> (work: Int, writer: Int) {
        let (c, js) = try await jetStream()
        defer { c.close() }
        var work = 0
        for name in try await js.consumerNames(stream: Streams.work) {
            let info = try await js.consumerInfo(stream: Streams.work, name: name)
            work += Int(info.numPending) + Int(info.numAckPending)
        }
        var writer = 0
        if let info = try? await js.consumerInfo(stream: Streams.secmaster, name: Streams.writerConsumer) {
            writer = Int(info.numPending) + Int(info.numAckPending)
        } else {
            writer = -1
        }
        return (work, writer)
    }

    /// Waits until every work item is acked and the writer has committed everything.
    public func waitUntilDrained(timeout: Duration, workOnly: Bool = false) async throws -> Bool {
        var quiet = 0
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let b = try await backlog()
            if b.work == 0 && (workOnly || b.writer == 0) { quiet += 1 } else { quiet = 0 }
            if quiet >= 3 { return true }
            try await Task.sleep(for: .milliseconds(300))
        }
        return false
    }

    // MARK: The simulator's truth and the database

    public func simulatorJSONLines(_ path: String) async throws -> [[String: Any]] {
        let r = try await TestHTTP.client.get(url: simulatorURL + path)
        guard r.status == 200 else { throw HarnessError.failed("GET \(path) → \(r.status)") }
        return String(decoding: r.body, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    public func simulatorJSON(_ path: String) async throws -> [String: Any] {
        let r = try await TestHTTP.client.get(url: simulatorURL + path)
        guard r.status == 200, let o = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else {
            throw HarnessError.failed("GET \(path) → \(r.status)")
        }
        return o
    }

    /// POSTs a JSON body to the simulator (run-time settings, clock) with the curl tool.
    @discardableResult
    public func simulatorPost(_ path: String, json: String) async throws -> String {
        let r = try await runTool("curl", ["-sf", "-X", "POST", "-H", "Content-Type: application/json", "-d", json, simulatorURL + path], timeout: .seconds(30))
        guard r.status == 0 else { throw HarnessError.failed("POST \(path) failed: curl exit \(r.status) \(r.output)") }
        return r.output
    }

    /// Requests the simulator answered, by status code, across exchange endpoints.
    public func simulatorStatusCounts() async throws -> [String: Int] {
        let stats = try await simulatorJSON("/_sim/stats")
        var out: [String: Int] = [:]
        for (endpoint, codes) in (stats["requests"] as? [String: [String: Int]]) ?? [:] where !endpoint.hasPrefix("/_sim") {
            for (code, n) in codes { out[code, default: 0] += n }
        }
        return out
    }

    public func query(_ sql: String, _ params: [PostgresValue?] = []) async throws -> PostgresResult {
        try await PostgresConnection.with(postgres.connectionString) { try await $0.execute(sql, params) }
    }

    /// Everything the processes printed, for a failing test's report.
    public func logs() -> String {
        var out = "--- kalshi-sim\n" + (simulator?.output.suffix(3000) ?? "")
        for d in lock.withLock({ daemons }) { out += "\n--- \(d.name)\n" + d.report() }
        return out
    }

    /// Kills every process at once (SIGKILL) without waiting — the reaper thread collects
    /// them — and removes what the test made: a test's synchronous `defer`.
    public func teardown() {
        for d in lock.withLock({ daemons }).reversed() { d.abandon() }
        simulator?.abandon()
        privateNATSServer?.teardown()
        privatePostgresServer?.teardown()
        if privatePostgresServer == nil { Self.dropInBackground(postgres) }
        directory.cleanup()
    }

    /// Stops every process gracefully (SIGTERM, then SIGKILL past the grace) and waits.
    public func shutdown() async {
        for d in lock.withLock({ daemons }).reversed() { await d.stop(grace: .seconds(10)) }
        await simulator?.stop()
        await privateNATSServer?.shutdown()
        await privatePostgresServer?.shutdown()
        if privatePostgresServer == nil { Self.dropInBackground(postgres) }
        directory.cleanup()
    }

    /// The test's database on the shared cluster is dropped once its killed clients are gone
    /// (`WITH (FORCE)` ends any still there); a drop left undone goes with the cluster at exit.
    public static func dropInBackground(_ database: TestDatabase) {
        let admin = database.server.connectionString(database: "postgres")
        let name = database.database
        Task.detached {
            try? await PostgresConnection.with(admin) { c in
                let statement = try await c.execute("SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)", [.text(name)]).scalar ?? ""
                try await c.executeScript(statement)
            }
        }
    }
}

public enum HarnessError: Error, CustomStringConvertible {
    case failed(String)
    public var description: String {
        switch self { case .failed(let s): return s }
    }
}
