import ArgumentParser
import BuildInfo
import Foundation
import KalshiSimulator
import Logging

/// Simulator of the Kalshi Trade API v2 market-data endpoints on loopback.
@main
struct KalshiSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kalshi-sim",
        abstract: "Simulated Kalshi Trade API v2 (market data) for tests and local runs.",
        version: BuildInfo.versionLine(program: "kalshi-sim"))

    @Option(help: "Address to bind (loopback only).") var host = "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free port.") var port = 8089
    @Option(help: "Universe seed.") var seed: UInt64 = 42
    @Option(help: "Universe size; 1.0 is the real exchange (≈10,000 series, ≈150,000 markets).") var scale = 0.05
    @Option(help: "Simulated start time: ISO 8601 or unix seconds (default: now).") var startTime: String?
    @Option(help: "Simulated seconds per wall-clock second.") var clockSpeed = 1.0

    @Option(help: "Rate limiting: on|off.") var rateLimit = "on"
    @Option(name: .customLong("rate-tokens-per-s"), help: "Bucket refill for signed requests (tokens/s; a request costs 10).")
    var rateTokensPerS = 200.0
    @Option(name: .customLong("unsigned-rate-tokens-per-s"), help: "Bucket refill for unsigned requests (tokens/s).")
    var unsignedRateTokensPerS = 200.0
    @Option(name: .customLong("rate-burst-s"), help: "Bucket capacity in seconds of refill.") var rateBurstS = 2.0
    @Option(name: .customLong("latency-fixed-ms"), help: "Fault: fixed latency per request.") var latencyFixedMs = 0.0
    @Option(name: .customLong("latency-jitter-ms"), help: "Fault: extra uniform random latency up to this.") var latencyJitterMs = 0.0
    @Option(name: .customLong("error-5xx-rate"), help: "Fault: probability of a 503.") var error5xxRate = 0.0
    @Option(name: .customLong("connection-reset-rate"), help: "Fault: probability of dropping the connection without a response.")
    var connectionResetRate = 0.0
    @Option(name: .customLong("truncated-body-rate"), help: "Fault: probability of a body cut short.") var truncatedBodyRate = 0.0
    @Option(name: .customLong("malformed-json-rate"), help: "Fault: probability of invalid JSON.") var malformedJsonRate = 0.0
    @Option(name: .customLong("repeat-cursor-rate"), help: "Fault: probability a page returns the request's own cursor.")
    var repeatCursorRate = 0.0
    @Option(name: .customLong("oversized-page-rate"), help: "Fault: probability a page holds more than limit items.")
    var oversizedPageRate = 0.0
    @Option(name: .customLong("fault-seed"), help: "Seed of fault decisions.") var faultSeed: UInt64 = 1
    @Option(name: .customLong("public-key"),
            help: "KEYID=PATH.pem (repeatable): verify request signatures against these RSA public keys.")
    var publicKey: [String] = []
    @Option(name: .customLong("signature-max-skew-s"), help: "Largest accepted KALSHI-ACCESS-TIMESTAMP skew, seconds.")
    var signatureMaxSkewS = 30.0
    @Option(name: .customLong("updated-time"),
            help: "What moves a market's updated_time: metadata-only (as documented) or every-change (every status change too).")
    var updatedTime = "metadata-only"
    @Option(name: .customLong("ws-drop-rate"), help: "WebSocket fault: probability a lifecycle message drops its connection instead.")
    var wsDropRate = 0.0
    @Option(name: .customLong("ws-message-loss-rate"), help: "WebSocket fault: probability a lifecycle message is lost.")
    var wsMessageLossRate = 0.0
    @Option(name: .customLong("ws-ping-interval-s"), help: "Seconds between WebSocket heartbeat Pings (0 = none).")
    var wsPingIntervalS = 10.0

    func validate() throws {
        guard ["127.0.0.1", "localhost", "::1"].contains(host) else {
            throw ValidationError("--host must be a loopback address")
        }
        guard scale > 0, scale <= 5 else { throw ValidationError("--scale must be in (0, 5]") }
        guard clockSpeed >= 0 else { throw ValidationError("--clock-speed must be >= 0") }
        if let s = startTime, SimTime.parse(s) == nil { throw ValidationError("--start-time: not ISO 8601 or unix seconds") }
        guard rateLimit == "on" || rateLimit == "off" else { throw ValidationError("--rate-limit must be on or off") }
        for (name, p) in [("error-5xx-rate", error5xxRate), ("connection-reset-rate", connectionResetRate),
                          ("truncated-body-rate", truncatedBodyRate), ("malformed-json-rate", malformedJsonRate),
                          ("repeat-cursor-rate", repeatCursorRate), ("oversized-page-rate", oversizedPageRate)] where !(0...1).contains(p) {
            throw ValidationError("--\(name) must be in [0, 1]")
        }
        guard signatureMaxSkewS >= 0 else { throw ValidationError("--signature-max-skew-s must be >= 0") }
        guard UpdatedTimeMode(rawValue: updatedTime) != nil else {
            throw ValidationError("--updated-time must be metadata-only or every-change")
        }
        for (name, p) in [("ws-drop-rate", wsDropRate), ("ws-message-loss-rate", wsMessageLossRate)] where !(0...1).contains(p) {
            throw ValidationError("--\(name) must be in [0, 1]")
        }
        guard wsPingIntervalS >= 0 else { throw ValidationError("--ws-ping-interval-s must be >= 0") }
        for spec in publicKey {
            do { _ = try RequestAuthenticator.loadKey(spec) } catch { throw ValidationError("\(error)") }
        }
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
        config.settings.rateLimit = rateLimit == "on"
        config.settings.rateTokensPerSecond = rateTokensPerS
        config.settings.unsignedRateTokensPerSecond = unsignedRateTokensPerS
        config.settings.rateBurstSeconds = rateBurstS
        config.settings.latencyFixedMs = latencyFixedMs
        config.settings.latencyJitterMs = latencyJitterMs
        config.settings.error5xxRate = error5xxRate
        config.settings.connectionResetRate = connectionResetRate
        config.settings.truncatedBodyRate = truncatedBodyRate
        config.settings.malformedJSONRate = malformedJsonRate
        config.settings.repeatCursorRate = repeatCursorRate
        config.settings.oversizedPageRate = oversizedPageRate
        config.settings.faultSeed = faultSeed
        config.settings.updatedTimeMode = UpdatedTimeMode(rawValue: updatedTime) ?? .metadataOnly
        config.settings.wsDropRate = wsDropRate
        config.settings.wsMessageLossRate = wsMessageLossRate
        config.settings.wsPingIntervalSeconds = wsPingIntervalS
        config.authenticator = try RequestAuthenticator(keySpecs: publicKey, maxSkewSeconds: signatureMaxSkewS)
        let server = SimServer(configuration: config)
        if config.authenticator.verifies {
            logger.info("verifying request signatures", metadata: ["key_ids": "\(config.authenticator.keys.keys.sorted())"])
        }
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

