import ArgumentParser
import Foundation
import KalshiSimulator
import Logging

/// Simulator of the Kalshi Trade API v2 market-data endpoints on loopback.
@main
struct KalshiSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kalshi-sim",
        abstract: "Simulated Kalshi Trade API v2 (market data) for tests and local runs.")

    @Option(help: "Address to bind (loopback only).") var host = "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free port.") var port = 8089
    @Option(help: "Universe seed.") var seed: UInt64 = 42
    @Option(help: "Universe size; 1.0 is the real exchange (≈10,000 series, ≈150,000 markets).") var scale = 0.05
    @Option(help: "Simulated start time: ISO 8601 or unix seconds (default: now).") var startTime: String?
    @Option(help: "Simulated seconds per wall-clock second.") var clockSpeed = 1.0

    func validate() throws {
        guard ["127.0.0.1", "localhost", "::1"].contains(host) else {
            throw ValidationError("--host must be a loopback address")
        }
        guard scale > 0, scale <= 5 else { throw ValidationError("--scale must be in (0, 5]") }
        guard clockSpeed >= 0 else { throw ValidationError("--clock-speed must be >= 0") }
        if let s = startTime, SimTime.parse(s) == nil { throw ValidationError("--start-time: not ISO 8601 or unix seconds") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "kalshi-sim")
        var config = SimConfiguration()
        config.host = host
        config.port = port
        config.seed = seed
        config.scale = scale
        config.startTime = startTime.flatMap(SimTime.parse)
        config.clockSpeed = clockSpeed
        let server = SimServer(configuration: config)
        logger.info("universe generated", metadata: [
            "series": "\(server.universe.series.count)", "events": "\(server.universe.events.count)",
            "markets": "\(server.universe.markets.count)",
            "generate_s": "\(String(format: "%.2f", server.generateSeconds))",
        ])
        let host = self.host
        try await server.runUntilSignalled(logger: logger) { port in
            // Unbuffered: tests read this line from a pipe while the process keeps running.
            let line = "kalshi-sim listening on http://\(host == "localhost" ? "127.0.0.1" : host):\(port)\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
    }
}

