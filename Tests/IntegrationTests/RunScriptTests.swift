import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `scripts/run` as a supervisor runs it: no terminal, stopped with SIGTERM. It must stop
/// every process it started, print its summary without a pager, and exit 0; run again it says
/// it continues from the earlier data, and `--fresh` starts over. (The tests' debug binaries
/// stand in for the release build: SSMD_RUN_BIN.)
@Suite(.tags(.processes), .processSlot) struct RunScriptTests {
    @Test func sigtermStopsEverythingAndExitsZero() async throws {
        let dir = try TestDirectory("run-script")
        defer { dir.cleanup() }
        // Under /tmp: as root, the script's PostgreSQL runs as `postgres`, which must reach it.
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("ssmd-run-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        var env = ["SSMD_RUN_BIN": BuiltProducts.directory.path, "SSMD_DATA_DIR": data, "SSMD_RUN_REPLICAS": "1",
                   "SSMD_SIM_SCALE": "0.01", "SSMD_INTERVAL": "300s", "TERM": "dumb"]
        for name in ["SSMD_RUN_NATS_PORT", "SSMD_RUN_NATS_MONITOR_PORT", "SSMD_RUN_PG_PORT", "SSMD_RUN_SIM_PORT", "SSMD_RUN_API_PORT"] {
            env[name] = String(try NATSTestServer.freePort())
        }
        let script = BuiltProducts.packageRoot.appendingPathComponent("scripts/run")

        func runUntilStarted(_ arguments: [String], log: String) async throws -> ChildProcess {
            let run = try ChildProcess(name: log, executable: URL(fileURLWithPath: "/bin/bash"), arguments: [script.path] + arguments,
                                       environment: env, logDirectory: dir.url)
            let started = await eventually(timeout: .seconds(120), every: .milliseconds(250)) {
                run.output.contains("series in db:") || !run.isRunning
            }
            #expect(started && run.isRunning, "scripts/run did not start:\n\(run.report())")
            return run
        }

        let first = try await runUntilStarted(["--fresh"], log: "run-1")
        first.signal(SIGTERM)
        let exited = await first.waitForExit(timeout: .seconds(60))
        #expect(exited, "scripts/run kept running after SIGTERM:\n\(first.report())")
        if !exited { _ = await first.kill() }
        #expect(first.exitCode == 0, "exit \(String(describing: first.exitCode)):\n\(first.report())")
        let output = first.output
        #expect(output.contains("summary after") && output.contains("stopped; logs in"), "\(output)")
        #expect(!output.contains("(END)"), "a pager was opened")
        // Nothing it started is left: no process has the data directory on its command line.
        let leftovers = try await runTool("pgrep", ["-f", data], timeout: .seconds(10))
        #expect(leftovers.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "left running: \(leftovers.output)")

        // Started again, it says it continues from the data of the first run.
        let second = try await runUntilStarted([], log: "run-2")
        #expect(second.output.contains("continuing from \(data)"), "\(second.output)")
        second.signal(SIGINT)
        #expect(await second.waitForExit(timeout: .seconds(60)), "\(second.report())")
        #expect(second.exitCode == 0, "\(second.report())")
    }
}
