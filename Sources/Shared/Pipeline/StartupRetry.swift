import Logging
import ServiceLifecycle
import NATSClient
import PostgresClient
import SSMDCore

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
    public init(what: String, lastError: String) { self.what = what; self.lastError = lastError }
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

/// Runs one step of a cycle, retrying it while NATS fails transiently (a timeout, a group
/// electing a leader after a node died: "JetStream system temporarily unavailable") — up to
/// `attempts` more times, pausing as `retryUntilReady` does (half-jittered doubling from
/// 0.5 s, capped at 4 s: 8–15 s in all for 6), so that an election does not fail a whole
/// cycle. Any other failure, or the last one, is thrown.
public func retryingTransientNATS<T>(_ what: String, log: Logger, attempts: Int = 6,
                                     _ body: () async throws -> T) async throws -> T {
    let policy = RetryPolicy(maxAttempts: attempts, base: .milliseconds(500), cap: .seconds(4))
    var attempt = 0
    while true {
        do {
            return try await body()
        } catch let error as NATSError where error.isTransient && attempt < policy.maxAttempts {
            log.info("\(what) failed for the moment; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt + 1)"])
            try await Task.sleep(for: policy.delay(attempt: attempt, unit: Double.random(in: 0.5..<1)))
            attempt += 1
        }
    }
}
