import ArgumentParser
import Foundation
import Logging
import KalshiAPI
import NATSClient
import RateBudget
import SSMDCore

/// Flags every daemon shares. Each also reads `SSMD_<FLAG>` from the environment; the flag wins.
public struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("nats-url"), help: "NATS server URL(s), comma-separated (SSMD_NATS_URL, else NATS_URL). Default nats://127.0.0.1:4222")
    public var natsURL: String?
    @Option(name: .customLong("nats-user"), help: "NATS user (SSMD_NATS_USER)")
    public var natsUser: String?
    @Option(name: .customLong("nats-password"), help: "NATS password (SSMD_NATS_PASSWORD); never logged")
    public var natsPassword: String?
    @Option(name: .customLong("nats-token"), help: "NATS token (SSMD_NATS_TOKEN); never logged")
    public var natsToken: String?
    @Option(name: .customLong("nats-creds"), help: "NATS credentials file (SSMD_NATS_CREDS)")
    public var natsCreds: String?
    @Option(name: .customLong("nats-tls-ca"), help: "CA certificate file for NATS TLS (SSMD_NATS_TLS_CA)")
    public var natsTLSCA: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical (SSMD_LOG_LEVEL). Default info")
    public var logLevel: String?
    @Option(name: .customLong("log-format"), help: "logfmt or json (SSMD_LOG_FORMAT). Default logfmt")
    public var logFormat: String?
    @Option(name: .customLong("stream-replicas"), help: "Copies of every JetStream stream and KV bucket ssmd creates, 1-5 (SSMD_STREAM_REPLICAS); raised on existing ones, never lowered. Default 1")
    public var streamReplicas: String?
    @Option(name: .customLong("shutdown-timeout"), help: "Longest graceful shutdown before in-flight work is abandoned to redelivery (SSMD_SHUTDOWN_TIMEOUT). Default 20s")
    public var shutdownTimeout: String?

    public init() {}

    public struct Resolved: Sendable {
        public var nats: NATSOptions
        public var logLevel: Logger.Level
        public var logFormat: LogFormat
        public var shutdownTimeout: Duration
        public var streamReplicas: Int
    }

    public func resolve(connectionName: String, _ r: SettingsResolver = SettingsResolver()) throws -> Resolved {
        let urls = (r.string("nats-url", natsURL, default: "nats://127.0.0.1:4222") ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !urls.isEmpty else { throw ConfigurationError(setting: "--nats-url (SSMD_NATS_URL)", problem: "is empty") }
        for u in urls { _ = try r.url("nats-url", u, default: u, schemes: ["nats", "tls", "nats+tls"]) }
        var nats = NATSOptions(urls: urls, name: connectionName)
        nats.user = r.string("nats-user", natsUser)
        nats.password = r.string("nats-password", natsPassword)
        nats.token = r.string("nats-token", natsToken)
        nats.credentialsFile = r.string("nats-creds", natsCreds)
        nats.tlsCAFile = r.string("nats-tls-ca", natsTLSCA)
        for (flag, file) in [("nats-creds", nats.credentialsFile), ("nats-tls-ca", nats.tlsCAFile)] {
            if let file, !FileManager.default.isReadableFile(atPath: file) {
                throw ConfigurationError(setting: "--\(flag) (\(SettingsResolver.envName(flag)))", problem: "file \(file) is not readable")
            }
        }
        if nats.password != nil && nats.user == nil {
            throw ConfigurationError(setting: "--nats-password (SSMD_NATS_PASSWORD)", problem: "needs --nats-user")
        }
        if urls.contains(where: { $0.hasPrefix("tls") }) || nats.tlsCAFile != nil { nats.tlsRequired = true }
        return Resolved(nats: nats,
                        logLevel: try r.logLevel(logLevel),
                        logFormat: try r.choice("log-format", logFormat, default: LogFormat.logfmt),
                        shutdownTimeout: try r.duration("shutdown-timeout", shutdownTimeout, default: .seconds(20), max: .seconds(3600)),
                        streamReplicas: try r.int("stream-replicas", streamReplicas, default: 1, range: 1...5))
    }
}

/// Where the exchange is and how hard we may use it.
public struct ExchangeOptions: ParsableArguments {
    @Option(name: .customLong("exchange-url"), help: "Trade API v2 base URL (SSMD_EXCHANGE_URL). Default https://api.elections.kalshi.com/trade-api/v2")
    public var exchangeURL: String?
    @Option(name: .customLong("rate-tier"), help: "Budget preset: \(BudgetLimits.Tier.allCases.map(\.rawValue).joined(separator: ", ")) (SSMD_RATE_TIER). Default basic with an API key, unsigned without")
    public var rateTier: String?
    @Option(name: .customLong("rate-tokens-per-s"), help: "Read budget refill in tokens/s, overriding the tier (SSMD_RATE_TOKENS_PER_S)")
    public var rateTokensPerSecond: String?
    @Option(name: .customLong("rate-burst-s"), help: "Read budget depth in seconds of refill, overriding the tier (SSMD_RATE_BURST_S)")
    public var rateBurstSeconds: String?
    @Option(name: .customLong("rate-scope"), help: "shared: one budget for every process through NATS KV; local: this process alone (SSMD_RATE_SCOPE). Default shared")
    public var rateScope: String?
    @Option(name: .customLong("rate-lease-slots"), help: "Slots of the shared budget one compare-and-set takes: auto (sized from the rate and the write latency seen) or 1-10000; 1 is one write per request (SSMD_RATE_LEASE_SLOTS). Default auto")
    public var rateLeaseSlots: String?
    @Option(name: .customLong("rate-cost"), help: "Tokens per request (SSMD_RATE_COST). Default 10")
    public var rateCost: String?
    @Option(name: .customLong("api-key-id"), help: "Kalshi API key id; with --api-private-key, requests are signed and get the tier's budget (SSMD_API_KEY_ID)")
    public var apiKeyID: String?
    @Option(name: .customLong("api-private-key"), help: "Path of the PEM private key of --api-key-id (SSMD_API_PRIVATE_KEY); the key is never logged")
    public var apiPrivateKey: String?
    @Option(name: .customLong("http-timeout"), help: "Total timeout of one exchange request (SSMD_HTTP_TIMEOUT). Default 30s")
    public var httpTimeout: String?
    @Option(name: .customLong("http-max-attempts"), help: "Attempts per exchange request before giving up (SSMD_HTTP_MAX_ATTEMPTS). Default 6")
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
        var config = ExchangeClientConfig(baseURL: try r.url("exchange-url", exchangeURL, default: Self.kalshiProduction, schemes: ["http", "https"]))
        config.costPerRequest = try r.int("rate-cost", rateCost, default: 10, range: 1...1000)
        config.http.totalTimeout = try r.duration("http-timeout", httpTimeout, default: .seconds(30), min: .milliseconds(100), max: .seconds(600))
        config.retry.maxAttempts = try r.int("http-max-attempts", maxAttempts, default: 6, range: 1...100)
        var signer: KalshiKeySigner?
        let keyID = r.string("api-key-id", apiKeyID), keyPath = r.string("api-private-key", apiPrivateKey)
        switch (keyID, keyPath) {
        case (nil, nil): signer = nil
        case (let id?, let path?):
            do { signer = try KalshiKeySigner(keyID: id, privateKeyPath: path) } catch {
                throw ConfigurationError(setting: "--api-private-key (SSMD_API_PRIVATE_KEY)", problem: "\(error)")
            }
        case (nil, _): throw ConfigurationError(setting: "--api-key-id (SSMD_API_KEY_ID)", problem: "is required with --api-private-key")
        case (_, nil): throw ConfigurationError(setting: "--api-private-key (SSMD_API_PRIVATE_KEY)", problem: "is required with --api-key-id")
        }
        // Unsigned requests are throttled far below the Basic tier: without a key, the
        // unsigned preset is the honest default.
        let tier = BudgetLimits(tier: try r.choice("rate-tier", rateTier, default: signer == nil ? BudgetLimits.Tier.unsigned : .basic))
        let limits = BudgetLimits(
            tokensPerSecond: try r.double("rate-tokens-per-s", rateTokensPerSecond, default: tier.tokensPerSecond, range: 0.1...1_000_000),
            burstSeconds: try r.double("rate-burst-s", rateBurstSeconds, default: tier.burstSeconds, range: 0...3600))
        var leaseSize = LeaseSize.auto
        if let s = r.string("rate-lease-slots", rateLeaseSlots) {
            guard let size = LeaseSize(s) else {
                throw ConfigurationError(setting: SettingsResolver.label("rate-lease-slots"),
                                         problem: "\(SettingsResolver.quote(s)) is neither auto nor a whole number of slots 1-\(LeaseSize.maximumSlots)")
            }
            leaseSize = size
        }
        return Resolved(client: config, limits: limits, scope: try r.choice("rate-scope", rateScope, default: Scope.shared), signer: signer,
                        leaseSize: leaseSize)
    }
}

/// PostgreSQL connection: a libpq connection string or URI; empty means libpq's own `PG*`
/// environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE …).
public struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "libpq connection string or postgres:// URI (SSMD_DATABASE_URL, else DATABASE_URL). Default: the PG* environment variables")
    public var databaseURL: String?

    public init() {}

    public func resolve(_ r: SettingsResolver = SettingsResolver()) throws -> String {
        let s = r.string("database-url", databaseURL, default: "") ?? ""
        if s.contains("://"), !(s.hasPrefix("postgres://") || s.hasPrefix("postgresql://")) {
            throw ConfigurationError(setting: "--database-url (SSMD_DATABASE_URL)", problem: "\(Redaction.conninfo(s)) is neither a postgres:// URI nor a key=value connection string")
        }
        return s
    }
}
