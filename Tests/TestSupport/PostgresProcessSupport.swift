import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small process helpers for ``PostgresTestServer`` (kept apart from the NATS helpers).
enum PostgresProcessSupport {
    struct Outcome {
        let status: Int32
        let output: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static var isRoot: Bool { geteuid() == 0 }

    /// Runs `executable args…` to completion, as `user` through `runuser` when given,
    /// in `directory` (through `env -C`), capturing stdout+stderr through a file (never a
    /// pipe: pg_ctl's postmaster must not inherit a pipe we wait on).
    ///
    /// Through ``Spawn``, not `Foundation.Process` (whose exit detection can miss a child).
    static func run(
        _ executable: String, _ arguments: [String], asUser user: String? = nil,
        in directory: URL? = nil, environment: [String: String]? = nil
    ) async throws -> Outcome {
        var argv: [String] = []
        if let user { argv += [runuserPath, "-u", user, "--"] }
        if let directory { argv += ["/usr/bin/env", "-C", directory.path] }
        argv.append(executable)
        argv += arguments

        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("ssmd-pg-out-\(getpid())-\(UUID().uuidString)").path
        defer { unlink(outputPath) }

        let pid = try Spawn.start(argv[0], Array(argv.dropFirst()), environment: environment ?? cleanEnvironment(),
                                  stdout: .file(outputPath, append: false))
        let exitCode = await Spawn.exit(of: pid)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return Outcome(status: exitCode, output: output)
    }

    /// Like ``run(_:_:asUser:in:environment:)`` but throws with the output on a non-zero exit.
    @discardableResult
    static func check(
        _ executable: String, _ arguments: [String], asUser user: String? = nil, in directory: URL? = nil
    ) async throws -> String {
        let outcome = try await run(executable, arguments, asUser: user, in: directory)
        guard outcome.status == 0 else {
            throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) exited \(outcome.status): \(outcome.output)")
        }
        return outcome.output
    }

    /// The environment for server tools: ours minus libpq/server variables that would
    /// redirect them (PGDATA, PGPORT, PGHOST …), with a C locale that always exists.
    static func cleanEnvironment() -> [String: String] {
        var environment = Spawn.inheritedEnvironment()
        environment["LC_ALL"] = "C"
        environment["LANG"] = "C"
        return environment
    }

    static var runuserPath: String {
        for candidate in ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return "/usr/sbin/runuser"
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
    static func freeLoopbackPort() throws -> Int {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether a process with this PID exists.
    /// Stops a postmaster without waiting — SIGQUIT (an immediate shutdown), SIGKILL after
    /// 5 s — and removes `root` once it is gone, on a thread of its own: for a test's
    /// synchronous `defer`. A postmaster already gone just has its directory removed.
    static func stopInBackground(pid: Int32?, removing root: URL, threadName: String) {
        guard let pid, isAlive(pid) else {
            try? FileManager.default.removeItem(at: root)
            return
        }
        kill(pid, SIGQUIT)
        let thread = Thread {
            for _ in 0..<200 where isAlive(pid) { usleep(25_000) }
            if isAlive(pid) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(at: root)
        }
        thread.name = threadName
        thread.start()
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// uid/gid of a user name, nil if unknown.
    static func ids(of user: String) -> (uid: uid_t, gid: gid_t)? {
        guard let entry = getpwnam(user) else { return nil }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// chown -R.
    static func chownRecursively(_ url: URL, uid: uid_t, gid: gid_t) {
        _ = chown(url.path, uid, gid)
        guard let enumerator = FileManager.default.enumerator(atPath: url.path) else { return }
        for case let relative as String in enumerator {
            _ = lchown(url.appendingPathComponent(relative).path, uid, gid)
        }
    }

    /// Runs a command to completion blocking the calling thread: only for process exit
    /// (`atexit`), where nothing else is left to run and no `await` is possible.
    static func runBlockingAtExit(_ executable: String, _ arguments: [String], asUser user: String?, in directory: URL) {
        var argv: [String] = []
        if let user { argv += [runuserPath, "-u", user, "--"] }
        argv += ["/usr/bin/env", "-C", directory.path, executable] + arguments
        guard let pid = try? Spawn.start(argv[0], Array(argv.dropFirst()), environment: cleanEnvironment()) else { return }
        while Spawn.poll(pid) == nil { usleep(10_000) }
    }

    /// Suspends until `pid` is gone (it is not our child: the postmaster) or `timeout` passes.
    static func waitUntilGone(_ pid: Int32, timeout: Duration) async -> Bool {
        await eventually(timeout: timeout, every: .milliseconds(20)) { !isAlive(pid) }
    }
}
