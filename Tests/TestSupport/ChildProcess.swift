import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program the tests run as a real separate process (a daemon, the simulator), with its
/// output in a log file that is printed when a test fails. Stopped by PID, never left behind.
public final class ChildProcess: @unchecked Sendable {
    public let name: String
    public let logURL: URL
    public let pid: Int32
    public init(name: String, executable: URL, arguments: [String], environment: [String: String] = [:], logDirectory: URL) throws {
        self.name = name
        self.logURL = logDirectory.appendingPathComponent("\(name).log")
        var env = Spawn.inheritedEnvironment()
        for (k, v) in environment { env[k] = v }
        pid = try Spawn.start(executable.path, arguments, environment: env, stdout: .file(logURL.path, append: false))
    }

    /// Its exit status (code, or 128 + signal), nil while it runs. Never blocks.
    public var exitCode: Int32? { Spawn.poll(pid) }

    public var isRunning: Bool { exitCode == nil }

    public func signal(_ sig: Int32) {
        if isRunning { Glibc.kill(pid, sig) }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`. Returns the exit status.
    @discardableResult
    public func stop(grace: Duration = .seconds(10)) async -> Int32 {
        if let done = exitCode { return done }
        Glibc.kill(pid, SIGTERM)
        return await Spawn.wait(pid, timeout: grace) ?? (128 + SIGKILL)
    }

    /// SIGKILL; returns once it is reaped.
    @discardableResult
    public func kill() async -> Int32 {
        if let done = exitCode { return done }
        Glibc.kill(pid, SIGKILL)
        return await Spawn.exit(of: pid)
    }

    /// SIGKILL without waiting: the reaper collects it. For synchronous `defer`s.
    public func abandon() { Spawn.killInBackground(pid) }

    /// Suspends until it has exited or `timeout` passed; whether it exited.
    public func waitForExit(timeout: Duration) async -> Bool {
        await eventually(timeout: timeout, every: .milliseconds(20)) { !isRunning }
    }

    public var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Its output for a failure message: the last `tail` characters, and — when it crashed —
    /// the crash report's head (the reason and the crashing thread), which a tail would cut.
    public func report(tail: Int = 4000) -> String {
        let text = output
        guard let crash = text.range(of: "Program crashed") else { return String(text.suffix(tail)) }
        let head = text[crash.lowerBound...].prefix(3000)
        return "…\n" + head + "\n…\n" + text.suffix(tail)
    }

    deinit { abandon() }
}

/// Where the package's built executables are.
public enum BuiltProducts {
    public static var directory: URL {
        if let dir = ProcessInfo.processInfo.environment["SSMD_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        let fm = FileManager.default
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first { candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent()) }
        let root = packageRoot
        for config in ["debug", "release"] {
            candidates.append(root.appendingPathComponent(".build/\(config)"))
        }
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "")
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            candidates.append(url)
        }
        for c in candidates where fm.isExecutableFile(atPath: c.appendingPathComponent("series-fetcher").path) { return c }
        return root.appendingPathComponent(".build/debug")
    }

    public static func executable(_ name: String) -> URL { directory.appendingPathComponent(name) }

    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// A fresh directory for one test's logs and data, kept under `.build/test-artifacts` when
/// `SSMD_KEEP_ARTIFACTS` is set (CI uploads it), otherwise removed by `cleanup()`.
public final class TestDirectory: @unchecked Sendable {
    public let url: URL
    public init(_ name: String) throws {
        let base = BuiltProducts.packageRoot.appendingPathComponent(".build/test-artifacts")
        url = base.appendingPathComponent("\(name)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func cleanup() {
        if ProcessInfo.processInfo.environment["SSMD_KEEP_ARTIFACTS"] == nil {
            try? FileManager.default.removeItem(at: url)
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
public func eventually(timeout: Duration, every: Duration = .milliseconds(200), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: every)
    }
    return try await condition()
}
