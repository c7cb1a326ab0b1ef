import ArgumentParser
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import BuildInfo
import CurlHTTP
import DaemonKit
import SSMDCore

/// `data-api`: the read-only HTTP API and admin dashboard over the security master.
/// Exit 0 on SIGTERM/SIGINT, 1 on a runtime failure, 2 on a configuration error (one line).
struct DataAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-api",
        abstract: "Read-only JSON API and admin dashboard over the ssmd security master.",
        version: BuildInfo.versionLine(program: "data-api"))

    @OptionGroup var common: CommonOptions
    @OptionGroup var database: DatabaseOptions
    @Option(name: Settings.readDatabaseURL.name, help: Settings.readDatabaseURL.help)
    var readDatabaseURL: String?
    @Option(name: Settings.httpHost.name, help: Settings.httpHost.help)
    var httpHost: String?
    @Option(name: Settings.httpPort.name, help: Settings.httpPort.help)
    var httpPort: String?
    @Option(name: Settings.dbConnections.name, help: Settings.dbConnections.help)
    var dbConnections: String?
    @Option(name: Settings.dashboardSampleInterval.name, help: Settings.dashboardSampleInterval.help)
    var sampleInterval: String?
    @Option(name: Settings.dashboardHistory.name, help: Settings.dashboardHistory.help)
    var historyWindow: String?

    func run() async throws {
        let r = SettingsResolver()
        let c = try common.resolve(connectionName: "data-api", r)
        let conninfo = try Self.readConnectionString(try r.value(Settings.readDatabaseURL, readDatabaseURL), default: try database.resolve(r))
        let host = try r.value(Settings.httpHost, httpHost)
        if host.isEmpty || host.contains(where: \.isWhitespace) {
            throw ConfigurationError(setting: Settings.httpHost.label, problem: "\"\(host)\" is not an address")
        }
        let port = try r.value(Settings.httpPort, httpPort)
        let connections = try r.value(Settings.dbConnections, dbConnections)
        let interval = try r.value(Settings.dashboardSampleInterval, sampleInterval)
        let window = try r.value(Settings.dashboardHistory, historyWindow)
        // Bounded memory: a sample is a few hundred bytes.
        guard window.seconds / interval.seconds <= 100_000 else {
            throw ConfigurationError(setting: Settings.dashboardHistory.label, problem: "keeps more than 100,000 samples at --dashboard-sample-interval; sample less often or keep less")
        }
        StructuredLogHandler.bootstrap(level: c.logLevel, format: c.logFormat)
        let logger = Logger(label: "data-api")
        let metrics = DaemonMetrics.bootstrap(program: "data-api")

        logger.info("starting", metadata: ["database": "\(Redaction.conninfo(conninfo.isEmpty ? "(PG* environment)" : conninfo))"])
        let pool = ReadOnlyPool(conninfo: conninfo, size: connections, logger: logger)
        let history = PipelineHistory(interval: interval, window: window)
        let dashboard = Dashboard(pool: pool, nats: c.nats, history: history, logger: logger)
        let api = DataAPI(pool: pool, dashboard: dashboard, logger: logger)
        let app = Application(
            responder: DataAPIResponder(api: api, metrics: metrics),
            configuration: .init(address: .hostname(host, port: port), serverName: "ssmd-data-api"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("data-api listening", metadata: ["url": "http://\(host):\(bound)"])
                FileHandle.standardOutput.write(Data("data-api listening on http://\(host):\(bound)\n".utf8))
            },
            logger: logger)
        do {
            try await DaemonMain.run(services: [app, PipelineSampler(dashboard: dashboard, history: history, logger: logger)],
                                     logger: logger, shutdownTimeout: c.shutdownTimeout)
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}

extension DataAPICommand {
    /// The connection string reads use: `--read-database-url` when given (and not empty),
    /// else `--database-url`'s.
    static func readConnectionString(_ read: String?, default primary: String) throws -> String {
        guard let read, !read.isEmpty else { return primary }
        if read.contains("://"), !(read.hasPrefix("postgres://") || read.hasPrefix("postgresql://")) {
            throw ConfigurationError(setting: Settings.readDatabaseURL.label,
                                     problem: "\(Redaction.conninfo(read)) is neither a postgres:// URI nor a key=value connection string")
        }
        return read
    }
}

/// Answers every request through ``DataAPI``, except `/metrics` (Prometheus text), and
/// counts each answer by route template and status.
struct DataAPIResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let api: DataAPI
    let metrics: DaemonMetrics

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        let path = request.uri.path
        let r: APIResponse
        if path == "/metrics", request.method == .get || request.method == .head {
            r = APIResponse(status: 200, contentType: DaemonMetrics.contentType, body: metrics.render())
        } else {
            r = await api.handle(method: request.method.rawValue, path: path, query: request.uri.query ?? "")
        }
        APIRoute.record(path: path, status: r.status, duration: ContinuousClock.now - started)
        var headers = HTTPFields()
        headers[.contentType] = r.contentType
        headers[.cacheControl] = "no-store"
        let body = request.method == .head ? ByteBuffer() : ByteBuffer(bytes: r.body)
        return Response(status: HTTPResponse.Status(code: r.status), headers: headers, body: ResponseBody(byteBuffer: body))
    }
}

@main
enum DataAPIMain {
    static func main() async {
        ProcessMemory.configureMalloc()
        do {
            var command = try DataAPICommand.parse()
            try await command.run()
        } catch {
            DaemonMain.exit(DataAPICommand.self, error: error, program: "data-api")
        }
    }
}
