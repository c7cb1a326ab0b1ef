import Foundation

/// Runs a tool from PATH (python3, chromium, openssl, docker-compose …) to completion;
/// stdout and stderr together. Killed (by PID) when it outlives `timeout`.
public func runTool(_ tool: String, _ arguments: [String], timeout: Duration = .seconds(120)) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [tool] + arguments
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(getpid())-\(UInt32.random(in: 0..<UInt32.max)).log")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    let handle = try FileHandle(forWritingTo: out)
    defer { try? handle.close(); try? FileManager.default.removeItem(at: out) }
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let finished = eventually(timeout: timeout, every: .milliseconds(100)) { !p.isRunning }
    if !finished {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }
    let output = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
    return (finished ? p.terminationStatus : -9, output)
}
