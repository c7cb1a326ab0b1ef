/// What the exchange client asks before every request: "may I spend `cost` tokens now?".
///
/// Implementations: `LocalRequestBudget` (one process) and the NATS-shared budget that every
/// market-fetcher replica draws from.
public protocol RequestBudget: Sendable {
    /// Suspends until a request costing `cost` tokens may be sent.
    func acquire(cost: Int) async throws
    /// The exchange answered 429: every user of this budget should back off.
    func reportThrottled() async
}

