import Foundation
import Logging
import TestSupport
import KalshiModels
import NATSClient
import Pipeline
import PostgresClient
import SSMDCore
import WireContract

/// One test's world: a private nats-server and PostgreSQL, the secmaster topology, and
/// real `db-writer` processes started (and killed) by the test. Everything is stopped by PID
/// in `shutdown()`; writer logs are printed when `dump` is asked for.
final class WriterFixture: @unchecked Sendable {
    let directory: TestDirectory
    let nats: NATSTestServer
    let postgres: PostgresTestServer
    let connection: NATSConnection
    let js: JetStream
    private(set) var writers: [ChildProcess] = []
    private let lock = NSLock()

    init(_ name: String) async throws {
        directory = try TestDirectory(name)
        nats = try await NATSTestServer()
        do {
            postgres = try await PostgresTestServer()
        } catch {
            await nats.shutdown()
            throw error
        }
        do {
            connection = try await NATSConnection.connect(options: NATSOptions(urls: [nats.url], name: "writer-test"), logger: Logger(label: "test"))
            js = try connection.jetStream(timeout: .seconds(10))
            try await Topology().provision(js)
        } catch {
            postgres.shutdown()
            await nats.shutdown()
            throw error
        }
    }

    /// Starts a db-writer process (`--ack-wait` short so a killed writer's batch comes back
    /// quickly; debug logs).
    @discardableResult
    func startWriter(_ arguments: [String] = []) throws -> ChildProcess {
        lock.lock(); defer { lock.unlock() }
        let p = try ChildProcess(
            name: "db-writer-\(writers.count + 1)", executable: BuiltProducts.executable("db-writer"),
            arguments: ["--batch-max-age", "200ms", "--ack-wait", "3s", "--metrics-interval", "2s"] + arguments,
            environment: ["SSMD_NATS_URL": nats.url, "SSMD_DATABASE_URL": postgres.connectionString, "SSMD_LOG_LEVEL": "debug"],
            logDirectory: directory.url)
        writers.append(p)
        return p
    }

    func publish(_ messages: [OutgoingMessage]) async throws {
        var i = 0
        while i < messages.count {
            let chunk = Array(messages[i..<min(i + 2000, messages.count)])
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
        return writers.map { "--- \($0.name)\n" + String($0.output.suffix(6000)) }.joined(separator: "\n")
    }

    /// Kills every process at once (SIGKILL) and removes the directories: a test's `defer`.
    func teardown() {
        for w in lock.withLock({ writers }).reversed() { w.killHard() }
        connection.close()
        nats.teardown()
        postgres.shutdown()
        directory.cleanup()
    }

    func shutdown() async {
        for w in lock.withLock({ writers }).reversed() { await w.stop(grace: .seconds(10)) }
        connection.close()
        await nats.shutdown()
        postgres.shutdown()
        directory.cleanup()
    }
}

struct MarketState: Equatable, CustomStringConvertible {
    var status: String
    var yesBid: String
    var description: String { "\(status)@\(yesBid)" }
}

/// 2026-01-12T22:08:10.446961Z plus `seconds`.
func time(_ seconds: Int) -> Timestamp {
    Timestamp(microsecondsSinceEpoch: 1_768_255_690_446_961 + Int64(seconds) * 1_000_000)
}

/// Payloads written by hand (fast even in a debug build, and free to be wrong on purpose).
enum Payload {
    static func market(_ ticker: String, event: String, series: String = "KXTEST", tag: String = "Basketball",
                       status: String = "active", yesBid: String = "0.5600", updated: Int = 0, fetched: Int = 0,
                       title: String = "A market", floorStrike: String = "101.5",
                       customStrike: String = #"{"team":"A"}"#) -> OutgoingMessage {
        let json = """
            {"schema":1,"kind":"market","fetched_at":"\(time(fetched).iso8601)","tag":"\(tag)","series_ticker":"\(series)",\
            "market":{"ticker":"\(ticker)","event_ticker":"\(event)","status":"\(status)","market_type":"binary",\
            "title":"\(title)","yes_sub_title":"Yes","no_sub_title":"No","result":"",\
            "created_time":"\(time(-86_400).iso8601)","updated_time":"\(time(updated).iso8601)",\
            "open_time":"\(time(-3_600).iso8601)","close_time":"\(time(86_400).iso8601)",\
            "can_close_early":true,"strike_type":"greater","floor_strike":"\(floorStrike)","custom_strike":\(customStrike),\
            "rules_primary":"If it happens, yes.","yes_bid_dollars":"\(yesBid)","yes_ask_dollars":"0.5800",\
            "no_bid_dollars":"0.4200","no_ask_dollars":"0.4400","last_price_dollars":"0.5700",\
            "volume_fp":"10.00","volume_24h_fp":"2.00","open_interest_fp":"7.00","new_field_from_the_future":[1,2]}}
            """
        return OutgoingMessage(subject: Subjects.market(tag: tag, series: series, market: ticker), data: Array(json.utf8))
    }

    static func series(_ ticker: String, category: String, fetched: Int, title: String? = nil) -> OutgoingMessage {
        let m = SeriesMessage(fetchedAt: time(fetched), isGame: false,
                              series: Series(ticker: ticker, title: title ?? "Series \(ticker)", category: category, tags: [category]))
        return OutgoingMessage(subject: Subjects.series(ticker), data: try! MessageCodec.encode(m))
    }

    static func catalog(_ category: String, _ tickers: [String], fetched: Int) -> OutgoingMessage {
        let m = CatalogMessage(fetchedAt: time(fetched), category: category, seriesTickers: tickers)
        return OutgoingMessage(subject: Subjects.catalog(category: category), data: try! MessageCodec.encode(m))
    }
}
