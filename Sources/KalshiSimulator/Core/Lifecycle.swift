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

/// What moves a market's `updated_time` (and so what `min_updated_ts` finds).
///
/// The docs define `updated_time` as "Time of the last non-trading metadata update" and
/// `min_updated_ts` as tracking "non-trading changes only" (api-reference_market_get-markets.md):
/// `metadataOnly` (the default) moves it only on metadata edits (title, subtitles, rules,
/// strikes), close-time edits and price-level-structure changes, never on open, close,
/// pause, determination or settlement. `everyChange` is the simulator's older behaviour,
/// where every status change moves it too.
public enum UpdatedTimeMode: String, Sendable, CaseIterable {
    case metadataOnly = "metadata-only"
    case everyChange = "every-change"
}

/// A change of `close_time`: from `at` on, the market shows `to` as its close time. An
/// early close is `to == at` (the market closes at once); a reopen is an edit made after
/// the market closed that moves the close into the future.
public struct CloseEdit: Sendable, Equatable {
    public var at: Int64
    public var to: Int64

    public init(at: Int64, to: Int64) {
        self.at = at
        self.to = to
    }
}

/// Every kind of change the simulator makes, in the order in which changes at the same
/// instant happen (`close_date_updated` before the `closed` or `reopened` it causes).
public enum TransitionKind: UInt8, Sendable, CaseIterable, Comparable {
    case created, opened, closeDateUpdated, reopened, paused, unpaused, closed, determined, disputed, amended, settled
    case metadataUpdated, priceLevelStructureUpdated
    /// Series only: the series disappears from every endpoint.
    case delisted

    public static func < (a: TransitionKind, b: TransitionKind) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .created: return "created"
        case .opened: return "opened"
        case .closeDateUpdated: return "close_date_updated"
        case .reopened: return "reopened"
        case .paused: return "paused"
        case .unpaused: return "unpaused"
        case .closed: return "closed"
        case .determined: return "determined"
        case .disputed: return "disputed"
        case .amended: return "amended"
        case .settled: return "settled"
        case .metadataUpdated: return "metadata_updated"
        case .priceLevelStructureUpdated: return "price_level_structure_updated"
        case .delisted: return "delisted"
        }
    }

    public init?(name: String) {
        guard let k = TransitionKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    /// The `market_lifecycle_v2` `event_type` a market transition of this kind is sent as, or
    /// nil for transitions the docs say have no WebSocket event (`initialized → active` at
    /// `open_time`, `active → closed` at `close_time`) or do not list (`disputed`, `amended`).
    public var webSocketEventType: String? {
        switch self {
        case .created: return "created"
        case .opened, .closed, .disputed, .amended, .delisted: return nil
        case .closeDateUpdated: return "close_date_updated"
        case .reopened, .unpaused: return "activated"
        case .paused: return "deactivated"
        case .determined: return "determined"
        case .settled: return "settled"
        case .metadataUpdated: return "metadata_updated"
        case .priceLevelStructureUpdated: return "price_level_structure_updated"
        }
    }

    /// Whether a market transition of this kind moves `updated_time` in `metadata-only` mode
    /// (in `every-change` mode every transition does).
    public var movesUpdatedTimeStrictly: Bool {
        switch self {
        case .closeDateUpdated, .metadataUpdated, .priceLevelStructureUpdated: return true
        default: return false
        }
    }
}

/// Every moment of a market's life, in unix seconds. A market's status, shown close time
/// and `updated_time` are pure functions of this timeline and the simulated clock. The
/// struct holds no references, so reading it in the serving hot path costs no retains.
public struct MarketTimeline: Sendable, Equatable {
    public var createdTs: Int64
    public var openTs: Int64
    /// The close time the market was listed with (`close_time` until an edit).
    public var scheduledCloseTs: Int64
    /// Up to two close-time edits, `closeEdit2.at > closeEdit1.at`.
    public var closeEdit1: CloseEdit?
    public var closeEdit2: CloseEdit?
    /// The exchange paused the market (`inactive`) over [pauseStartTs, pauseEndTs); no end
    /// means it stays paused until it closes.
    public var pauseStartTs: Int64?
    public var pauseEndTs: Int64?
    /// The result is set (`determined`).
    public var determinedTs: Int64
    /// A dispute moves a determined market to `disputed`, then to `amended` at `amendedTs`,
    /// whose settlement timer restarts.
    public var disputedTs: Int64?
    public var amendedTs: Int64?
    public var settlementTimerSeconds: Int64
    /// A non-trading metadata edit (title, subtitles, rules or strikes: see `MarketRecord.edited`).
    public var metadataChangeTs: Int64?
    /// The price level structure changes to `MarketRecord.newPriceLevelStructure`.
    public var priceLevelStructureChangeTs: Int64?

    public init(createdTs: Int64, openTs: Int64, scheduledCloseTs: Int64, earlyCloseTs: Int64? = nil,
                closeEdit1: CloseEdit? = nil, closeEdit2: CloseEdit? = nil,
                pauseStartTs: Int64? = nil, pauseEndTs: Int64? = nil, determinedTs: Int64,
                disputedTs: Int64? = nil, amendedTs: Int64? = nil, settlementTimerSeconds: Int64,
                metadataChangeTs: Int64? = nil, priceLevelStructureChangeTs: Int64? = nil) {
        self.createdTs = createdTs
        self.openTs = openTs
        self.scheduledCloseTs = scheduledCloseTs
        self.closeEdit1 = closeEdit1 ?? earlyCloseTs.map { CloseEdit(at: $0, to: $0) }
        self.closeEdit2 = closeEdit2
        self.pauseStartTs = pauseStartTs
        self.pauseEndTs = pauseEndTs
        self.determinedTs = determinedTs
        self.disputedTs = disputedTs
        self.amendedTs = amendedTs
        self.settlementTimerSeconds = settlementTimerSeconds
        self.metadataChangeTs = metadataChangeTs
        self.priceLevelStructureChangeTs = priceLevelStructureChangeTs
    }

    /// An early close (a close edit that closes the market at once), if any.
    public var earlyCloseTs: Int64? {
        if let e = closeEdit2, e.at == e.to { return e.at }
        if let e = closeEdit1, e.at == e.to { return e.at }
        return nil
    }

    /// The close time after every edit: when trading finally stops.
    public var finalCloseTs: Int64 { closeEdit2?.to ?? closeEdit1?.to ?? scheduledCloseTs }

    /// Trading finally stops here (the name older code uses).
    public var effectiveCloseTs: Int64 { finalCloseTs }

    /// When positions are paid out (`finalized`; `settlement_ts`).
    public var settledTs: Int64 { (amendedTs ?? determinedTs) + settlementTimerSeconds }

    /// `close_time` as shown at `t`: the scheduled close until the first edit takes effect.
    @inline(__always)
    public func shownCloseTs(at t: Int64) -> Int64 {
        var c = scheduledCloseTs
        if let e = closeEdit1, e.at <= t { c = e.to }
        if let e = closeEdit2, e.at <= t { c = e.to }
        return c
    }

    /// Open for trading at `t` (active or paused): opened, and before the close shown then.
    @inline(__always)
    public func isTrading(at t: Int64) -> Bool { t >= openTs && t < shownCloseTs(at: t) }

    public func status(at t: Int64) -> MarketStatus {
        if t < openTs { return .initialized }
        if t < shownCloseTs(at: t) {
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

    /// `settlement_ts` at `t`: only once finalized.
    public func settlementTs(at t: Int64) -> Int64? { t >= settledTs ? settledTs : nil }

    /// Calls `body(at, kind)` for every transition of this market, in no particular order.
    /// Visibility (series listing) is the caller's concern; `created` is at `createdTs`.
    public func forEachTransition(_ body: (Int64, TransitionKind) -> Void) {
        body(createdTs, .created)
        if openTs > createdTs { body(openTs, .opened) }
        // Closes and reopens: the instants where trading stops or resumes.
        var seen: (Int64, Int64, Int64, Int64, Int64) = (.min, .min, .min, .min, .min)
        var n = 0
        func firstTime(_ c: Int64) -> Bool {
            if n > 0 && seen.0 == c { return false }
            if n > 1 && seen.1 == c { return false }
            if n > 2 && seen.2 == c { return false }
            if n > 3 && seen.3 == c { return false }
            switch n {
            case 0: seen.0 = c
            case 1: seen.1 = c
            case 2: seen.2 = c
            case 3: seen.3 = c
            default: seen.4 = c
            }
            n += 1
            return true
        }
        func closeCandidate(_ c: Int64) {
            guard c > openTs, firstTime(c) else { return }
            if isTrading(at: c - 1) && !isTrading(at: c) { body(c, .closed) }
        }
        closeCandidate(scheduledCloseTs)
        func edit(_ e: CloseEdit) {
            body(e.at, .closeDateUpdated)
            if e.at > openTs, !isTrading(at: e.at - 1), isTrading(at: e.at) { body(e.at, .reopened) }
            closeCandidate(e.at)
            closeCandidate(e.to)
        }
        if let e = closeEdit1 { edit(e) }
        if let e = closeEdit2 { edit(e) }
        if let ps = pauseStartTs, isTrading(at: ps) {
            body(ps, .paused)
            if let pe = pauseEndTs, pe > ps, isTrading(at: pe) { body(pe, .unpaused) }
        }
        body(determinedTs, .determined)
        if let d = disputedTs { body(d, .disputed) }
        if let a = amendedTs { body(a, .amended) }
        body(settledTs, .settled)
        if let m = metadataChangeTs { body(m, .metadataUpdated) }
        if let p = priceLevelStructureChangeTs { body(p, .priceLevelStructureUpdated) }
    }

    /// `updated_time`: `created_time`, or the latest transition at or before `t` that moves
    /// it in `mode`. Price moves never do ("the last non-trading metadata update").
    public func updatedTs(at t: Int64, mode: UpdatedTimeMode = .metadataOnly) -> Int64 {
        var u = createdTs
        if mode == .metadataOnly {
            // The same as the general case below for the kinds that move it strictly.
            @inline(__always) func bump(_ x: Int64?) { if let x, x <= t, x > u { u = x } }
            bump(closeEdit1?.at)
            bump(closeEdit2?.at)
            bump(metadataChangeTs)
            bump(priceLevelStructureChangeTs)
            return u
        }
        forEachTransition { at, kind in
            if at <= t, at > u, mode == .everyChange || kind.movesUpdatedTimeStrictly { u = at }
        }
        return u
    }

    /// Every instant at which anything about this market may change (rendering caches).
    public func forEachInstant(_ body: (Int64) -> Void) {
        body(createdTs); body(openTs); body(scheduledCloseTs); body(determinedTs); body(settledTs)
        if let e = closeEdit1 { body(e.at); body(e.to) }
        if let e = closeEdit2 { body(e.at); body(e.to) }
        if let x = pauseStartTs { body(x) }
        if let x = pauseEndTs { body(x) }
        if let x = disputedTs { body(x) }
        if let x = amendedTs { body(x) }
        if let x = metadataChangeTs { body(x) }
        if let x = priceLevelStructureChangeTs { body(x) }
    }
}
