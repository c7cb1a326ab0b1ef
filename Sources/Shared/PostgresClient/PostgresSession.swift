import CLibPQ
import Foundation
import SSMDCore

/// One libpq connection (`PGconn`) and its blocking calls. A session is reached only through
/// ``PostgresConnection/withSession(_:)``, which runs the caller's code on the connection's
/// own thread: blocking here never touches Swift's cooperative pool, and a session is never
/// used from two threads at once (it is not `Sendable`).
///
/// * Values are always sent as separate text parameters of `PQexecParams` — never
///   interpolated into SQL.
/// * The session runs with `TimeZone = UTC`, `DateStyle = ISO` and `client_encoding = UTF8`,
///   so `timestamptz` output is `2026-01-12 22:08:10.446961+00`
///   (``Timestamp/init(postgresText:)`` reads it).
/// * Errors are ``PostgresError``; see there which are retryable.
public final class PostgresSession {
    private var handle: OpaquePointer?
    private let secrets: Secrets
    private var savepointCounter = 0

    /// The connection string with any password replaced by `***` (safe to log).
    public let redactedConnectionString: String

    /// Connects. `connectionString` may be a keyword/value string
    /// (`host=127.0.0.1 port=5432 dbname=ssmd user=ssmd password=…`), a URI
    /// (`postgresql://user:pw@host:5432/db?sslmode=disable`), or empty — then libpq's
    /// standard `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, … variables (and
    /// `~/.pgpass`) apply. Unless given, `connect_timeout` defaults to 10 s
    /// (or `PGCONNECT_TIMEOUT`), TCP keepalives probe after 30 s idle, and data the server
    /// does not acknowledge for 60 s fails the connection (`tcp_user_timeout`).
    /// Error messages never contain the password.
    init(connectionString: String) throws {
        let secrets = PostgresSession.secrets(in: connectionString)
        self.secrets = secrets
        self.redactedConnectionString = secrets.scrub(connectionString)

        var keywords: [String] = ["fallback_application_name", "client_encoding"]
        var values: [String] = ["ssmd", "UTF8"]
        if ProcessInfo.processInfo.environment["PGCONNECT_TIMEOUT"] == nil {
            keywords.append("connect_timeout")
            values.append("10")
        }
        // TCP keepalives so a silently vanished server is noticed in about a minute
        // rather than the OS default of two hours (ignored on unix sockets).
        keywords += ["keepalives_idle", "keepalives_interval", "keepalives_count"]
        values += ["30", "10", "3"]
        // Data sent but not acknowledged by the peer for 60 s (a COPY into a vanished
        // server) fails the connection instead of blocking until the OS gives up (~15 min).
        keywords.append("tcp_user_timeout")
        values.append("60000")
        // Later entries override earlier ones; `dbname` is expanded as a full conninfo
        // string or URI (expand_dbname = 1), so the caller's settings win. An empty value
        // is ignored by libpq, leaving the PG* environment variables in charge.
        keywords.append("dbname")
        values.append(connectionString)

        let conn: OpaquePointer? = PostgresSession.withCStringArray(keywords) { kw in
            PostgresSession.withCStringArray(values) { vals in
                PQconnectdbParams(kw, vals, 1)
            }
        }
        guard let conn else {
            throw PostgresError.connection(message: "out of memory allocating a libpq connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = secrets.scrub(PostgresSession.errorMessage(conn))
            PQfinish(conn)
            throw PostgresError.connection(message: message.isEmpty ? "could not connect" : message)
        }
        self.handle = conn
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        do {
            try configureSession()
        } catch {
            PQfinish(conn)
            self.handle = nil
            throw error
        }
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    // MARK: - State

    /// True when the connection is open and libpq believes it is usable. Cheap (no round
    /// trip): a server that went away is only noticed by the next statement; use ``ping()``
    /// to check for real.
    public var isHealthy: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) != PQTRANS_UNKNOWN
    }

    /// Whether a transaction block is open on this connection.
    public var inTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Which server of the connection string this session reached, as `host:port` (libpq's
    /// `PQhost`/`PQport`: with several hosts, the one that answered). Never holds a password.
    public var serverAddress: String {
        guard let handle else { return "(closed)" }
        let host = PQhost(handle).map { String(cString: $0) } ?? ""
        let port = PQport(handle).map { String(cString: $0) } ?? ""
        let shown = host.isEmpty ? "(default)" : (host.contains(":") && !host.hasPrefix("/") ? "[\(host)]" : host)
        return port.isEmpty ? shown : "\(shown):\(port)"
    }

    /// Whether the server is a standby in recovery (`in_hot_standby`, reported by PostgreSQL
    /// 14 and later at connect time; false when the server does not say).
    public var isHotStandby: Bool {
        guard let handle, let value = PQparameterStatus(handle, "in_hot_standby") else { return false }
        return String(cString: value) == "on"
    }

    /// The server's version as an integer (150004 for 15.4); 0 when closed.
    public var serverVersion: Int {
        guard let handle else { return 0 }
        return Int(PQserverVersion(handle))
    }

    /// A real round trip (`SELECT 1`).
    public func ping() throws {
        _ = try execute("SELECT 1")
    }

    /// Closes and reopens the connection with the same parameters (`PQreset`). Session state
    /// (temporary tables, prepared statements, advisory locks, an open transaction) is lost.
    public func reset() throws {
        guard let handle else { throw PostgresError.connection(message: "connection is closed") }
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError.connection(message: redact(PostgresSession.errorMessage(handle)))
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        try configureSession()
    }

    /// Closes the connection; later calls throw ``PostgresError/connection(message:)``.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    // MARK: - Statements

    /// Runs one statement with `$1, $2, …` text parameters (`PQexecParams`); `nil` is NULL.
    @discardableResult
    public func execute(_ sql: String, _ params: [PostgresValue?] = []) throws -> PostgresResult {
        let conn = try liveHandle()
        for (index, param) in params.enumerated() {
            if let text = param?.text, text.utf8.contains(0) {
                throw PostgresError.query(
                    sqlState: "22021",
                    message: "parameter $\(index + 1) contains a NUL byte, which PostgreSQL text cannot hold",
                    detail: nil, constraint: nil)
            }
        }
        let result: OpaquePointer? = PostgresSession.withOptionalCStringArray(params.map { $0?.text }) { values in
            PQexecParams(conn, sql, Int32(params.count), nil, values, nil, nil, 0)
        }
        return try consume(result, conn: conn)
    }

    /// Runs a script of one or more statements with no parameters (simple-query protocol,
    /// `PQexec`). For migrations and fixed DDL only — never build such a script from data.
    @discardableResult
    public func executeScript(_ sql: String) throws -> PostgresResult {
        let conn = try liveHandle()
        return try consume(PQexec(conn, sql), conn: conn)
    }

    /// Runs `body` in a transaction: `BEGIN`, then `COMMIT` if it returns, `ROLLBACK` if it
    /// throws (the error is rethrown). Inside another `transaction` it uses a savepoint.
    /// Other threads cannot interleave statements while `body` runs.
    ///
    /// If `COMMIT` fails with a connection loss the outcome is unknown: make the work idempotent.
    public func transaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let conn = try liveHandle()
        if PQtransactionStatus(conn) != PQTRANS_IDLE {
            savepointCounter += 1
            let name = "ssmd_sp_\(savepointCounter)"
            try execute("SAVEPOINT \(name)")
            do {
                let value = try body(self)
                try execute("RELEASE SAVEPOINT \(name)")
                return value
            } catch {
                _ = try? execute("ROLLBACK TO SAVEPOINT \(name)")
                throw error
            }
        }
        try execute("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
        if let handle, PQtransactionStatus(handle) == PQTRANS_INERROR {
            // The body swallowed a failed statement; COMMIT would silently roll back.
            _ = try? execute("ROLLBACK")
            throw PostgresError.query(
                sqlState: "25P02",
                message: "transaction was aborted by an earlier failed statement and has been rolled back",
                detail: nil, constraint: nil)
        }
        try execute("COMMIT")
        return value
    }

    /// Streams rows into `COPY … FROM STDIN` (text format; tab-separated, `\N` for NULL,
    /// `\`, tab, newline and carriage return escaped). Returns the number of rows copied.
    @discardableResult
    public func copyIn(_ copySQL: String, rows: some Sequence<[String?]>) throws -> Int {
        try copyIn(copySQL, rows: rows) { row, writer in
            for field in row { writer.text(field) }
        }
    }

    /// Streams rows into `COPY … FROM STDIN`, each written field by field by `encode`
    /// straight into the send buffer (no per-field strings). Returns the rows copied.
    @discardableResult
    public func copyIn<Rows: Sequence>(
        _ copySQL: String, rows: Rows, encode: (Rows.Element, inout PostgresCopyRow) -> Void
    ) throws -> Int {
        let conn = try liveHandle()
        guard let start = PQexec(conn, copySQL) else { throw lossOrCopyError(conn, "COPY could not start") }
        let startStatus = PQresultStatus(start)
        if startStatus != PGRES_COPY_IN {
            defer { PQclear(start) }
            if startStatus == PGRES_FATAL_ERROR || startStatus == PGRES_NONFATAL_ERROR || startStatus == PGRES_BAD_RESPONSE {
                throw error(from: start, conn: conn)
            }
            // Not a COPY FROM STDIN statement: drain whatever it started and refuse.
            drainResults(conn)
            throw PostgresError.copy(message: "statement is not COPY … FROM STDIN")
        }
        PQclear(start)

        let flushAt = 256 * 1024
        var writer = PostgresCopyRow(capacity: flushAt + 8192)
        var sendFailed = false

        func flush() {
            guard !writer.bytes.isEmpty, !sendFailed else { writer.bytes.removeAll(keepingCapacity: true); return }
            let ok = writer.bytes.withUnsafeBufferPointer { raw in
                raw.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count) { ptr in
                    PQputCopyData(conn, ptr, Int32(raw.count))
                }
            }
            if ok != 1 { sendFailed = true }
            writer.bytes.removeAll(keepingCapacity: true)
        }

        for row in rows {
            writer.beginRow()
            encode(row, &writer)
            writer.bytes.append(0x0A)
            if writer.bytes.count >= flushAt { flush() }
            if sendFailed { break }
        }
        flush()
        if PQputCopyEnd(conn, nil) != 1 { sendFailed = true }

        var copied = 0
        var firstError: PostgresError?
        while let result = PQgetResult(conn) {
            let status = PQresultStatus(result)
            if status == PGRES_COMMAND_OK {
                copied = PostgresSession.cmdTuples(result)
            } else if firstError == nil {
                firstError = error(from: result, conn: conn)
            }
            PQclear(result)
            if PQstatus(conn) == CONNECTION_BAD { break }
        }
        if let firstError { throw firstError }
        if sendFailed || PQstatus(conn) == CONNECTION_BAD {
            throw lossOrCopyError(conn, "sending COPY data failed")
        }
        return copied
    }

    // MARK: - Internals

    private func configureSession() throws {
        _ = try executeScript("SET TIME ZONE 'UTC'; SET DateStyle TO ISO")
    }

    private func liveHandle() throws -> OpaquePointer {
        guard let handle else { throw PostgresError.connection(message: "connection is closed") }
        return handle
    }

    private func consume(_ result: OpaquePointer?, conn: OpaquePointer) throws -> PostgresResult {
        guard let result else { throw lossOrCopyError(conn, "no result from server") }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            break
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // A COPY started through execute(): abort it so the connection stays usable.
            if status == PGRES_COPY_IN { PQputCopyEnd(conn, "COPY FROM STDIN must go through copyIn()") }
            drainResults(conn)
            throw PostgresError.copy(message: "COPY statements must use copyIn()")
        default:
            throw error(from: result, conn: conn)
        }
        if PQnfields(result) == 0 {
            // A multi-statement script yields only the last result; drain is not needed for PQexec.
            return PostgresResult(columns: [], rows: [], affectedRows: PostgresSession.cmdTuples(result),
                                  commandTag: String(cString: PQcmdStatus(result)))
        }
        let fieldCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        columns.reserveCapacity(fieldCount)
        for column in 0..<fieldCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
        }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(fieldCount)
            for column in 0..<fieldCount {
                if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            rows.append(values)
        }
        return PostgresResult(columns: columns, rows: rows, affectedRows: PostgresSession.cmdTuples(result),
                              commandTag: String(cString: PQcmdStatus(result)))
    }

    private func drainResults(_ conn: OpaquePointer) {
        while let next = PQgetResult(conn) {
            PQclear(next)
            if PQstatus(conn) == CONNECTION_BAD { break }
        }
    }

    private func error(from result: OpaquePointer, conn: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let primary = field("M") ?? redact(String(cString: PQresultErrorMessage(result)))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if PQstatus(conn) == CONNECTION_BAD {
            var message = redact(PostgresSession.errorMessage(conn))
            if message.isEmpty { message = primary }
            if let sqlState, !message.contains(sqlState) { message += " (SQLSTATE \(sqlState))" }
            return .connection(message: message)
        }
        guard let sqlState else {
            // Generated by libpq itself (no server error): treat as a lost/broken connection
            // only if libpq says so; otherwise a protocol-level failure.
            return .query(sqlState: "", message: primary.isEmpty ? "unknown libpq error" : primary,
                          detail: nil, constraint: nil)
        }
        return .query(sqlState: sqlState, message: redact(primary), detail: field("D").map(redact),
                      constraint: field("n"))
    }

    private func lossOrCopyError(_ conn: OpaquePointer, _ fallback: String) -> PostgresError {
        let message = redact(PostgresSession.errorMessage(conn))
        if PQstatus(conn) == CONNECTION_BAD {
            return .connection(message: message.isEmpty ? fallback : message)
        }
        return .copy(message: message.isEmpty ? fallback : "\(fallback): \(message)")
    }

    private func redact(_ text: String) -> String { secrets.scrub(text) }

    private static func errorMessage(_ conn: OpaquePointer) -> String {
        guard let message = PQerrorMessage(conn) else { return "" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func cmdTuples(_ result: OpaquePointer) -> Int {
        guard let text = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    // MARK: - Password redaction

    /// Every password-like value in a connection string (keyword `password=`, URI user
    /// info, `?password=` URI parameter, `PGPASSWORD`).
    static func secrets(in connectionString: String) -> Secrets {
        var found: [String] = []
        // What libpq itself understands (handles quoting and URI percent-decoding).
        var errorMessage: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(connectionString, &errorMessage) {
            var option = options
            while let keyword = option.pointee.keyword {
                if String(cString: keyword) == "password", let value = option.pointee.val {
                    found.append(String(cString: value))
                }
                option += 1
            }
            PQconninfoFree(options)
        }
        if let errorMessage { PQfreemem(errorMessage) }
        // Read lexically too, for strings libpq cannot parse (its error may echo them).
        found += Redaction.passwords(inConnectionString: connectionString)
        if let env = ProcessInfo.processInfo.environment["PGPASSWORD"] { found.append(env) }
        return Secrets(found)
    }

    // MARK: - C string arrays

    private static func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        withOptionalCStringArray(strings.map { Optional($0) } + [nil], body)
    }

    private static func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
        defer { pointers.forEach { free($0) } }
        let constPointers: [UnsafePointer<CChar>?] = pointers.map { $0.map { UnsafePointer($0) } }
        if constPointers.isEmpty {
            var none: UnsafePointer<CChar>? = nil
            return withUnsafePointer(to: &none) { body($0) }
        }
        return constPointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// Writes one row of COPY text format: fields separated by tab, `\N` for NULL, and
/// backslash, tab, newline and carriage return inside values backslash-escaped.
public struct PostgresCopyRow {
    var bytes: [UInt8]
    private var fieldsInRow = 0

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func beginRow() { fieldsInRow = 0 }

    @inline(__always)
    private mutating func separate() {
        if fieldsInRow > 0 { bytes.append(0x09) }
        fieldsInRow += 1
    }

    /// NULL.
    public mutating func null() {
        separate()
        bytes.append(0x5C); bytes.append(0x4E)  // \N
    }

    /// Text (escaped), or NULL.
    public mutating func text(_ value: String?) {
        guard var value else { return null() }
        separate()
        let done: Void? = value.utf8.withContiguousStorageIfAvailable { appendEscaped($0) }
        if done == nil {
            value.makeContiguousUTF8()
            value.utf8.withContiguousStorageIfAvailable { appendEscaped($0) }
        }
    }

    /// A `timestamptz` (`2026-01-12T22:08:10.446961Z`), or NULL.
    public mutating func timestamp(_ value: Timestamp?) {
        guard let value else { return null() }
        separate()
        value.appendPostgresText(to: &bytes)
    }

    /// A boolean (`t`/`f`), or NULL.
    public mutating func bool(_ value: Bool?) {
        guard let value else { return null() }
        separate()
        bytes.append(value ? 0x74 : 0x66)
    }

    /// An integer, or NULL.
    public mutating func int(_ value: Int64?) {
        guard let value else { return null() }
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A one-dimensional `text[]` (array literal, then COPY-escaped).
    public mutating func textArray(_ values: [String?]) {
        text(PostgresArrayLiteral.encode(values))
    }

    @inline(__always)
    private mutating func appendEscaped(_ source: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for index in 0..<source.count {
            let byte = source[index]
            let escape: UInt8
            switch byte {
            case 0x5C: escape = 0x5C  // \\
            case 0x09: escape = 0x74  // \t
            case 0x0A: escape = 0x6E  // \n
            case 0x0D: escape = 0x72  // \r
            default: continue
            }
            if index > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<index])) }
            bytes.append(0x5C)
            bytes.append(escape)
            runStart = index + 1
        }
        if source.count > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<source.count])) }
    }
}

/// COPY text-format helpers for plain string rows.
public enum PostgresCopyText {
    /// One encoded row (with its newline) as a string.
    public static func encodeRow(_ row: [String?]) -> String {
        var writer = PostgresCopyRow(capacity: 64)
        writer.beginRow()
        for field in row { writer.text(field) }
        writer.bytes.append(0x0A)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
