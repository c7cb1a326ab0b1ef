import Dispatch
import Foundation
import PostgresClient
import SSMDCore

/// A small pool of read-only libpq connections. Every statement runs off Swift's cooperative
/// pool (`Offload.run`); at most `size` run at once (the rest wait on a semaphore on a
/// Dispatch worker thread). Each connection is made read-only for its whole session
/// (`default_transaction_read_only`), on top of the read-only role compose gives the API.
final class ReadOnlyPool: @unchecked Sendable {
    let conninfo: String
    private let slots: DispatchSemaphore
    private let lock = NSLock()
    private var idle: [PostgresConnection] = []

    static let sessionSettings = [
        "SET default_transaction_read_only = on",
        "SET TIME ZONE 'UTC'",
        "SET statement_timeout = '30s'",
        "SET application_name = 'ssmd-data-api'",
    ]

    init(conninfo: String, size: Int) {
        self.conninfo = conninfo
        self.slots = DispatchSemaphore(value: size)
    }

    func open() throws -> PostgresConnection {
        let c = try PostgresConnection(connectionString: conninfo)
        do {
            for s in Self.sessionSettings { _ = try c.execute(s) }
        } catch {
            c.close()
            throw error
        }
        return c
    }

    /// Runs `body` with a connection of the pool; a connection that failed is discarded.
    func with<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await Offload.run { [self] in
            slots.wait()
            defer { slots.signal() }
            let c = try lock.withLock { idle.popLast() } ?? open()
            do {
                let result = try body(c)
                lock.withLock { idle.append(c) }
                return result
            } catch {
                if c.isHealthy && !c.inTransaction { lock.withLock { idle.append(c) } } else { c.close() }
                throw error
            }
        }
    }

    func query(_ sql: String, _ params: [PostgresValue?] = []) async throws -> PostgresResult {
        try await with { try $0.execute(sql, params) }
    }

    func close() {
        lock.withLock {
            for c in idle { c.close() }
            idle.removeAll()
        }
    }
}
