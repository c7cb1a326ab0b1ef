import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import NATSClient
import PostgresClient
import SSMDCore

/// Where a daemon serves `/metrics` (Prometheus), `/healthz` (alive) and `/readyz` (its
/// NATS and PostgreSQL connections are up).
public struct OpsOptions: ParsableArguments {
    @Option(name: Settings.metricsPort.name, help: Settings.metricsPort.help)
    public var metricsPort: String?
    @Option(name: Settings.metricsHost.name, help: Settings.metricsHost.help)
    public var metricsHost: String?

    public init() {}

    /// nil when disabled.
    public func resolve(_ r: SettingsResolver = SettingsResolver()) throws -> (host: String, port: Int)? {
        guard let port = try r.value(Settings.metricsPort, metricsPort) else { return nil }
        let host = try r.value(Settings.metricsHost, metricsHost)
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else {
            throw ConfigurationError(setting: Settings.metricsHost.label, problem: "\"\(host)\" is not an address")
        }
        return (host, port)
    }
}

/// The health and metrics endpoint of one daemon, as a service of its group.
public struct OpsServer: Service {
    public typealias Readiness = @Sendable () async -> (ready: Bool, detail: String)

    let host: String
    let port: Int
    let program: String
    let metrics: DaemonMetrics
    let readiness: Readiness
    let logger: Logger

    public init(host: String, port: Int, program: String, metrics: DaemonMetrics, logger: Logger, readiness: @escaping Readiness) {
        self.host = host; self.port = port; self.program = program
        self.metrics = metrics; self.readiness = readiness; self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        let metrics = self.metrics, readiness = self.readiness
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let (ready, detail) = await readiness()
            return Response(status: ready ? .ok : .serviceUnavailable,
                            headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: detail + "\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: DaemonMetrics.contentType],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        let program = self.program, logger = self.logger, host = self.host, port = self.port
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: program),
                              onServerRunning: { channel in
                                  logger.info("metrics and health endpoints listening", metadata: [
                                      "url": "http://\(host):\(channel.localAddress?.port ?? port)"])
                              }, logger: logger)
        try await app.runService()
    }
}

/// What `/readyz` looks at: the daemon's NATS connection and, for the writer, its database.
public final class ReadinessProbe: Sendable {
    private let watched = Mutex<(nats: NATSConnection?, database: (@Sendable () async -> Bool)?)>((nil, nil))

    public init() {}

    public func watch(nats: NATSConnection) { watched.withLock { $0.nats = nats } }
    /// The NATS connection being watched, once the daemon has one.
    public var natsConnection: NATSConnection? { watched.withLock { $0.nats } }
    public func watch(database: @escaping @Sendable () async -> Bool) { watched.withLock { $0.database = database } }

    /// Watches PostgreSQL by connecting with the daemon's connection string and a short
    /// timeout (a held connection would only tell about itself).
    public func watch(postgres conninfo: String) {
        watch(database: {
            guard let c = try? await PostgresConnection.connect(conninfo + (conninfo.contains("://") ? "" : " connect_timeout=2")) else { return false }
            let alive = (try? await c.ping()) != nil
            c.close()
            return alive
        })
    }

    public func check() async -> (ready: Bool, detail: String) {
        let (n, d) = watched.withLock { ($0.nats, $0.database) }
        var problems: [String] = []
        if let n { if !n.isConnected { problems.append("nats: \(n.status.lowercased())") } } else { problems.append("nats: not connected yet") }
        if let d, !(await d()) { problems.append("postgres: unreachable") }
        return problems.isEmpty ? (true, "ready") : (false, problems.joined(separator: "; "))
    }
}
