/// The market's trading state at an instant: quotes, sizes and volumes. Prices move every
/// 15 simulated minutes; none of this moves `updated_time`.
public struct MarketQuote: Sendable, Equatable {
    public var yesBid: Int64, yesAsk: Int64, noBid: Int64, noAsk: Int64
    public var yesBidSize: Int64, yesAskSize: Int64
    public var lastPrice: Int64
    public var previousYesBid: Int64, previousYesAsk: Int64, previousPrice: Int64
    public var volume: Int64, volume24h: Int64, openInterest: Int64
}

public enum MarketRendering {
    static let priceBucketSeconds: Int64 = 900

    /// Midpoint price at `t` (ten-thousandths of a dollar), a pure function of the market, on
    /// the grid of the price level structure shown at `t`.
    static func mid(_ m: MarketRecord, seed: UInt64, at t: Int64) -> Int64 {
        let bucket = UInt64(bitPattern: SimTime.floorDiv(t, priceBucketSeconds))
        let wiggle = Int64(SimRandom.mix(seed, bucket) % 7) - 3
        let tick = m.priceLevelStructure(at: t).quoteTick
        return min(9900, max(100, m.basePrice + wiggle * 100)) / tick * tick
    }

    static func volume(_ m: MarketRecord, at t: Int64) -> Int64 {
        let tl = m.timeline
        if t <= tl.openTs || m.baseVolume == 0 { return 0 }
        let span = max(1, tl.effectiveCloseTs - tl.openTs)
        // max(0, …): a few generated timelines close before they open; never a negative volume.
        let elapsed = max(0, min(t, tl.effectiveCloseTs) - tl.openTs)
        return m.baseVolume * elapsed / span / 100 * 100
    }

    public static func quote(_ m: MarketRecord, status: MarketStatus, at t: Int64) -> MarketQuote {
        let seed = stableHash(m.ticker)
        let tl = m.timeline
        let vol = volume(m, at: t)
        let vol24 = vol - volume(m, at: t - 86_400)
        var q = MarketQuote(yesBid: 0, yesAsk: 0, noBid: 10_000, noAsk: 10_000, yesBidSize: 0, yesAskSize: 0,
                            lastPrice: 0, previousYesBid: 0, previousYesAsk: 0, previousPrice: 0,
                            volume: vol, volume24h: vol24, openInterest: status == .finalized ? 0 : vol * 37 / 100 / 100 * 100)
        func fill(_ at: Int64) -> (Int64, Int64, Int64) {
            let mm = mid(m, seed: seed, at: at)
            let spread: Int64 = m.priceLevelStructure(at: at).quoteTick == 10 ? 50 : 100
            return (mm - spread, mm + spread, mm)
        }
        switch status {
        case .initialized:
            break
        case .active, .inactive:
            let (b, a, mm) = fill(t)
            q.yesBid = b; q.yesAsk = a; q.noBid = 10_000 - a; q.noAsk = 10_000 - b
            q.yesBidSize = Int64(SimRandom.mix(seed, UInt64(bitPattern: t / priceBucketSeconds)) % 900 + 1) * 100
            q.yesAskSize = Int64(SimRandom.mix(seed &+ 1, UInt64(bitPattern: t / priceBucketSeconds)) % 900 + 1) * 100
            q.lastPrice = vol > 0 ? mm : 0
        default:
            // Book is cancelled at close; the last trade stays.
            q.lastPrice = vol > 0 ? mid(m, seed: seed, at: tl.effectiveCloseTs - 1) : 0
        }
        let dayAgo = t - 86_400
        if dayAgo >= tl.openTs, dayAgo < tl.effectiveCloseTs {
            let (b, a, mm) = fill(dayAgo)
            q.previousYesBid = b; q.previousYesAsk = a
            q.previousPrice = volume(m, at: dayAgo) > 0 ? mm : 0
        }
        return q
    }

    static let earlyCloseCondition = "This market will close and expire early if the event occurs."

    /// The members of a market object that do not depend on the simulated time, without
    /// braces, for the given editable members (as listed, or after a metadata edit).
    static func staticJSON(_ m: MarketRecord, fields f: MarketFields, eventTicker: String) -> [UInt8] {
        var w = JSONWriter(capacity: 1024)
        w.key("ticker"); w.string(m.ticker)
        w.comma(); w.key("event_ticker"); w.string(eventTicker)
        w.comma(); w.key("market_type"); w.string(m.marketType)
        w.comma(); w.key("title"); w.string(f.title)
        w.comma(); w.key("subtitle"); w.raw("\"\"")
        w.comma(); w.key("yes_sub_title"); w.string(f.yesSubTitle)
        w.comma(); w.key("no_sub_title"); w.string(f.noSubTitle)
        w.comma(); w.key("created_time"); w.time(m.timeline.createdTs)
        w.comma(); w.key("open_time"); w.time(m.timeline.openTs)
        w.comma(); w.key("expected_expiration_time"); w.time(m.expectedExpirationTs)
        // Deprecated legacy field: the docs point to latest_expiration_time for its meaning.
        w.comma(); w.key("expiration_time"); w.time(m.latestExpirationTs)
        w.comma(); w.key("latest_expiration_time"); w.time(m.latestExpirationTs)
        w.comma(); w.key("settlement_timer_seconds"); w.int(m.timeline.settlementTimerSeconds)
        w.comma(); w.key("notional_value_dollars"); w.raw("\"1.0000\"")
        w.comma(); w.key("can_close_early"); w.bool(m.canCloseEarly)
        if m.canCloseEarly { w.comma(); w.key("early_close_condition"); w.string(earlyCloseCondition) }
        w.comma(); w.key("rules_primary"); w.string(f.rulesPrimary)
        w.comma(); w.key("rules_secondary"); w.string(f.rulesSecondary)
        w.comma(); w.key("liquidity_dollars"); w.raw("\"0.0000\"")
        w.comma(); w.key("exchange_index"); w.int(0)
        if let st = f.strikeType { w.comma(); w.key("strike_type"); w.string(st) }
        if let x = f.floorStrike { w.comma(); w.key("floor_strike"); w.rawString(x) }
        if let x = f.capStrike { w.comma(); w.key("cap_strike"); w.rawString(x) }
        w.rawString(m.extraJSON)
        return w.bytes
    }

    /// Appends the full market object as seen at `t`.
    public static func append(_ m: MarketRecord, at t: Int64, mode: UpdatedTimeMode = .metadataOnly, to w: inout JSONWriter) {
        w.bytes.append(0x7B)
        w.raw(m.staticBytes(at: t))
        appendTail(m, at: t, mode: mode, to: &w)
        w.bytes.append(0x7D)
    }

    /// The members after `staticJSON` (each preceded by a comma, no closing brace): every
    /// member that depends on the simulated time. Exact over `[t, validUntil(m, at: t))`.
    public static func appendTail(_ m: MarketRecord, at t: Int64, mode: UpdatedTimeMode = .metadataOnly, to w: inout JSONWriter) {
        let tl = m.timeline
        let status = tl.status(at: t)
        let q = quote(m, status: status, at: t)
        w.comma(); w.key("status"); w.rawString(status.rawValue.quotedJSON)
        w.comma(); w.key("close_time"); w.time(tl.shownCloseTs(at: t))
        w.comma(); w.key("updated_time"); w.time(tl.updatedTs(at: t, mode: mode))
        w.comma(); w.key("yes_bid_dollars"); w.dollars(q.yesBid)
        w.comma(); w.key("yes_ask_dollars"); w.dollars(q.yesAsk)
        w.comma(); w.key("no_bid_dollars"); w.dollars(q.noBid)
        w.comma(); w.key("no_ask_dollars"); w.dollars(q.noAsk)
        w.comma(); w.key("yes_bid_size_fp"); w.count(q.yesBidSize)
        w.comma(); w.key("yes_ask_size_fp"); w.count(q.yesAskSize)
        w.comma(); w.key("last_price_dollars"); w.dollars(q.lastPrice)
        w.comma(); w.key("previous_yes_bid_dollars"); w.dollars(q.previousYesBid)
        w.comma(); w.key("previous_yes_ask_dollars"); w.dollars(q.previousYesAsk)
        w.comma(); w.key("previous_price_dollars"); w.dollars(q.previousPrice)
        w.comma(); w.key("volume_fp"); w.count(q.volume)
        w.comma(); w.key("volume_24h_fp"); w.count(q.volume24h)
        w.comma(); w.key("open_interest_fp"); w.count(q.openInterest)
        let determined = status >= .determined
        w.comma(); w.key("result")
        w.raw(determined ? (m.resultYes ? "\"yes\"" : "\"no\"") : "\"\"")
        w.comma(); w.key("expiration_value"); w.string(determined ? m.expirationValue : "")
        let pls = m.priceLevelStructure(at: t)
        w.comma(); w.key("price_level_structure"); w.rawString(pls.rawValue.quotedJSON)
        w.comma(); w.key("price_ranges"); w.raw(pls.rangesJSON)
        // When the underlying event occurred: known once determined (the final close).
        w.comma(); w.key("occurrence_datetime"); w.optionalTime(determined ? tl.finalCloseTs : nil)
        if determined {
            w.comma(); w.key("settlement_value_dollars"); w.raw(m.resultYes ? "\"1.0000\"" : "\"0.0000\"")
        }
        if let s = tl.settlementTs(at: t) {
            w.comma(); w.key("settlement_ts"); w.time(s)
        }
    }

    /// The first instant after `t` at which anything `appendTail` writes may change: a
    /// timeline instant (status, shown close, updated/settlement time, rules text), the
    /// same instant a day later (`previous_*`, `volume_24h_fp` look a day back), the next
    /// 15-minute price bucket while quotes move (now or a day ago), and the next whole
    /// contract of volume (now or a day ago). Conservative: the rendering may stay equal
    /// past it, never change before it.
    public static func validUntil(_ m: MarketRecord, at t: Int64) -> Int64 {
        let tl = m.timeline
        var until = Int64.max
        @inline(__always) func consider(_ x: Int64) { if x > t, x < until { until = x } }
        // `volume` is 0 up to and including openTs, so it may first move at openTs + 1.
        consider(tl.openTs + 1); consider(tl.openTs + 1 + 86_400)
        tl.forEachInstant { x in consider(x); consider(x + 86_400) }
        let close = tl.effectiveCloseTs
        let dayAgo = t - 86_400
        let trading = t >= tl.openTs && t < close
        let tradingDayAgo = dayAgo >= tl.openTs && dayAgo < close
        if trading || tradingDayAgo {
            consider((SimTime.floorDiv(t, priceBucketSeconds) + 1) * priceBucketSeconds)
        }
        if trading { consider(nextVolumeStep(m, after: t)) }
        if tradingDayAgo { consider(nextVolumeStep(m, after: dayAgo) &+ 86_400) }
        return until
    }

    /// For `openTs <= x < effectiveCloseTs`: the first instant after `x` at which
    /// `volume(m, at:)` differs from `volume(m, at: x)`. `volume` is
    /// floor(B·e / (100·span))·100 with e = elapsed seconds, so the next step is at
    /// e' = ceil((k + 1)·100·span / B).
    static func nextVolumeStep(_ m: MarketRecord, after x: Int64) -> Int64 {
        let tl = m.timeline
        let b = m.baseVolume
        guard b > 0 else { return Int64.max }
        let span = max(1, tl.effectiveCloseTs - tl.openTs)
        let e = max(0, x - tl.openTs)
        let (be, o1) = b.multipliedReportingOverflow(by: e)
        let (unit, o2) = span.multipliedReportingOverflow(by: 100)
        guard !o1, !o2 else { return x + 1 }
        let k = be / unit
        let (num, o3) = (k + 1).multipliedReportingOverflow(by: unit)
        guard !o3 else { return x + 1 }
        let next = tl.openTs + (num + b - 1) / b
        return next > x ? next : x + 1
    }

    public static func json(_ m: MarketRecord, at t: Int64, mode: UpdatedTimeMode = .metadataOnly) -> String {
        var w = JSONWriter()
        append(m, at: t, mode: mode, to: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

extension String {
    var quotedJSON: String { "\"\(self)\"" }
}

public enum EntityRendering {
    public static func appendSeries(_ s: SeriesRecord, volume: Int64?, includeProductMetadata: Bool, at t: Int64, to w: inout JSONWriter) {
        w.raw("{")
        w.key("ticker"); w.string(s.ticker)
        w.comma(); w.key("frequency"); w.string(s.frequency)
        w.comma(); w.key("title"); w.string(s.title)
        w.comma(); w.key("category"); w.string(s.category)
        w.comma(); w.key("tags"); w.stringArray(s.tags)
        w.comma(); w.key("settlement_sources"); appendSources(s.settlementSources, to: &w)
        w.comma(); w.key("contract_url"); w.string(s.contractURL)
        w.comma(); w.key("contract_terms_url"); w.string(s.contractTermsURL)
        w.comma(); w.key("fee_type"); w.string(s.feeType)
        w.comma(); w.key("fee_multiplier"); w.double(s.feeMultiplier)
        w.comma(); w.key("additional_prohibitions"); w.stringArray(s.additionalProhibitions)
        if includeProductMetadata {
            w.comma(); w.key("product_metadata")
            if let c = s.competition {
                w.raw("{\"competition\":"); w.string(c)
                w.raw(",\"scope\":"); w.optionalString(s.scope)
                w.raw("}")
            } else { w.raw("null") }
        }
        if let v = volume { w.comma(); w.key("volume_fp"); w.count(v) }
        w.comma(); w.key("last_updated_ts"); w.time(s.lastUpdatedTs(at: t))
        w.raw("}")
    }

    static func appendSources(_ sources: [SettlementSource], to w: inout JSONWriter) {
        w.raw("[")
        for (i, src) in sources.enumerated() {
            if i > 0 { w.comma() }
            w.raw("{\"name\":"); w.string(src.name)
            w.raw(",\"url\":"); w.string(src.url)
            w.raw("}")
        }
        w.raw("]")
    }

    /// An event object; `nestedMarkets` adds a `markets` member.
    public static func appendEvent(_ e: EventRecord, series s: SeriesRecord, at t: Int64, to w: inout JSONWriter,
                                   nestedMarkets: (inout JSONWriter) -> Void) {
        w.raw("{")
        w.key("event_ticker"); w.string(e.ticker)
        w.comma(); w.key("series_ticker"); w.string(s.ticker)
        w.comma(); w.key("sub_title"); w.string(e.subTitle(at: t))
        w.comma(); w.key("title"); w.string(e.title)
        w.comma(); w.key("collateral_return_type"); w.string(e.mutuallyExclusive ? "MECNET" : "")
        w.comma(); w.key("mutually_exclusive"); w.bool(e.mutuallyExclusive)
        w.comma(); w.key("category"); w.string(s.category)
        if let d = e.strikeDate { w.comma(); w.key("strike_date"); w.time(d) }
        if let p = e.strikePeriod { w.comma(); w.key("strike_period"); w.string(p) }
        w.comma(); w.key("available_on_brokers"); w.bool(false)
        w.comma(); w.key("product_metadata"); w.raw("null")
        w.comma(); w.key("settlement_sources"); appendSources(s.settlementSources, to: &w)
        w.comma(); w.key("last_updated_ts"); w.time(e.lastUpdatedTs(at: t))
        nestedMarkets(&w)
        w.raw("}")
    }
}
