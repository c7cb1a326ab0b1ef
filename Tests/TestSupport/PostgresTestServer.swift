import Foundation
import PostgresClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private PostgreSQL cluster for one test or suite: its own temp data directory, a free
/// TCP port on 127.0.0.1, a private unix-socket directory, `trust` authentication for the
/// superuser `postgres`, and password (SCRAM) authentication for any role made with
/// ``createRole(name:password:)``.
///
/// Works as root (CI, fresh machines): the tools run as `postgres` through `runuser`, and
/// the data directory and log belong to `postgres`. Servers are stopped by ``shutdown()``,
/// `deinit`, or — for a static/shared instance — at process exit; a cluster left behind by
/// a crashed test process is reaped by the next one.
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
    public init(database: String = "ssmd_test", durable: Bool = false) async throws {
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

            try PostgresProcessSupport.check(
                binDirectory.appendingPathComponent("initdb").path,
                ["-D", dataDirectory.path, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
                 "--no-sync", "--no-instructions"],
                asUser: runAs, in: root)

            try PostgresTestServer.writeHBA(dataDirectory)
            // Try a few ports: another process may take the one we picked before we bind it.
            var lastError: Error?
            for _ in 0..<5 {
                chosenPort = try PostgresProcessSupport.freeLoopbackPort()
                try PostgresTestServer.writeConfig(dataDirectory, port: chosenPort, socketDirectory: socketDirectory, durable: durable)
                if let runAs, let ids = PostgresProcessSupport.ids(of: runAs) {
                    PostgresProcessSupport.chownRecursively(dataDirectory, uid: ids.uid, gid: ids.gid)
                }
                do {
                    try PostgresTestServer.pgCtlStart(binDirectory: binDirectory, dataDirectory: dataDirectory,
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
            _ = try? PostgresProcessSupport.run(binDirectory.appendingPathComponent("pg_ctl").path,
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
            shutdown()
            throw error
        }
    }

    deinit {
        shutdown()
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

    /// Fast shutdown (clients are disconnected); waits until the postmaster has exited.
    public func stop() {
        lock.lock(); defer { lock.unlock() }
        guard running else { return }
        let pid = postmasterPID
        let outcome = try? PostgresProcessSupport.run(binDirectory.appendingPathComponent("pg_ctl").path,
                                                      ["stop", "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "30"],
                                                      asUser: runAs, in: rootDirectory)
        if outcome?.status != 0, let pid, PostgresProcessSupport.isAlive(pid) {
            // pg_ctl failed: stop that PID ourselves (SIGQUIT = immediate shutdown, then SIGKILL).
            kill(pid, SIGQUIT)
            for _ in 0..<100 where PostgresProcessSupport.isAlive(pid) { PostgresProcessSupport.sleep(seconds: 0.05) }
            if PostgresProcessSupport.isAlive(pid) { kill(pid, SIGKILL) }
        }
        if let pid {
            for _ in 0..<200 where PostgresProcessSupport.isAlive(pid) { PostgresProcessSupport.sleep(seconds: 0.05) }
        }
        running = false
    }

    /// Starts again on the same data directory and port (after ``stop()``).
    public func start() throws {
        lock.lock(); defer { lock.unlock() }
        guard !running else { return }
        guard !removed else { throw PostgresProcessSupport.Failure(description: "server was shut down and removed") }
        try PostgresTestServer.pgCtlStart(binDirectory: binDirectory, dataDirectory: dataDirectory,
                                          logFile: logFile, runAs: runAs, root: rootDirectory)
        running = true
    }

    /// Stops the server and removes its directory. Idempotent; also run by `deinit` and at exit.
    public func shutdown() {
        stop()
        lock.lock(); defer { lock.unlock() }
        guard !removed else { return }
        removed = true
        try? FileManager.default.removeItem(at: rootDirectory)
        PostgresTestServer.unregister(self)
    }

    /// The server log so far (for diagnosing a failing test).
    public func serverLog() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    // MARK: - Databases and roles

    /// Creates another database (for test isolation on a shared server); returns its name.
    @discardableResult
    public func createDatabase(_ name: String? = nil) async throws -> String {
        let name = name ?? "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        guard PostgresTestServer.isValidIdentifier(name) else {
            throw PostgresProcessSupport.Failure(description: "invalid database name \(name)")
        }
        try await PostgresConnection.with(connectionString(database: "postgres")) { admin in
            // Identifiers cannot be parameters; the server quotes it with format(%I).
            let statement = try await admin.execute("SELECT format('CREATE DATABASE %I', $1::text)", [.text(name)]).scalar ?? ""
            try await admin.executeScript(statement)
        }
        return name
    }

    /// Creates a login role that must authenticate with `password` (SCRAM over TCP), with
    /// full rights on the test database and its `public` schema.
    public func createRole(name: String, password: String) async throws {
        let database = self.database
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

    private static func writeConfig(_ data: URL, port: Int, socketDirectory: URL, durable: Bool) throws {
        var settings = [
            "listen_addresses = '127.0.0.1'",
            "port = \(port)",
            "unix_socket_directories = '\(socketDirectory.path)'",
            "max_connections = 40",
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

    private static func pgCtlStart(binDirectory: URL, dataDirectory: URL, logFile: URL, runAs: String?, root: URL) throws {
        let outcome = try PostgresProcessSupport.run(
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

    private static func unregister(_ server: PostgresTestServer) {
        registryLock.lock(); defer { registryLock.unlock() }
        live[ObjectIdentifier(server)] = nil
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
            _ = try? PostgresProcessSupport.run(server.pgCtl, ["stop", "-D", server.data, "-m", "fast", "-w", "-t", "30"],
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
                   PostgresProcessSupport.isAlive(postmaster),
                   let bin = try? findBinDirectory() {
                    _ = try? PostgresProcessSupport.run(bin.appendingPathComponent("pg_ctl").path,
                                                        ["stop", "-D", data.path, "-m", "immediate", "-w"],
                                                        asUser: PostgresProcessSupport.isRoot ? "postgres" : nil, in: root)
                }
                try? FileManager.default.removeItem(at: root)
            }
        }
    }
}
