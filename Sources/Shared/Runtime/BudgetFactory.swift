import Logging

extension ExchangeOptions.Resolved {
    /// The budget a fetcher spends from: shared through NATS KV (default) or private.
    public func makeBudget(js: JetStream, pool: SharedRequestBudget.Pool?, logger: Logger) throws -> any RequestBudget {
        switch scope {
        case .local:
            return LocalRequestBudget(tokensPerSecond: limits.tokensPerSecond, burstSeconds: limits.burstSeconds)
        case .shared:
            let kv = try js.ensureKeyValue(KeyValueSpec(bucket: Topology.budgetBucket, description: "ssmd shared exchange rate budget (GCRA state)"))
            return SharedRequestBudget(kv: kv, limits: limits, pool: pool, logger: logger)
        }
    }
}
