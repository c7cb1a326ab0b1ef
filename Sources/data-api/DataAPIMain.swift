import ArgumentParser
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import CurlHTTP
import DaemonKit
import SSMDCore

/// `data-api`: the read-only HTTP API and admin dashboard over the security master.
/// Exit 0 on SIGTERM/SIGINT, 1 on a runtime failure, 2 on a configuration error (one line).
struct DataAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-api",
        abstract: "Read-only JSON API and admin dashboard over the ssmd security master.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("http-host"), help: "Address to listen on (SSMD_HTTP_HOST). Default 127.0.0.1")
    var httpHost: String?
    @Option(name: .customLong("http-port"), help: "Port to listen on; 0 picks a free one (SSMD_HTTP_PORT). Default 8080")
    var httpPort: String?
    @Option(name: .customLong("db-connections"), help: "Most PostgreSQL connections at once (SSMD_DB_CONNECTIONS). Default 4")
    var dbConnections: String?

    func run() async throws {
        let r = SettingsResolver()
        let c = try common.resolve(connectionName: "data-api", r)
        let conninfo = try database.resolve(r)
        let host = r.string("http-host", httpHost, default: "127.0.0.1") ?? "127.0.0.1"
        if host.isEmpty || host.contains(where: \.isWhitespace) {
            throw ConfigurationError(setting: "--http-host (SSMD_HTTP_HOST)", problem: "\"\(host)\" is not an address")
        }
        let port = try r.int("http-port", httpPort, default: 8080, range: 0...65535)
        let connections = try r.int("db-connections", dbConnections, default: 4, range: 1...64)
        StructuredLogHandler.bootstrap(level: c.logLevel, format: c.logFormat)
        let logger = Logger(label: "data-api")

        let pool = ReadOnlyPool(conninfo: conninfo, size: connections)
        let api = DataAPI(pool: pool, dashboard: Dashboard(pool: pool, nats: c.nats, logger: logger), logger: logger)
        let app = Application(
            responder: DataAPIResponder(api: api),
            configuration: .init(address: .hostname(host, port: port), serverName: "ssmd-data-api"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("data-api listening", metadata: ["url": "http://\(host):\(bound)"])
                FileHandle.standardOutput.write(Data("data-api listening on http://\(host):\(bound)\n".utf8))
            },
            logger: logger)
        do {
            try await DaemonMain.run(services: [app], logger: logger, shutdownTimeout: c.shutdownTimeout)
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}

struct DataAPIResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let api: DataAPI

    func respond(to request: Request, context: Context) async throws -> Response {
        let r = await api.handle(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "")
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
