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
    @Option(name: Settings.exchangeURL.name, help: Settings.exchangeURL.help)
    var exchangeURL: String?
    @Option(name: Settings.wsURL.name, help: Settings.wsURL.help)
    var wsURL: String?
    @Option(name: Settings.apiKeyID.name, help: Settings.apiKeyID.help)
    var apiKeyID: String?
    @Option(name: Settings.apiPrivateKey.name, help: Settings.apiPrivateKey.help)
    var apiPrivateKey: String?
    @Option(name: Settings.wsPingInterval.name, help: Settings.wsPingInterval.help)
    var pingInterval: String?
    @Option(name: Settings.reconnectMaxDelay.name, help: Settings.reconnectMaxDelay.help)
    var reconnectMaxDelay: String?
    @Option(name: Settings.bufferLimit.name, help: Settings.bufferLimit.help)
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
            let exchangeURL = try r.value(Settings.exchangeURL, cmd.exchangeURL)
            let url: String
            if let given = try r.value(Settings.wsURL, cmd.wsURL) {
                url = given
            } else {
                guard let derived = LiveEndpoint.webSocketURL(exchangeURL: exchangeURL) else {
                    throw ConfigurationError(setting: Settings.exchangeURL.label, problem: "\(exchangeURL) has no host to derive the WebSocket URL from")
                }
                url = derived
            }
            let keyID = try r.value(Settings.apiKeyID, cmd.apiKeyID), keyPath = try r.value(Settings.apiPrivateKey, cmd.apiPrivateKey)
            guard let keyID, !keyID.isEmpty, let keyPath, !keyPath.isEmpty else {
                let missing = [keyID?.isEmpty == false ? nil : Settings.apiKeyID.label,
                               keyPath?.isEmpty == false ? nil : Settings.apiPrivateKey.label].compactMap { $0 }
                throw ConfigurationError(setting: missing.joined(separator: " and "),
                                         problem: "required: the exchange's WebSocket accepts only signed connections")
            }
            let signer: KalshiKeySigner
            do { signer = try KalshiKeySigner(keyID: keyID, privateKeyPath: keyPath) } catch {
                throw ConfigurationError(setting: Settings.apiPrivateKey.label, problem: "\(error)")
            }
            var configuration = LifecycleListener.Configuration(url: url, signer: signer)
            configuration.pingInterval = try r.value(Settings.wsPingInterval, cmd.pingInterval)
            configuration.machine.backoff.cap = try r.value(Settings.reconnectMaxDelay, cmd.reconnectMaxDelay)
            let bufferLimit = try r.value(Settings.bufferLimit, cmd.bufferLimit)

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
