import Foundation
import Testing
@testable import KalshiModels
@testable import SSMDCore
@testable import SyncCore
import WireContract

@Suite struct SyncPlannerTests {
    static func market(_ ticker: String, event: String) -> Market {
        Market(ticker: ticker, eventTicker: event, status: "active")
    }

    /// Re-reads on the reconciliation period, so these tests see reconciliation alone.
    let policy = SyncPolicy(intervalSeconds: 300, reconcileSeconds: 3600, feedOverlapSeconds: 60, deltaLimit: 2, rereadSeconds: 3600)
    let tracked = (1...24).map { "S\($0 < 10 ? "0" : "")\($0)" }
    let now = Timestamp.seconds(1_800_000_000)

    @Test func firstCycleSyncsEverythingInFullAndRemembersIt() {
        let plan = SyncPlanner(policy: policy).plan(tracked: tracked, feed: .none, state: SyncPlanState(), now: now, feedStarted: now)
        #expect(plan.decisions.map(\.series) == tracked)
        #expect(plan.counts.full == 24)
        #expect(plan.state.feedSince == now)
        #expect(plan.state.lastFull.count == 24)
        #expect(SyncPlanner(policy: policy).feedSince(plan.state, now: now.adding(seconds: 300)) == now.adding(seconds: -60))
    }

    @Test func steadyCycleSendsChangesAndAReconciliationSlice() {
        var state = SyncPlanState(feedSince: now.adding(seconds: -300), lastFull: [:])
        for (i, s) in tracked.enumerated() { state.lastFull[s] = now.secondsSinceEpoch - 3000 + Int64(i) }
        state.lastFull["S24"] = nil  // a series new to this schedule
        let changes: [String: [Market]] = [
            "S20": [Self.market("S20-A", event: "S20-1")],
            "S21": (1...3).map { Self.market("S21-\($0)", event: "S21-1") },  // over the delta limit
            "S01": [Self.market("S01-A", event: "S01-1")],                    // also due for reconciliation
        ]
        let plan = SyncPlanner(policy: policy).plan(tracked: tracked, feed: .changes(changes), state: state, now: now, feedStarted: now)
        let d = Dictionary(uniqueKeysWithValues: plan.decisions.map { ($0.series, $0.decision) })
        // 24 series × 300 s / 3600 s = 2 reconciliations per cycle: the two oldest.
        #expect(policy.reconcileQuota(tracked: 24) == 2)
        #expect(d["S01"] == .full && d["S02"] == .full)
        #expect(d["S24"] == .full, "a new series is synced in full")
        #expect(d["S20"] == .delta([Self.market("S20-A", event: "S20-1")]))
        #expect(d["S21"] == .incremental(since: now.adding(seconds: -360), tickers: ["S21-1", "S21-2", "S21-3"]))
        #expect(d.count == 5, "unchanged series get no work: \(d.keys.sorted())")
        #expect(plan.state.lastFull["S01"] == now.secondsSinceEpoch)
        #expect(plan.state.lastFull["S03"] == state.lastFull["S03"])
        #expect(plan.state.feedSince == now)
    }

    @Test func failedFeedKeepsItsStartingPointAndSendsNoDeltas() {
        var state = SyncPlanState(feedSince: now.adding(seconds: -300), lastFull: [:])
        for s in tracked { state.lastFull[s] = now.secondsSinceEpoch - 100 }
        let plan = SyncPlanner(policy: policy).plan(tracked: tracked, feed: .failed, state: state, now: now, feedStarted: now)
        #expect(plan.counts.delta == 0 && plan.counts.incremental == 0)
        #expect(plan.counts.full == 2)
        #expect(plan.state.feedSince == state.feedSince, "the next cycle asks again from the same point")
    }

    @Test func tooOldAFeedIsNotTrustedAndUntrackedSeriesDropOut() {
        let state = SyncPlanState(feedSince: now.adding(seconds: -3601), lastFull: ["GONE": 1, "S01": 2])
        let planner = SyncPlanner(policy: policy)
        #expect(planner.feedSince(state, now: now) == nil)
        let plan = planner.plan(tracked: tracked, feed: .none, state: state, now: now, feedStarted: now)
        #expect(plan.counts.full == 24)
        #expect(plan.state.lastFull["GONE"] == nil)
    }

    @Test func aLargeScheduleReadsByListingFirstAndOnEveryRereadPeriod() {
        let policy = SyncPolicy(intervalSeconds: 300, reconcileSeconds: 3600, deltaLimit: 2, rereadSeconds: 600, listingMinSeries: 10)
        let planner = SyncPlanner(policy: policy)
        let first = planner.plan(tracked: tracked, feed: .none, state: SyncPlanState(), now: now, feedStarted: now)
        #expect(first.listing)
        #expect(first.decisions.isEmpty, "the listing reads every series: no per-series work")
        #expect(first.state.lastFull.count == 24 && first.state.lastFull.values.allSatisfy { $0 == now.secondsSinceEpoch },
                "each series' gone-proof (a full sync) follows on the reconciliation round")
        #expect(first.state.lastListing == now)
        // 5 min later: no listing yet; the reconciliation slice (24 × 300 / 3600 = 2) goes on.
        let t1 = now.adding(seconds: 300)
        let second = planner.plan(tracked: tracked, feed: .changes([:]), state: first.state, now: t1, feedStarted: t1)
        #expect(!second.listing && second.counts.full == 2 && second.state.lastListing == now)
        // 10 min after the first: every tracked market is read again.
        let t2 = now.adding(seconds: 600)
        let third = planner.plan(tracked: tracked, feed: .changes([:]), state: second.state, now: t2, feedStarted: t2)
        #expect(third.listing && third.state.lastListing == t2)
        #expect(third.counts.full == 2, "the listing does not replace the reconciliation slice")
        // The period runs between cycle starts: a first cycle that planned 29 s after it began
        // (it listed every series first) is not what the next listing waits for.
        let slowFirst = planner.plan(tracked: tracked, feed: .none, state: SyncPlanState(), now: now.adding(seconds: 29),
                                     feedStarted: now, cycleStarted: now)
        #expect(slowFirst.listing && slowFirst.state.lastListing == now)
        let onTime = planner.plan(tracked: tracked, feed: .changes([:]), state: slowFirst.state, now: t2.adding(seconds: 1),
                                  feedStarted: t2, cycleStarted: t2)
        #expect(onTime.listing, "the cycle starting 600 s after the first lists again")
        // A cycle on the period whose exchange clock reads a second short of it still lists;
        // one half an interval or more before it does not.
        let short = planner.plan(tracked: tracked, feed: .changes([:]), state: slowFirst.state, now: t2,
                                 feedStarted: t2, cycleStarted: t2.adding(seconds: -1))
        #expect(short.listing, "599 s after the last listing, on the cycle nearest the 600 s period")
        let halfEarly = planner.plan(tracked: tracked, feed: .changes([:]), state: slowFirst.state, now: t2,
                                     feedStarted: t2, cycleStarted: t2.adding(seconds: -151))
        #expect(!halfEarly.listing, "449 s after: the next cycle, 749 s after, is nearer the 600 s period")
        let fast = SyncPolicy(intervalSeconds: 30, rereadSeconds: 600, listingMinSeries: 10)
        #expect(fast.rereadDue(elapsedMicroseconds: 599_000_000) && fast.rereadDue(elapsedMicroseconds: 585_000_000))
        #expect(!fast.rereadDue(elapsedMicroseconds: 584_999_999) && !fast.rereadDue(elapsedMicroseconds: 570_000_000))
    }

    @Test func aSmallScheduleRereadsByFullSyncsOnTheRereadPeriod() {
        let small = SyncPolicy(intervalSeconds: 300, reconcileSeconds: 3600, deltaLimit: 2, rereadSeconds: 600, listingMinSeries: 200)
        #expect(!small.usesListing(tracked: 24))
        #expect(small.reconcileQuota(tracked: 24) == 12, "24 × 300 / 600: every series within 10 min")
        let plan = SyncPlanner(policy: small).plan(tracked: tracked, feed: .none, state: SyncPlanState(), now: now, feedStarted: now)
        #expect(!plan.listing && plan.counts.full == 24)
        let never = SyncPolicy(rereadSeconds: 600, listingMinSeries: 0)
        #expect(!never.usesListing(tracked: 1_000_000))
        #expect(SyncPolicy(rereadSeconds: 600, listingMinSeries: 200).usesListing(tracked: 200))
    }

    @Test func routeTablesSurviveChunking() throws {
        var routes: [String: SeriesRoute] = [:]
        for i in 0..<5_001 { routes["S\(i)"] = SeriesRoute(tag: i % 2 == 0 ? "Soccer" : "a.b c", category: "Sports", isGame: i % 3 == 0) }
        let table = RouteTable(routes: routes)
        let chunks = table.chunks(of: 2_500)
        #expect(chunks.map(\.routes.count) == [2_500, 2_500, 1])
        let decoded = try chunks.map { try JSONDecoder().decode(RouteTable.self, from: JSONEncoder().encode($0)) }
        #expect(RouteTable(merging: decoded) == table)
        #expect(RouteTable().chunks().count == 1, "an empty table is still stored")
        // A chunk of 2,500 series stays far below NATS' 1 MB payload limit.
        #expect(try JSONEncoder().encode(chunks[0]).count < 300_000)
    }

    @Test func listingPartsCoverEveryEventStatusAndTheMarketsNoEventChainHas() {
        #expect(Set(ListingPart.allCases.compactMap(\.eventStatus)) == [.unopened, .open, .closed, .settled])
        #expect(ListingPart.allCases.filter { $0.eventStatus == nil } == [.pausedMarkets, .lateSettledMarkets])
        let item = ListingItem(schedule: "all", cycleId: "all-1", part: .openEvents, issuedAt: now, exchangeTime: now,
                               closedSince: now.adding(seconds: -86_400), routeChunks: 2)
        #expect(item.subject == "ssmd.listing" && item.messageID == "listing:all-1:events-open")
    }

    @Test func everySeriesIsReconciledWithinThePeriod() {
        // Simulate 13 cycles of an hour at 5 min: every series gets a full sync in 12.
        let planner = SyncPlanner(policy: policy)
        var state = planner.plan(tracked: tracked, feed: .none, state: SyncPlanState(), now: now, feedStarted: now).state
        var lastFullCycle: [String: Int] = [:]
        for cycle in 1...13 {
            let t = now.adding(seconds: Int64(cycle) * 300)
            let plan = planner.plan(tracked: tracked, feed: .changes([:]), state: state, now: t, feedStarted: t)
            for e in plan.decisions where e.decision == .full { lastFullCycle[e.series] = cycle }
            state = plan.state
        }
        #expect(lastFullCycle.count == tracked.count)
        #expect(state.lastFull.values.allSatisfy { now.secondsSinceEpoch + 13 * 300 - $0 <= 3600 })
    }

    @Test func stateRoundTripsThroughJSON() throws {
        let state = SyncPlanState(feedSince: now, lastFull: ["KX.A B": 1, "S": 2])
        #expect(try JSONCodec.decode(SyncPlanState.self, from: JSONCodec.encode(state)) == state)
    }
}

@Suite struct SeriesAttributionTests {
    @Test func longestListedPrefixAtADash() {
        let listed: Set<String> = ["KXNBAGAME", "KXHIGH", "KXHIGH-NY", "A"]
        #expect(SeriesAttribution.series(ofEvent: "KXNBAGAME-26NOV25LALBOS", listed: listed) == "KXNBAGAME")
        #expect(SeriesAttribution.series(ofEvent: "KXHIGH-NY-26NOV25", listed: listed) == "KXHIGH-NY")
        #expect(SeriesAttribution.series(ofEvent: "KXHIGHNY-26NOV25", listed: listed) == nil)
        #expect(SeriesAttribution.series(ofEvent: "A", listed: listed) == "A")
        #expect(SeriesAttribution.series(ofEvent: "", listed: listed) == nil)
        #expect(SeriesAttribution.series(ofEvent: "---", listed: listed) == nil)
    }
}

@Suite struct FeedMergeTests {
    static func market(_ ticker: String, updated: Int64?, status: String = "active") -> Market {
        var m = SyncPlannerTests.market(ticker, event: "E")
        m.updatedTime = updated.map { .seconds($0) }
        m.status = status
        return m
    }

    @Test func oneEntryPerTickerTheNewestInFirstSeenOrder() {
        var merge = FeedMerge()
        merge.add(Self.market("A", updated: 10), series: "S")
        merge.add(Self.market("B", updated: 10), series: "S")
        merge.add(Self.market("C", updated: 10), series: "T")
        merge.add(Self.market("A", updated: 20, status: "closed"), series: "S")  // newer: replaces in place
        merge.add(Self.market("B", updated: 5, status: "closed"), series: "S")   // older: ignored
        merge.add(Self.market("C", updated: nil), series: "T")                  // no time: older than any
        #expect(merge.changes["S"]?.map(\.ticker) == ["A", "B"])
        #expect(merge.changes["S"]?.map(\.status) == ["closed", "active"])
        #expect(merge.changes["S"]?.first?.updatedTime == .seconds(20))
        #expect(merge.changes["T"]?.map(\.updatedTime) == [.seconds(10)])
        #expect(merge.changes.count == 2)
    }
}

@Suite struct HTTPDateTests {
    @Test func parsesAndFormatsIMFFixdate() throws {
        let t = try #require(Timestamp(httpDate: "Wed, 25 Nov 2026 15:42:55 GMT"))
        #expect(t == Timestamp(iso8601: "2026-11-25T15:42:55Z"))
        #expect(t.httpDate == "Wed, 25 Nov 2026 15:42:55 GMT")
        #expect(Timestamp.seconds(0).httpDate == "Thu, 01 Jan 1970 00:00:00 GMT")
        for bad in ["", "Wed, 25 Nov 2026 15:42:55 PST", "Wednesday, 25-Nov-26 15:42:55 GMT", "Wed, 32 Nov 2026 15:42:55 GMT",
                    "Wed, 25 Foo 2026 15:42:55 GMT", "Wed, 25 Nov 2026 25:00:00 GMT", "Wed, 25 Nov 2026 1:2 GMT"] {
            #expect(Timestamp(httpDate: bad) == nil, "\(bad)")
        }
    }
}

/// The due-time index: openings have no feed, so unopened markets are remembered by
/// `open_time` and read again once it passes.
@Suite struct DueIndexTests {
    static func market(_ ticker: String, status: String, opens: Int64?) -> Market {
        var m = Market(ticker: ticker, eventTicker: "S-E", status: status)
        m.openTime = opens.map { .seconds($0) }
        return m
    }

    @Test func unopenedMarketsAreDueOnceTheirOpenTimePassesEarliestFirst() {
        var due = DueIndex()
        due.observe(Self.market("B", status: "initialized", opens: 200))
        due.observe(Self.market("A", status: "initialized", opens: 200))
        due.observe(Self.market("C", status: "initialized", opens: 100))
        due.observe(Self.market("D", status: "initialized", opens: 900))
        due.observe(Self.market("E", status: "active", opens: 50))      // already open: not indexed
        due.observe(Self.market("F", status: "initialized", opens: nil)) // no open time: nothing to wait for
        #expect(due.count == 4)
        #expect(due.due(now: .seconds(99)).isEmpty)
        #expect(due.due(now: .seconds(200)) == ["C", "A", "B"])
        // Read again: A opened and leaves; B is still initialized (the exchange lags) and stays due.
        due.observe(Self.market("A", status: "active", opens: 200))
        due.observe(Self.market("B", status: "initialized", opens: 200))
        // A moved open_time (a metadata change) re-schedules.
        due.observe(Self.market("C", status: "initialized", opens: 1000))
        #expect(due.due(now: .seconds(200)) == ["B"])
    }

    @Test func closedMarketsAreDueUntilDeterminedAtAPaceThatSlowsWithTheWait() {
        var due = DueIndex()
        var m = Self.market("X", status: "closed", opens: 10)
        m.closeTime = .seconds(500)
        due.observe(m)
        #expect(due.due(now: .seconds(501)) == ["X"])
        // Read again 1 s after closing, still closed: next read 30 s later (the minimum).
        due.observe(m)
        due.markRead(["X"], now: .seconds(501))
        #expect(due.due(now: .seconds(530)).isEmpty)
        #expect(due.due(now: .seconds(531)) == ["X"])
        // Read 400 s after closing: next read as long again, 400 s later.
        due.markRead(["X"], now: .seconds(900))
        #expect(due.due(now: .seconds(1299)).isEmpty && due.due(now: .seconds(1300)) == ["X"])
        // However long it has waited, at most 10 min between reads.
        due.markRead(["X"], now: .seconds(50_000))
        #expect(due.due(now: .seconds(50_599)).isEmpty && due.due(now: .seconds(50_600)) == ["X"])
        #expect(DueIndex.recheckSeconds(waited: 0) == 30 && DueIndex.recheckSeconds(waited: 90_000) == 600)
        m.status = "determined"
        due.observe(m)
        #expect(due.due(now: .seconds(900)).isEmpty)
        #expect(due.count == 0)
        // Waiting longer than the window is left to reconciliation.
        m.status = "closed"
        due.observe(m)
        #expect(due.expire(now: .seconds(500 + DueIndex.determinationWindowSeconds)) == 0)
        #expect(due.expire(now: .seconds(501 + DueIndex.determinationWindowSeconds)) == 1)
    }

    @Test func aNewWaitIsReadAtOnceAndPacingIsNotState() {
        var due = DueIndex()
        due.observe(Self.market("U", status: "initialized", opens: 100))
        due.markRead(["U"], now: .seconds(110))
        #expect(due.due(now: .seconds(119)).isEmpty, "read 10 s after its open time: next in 10 s")
        let saved = due
        // open_time moved (a metadata change): a new wait, due as soon as it passes.
        due.observe(Self.market("U", status: "initialized", opens: 115))
        #expect(due.due(now: .seconds(116)) == ["U"])
        #expect(DueIndex(opens: ["U": 100]) == saved, "the pacing is not part of what is saved")
        due.markRead(["GONE"], now: .seconds(120))
        #expect(!due.isWaiting("GONE"))
    }

    @Test func anOpeningIsDueAtItsOpenTimeAndReadAgainSecondsLaterIfTheExchangeLags() {
        var due = DueIndex()
        due.observe(Self.market("LATE", status: "initialized", opens: 300))
        due.observe(Self.market("SOON", status: "initialized", opens: 200))
        var closed = Self.market("X", status: "closed", opens: 10)
        closed.closeTime = .seconds(150)
        due.observe(closed)
        // The feed wakes for the next opening, not for determinations (they are not urgent).
        #expect(due.nextWake(from: .seconds(100)) == .seconds(200))
        // A regular run that ended after SOON's open_time passed, without reading it: due now
        // (waiting for the next wake after it was the hourly burst's 16.9 s).
        #expect(due.nextWake(from: .seconds(205)) == .seconds(205))
        #expect(due.due(now: .seconds(201)) == ["X", "SOON"])
        // Read a second after its open time and still unopened (the exchange flips it a few
        // milliseconds late): read again 2 s later, not at a determination's 30 s.
        due.observe(Self.market("SOON", status: "initialized", opens: 200), readAt: .seconds(201))
        due.markRead(["X"], now: .seconds(201))
        #expect(due.nextWake(from: .seconds(201)) == .seconds(203))
        #expect(due.due(now: .seconds(202)).isEmpty && due.due(now: .seconds(203)) == ["SOON"])
        #expect(DueIndex.openingRecheckSeconds(waited: 0) == 2 && DueIndex.openingRecheckSeconds(waited: 90_000) == 600)
        // Still unopened long after its time: left to the regular runs, no wake of its own.
        var late = DueIndex()
        late.observe(Self.market("STUCK", status: "initialized", opens: 1000), readAt: .seconds(1100))
        #expect(late.nextWake(from: .seconds(1100)) == nil && late.due(now: .seconds(1200)) == ["STUCK"])
        var neverRead = DueIndex()
        neverRead.observe(Self.market("STUCK", status: "initialized", opens: 1000))
        #expect(neverRead.nextWake(from: .seconds(1031)) == nil, "overdue by more than the wake window: the regular runs read it")
        // Opened: nothing left to wake for but LATE.
        due.observe(Self.market("SOON", status: "active", opens: 200), readAt: .seconds(203))
        #expect(due.nextWake(from: .seconds(203)) == .seconds(300))
        due.observe(Self.market("LATE", status: "active", opens: 300), readAt: .seconds(301))
        #expect(due.nextWake(from: .seconds(301)) == nil)
    }

    @Test func aMarketListedBeforeItsOpenTimeIsNotDueUntilThen() {
        // The sweep lists an unopened market an hour before it opens: that read does not
        // make it due at the recheck pace (it was read again every 2 s, every unopened
        // market of the exchange, until it opened).
        var due = DueIndex()
        due.observe(Self.market("LATER", status: "initialized", opens: 4000), readAt: .seconds(400))
        #expect(due.due(now: .seconds(402)).isEmpty && due.due(now: .seconds(3999)).isEmpty)
        #expect(due.due(now: .seconds(4000)) == ["LATER"])
        #expect(due.nextWake(from: .seconds(402)) == .seconds(4000))
    }

    static func open(_ ticker: String, closes: Int64, status: String = "active") -> Market {
        var m = market(ticker, status: status, opens: 10)
        m.closeTime = .seconds(closes)
        return m
    }

    @Test func scheduledClosesWithinTheHorizonAreDueAtTheirCloseTime() {
        var due = DueIndex()
        // Before the horizon is listed, open markets are not remembered.
        due.observe(Self.open("EARLY", closes: 1100))
        #expect(!due.isWaiting("EARLY") && due.needsCloseListing(now: .seconds(1000)))
        due.beginCloseListing(now: .seconds(1000))
        #expect(due.closesKnownUntil == 1000 + DueIndex.closeHorizonSeconds)
        due.observe(Self.open("SOON", closes: 1100), readAt: .seconds(1000))
        due.observe(Self.open("PAUSED", closes: 1200, status: "inactive"), readAt: .seconds(1000))
        due.observe(Self.open("FAR", closes: 1000 + DueIndex.closeHorizonSeconds + 1), readAt: .seconds(1000))
        #expect(due.wait("SOON") == .close(1100) && due.wait("PAUSED") == .close(1200) && !due.isWaiting("FAR"))
        #expect(!due.needsCloseListing(now: .seconds(1000 + DueIndex.closeHorizonSeconds / 2 - 1)))
        #expect(due.needsCloseListing(now: .seconds(1000 + DueIndex.closeHorizonSeconds / 2)))
        // Listed at 1000, so not due before its close time; the feed wakes for it.
        #expect(due.due(now: .seconds(1099)).isEmpty && due.nextWake(from: .seconds(1000)) == .seconds(1100))
        #expect(due.due(now: .seconds(1101)) == ["SOON"])
        // Read a second after, still active (the exchange lags): again 2 s later.
        let stillOpen = Self.open("SOON", closes: 1100)
        #expect(!DueIndex.movedOn(stillOpen, from: due.wait("SOON")))
        due.observe(stillOpen, readAt: .seconds(1101))
        #expect(due.due(now: .seconds(1102)).isEmpty && due.nextWake(from: .seconds(1101)) == .seconds(1103))
        // Closed: a change to hand out, and now it waits for its determination.
        let closed = Self.open("SOON", closes: 1100, status: "closed")
        #expect(DueIndex.movedOn(closed, from: due.wait("SOON")))
        due.observe(closed, readAt: .seconds(1103))
        #expect(due.wait("SOON") == .determination(1100))
        #expect(!DueIndex.movedOn(closed, from: .determination(1100)), "still closed is no change for a determination")
        // A close the exchange never makes is given up after closeGiveUpSeconds.
        #expect(due.expire(now: .seconds(1200 + DueIndex.closeGiveUpSeconds)) == 0)
        #expect(due.expire(now: .seconds(1201 + DueIndex.closeGiveUpSeconds)) == 1 && !due.isWaiting("PAUSED"))
        // The next listing forgets closes not listed again (moved out of the horizon) but keeps
        // those already passed and not yet read.
        var next = DueIndex()
        next.beginCloseListing(now: .seconds(1000))
        next.observe(Self.open("MOVED", closes: 1500))
        next.observe(Self.open("PASSED", closes: 1001))
        next.beginCloseListing(now: .seconds(1450))
        #expect(!next.isWaiting("MOVED") && next.wait("PASSED") == .close(1001))
        #expect(DueIndex(opens: [:]) == next, "scheduled closes are not saved: a restart lists the horizon again")
    }

    @Test func aMarketJustListedIsNotReadAgainByTickerAtOnce() {
        // A sweep (or the closed feed) lists a market closed two hours ago, still undetermined:
        // that listing was a read, so it is due a recheck later, not in the same run.
        var due = DueIndex()
        var m = Self.market("X", status: "closed", opens: 10)
        m.closeTime = .seconds(1000)
        due.observe(m, readAt: .seconds(8200))
        #expect(due.isWaiting("X"))
        #expect(due.due(now: .seconds(8200)).isEmpty)
        #expect(due.due(now: .seconds(8799)).isEmpty && due.due(now: .seconds(8800)) == ["X"], "waited 2 h: next read 10 min later")
        // Without a reading time it is due as soon as it closed.
        var fresh = DueIndex()
        fresh.observe(m)
        #expect(fresh.due(now: .seconds(8200)) == ["X"])
        // A listed market that is no longer waiting is simply gone from the index.
        m.status = "determined"
        due.observe(m, readAt: .seconds(8300))
        #expect(!due.isWaiting("X") && due.due(now: .seconds(9000)).isEmpty)
    }

    @Test func overdueEntriesAreGivenUpAfterSixHours() {
        var due = DueIndex()
        due.observe(Self.market("OLD", status: "initialized", opens: 1000))
        due.observe(Self.market("NEW", status: "initialized", opens: 1000 + DueIndex.giveUpSeconds))
        #expect(due.expire(now: .seconds(1000 + DueIndex.giveUpSeconds)) == 0)
        #expect(due.expire(now: .seconds(1001 + DueIndex.giveUpSeconds)) == 1)
        #expect(due.due(now: .seconds(1001 + DueIndex.giveUpSeconds)) == ["NEW"])
    }

    @Test func sweepIsDueWhenNeverSweptOrStale() {
        var due = DueIndex()
        #expect(due.needsSweep(now: .seconds(1000), every: 600))
        due.sweptAt = .seconds(1000)
        #expect(!due.needsSweep(now: .seconds(1599), every: 600))
        #expect(due.needsSweep(now: .seconds(1600), every: 600))
    }

    @Test func persistedCopyKeepsTheEarliestAndForgetsTheSweepWhenCut() throws {
        var due = DueIndex(sweptAt: .seconds(5))
        for i in 0..<10 { due.observe(Self.market("M\(i)", status: "initialized", opens: Int64(100 - i))) }
        #expect(due.persisted(limit: 10) == due)
        #expect(due.persisted(limit: 11) == due)
        var closed = Self.market("C", status: "closed", opens: 1)
        closed.closeTime = .seconds(50)
        due.observe(closed)
        let cut = due.persisted(limit: 3)
        #expect(Set(cut.opens.keys) == ["M9", "M8"], "determinations are kept first, then the earliest openings")
        #expect(Set(cut.determinations.keys) == ["C"])
        #expect(cut.sweptAt == nil, "a restart must sweep to find what was cut")
        let round = try JSONCodec.decode(DueIndex.self, from: try JSONCodec.encode(due))
        #expect(round == due)
    }
}

@Suite struct RouteMemoryTests {
    @Test func aSeriesThatChangedTagIsReportedWithTheTagItLeft() throws {
        let before = RouteMemory(routes: ["A": "Basketball", "B": "Hockey", "C": "Fed"])
        #expect(before.byTag == ["Basketball": ["A"], "Hockey": ["B"], "Fed": ["C"]])
        let now = ["A": "Basketball", "B": "Soccer", "D": "Fed"]
        #expect(before.moved(to: now).map(\.series) == ["B"])
        #expect(before.moved(to: now).map(\.from) == ["Hockey"])
        let after = before.updated(with: now)
        #expect(after.routes == ["A": "Basketball", "B": "Soccer", "C": "Fed", "D": "Fed"], "C kept: missing from one cycle is not a move")
        #expect(after.moved(to: now).isEmpty)
        #expect(try JSONCodec.decode(RouteMemory.self, from: try JSONCodec.encode(after)) == after)
    }
}

@Suite struct LifecycleBatchTests {
    @Test func marketsOnceInArrivalOrderAndTheEarliestGap() {
        var batch = LifecycleBatch()
        #expect(batch.isEmpty)
        func notice(_ market: String?, event: String? = nil, type: String = "deactivated") -> LifecycleNotice {
            LifecycleNotice(receivedAt: .seconds(1), type: market == nil ? "event_lifecycle" : "market_lifecycle_v2",
                            eventType: market == nil ? nil : type, marketTicker: market, eventTicker: event, message: .object([:]))
        }
        batch.add(notice("B"))
        batch.add(notice("A", type: "determined"))
        batch.add(notice("B", type: "activated"))
        batch.add(notice(nil, event: "E"))
        batch.add(LifecycleGap(from: .seconds(500), to: .seconds(600), reason: "reconnect"))
        batch.add(LifecycleGap(from: .seconds(300), to: .seconds(400), reason: "reconnect"))
        batch.add(LifecycleGap(from: nil, to: .seconds(10), reason: "start"))
        #expect(batch.marketTickers == ["B", "A"])
        #expect(batch.eventTickers == ["E"])
        #expect(batch.missedSince == .seconds(300))
        #expect(batch.openGaps == 1)
        #expect(!batch.isEmpty)
    }
}

@Suite struct LeaderLeaseTests {
    @Test func aLeaseIsTakenWhenAbsentOrLapsedAndRenewedByItsHolderOnly() {
        let now = Timestamp.seconds(1000)
        #expect(LeaderLease.decide(current: nil, me: "a", now: now, period: .seconds(15))
                == .write(LeaderLease(holder: "a", expiresAt: .seconds(1015)), revision: nil))
        let held = (LeaderLease(holder: "b", expiresAt: .seconds(1010)), UInt64(7))
        #expect(LeaderLease.decide(current: held, me: "a", now: now, period: .seconds(15)) == .wait(holder: "b", until: .seconds(1010)))
        #expect(LeaderLease.decide(current: held, me: "b", now: now, period: .seconds(15))
                == .write(LeaderLease(holder: "b", expiresAt: .seconds(1015)), revision: 7), "the holder renews")
        #expect(LeaderLease.decide(current: held, me: "a", now: .seconds(1010), period: .seconds(15))
                == .write(LeaderLease(holder: "a", expiresAt: .seconds(1025)), revision: 7), "a lapsed lease is taken at its revision")
    }
}
