import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `nats-server -js` child process on loopback for tests: free ports, a private
/// store directory, readiness via `/healthz?js-enabled-only=true`. Stop it by PID
/// (`stop()` / `kill()`); `start()` again reuses the same ports and store directory, so
/// tests can prove reconnect and persistence. `shutdown()` (also run by `deinit`) stops
/// it and removes the temp directory.
public final class NATSTestServer: @unchecked Sendable {
    public enum Auth: Sendable {
        case none
        case userPassword(user: String, password: String)
        case token(String)
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

    private let lock = NSLock()
    private var pid: pid_t = 0

    /// Starts a server and waits until JetStream is healthy.
    public init(auth: Auth = .none, tls: (certificate: String, key: String)? = nil, startupTimeout: Duration = .seconds(10)) async throws {
        self.auth = auth
        self.tls = tls
        self.port = try Self.freePort()
        var mon = try Self.freePort()
        while mon == port { mon = try Self.freePort() }
        self.monitorPort = mon
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("ssmd-nats-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("store"), withIntermediateDirectories: true)
        self.directory = dir
        // A port picked as free can still be taken before the server binds it (another
        // test's server): pick new ports and try again.
        var attempt = 0
        while true {
            do {
                try start(timeout: startupTimeout)
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

    /// Kills the server (SIGKILL, reaped at once) and removes its directory: a test's `defer`,
    /// where waiting for a graceful stop has no point.
    public func teardown() {
        let p: pid_t = lock.withLock {
            let p = pid
            pid = 0
            return p
        }
        if p > 0 {
            _ = Glibc.kill(p, SIGKILL)
            _ = Spawn.wait(p)
        }
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
    public func start(timeout: Duration = .seconds(10)) throws {
        lock.lock()
        if pid > 0 { lock.unlock(); return }
        var args = ["-js", "-a", "127.0.0.1", "-p", "\(port)", "-m", "\(monitorPort)",
                    "-sd", storeDirectory.path, "-n", "ssmd-test-\(port)"]
        switch auth {
        case .none: break
        case .userPassword(let user, let password): args += ["--user", user, "--pass", password]
        case .token(let token): args += ["--auth", token]
        }
        if let tls { args += ["--tls", "--tlscert", tls.certificate, "--tlskey", tls.key] }
        let binary = Self.serverBinary()
        do {
            pid = try Spawn.start(binary, args, stdout: .file(logFile.path, append: true))
        } catch {
            lock.unlock()
            throw error
        }
        lock.unlock()
        try waitUntilHealthy(timeout: timeout)
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
    public func monitor(_ path: String) throws -> (status: Int, body: String) {
        try Self.httpGet(port: monitorPort, path: path)
    }

    /// The server's log so far (for failure messages).
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
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

    private func waitUntilHealthy(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let r = try? Self.httpGet(port: monitorPort, path: "/healthz?js-enabled-only=true"), r.status == 200 {
                return
            }
            // Died early (e.g. port taken)?
            lock.lock()
            if pid > 0, Spawn.poll(pid) != nil {
                pid = 0
                lock.unlock()
                throw TestServerError.exited("nats-server exited during startup:\n\(log())")
            }
            lock.unlock()
            usleep(20_000)
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

    static func serverBinary() -> String {
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

    /// Minimal HTTP/1.0 GET to 127.0.0.1:port.
    public static func httpGet(port: Int, path: String, timeout: Duration = .seconds(2)) throws -> (status: Int, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestServerError.socket("socket() failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let c = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard c == 0 else { throw TestServerError.socket("connect to monitor port \(port) failed") }
        let req = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        let sent = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == req.count else { throw TestServerError.socket("send failed") }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let firstLine = text.split(separator: "\r\n", maxSplits: 1).first else {
            throw TestServerError.socket("empty HTTP response")
        }
        let parts = firstLine.split(separator: " ")
        let status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }
}
