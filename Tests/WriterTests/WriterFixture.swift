import Foundation
import PureTestSupport
import Logging
import TestSupport
import KalshiModels
import NATSClient
import Pipeline
import PostgresClient
import SSMDCore
import WireContract

/// One test's world: a JetStream account on the shared nats-server, a database of its own
/// (on the shared cluster, or on a private one the test may stop), the secmaster topology,
/// and real `db-writer` processes started (and killed) by the test. Everything is stopped by
/// PID in `shutdown()`; writer logs are printed when `dump` is asked for.
final class WriterFixture: @unchecked Sendable {
    let directory: TestDirectory
    let natsURL: String
    let postgres: TestDatabase
    private let privatePostgres: PostgresTestServer?
    let connection: NATSConnection
    let js: JetStream
    private(set) var writers: [ChildProcess] = []
    private let lock = NSLock()

    init(_ name: String, privatePostgres: Bool = false) async throws {
        directory = try TestDirectory(name)
        natsURL = try await NATSTestServer.sharedAccount().url
        if privatePostgres {
            let server = try await PostgresTestServer()
            self.privatePostgres = server
            postgres = server.defaultDatabase
        } else {
            self.privatePostgres = nil
            postgres = try await PostgresTestServer.sharedDatabase(migrated: false)
        }
        do {
            connection = try await NATSConnection.connect(options: NATSOptions(urls: [natsURL], name: "writer-test"), logger: Logger(label: "test"))
            js = try connection.jetStream(timeout: .seconds(10))
            try await Topology().provision(js)
        } catch {
            await self.privatePostgres?.shutdown()
            throw error
        }
    }

    /// The private cluster (`privatePostgres: true`), which the test may stop and start.
    var postgresServer: PostgresTestServer {
        guard let privatePostgres else { fatalError("this fixture uses the shared cluster: ask for privatePostgres: true") }
        return privatePostgres
    }

    /// Starts a db-writer process (`--ack-wait` short so a killed writer's batch comes back
    /// quickly; debug logs).
    @discardableResult
    func startWriter(_ arguments: [String] = []) throws -> ChildProcess {
        lock.lock(); defer { lock.unlock() }
        let p = try ChildProcess(
            name: "db-writer-\(writers.count + 1)", executable: BuiltProducts.executable("db-writer"),
            arguments: ["--batch-max-age", "200ms", "--ack-wait", "3s", "--metrics-interval", "2s"] + arguments,
            environment: ["SSMD_NATS_URL": natsURL, "SSMD_DATABASE_URL": postgres.connectionString, "SSMD_LOG_LEVEL": "debug"],
            logDirectory: directory.url)
        writers.append(p)
        return p
    }

    func publish(_ messages: [PayloadMessage]) async throws {
        var i = 0
        while i < messages.count {
            let chunk = messages[i..<min(i + 2000, messages.count)].map { OutgoingMessage(subject: $0.subject, data: $0.data) }
            _ = try await js.publishAll(chunk, timeout: .seconds(30))
            i += chunk.count
        }
    }

    /// Not yet delivered + delivered but not acked, for the writer's consumer.
    func backlog() async throws -> Int {
        let info = try await js.consumerInfo(stream: Streams.secmaster, name: Streams.writerConsumer)
        return Int(info.numPending) + Int(info.numAckPending)
    }

    /// Waits until the writer's consumer exists and has nothing pending or unacked, and
    /// `condition` holds.
    func waitUntilDrained(timeout: Duration, _ condition: () async throws -> Bool = { true }) async throws -> Bool {
        try await eventually(timeout: timeout, every: .milliseconds(250)) {
            guard let b = try? await backlog(), b == 0 else { return false }
            return try await condition()
        }
    }

    func query(_ sql: String, _ params: [PostgresValue?] = []) async throws -> PostgresResult {
        try await PostgresConnection.with(postgres.connectionString) { try await $0.execute(sql, params) }
    }

    /// ticker → (status, yes bid as stored) of every market.
    func markets() async throws -> [String: MarketState] {
        var out: [String: MarketState] = [:]
        for row in try await query("SELECT ticker, status, yes_bid_dollars::text FROM markets").rows {
            out[row[0]!] = MarketState(status: row[1]!, yesBid: row[2] ?? "")
        }
        return out
    }

    func logs() -> String {
        lock.lock(); defer { lock.unlock() }
        return writers.map { "--- \($0.name)\n" + $0.report(tail: 6000) }.joined(separator: "\n")
    }

    /// Kills every process at once (SIGKILL) without waiting and removes what the test
    /// made: a test's synchronous `defer`.
    func teardown() {
        for w in lock.withLock({ writers }).reversed() { w.abandon() }
        connection.close()
        privatePostgres?.teardown()
        if privatePostgres == nil { PipelineHarness.dropInBackground(postgres) }
        directory.cleanup()
    }

    func shutdown() async {
        for w in lock.withLock({ writers }).reversed() { await w.stop(grace: .seconds(10)) }
        connection.close()
        await privatePostgres?.shutdown()
        if privatePostgres == nil { PipelineHarness.dropInBackground(postgres) }
        directory.cleanup()
    }
}

struct MarketState: Equatable, CustomStringConvertible {
    var status: String
    var yesBid: String
    var description: String { "\(status)@\(yesBid)" }
}

