import PostgresClient
import SSMDCore

/// A small pool of read-only PostgreSQL connections, each on its own thread. At most `size`
/// statements run at once; the rest wait their turn without blocking a thread. Each
/// connection is made read-only for its whole session (`default_transaction_read_only`), on
/// top of the read-only role compose gives the API.
actor ReadOnlyPool {
    let conninfo: String
    private let size: Int
    private var idle: [PostgresConnection] = []
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    static let sessionSettings = [
        "SET default_transaction_read_only = on",
        "SET TIME ZONE 'UTC'",
        "SET statement_timeout = '30s'",
        "SET application_name = 'ssmd-data-api'",
    ]

    init(conninfo: String, size: Int) {
        self.conninfo = conninfo
        self.size = max(1, size)
    }

    private func open() async throws -> PostgresConnection {
        let c = try await PostgresConnection.connect(conninfo)
        do {
            for s in Self.sessionSettings { try await c.execute(s) }
        } catch {
            c.close()
            throw error
        }
        return c
    }

    /// Runs one statement on a connection of the pool; a connection that failed is closed.
    func query(_ sql: String, _ params: [PostgresValue?] = []) async throws -> PostgresResult {
        if inUse >= size { await withCheckedContinuation { waiting.append($0) } } else { inUse += 1 }
        defer {
            if waiting.isEmpty { inUse -= 1 } else { waiting.removeFirst().resume() }
        }
        let c: PostgresConnection
        if let reused = idle.popLast() { c = reused } else { c = try await open() }
        do {
            let result = try await c.execute(sql, params)
            idle.append(c)
            return result
        } catch {
            if await c.isIdleAndHealthy { idle.append(c) } else { c.close() }
            throw error
        }
    }

    func close() async {
        for c in idle { c.close() }
        idle.removeAll()
    }
}
