import ArgumentParser
import BuildInfo
import DaemonKit
import Foundation
import KalshiAPI
import KalshiLive
import Logging
import SSMDCore
import ServiceLifecycle

/// lifecycle-listener: the exchange's lifecycle WebSocket (`market_lifecycle_v2`, which also
/// carries `event_lifecycle`) republished to JetStream as `LifecycleNotice`s on
/// `ssmd.lifecycle.…`, with a `LifecycleGap` on `ssmd.lifecycle.gap` for every window it may
/// have missed. A daemon of its own so the series-fetcher stays free of the TLS WebSocket
/// stack and two replicas can run (the stream drops their duplicates by message id).
struct LifecycleListenerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifecycle-listener",
        abstract: "Republish the exchange's lifecycle WebSocket to ssmd.lifecycle.… on NATS JetStream.",
        version: BuildInfo.versionLine(program: "lifecycle-listener"))

    @OptionGroup var common: CommonOptions
    @OptionGroup var ops: OpsOptions
    @Option(name: .customLong("exchange-url"), help: "Trade API v2 base URL; the WebSocket URL is derived from it (SSMD_EXCHANGE_URL). Default \(ExchangeOptions.kalshiProduction)")
    var exchangeURL: String?
    @Option(name: .customLong("ws-url"), help: "WebSocket URL, overriding the one derived from --exchange-url (SSMD_WS_URL), e.g. wss://api.elections.kalshi.com/trade-api/ws/v2")
    var wsURL: String?
    @Option(name: .customLong("api-key-id"), help: "Kalshi API key id; required: the WebSocket handshake is signed (SSMD_API_KEY_ID)")
    var apiKeyID: String?
    @Option(name: .customLong("api-private-key"), help: "Path of the PEM private key of --api-key-id; required (SSMD_API_PRIVATE_KEY); the key is never logged")
    var apiPrivateKey: String?
    @Option(name: .customLong("ws-ping-interval"), help: "Period of our Ping frames; a connection whose Pong is not back within it is given up (SSMD_WS_PING_INTERVAL). Default 10s")
    var pingInterval: String?
    @Option(name: .customLong("reconnect-max-delay"), help: "Cap of the reconnect backoff (full jitter from 0.5s doubling) (SSMD_RECONNECT_MAX_DELAY). Default 30s")
    var reconnectMaxDelay: String?
    @Option(name: .customLong("buffer-limit"), help: "Notices held while NATS does not take them; past it the oldest are dropped and a gap published (SSMD_BUFFER_LIMIT). Default 100000")
    var bufferLimit: String?
}

@main
enum LifecycleListenerMain {
    static func main() async {
        ProcessMemory.configureMalloc()
        do {
            let cmd = try LifecycleListenerCommand.parse()
            let r = SettingsResolver()
            let common = try cmd.common.resolve(connectionName: "lifecycle-listener")
            let ops = try cmd.ops.resolve(r)
            let exchangeURL = try r.url("exchange-url", cmd.exchangeURL, default: ExchangeOptions.kalshiProduction, schemes: ["http", "https"])
            let url: String
            if let given = r.string("ws-url", cmd.wsURL) {
                url = try r.url("ws-url", given, default: given, schemes: ["ws", "wss"])
            } else {
                guard let derived = LiveEndpoint.webSocketURL(exchangeURL: exchangeURL) else {
                    throw ConfigurationError(setting: "--exchange-url (SSMD_EXCHANGE_URL)", problem: "\(exchangeURL) has no host to derive the WebSocket URL from")
                }
                url = derived
            }
            let keyID = r.string("api-key-id", cmd.apiKeyID), keyPath = r.string("api-private-key", cmd.apiPrivateKey)
            guard let keyID, !keyID.isEmpty, let keyPath, !keyPath.isEmpty else {
                let missing = [keyID?.isEmpty == false ? nil : "--api-key-id (SSMD_API_KEY_ID)",
                               keyPath?.isEmpty == false ? nil : "--api-private-key (SSMD_API_PRIVATE_KEY)"].compactMap { $0 }
                throw ConfigurationError(setting: missing.joined(separator: " and "),
                                         problem: "required: the exchange's WebSocket accepts only signed connections")
            }
            let signer: KalshiKeySigner
            do { signer = try KalshiKeySigner(keyID: keyID, privateKeyPath: keyPath) } catch {
                throw ConfigurationError(setting: "--api-private-key (SSMD_API_PRIVATE_KEY)", problem: "\(error)")
            }
            var configuration = LifecycleListener.Configuration(url: url, signer: signer)
            configuration.pingInterval = try r.duration("ws-ping-interval", cmd.pingInterval, default: .seconds(10), min: .milliseconds(100), max: .seconds(300))
            configuration.machine.backoff.cap = try r.duration("reconnect-max-delay", cmd.reconnectMaxDelay, default: .seconds(30),
                                                               min: .milliseconds(500), max: .seconds(3600))
            let bufferLimit = try r.int("buffer-limit", cmd.bufferLimit, default: 100_000, range: 1...10_000_000)

            StructuredLogHandler.bootstrap(level: common.logLevel, format: common.logFormat)
            let logger = Logger(label: "lifecycle-listener")
            logger.info("starting", metadata: [
                "nats": "\(common.nats.urls.map(Redaction.url))", "ws_url": "\(Redaction.url(url))", "signed_as": "\(keyID)",
                "private_key_file": "\(keyPath)", "ping_interval_s": "\(configuration.pingInterval.seconds)",
                "reconnect_max_delay_s": "\(configuration.machine.backoff.cap.seconds)", "buffer_limit": "\(bufferLimit)"])
            let metrics = DaemonMetrics.bootstrap(program: "lifecycle-listener"), probe = ReadinessProbe()
            let service = ListenerService(configuration: configuration, bufferLimit: bufferLimit, nats: common.nats, probe: probe, logger: logger)
            var services: [any Service] = [service, ConnectionWatchdog(probe: probe)]
            if let ops {
                services.append(OpsServer(host: ops.host, port: ops.port, program: "lifecycle-listener", metrics: metrics, logger: logger,
                                          readiness: { await service.readiness() }))
            }
            try await DaemonMain.run(services: services, logger: logger, shutdownTimeout: common.shutdownTimeout)
        } catch let refused as LiveKeyRefused {
            DaemonMain.exit(LifecycleListenerCommand.self, error: ConfigurationError(
                setting: "--api-key-id/--api-private-key (SSMD_API_KEY_ID/SSMD_API_PRIVATE_KEY)", problem: refused.message),
                            program: "lifecycle-listener")
        } catch {
            DaemonMain.exit(LifecycleListenerCommand.self, error: error, program: "lifecycle-listener")
        }
    }
}
