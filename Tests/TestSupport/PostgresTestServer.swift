import Foundation
import PostgresClient
import Secmaster

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PostgreSQL cluster for tests: its own temp data directory, a free
/// TCP port on 127.0.0.1, a private unix-socket directory, `trust` authentication for the
/// superuser `postgres`, and password (SCRAM) authentication for any role made with
/// ``createRole(name:password:)``.
///
/// Works as root (CI, fresh machines): the tools run as `postgres` through `runuser`, and
/// the data directory and log belong to `postgres`. Servers are stopped by ``shutdown()``,
/// `deinit`, or — for a static/shared instance — at process exit; a cluster left behind by
/// a crashed test process is reaped by the next one.
///
/// Most tests take a database on the process's shared cluster (``shared()``,
/// ``sharedDatabase(migrated:)``): a `CREATE DATABASE … TEMPLATE` of a database migrated once,
/// which costs a few tens of milliseconds instead of an `initdb` and a server start. A test
/// keeps a private cluster only when it stops, restarts or reconfigures PostgreSQL.
///
/// Binaries: `$SSMD_PG_BIN`, else `/usr/lib/postgresql/15/bin` (or the newest
/// `/usr/lib/postgresql/*/bin`).
public final class PostgresTestServer: @unchecked Sendable {
    public let port: Int
    /// The database created for the test.
    public let database: String
    /// The superuser, authenticated by `trust`.
    public let user = "postgres"
    /// Root of everything this server owns (data, socket, log); removed by ``shutdown()``.
    public let rootDirectory: URL
    public let dataDirectory: URL
    public let socketDirectory: URL
    public let logFile: URL
    public let binDirectory: URL

    private let lock = NSLock()
    private var running = false
    private var removed = false
    private let runAs: String?

    /// `host=127.0.0.1 port=… dbname=… user=postgres` (libpq keyword/value form).
    public var connectionString: String { connectionString(database: database) }

    public func connectionString(database: String, user: String = "postgres", password: String? = nil) -> String {
        var parts = ["host=127.0.0.1", "port=\(port)", "dbname=\(database)", "user=\(user)", "connect_timeout=5"]
        if let password { parts.append("password='\(password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'"))'") }
        return parts.joined(separator: " ")
    }

    /// Connection via the private unix socket instead of TCP.
    public var socketConnectionString: String {
        "host=\(socketDirectory.path) port=\(port) dbname=\(database) user=postgres"
    }

    /// Creates, starts and prepares a cluster with a database named `database`.
    /// - Parameter durable: keep `fsync` and `synchronous_commit` on (benchmarks); off by
    ///   default for speed.
    public init(database: String = "ssmd_test", durable: Bool = false, maxConnections: Int = 40) async throws {
        guard PostgresTestServer.isValidIdentifier(database) else {
            throw PostgresProcessSupport.Failure(description: "invalid database name \(database)")
        }
        PostgresTestServer.registerCleanupOnce()
        PostgresTestServer.reapOrphans()

        self.database = database
        self.binDirectory = try PostgresTestServer.findBinDirectory()
        self.runAs = PostgresProcessSupport.isRoot ? "postgres" : nil

        let base = PostgresProcessSupport.isRoot
            ? URL(fileURLWithPath: "/tmp", isDirectory: true)
            : FileManager.default.temporaryDirectory
        let root = base.appendingPathComponent("ssmd-pg-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        self.rootDirectory = root
        self.dataDirectory = root.appendingPathComponent("data", isDirectory: true)
        self.socketDirectory = root.appendingPathComponent("sock", isDirectory: true)
        self.logFile = root.appendingPathComponent("postgres.log")
        // Marks the owner so a later process can reap this cluster if we die without cleanup.
        try "\(getpid())\n".write(to: root.appendingPathComponent("owner.pid"), atomically: true, encoding: .utf8)

        var chosenPort = 0
        do {
            try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            if let runAs {
                guard let ids = PostgresProcessSupport.ids(of: runAs) else {
                    throw PostgresProcessSupport.Failure(description: "running as root but there is no '\(runAs)' user (install postgresql)")
                }
                PostgresProcessSupport.chownRecursively(root, uid: ids.uid, gid: ids.gid)
            }
            _ = chmod(socketDirectory.path, 0o700)

            try await PostgresProcessSupport.check(
                binDirectory.appendingPathComponent("initdb").path,
                ["-D", dataDirectory.path, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
                 "--no-sync", "--no-instructions"],
                asUser: runAs, in: root)

            try PostgresTestServer.writeHBA(dataDirectory)
            // Try a few ports: another process may take the one we picked before we bind it.
            var lastError: Error?
            for _ in 0..<5 {
                chosenPort = try PostgresProcessSupport.freeLoopbackPort()
                try PostgresTestServer.writeConfig(dataDirectory, port: chosenPort, socketDirectory: socketDirectory, durable: durable,
                                                   maxConnections: maxConnections)
                if let runAs, let ids = PostgresProcessSupport.ids(of: runAs) {
                    PostgresProcessSupport.chownRecursively(dataDirectory, uid: ids.uid, gid: ids.gid)
                }
                do {
                    try await PostgresTestServer.pgCtlStart(binDirectory: binDirectory, dataDirectory: dataDirectory,
                                                            logFile: logFile, runAs: runAs, root: root)
                    lastError = nil
                    break
                } catch {
                    lastError = error
                    if !((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").contains("could not bind") { break }
                }
            }
            if let lastError { throw lastError }
        } catch {
            // Nothing may outlive a failed init.
            _ = try? await PostgresProcessSupport.run(binDirectory.appendingPathComponent("pg_ctl").path,
                                                ["stop", "-D", dataDirectory.path, "-m", "immediate", "-w"],
                                                asUser: runAs, in: root)
            let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: root)
            throw PostgresProcessSupport.Failure(description: "PostgresTestServer failed to start: \(error)\nserver log:\n\(log.suffix(3000))")
        }
        self.port = chosenPort
        self.running = true
        PostgresTestServer.register(self)

        do {
            try await createDatabase(database)
        } catch {
            await shutdown()
            throw error
        }
    }

    deinit {
        teardown()
    }

    // MARK: - Control

    public var isRunning: Bool {
        lock.lock(); defer { lock.unlock() }
        return running
    }

    /// The postmaster's PID (from `postmaster.pid`), nil when not running.
    public var postmasterPID: Int32? {
        guard let text = try? String(contentsOf: dataDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8),
              let first = text.split(separator: "\n").first, let pid = Int32(first.trimmingCharacters(in: .whitespaces))
        else { return nil }
        return pid
    }

    /// Fast shutdown (clients are disconnected); returns once the postmaster has exited.
    public func stop() async {
        guard lock.withLock({ running }) else { return }
        let pid = postmasterPID
        let outcome = try? await PostgresProcessSupport.run(binDirectory.appendingPathComponent("pg_ctl").path,
                                                            ["stop", "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "30"],
                                                            asUser: runAs, in: rootDirectory)
        if outcome?.status != 0, let pid, PostgresProcessSupport.isAlive(pid) {
            // pg_ctl failed: stop that PID ourselves (SIGQUIT = immediate shutdown, then SIGKILL).
            kill(pid, SIGQUIT)
            if !(await PostgresProcessSupport.waitUntilGone(pid, timeout: .seconds(5))) { kill(pid, SIGKILL) }
        }
        if let pid { _ = await PostgresProcessSupport.waitUntilGone(pid, timeout: .seconds(10)) }
        lock.withLock { running = false }
    }

    /// Starts again on the same data directory and port (after ``stop()``).
    public func start() async throws {
        let (isRunning, isRemoved) = lock.withLock { (running, removed) }
        guard !isRunning else { return }
        guard !isRemoved else { throw PostgresProcessSupport.Failure(description: "server was shut down and removed") }
        try await PostgresTestServer.pgCtlStart(binDirectory: binDirectory, dataDirectory: dataDirectory,
                                                logFile: logFile, runAs: runAs, root: rootDirectory)
        lock.withLock { running = true }
    }

    /// Stops the server and removes its directory. Idempotent.
    public func shutdown() async {
        await stop()
        removeDirectory()
    }

    /// Immediate shutdown without waiting: SIGQUIT to the postmaster, and a background thread
    /// removes the directory once it has exited. For synchronous `defer`s and `deinit` (so
    /// the thread must not capture `self`).
    public func teardown() {
        let wasRunning = lock.withLock {
            let r = running
            running = false
            return r
        }
        let pid = wasRunning ? postmasterPID : nil
        let first: Bool = lock.withLock {
            guard !removed else { return false }
            removed = true
            return true
        }
        PostgresTestServer.unregister(ObjectIdentifier(self))
        guard first else { return }
        PostgresProcessSupport.stopInBackground(pid: pid, removing: rootDirectory, threadName: "ssmd-test-pg-teardown")
    }

    private func removeDirectory() {
        let first: Bool = lock.withLock {
            guard !removed else { return false }
            removed = true
            return true
        }
        guard first else { return }
        try? FileManager.default.removeItem(at: rootDirectory)
        PostgresTestServer.unregister(ObjectIdentifier(self))
    }

    /// The server log so far (for diagnosing a failing test).
    public func serverLog() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    // MARK: - Databases and roles

    /// Creates another database (for test isolation on a shared server); returns its name.
    @discardableResult
    public func createDatabase(_ name: String? = nil, template: String? = nil) async throws -> String {
        let name = name ?? "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        guard PostgresTestServer.isValidIdentifier(name) else {
            throw PostgresProcessSupport.Failure(description: "invalid database name \(name)")
        }
        try await PostgresConnection.with(connectionString(database: "postgres")) { admin in
            // Identifiers cannot be parameters; the server quotes it with format(%I).
            let format = template == nil ? "SELECT format('CREATE DATABASE %I', $1::text)"
                                         : "SELECT format('CREATE DATABASE %I TEMPLATE %I', $1::text, $2::text)"
            let statement = try await admin.execute(format, [.text(name)] + (template.map { [.text($0)] } ?? [])).scalar ?? ""
            try await admin.executeScript(statement)
        }
        return name
    }

    /// Creates a login role that must authenticate with `password` (SCRAM over TCP), with
    /// full rights on the test database and its `public` schema.
    public func createRole(name: String, password: String, database: String? = nil) async throws {
        let database = database ?? self.database
        try await PostgresConnection.with(connectionString) { admin in
        let statements = try await admin.execute("""
            SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text),
                   format('GRANT ALL ON DATABASE %I TO %I', $3::text, $1::text),
                   format('GRANT ALL ON SCHEMA public TO %I', $1::text)
            """, [.text(name), .text(password), .text(database)])
        for statement in statements.rows[0] {
            try await admin.executeScript(statement ?? "")
        }
        }
    }

    // MARK: - Internals

    static func isValidIdentifier(_ name: String) -> Bool {
        !name.isEmpty && name.count < 63 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            && !(name.first?.isNumber ?? true)
    }

    private static func findBinDirectory() throws -> URL {
        var candidates: [String] = []
        if let configured = ProcessInfo.processInfo.environment["SSMD_PG_BIN"] { candidates.append(configured) }
        candidates.append("/usr/lib/postgresql/15/bin")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        candidates += versions.map { "/usr/lib/postgresql/\($0)/bin" }
        for candidate in candidates
        where FileManager.default.isExecutableFile(atPath: candidate + "/initdb")
            && FileManager.default.isExecutableFile(atPath: candidate + "/pg_ctl") {
            return URL(fileURLWithPath: candidate, isDirectory: true)
        }
        throw PostgresProcessSupport.Failure(description:
            "no PostgreSQL server binaries (initdb, pg_ctl) found; apt-get install -y postgresql, or set SSMD_PG_BIN")
    }

    private static func writeHBA(_ data: URL) throws {
        let hba = """
            # ssmd test cluster: the superuser is trusted, every other role needs its password.
            local   all   postgres                    trust
            host    all   postgres   127.0.0.1/32     trust
            local   all   all                         scram-sha-256
            host    all   all        127.0.0.1/32     scram-sha-256

            """
        try hba.write(to: data.appendingPathComponent("pg_hba.conf"), atomically: false, encoding: .utf8)
    }

    private static func writeConfig(_ data: URL, port: Int, socketDirectory: URL, durable: Bool, maxConnections: Int) throws {
        var settings = [
            "listen_addresses = '127.0.0.1'",
            "port = \(port)",
            "unix_socket_directories = '\(socketDirectory.path)'",
            "max_connections = \(maxConnections)",
            "shared_buffers = 64MB",
            "password_encryption = 'scram-sha-256'",
            "logging_collector = off",
            "log_min_messages = warning",
        ]
        if !durable {
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        }
        // postgresql.auto.conf is read last and wins; rewrite it each time (port may change).
        try (["# written by PostgresTestServer"] + settings + [""]).joined(separator: "\n")
            .write(to: data.appendingPathComponent("postgresql.auto.conf"), atomically: false, encoding: .utf8)
    }

    private static func pgCtlStart(binDirectory: URL, dataDirectory: URL, logFile: URL, runAs: String?, root: URL) async throws {
        let outcome = try await PostgresProcessSupport.run(
            binDirectory.appendingPathComponent("pg_ctl").path,
            ["start", "-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60"],
            asUser: runAs, in: root)
        guard outcome.status == 0 else {
            throw PostgresProcessSupport.Failure(description: "pg_ctl start exited \(outcome.status): \(outcome.output)")
        }
    }

    /// Turns SSL on (PostgreSQL reloads it without a restart) with this certificate and
    /// key, and logs each connection with whether it used SSL.
    public func enableSSL(certificate: URL, key: URL) async throws {
        let cert = dataDirectory.appendingPathComponent("server.crt"), keyCopy = dataDirectory.appendingPathComponent("server.key")
        for (from, to) in [(certificate, cert), (key, keyCopy)] {
            try? FileManager.default.removeItem(at: to)
            try FileManager.default.copyItem(at: from, to: to)
            if let runAs, let ids = PostgresProcessSupport.ids(of: runAs) { _ = chown(to.path, ids.uid, ids.gid) }
        }
        _ = chmod(keyCopy.path, 0o600)
        try await PostgresConnection.with(connectionString) { c in
            for sql in ["ALTER SYSTEM SET ssl = on", "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
                        "ALTER SYSTEM SET ssl_key_file = 'server.key'", "ALTER SYSTEM SET log_connections = on", "SELECT pg_reload_conf()"] {
                try await c.execute(sql)
            }
        }
        try await Task.sleep(for: .milliseconds(500))
    }

    // MARK: - Process-wide cleanup

    private nonisolated(unsafe) static var live: [ObjectIdentifier: (pgCtl: String, data: String, root: String, runAs: String?)] = [:]
    private static let registryLock = NSLock()
    private nonisolated(unsafe) static var cleanupRegistered = false

    private static func register(_ server: PostgresTestServer) {
        registryLock.lock(); defer { registryLock.unlock() }
        live[ObjectIdentifier(server)] = (server.binDirectory.appendingPathComponent("pg_ctl").path,
                                          server.dataDirectory.path, server.rootDirectory.path, server.runAs)
    }

    private static func unregister(_ server: ObjectIdentifier) {
        registryLock.lock(); defer { registryLock.unlock() }
        live[server] = nil
    }

    private static func registerCleanupOnce() {
        registryLock.lock(); defer { registryLock.unlock() }
        guard !cleanupRegistered else { return }
        cleanupRegistered = true
        // Servers held in `static let`s are never deinitialized: stop them when the test
        // process exits normally.
        atexit {
            PostgresTestServer.stopAllAtExit()
        }
    }

    private static func stopAllAtExit() {
        registryLock.lock()
        let servers = Array(live.values)
        live.removeAll()
        registryLock.unlock()
        for server in servers {
            PostgresProcessSupport.runBlockingAtExit(server.pgCtl, ["stop", "-D", server.data, "-m", "immediate", "-w", "-t", "30"],
                                                     asUser: server.runAs, in: URL(fileURLWithPath: server.root))
            try? FileManager.default.removeItem(atPath: server.root)
        }
    }

    private nonisolated(unsafe) static var reaped = false

    /// Stops and removes clusters left in the temp directory by test processes that died
    /// without cleaning up (their `owner.pid` is no longer alive). Once per process.
    private static func reapOrphans() {
        registryLock.lock()
        let already = reaped
        reaped = true
        registryLock.unlock()
        guard !already else { return }
        var bases = [URL(fileURLWithPath: "/tmp", isDirectory: true)]
        if FileManager.default.temporaryDirectory.path != "/tmp" { bases.append(FileManager.default.temporaryDirectory) }
        for base in bases {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: base.path) else { continue }
            for entry in entries where entry.hasPrefix("ssmd-pg-") && !entry.hasPrefix("ssmd-pg-out-") {
                let root = base.appendingPathComponent(entry, isDirectory: true)
                guard let owner = try? String(contentsOf: root.appendingPathComponent("owner.pid"), encoding: .utf8),
                      let pid = Int32(owner.trimmingCharacters(in: .whitespacesAndNewlines)),
                      pid != getpid(), !PostgresProcessSupport.isAlive(pid)
                else { continue }
                let data = root.appendingPathComponent("data")
                if let text = try? String(contentsOf: data.appendingPathComponent("postmaster.pid"), encoding: .utf8),
                   let first = text.split(separator: "\n").first, let postmaster = Int32(first),
                   PostgresProcessSupport.isAlive(postmaster) {
                    // SIGQUIT is PostgreSQL's immediate shutdown; not waited for.
                    kill(postmaster, SIGQUIT)
                }
                try? FileManager.default.removeItem(at: root)
            }
        }
    }
}

// MARK: - The shared cluster

/// A database for one test: its own database on a cluster (usually the shared one).
public struct TestDatabase: Sendable {
    public let server: PostgresTestServer
    /// The database's name.
    public let database: String
    public var port: Int { server.port }
    /// `host=127.0.0.1 port=… dbname=<this database> user=postgres`.
    public var connectionString: String { server.connectionString(database: database) }

    public func connectionString(user: String, password: String? = nil) -> String {
        server.connectionString(database: database, user: user, password: password)
    }

    /// A login role (cluster-wide: give it a name no other test uses) with full rights on
    /// this database.
    public func createRole(name: String, password: String) async throws {
        try await server.createRole(name: name, password: password, database: database)
    }
}

extension PostgresTestServer {
    /// The database every migrated test database is copied from.
    public static let templateDatabase = "ssmd_template"

    /// The process's shared cluster, with ``templateDatabase`` migrated: started on first
    /// use, stopped at process exit.
    public static func shared() async throws -> PostgresTestServer {
        try await SharedPostgres.cluster.server()
    }

    /// A new database on the shared cluster: a copy of the migrated template, or empty
    /// (`migrated: false`) for tests of migrations themselves.
    public static func sharedDatabase(migrated: Bool = true) async throws -> TestDatabase {
        let server = try await shared()
        let name = try await server.createDatabase(template: migrated ? templateDatabase : nil)
        return TestDatabase(server: server, database: name)
    }

    /// This cluster's own database (the one named at `init`) as a ``TestDatabase``.
    public var defaultDatabase: TestDatabase { TestDatabase(server: self, database: database) }
}

private actor SharedPostgres {
    static let cluster = SharedPostgres()
    /// A task, not a result: the actor is re-entered while the cluster starts, and every
    /// caller in that window must wait for the same start, not begin another.
    private var starting: Task<PostgresTestServer, any Error>?

    func server() async throws -> PostgresTestServer {
        if let starting { return try await starting.value }
        let task = Task { try await Self.start() }
        starting = task
        return try await task.value
    }

    private static func start() async throws -> PostgresTestServer {
        // Many tests at once, each with a daemon or two and a data-api pool.
        let server = try await PostgresTestServer(database: "postgres_tests", maxConnections: 300)
        try await server.createDatabase(PostgresTestServer.templateDatabase)
        // The template is migrated once here; no session may stay connected to it, or
        // `CREATE DATABASE … TEMPLATE` refuses to copy it.
        try await PostgresConnection.with(server.connectionString(database: PostgresTestServer.templateDatabase)) { connection in
            _ = try await Migrator.embedded().migrate(connection)
        }
        // `close()` does not wait for the session to end: wait for it here.
        let template = PostgresTestServer.templateDatabase
        let gone = try await PostgresConnection.with(server.connectionString(database: "postgres")) { admin in
            try await eventually(timeout: .seconds(10), every: .milliseconds(20)) {
                try await admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", [.text(template)]).scalar == "0"
            }
        }
        guard gone else { throw PostgresProcessSupport.Failure(description: "a session stayed connected to \(template)") }
        return server
    }
}
