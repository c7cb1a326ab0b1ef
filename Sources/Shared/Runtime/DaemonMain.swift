import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

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
            fail(2, "\(ConfigurationError(setting: "--database-url (SSMD_DATABASE_URL)", problem: "PostgreSQL refused the connection: \(e.message)"))")
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

/// Sleeps, returning early (false) when the process is asked to shut down.
public func sleepUnlessShuttingDown(_ d: Duration) async -> Bool {
    do {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: d) }
        return !Task.isShuttingDownGracefully && !Task.isCancelled
    } catch {
        return false
    }
}

/// Thrown by a start-up step that was still waiting for a server when the process was asked
/// to stop: the daemon exits 0, as for any requested stop.
public struct StoppedBeforeReady: Error, CustomStringConvertible {
    public var what: String
    public var lastError: String
    public var description: String { "stopped while waiting for \(what) (last error: \(lastError))" }
}

/// Start-up failures that waiting cannot fix: a server that answered and refused our
/// credentials, a NATS connection that cnats closed for good, a bad setting.
public func isPermanentStartupFailure(_ error: Error) -> Bool {
    if error is ConfigurationError { return true }
    if let e = error as? NATSError {
        switch e {
        case .refused, .closed: return true
        default: return false
        }
    }
    if let e = error as? PostgresError { return e.isRefusal }
    return false
}

/// Retries a start-up step (provisioning, first connection) with capped backoff until it
/// succeeds or the process is asked to stop — a daemon started before NATS or PostgreSQL is
/// up waits for them instead of crashing. A failure that `permanent` recognises (by default
/// a refusal: wrong password, unknown role or database) is thrown at once: the daemon exits
/// with one line saying so instead of retrying what cannot work.
public func retryUntilReady(logger: Logger, what: String, permanent: (Error) -> Bool = isPermanentStartupFailure,
                            _ body: () async throws -> Void) async throws {
    var attempt = 0
    while true {
        do {
            try await body()
            if attempt > 0 { logger.info("\(what) succeeded", metadata: ["attempts": "\(attempt + 1)"]) }
            return
        } catch {
            if permanent(error) { throw error }
            if Task.isShuttingDownGracefully || Task.isCancelled { throw StoppedBeforeReady(what: what, lastError: "\(error)") }
            let pause = RetryPolicy(maxAttempts: .max, base: .milliseconds(250), cap: .seconds(5)).delay(attempt: attempt, unit: Double.random(in: 0.5..<1))
            if attempt % 5 == 0 {
                logger.warning("\(what) failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt + 1)"])
            }
            attempt += 1
            guard await sleepUnlessShuttingDown(pause) else { throw StoppedBeforeReady(what: what, lastError: "\(error)") }
        }
    }
}

extension DaemonMain {
    /// Runs a daemon's service beside its `/metrics`, `/healthz` and `/readyz` endpoint
    /// (when `ops` is set), until SIGTERM/SIGINT or until the service ends. A NATS
    /// connection that cnats closes for good (it never does while the server may come back;
    /// it does when the server starts refusing our credentials) ends the daemon with exit 1
    /// rather than leaving it alive and useless.
    public static func run(_ service: any Service, program: String, ops: (host: String, port: Int)?, metrics: MetricsRegistry,
                           probe: ReadinessProbe, logger: Logger, shutdownTimeout: Duration) async throws {
        var services: [any Service] = [service, NATSWatchdog(probe: probe)]
        if let ops {
            services.append(OpsServer(host: ops.host, port: ops.port, program: program, registry: metrics, logger: logger, readiness: probe.check))
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
