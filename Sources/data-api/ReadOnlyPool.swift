import Logging
import PostgresClient
import SSMDCore

/// A small pool of read-only PostgreSQL connections, each on its own thread. At most `size`
/// statements run at once; the rest wait their turn without blocking a thread. Each
/// connection is made read-only for its whole session (`default_transaction_read_only`), on
/// top of the read-only role compose gives the API.
///
/// Failover: a connection that fails is closed, and the next one is a new `PQconnectdb`, so
/// a multi-host connection string is resolved again (to the new primary, or to a standby
/// with `target_session_attrs=prefer-standby`). A statement that fails because an idle
/// connection it reused had died (its server restarted or was lost while idle) runs once
/// more on a fresh connection: reads are safe to repeat, and one dead server then costs no
/// request an error when another one answers.
actor ReadOnlyPool {
    let conninfo: String
    private let size: Int
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// The server the last connection opened on, to log when it changes (a failover).
    private var lastServer: String?

    static let sessionSettings = [
        "SET default_transaction_read_only = on",
        "SET TIME ZONE 'UTC'",
        "SET statement_timeout = '30s'",
        "SET application_name = 'ssmd-data-api'",
    ]

    init(conninfo: String, size: Int, logger: Logger) {
        self.conninfo = conninfo
        self.size = max(1, size)
        self.logger = logger
    }

    private func open() async throws -> PostgresConnection {
        let c = try await PostgresConnection.connect(conninfo)
        do {
            for s in Self.sessionSettings { try await c.execute(s) }
        } catch {
            c.close()
            throw error
        }
        if c.serverAddress != lastServer {
            logger.info("reading from PostgreSQL", metadata: [
                "server": "\(c.serverAddress)", "standby": "\(c.connectedToStandby)",
                "previous": "\(lastServer ?? "none")", "database": "\(c.redactedConnectionString)"])
            lastServer = c.serverAddress
        }
        return c
    }

    /// Runs one statement on a connection of the pool; a connection that failed is closed.
    func query(_ sql: String, _ params: [PostgresValue?] = []) async throws -> PostgresResult {
        if inUse >= size { await withCheckedContinuation { waiting.append($0) } } else { inUse += 1 }
        defer {
            if waiting.isEmpty { inUse -= 1 } else { waiting.removeFirst().resume() }
        }
        var reusedConnectionMayBeStale = true
        while true {
            let reused = idle.popLast()
            let c: PostgresConnection
            if let reused { c = reused } else { c = try await open() }
            do {
                let result = try await c.execute(sql, params)
                idle.append(c)
                return result
            } catch {
                if await c.isIdleAndHealthy { idle.append(c); throw error }
                c.close()
                let lost = (error as? PostgresError)?.isConnectionLoss == true
                guard lost, reused != nil, reusedConnectionMayBeStale else { throw error }
                // Every idle connection went to the same server: drop them all, then
                // retry once on a new connection.
                logger.warning("PostgreSQL read connection lost; reconnecting", metadata: [
                    "server": "\(c.serverAddress)", "error": "\(error)"])
                for other in idle { other.close() }
                idle.removeAll()
                reusedConnectionMayBeStale = false
            }
        }
    }

    func close() async {
        for c in idle { c.close() }
        idle.removeAll()
    }
}
