/// A market's status as the exchange returns it, and what each means
/// (docs/getting_started_market_lifecycle.md). Payloads and the secmaster keep the raw text
/// (`Market.status`, a `String`), so a status the exchange adds later is stored as sent; this
/// type is for deciding things about the known ones.
public enum MarketStatus: String, Sendable, CaseIterable, Codable {
    /// Created, not yet open: becomes `active` when `open_time` passes (no WebSocket event).
    case initialized
    /// Open for trading.
    case active
    /// Paused by the exchange (`deactivated`); `activated` reopens it.
    case inactive
    /// Past `close_time`, awaiting determination.
    case closed
    /// Result known; the settlement timer runs.
    case determined
    /// Result challenged.
    case disputed
    /// Re-determined after a dispute; the settlement timer restarts.
    case amended
    /// Settled: positions paid out. Terminal.
    case finalized

    /// Past `close_time` but not paid out: what `GET /markets?status=closed` returns.
    public static let closedPhase: [MarketStatus] = [.closed, .determined, .disputed, .amended]

    /// The `status=` filter value that matches this status.
    public var queryStatus: MarketQueryStatus {
        switch self {
        case .initialized: .unopened
        case .active: .open
        case .inactive: .paused
        case .closed, .determined, .disputed, .amended: .closed
        case .finalized: .settled
        }
    }

    /// Whether the status can still change without a new listing (not finalized).
    public var isTerminal: Bool { self == .finalized }
}

extension Market {
    /// The status as a known value; nil for one this build does not know.
    public var lifecycle: MarketStatus? { MarketStatus(rawValue: status) }
}
