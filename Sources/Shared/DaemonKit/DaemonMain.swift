import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import NATSClient
import Pipeline
import PostgresClient
import SSMDCore

/// The shared entry point of every daemon: parse, validate, run the services in a
/// `ServiceGroup`, and map failures to exit codes — 0 clean stop, 1 runtime failure,
/// 2 usage or configuration error (one line naming the problem).
public enum DaemonMain {
    public static func exit<C: ParsableCommand>(_ command: C.Type, error: Error, program: String) -> Never {
        func fail(_ code: Int32, _ text: String) -> Never {
            FileHandle.standardError.write(Data("\(program): \(oneLine(text))\n".utf8))
            Foundation.exit(code)
        }
        if let e = error as? ConfigurationError { fail(2, "\(e)") }
        if let e = error as? StoppedBeforeReady {
            // Asked to stop while still waiting for a server: a clean stop.
            fail(0, "\(e)")
        }
        // A server that answered and refused our credentials: a configuration problem,
        // reported with the settings that carry them.
        if let e = error as? NATSError, case .refused = e {
            fail(2, "\(ConfigurationError(setting: "--nats-url/--nats-user/--nats-password/--nats-token/--nats-creds (SSMD_NATS_*)", problem: "\(e)"))")
        }
        if let e = error as? PostgresError, e.isRefusal {
            fail(2, "\(ConfigurationError(setting: Settings.databaseURL.label, problem: "PostgreSQL refused the connection: \(e.message)"))")
        }
        let code = C.exitCode(for: error)
        if code == .success {
            print(C.fullMessage(for: error))
            Foundation.exit(0)
        }
        if error is ValidationError || code == .validationFailure || error is CleanExit || "\(type(of: error))".contains("CommandError") {
            fail(2, String(C.message(for: error).split(separator: "\n").first ?? ""))
        }
        fail(1, "\(error)")
    }

    /// Messages from libpq or cnats can span lines; the last line a daemon prints is one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\t" }).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Runs services until SIGTERM/SIGINT (graceful: they drain and flush) or until one ends.
    /// Services are named by their type only: the service group logs each service's
    /// description, and a daemon's service holds its settings — passwords included.
    public static func run(services: [any Service], logger: Logger, shutdownTimeout: Duration) async throws {
        var config = ServiceGroupConfiguration(services: services.map {
            ServiceGroupConfiguration.ServiceConfiguration(service: Named($0), successTerminationBehavior: .gracefullyShutdownGroup,
                                                           failureTerminationBehavior: .gracefullyShutdownGroup)
        }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        config.maximumGracefulShutdownDuration = shutdownTimeout
        config.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: config).run()
    }
}

/// A service described by its type name alone (never by its stored settings).
struct Named: Service, CustomStringConvertible {
    let service: any Service
    init(_ service: any Service) { self.service = service }
    func run() async throws { try await service.run() }
    var description: String { "\(type(of: service))" }
}

extension DaemonMain {
    /// Runs a daemon's service beside its `/metrics`, `/healthz` and `/readyz` endpoint
    /// (when `ops` is set), until SIGTERM/SIGINT or until the service ends. A NATS
    /// connection that cnats closes for good (it never does while the server may come back;
    /// it does when the server starts refusing our credentials) ends the daemon with exit 1
    /// rather than leaving it alive and useless.
    public static func run(_ service: any Service, program: String, ops: (host: String, port: Int)?, metrics: DaemonMetrics,
                           probe: ReadinessProbe, logger: Logger, shutdownTimeout: Duration) async throws {
        var services: [any Service] = [service, NATSWatchdog(probe: probe)]
        if let ops {
            services.append(OpsServer(host: ops.host, port: ops.port, program: program, metrics: metrics, logger: logger, readiness: probe.check))
        }
        try await run(services: services, logger: logger, shutdownTimeout: shutdownTimeout)
    }
}

/// Ends the service group when the daemon's NATS connection is closed for good.
struct NATSWatchdog: Service {
    let probe: ReadinessProbe

    func run() async throws {
        while await sleepUnlessShuttingDown(.seconds(1)) {
            if let c = probe.natsConnection, c.isClosedForGood {
                throw NATSError.connection("the connection to NATS was closed for good and will not come back: \(c.lastErrorText)")
            }
        }
    }
}
