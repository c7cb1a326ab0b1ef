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
            let spec = KeyValueSpec(bucket: Topology.budgetBucket, description: "ssmd shared exchange rate budget (GCRA state)")
            var bucket: KeyValueBucket?
            try await retryUntilReady(logger: logger, what: "shared budget bucket") {
                bucket = try await Offload.run { try js.ensureKeyValue(spec) }
            }
            guard let kv = bucket else { throw StoppedBeforeReady(what: "shared budget bucket", lastError: "") }
            return SharedRequestBudget(store: KeyValueBudgetStore(bucket: kv), limits: limits, pool: pool, logger: logger)
        }
    }
}

extension ExchangeOptions.Resolved {
    /// The exchange client of a fetcher: its budget, its signer, its settings.
    public func makeClient(js: JetStream, pool: SharedRequestBudget.Pool?, logger: Logger) async throws -> ExchangeClient {
        ExchangeClient(config: client, budget: try await makeBudget(js: js, pool: pool, logger: logger), signer: signer, logger: logger)
    }
}

/// A daemon's NATS connection with ssmd's streams and buckets provisioned. Waits (with
/// backoff) for a server that is not up yet instead of failing. Callers drain it on exit so
/// pending acks and publishes reach the server before the connection closes.
public func connectPipeline(nats: NATSOptions, topology: Topology, logger: Logger) async throws -> (NATSConnection, JetStream) {
    let connection = try NATSConnection(options: nats, logger: logger)
    let js = try connection.jetStream()
    try await retryUntilReady(logger: logger, what: "NATS JetStream provisioning") {
        try connection.requireConnected()
        try await Offload.run { try topology.provision(js) }
    }
    return (connection, js)
}
