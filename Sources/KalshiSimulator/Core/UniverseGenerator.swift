/// Builds a `Universe` deterministically from (seed, scale, reference time).
///
/// Sizes at scale 1.0 follow the real exchange: ≈10,000 series, ≈1,000 of them Sports of
/// which ≈100 are game series, and ≈150,000 non-multivariate markets.
struct UniverseGenerator {
    var rng: SimRandom
    let scale: Double
    let ref: Int64
    var usedSeriesTickers = Set<String>()

    static let minute: Int64 = 60
    static let hour: Int64 = 3600
    static let day: Int64 = 86_400

    init(seed: UInt64, scale: Double, ref: Int64) {
        self.rng = SimRandom(seed: seed ^ 0x5EED_0F_4A15_11)
        self.scale = scale
        self.ref = ref
    }

    struct Draft {
        var series: SeriesRecord
        var events: [(EventRecord, [MarketRecord])] = []
    }

    struct Built {
        var series: [SeriesRecord]
        var events: [EventRecord]
        var markets: [MarketRecord]
    }

    // MARK: Top level

    mutating func build() -> Built {
        let total = max(40, Int((10_000 * scale).rounded()))
        let sportsTotal = max(8, Int((1_000 * scale).rounded()))
        let games = max(2, Int((100 * scale).rounded()))
        let mveCount = max(1, Int((10 * scale).rounded()))
        let ladders = max(4, Int((60 * scale).rounded()))
        let nonSports = total - sportsTotal

        var drafts: [Draft] = []
        for i in 0..<games { drafts.append(makeGameSeries(i)) }
        for i in 0..<(sportsTotal - games) { drafts.append(makeFuturesSeries(i)) }
        for i in 0..<ladders { drafts.append(makeLadderSeries(i)) }
        // Non-sports categories, at least one series each, shares by weight.
        let cats = Catalog.tagsByCategory.map(\.category).filter { $0 != "Sports" }
        let weights = cats.map { Catalog.categoryWeights[$0] ?? 1 }
        var perCat = cats.map { _ in 1 }
        for _ in 0..<max(0, nonSports - ladders - cats.count) { perCat[rng.weighted(weights)] += 1 }
        for (ci, c) in cats.enumerated() {
            for j in 0..<perCat[ci] { drafts.append(makeGeneralSeries(category: c, index: j)) }
        }

        // Fill events and markets. Game markets must exist before the combos that use them.
        for i in drafts.indices where drafts[i].series.kind != .multivariate {
            drafts[i].events = makeEvents(for: drafts[i].series)
        }
        let gameLegs: [(String, String)] = drafts.filter { $0.series.kind == .game }.flatMap { d in
            d.events.flatMap { ev in ev.1.map { (ev.0.ticker, $0.ticker) } }
        }
        for i in 0..<mveCount {
            var d = makeMultivariateSeries(i)
            d.events = makeMultivariateEvents(for: d.series, legs: gameLegs)
            drafts.append(d)
        }

        // Assemble in ticker order: series, then events within a series, then markets.
        drafts.sort { $0.series.ticker < $1.series.ticker }
        var series: [SeriesRecord] = []
        var events: [EventRecord] = []
        var markets: [MarketRecord] = []
        series.reserveCapacity(drafts.count)
        for d in drafts {
            var s = d.series
            let si = series.count
            let eStart = events.count
            let mStart = markets.count
            for (e0, ms0) in d.events.sorted(by: { $0.0.ticker < $1.0.ticker }) {
                var e = e0
                e.seriesIndex = si
                let ei = events.count
                let emStart = markets.count
                for m0 in ms0.sorted(by: { $0.ticker < $1.ticker }) {
                    var m = m0
                    m.seriesIndex = si
                    m.eventIndex = ei
                    m.staticJSON = MarketRendering.staticJSON(m, fields: m.fields, eventTicker: e.ticker)
                    if let edited = m.edited {
                        m.editedStaticJSON = MarketRendering.staticJSON(m, fields: edited, eventTicker: e.ticker)
                    }
                    markets.append(m)
                }
                e.marketRange = emStart..<markets.count
                events.append(e)
            }
            s.eventRange = eStart..<events.count
            s.marketRange = mStart..<markets.count
            series.append(s)
        }
        return Built(series: series, events: events, markets: markets)
    }

    // MARK: Series

    mutating func uniqueSeriesTicker(_ base: String) -> String {
        var t = base
        var n = 2
        while usedSeriesTickers.contains(t) { t = "\(base)\(n)"; n += 1 }
        usedSeriesTickers.insert(t)
        return t
    }

    mutating func seriesCreatedTs() -> (Int64, Int64?, Int64?) {
        // 1 % of series appear during the run, 0.5 % disappear; 5 % change metadata.
        let created: Int64 = rng.chance(0.01)
            ? ref + rng.int64(10 * Self.minute...36 * Self.hour)
            : ref - rng.int64(30 * Self.day...900 * Self.day)
        let delisted: Int64? = rng.chance(0.005) ? max(created, ref) + rng.int64(30 * Self.minute...48 * Self.hour) : nil
        let meta: Int64? = rng.chance(0.05) ? max(created + 1, ref + rng.int64(-20 * Self.day...24 * Self.hour)) : nil
        return (created, delisted, meta)
    }

    func docsURLs(_ stem: String) -> (String, String) {
        ("https://kalshi-public-docs.s3.us-east-1.amazonaws.com/regulatory/product-certifications/\(stem).pdf",
         "https://kalshi-public-docs.s3.amazonaws.com/contract_terms/\(stem).pdf")
    }

    mutating func baseSeries(ticker: String, title: String, category: String, tags: [String]?, frequency: String,
                             kind: SeriesKind, sources: [SettlementSource]) -> SeriesRecord {
        let (created, delisted, meta) = seriesCreatedTs()
        let (c, t) = docsURLs(ticker)
        return SeriesRecord(
            ticker: ticker, title: title, category: category, tags: tags, frequency: frequency, kind: kind,
            sport: nil, competition: nil, scope: nil,
            feeType: rng.chance(0.9) ? "quadratic" : (rng.chance(0.5) ? "quadratic_with_maker_fees" : "flat"),
            feeMultiplier: rng.chance(0.85) ? 1 : 0.5,
            settlementSources: sources, contractURL: c, contractTermsURL: t,
            additionalProhibitions: nil, createdTs: created, delistedTs: delisted, metadataChangeTs: meta)
    }

    mutating func makeGameSeries(_ i: Int) -> Draft {
        let leagues = Catalog.leagues
        let league = leagues[i % leagues.count]
        let round = i / leagues.count
        let ticker = uniqueSeriesTicker("KX\(league.code)\(round == 0 ? "" : String(round + 1))\(league.gameWord)")
        var tags = [league.sport]
        if let x = league.extraTag { tags.append(x) }
        var s = baseSeries(ticker: ticker, title: league.title, category: "Sports", tags: tags, frequency: "custom",
                           kind: .game, sources: [SettlementSource(name: "ESPN", url: "https://www.espn.com/")])
        s.createdTs = min(s.createdTs, ref - 60 * Self.day)  // game series are long-lived
        s.delistedTs = nil
        s.sport = league.sport
        s.competition = league.competition
        s.scope = "Games"
        s.feeType = "quadratic_with_maker_fees"
        s.additionalProhibitions = ["Athletes, coaches, referees and staff of the league may not trade these contracts."]
        return Draft(series: s)
    }

    mutating func makeFuturesSeries(_ i: Int) -> Draft {
        let f = Catalog.sportsFutures[i % Catalog.sportsFutures.count]
        let round = i / Catalog.sportsFutures.count
        let stem = round == 0 ? f.stem : f.stem + Catalog.futureScopes[(round - 1) % Catalog.futureScopes.count]
        let ticker = uniqueSeriesTicker("KX" + stem)
        var tags: [String]? = [f.sport]
        if rng.chance(0.05) { tags = nil }
        else if f.sport == "Football", rng.chance(0.5) { tags?.append("NFL") }
        else if f.sport == "MMA", rng.chance(0.5) { tags?.append("UFC") }
        let title = round == 0 ? f.title : "\(f.title) – \(stem.lowercased())"
        var s = baseSeries(ticker: ticker, title: title, category: "Sports", tags: tags,
                           frequency: rng.chance(0.6) ? "annual" : "one_off", kind: .sportsFutures,
                           sources: [SettlementSource(name: "ESPN", url: "https://www.espn.com/")])
        s.sport = f.sport
        s.competition = f.competition
        s.scope = f.scope
        return Draft(series: s)
    }

    mutating func makeLadderSeries(_ i: Int) -> Draft {
        let fixed: [(String, String, [String], String)] = [
            ("KXBTCD", "Crypto", ["BTC", "Hourly"], "Bitcoin price today at 5pm EST"),
            ("KXETHD", "Crypto", ["ETH", "Hourly"], "Ethereum price today"),
            ("KXINXD", "Financials", ["S&P", "Daily"], "S&P 500 daily range"),
            ("KXHIGHNY", "Climate and Weather", ["Daily temperature"], "Highest temperature in NYC today"),
        ]
        let pick = i < fixed.count ? fixed[i] : fixed[rng.int(0...(fixed.count - 1))]
        let ticker = uniqueSeriesTicker(i < fixed.count ? pick.0 : pick.0 + "X")
        let src = SettlementSource(name: pick.1 == "Crypto" ? "CF Benchmarks" : (pick.1 == "Financials" ? "S&P Dow Jones Indices" : "National Weather Service"),
                                   url: pick.1 == "Crypto" ? "https://www.cfbenchmarks.com/" : "https://www.weather.gov/")
        let s = baseSeries(ticker: ticker, title: pick.3, category: pick.1, tags: pick.2,
                           frequency: pick.1 == "Crypto" ? "hourly" : "daily", kind: .strikeLadder, sources: [src])
        return Draft(series: s)
    }

    mutating func makeGeneralSeries(category: String, index: Int) -> Draft {
        let stems = Catalog.stems[category] ?? ["MISC"]
        let stem = stems[index % stems.count]
        let round = index / stems.count
        let legacy = rng.chance(0.12)
        var base = (legacy ? "" : "KX") + stem
        if round > 0 { base += String(round + 1) }
        let ticker = uniqueSeriesTicker(base)
        var tags: [String]? = nil
        if let catTags = Catalog.tagsByCategory.first(where: { $0.category == category })?.tags {
            let r = rng.unit()
            if r < 0.12 { tags = nil }
            else if r < 0.80 { tags = [rng.pick(catTags)] }
            else {
                var set: [String] = []
                for _ in 0..<rng.int(2...3) {
                    let t = rng.pick(catTags)
                    if !set.contains(t) { set.append(t) }
                }
                tags = set
            }
        }
        let title = rng.chance(0.03) ? rng.pick(Catalog.unicodeTitles) : "\(category): \(stem.capitalized) #\(index + 1)"
        let freq = ["daily", "weekly", "monthly", "annual", "one_off", "custom"][rng.weighted([3, 2, 3, 2, 3, 4])]
        let s = baseSeries(ticker: ticker, title: title, category: category, tags: tags, frequency: freq, kind: .general,
                           sources: rng.chance(0.1) ? [] : [SettlementSource(name: "\(category) Source", url: "https://example.org/\(stem.lowercased())")])
        return Draft(series: s)
    }

    mutating func makeMultivariateSeries(_ i: Int) -> Draft {
        let stems = ["KXMVENFLSINGLEGAME", "KXMVESPORTSMULTIGAMEEXTENDED", "KXMVENBASINGLEGAME", "KXMVECROSSCATEGORY"]
        let ticker = uniqueSeriesTicker(stems[i % stems.count])
        var s = baseSeries(ticker: ticker, title: "Multivariate combos \(i + 1)", category: "Sports", tags: nil,
                           frequency: "custom", kind: .multivariate, sources: [])
        s.delistedTs = nil
        s.createdTs = min(s.createdTs, ref - 30 * Self.day)
        return Draft(series: s)
    }

    // MARK: Event timing

    enum Phase: CaseIterable { case settledOld, settledRecent, determined, disputed, closed, active, initialized, future }

    struct Times {
        var created: Int64, open: Int64, close: Int64, determined: Int64
        var disputed: Int64? = nil, amended: Int64? = nil
        var timer: Int64
    }

    mutating func samplePhase() -> Phase {
        Phase.allCases[rng.weighted([0.28, 0.08, 0.03, 0.015, 0.04, 0.46, 0.06, 0.035])]
    }

    /// Times for an event in the given phase relative to `ref`.
    mutating func times(_ phase: Phase) -> Times {
        let m = Self.minute, h = Self.hour, d = Self.day
        var timer: Int64 = rng.pick([600, 1800, 3600, 7200])
        func back(_ close: Int64) -> (Int64, Int64) {
            let open = close - rng.int64(1 * d...90 * d)
            return (open - rng.int64(0...3 * d), open)
        }
        switch phase {
        case .settledOld, .settledRecent:
            let settled = phase == .settledOld ? ref - rng.int64(25 * h...200 * d) : ref - rng.int64(5 * m...23 * h)
            let det = settled - timer
            let close = det - rng.int64(5 * m...12 * h)
            let (cr, op) = back(close)
            return Times(created: cr, open: op, close: close, determined: det, timer: timer)
        case .determined:
            timer = rng.pick([3600, 7200, 10800])
            let det = ref - rng.int64(1 * m...(timer - 5 * m))
            let close = det - rng.int64(5 * m...6 * h)
            let (cr, op) = back(close)
            return Times(created: cr, open: op, close: close, determined: det, timer: timer)
        case .disputed:
            timer = rng.pick([3600, 7200])
            let det = ref - rng.int64(2 * h...10 * h)
            let disp = det + rng.int64(10 * m...50 * m)
            let amended = rng.chance(0.5) ? ref + rng.int64(30 * m...6 * h) : ref - rng.int64(1 * m...30 * m)
            let close = det - rng.int64(5 * m...6 * h)
            let (cr, op) = back(close)
            return Times(created: cr, open: op, close: close, determined: det, disputed: disp, amended: amended, timer: timer)
        case .closed:
            let close = ref - rng.int64(1 * m...6 * h)
            let (cr, op) = back(close)
            return Times(created: cr, open: op, close: close, determined: ref + rng.int64(1 * m...6 * h), timer: timer)
        case .active:
            let op = ref - rng.int64(1 * h...60 * d)
            let close = ref + rng.int64(1 * h...120 * d)
            return Times(created: op - rng.int64(0...2 * d), open: op, close: close,
                         determined: close + rng.int64(5 * m...2 * h), timer: timer)
        case .initialized:
            let op = ref + rng.int64(10 * m...5 * d)
            let close = op + rng.int64(1 * d...60 * d)
            return Times(created: ref - rng.int64(1 * h...5 * d), open: op, close: close,
                         determined: close + rng.int64(5 * m...2 * h), timer: timer)
        case .future:
            let cr = ref + rng.int64(1 * m...36 * h)
            let op = cr + rng.int64(0...6 * h)
            let close = op + rng.int64(6 * h...30 * d)
            return Times(created: cr, open: op, close: close, determined: close + rng.int64(5 * m...2 * h), timer: timer)
        }
    }

    func timeline(_ t: Times) -> MarketTimeline {
        MarketTimeline(createdTs: t.created, openTs: t.open, scheduledCloseTs: t.close, determinedTs: t.determined,
                       disputedTs: t.disputed, amendedTs: t.amended, settlementTimerSeconds: t.timer)
    }

    /// Per-market variety on top of the event's times: pauses, early closes, close-time
    /// extensions, reopens, markets listed later.
    mutating func vary(_ tl0: MarketTimeline, phase: Phase, canCloseEarly: Bool) -> MarketTimeline {
        var tl = tl0
        let m = Self.minute, h = Self.hour, d = Self.day
        if phase == .active {
            if rng.chance(0.04) {
                let start = max(tl.openTs + m, ref + rng.int64(-2 * d...1 * d))
                tl.pauseStartTs = start
                tl.pauseEndTs = rng.chance(0.5) ? nil : start + rng.int64(10 * m...12 * h)
                if tl.pauseStartTs! >= tl.scheduledCloseTs { tl.pauseStartTs = nil; tl.pauseEndTs = nil }
            }
            if canCloseEarly, rng.chance(0.05) {
                let e = ref + rng.int64(10 * m...12 * h)
                if e < tl.scheduledCloseTs, e > tl.openTs {
                    tl.closeEdit1 = CloseEdit(at: e, to: e)
                    tl.determinedTs = e + rng.int64(5 * m...1 * h)
                }
            } else if rng.chance(0.02) {
                // The close time is moved later while the market trades (close_date_updated).
                let x = max(tl.openTs + m, ref + rng.int64(-2 * d...12 * h))
                if x < tl.scheduledCloseTs {
                    let later = rng.int64(1 * d...14 * d)
                    tl.closeEdit1 = CloseEdit(at: x, to: tl.scheduledCloseTs + later)
                    tl.determinedTs += later
                }
            }
            if rng.chance(0.02) {
                // A market listed later: it opens when it is created, and never closes
                // (early or as scheduled) before it opens.
                tl.createdTs = ref + rng.int64(5 * m...24 * h)
                tl.openTs = tl.createdTs
                if let e = tl.closeEdit1, e.at <= tl.openTs { tl.closeEdit1 = nil }
                if tl.scheduledCloseTs <= tl.openTs { tl.scheduledCloseTs = tl.openTs + rng.int64(1 * h...7 * d) }
                if let p = tl.pauseStartTs, p <= tl.openTs { tl.pauseStartTs = nil; tl.pauseEndTs = nil }
                tl.determinedTs = max(tl.determinedTs, tl.finalCloseTs + rng.int64(5 * m...2 * h))
            }
        }
        if phase == .active || phase == .closed, tl.closeEdit1 == nil, rng.chance(0.02) {
            // Reopened: after the close, close_time is moved into the future
            // (close_date_updated, then activated), and the market trades again.
            let c0 = tl.scheduledCloseTs
            let r = c0 + rng.int64(10 * m...6 * h)
            let c1 = r + rng.int64(1 * h...3 * d)
            tl.closeEdit1 = CloseEdit(at: r, to: c1)
            tl.pauseStartTs = nil
            tl.pauseEndTs = nil
            tl.determinedTs = c1 + rng.int64(5 * m...2 * h)
            tl.disputedTs = nil
            tl.amendedTs = nil
        }
        if canCloseEarly, phase == .settledOld || phase == .settledRecent, rng.chance(0.4) {
            tl.closeEdit1 = CloseEdit(at: tl.scheduledCloseTs, to: tl.scheduledCloseTs)
            tl.scheduledCloseTs += rng.int64(1 * d...30 * d)
        }
        return tl
    }

    // MARK: Events and markets

    mutating func makeEvents(for s: SeriesRecord) -> [(EventRecord, [MarketRecord])] {
        switch s.kind {
        case .game: return makeGames(for: s)
        case .strikeLadder: return makeLadder(for: s)
        default: return makeGeneralEvents(for: s)
        }
    }

    func clampToSeries(_ t: inout MarketTimeline, _ s: SeriesRecord) {
        func shift(_ t: inout MarketTimeline, by x: Int64, fromCreation: Bool) {
            if fromCreation { t.createdTs += x; t.openTs += x }
            t.scheduledCloseTs += x; t.determinedTs += x
            t.closeEdit1 = t.closeEdit1.map { CloseEdit(at: $0.at + x, to: $0.to + x) }
            t.closeEdit2 = t.closeEdit2.map { CloseEdit(at: $0.at + x, to: $0.to + x) }
            t.disputedTs = t.disputedTs.map { $0 + x }
            t.amendedTs = t.amendedTs.map { $0 + x }
            if fromCreation {
                t.pauseStartTs = t.pauseStartTs.map { $0 + x }
                t.pauseEndTs = t.pauseEndTs.map { $0 + x }
                t.metadataChangeTs = t.metadataChangeTs.map { $0 + x }
                t.priceLevelStructureChangeTs = t.priceLevelStructureChangeTs.map { $0 + x }
            }
        }
        if t.createdTs < s.createdTs {
            // A series that appears later only has events created after it.
            if s.createdTs > ref {
                shift(&t, by: s.createdTs - t.createdTs, fromCreation: true)
            } else {
                t.createdTs = s.createdTs
                if t.openTs < t.createdTs { t.openTs = t.createdTs }
                // Never close before opening: move the rest of the life after the open.
                let close = t.closeEdit1?.at ?? t.scheduledCloseTs
                if close <= t.openTs {
                    shift(&t, by: t.openTs - close + Self.hour, fromCreation: false)
                    if let p = t.pauseStartTs, p <= t.openTs { t.pauseStartTs = nil; t.pauseEndTs = nil }
                }
            }
        }
    }

    /// The structures markets are listed with (MVE markets: `center_deci_edge_centi_cent`,
    /// as the fixed-point page says), and those a structure change moves to.
    static let listedStructures: [(PriceLevelStructure, Double)] = [
        (.linearCent, 85), (.deciCent, 5), (.taperedDeciCent, 4), (.centerWholeEdgeHalfCent, 2),
        (.centerHalfEdgeQuintCent, 2), (.centerQuintEdgeDeciCent, 2),
    ]
    static let newerStructures: [PriceLevelStructure] = [
        .taperedDeciCent, .centerWholeEdgeHalfCent, .centerWholeEdgeQuintCent, .centerHalfEdgeHalfCent,
        .centerHalfEdgeQuintCent, .centerHalfEdgeDeciCent, .centerQuintEdgeQuintCent, .centerQuintEdgeDeciCent,
        .deciCent, .linearCent,
    ]

    /// A market with its final timeline, plus the changes every kind of market may get: a
    /// metadata edit (5 %) and, for non-MVE markets, a price level structure change (2 %).
    mutating func market(ticker: String, title: String, yes: String, no: String, timeline: MarketTimeline,
                         canCloseEarly: Bool, expected: Int64, rules: String, resultYes: Bool,
                         expirationValue: String = "", strikeType: String? = nil, floor: Double? = nil, cap: Double? = nil,
                         extra: String = "", multivariate: Bool = false) -> MarketRecord {
        let h = Self.hour, d = Self.day
        let structure: PriceLevelStructure = multivariate
            ? .centerDeciEdgeCentiCent
            : Self.listedStructures[rng.weighted(Self.listedStructures.map(\.1))].0
        let tick = structure.quoteTick
        let price: Int64 = tick == 10 ? Int64(rng.int(1...999)) * 10 : Int64(rng.int(1...99)) * 100
        let vol = rng.chance(0.2) ? 0 : Int64(rng.int(1...40_000)) * Int64(rng.int(1...125))
        var tl = timeline
        let fields = MarketFields(title: title, yesSubTitle: yes, noSubTitle: no, rulesPrimary: rules,
                                  strikeType: strikeType, floorStrike: floor.map(fmt), capStrike: cap.map(fmt))
        var edited: MarketFields? = nil
        var editKind: MetadataEditKind? = nil
        if rng.chance(0.05) {
            var at = max(tl.createdTs + 1, ref + rng.int64(-10 * d...24 * h))
            if at >= tl.determinedTs { at = tl.createdTs + max(1, (tl.determinedTs - tl.createdTs) / 2) }
            tl.metadataChangeTs = at
            var kind = [MetadataEditKind.title, .subtitle, .rules, .strike][rng.weighted([15, 25, 35, 25])]
            if kind == .strike && floor == nil && cap == nil { kind = .rules }
            var e = fields
            switch kind {
            case .title: e.title += " (revised)"
            case .subtitle: e.yesSubTitle += " (revised)"; e.noSubTitle += " (revised)"
            case .rules: e.rulesSecondary = "Updated: see the rulebook for the revised settlement terms."
            case .strike:
                let delta: Double = (floor ?? cap ?? 0).magnitude >= 100 ? 5 : 0.5
                e.floorStrike = floor.map { fmt($0 + delta) }
                e.capStrike = cap.map { fmt($0 + delta) }
            }
            edited = e
            editKind = kind
        }
        var newStructure: PriceLevelStructure? = nil
        if !multivariate, rng.chance(0.02) {
            let lo = tl.openTs + 1, hi = tl.finalCloseTs - 1
            let at = min(hi, max(lo, ref + rng.int64(-3 * d...24 * h)))
            let to = Self.newerStructures[rng.int(0...(Self.newerStructures.count - 1))]
            if hi > lo, to != structure {
                tl.priceLevelStructureChangeTs = at
                newStructure = to
            }
        }
        return MarketRecord(
            ticker: ticker, eventIndex: 0, seriesIndex: 0, timeline: tl, isMultivariate: multivariate,
            marketType: "binary", fields: fields, edited: edited, editKind: editKind, canCloseEarly: canCloseEarly,
            expectedExpirationTs: expected,
            latestExpirationTs: max(tl.finalCloseTs, tl.scheduledCloseTs, expected) + 7 * Self.day,
            basePrice: price, resultYes: resultYes,
            expirationValue: expirationValue, baseVolume: vol * 100, extraJSON: extra,
            priceLevelStructure: structure, newPriceLevelStructure: newStructure)
    }

    mutating func makeGames(for s: SeriesRecord) -> [(EventRecord, [MarketRecord])] {
        let league = Catalog.leagues.first { s.ticker.hasPrefix("KX" + $0.code) } ?? Catalog.leagues[0]
        var out: [(EventRecord, [MarketRecord])] = []
        var used = Set<String>()
        let h = Self.hour, d = Self.day, m = Self.minute
        for _ in 0..<rng.int(10...40) {
            let start = (ref + rng.int64(-20 * d...12 * d)) / 900 * 900
            let a = rng.int(0...(league.teams.count - 1))
            var b = rng.int(0...(league.teams.count - 2))
            if b >= a { b += 1 }
            let away = league.teams[a], home = league.teams[b]
            var et = "\(s.ticker)-\(SimTime.tickerDate(start))\(away)\(home)"
            if used.contains(et) { et += "G2" }
            if used.contains(et) { continue }
            used.insert(et)
            let created = start - rng.int64(3 * d...10 * d)
            let end = start + rng.int64(150 * m...210 * m)
            var base = MarketTimeline(createdTs: created, openTs: created + rng.int64(0...2 * h),
                                      scheduledCloseTs: start + 14 * d, earlyCloseTs: end,
                                      determinedTs: end + rng.int64(5 * m...45 * m),
                                      settlementTimerSeconds: rng.pick([600, 1800]))
            clampToSeries(&base, s)
            let title = "\(away) at \(home)"
            let ev = EventRecord(ticker: et, seriesIndex: 0, title: "\(league.competition): \(title)",
                                 subTitle: "\(away) at \(home) (\(SimTime.humanDate(start)))", mutuallyExclusive: true,
                                 strikeDate: nil, strikePeriod: nil, createdTs: base.createdTs,
                                 metadataChangeTs: rng.chance(0.05) ? max(base.createdTs + 1, ref + rng.int64(-d...d)) : nil)
            var outcomes = [away, home]
            if league.hasTie { outcomes.append("TIE") }
            let winner = rng.int(0...(outcomes.count - 1))
            var ms: [MarketRecord] = []
            for (k, o) in outcomes.enumerated() {
                var tl = base
                if rng.chance(0.03) { tl.pauseStartTs = start + h; tl.pauseEndTs = start + h + rng.int64(5 * m...30 * m) }
                if rng.chance(0.02) {
                    tl.disputedTs = tl.determinedTs + tl.settlementTimerSeconds / 2
                    tl.amendedTs = tl.disputedTs! + rng.int64(30 * m...6 * h)
                }
                let name = o == "TIE" ? "Tie" : o
                ms.append(market(ticker: "\(et)-\(o)", title: "\(title) Winner?", yes: name, no: name, timeline: tl,
                                 canCloseEarly: true, expected: start + 3 * h,
                                 rules: "If \(name) wins the \(title) game originally scheduled for \(SimTime.humanDate(start)), then the market resolves to Yes.",
                                 resultYes: k == winner))
            }
            out.append((ev, ms))
        }
        return out
    }

    mutating func makeLadder(for s: SeriesRecord) -> [(EventRecord, [MarketRecord])] {
        let hourly = s.frequency == "hourly"
        let step: Int64 = hourly ? Self.hour : Self.day
        let anchor = ref / step * step
        let crypto = s.category == "Crypto"
        let between = s.category == "Financials"
        let center: Double = crypto ? (s.ticker.contains("ETH") ? 3500 : 98000) : (between ? 6000 : 50)
        let width: Double = crypto ? (s.ticker.contains("ETH") ? 25 : 250) : (between ? 25 : 2)
        var out: [(EventRecord, [MarketRecord])] = []
        let past = rng.int(6...24), future = rng.int(2...10)
        for k in -past...future {
            let expiry = anchor + Int64(k) * step + (hourly ? 0 : 17 * Self.hour)
            let et = "\(s.ticker)-\(hourly ? SimTime.tickerDateHour(expiry) : SimTime.tickerDate(expiry))"
            let open = expiry - (hourly ? rng.int64(1...24) * Self.hour : rng.int64(1...3) * Self.day)
            var tl = MarketTimeline(createdTs: open - rng.int64(0...2 * Self.hour), openTs: open, scheduledCloseTs: expiry,
                                    determinedTs: expiry + rng.int64(1 * Self.minute...20 * Self.minute),
                                    settlementTimerSeconds: rng.pick([600, 1800, 3600]))
            clampToSeries(&tl, s)
            let ev = EventRecord(ticker: et, seriesIndex: 0, title: s.title, subTitle: "On \(SimTime.humanDate(expiry))",
                                 mutuallyExclusive: between, strikeDate: expiry, strikePeriod: nil, createdTs: tl.createdTs)
            let drift = Double(rng.int(-8...8)) * width / 2
            let actual = center + drift + Double(rng.int(-100...100)) * width / 100
            var ms: [MarketRecord] = []
            for j in 0..<rng.int(6...14) {
                let mtl = vary(tl, phase: tl.openTs > ref ? .initialized : (tl.determinedTs + tl.settlementTimerSeconds < ref ? .settledOld : .active), canCloseEarly: false)
                let strike = center + drift + Double(j - 5) * width
                if between {
                    let floor = strike, cap = strike + width
                    let mid = (floor + cap) / 2
                    let mt = "\(et)-B\(fmt(mid))"
                    ms.append(market(ticker: mt, title: "\(s.title) between \(fmt(floor)) and \(fmt(cap))?", yes: "\(fmt(floor)) to \(fmt(cap))",
                                     no: "\(fmt(floor)) to \(fmt(cap))", timeline: mtl, canCloseEarly: false, expected: expiry + 5 * Self.minute,
                                     rules: "If the value is between \(fmt(floor)) and \(fmt(cap)) on \(SimTime.humanDate(expiry)), then the market resolves to Yes.",
                                     resultYes: actual >= floor && actual < cap, expirationValue: fmt(actual),
                                     strikeType: "between", floor: floor, cap: cap))
                } else {
                    let floor = crypto ? strike - 0.01 : strike
                    let mt = "\(et)-T\(fmt(floor))"
                    ms.append(market(ticker: mt, title: "\(s.title) above \(fmt(floor))?", yes: "\(fmt(floor)) or above",
                                     no: "\(fmt(floor)) or above", timeline: mtl, canCloseEarly: false, expected: expiry + 5 * Self.minute,
                                     rules: "If the value is above \(fmt(floor)) on \(SimTime.humanDate(expiry)), then the market resolves to Yes.",
                                     resultYes: actual > floor, expirationValue: fmt(actual),
                                     strikeType: "greater", floor: floor))
                }
            }
            out.append((ev, dedupe(ms)))
        }
        return out
    }

    func dedupe(_ ms: [MarketRecord]) -> [MarketRecord] {
        var seen = Set<String>()
        return ms.filter { seen.insert($0.ticker).inserted }
    }

    /// Decimal text for strikes: `98999.99`, `6012.5`, `50`.
    func fmt(_ v: Double) -> String {
        let cents = Int64((v * 100).rounded())
        let whole = cents / 100, frac = abs(cents % 100)
        if frac == 0 { return String(whole) }
        if frac % 10 == 0 { return "\(whole).\(frac / 10)" }
        return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }

    static let nameCodes = ["JDOE", "ASMITH", "BLEE", "CWANG", "DKIM", "EMARTIN", "FGARCIA", "GROSSI", "HMULLER", "IPETROV",
                            "JNGUYEN", "KSATO", "LDUBOIS", "MSILVA", "NCOHEN", "OHASSAN", "PNOVAK", "QLI", "RPATEL", "SJONES"]

    mutating func makeGeneralEvents(for s: SeriesRecord) -> [(EventRecord, [MarketRecord])] {
        var out: [(EventRecord, [MarketRecord])] = []
        var used = Set<String>()
        let futures = s.kind == .sportsFutures
        for _ in 0..<(futures ? rng.int(1...3) : rng.int(1...4)) {
            let phase = samplePhase()
            var tl = timeline(times(phase))
            clampToSeries(&tl, s)
            let dated = ["daily", "weekly", "monthly"].contains(s.frequency)
            let yy = SimTime.tickerDate(tl.scheduledCloseTs).prefix(2)
            var et = dated ? "\(s.ticker)-\(SimTime.tickerDate(tl.scheduledCloseTs))" : "\(s.ticker)-\(yy)"
            if used.contains(et) {
                var n = 2
                while used.contains("\(et)\(Character(UnicodeScalar(UInt8(63 + n))))") { n += 1 }
                et = "\(et)\(Character(UnicodeScalar(UInt8(63 + n))))"
            }
            used.insert(et)
            let nMarkets = futures ? rng.int(4...12) : rng.int(1...9)
            let names = rng.chance(0.5) || futures
            let title = "\(s.title) — \(dated ? SimTime.humanDate(tl.scheduledCloseTs) : "20\(yy)")"
            let ev = EventRecord(ticker: et, seriesIndex: 0, title: title, subTitle: dated ? "On \(SimTime.humanDate(tl.scheduledCloseTs))" : "In 20\(yy)",
                                 mutuallyExclusive: names, strikeDate: dated ? tl.scheduledCloseTs : nil,
                                 strikePeriod: dated ? nil : (s.frequency == "annual" ? "year" : ""), createdTs: tl.createdTs,
                                 metadataChangeTs: rng.chance(0.05) ? max(tl.createdTs + 1, ref + rng.int64(-Self.day...Self.day)) : nil)
            let canCloseEarly = rng.chance(0.3)
            let winner = rng.int(0...(nMarkets - 1))
            var ms: [MarketRecord] = []
            if nMarkets == 1, rng.chance(0.5) {
                // Single-market events often reuse the event ticker (KXELONMARS-99).
                let mtl = vary(tl, phase: phase, canCloseEarly: canCloseEarly)
                ms.append(market(ticker: et, title: "Will \(s.title.lowercased()) happen?", yes: "Yes", no: "No", timeline: mtl,
                                 canCloseEarly: canCloseEarly, expected: tl.scheduledCloseTs + Self.hour,
                                 rules: "If the event described by \(s.title) occurs, then the market resolves to Yes.", resultYes: rng.chance(0.4)))
            } else {
                for j in 0..<nMarkets {
                    let mtl = vary(tl, phase: phase, canCloseEarly: canCloseEarly)
                    let code = names ? Self.nameCodes[j % Self.nameCodes.count] + (j >= Self.nameCodes.count ? String(j) : "")
                                     : "T\(j * 5 + 5)"
                    ms.append(market(ticker: "\(et)-\(code)", title: "\(title): \(code)?", yes: code, no: code, timeline: mtl,
                                     canCloseEarly: canCloseEarly, expected: tl.scheduledCloseTs + Self.hour,
                                     rules: "If the outcome is \(code), then the market resolves to Yes.",
                                     resultYes: names ? j == winner : rng.chance(0.5),
                                     strikeType: names ? nil : "greater", floor: names ? nil : Double(j * 5 + 5)))
                }
            }
            out.append((ev, dedupe(ms)))
        }
        return out
    }

    mutating func makeMultivariateEvents(for s: SeriesRecord, legs: [(String, String)]) -> [(EventRecord, [MarketRecord])] {
        var out: [(EventRecord, [MarketRecord])] = []
        guard !legs.isEmpty else { return out }
        for k in 0..<3 {
            let tl0 = timeline(times(.active))
            let et = "\(s.ticker)-S2026\(String(SimRandom.mix(UInt64(k), rng.next()) & 0xFFFF_FFFF, radix: 16, uppercase: true))"
            let ev = EventRecord(ticker: et, seriesIndex: 0, title: "Combo", subTitle: "Multiple legs", mutuallyExclusive: false,
                                 strikeDate: nil, strikePeriod: nil, createdTs: tl0.createdTs)
            var ms: [MarketRecord] = []
            for _ in 0..<rng.int(3...8) {
                let chosen = (0..<rng.int(2...4)).map { _ in rng.pick(legs) }
                var legJSON = ""
                for (i, l) in chosen.enumerated() {
                    legJSON += (i > 0 ? "," : "") + "{\"event_ticker\":\"\(l.0)\",\"market_ticker\":\"\(l.1)\",\"side\":\"yes\"}"
                }
                let title = chosen.map { "yes \($0.1)" }.joined(separator: ",")
                let mt = "\(et)-\(String(rng.next() & 0xFF_FFFF_FFFF, radix: 16, uppercase: true))"
                // As recorded: custom_strike lists the legs as comma-joined strings.
                var custom = JSONWriter()
                custom.raw(",\"custom_strike\":{\"Associated Events\":"); custom.string(chosen.map(\.0).joined(separator: ","))
                custom.raw(",\"Associated Market Sides\":"); custom.string(chosen.map { _ in "yes" }.joined(separator: ","))
                custom.raw(",\"Associated Markets\":"); custom.string(chosen.map(\.1).joined(separator: ","))
                custom.raw(",\"Multivariate Event Ticker\":"); custom.string(et)
                custom.raw("}")
                ms.append(market(ticker: mt, title: title, yes: title, no: title, timeline: tl0, canCloseEarly: true,
                                 expected: tl0.scheduledCloseTs, rules: "", resultYes: rng.chance(0.2), strikeType: "custom",
                                 extra: String(decoding: custom.bytes, as: UTF8.self)
                                     + ",\"mve_collection_ticker\":\"\(s.ticker)\",\"mve_selected_legs\":[\(legJSON)]",
                                 multivariate: true))
            }
            out.append((ev, dedupe(ms)))
        }
        return out
    }
}
