import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CurlHTTP

/// Debian's real `prometheus` (2.42) on a free loopback port, scraping the given targets every
/// second, with its HTTP API for the test to ask what it stored. Stopped by PID.
public final class PrometheusTestServer: @unchecked Sendable {
    public struct Target: Sendable {
        public var job: String
        /// `host:port` (loopback).
        public var address: String
        public var metricsPath: String
        public init(job: String, address: String, metricsPath: String = "/metrics") {
            self.job = job; self.address = address; self.metricsPath = metricsPath
        }
    }

    public let port: Int
    public let process: ChildProcess
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Starts Prometheus with one job per target; returns once it answers `/-/ready`.
    public init(targets: [Target], directory: URL, scrapeInterval: String = "1s") async throws {
        for t in targets where !(t.address.hasPrefix("127.0.0.1:") || t.address.hasPrefix("localhost:")) {
            throw HarnessError.failed("only loopback targets may be scraped, not \(t.address)")
        }
        var config = "global:\n  scrape_interval: \(scrapeInterval)\n  scrape_timeout: \(scrapeInterval)\n  evaluation_interval: \(scrapeInterval)\nscrape_configs:\n"
        for t in targets {
            config += "  - job_name: \"\(t.job)\"\n    metrics_path: \"\(t.metricsPath)\"\n    static_configs:\n      - targets: [\"\(t.address)\"]\n"
        }
        let configURL = directory.appendingPathComponent("prometheus.yml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        var lastOutput = ""
        // A port picked as free can be taken before Prometheus binds it: try a few.
        for attempt in 1...3 {
            let port = try Self.freePort()
            let data = directory.appendingPathComponent("prometheus-data-\(attempt)")
            let p = try ChildProcess(name: "prometheus-\(attempt)", executable: URL(fileURLWithPath: try Self.executable()),
                                     arguments: ["--config.file=\(configURL.path)", "--storage.tsdb.path=\(data.path)",
                                                 "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"],
                                     logDirectory: directory)
            let ready = await eventually(timeout: .seconds(30), every: .milliseconds(200)) {
                if !p.isRunning { return true }
                return (try? await CurlHTTPClient().get(url: "http://127.0.0.1:\(port)/-/ready"))?.status == 200
            }
            if ready, p.isRunning {
                self.port = port
                self.process = p
                return
            }
            lastOutput = p.output
            await p.stop(grace: .seconds(5))
        }
        throw HarnessError.failed("prometheus did not start:\n\(lastOutput.suffix(2000))")
    }

    static func executable() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") + ["/usr/bin"] {
            let path = "\(dir)/prometheus"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw HarnessError.failed("prometheus is not installed (scripts/setup installs Debian's package)")
    }

    /// A free TCP port on 127.0.0.1, from the kernel.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError.failed("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError.failed("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // MARK: The HTTP API

    /// GET on the API; the `data` of a `status: success` answer.
    public func api(_ path: String) async throws -> Any {
        let r = try await CurlHTTPClient().get(url: url + path)
        guard let o = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else {
            throw HarnessError.failed("GET \(path): \(r.status), not JSON: \(String(decoding: r.body.prefix(300), as: UTF8.self))")
        }
        guard r.status == 200, o["status"] as? String == "success", let data = o["data"] else {
            throw HarnessError.failed("GET \(path): \(r.status) \(o["error"] ?? "")")
        }
        return data
    }

    /// One sample of an instant query: its labels and value.
    public struct Sample: Sendable {
        public var labels: [String: String]
        public var value: Double
    }

    /// An instant query's vector. A value that is not a number fails the query: Prometheus
    /// answers values as strings, and every value must parse.
    public func query(_ promql: String) async throws -> [Sample] {
        let data = try await api("/api/v1/query?query=" + Self.escape(promql))
        guard let d = data as? [String: Any], d["resultType"] as? String == "vector", let result = d["result"] as? [[String: Any]] else {
            throw HarnessError.failed("query \(promql): not a vector: \(data)")
        }
        return try result.map { r in
            guard let labels = r["metric"] as? [String: String], let pair = r["value"] as? [Any], pair.count == 2,
                  let text = pair[1] as? String, let value = Double(text) ?? (text == "+Inf" ? .infinity : text == "-Inf" ? -.infinity : nil) else {
                throw HarnessError.failed("query \(promql): a sample does not parse: \(r)")
            }
            return Sample(labels: labels, value: value)
        }
    }

    /// `/api/v1/metadata`: each metric family's type and help, as scraped.
    public func metadata() async throws -> [String: (type: String, help: String)] {
        guard let data = try await api("/api/v1/metadata") as? [String: [[String: Any]]] else {
            throw HarnessError.failed("metadata: unexpected shape")
        }
        var out: [String: (type: String, help: String)] = [:]
        for (name, entries) in data {
            if let e = entries.first { out[name] = (e["type"] as? String ?? "", e["help"] as? String ?? "") }
        }
        return out
    }

    /// `/api/v1/targets`: each active target's job, health and last scrape error.
    public func targets() async throws -> [(job: String, health: String, lastError: String, lastScrape: String)] {
        guard let data = try await api("/api/v1/targets") as? [String: Any], let active = data["activeTargets"] as? [[String: Any]] else {
            throw HarnessError.failed("targets: unexpected shape")
        }
        return active.map { t in
            ((t["labels"] as? [String: String])?["job"] ?? "", t["health"] as? String ?? "", t["lastError"] as? String ?? "",
             t["lastScrape"] as? String ?? "")
        }
    }

    static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed)!
    }

    public func stop() async { await process.stop(grace: .seconds(10)) }
}

/// docs/metrics.md's table of every metric, as the tests read it.
public struct DocumentedMetric: Sendable, Equatable {
    public var name: String
    public var type: String
    public var labels: [String]
    public var programs: [String]
    public var meaning: String

    /// The rows of the table whose header starts `| Metric | Type | Labels | Exposed by | Meaning |`.
    public static func parse(_ markdown: String) throws -> [DocumentedMetric] {
        let lines = markdown.components(separatedBy: "\n")
        guard let header = lines.firstIndex(where: { $0.hasPrefix("| Metric | Type | Labels | Exposed by | Meaning |") }) else {
            throw HarnessError.failed("docs/metrics.md has no table of metrics")
        }
        var out: [DocumentedMetric] = []
        for line in lines[(header + 2)...] {
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 5, cells[0].hasPrefix("`"), cells[0].hasSuffix("`") else {
                throw HarnessError.failed("docs/metrics.md: malformed row: \(line)")
            }
            func list(_ s: String) -> [String] { s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            out.append(DocumentedMetric(name: String(cells[0].dropFirst().dropLast()), type: cells[1], labels: list(cells[2]),
                                        programs: list(cells[3]), meaning: cells[4]))
        }
        return out
    }

    public static func load() throws -> [DocumentedMetric] {
        try parse(try String(contentsOfFile: testSourceFile("docs/metrics.md"), encoding: .utf8))
    }
}
