/// An error from the PostgreSQL layer.
///
/// Which errors are worth retrying:
///
/// * ``isConnectionLoss`` — the connection is gone or unusable (server stopped or
///   restarted, network cut, `admin_shutdown`, "the database system is starting up").
///   **Retryable**: `reset()` (or reconnect) with back-off, then run the whole unit of work
///   (transaction) again. A `COMMIT` that failed this way is *in doubt*: it may or may not
///   have been applied, so the work must be idempotent — the secmaster upserts are.
/// * ``isTransient`` — the server refused this attempt but the statement is fine:
///   serialization failure / deadlock (class 40), lock or statement timeout (55P03, 57014),
///   out of resources (class 53), plus everything in ``isConnectionLoss``.
///   **Retryable** by running the transaction again.
/// * ``isConstraintViolation`` — class 22 (data exception: bad timestamp, numeric
///   overflow, invalid JSON, NUL byte in text…) or class 23 (integrity: unique, foreign
///   key, not-null, check). The *data* is wrong; retrying the same rows fails the same way.
///   **Not retryable**: isolate the offending row(s) and dead-letter them (a poison row).
/// * Anything else (syntax error 42601, undefined table 42P01, permission 42501, wrong
///   password 28P01, a ``copy`` protocol failure) is a programming or configuration error:
///   **not retryable** without a human.
public enum PostgresError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Could not connect, or the connection was lost. The message never contains a password.
    case connection(message: String)
    /// The server rejected a statement. `sqlState` is the five-character SQLSTATE code.
    case query(sqlState: String, message: String, detail: String?, constraint: String?)
    /// A failure in the COPY sub-protocol on the client side.
    case copy(message: String)

    public var sqlState: String? {
        if case .query(let state, _, _, _) = self { return state }
        return nil
    }

    public var message: String {
        switch self {
        case .connection(let message), .copy(let message): return message
        case .query(_, let message, _, _): return message
        }
    }

    /// The connection is gone or unusable: reconnect (``PostgresSession/reset()``) and retry.
    public var isConnectionLoss: Bool {
        switch self {
        case .connection:
            return true
        case .query(let state, _, _, _):
            // 08xxx connection exception; 57P01 admin_shutdown; 57P02 crash_shutdown;
            // 57P03 cannot_connect_now (starting up / shutting down).
            return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
        case .copy:
            return false
        }
    }

    /// The server answered and refused this client — wrong password, unknown role or
    /// database, no `pg_hba.conf` entry, SQLSTATE class 28 or 3D000. Retrying with the same
    /// settings cannot help: a daemon reports it as a configuration problem.
    public var isRefusal: Bool {
        switch self {
        case .connection(let message):
            let text = message.lowercased()
            return Self.refusals.contains { text.contains($0) }
        case .query(let state, _, _, _):
            return state.hasPrefix("28") || state == "3D000"
        case .copy:
            return false
        }
    }

    /// How libpq words a refusal at connect time (the server's FATAL message; no SQLSTATE
    /// is available for a connection that never opened).
    static let refusals = [
        "password authentication failed", "no password supplied", "no pg_hba.conf entry",
        "authentication failed for user", "does not exist",
    ]

    /// The data is bad (class 22) or breaks an integrity constraint (class 23): a poison row.
    public var isConstraintViolation: Bool {
        guard case .query(let state, _, _, _) = self else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }

    /// Worth retrying the same transaction after a short back-off (includes connection loss).
    public var isTransient: Bool {
        if isConnectionLoss { return true }
        guard case .query(let state, _, _, _) = self else { return false }
        return state.hasPrefix("40") || state.hasPrefix("53") || state == "55P03" || state == "57014"
    }

    public var description: String {
        switch self {
        case .connection(let message):
            return "PostgreSQL connection error: \(message)"
        case .query(let state, let message, let detail, let constraint):
            var text = "PostgreSQL error \(state): \(message)"
            if let detail, !detail.isEmpty { text += " (detail: \(detail))" }
            if let constraint, !constraint.isEmpty { text += " [constraint \(constraint)]" }
            return text
        case .copy(let message):
            return "PostgreSQL COPY error: \(message)"
        }
    }
}
