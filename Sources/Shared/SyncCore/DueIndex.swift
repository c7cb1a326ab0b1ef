import KalshiModels
import SSMDCore

/// Markets whose next status change is due at a known time but that no documented feed
/// reports, to be read again (`GET /markets?tickers=…`) once that time has passed.
///
/// * **Openings.** The exchange opens a market when its `open_time` passes, and documents no
///   filter, no `updated_time` move and no WebSocket event for it
///   (docs/getting_started_market_lifecycle.md; `min_updated_ts` "tracks non-trading changes
///   only"). Unopened (`initialized`) markets are remembered by `open_time`.
/// * **Determinations.** A closed market is determined (its result known) some minutes to
///   hours after it closes; no filter reports that either (`status=closed&min_close_ts`
///   saw it close; `status=settled&min_settled_ts` will see it settle). Closed markets are
///   remembered from their `close_time` and read again every cycle until determined.
/// * **Scheduled closes.** `status=closed&min_close_ts` reports a close at the feed's next
///   run, and the lifecycle WebSocket sends no message for it (its events are created,
///   activated, deactivated, close_date_updated, determined, settled): open markets whose
///   `close_time` falls within the next `closeHorizonSeconds` (listed by
///   `min_close_ts`/`max_close_ts`, every half horizon) are read by ticker as it passes, so
///   the feed can wake for them as for openings.
///
/// Entries come from whatever the feed reads — new markets (`min_created_ts`), metadata
/// changes (which may move `open_time`), closes — and from a periodic sweep (every unopened
/// market, and markets closed within the determination window), which also rebuilds the
/// index after a restart. Pure: the change feed feeds it markets and asks what is due.
public struct DueIndex: Codable, Sendable, Equatable {
    /// Unopened market → the exchange time (unix seconds) its `open_time` passes.
    public private(set) var opens: [String: Int64]
    /// Closed, undetermined market → the exchange time (unix seconds) it closed.
    public private(set) var determinations: [String: Int64]
    /// Open (or paused) market → its `close_time` (unix seconds), for those closing before
    /// `closesKnownUntil`. Not persisted: a restart lists the horizon again.
    public private(set) var closes: [String: Int64] = [:]
    /// The end of the horizon whose scheduled closes are known (exchange time, unix
    /// seconds); nil: not listed yet. Markets closing later are not remembered, which keeps
    /// the index to the next minutes' closes, not every open market's.
    public private(set) var closesKnownUntil: Int64?
    /// When the last sweep began (exchange time); nil: never.
    public var sweptAt: Timestamp?
    /// Waiting market → the exchange time (unix seconds) it was last read again while still
    /// waiting. Not persisted (a restart reads every waiting market once); see `recheckSeconds`.
    public private(set) var lastRead: [String: Int64] = [:]

    /// A market still unopened this long after its `open_time` is given up on: it is left to
    /// the series' next full reconciliation, so a market the exchange never opens is not read
    /// again every cycle forever.
    public static let giveUpSeconds: Int64 = 6 * 3600
    /// A closed market is read again each cycle for this long after closing, waiting for its
    /// determination; later ones are left to reconciliation (and the settled feed).
    public static let determinationWindowSeconds: Int64 = 24 * 3600

    /// How long a market still waiting is left before it is read again: as long as it has
    /// waited so far, between 30 s and 10 min. An opening or a determination right at its
    /// time is seen within seconds; one the exchange is late with costs a read every 10 min
    /// at most (the periodic re-read of every tracked market catches it too). With every
    /// closed market of the day waiting, reading each at every feed run (15 s) would cost
    /// thousands of markets a run at full scale.
    public static func recheckSeconds(waited: Int64) -> Int64 { Swift.min(600, Swift.max(30, waited)) }

    /// The same for an opening: the feed wakes for an opening as its `open_time` passes
    /// (`nextOpening`), and a market read a second too early (the exchange flips it a few
    /// milliseconds after) is read again 2 s later, not 30 s: openings are due to show
    /// within seconds where the WebSocket is used, and the exchange sends no message for them.
    public static func openingRecheckSeconds(waited: Int64) -> Int64 { Swift.min(600, Swift.max(2, waited)) }

    /// How far ahead scheduled closes are listed; they are listed again after half of it.
    public static let closeHorizonSeconds: Int64 = 900
    /// A market still open this long after its `close_time` is no longer read for its close
    /// (the closed feed and the periodic re-read see it).
    public static let closeGiveUpSeconds: Int64 = 600

    /// What a market waits for, and since when (unix seconds).
    public enum Wait: Sendable, Equatable {
        case opening(Int64), close(Int64), determination(Int64)
    }

    /// What the market waits for; nil: nothing.
    public func wait(_ ticker: String) -> Wait? {
        if let t = opens[ticker] { return .opening(t) }
        if let t = closes[ticker] { return .close(t) }
        if let t = determinations[ticker] { return .determination(t) }
        return nil
    }

    /// Whether `m`, as just read, has moved on from what the index waited for (`was`): opened,
    /// closed, determined. One still waiting is not a change to hand out.
    public static func movedOn(_ m: Market, from was: Wait?) -> Bool {
        switch (was, m.lifecycle) {
        case (.opening?, .initialized?), (.determination?, .closed?), (.close?, .active?), (.close?, .inactive?): false
        case (nil, _): m.lifecycle != .initialized && m.lifecycle != .closed
        default: true
        }
    }

    public init(opens: [String: Int64] = [:], determinations: [String: Int64] = [:], sweptAt: Timestamp? = nil) {
        self.opens = opens
        self.determinations = determinations
        self.sweptAt = sweptAt
    }

    public var count: Int { opens.count + determinations.count + closes.count }

    /// Whether the market is waiting for an opening, a close or a determination.
    public func isWaiting(_ ticker: String) -> Bool { wait(ticker) != nil }

    /// Whether the scheduled closes are due to be listed again (`closeHorizonSeconds`).
    public func needsCloseListing(now: Timestamp) -> Bool {
        guard let until = closesKnownUntil else { return true }
        return now.secondsSinceEpoch >= until - Self.closeHorizonSeconds / 2
    }

    /// Before observing a listing of every market closing in `now…now+closeHorizonSeconds`:
    /// the horizon moves to its end, and closes known before are forgotten unless listed again.
    public mutating func beginCloseListing(now: Timestamp) {
        closesKnownUntil = now.secondsSinceEpoch + Self.closeHorizonSeconds
        let passed = now.secondsSinceEpoch
        // Closes already passed stay until read (or given up); later ones must be listed again.
        closes = closes.filter { $0.value <= passed }
    }

    /// Takes what a fresh description of a market says: an unopened market with an
    /// `open_time` waits for its opening, an open or paused one closing within the listed
    /// horizon (`closesKnownUntil`) for its close, a closed one for its determination; any
    /// other status removes it. `readAt`: the description was read from the exchange at that
    /// time, so a market still waiting is not due again before `recheckSeconds` (a sweep
    /// or a feed query that just listed it is as good as reading it by ticker; at a cold
    /// start, re-reading the thousands of closed markets the sweep had just listed cost a
    /// quarter of its requests).
    public mutating func observe(_ m: Market, readAt now: Timestamp) {
        observe(m)
        markRead([m.ticker], now: now)
    }

    /// `observe(_:readAt:)` for a description whose reading time does not count (the
    /// market is due as soon as its time has passed).
    public mutating func observe(_ m: Market) {
        let was = wait(m.ticker)
        opens[m.ticker] = nil
        closes[m.ticker] = nil
        determinations[m.ticker] = nil
        defer {
            // A new wait (or none) starts its re-reads afresh.
            if wait(m.ticker) != was { lastRead[m.ticker] = nil }
        }
        switch m.lifecycle {
        case .initialized?:
            if let open = m.openTime { opens[m.ticker] = open.secondsSinceEpoch }
        case .active?, .inactive?:
            if let close = m.closeTime?.secondsSinceEpoch, let until = closesKnownUntil, close <= until {
                closes[m.ticker] = close
            }
        case .closed?:
            determinations[m.ticker] = m.closeTime?.secondsSinceEpoch ?? 0
        default:
            break
        }
    }

    /// Tickers due to be read again by `now`: openings and scheduled closes whose time has
    /// passed and closed markets awaiting determination, each unless it was read again less
    /// than its recheck pace ago; earliest first (ties by ticker), so a run that can read
    /// only some reads the longest-waiting.
    public func due(now: Timestamp) -> [String] {
        let nowS = now.secondsSinceEpoch
        let entries = [(opens, true), (closes, true), (determinations, false)].flatMap { entries, quick in
            entries.filter { dueAt($0.key, since: $0.value, quick: quick) <= nowS }.map { ($0.value, $0.key) }
        }
        return entries.sorted { $0 < $1 }.map(\.1)
    }

    /// When the market waiting since `since` is next due (unix seconds): at `since`, then
    /// at its recheck pace after each read — never before `since` (a sweep that listed an
    /// unopened market hours before its `open_time` read it, but it is not due until then).
    /// `quick`: an opening's or a close's pace (`openingRecheckSeconds`), not a determination's.
    private func dueAt(_ ticker: String, since: Int64, quick: Bool) -> Int64 {
        guard let read = lastRead[ticker], read >= since else { return since }
        let waited = read - since
        return read + (quick ? Self.openingRecheckSeconds(waited: waited) : Self.recheckSeconds(waited: waited))
    }

    /// The earliest time, from `now` on, that an opening or a scheduled close falls due (an
    /// `open_time` or `close_time` passing, or a market read just before it due again): the
    /// feed wakes for it instead of waiting for its next run. One already due and not read
    /// yet is due `now` (a regular run that ended after an `open_time` passed leaves it so);
    /// nil when none is waiting.
    /// Only the first read and the quick re-reads (within `wakeWindowSeconds` of the time)
    /// wake the feed: a market the exchange is late with by more is read again on the feed's
    /// regular runs, batched with the others, not by a wake of its own (thousands of overdue
    /// openings each waking the feed would cost a request a second).
    public func nextWake(from now: Timestamp) -> Timestamp? {
        let nowS = now.secondsSinceEpoch
        return [opens, closes].flatMap { entries in
            entries.compactMap { ticker, since -> Int64? in
                let at = Swift.max(dueAt(ticker, since: since, quick: true), nowS)
                return at - since <= Self.wakeWindowSeconds ? at : nil
            }
        }.min().map(Timestamp.seconds)
    }

    /// See `nextWake`.
    public static let wakeWindowSeconds: Int64 = 30

    /// The markets were just read again at `now` (after `observe`): those still waiting
    /// wait `recheckSeconds` before the next read.
    public mutating func markRead(_ tickers: [String], now: Timestamp) {
        for t in tickers where isWaiting(t) { lastRead[t] = now.secondsSinceEpoch }
    }

    /// Drops openings overdue by more than `giveUpSeconds`, scheduled closes by more than
    /// `closeGiveUpSeconds` and determinations awaited longer than
    /// `determinationWindowSeconds` (see there); returns how many.
    @discardableResult
    public mutating func expire(now: Timestamp) -> Int {
        let before = count
        let openLimit = now.secondsSinceEpoch - Self.giveUpSeconds
        opens = opens.filter { $0.value >= openLimit }
        let scheduledLimit = now.secondsSinceEpoch - Self.closeGiveUpSeconds
        closes = closes.filter { $0.value >= scheduledLimit }
        let determinationLimit = now.secondsSinceEpoch - Self.determinationWindowSeconds
        determinations = determinations.filter { $0.value >= determinationLimit }
        lastRead = lastRead.filter { isWaiting($0.key) }
        return before - count
    }

    /// Whether a sweep (every unopened market, markets closed within the window) is due (never swept, or `every` passed).
    public func needsSweep(now: Timestamp, every seconds: Int64) -> Bool {
        guard let sweptAt else { return true }
        return now.secondsSinceEpoch - sweptAt.secondsSinceEpoch >= seconds
    }

    /// The index to persist for a restart, bounded to `limit` entries. When some are cut,
    /// the copy has no sweep time, so a restart sweeps at once and finds them again.
    public func persisted(limit: Int) -> DueIndex {
        guard count > limit else { return self }
        // Determinations first (they are due now), latest closes first; then the earliest openings.
        let d = determinations.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.prefix(limit)
        let o = opens.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.prefix(max(0, limit - d.count))
        return DueIndex(opens: Dictionary(uniqueKeysWithValues: o.map { ($0.key, $0.value) }),
                        determinations: Dictionary(uniqueKeysWithValues: d.map { ($0.key, $0.value) }), sweptAt: nil)
    }

    /// Equal when they wait for the same things (`lastRead` is pacing, not state to save).
    public static func == (a: DueIndex, b: DueIndex) -> Bool {
        a.opens == b.opens && a.determinations == b.determinations && a.sweptAt == b.sweptAt
    }

    enum CodingKeys: String, CodingKey { case opens, determinations, sweptAt = "swept_at" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        opens = try c.decodeIfPresent([String: Int64].self, forKey: .opens) ?? [:]
        determinations = try c.decodeIfPresent([String: Int64].self, forKey: .determinations) ?? [:]
        sweptAt = try c.decodeIfPresent(Timestamp.self, forKey: .sweptAt)
    }
}
