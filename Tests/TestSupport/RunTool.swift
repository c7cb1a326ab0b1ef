import Foundation

/// Runs a tool from PATH (python3, chromium, openssl, docker-compose, curl …) to
/// completion; stdout and stderr together. Killed (by PID) when it outlives `timeout`.
public func runTool(_ tool: String, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> (status: Int32, output: String) {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(getpid())-\(UInt32.random(in: 0..<UInt32.max)).log")
    defer { try? FileManager.default.removeItem(at: out) }
    let pid = try Spawn.start(tool, arguments, stdout: .file(out.path, append: false))
    let status = await Spawn.wait(pid, timeout: timeout)
    let output = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
    return (status ?? -9, output)
}
