import ArgumentParser
import Foundation
import Logging
import KalshiAPI
import Pipeline
import NATSClient
import RateBudget
import SSMDCore

/// Flags every daemon shares. Each also reads `SSMD_<FLAG>` from the environment; the flag
/// wins. Names, help, defaults and ranges are the declarations in `Settings`.
public struct CommonOptions: ParsableArguments {
    @Option(name: Settings.natsURL.name, help: Settings.natsURL.help)
    public var natsURL: String?
    @Option(name: Settings.natsUser.name, help: Settings.natsUser.help)
    public var natsUser: String?
    @Option(name: Settings.natsPassword.name, help: Settings.natsPassword.help)
    public var natsPassword: String?
    @Option(name: Settings.natsToken.name, help: Settings.natsToken.help)
    public var natsToken: String?
    @Option(name: Settings.natsCreds.name, help: Settings.natsCreds.help)
    public var natsCreds: String?
    @Option(name: Settings.natsTLSCA.name, help: Settings.natsTLSCA.help)
    public var natsTLSCA: String?
    @Option(name: Settings.logLevel.name, help: Settings.logLevel.help)
    public var logLevel: String?
    @Option(name: Settings.logFormat.name, help: Settings.logFormat.help)
    public var logFormat: String?
    @Option(name: Settings.streamReplicas.name, help: Settings.streamReplicas.help)
    public var streamReplicas: String?
    @Option(name: Settings.coordinationReplicas.name, help: Settings.coordinationReplicas.help)
    public var coordinationReplicas: String?
    @Option(name: Settings.shutdownTimeout.name, help: Settings.shutdownTimeout.help)
    public var shutdownTimeout: String?

    public init() {}

    public struct Resolved: Sendable {
        public var nats: NATSOptions
        public var logLevel: Logger.Level
        public var logFormat: LogFormat
        public var shutdownTimeout: Duration
        public var streamReplicas: Int
        public var coordinationReplicas: Int

        /// The streams and buckets these settings ask for.
        public var topology: Topology { Topology(streamReplicas: streamReplicas, coordinationReplicas: coordinationReplicas) }
    }

    public func resolve(connectionName: String, _ r: SettingsResolver = SettingsResolver()) throws -> Resolved {
        let urls = try r.value(Settings.natsURL, natsURL)
        var nats = NATSOptions(urls: urls, name: connectionName)
        nats.user = try r.value(Settings.natsUser, natsUser)
        nats.password = try r.value(Settings.natsPassword, natsPassword)
        nats.token = try r.value(Settings.natsToken, natsToken)
        nats.credentialsFile = try r.value(Settings.natsCreds, natsCreds)
        nats.tlsCAFile = try r.value(Settings.natsTLSCA, natsTLSCA)
        for (setting, file) in [(Settings.natsCreds, nats.credentialsFile), (Settings.natsTLSCA, nats.tlsCAFile)] {
            if let file, !FileManager.default.isReadableFile(atPath: file) {
                throw ConfigurationError(setting: setting.label, problem: "file \(file) is not readable")
            }
        }
        if nats.password != nil && nats.user == nil {
            throw ConfigurationError(setting: Settings.natsPassword.label, problem: "needs --nats-user")
        }
        if urls.contains(where: { $0.hasPrefix("tls") }) || nats.tlsCAFile != nil { nats.tlsRequired = true }
        return Resolved(nats: nats,
                        logLevel: try r.value(Settings.logLevel, logLevel),
                        logFormat: try r.value(Settings.logFormat, logFormat),
                        shutdownTimeout: try r.value(Settings.shutdownTimeout, shutdownTimeout),
                        streamReplicas: try r.value(Settings.streamReplicas, streamReplicas),
                        coordinationReplicas: try r.value(Settings.coordinationReplicas, coordinationReplicas))
    }
}

/// Where the exchange is and how hard we may use it.
public struct ExchangeOptions: ParsableArguments {
    @Option(name: Settings.exchangeURL.name, help: Settings.exchangeURL.help)
    public var exchangeURL: String?
    @Option(name: Settings.rateTier.name, help: Settings.rateTier.help)
    public var rateTier: String?
    @Option(name: Settings.rateTokensPerSecond.name, help: Settings.rateTokensPerSecond.help)
    public var rateTokensPerSecond: String?
    @Option(name: Settings.rateBurstSeconds.name, help: Settings.rateBurstSeconds.help)
    public var rateBurstSeconds: String?
    @Option(name: Settings.rateScope.name, help: Settings.rateScope.help)
    public var rateScope: String?
    @Option(name: Settings.rateLeaseSlots.name, help: Settings.rateLeaseSlots.help)
    public var rateLeaseSlots: String?
    @Option(name: Settings.rateCost.name, help: Settings.rateCost.help)
    public var rateCost: String?
    @Option(name: Settings.apiKeyID.name, help: Settings.apiKeyID.help)
    public var apiKeyID: String?
    @Option(name: Settings.apiPrivateKey.name, help: Settings.apiPrivateKey.help)
    public var apiPrivateKey: String?
    @Option(name: Settings.httpTimeout.name, help: Settings.httpTimeout.help)
    public var httpTimeout: String?
    @Option(name: Settings.httpMaxAttempts.name, help: Settings.httpMaxAttempts.help)
    public var maxAttempts: String?

    public init() {}

    public static let kalshiProduction = "https://api.elections.kalshi.com/trade-api/v2"

    public enum Scope: String, Sendable, CaseIterable { case shared, local }

    public struct Resolved: Sendable {
        public var client: ExchangeClientConfig
        public var limits: BudgetLimits
        public var scope: Scope
        public var signer: KalshiKeySigner?
        public var leaseSize: LeaseSize = .auto
        public var tokensPerSecond: Double { limits.tokensPerSecond }
        public var burstSeconds: Double { limits.burstSeconds }
    }

    public func resolve(_ r: SettingsResolver = SettingsResolver()) throws -> Resolved {
        var config = ExchangeClientConfig(baseURL: try r.value(Settings.exchangeURL, exchangeURL))
        config.costPerRequest = try r.value(Settings.rateCost, rateCost)
        config.http.totalTimeout = try r.value(Settings.httpTimeout, httpTimeout)
        config.retry.maxAttempts = try r.value(Settings.httpMaxAttempts, maxAttempts)
        var signer: KalshiKeySigner?
        let keyID = try r.value(Settings.apiKeyID, apiKeyID), keyPath = try r.value(Settings.apiPrivateKey, apiPrivateKey)
        switch (keyID, keyPath) {
        case (nil, nil): signer = nil
        case (let id?, let path?):
            do { signer = try KalshiKeySigner(keyID: id, privateKeyPath: path) } catch {
                throw ConfigurationError(setting: Settings.apiPrivateKey.label, problem: "\(error)")
            }
        case (nil, _): throw ConfigurationError(setting: Settings.apiKeyID.label, problem: "is required with --api-private-key")
        case (_, nil): throw ConfigurationError(setting: Settings.apiPrivateKey.label, problem: "is required with --api-key-id")
        }
        // Unsigned requests are throttled far below the Basic tier: without a key, the
        // unsigned preset is the honest default.
        let tier = BudgetLimits(tier: try r.value(Settings.rateTier, rateTier, default: signer == nil ? .unsigned : .basic))
        let limits = BudgetLimits(
            tokensPerSecond: try r.value(Settings.rateTokensPerSecond, rateTokensPerSecond, default: tier.tokensPerSecond),
            burstSeconds: try r.value(Settings.rateBurstSeconds, rateBurstSeconds, default: tier.burstSeconds))
        let slots = try r.value(Settings.rateLeaseSlots, rateLeaseSlots)
        guard let leaseSize = LeaseSize(slots) else {
            throw ConfigurationError(setting: Settings.rateLeaseSlots.label,
                                     problem: "\(SettingsResolver.quote(slots)) is neither auto nor a whole number of slots 1-\(LeaseSize.maximumSlots)")
        }
        return Resolved(client: config, limits: limits, scope: try r.value(Settings.rateScope, rateScope), signer: signer,
                        leaseSize: leaseSize)
    }
}

/// PostgreSQL connection: a libpq connection string or URI; empty means libpq's own `PG*`
/// environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE …).
public struct DatabaseOptions: ParsableArguments {
    @Option(name: Settings.databaseURL.name, help: Settings.databaseURL.help)
    public var databaseURL: String?

    public init() {}

    public func resolve(_ r: SettingsResolver = SettingsResolver()) throws -> String {
        let s = try r.value(Settings.databaseURL, databaseURL) ?? ""
        if s.contains("://"), !(s.hasPrefix("postgres://") || s.hasPrefix("postgresql://")) {
            throw ConfigurationError(setting: Settings.databaseURL.label, problem: "\(Redaction.conninfo(s)) is neither a postgres:// URI nor a key=value connection string")
        }
        return s
    }
}
