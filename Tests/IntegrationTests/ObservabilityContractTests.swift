import Foundation
import Testing
import TestSupport
import DaemonKit
import SSMDCore

/// The promises around metrics that need no running pipeline: docs/metrics.md lists exactly
/// what the code declares, every program answers --version, and compose's monitoring profile
/// is a valid Prometheus scraping every ssmd service.
@Suite struct ObservabilityContractTests {
    @Test func docsListExactlyTheDeclaredMetrics() throws {
        let documented = try DocumentedMetric.load()
        let declared = MetricCatalog.all
        #expect(Set(declared.map(\.name)).count == declared.count, "a metric is declared twice")
        #expect(documented.map(\.name).sorted() == declared.map(\.name).sorted(),
                "only in the docs: \(Set(documented.map(\.name)).subtracting(declared.map(\.name)).sorted()); only in the code: \(Set(declared.map(\.name)).subtracting(documented.map(\.name)).sorted())")
        for d in declared {
            guard let m = documented.first(where: { $0.name == d.name }) else { continue }
            #expect(m.type == d.kind.rawValue, "\(d.name): docs say \(m.type), code \(d.kind.rawValue)")
            #expect(m.labels == d.labels, "\(d.name): docs say labels \(m.labels), code \(d.labels)")
            #expect(!m.meaning.isEmpty && !d.help.isEmpty, "\(d.name) has no meaning")
            #expect(!m.programs.isEmpty, "\(d.name): which program exposes it?")
            // Prometheus' naming rules: what the exposition and promtool expect.
            #expect(d.name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } && d.name.first!.isLetter, "\(d.name)")
            #expect((d.kind == .counter) == d.name.hasSuffix("_total"), "\(d.name): only counters end in _total")
        }
    }

    @Test(arguments: ["series-fetcher", "market-fetcher", "db-writer", "data-api", "ssmd", "kalshi-sim", "lifecycle-listener"])
    func versionFlag(program: String) async throws {
        let r = try await runTool(BuiltProducts.executable(program).path, ["--version"], timeout: .seconds(30))
        #expect(r.status == 0, "\(program) --version: \(r.output)")
        let line = r.output.trimmingCharacters(in: .newlines)
        let prefix = "\(program) \(SSMD.version)"
        #expect(line == prefix || (line.hasPrefix(prefix + " (") && line.hasSuffix(")")), "\(program) --version printed \(line)")
        if line != prefix {
            let commit = line.dropFirst(prefix.count + 2).dropLast()
            #expect((7...40).contains(commit.count) && commit.allSatisfy(\.isHexDigit), "commit \(commit)")
        }
        #expect(!r.output.contains("\n\n") && r.output.split(separator: "\n").count == 1, "one line: \(r.output)")
    }

    func compose(_ arguments: [String]) async throws -> (Int32, String) {
        try await runTool("docker-compose", ["-f", testSourceFile("compose.yaml")] + arguments)
    }

    @Test func monitoringProfileScrapesEveryService() async throws {
        let (status, config) = try await compose(["--profile", "monitoring", "config"])
        #expect(status == 0, "\(config)")
        // The service's block: its lines up to the next service (or top-level key).
        let lines = config.components(separatedBy: "\n")
        let start = lines.firstIndex(of: "  prometheus:").map { $0 + 1 } ?? lines.endIndex
        let block = lines[start...].prefix { $0.hasPrefix("   ") || $0.isEmpty }.joined(separator: "\n")
        #expect(block.contains("- monitoring"), "prometheus sits behind the monitoring profile:\n\(block)")
        #expect(block.contains("deploy/prometheus.yml:/etc/prometheus/prometheus.yml"), "it runs deploy/prometheus.yml")
        #expect(block.contains("127.0.0.1:9090:9090"), "published on loopback only")

        for file in ["deploy/prometheus.yml", "deploy/prometheus.loopback.yml"] {
            let check = try await runTool("promtool", ["check", "config", testSourceFile(file)])
            #expect(check.status == 0, "\(file):\n\(check.output)")
        }
        // Every ssmd service (those running an ssmd program) is a scrape target of a job
        // named after its program, on the port it serves /metrics on.
        let (_, services) = try await compose(["--profile", "sim", "--profile", "monitoring", "config", "--services"])
        let ssmd = Set(services.split(separator: "\n").map(String.init)).subtracting(["nats", "postgres", "kalshi-sim", "prometheus"])
        #expect(ssmd == ["db-writer", "series-fetcher", "market-fetcher-sports", "market-fetcher-rest", "data-api", "lifecycle-listener"])
        let prometheus = try String(contentsOfFile: testSourceFile("deploy/prometheus.yml"), encoding: .utf8)
        for service in ssmd {
            let job = service.hasPrefix("market-fetcher") ? "market-fetcher" : service
            let port = service == "data-api" ? 8080 : 9100
            let section = prometheus.components(separatedBy: "- job_name: \(job)\n").dropFirst().first?.components(separatedBy: "- job_name:").first ?? ""
            #expect(section.contains(service) && section.contains("port: \(port)"), "\(service) is not scraped as job \(job) on \(port)")
        }
    }
}
