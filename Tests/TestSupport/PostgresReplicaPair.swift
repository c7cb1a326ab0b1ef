import Foundation
import PostgresClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PostgreSQL primary and a streaming standby on loopback, for failover tests: the primary
/// is a private ``PostgresTestServer``; the standby is a `pg_basebackup -R` copy of it on a
/// port of its own, started as a hot standby. With `synchronous: true` (what a failover
/// without loss needs) the primary acknowledges a commit only once the standby has flushed
/// it (`synchronous_standby_names = '*'`, `synchronous_commit = on`); the standby itself
/// names no synchronous standby, so it can commit alone once promoted.
///
/// Works as root like ``PostgresTestServer`` (the tools run as `postgres`). The test kills
/// the primary (``killPrimary()``), promotes the standby (``promoteStandby()``), and ends
/// with ``shutdown()`` or ``teardown()``. A standby left behind by a crashed test process is
/// reaped by the next one (same directory naming and `owner.pid` as the primary).
public final class PostgresReplicaPair: @unchecked Sendable {
    public let primary: PostgresTestServer
    public let standbyPort: Int
    public let standbyRoot: URL
    public let standbyData: URL
    public let standbyLog: URL
    private let runAs: String?
    private let lock = NSLock()
    private var standbyRunning = false
    private var removed = false

    public var database: String { primary.database }
    public var primaryPort: Int { primary.port }

    /// `host=127.0.0.1 port=<standby> dbname=… user=…` (keyword/value form).
    public func standbyConnectionString(user: String = "postgres", password: String? = nil) -> String {
        primary.connectionString(database: database, user: user, password: password)
            .replacingOccurrences(of: "port=\(primary.port)", with: "port=\(standbyPort)")
    }

    /// `postgresql://user[:password]@127.0.0.1:<primary>,127.0.0.1:<standby>/db?target_session_attrs=…`:
    /// libpq tries the hosts in order and keeps the first with the wanted role.
    public func multiHostURL(user: String = "postgres", password: String? = nil, targetSessionAttrs: String = "read-write",
                             connectTimeout: Int = 2) -> String {
        let credentials = password.map { "\(user):\(Self.percentEncoded($0))" } ?? user
        return "postgresql://\(credentials)@127.0.0.1:\(primary.port),127.0.0.1:\(standbyPort)/\(database)"
            + "?target_session_attrs=\(targetSessionAttrs)&connect_timeout=\(connectTimeout)"
    }

    /// Starts a primary, makes the standby from it, starts it and waits until it streams.
    public init(database: String = "ssmd_failover", synchronous: Bool = true) async throws {
        primary = try await PostgresTestServer(database: database)
        runAs = PostgresProcessSupport.isRoot ? "postgres" : nil
        let base = PostgresProcessSupport.isRoot ? URL(fileURLWithPath: "/tmp", isDirectory: true) : FileManager.default.temporaryDirectory
        standbyRoot = base.appendingPathComponent("ssmd-pg-\(getpid())-\(UUID().uuidString.prefix(8))-standby", isDirectory: true)
        standbyData = standbyRoot.appendingPathComponent("data", isDirectory: true)
        standbyLog = standbyRoot.appendingPathComponent("postgres.log")
        let socketDirectory = standbyRoot.appendingPathComponent("sock", isDirectory: true)
        var port = 0
        do {
            try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
            try "\(getpid())\n".write(to: standbyRoot.appendingPathComponent("owner.pid"), atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: standbyLog.path, contents: nil)
            if let runAs, let ids = PostgresProcessSupport.ids(of: runAs) {
                PostgresProcessSupport.chownRecursively(standbyRoot, uid: ids.uid, gid: ids.gid)
            }
            _ = chmod(socketDirectory.path, 0o700)

            // Replication connections from loopback, for the superuser only.
            let hba = primary.dataDirectory.appendingPathComponent("pg_hba.conf")
            let handle = try FileHandle(forWritingTo: hba)
            handle.seekToEndOfFile()
            handle.write(Data("host    replication   postgres   127.0.0.1/32   trust\n".utf8))
            try handle.close()
            try await PostgresConnection.with(primary.connectionString) { try await $0.execute("SELECT pg_reload_conf()") }

            try await PostgresProcessSupport.check(
                primary.binDirectory.appendingPathComponent("pg_basebackup").path,
                ["-h", "127.0.0.1", "-p", "\(primary.port)", "-U", "postgres", "-D", standbyData.path,
                 "-R", "-X", "stream", "-c", "fast", "--no-sync"],
                asUser: runAs, in: standbyRoot)
            // The copy carries the primary's postgresql.auto.conf (its port) followed by the
            // primary_conninfo that -R wrote; what is appended last wins.
            var lastError: Error?
            for _ in 0..<5 {
                port = try PostgresProcessSupport.freeLoopbackPort()
                let settings = ["", "# the standby (PostgresReplicaPair)", "port = \(port)",
                                "unix_socket_directories = '\(socketDirectory.path)'",
                                "synchronous_standby_names = ''", "hot_standby = on", ""]
                let auto = standbyData.appendingPathComponent("postgresql.auto.conf")
                let h = try FileHandle(forWritingTo: auto)
                h.seekToEndOfFile()
                h.write(Data(settings.joined(separator: "\n").utf8))
                try h.close()
                let outcome = try await PostgresProcessSupport.run(
                    primary.binDirectory.appendingPathComponent("pg_ctl").path,
                    ["start", "-D", standbyData.path, "-l", standbyLog.path, "-w", "-t", "60"], asUser: runAs, in: standbyRoot)
                if outcome.status == 0 { lastError = nil; break }
                lastError = PostgresProcessSupport.Failure(description: "pg_ctl start (standby) exited \(outcome.status): \(outcome.output)")
                if !((try? String(contentsOf: standbyLog, encoding: .utf8)) ?? "").contains("could not bind") { break }
            }
            if let lastError { throw lastError }
        } catch {
            let log = (try? String(contentsOf: standbyLog, encoding: .utf8)) ?? ""
            Self.stopImmediately(standbyData, runAs: runAs, root: standbyRoot, pgCtl: primary.binDirectory.appendingPathComponent("pg_ctl"))
            try? FileManager.default.removeItem(at: standbyRoot)
            primary.teardown()
            throw PostgresProcessSupport.Failure(description: "standby did not start: \(error)\nstandby log:\n\(log.suffix(3000))")
        }
        standbyPort = port
        standbyRunning = true
        do {
            let streaming = try await PostgresConnection.with(primary.connectionString) { c in
                try await eventually(timeout: .seconds(30), every: .milliseconds(50)) {
                    try await c.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'").scalar == "1"
                }
            }
            guard streaming else {
                throw PostgresProcessSupport.Failure(description: "the standby never streamed from the primary:\n\(standbyServerLog().suffix(3000))")
            }
            if synchronous {
                try await PostgresConnection.with(primary.connectionString) { c in
                    try await c.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
                    try await c.execute("ALTER SYSTEM SET synchronous_commit = on")
                    try await c.execute("SELECT pg_reload_conf()")
                }
                let applied = try await PostgresConnection.with(primary.connectionString) { c in
                    try await eventually(timeout: .seconds(10), every: .milliseconds(50)) {
                        try await c.execute("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").scalar == "1"
                    }
                }
                guard applied else { throw PostgresProcessSupport.Failure(description: "the standby never became synchronous") }
            }
        } catch {
            teardown()
            throw error
        }
    }

    deinit { teardown() }

    // MARK: - Failover

    /// The primary's postmaster and every process it started, SIGKILLed together (the
    /// postmaster is stopped first so it forks nothing meanwhile): what the loss of its
    /// machine looks like to clients and to the standby. Returns how many processes died.
    @discardableResult
    public func killPrimary() async -> Int {
        guard let postmaster = primary.postmasterPID else { return 0 }
        kill(postmaster, SIGSTOP)
        let children = Self.children(of: postmaster)
        for child in children { kill(child, SIGKILL) }
        kill(postmaster, SIGKILL)
        _ = await PostgresProcessSupport.waitUntilGone(postmaster, timeout: .seconds(10))
        for child in children { _ = await PostgresProcessSupport.waitUntilGone(child, timeout: .seconds(5)) }
        return children.count + 1
    }

    /// `pg_ctl promote -w`: returns once the standby accepts writes.
    public func promoteStandby() async throws {
        try await PostgresProcessSupport.check(primary.binDirectory.appendingPathComponent("pg_ctl").path,
                                               ["promote", "-D", standbyData.path, "-w", "-t", "60"], asUser: runAs, in: standbyRoot)
    }

    /// Waits until the standby has replayed everything the primary has written so far.
    public func waitForStandbyToCatchUp(timeout: Duration = .seconds(20)) async throws -> Bool {
        let target = try await PostgresConnection.with(primary.connectionString) { try await $0.execute("SELECT pg_current_wal_lsn()::text").scalar ?? "" }
        return try await PostgresConnection.with(standbyConnectionString()) { c in
            try await eventually(timeout: timeout, every: .milliseconds(50)) {
                try await c.execute("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", [.text(target)]).scalar == "t"
            }
        }
    }

    public func standbyServerLog() -> String {
        (try? String(contentsOf: standbyLog, encoding: .utf8)) ?? ""
    }

    // MARK: - Clean-up

    /// Stops both servers (immediate) and removes their directories. Idempotent.
    public func shutdown() async {
        if lock.withLock({ standbyRunning }) {
            _ = try? await PostgresProcessSupport.run(primary.binDirectory.appendingPathComponent("pg_ctl").path,
                                                      ["stop", "-D", standbyData.path, "-m", "immediate", "-w", "-t", "30"],
                                                      asUser: runAs, in: standbyRoot)
        }
        teardown()
    }

    /// Kills both without waiting (a background thread removes the directories once the
    /// postmasters are gone): for a test's synchronous `defer`.
    public func teardown() {
        let (first, running) = lock.withLock { () -> (Bool, Bool) in
            defer { removed = true; standbyRunning = false }
            return (!removed, standbyRunning)
        }
        guard first else { return }
        primary.teardown()
        PostgresProcessSupport.stopInBackground(pid: running ? Self.postmasterPID(standbyData) : nil, removing: standbyRoot,
                                                threadName: "ssmd-test-pg-standby-teardown")
    }

    // MARK: - Internals

    static func postmasterPID(_ data: URL) -> Int32? {
        guard let text = try? String(contentsOf: data.appendingPathComponent("postmaster.pid"), encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return Int32(first.trimmingCharacters(in: .whitespaces))
    }

    /// PIDs whose parent is `parent` (from /proc).
    static func children(of parent: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // "pid (comm) state ppid …": comm may hold spaces, so read after its last ')'.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent ? pid : nil
        }
    }

    private static func stopImmediately(_ data: URL, runAs: String?, root: URL, pgCtl: URL) {
        guard let pid = postmasterPID(data), PostgresProcessSupport.isAlive(pid) else { return }
        kill(pid, SIGQUIT)
    }

    static func percentEncoded(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
