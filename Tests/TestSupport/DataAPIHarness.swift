import Foundation
import CurlHTTP

/// Helpers for tests of the data API and the connectors: fill the security master with one
/// real pipeline cycle, start `data-api`, and GET from it.
extension PipelineHarness {
    /// db-writer + market-fetcher, one `series-fetcher --once` cycle, then waits until
    /// everything is committed. Throws with the logs when the pipeline does not drain.
    public func fillSecmaster(timeout: Duration = .seconds(180)) async throws {
        try start("db-writer", ["--batch-max-age", "100ms"])
        try start("market-fetcher")
        try await runCycle(timeout: timeout)
    }

    /// One more series cycle (the daemons already running), then waits until drained.
    public func runCycle(timeout: Duration = .seconds(180)) async throws {
        let cycle = try await run("series-fetcher", ["--once"], timeout: timeout)
        guard cycle.status == 0 else { throw HarnessError.failed("series-fetcher --once: \(cycle.status)\n\(cycle.output.suffix(2000))") }
        guard try await waitUntilDrained(timeout: timeout) else { throw HarnessError.failed("pipeline did not drain:\n\(logs())") }
    }

    /// Starts `data-api` on a port the kernel picks and returns it with its base URL.
    public func startDataAPI(_ arguments: [String] = [], environment extra: [String: String] = [:]) async throws -> (process: ChildProcess, url: String) {
        let p = try start("data-api", ["--http-port", "0"] + arguments, environment: extra)
        let marker = "data-api listening on "
        guard await eventually(timeout: .seconds(30), { p.output.contains(marker) || !p.isRunning }),
              let line = p.output.split(separator: "\n").first(where: { $0.hasPrefix(marker) }) else {
            throw HarnessError.failed("data-api did not start:\n\(p.output.suffix(2000))")
        }
        return (p, String(line.dropFirst(marker.count)).trimmingCharacters(in: .whitespaces))
    }
}

/// A GET answered by data-api, decoded when it is JSON.
public struct APIReply: Sendable {
    public var status: Int
    public var body: String
    public var contentType: String?
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }
}

public enum APIClient {
    public static func get(_ url: String) async throws -> APIReply {
        let r = try await TestHTTP.client.get(url: url)
        return APIReply(status: r.status, body: String(decoding: r.body, as: UTF8.self), contentType: r.contentType)
    }

    /// A query-string value: everything but unreserved characters percent-encoded.
    public static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed)!
    }
}

/// Where a test's files live in the source tree (scripts next to the tests).
public func testSourceFile(_ relativePath: String) -> String {
    BuiltProducts.packageRoot.appendingPathComponent(relativePath).path
}
