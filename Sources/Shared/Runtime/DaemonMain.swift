import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// The shared entry point of every daemon: parse, validate, run the services in a
/// `ServiceGroup`, and map failures to exit codes — 0 clean stop, 1 runtime failure,
/// 2 usage or configuration error (one line naming the problem).
public enum DaemonMain {
    public static func exit<C: ParsableCommand>(_ command: C.Type, error: Error, program: String) -> Never {
        if let e = error as? ConfigurationError {
            FileHandle.standardError.write(Data("\(program): \(e)\n".utf8))
            Foundation.exit(2)
        }
        let code = C.exitCode(for: error)
        if code == .success {
            print(C.fullMessage(for: error))
            Foundation.exit(0)
        }
        if error is ValidationError || code == .validationFailure || error is CleanExit || "\(type(of: error))".contains("CommandError") {
            FileHandle.standardError.write(Data("\(program): \(C.message(for: error).split(separator: "\n").first ?? "")\n".utf8))
            Foundation.exit(2)
        }
        FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
        Foundation.exit(1)
    }

    /// Runs services until SIGTERM/SIGINT (graceful: they drain and flush) or until one ends.
    public static func run(services: [any Service], logger: Logger, shutdownTimeout: Duration) async throws {
        var config = ServiceGroupConfiguration(services: services.map {
            ServiceGroupConfiguration.ServiceConfiguration(service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                                                           failureTerminationBehavior: .gracefullyShutdownGroup)
        }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        config.maximumGracefulShutdownDuration = shutdownTimeout
        config.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: config).run()
    }
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

/// Retries a start-up step (provisioning, first connection) with capped backoff until it
/// succeeds or the process is asked to stop — a daemon started before NATS or PostgreSQL is
/// up waits for them instead of crashing.
public func retryUntilReady(logger: Logger, what: String, _ body: () async throws -> Void) async throws {
    var attempt = 0
    while true {
        do {
            try await body()
            if attempt > 0 { logger.info("\(what) succeeded", metadata: ["attempts": "\(attempt + 1)"]) }
            return
        } catch {
            if Task.isShuttingDownGracefully || Task.isCancelled { throw error }
            let pause = RetryPolicy(maxAttempts: .max, base: .milliseconds(250), cap: .seconds(5)).delay(attempt: attempt, unit: Double.random(in: 0.5..<1))
            if attempt % 5 == 0 {
                logger.warning("\(what) failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt + 1)"])
            }
            attempt += 1
            guard await sleepUnlessShuttingDown(pause) else { throw error }
        }
    }
}

extension DaemonMain {
    /// Runs a daemon's service beside its `/metrics`, `/healthz` and `/readyz` endpoint
    /// (when `ops` is set), until SIGTERM/SIGINT or until the service ends.
    public static func run(_ service: any Service, program: String, ops: (host: String, port: Int)?, metrics: MetricsRegistry,
                           probe: ReadinessProbe, logger: Logger, shutdownTimeout: Duration) async throws {
        var services: [any Service] = [service]
        if let ops {
            services.append(OpsServer(host: ops.host, port: ops.port, program: program, registry: metrics, logger: logger, readiness: probe.check))
        }
        try await run(services: services, logger: logger, shutdownTimeout: shutdownTimeout)
    }
}
