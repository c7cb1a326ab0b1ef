/// Statuses the exchange returns on market objects.
public enum MarketStatus: String, Sendable, CaseIterable, Comparable {
    case initialized, active, inactive, closed, determined, disputed, amended, finalized

    public static func < (a: MarketStatus, b: MarketStatus) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Status values accepted by `GET /markets?status=` (and `GET /events?status=`), which are
/// not the values returned. Mapping per docs/getting_started_market_lifecycle.md:
/// `closed` matches any market past close that is not yet finalized, i.e. `closed`,
/// `determined`, `disputed` and `amended`; `settled` matches only `finalized`.
public enum QueryStatus: String, Sendable, CaseIterable {
    case unopened, open, paused, closed, settled

    public func matches(_ s: MarketStatus) -> Bool {
        switch self {
        case .unopened: return s == .initialized
        case .open: return s == .active
        case .paused: return s == .inactive
        case .closed: return s == .closed || s == .determined || s == .disputed || s == .amended
        case .settled: return s == .finalized
        }
    }
}

/// Every moment of a market's life, in unix seconds. A market's status, shown close time
/// and `updated_time` are pure functions of this timeline and the simulated clock.
public struct MarketTimeline: Sendable, Equatable {
    public var createdTs: Int64
    public var openTs: Int64
    /// The close time the market was listed with (`close_time` until an early close).
    public var scheduledCloseTs: Int64
    /// For `can_close_early` markets whose event happened: trading stops here, and from this
    /// moment on `close_time` shows this value (the exchange's `close_date_updated`).
    public var earlyCloseTs: Int64?
    /// The exchange paused the market (`inactive`) over [pauseStartTs, pauseEndTs).
    public var pauseStartTs: Int64?
    public var pauseEndTs: Int64?
    public var determinedTs: Int64
    /// A dispute moves a determined market to `disputed`, then to `amended` at `amendedTs`,
    /// whose settlement timer restarts.
    public var disputedTs: Int64?
    public var amendedTs: Int64?
    public var settlementTimerSeconds: Int64
    /// A non-trading metadata change (rules text), which moves `updated_time`.
    public var metadataChangeTs: Int64?

    public init(createdTs: Int64, openTs: Int64, scheduledCloseTs: Int64, earlyCloseTs: Int64? = nil,
                pauseStartTs: Int64? = nil, pauseEndTs: Int64? = nil, determinedTs: Int64,
                disputedTs: Int64? = nil, amendedTs: Int64? = nil, settlementTimerSeconds: Int64,
                metadataChangeTs: Int64? = nil) {
        self.createdTs = createdTs
        self.openTs = openTs
        self.scheduledCloseTs = scheduledCloseTs
        self.earlyCloseTs = earlyCloseTs
        self.pauseStartTs = pauseStartTs
        self.pauseEndTs = pauseEndTs
        self.determinedTs = determinedTs
        self.disputedTs = disputedTs
        self.amendedTs = amendedTs
        self.settlementTimerSeconds = settlementTimerSeconds
        self.metadataChangeTs = metadataChangeTs
    }

    /// When trading actually stops.
    public var effectiveCloseTs: Int64 { earlyCloseTs ?? scheduledCloseTs }

    /// When positions are paid out (`finalized`; `settlement_ts`).
    public var settledTs: Int64 { (amendedTs ?? determinedTs) + settlementTimerSeconds }

    public func status(at t: Int64) -> MarketStatus {
        if t < openTs { return .initialized }
        if t < effectiveCloseTs {
            if let ps = pauseStartTs, t >= ps, t < (pauseEndTs ?? Int64.max) { return .inactive }
            return .active
        }
        if t < determinedTs { return .closed }
        if t >= settledTs { return .finalized }
        if let d = disputedTs, t >= d {
            if let a = amendedTs, t >= a { return .amended }
            return .disputed
        }
        return .determined
    }

    /// `close_time` as shown at `t`: the scheduled close until an early close happens.
    public func shownCloseTs(at t: Int64) -> Int64 {
        if let e = earlyCloseTs, t >= e { return e }
        return scheduledCloseTs
    }

    /// `settlement_ts` at `t`: only once finalized.
    public func settlementTs(at t: Int64) -> Int64? { t >= settledTs ? settledTs : nil }

    /// `updated_time`: the latest status or metadata change at or before `t`. Price moves do
    /// not count (the docs: "Time of the last non-trading metadata update").
    public func updatedTs(at t: Int64) -> Int64 {
        var u = createdTs
        @inline(__always) func bump(_ x: Int64?) { if let x, x <= t, x > u { u = x } }
        bump(openTs)
        bump(pauseStartTs)
        if let ps = pauseStartTs, ps <= t, let pe = pauseEndTs, pe < effectiveCloseTs { bump(pe) }
        bump(effectiveCloseTs)
        bump(determinedTs)
        bump(disputedTs)
        bump(amendedTs)
        bump(settledTs)
        bump(metadataChangeTs)
        return u
    }

    /// The moments at which anything visible about this market changes status.
    public var transitionTimes: [Int64] {
        var a = [openTs, effectiveCloseTs, determinedTs, settledTs]
        if let p = pauseStartTs { a.append(p) }
        if let p = pauseEndTs { a.append(p) }
        if let d = disputedTs { a.append(d) }
        if let x = amendedTs { a.append(x) }
        return a.sorted()
    }
}
