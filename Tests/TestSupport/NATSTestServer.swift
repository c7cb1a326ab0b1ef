import Foundation
import CurlHTTP
#if canImport(Glibc)
import Glibc
#endif

/// A real `nats-server -js` child process on loopback for tests: free ports, a private
/// store directory, readiness via `/healthz?js-enabled-only=true`. Stop it by PID
/// (`stop()` / `kill()`); `start()` again reuses the same ports and store directory, so
/// tests can prove reconnect and persistence. `shutdown()` stops it and removes the temp
/// directory; `teardown()` (also run by `deinit`) does the same without waiting.
///
/// Most tests do not need a server of their own: ``NATSTestServer/sharedAccount()`` gives a
/// JetStream account on one server shared by the whole test process. A test keeps a private
/// server only when it stops, kills or restarts NATS, or needs its own auth or TLS.
public final class NATSTestServer: @unchecked Sendable {
    public enum Auth: Sendable {
        case none
        case userPassword(user: String, password: String)
        case token(String)
        /// `count` accounts, each with JetStream and one user (``NATSAccount``).
        case accounts(count: Int)
    }

    public private(set) var port: Int
    public private(set) var monitorPort: Int
    public let auth: Auth
    /// Serve clients over TLS only, with this certificate and key (PEM files).
    public let tls: (certificate: String, key: String)?
    /// Temp directory holding the JetStream store (`store/`) and the server log.
    public let directory: URL
    public var url: String { "\(tls == nil ? "nats" : "tls")://127.0.0.1:\(port)" }
    public var storeDirectory: URL { directory.appendingPathComponent("store") }
    public var logFile: URL { directory.appendingPathComponent("nats-server.log") }
    var configFile: URL { directory.appendingPathComponent("nats-server.conf") }
    /// Per-server secret of the accounts' passwords (`.accounts` only).
    private let accountSecret = String(UInt64.random(in: 1..<UInt64.max), radix: 36)

    private let lock = NSLock()
    private var pid: pid_t = 0

    /// Starts a server and waits until JetStream is healthy.
    public init(auth: Auth = .none, tls: (certificate: String, key: String)? = nil, startupTimeout: Duration = .seconds(30)) async throws {
        self.auth = auth
        self.tls = tls
        self.port = try Self.freePort()
        var mon = try Self.freePort()
        while mon == port { mon = try Self.freePort() }
        self.monitorPort = mon
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("ssmd-nats-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("store"), withIntermediateDirectories: true)
        try "\(getpid())\n".write(to: dir.appendingPathComponent("owner.pid"), atomically: true, encoding: .utf8)
        self.directory = dir
        Self.reapOrphansOnce()
        // A port picked as free can still be taken before the server binds it (another
        // test's server): pick new ports and try again.
        var attempt = 0
        while true {
            do {
                try await start(timeout: startupTimeout)
                return
            } catch TestServerError.exited(let log) where log.contains("address already in use") && attempt < 5 {
                attempt += 1
                port = try Self.freePort()
                repeat { monitorPort = try Self.freePort() } while monitorPort == port
                try? FileManager.default.removeItem(at: logFile)
            } catch {
                await shutdown()
                throw error
            }
        }
    }

    deinit { teardown() }

    /// SIGKILL without waiting (the reaper thread collects the process) and removes the
    /// directory: for synchronous `defer`s and `deinit`, which must not block.
    public func teardown() {
        let p: pid_t = lock.withLock {
            let p = pid
            pid = 0
            return p
        }
        if p > 0 { Spawn.killInBackground(p) }
        try? FileManager.default.removeItem(at: directory)
    }

    public var isRunning: Bool {
        lock.lock(); defer { lock.unlock() }
        return pid > 0
    }

    public var processID: pid_t {
        lock.lock(); defer { lock.unlock() }
        return pid
    }

    /// Starts the server (again) on the same ports and store directory.
    public func start(timeout: Duration = .seconds(30)) async throws {
        let started: pid_t = try lock.withLock {
            if pid > 0 { return 0 }
            var args = ["-js", "-a", "127.0.0.1", "-p", "\(port)", "-m", "\(monitorPort)",
                        "-sd", storeDirectory.path, "-n", "ssmd-test-\(port)"]
            switch auth {
            case .none: break
            case .userPassword(let user, let password): args += ["--user", user, "--pass", password]
            case .token(let token): args += ["--auth", token]
            case .accounts(let count):
                // Accounts exist only in a configuration file; flags still set what they set.
                try accountsConfiguration(count: count).write(to: configFile, atomically: true, encoding: .utf8)
                args = ["-c", configFile.path] + args
            }
            if let tls { args += ["--tls", "--tlscert", tls.certificate, "--tlskey", tls.key] }
            pid = try Spawn.start(Self.serverBinary(), args, stdout: .file(logFile.path, append: true))
            try? "\(pid)\n".write(to: directory.appendingPathComponent("server.pid"), atomically: true, encoding: .utf8)
            return pid
        }
        if started > 0 { try await waitUntilHealthy(timeout: timeout) }
    }

    /// SIGTERM, wait for exit (SIGKILL after `grace`).
    public func stop(grace: Duration = .seconds(5)) async {
        await signalAndReap(SIGTERM, grace: grace)
    }

    /// SIGKILL, wait for exit.
    public func kill() async {
        await signalAndReap(SIGKILL, grace: .seconds(5))
    }

    /// Stops the server and removes the temp directory (idempotent).
    public func shutdown() async {
        await stop(grace: .seconds(3))
        try? FileManager.default.removeItem(at: directory)
    }

    /// GET on the monitoring port (e.g. "/jsz", "/connz"): status code and body.
    public func monitor(_ path: String) async throws -> (status: Int, body: String) {
        try await Self.httpGet(port: monitorPort, path: path)
    }

    /// The server's log so far (for failure messages).
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    // MARK: - Accounts

    /// The `index`th account (0-based) of a server started with `.accounts(count:)`.
    public func account(_ index: Int) -> NATSAccount {
        NATSAccount(user: "t\(index)", password: "\(accountSecret)x\(index)", host: "127.0.0.1", port: port)
    }

    private func accountsConfiguration(count: Int) -> String {
        var text = "# written by NATSTestServer: one JetStream account per test, so tests sharing this\n"
        text += "# server share no subject, stream, consumer or KV bucket.\naccounts {\n"
        for i in 0..<count {
            let a = account(i)
            text += "  T\(i): { jetstream: enabled, users: [ { user: \"\(a.user)\", password: \"\(a.password)\" } ] }\n"
        }
        return text + "}\n"
    }

    // MARK: - Internals

    private func signalAndReap(_ sig: Int32, grace: Duration) async {
        let p: pid_t = lock.withLock {
            let p = pid
            pid = 0
            return p
        }
        guard p > 0 else { return }
        _ = Glibc.kill(p, sig)
        _ = await Spawn.wait(p, timeout: grace)   // SIGKILLs and reaps it past `grace`
    }

    private func waitUntilHealthy(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = false
        while !last {
            // One more look after the deadline: on a loaded machine this task may not have
            // run for a while, and a server that has long been ready must not count as late.
            last = ContinuousClock.now >= deadline
            if let r = try? await Self.httpGet(port: monitorPort, path: "/healthz?js-enabled-only=true"), r.status == 200 {
                return
            }
            // Died early (e.g. port taken)?
            let exited: Bool = lock.withLock {
                guard pid > 0, Spawn.poll(pid) != nil else { return false }
                pid = 0
                return true
            }
            if exited { throw TestServerError.exited("nats-server exited during startup:\n\(log())") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestServerError.timeout("nats-server on port \(port) not healthy within \(timeout):\n\(log())")
    }

    public enum TestServerError: Error, CustomStringConvertible {
        case exited(String), timeout(String), socket(String)
        public var description: String {
            switch self {
            case .exited(let m), .timeout(let m), .socket(let m): return m
            }
        }
    }

    public static func serverBinary() -> String {
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
            let p = dir + "/nats-server"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return "nats-server"
    }

    /// A free TCP port on 127.0.0.1, chosen at random below Linux's ephemeral range
    /// (32768+) so that client connections' local ports cannot collide with it.
    public static func freePort() throws -> Int {
        for _ in 0..<200 {
            let candidate = Int.random(in: 20_000..<32_000)
            if canBind(candidate) { return candidate }
        }
        return try ephemeralPort()
    }

    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// A free port from the kernel (bind to port 0, read it back, close).
    static func ephemeralPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestServerError.socket("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let b = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        guard b == 0 else { throw TestServerError.socket("bind() failed") }
        let g = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard g == 0 else { throw TestServerError.socket("getsockname() failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// GET http://127.0.0.1:port/path through the tests' HTTP client (its own threads).
    public static func httpGet(port: Int, path: String) async throws -> (status: Int, body: String) {
        let r = try await TestHTTP.client.get(url: "http://127.0.0.1:\(port)\(path)")
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    // MARK: - Orphans

    private static let orphansReaped = Once()

    /// Kills nats-servers left in the temp directory by test processes that died without
    /// cleaning up (their `owner.pid` is no longer alive), and removes their directories.
    private static func reapOrphansOnce() {
        orphansReaped.run {
            let base = FileManager.default.temporaryDirectory
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? [] where entry.hasPrefix("ssmd-nats-") {
                let dir = base.appendingPathComponent(entry)
                func pid(_ file: String) -> pid_t? {
                    (try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8))
                        .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                }
                guard let owner = pid("owner.pid"), owner != getpid(), Glibc.kill(owner, 0) != 0, errno == ESRCH else { continue }
                if let server = pid("server.pid"), server > 0,
                   let cmdline = try? String(contentsOfFile: "/proc/\(server)/cmdline", encoding: .utf8),
                   cmdline.contains(dir.path) {
                    _ = Glibc.kill(server, SIGKILL)
                }
                try? FileManager.default.removeItem(at: dir)
            }
        }
    }
}

/// One JetStream account on a shared test server: its own subjects, streams, consumers and
/// KV buckets, invisible to every other account. `url` carries the credentials, so a daemon
/// given `SSMD_NATS_URL=url` logs in to this account.
public struct NATSAccount: Sendable {
    public let user: String
    public let password: String
    public let host: String
    public let port: Int
    public var url: String { "nats://\(user):\(password)@\(host):\(port)" }
}

extension NATSTestServer {
    /// Accounts per shared server. A test takes one and never gives it back (its streams
    /// stay until the process ends), so a run with more NATS tests than this starts another.
    static let accountsPerSharedServer = 200

    /// A fresh JetStream account on the process's shared server, started on first use and
    /// stopped at process exit.
    public static func sharedAccount() async throws -> NATSAccount {
        try await SharedNATS.pool.account()
    }
}

private actor SharedNATS {
    static let pool = SharedNATS()
    /// The server being started or serving; a task, because the actor is re-entered while a
    /// server starts and every caller in that window must get an account on that one.
    private var server: Task<NATSTestServer, any Error>?
    private var used = 0

    func account() async throws -> NATSAccount {
        if server == nil || used == NATSTestServer.accountsPerSharedServer {
            used = 0
            server = Task {
                let started = try await NATSTestServer(auth: .accounts(count: NATSTestServer.accountsPerSharedServer))
                // Kept until exit (a full server keeps serving the tests that hold its accounts).
                ProcessExit.atExit { started.teardown() }
                return started
            }
        }
        let index = used
        used += 1
        return try await server!.value.account(index)
    }
}

/// Cleanup run when the test process exits normally: shared servers live in statics, which
/// are never deinitialized.
public enum ProcessExit {
    private nonisolated(unsafe) static var actions: [() -> Void] = []
    private static let lock = NSLock()
    private nonisolated(unsafe) static var registered = false

    public static func atExit(_ action: @escaping () -> Void) {
        lock.lock(); defer { lock.unlock() }
        actions.append(action)
        guard !registered else { return }
        registered = true
        atexit { ProcessExit.runAll() }
    }

    private static func runAll() {
        lock.lock()
        let all = actions.reversed()
        actions.removeAll()
        lock.unlock()
        for action in all { action() }
    }
}

/// Runs a closure once per process.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func run(_ body: () -> Void) {
        lock.lock(); defer { lock.unlock() }
        guard !done else { return }
        done = true
        body()
    }
}

/// The tests' HTTP client: a handful of threads of its own, short timeouts.
public enum TestHTTP {
    public static let client: CurlHTTPClient = {
        var o = HTTPClientOptions()
        o.connectTimeout = .seconds(2)
        o.totalTimeout = .seconds(30)
        o.concurrency = 8
        return CurlHTTPClient(options: o)
    }()
}
