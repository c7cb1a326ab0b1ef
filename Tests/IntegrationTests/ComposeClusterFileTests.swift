import Foundation
import Testing
import TestSupport

/// deploy/compose.cluster.yaml is valid for docker-compose (no engine needed) and is the
/// cluster docs/operations-scale.md describes: three NATS nodes routed to each other with
/// JetStream, streams at three replicas everywhere, two series-fetchers with their own
/// instance ids, the writer on a URL that finds the primary, data-api reading with the
/// read-only role from a standby when there is one.
@Suite struct ComposeClusterFileTests {
    static var file: String { BuiltProducts.packageRoot.appendingPathComponent("deploy/compose.cluster.yaml").path }

    func compose(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        if environment.isEmpty { return try await runTool("docker-compose", ["-f", Self.file] + arguments) }
        return try await runTool("env", environment.map { "\($0.key)=\($0.value)" } + ["docker-compose", "-f", Self.file] + arguments)
    }

    /// The resolved configuration's services, each with its lines (two-space service keys).
    static func services(_ config: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        var current: String?
        var inServices = false
        for line in config.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }  // blank lines inside a block scalar
            if !line.hasPrefix(" ") { inServices = line == "services:"; current = nil; continue }
            guard inServices else { continue }
            if line.hasPrefix("  ") && !line.hasPrefix("   ") && line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
                out[current!] = []
            } else if let current {
                out[current]!.append(line.trimmingCharacters(in: .whitespaces))
            }
        }
        return out
    }

    @Test func clusterComposeFileIsValidAndClustered() async throws {
        let (status, config) = try await compose(["--profile", "sim", "config"])
        try #require(status == 0, "\(config)")
        let services = Self.services(config)
        #expect(Set(services.keys) == ["nats-1", "nats-2", "nats-3", "postgres", "db-writer", "series-fetcher-a", "series-fetcher-b",
                                       "market-fetcher-sports", "market-fetcher-rest", "data-api", "kalshi-sim"])
        // Each node: JetStream, its own name, the cluster, routes to exactly the two others.
        for n in 1...3 {
            let lines = services["nats-\(n)"] ?? []
            let args = lines.filter { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) }
            #expect(args.contains("-js") && args.contains("--cluster_name") && args.contains("ssmd"), "nats-\(n): \(args)")
            #expect(args.firstIndex(of: "--name").map { args[$0 + 1] } == "nats-\(n)", "nats-\(n) names itself")
            let routes = args.firstIndex(of: "--routes").map { args[$0 + 1].split(separator: ",").map(String.init) } ?? []
            #expect(Set(routes) == Set((1...3).filter { $0 != n }.map { "nats://nats-\($0):6222" }), "nats-\(n) routes: \(routes)")
            #expect(lines.contains { $0.hasPrefix("- nats-\(n)-data:/data") || $0 == "source: nats-\(n)-data" }, "nats-\(n) keeps its own store")
        }
        // Every ssmd daemon: all three nodes, three replicas, health-gated on all three nodes.
        let daemons = ["db-writer", "series-fetcher-a", "series-fetcher-b", "market-fetcher-sports", "market-fetcher-rest", "data-api"]
        for d in daemons {
            let lines = services[d] ?? []
            #expect(lines.contains("SSMD_NATS_URL: nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"), "\(d)")
            for setting in ["SSMD_STREAM_REPLICAS", "SSMD_COORDINATION_REPLICAS"] {
                #expect(lines.contains("\(setting): '3'") || lines.contains("\(setting): \"3\""), "\(d) \(setting): \(lines)")
            }
            #expect(lines.contains("image: ssmd:latest") && lines.contains("target: runtime"), "\(d) reuses compose.yaml's image")
            #expect(lines.contains("stop_grace_period: 30s"), "\(d)")
        }
        for d in daemons where d != "data-api" {
            #expect(["nats-1:", "nats-2:", "nats-3:"].allSatisfy((services[d] ?? []).contains), "\(d) waits for every node")
        }
        #expect(services["series-fetcher-a"]?.contains("SSMD_INSTANCE_ID: series-fetcher-a") == true)
        #expect(services["series-fetcher-b"]?.contains("SSMD_INSTANCE_ID: series-fetcher-b") == true)
        // The build context is the repository (the file lives in deploy/).
        #expect(config.contains("context: \(BuiltProducts.packageRoot.path)"), "build context")
        #expect(config.contains("\(BuiltProducts.packageRoot.path)/config/schedules.yaml:/etc/ssmd/schedules.yaml:ro")
                || config.contains("source: \(BuiltProducts.packageRoot.path)/config/schedules.yaml"))
        // PostgreSQL: the writer finds the primary; data-api reads as ssmd_ro, from a standby when one answers.
        #expect(services["db-writer"]?.contains("SSMD_DATABASE_URL: postgres://ssmd:ssmd@postgres:5432/ssmd?target_session_attrs=read-write") == true)
        #expect(services["data-api"]?.contains("SSMD_READ_DATABASE_URL: postgres://ssmd_ro:ssmd_ro@postgres:5432/ssmd?target_session_attrs=prefer-standby") == true)
        let raw = try String(contentsOfFile: Self.file, encoding: .utf8)
        #expect(!raw.split(separator: "\n").contains { $0.hasPrefix("version:") })
    }

    /// Pointed at a PostgreSQL pair, both URLs name both hosts.
    @Test func clusterComposeFilePointsAtAPostgresPair() async throws {
        let (status, config) = try await compose(["config"], environment: ["SSMD_PG_HOSTS": "pg-a:5432,pg-b:5432", "POSTGRES_PASSWORD": "pw"])
        try #require(status == 0, "\(config)")
        let services = Self.services(config)
        #expect(services["db-writer"]?.contains("SSMD_DATABASE_URL: postgres://ssmd:pw@pg-a:5432,pg-b:5432/ssmd?target_session_attrs=read-write") == true,
                "\(services["db-writer"] ?? [])")
        #expect(services["data-api"]?.contains { $0.hasPrefix("SSMD_READ_DATABASE_URL: postgres://ssmd_ro:") && $0.contains("@pg-a:5432,pg-b:5432/") } == true)
    }
}
