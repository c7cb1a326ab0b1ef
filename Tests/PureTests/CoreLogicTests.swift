import Foundation
import Testing
@testable import KalshiModels
@testable import RateBudget
@testable import SSMDCore
@testable import SyncCore
@testable import WireContract

@Suite struct SubjectTokenTests {
    @Test(arguments: ["S&P", "EUR/USD", "SCOTUS & courts", "KXBTCD-25NOV2517-T98999.99", "a.b*c>d", "tab\there",
                      "Über – 🏀", "100%", "%41", "plain_Token-1", " leading", "new\nline"])
    func roundTrip(_ value: String) throws {
        let token = SubjectToken.encode(value)
        let decoded = try SubjectToken.decode(token)
        #expect(decoded == value)
        let forbidden = token.unicodeScalars.filter { $0 == "." || $0 == "*" || $0 == ">" || $0.properties.isWhitespace }
        #expect(forbidden.isEmpty)
    }

    @Test func plainTickersStayReadable() {
        #expect(SubjectToken.encode("KXNBAGAME-25NOV25LALBOS") == "KXNBAGAME-25NOV25LALBOS")
        #expect(SubjectToken.encode("S&P") == "S%26P")
        #expect(SubjectToken.encode("T98999.99") == "T98999%2E99")
    }

    @Test func malformedTokensAreRejected() {
        #expect(throws: SubjectToken.DecodingError.self) { try SubjectToken.decode("%4") }
        #expect(throws: SubjectToken.DecodingError.self) { try SubjectToken.decode("%ZZ") }
        #expect(throws: SubjectToken.DecodingError.self) { try SubjectToken.decode("a.b") }
        #expect(throws: SubjectToken.DecodingError.self) { try SubjectToken.decode("") }
        #expect(throws: SubjectToken.DecodingError.self) { try SubjectToken.decode("%FF") }
    }

    @Test func marketSubjectHasFiveTokens() {
        let s = Subjects.market(tag: "S&P", series: "KXINX", market: "KXINX-25NOV25-B5999.5")
        #expect(s.split(separator: ".").count == 5)
        #expect(s.hasPrefix("ssmd.market.S%26P.KXINX."))
    }

    @Test func workConsumerNamesAreDistinctAndLegal() {
        let a = Streams.workConsumer(tag: "S&P"), b = Streams.workConsumer(tag: "SP")
        #expect(a != b)
        #expect(a.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") })
    }
}

@Suite struct TrackingRuleTests {
    let rule = TrackingRule(sports: ["Basketball", "Soccer"])

    @Test func sportsKeepsOnlyGames() {
        #expect(rule.track(Series(ticker: "KXNBAGAME", title: "", category: "Sports", tags: ["Basketball"])) == (true, true))
        #expect(rule.track(Series(ticker: "KXEPLMATCH", title: "", category: "Sports", tags: ["Soccer"])) == (true, true))
        #expect(rule.track(Series(ticker: "kxatpmatch", title: "", category: "sports", tags: [])) == (true, true))
        #expect(rule.track(Series(ticker: "KXNBA", title: "", category: "Sports", tags: ["Basketball"])).tracked == false)
        #expect(rule.track(Series(ticker: "KXNBAMVP", title: "", category: "Sports", tags: [])).tracked == false)
    }

    @Test func otherCategoriesKeepEverything() {
        #expect(rule.track(Series(ticker: "KXINX", title: "", category: "Financials", tags: ["S&P"])) == (false, true))
        #expect(rule.track(Series(ticker: "KXVIDEOGAMES", title: "", category: "Entertainment", tags: ["Video games"])) == (true, true))
    }

    @Test func aSportTagOutsideSportsCountsAsSports() {
        #expect(rule.track(Series(ticker: "KXNBAFINALSTV", title: "", category: "Entertainment", tags: ["Basketball"])).tracked == false)
    }
}

@Suite struct SeriesSelectionTests {
    let map = TagsByCategories(categories: ["Sports": ["Soccer", "Basketball"], "Financials": ["S&P", "EUR/USD"], "Elections": []])
    let rule = TrackingRule(sports: ["Soccer", "Basketball"])

    @Test func everythingFetchesEveryCategory() {
        #expect(SeriesSelection().categoriesToFetch(map) == ["Elections", "Financials", "Sports"])
        #expect(SeriesSelection(tags: ["S&P"]).categoriesToFetch(map) == ["Financials"])
    }

    @Test func routingUsesOneTagInCategoryOrder() {
        let s = [Series(ticker: "KXINX", title: "", category: "Financials", tags: ["EUR/USD", "S&P"]),
                 Series(ticker: "KXLOW", title: "", category: "Financials", tags: []),
                 Series(ticker: "KXINX", title: "", category: "Financials", tags: ["S&P"])]
        let picked = SeriesSelection().select(s, category: "Financials", map: map, rule: rule)
        #expect(picked.map(\.routingTag) == ["S&P", "Financials"])
        let onlyFX = SeriesSelection(tags: ["EUR/USD"]).select(s, category: "Financials", map: map, rule: rule)
        #expect(onlyFX.map(\.series.ticker) == ["KXINX"])
        #expect(onlyFX.map(\.routingTag) == ["EUR/USD"])
    }

    @Test func gamesOnly() {
        let s = [Series(ticker: "KXNBAGAME", title: "", category: "Sports", tags: ["Basketball"]),
                 Series(ticker: "KXNBA", title: "", category: "Sports", tags: ["Basketball"])]
        #expect(SeriesSelection(tags: ["Basketball"], gamesOnly: true).select(s, category: "Sports", map: map, rule: rule).map(\.series.ticker) == ["KXNBAGAME"])
    }
}

@Suite struct GCRATests {
    let g = GCRA(tokensPerSecond: 200, burstSeconds: 2)  // Kalshi Basic: 20 req/s, 40-request burst

    @Test func fullBucketAllowsTheBurstThenPaces() {
        var state = GCRA.State()
        let now: Int64 = 1_000_000_000
        var immediate = 0
        for _ in 0..<60 {
            let r = g.reserve(cost: 10, now: now, state: state)
            state = r.newState
            if r.wait(from: now) == 0 { immediate += 1 }
        }
        #expect(immediate == 40)
        // The 60th request waits 20 emission intervals of 50 ms beyond the burst: 1 s.
        let r = g.reserve(cost: 10, now: now, state: state)
        #expect(r.wait(from: now) == 1_050_000)
    }

    @Test func sustainedRateIsExactlyTheRefill() {
        var state = GCRA.State()
        var now: Int64 = 0
        var sent: [Int64] = []
        for _ in 0..<1000 {
            let r = g.reserve(cost: 10, now: now, state: state)
            state = r.newState
            now = max(now, r.sendAt)
            sent.append(now)
        }
        // After the 40-request burst, one request per 50 ms.
        #expect(sent[999] - sent[40] == 959 * 50_000)
        // No window of 1 s holds more than 20 + 40 requests.
        var j = 0
        for i in 0..<sent.count {
            while sent[i] - sent[j] >= 1_000_000 { j += 1 }
            #expect(i - j + 1 <= 60)
        }
    }

    @Test func costScalesTheInterval() {
        let r1 = g.reserve(cost: 20, now: 0, state: GCRA.State(tat: 10_000_000))
        #expect(r1.newState.tat == 10_100_000)
    }

    @Test func idleTimeBanksNoMoreThanTheBurst() {
        let state = GCRA.State(tat: 0)
        var s = state
        var immediate = 0
        let now: Int64 = 3_600_000_000
        for _ in 0..<100 {
            let r = g.reserve(cost: 10, now: now, state: s)
            s = r.newState
            if r.sendAt <= now { immediate += 1 }
        }
        #expect(immediate == 40)
    }

    @Test func clockSkewBetweenReplicas() {
        // Replica B's clock runs 30 ms behind A's: B still never sends before A's schedule allows.
        var state = GCRA.State()
        let a = g.reserve(cost: 10, now: 5_000_000, state: state)
        state = a.newState
        for _ in 0..<50 { state = g.reserve(cost: 10, now: 5_000_000, state: state).newState }
        let b = g.reserve(cost: 10, now: 4_970_000, state: state)
        #expect(b.sendAt >= state.tat - 2_000_000)
        #expect(b.sendAt > 4_970_000)
        // A clock ahead does not earn extra burst beyond what it would have at its own time.
        let c = g.reserve(cost: 10, now: 5_030_000, state: state)
        #expect(c.sendAt == b.sendAt)
    }

    @Test func throttleCooldownHoldsEveryone() {
        let s = g.throttled(now: 1_000_000, cooldown: 2_000_000, state: GCRA.State())
        let r = g.reserve(cost: 10, now: 1_500_000, state: s)
        #expect(r.sendAt >= 3_000_000)
    }
}

@Suite struct RetryAndQueryTests {
    @Test func fullJitterStaysUnderTheCap() {
        let r = RetryPolicy(maxAttempts: 5, base: .milliseconds(100), cap: .seconds(1))
        #expect(r.delay(attempt: 0, unit: 0.999) <= .milliseconds(100))
        #expect(r.delay(attempt: 3, unit: 0.5) == .milliseconds(400))
        #expect(r.delay(attempt: 20, unit: 0.999_999) <= .seconds(1))
        #expect(r.delay(attempt: 2, unit: 0) == .zero)
    }

    @Test func incompatibleMarketQueriesAreRefused() {
        var q = MarketQuery(seriesTicker: "X", status: .open)
        q.minCloseTs = 1
        #expect(throws: MarketQuery.Incompatible.self) { try q.validate() }
        var u = MarketQuery(seriesTicker: "X")
        u.minUpdatedTs = 1
        #expect(throws: MarketQuery.Incompatible.self) { try u.validate() }
        u.mveFilter = "exclude"
        #expect(throws: Never.self) { try u.validate() }
        // The change feed's queries.
        var feed = MarketQuery()
        feed.minUpdatedTs = 1
        feed.mveFilter = "exclude"
        #expect(throws: Never.self) { try feed.validate() }
        var closed = MarketQuery(status: .closed)
        closed.minCloseTs = 1
        closed.mveFilter = "exclude"
        #expect(throws: Never.self) { try closed.validate() }
    }
}

@Suite struct TimestampTests {
    @Test func parsesAndFormats() throws {
        let t = try #require(Timestamp(iso8601: "2026-01-12T22:08:10.446961Z"))
        #expect(t.iso8601 == "2026-01-12T22:08:10.446961Z")
        #expect(Timestamp(iso8601: "2026-01-27T01:15:00Z")?.iso8601 == "2026-01-27T01:15:00Z")
        #expect(Timestamp(iso8601: "2026-01-27T03:15:00+02:00") == Timestamp(iso8601: "2026-01-27T01:15:00Z"))
        #expect(Timestamp(iso8601: "1970-01-01T00:00:00Z")?.microsecondsSinceEpoch == 0)
        #expect(Timestamp(iso8601: "1969-12-31T23:59:59.5Z")?.microsecondsSinceEpoch == -500_000)
        #expect(Timestamp(iso8601: "1969-12-31T23:59:59.5Z")?.iso8601 == "1969-12-31T23:59:59.500000Z")
        #expect(Timestamp(iso8601: "2026-13-01T00:00:00Z") == nil)
        #expect(Timestamp(iso8601: "yesterday") == nil)
        #expect(Timestamp(iso8601: "2026-01-01T00:00:00") == nil)
    }

    @Test func fixedPoint() {
        #expect(FixedPoint(cents: 56).text == "0.5600")
        #expect(FixedPoint(cents: 100).text == "1.0000")
        #expect(FixedPoint(cents: 5).text == "0.0500")
        #expect(FixedPoint("1e5") == nil)
        #expect(FixedPoint("0.56") != nil)
        #expect(FixedPoint(".5") == nil)
    }
}

@Suite struct MessageCodecTests {
    @Test func roundTripAndSchemaChecks() throws {
        let m = MarketMessage(fetchedAt: .seconds(1_700_000_000), tag: "S&P", seriesTicker: "KXINX",
                              market: Market(ticker: "KXINX-1.5", eventTicker: "KXINX-E", status: "active"))
        let bytes = try MessageCodec.encode(m)
        #expect(try MessageCodec.decode(MarketMessage.self, from: bytes, subject: "s") == m)
        #expect(throws: MessageDecodingError.self) { try MessageCodec.decode(EventMessage.self, from: bytes, subject: "s") }
        let future = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"schema\":1", with: "\"schema\":9")
        #expect(throws: MessageDecodingError.self) { try MessageCodec.decode(MarketMessage.self, from: Array(future.utf8), subject: "s") }
        #expect(throws: MessageDecodingError.self) { try MessageCodec.decode(MarketMessage.self, from: Array("{".utf8), subject: "s") }
    }
}

@Suite struct ThrottleFeedbackTests {
    let g = GCRA(tokensPerSecond: 200, burstSeconds: 0)

    @Test func a429HalvesTheRateOnceAndItRecovers() {
        var s = g.throttled(now: 0, cooldown: 1_000_000, state: GCRA.State())
        #expect(s.factor == 0.5)
        // A second report during the same cooldown does not halve again.
        s = g.throttled(now: 500_000, cooldown: 1_000_000, state: s)
        #expect(abs(s.factor - (0.5 + 0.5 / 60)) < 1e-9)
        // After the cooldown, requests are spaced at half the rate: 100 ms instead of 50 ms.
        let r1 = g.reserve(cost: 10, now: 1_500_000, state: s)
        let r2 = g.reserve(cost: 10, now: 1_500_000, state: r1.newState)
        #expect(r2.sendAt - r1.sendAt > 90_000 && r2.sendAt - r1.sendAt < 100_000)
        // Sixty seconds later the full rate is back.
        #expect(g.factor(at: 62_000_000, state: r2.newState) == 1)
    }

    @Test func stormsCannotStopTrafficEntirely() {
        var s = GCRA.State()
        for i in 0..<40 { s = g.throttled(now: Int64(i) * 3_000_000, cooldown: 1_000_000, state: s) }
        #expect(s.factor >= g.minimumFactor)
    }

    @Test func stateWithoutNewFieldsDecodes() throws {
        let s = try JSONCodec.decode(GCRA.State.self, from: Array(#"{"tat":5,"cooldownUntil":0}"#.utf8))
        #expect(s.tat == 5 && s.factor == 1)
    }
}

@Suite struct HostileStateTests {
    @Test func corruptSharedStateNeitherHangsNorTraps() {
        let g = GCRA(tokensPerSecond: 200, burstSeconds: 2)
        let now: Int64 = 1_800_000_000_000_000
        for bad in [GCRA.State(tat: .max, cooldownUntil: .max, factor: 1, factorAt: 0),
                    GCRA.State(tat: -5, cooldownUntil: -5, factor: 0.0001, factorAt: .max)] {
            let r = g.reserve(cost: 10, now: now, state: bad)
            #expect(r.wait(from: now) <= 3_600_000_000)
            _ = g.throttled(now: now, cooldown: 1_000_000, state: bad)
        }
    }

    @Test func absurdNumbersAreDecodingErrorsNotCrashes() {
        let json = #"{"ticker":"A","event_ticker":"E","status":"active","settlement_timer_seconds":9223372036854775808}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Market.self, from: Data(json.utf8)) }
        // Absurd durations in settings: SharedTests' AbsurdSettingTests (DaemonKit is not pure).
    }
}
