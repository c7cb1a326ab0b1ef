import SSMDCore

/// A PostgreSQL connection that owns its thread. libpq blocks for every round trip, so each
/// connection runs all of its work on a ``DedicatedThread`` of its own: callers `await`, and
/// Swift's cooperative pool never waits on the network. Work that needs several statements
/// in a row (a transaction, a COPY, a migration) runs as one closure on that thread through
/// ``withSession(_:)``; single statements have async shorthands.
///
/// Connection strings are libpq's: keyword/value (`host=… port=… dbname=… user=…`), a URI
/// (`postgresql://…`), or empty for the `PG*` environment variables; several hosts with
/// `target_session_attrs=read-write` find the primary of a replicated pair. Error messages
/// never contain the password.
public final class PostgresConnection: @unchecked Sendable {
    private let thread: DedicatedThread
    /// Used only on `thread` (every access below runs there).
    private let session: PostgresSession
    /// The connection string with any password replaced by `***` (safe to log).
    public let redactedConnectionString: String
    /// The server this connection reached, `host:port` (with several hosts in the
    /// connection string, the one libpq chose), as of connecting; safe to log.
    public let serverAddress: String
    /// Whether that server was a standby in recovery when the connection opened.
    public let connectedToStandby: Bool

    private init(thread: DedicatedThread, session: PostgresSession, serverAddress: String, connectedToStandby: Bool) {
        self.thread = thread
        self.session = session
        self.redactedConnectionString = session.redactedConnectionString
        self.serverAddress = serverAddress
        self.connectedToStandby = connectedToStandby
    }

    /// Connects on a new thread of its own (connecting blocks up to `connect_timeout`).
    public static func connect(_ connectionString: String) async throws -> PostgresConnection {
        let thread = DedicatedThread(name: "postgres")
        do {
            let opened = try await thread.run {
                let session = try PostgresSession(connectionString: connectionString)
                return (UncheckedBox(session), session.serverAddress, session.isHotStandby)
            }
            return PostgresConnection(thread: thread, session: opened.0.value, serverAddress: opened.1, connectedToStandby: opened.2)
        } catch {
            thread.stop()
            throw error
        }
    }

    /// Connects, runs `body`, and closes the connection whether `body` returned or threw.
    public static func with<T: Sendable>(_ connectionString: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await connect(connectionString)
        defer { connection.close() }
        return try await body(connection)
    }

    deinit { close() }

    /// Runs `body` with the session on the connection's thread; the caller waits without
    /// blocking. The session must not escape `body`.
    public func withSession<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        let session = UncheckedBox(self.session)
        do {
            return try await thread.run { try body(session.value) }
        } catch is DedicatedThread.Stopped {
            throw PostgresError.connection(message: "connection is closed")
        }
    }

    /// One statement with text parameters (never interpolated into the SQL).
    @discardableResult
    public func execute(_ sql: String, _ params: [PostgresValue?] = []) async throws -> PostgresResult {
        try await withSession { try $0.execute(sql, params) }
    }

    /// Several statements without parameters (migrations, set-up).
    @discardableResult
    public func executeScript(_ sql: String) async throws -> PostgresResult {
        try await withSession { try $0.executeScript(sql) }
    }

    /// Open and usable as far as libpq knows, with no transaction left open (no round trip).
    public var isIdleAndHealthy: Bool {
        get async { (try? await withSession { $0.isHealthy && !$0.inTransaction }) ?? false }
    }

    /// A real round trip (`SELECT 1`).
    public func ping() async throws { try await withSession { try $0.ping() } }

    /// Reconnects with the same parameters; session state (an open transaction, temporary
    /// tables, advisory locks) is lost.
    public func reset() async throws { try await withSession { try $0.reset() } }

    /// Closes the connection and ends its thread, without waiting: the close runs after the
    /// work already queued. Later calls fail with a connection error.
    public func close() {
        let session = UncheckedBox(self.session)
        thread.submit { session.value.close() }
        thread.stop()
    }
}

/// Moves a value that is not `Sendable` to the one thread that may use it.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
