import Foundation
import Testing
import TestSupport

/// The harness's own process handling: every other test relies on it to see a daemon's
/// exit. (Foundation's `Process` once lost a SIGKILLed writer for good in CI.)
@Suite(.tags(.processes)) struct SpawnTests {
    /// A child started while we hold an inheritable pipe end does not keep it open: the
    /// read end sees EOF as soon as we close our write end, while the child still runs.
    @Test func childrenDoNotInheritOurDescriptors() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let child = try Spawn.start("sleep", ["30"])
        defer { Spawn.killInBackground(child) }
        close(fds[1])
        var reader = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&reader, 1, 2_000) == 1, "the read end did not reach EOF: the child holds the write end")
        var byte: UInt8 = 0
        #expect(read(fds[0], &byte, 1) == 0)
        #expect(Spawn.poll(child) == nil, "sleep ended early")
    }

    /// A SIGKILLed daemon is seen to have ended, with 128 + 9, even when other children
    /// are started and ended around it.
    @Test func killedChildIsReportedAmongOthers() async throws {
        let dir = try TestDirectory("spawn")
        defer { dir.cleanup() }
        let victim = try ChildProcess(name: "victim", executable: URL(fileURLWithPath: "/bin/sleep"), arguments: ["30"], logDirectory: dir.url)
        let others = try (0..<8).map { i in
            try ChildProcess(name: "other-\(i)", executable: URL(fileURLWithPath: "/bin/sleep"), arguments: ["30"], logDirectory: dir.url)
        }
        #expect(try await runTool("true", []).status == 0)
        victim.signal(SIGKILL)
        #expect(await victim.waitForExit(timeout: .seconds(5)))
        #expect(victim.exitCode == 128 + SIGKILL)
        #expect(others.allSatisfy { $0.isRunning })
        var stopped: [Int32] = []
        for other in others { stopped.append(await other.stop(grace: .seconds(5))) }
        #expect(stopped == Array(repeating: 128 + SIGTERM, count: 8))
        #expect(try await runTool("sh", ["-c", "exit 3"]).status == 3)
    }
}
