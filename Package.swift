// swift-tools-version:6.1
import PackageDescription

// The architecture, as the compiler enforces it. Every library lives under Sources/Shared/,
// one folder per module (the folder has the module's name). Arrows point at dependencies:
//
//   pure (no C library, no I/O):
//     SSMDCore ← KalshiModels ← WireContract ← SyncCore
//     SSMDCore ← RateBudget
//     KalshiModels ← SecmasterSchema ← WriterCore (also ← WireContract)
//   one client per C library (the only importer of it; the only place that knows what blocks):
//     NATSClient (CNATS), PostgresClient (CLibPQ), CurlHTTP (CCurl)
//   I/O built on them:
//     KalshiAPI (exchange client: CurlHTTP, RateBudget, KalshiModels)
//     Secmaster (the PostgreSQL store: PostgresClient, SecmasterSchema)
//     Pipeline (the daemons' services: everything above)
//     KalshiLive (the exchange's lifecycle WebSocket: protocol models and the listener's state
//       machine (pure), its socket shell on hummingbird-websocket's client; only
//       lifecycle-listener links it, so the other daemons carry no TLS WebSocket stack)
//     DaemonKit (settings, entry point, ops server, logging, metrics: the Prometheus registry)
//   metrics: libraries emit through swift-metrics (CoreMetrics, an API without a backend); only
//   DaemonKit links swift-prometheus and bootstraps it, once per process.
//   build info: BuildInfo (version line, commit) over CBuildInfo, a C target whose only content
//   is the commit id given at build time as SSMD_BUILD_COMMIT (C defines carry values).
//
// C libraries come from Debian (libpq-dev, libnats-dev, libcurl4-openssl-dev) through
// system-library targets.
let swiftLog = Target.Dependency.product(name: "Logging", package: "swift-log")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let coreMetrics = Target.Dependency.product(name: "CoreMetrics", package: "swift-metrics")

/// The commit the binaries are built from, when the build is told (scripts and the Dockerfile
/// set SSMD_BUILD_COMMIT); anything but 7–40 hex digits is ignored, so the build never depends
/// on git and nothing odd reaches a C string literal.
let buildCommit: String = {
    let raw = (Context.environment["SSMD_BUILD_COMMIT"] ?? "").lowercased()
    let hex = raw.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    return (7...40).contains(raw.count) && hex ? raw : ""
}()

func library(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .target(name: name, dependencies: dependencies, path: "Sources/Shared/\(name)")
}

/// The pure modules: unit tests of them link no C library.
let pureModules: [Target.Dependency] = ["SSMDCore", "KalshiModels", "WireContract", "RateBudget", "SyncCore", "SecmasterSchema", "WriterCore"]
/// Everything a daemon links.
let allModules: [Target.Dependency] = pureModules + ["NATSClient", "PostgresClient", "CurlHTTP", "KalshiAPI", "Secmaster", "Pipeline", "DaemonKit", "BuildInfo"]

let package = Package(
    name: "ssmd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "series-fetcher", targets: ["series-fetcher"]),
        .executable(name: "market-fetcher", targets: ["market-fetcher"]),
        .executable(name: "db-writer", targets: ["db-writer"]),
        .executable(name: "kalshi-sim", targets: ["kalshi-sim"]),
        .executable(name: "ssmd", targets: ["ssmd"]),
        .executable(name: "data-api", targets: ["data-api"]),
        .executable(name: "lifecycle-listener", targets: ["lifecycle-listener"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // The simulator's lifecycle WebSocket (server) and its tests (client).
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        // RSA-PSS request signing (fetchers) and its verification (simulator).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // Schedule files (YAML).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // Model Context Protocol tools for agents (`ssmd mcp`).
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        // Metrics: the API libraries emit through, and the Prometheus backend the daemons expose.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CNATS", path: "Sources/CNATS", pkgConfig: "libnats",
                       providers: [.apt(["libnats-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),

        // The build's commit id (or none), as a C string.
        .target(name: "CBuildInfo", path: "Sources/CBuildInfo",
                cSettings: [.define("SSMD_BUILD_COMMIT", to: "\"\(buildCommit)\"")]),

        // Pure: time, fixed point, JSON scanning, redaction, retry policy, hashing.
        library("SSMDCore", []),
        // The exchange's objects and queries, decoded tolerantly.
        library("KalshiModels", ["SSMDCore"]),
        // Subjects, stream names and payloads: the contract between daemons and connectors.
        library("WireContract", ["SSMDCore", "KalshiModels"]),
        // GCRA math and the budgets that spend from it (storage behind a protocol).
        library("RateBudget", ["SSMDCore", swiftLog, coreMetrics]),
        // Tracking rule, routing, the incremental-sync planner.
        library("SyncCore", ["SSMDCore", "KalshiModels", "WireContract"]),
        // The secmaster's tables and rows.
        library("SecmasterSchema", ["SSMDCore", "KalshiModels"]),
        // The writer's decoding, coalescing and figures.
        library("WriterCore", ["SSMDCore", "KalshiModels", "WireContract", "SecmasterSchema", swiftLog]),

        // One client per C library.
        library("NATSClient", ["CNATS", "SSMDCore", swiftLog, lifecycle]),
        library("PostgresClient", ["CLibPQ", "SSMDCore"]),
        library("CurlHTTP", ["CCurl", "SSMDCore"]),

        // The exchange client: budget, signing, retries, pagination.
        library("KalshiAPI", [
            "SSMDCore", "KalshiModels", "CurlHTTP", "RateBudget", swiftLog, coreMetrics,
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        // The PostgreSQL security master: migrations (migrations/*.sql, compiled in by the
        // EmbedMigrations plugin), upserts, queries.
        .target(name: "Secmaster", dependencies: ["SSMDCore", "KalshiModels", "SecmasterSchema", "PostgresClient", swiftLog,
                                                  .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/Shared/Secmaster", plugins: ["EmbedMigrations"]),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["migration-embedder"]),
        .executableTarget(name: "migration-embedder"),
        // The daemons' services: series and market syncers, the work pool, the batch writer.
        library("Pipeline", [
            "SSMDCore", "KalshiModels", "WireContract", "RateBudget", "SyncCore", "SecmasterSchema", "WriterCore",
            "NATSClient", "PostgresClient", "KalshiAPI", "Secmaster", swiftLog, lifecycle, coreMetrics,
        ]),
        // The exchange's lifecycle WebSocket: commands and messages, the listener's state
        // machine, the signed socket (hummingbird-websocket's client, swift-nio-ssl for wss).
        library("KalshiLive", [
            "SSMDCore", "WireContract", "KalshiAPI", "CurlHTTP", swiftLog, lifecycle,
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        ]),
        // `<program> <version> (<commit>)`, for --version and ssmd_build_info.
        library("BuildInfo", ["SSMDCore", "CBuildInfo"]),
        // Settings, the daemon entry point, the ops server, logging and metrics.
        library("DaemonKit", [
            "SSMDCore", "KalshiModels", "WireContract", "RateBudget", "SyncCore", "NATSClient", "PostgresClient",
            "KalshiAPI", "Secmaster", "Pipeline", "BuildInfo", swiftLog, lifecycle, argumentParser, hummingbird,
            .product(name: "Yams", package: "Yams"), coreMetrics,
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        .target(
            name: "KalshiSimulator",
            dependencies: [
                hummingbird, swiftLog,
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .executableTarget(name: "series-fetcher", dependencies: allModules),
        .executableTarget(name: "market-fetcher", dependencies: allModules),
        .executableTarget(name: "db-writer", dependencies: allModules),
        // The plan's command line: series/secmaster sync, series list, migrate.
        .executableTarget(name: "ssmd", dependencies: allModules + [.product(name: "MCP", package: "swift-sdk")]),
        // Read-only HTTP API and admin dashboard over the security master.
        .executableTarget(name: "data-api", dependencies: allModules + [hummingbird, coreMetrics]),
        // Benchmark driver for scripts/bench-writer (a product, not a test).
        .executableTarget(name: "bench-writer", dependencies: allModules),
        // The lifecycle WebSocket republished to NATS (ssmd.lifecycle.…).
        .executableTarget(name: "lifecycle-listener", dependencies: allModules + ["KalshiLive", coreMetrics]),
        .executableTarget(name: "kalshi-sim", dependencies: ["KalshiSimulator", "BuildInfo", argumentParser, hummingbird]),
        // Starts real nats-server / PostgreSQL processes for tests (no mocks).
        .target(name: "TestSupport", dependencies: allModules, path: "Tests/TestSupport"),
        // Pure helpers for tests: hand-written writer payloads, the `.ownThread` trait.
        .target(name: "PureTestSupport", dependencies: ["SSMDCore", "KalshiModels", "WireContract"], path: "Tests/PureTestSupport"),
        // Tests of the pure modules alone: no process, no C library, run in parallel.
        .testTarget(name: "PureTests", dependencies: pureModules + ["PureTestSupport", swiftLog]),
        .testTarget(name: "SharedTests", dependencies: allModules + ["PureTestSupport"]),
        .testTarget(name: "MessagingTests", dependencies: allModules + ["TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: allModules + ["TestSupport"]),
        .testTarget(name: "WriterTests", dependencies: allModules + ["TestSupport", "PureTestSupport"]),
        .testTarget(name: "DataAPITests", dependencies: allModules + ["TestSupport"]),
        .testTarget(
            name: "KalshiSimulatorTests",
            dependencies: ["KalshiSimulator", "PureTestSupport", .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")]
        ),
        // The lifecycle WebSocket's protocol decoding, state machine and outbox (no process).
        .testTarget(name: "KalshiLiveTests", dependencies: ["KalshiLive", "SSMDCore", "WireContract"]),
        .testTarget(name: "IntegrationTests", dependencies: allModules + ["TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
