// swift-tools-version:6.1
import PackageDescription

// C libraries come from Debian (libpq-dev, libnats-dev, libcurl4-openssl-dev) through
// system-library targets; each is imported by exactly one folder of `Shared`.
let package = Package(
    name: "ssmd",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Shared", targets: ["Shared"]),
        .executable(name: "series-fetcher", targets: ["series-fetcher"]),
        .executable(name: "market-fetcher", targets: ["market-fetcher"]),
        .executable(name: "db-writer", targets: ["db-writer"]),
        .executable(name: "kalshi-sim", targets: ["kalshi-sim"]),
        .executable(name: "ssmd", targets: ["ssmd"]),
        .executable(name: "data-api", targets: ["data-api"]),
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
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CNATS", path: "Sources/CNATS", pkgConfig: "libnats",
                       providers: [.apt(["libnats-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "Shared",
            dependencies: [
                "CLibPQ", "CNATS", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                // Each daemon's /metrics, /healthz and /readyz.
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .target(
            name: "KalshiSimulator",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .executableTarget(name: "series-fetcher", dependencies: ["Shared"]),
        .executableTarget(name: "market-fetcher", dependencies: ["Shared"]),
        .executableTarget(name: "db-writer", dependencies: ["Shared"]),
        // The plan's command line: series/secmaster sync, series list, migrate.
        .executableTarget(name: "ssmd", dependencies: ["Shared", .product(name: "MCP", package: "swift-sdk")]),
        // Read-only HTTP API and admin dashboard over the security master.
        .executableTarget(
            name: "data-api",
            dependencies: ["Shared", .product(name: "Hummingbird", package: "hummingbird")]
        ),
        // Benchmark driver for scripts/bench-writer (a product, not a test).
        .executableTarget(name: "bench-writer", dependencies: ["Shared"]),
        .executableTarget(
            name: "kalshi-sim",
            dependencies: [
                "KalshiSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        // Starts real nats-server / PostgreSQL processes for tests (no mocks).
        .target(name: "TestSupport", dependencies: ["Shared"], path: "Tests/TestSupport"),
        .testTarget(name: "SharedTests", dependencies: ["Shared"]),
        .testTarget(name: "MessagingTests", dependencies: ["Shared", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Shared", "TestSupport"]),
        .testTarget(name: "WriterTests", dependencies: ["Shared", "TestSupport"]),
        .testTarget(name: "DataAPITests", dependencies: ["Shared", "TestSupport"]),
        .testTarget(
            name: "KalshiSimulatorTests",
            dependencies: ["KalshiSimulator", .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")]
        ),
        .testTarget(name: "IntegrationTests", dependencies: ["Shared", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
