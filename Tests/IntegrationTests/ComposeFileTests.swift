import Foundation
import Testing
import TestSupport

/// compose.yaml is valid for docker-compose (no engine needed) and has the services,
/// profile, replicas and health-gated dependencies operations rely on.
@Suite struct ComposeFileTests {
    func compose(_ arguments: [String]) async throws -> (Int32, String) {
        try await runTool("docker-compose", ["-f", BuiltProducts.packageRoot.appendingPathComponent("compose.yaml").path] + arguments)
    }

    @Test func composeFileIsValid() async throws {
        let (status, config) = try await compose(["config"])
        #expect(status == 0, "\(config)")
        let (_, services) = try await compose(["--profile", "sim", "config", "--services"])
        #expect(Set(services.split(separator: "\n").map(String.init)) ==
                ["nats", "postgres", "db-writer", "series-fetcher", "market-fetcher-sports", "market-fetcher-rest", "data-api", "lifecycle-listener", "kalshi-sim", "prometheus"])
        // docker-compose 1.29 lists profiled services too; the profile must be declared.
        #expect(config.contains("profiles:") && config.contains("- sim"), "the simulator is behind the sim profile")
        #expect(config.contains("replicas: 2"))
        #expect(config.contains("condition: service_healthy"))
        #expect(config.contains("ssmd_ro"), "data-api connects with the read-only role")
        // Docker waits longer than a daemon's own graceful drain (--shutdown-timeout, 20 s)
        // before it kills; the obsolete top-level version key is gone.
        let graced = config.components(separatedBy: "stop_grace_period: 30s").count - 1
        #expect(graced >= 5, "stop_grace_period on \(graced) services")
        let raw = try String(contentsOf: BuiltProducts.packageRoot.appendingPathComponent("compose.yaml"), encoding: .utf8)
        #expect(!raw.split(separator: "\n").contains { $0.hasPrefix("version:") })
    }

    /// The override scripts/compose-test runs the real stack with (docker-compose 1.29 rules:
    /// no top-level name, include, depends_on.required): every service on the host network,
    /// every address loopback, the stand-in images.
    @Test func loopbackOverrideKeepsEverythingOnLoopback() async throws {
        let override = BuiltProducts.packageRoot.appendingPathComponent("deploy/compose.loopback.yaml").path
        let (status, config) = try await compose(["-f", override, "--profile", "sim", "config"])
        #expect(status == 0, "\(config)")
        let services = config.components(separatedBy: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") && $0.hasSuffix(":") }
        let onHost = config.components(separatedBy: "\n").filter { $0 == "    network_mode: host" }
        #expect(services.count == 10 && onHost.count == services.count, "every service on the host network: \(services)")
        #expect(!config.contains("0.0.0.0"), "nothing listens beyond loopback")
        for image in ["ssmd-compose/ssmd:local", "ssmd-compose/nats:local", "ssmd-compose/postgres:local"] {
            #expect(config.contains("image: \(image)"))
        }
        #expect(config.contains("SSMD_DATABASE_URL: postgres://ssmd_ro:"), "data-api keeps the read-only role")
    }
}
