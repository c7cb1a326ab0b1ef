import Logging
import KalshiAPI
import NATSClient
import Pipeline
import RateBudget
import SSMDCore

extension ExchangeOptions.Resolved {
    /// The budget a fetcher spends from: shared through NATS KV (default) or private.
    public func makeBudget(js: JetStream, pool: SharedRequestBudget.Pool?, logger: Logger) async throws -> any RequestBudget {
        switch scope {
        case .local:
            return LocalRequestBudget(tokensPerSecond: limits.tokensPerSecond, burstSeconds: limits.burstSeconds)
        case .shared:
            // Called right after provisioning, at start: NATS may blink in between (a server
            // restart), so it is waited for like every other start-up step.
            // Provisioning made it with the configured replicas; this binds (never lowers them).
            let spec = KeyValueSpec(bucket: Topology.budgetBucket, description: Topology.budgetBucketDescription)
            var bucket: KeyValueBucket?
            try await retryUntilReady(logger: logger, what: "shared budget bucket") {
                bucket = try await js.ensureKeyValue(spec)
            }
            guard let kv = bucket else { throw StoppedBeforeReady(what: "shared budget bucket", lastError: "") }
            return SharedRequestBudget(store: KeyValueBudgetStore(bucket: kv), limits: limits, pool: pool, lease: leaseSize, logger: logger)
        }
    }
}

extension ExchangeOptions.Resolved {
    /// The exchange client of a fetcher: its budget, its signer, its settings.
    public func makeClient(js: JetStream, pool: SharedRequestBudget.Pool?, logger: Logger) async throws -> ExchangeClient {
        ExchangeClient(config: client, budget: try await makeBudget(js: js, pool: pool, logger: logger), signer: signer, logger: logger)
    }
}

/// Runs `body` with a NATS connection, then drains it — pending acks and publishes reach
/// the server before it closes — whether `body` returned or threw.
public func withNATS<T: Sendable>(_ options: NATSOptions, logger: Logger, drainTimeout: Duration = .seconds(5),
                                  _ body: (NATSConnection) async throws -> T) async throws -> T {
    let connection = try await NATSConnection.connect(options: options, logger: logger)
    let result: T
    do {
        result = try await body(connection)
    } catch {
        try? await connection.drain(timeout: drainTimeout)
        throw error
    }
    try? await connection.drain(timeout: drainTimeout)
    return result
}

/// ssmd's streams and buckets provisioned on `connection`; waits (with backoff) for a server
/// that is not up yet instead of failing.
public func provisionPipeline(_ connection: NATSConnection, topology: Topology, logger: Logger,
                              also extra: @Sendable (JetStream) async throws -> Void = { _ in }) async throws -> JetStream {
    let js = try connection.jetStream()
    try await retryUntilReady(logger: logger, what: "NATS JetStream provisioning") {
        try connection.requireConnected()
        try await topology.provision(js)
        try await extra(js)
    }
    return js
}
