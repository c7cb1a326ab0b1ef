import Foundation

/// Starting and reaping the tests' child processes with `posix_spawn` and `waitpid`.
///
/// Not `Foundation.Process`: on Linux it learns of a child's exit through a socketpair
/// whose far end the child holds, so when another process spawned at the same moment
/// inherits that socket too, the exit goes unseen until that other process ends. In CI a
/// SIGKILLed db-writer stayed "running" for good and `terminationStatus` then trapped.
/// Here the child closes every descriptor above 2 before exec, and exits are learnt from
/// `waitpid` on the child's own PID.
public enum Spawn {
    /// Where a child's standard stream comes from or goes to.
    public enum Stream {
        case null
        /// A file, created if missing; appended to or truncated.
        case file(String, append: Bool)
        /// A descriptor of ours (e.g. one end of a pipe), duplicated into the child.
        case descriptor(Int32)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts `executable` (a path, or a name looked up in PATH) and returns its PID.
    /// `environment` nil passes ours on.
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdin: Stream = .null, stdout: Stream = .null, stderr: Stream? = nil
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        func route(_ stream: Stream, to fd: Int32, reading: Bool) {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", reading ? O_RDONLY : O_WRONLY, 0)
            case .file(let path, let append):
                posix_spawn_file_actions_addopen(&actions, fd, path, reading ? O_RDONLY : (O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)), 0o644)
            case .descriptor(let source):
                posix_spawn_file_actions_adddup2(&actions, source, fd)
            }
        }
        route(stdin, to: 0, reading: true)
        route(stdout, to: 1, reading: false)
        if let stderr { route(stderr, to: 2, reading: false) } else { posix_spawn_file_actions_adddup2(&actions, 1, 2) }
        if let closeFrom = addCloseFrom { _ = closeFrom(&actions, 3) }

        // A child starts with no signal blocked and every signal at its default action: the
        // spawning thread may have SIGTERM blocked or ignored (signal handling of the code
        // under test), and both would otherwise pass through exec.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let env = (environment ?? inheritedEnvironment()).map { "\($0.key)=\($0.value)" }
        let cArgs: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = executable.contains("/")
            ? posix_spawn(&pid, executable, &actions, &attributes, cArgs, cEnv)
            : posix_spawnp(&pid, executable, &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw Failure(description: "cannot start \(executable): \(String(cString: strerror(rc)))") }
        Reaper.shared.adopt(pid)
        return pid
    }

    /// The exit status if `pid` has ended (and is now reaped), nil while it runs: its exit
    /// code, or 128 + the signal that ended it, as a shell reports it. Never blocks.
    public static func poll(_ pid: pid_t) -> Int32? { Reaper.shared.poll(pid) }

    /// Suspends (never blocking a thread) until `pid` ends; its status as `poll` gives it.
    public static func exit(of pid: pid_t) async -> Int32 {
        var pause: Duration = .milliseconds(2)
        while true {
            if let status = poll(pid) { return status }
            // Short pauses first (most children here end quickly once signalled), then 50 ms.
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    /// Waits up to `timeout` for `pid` to end; past it, SIGKILLs and reaps it and returns nil.
    public static func wait(_ pid: pid_t, timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        var pause: Duration = .milliseconds(2)
        while ContinuousClock.now < deadline {
            if let status = poll(pid) { return status }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
        if let status = poll(pid) { return status }
        kill(pid, SIGKILL)
        _ = await exit(of: pid)
        return nil
    }

    /// SIGKILL now; the reaper thread collects the exit in the background. For `deinit`s
    /// and synchronous `defer`s, which must neither block nor leave a zombie behind.
    public static func killInBackground(_ pid: pid_t) {
        guard pid > 0, poll(pid) == nil else { return }
        kill(pid, SIGKILL)
        Reaper.shared.reapInBackground(pid)
    }

    /// Our environment as children should see it: without libpq's `PG*` variables, which a
    /// test running in parallel may have set for itself (PostgresConnectionTests) and which
    /// would otherwise redirect another test's daemon.
    public static func inheritedEnvironment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
    }

    static func decode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc
    /// module does not import. Without it children would still be reaped correctly, only
    /// holding stray descriptors of ours.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil /* RTLD_DEFAULT */, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
}

/// The one place that calls `waitpid` on the tests' children, always with `WNOHANG`.
///
/// Exits are recorded, so a child can be asked about after it was reaped, and PIDs are
/// reaped only while they are known to be ours (adopted at spawn, dropped once reaped): a
/// PID the kernel hands to a newer child of ours is never collected by an older question.
/// Children given up by synchronous code (`killInBackground`) are collected by a dedicated
/// thread, so no cooperative-pool thread ever waits for a process.
final class Reaper: @unchecked Sendable {
    static let shared = Reaper()

    private let condition = NSCondition()
    private var running: Set<pid_t> = []
    private var exited: [pid_t: Int32] = [:]
    private var abandoned: Set<pid_t> = []
    private var threadStarted = false

    func adopt(_ pid: pid_t) {
        condition.lock(); defer { condition.unlock() }
        running.insert(pid)
        exited[pid] = nil
    }

    func poll(_ pid: pid_t) -> Int32? {
        condition.lock(); defer { condition.unlock() }
        return pollLocked(pid)
    }

    private func pollLocked(_ pid: pid_t) -> Int32? {
        if let status = exited[pid] { return status }
        guard running.contains(pid) else { return -1 }   // not ours
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == 0 { return nil }
            if r < 0 && errno == EINTR { continue }
            let code = r == pid ? Spawn.decode(status) : -1   // ECHILD: reaped by someone else
            running.remove(pid)
            abandoned.remove(pid)
            exited[pid] = code
            return code
        }
    }

    func reapInBackground(_ pid: pid_t) {
        condition.lock()
        if pollLocked(pid) == nil { abandoned.insert(pid) }
        if !threadStarted {
            threadStarted = true
            let thread = Thread { [self] in collectAbandoned() }
            thread.name = "ssmd-test-reaper"
            thread.start()
        }
        condition.signal()
        condition.unlock()
    }

    /// The reaper thread: every 20 ms while some killed child has not been collected yet.
    private func collectAbandoned() {
        condition.lock()
        while true {
            while abandoned.isEmpty { condition.wait() }
            for pid in abandoned { _ = pollLocked(pid) }
            if !abandoned.isEmpty { _ = condition.wait(until: Date().addingTimeInterval(0.02)) }
        }
    }
}
