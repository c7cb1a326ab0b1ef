import Foundation
import Testing
@testable import KalshiModels
@testable import RateBudget
@testable import SSMDCore
@testable import SyncCore
@testable import WireContract
@testable import WriterCore

/// The decisions the daemons' shells act on, tested without processes.
@Suite struct PureCoreTests {
    // MARK: The writer's batch

    @Test func aBatchIsDueWhenFullHeavyOrOld() {
        let t0 = ContinuousClock.now
        var a = BatchAccumulator(limits: .init(maxRows: 10, maxBytes: 1000, maxAge: .milliseconds(500), fetchChunk: 4, minFetchBytes: 100))
        #expect(!a.isDue(now: t0, stopping: true), "an empty batch is never due, even when stopping")
        let firstPull = a.nextPull(now: t0)
        #expect(firstPull.batch == 4 && firstPull.maxWait == .seconds(1) && firstPull.maxBytes == 1000)
        a.add(count: 3, bytes: 300, now: t0)
        #expect(!a.isDue(now: t0 + .milliseconds(499), stopping: false))
        #expect(a.isDue(now: t0 + .milliseconds(500), stopping: false), "old enough")
        #expect(a.isDue(now: t0, stopping: true), "stopping flushes what there is")
        let pull = a.nextPull(now: t0 + .milliseconds(200))
        #expect(pull.batch == 4 && pull.maxWait == .milliseconds(300) && pull.maxBytes == 700)
        a.add(count: 7, bytes: 100, now: t0 + .milliseconds(10))
        #expect(a.isDue(now: t0, stopping: false), "full by count")
        #expect(a.oldest == t0, "the first message's arrival sets the age")
        a.reset()
        a.add(count: 1, bytes: 1000, now: t0)
        #expect(a.isDue(now: t0, stopping: false), "full by bytes")
        #expect(a.nextPull(now: t0).maxBytes == 100, "never below the largest message")
    }

    @Test func aRejectedBatchIsSplitUntilTheBadMessageIsAlone() {
        let t0 = ContinuousClock.now
        var p = CommitPolicy(ackWait: .seconds(30), since: t0)
        let several = p.next(after: .rejected("bad"), batchSize: 8, cancelled: false, now: t0, jitter: 0)
        let one = p.next(after: .rejected("bad"), batchSize: 1, cancelled: false, now: t0, jitter: 0)
        #expect(several == .split)
        #expect(one == .deadLetter(reason: "rejected by PostgreSQL: bad"))
        #expect(p.attempts == 0, "a rejection is not a retry")
    }

    @Test func anOutageIsRetriedWithBackoffAndLeasesRenewedEveryThirdOfAckWait() {
        let t0 = ContinuousClock.now
        var p = CommitPolicy(ackWait: .seconds(30), since: t0)
        guard case .retry(let first, let renew1) = p.next(after: .transient, batchSize: 5, cancelled: false, now: t0 + .seconds(1), jitter: 0)
        else { Issue.record("not a retry"); return }
        #expect(!renew1 && first >= .milliseconds(100) && first <= .milliseconds(200))
        guard case .retry(_, let renew2) = p.next(after: .transient, batchSize: 5, cancelled: false, now: t0 + .seconds(10), jitter: 0.99)
        else { Issue.record("not a retry"); return }
        #expect(renew2, "10 s since the last lease with AckWait 30 s")
        guard case .retry(let later, let renew3) = p.next(after: .transient, batchSize: 5, cancelled: false, now: t0 + .seconds(11), jitter: 0.99)
        else { Issue.record("not a retry"); return }
        #expect(!renew3 && later <= .seconds(5), "capped")
        let stopping = p.next(after: .transient, batchSize: 5, cancelled: true, now: t0, jitter: 0)
        #expect(stopping == .stop)
    }

    // MARK: Work items

    @Test func workOutcomesNeverDropAnItem() {
        #expect(WorkOutcome.decide(nil, deliveries: 1, maxDeliver: 20, jitter: 0) == .ack)
        #expect(WorkOutcome.decide(.undecodable("not JSON"), deliveries: 1, maxDeliver: 20, jitter: 0) == .deadLetter(reason: "not JSON"))
        #expect(WorkOutcome.decide(.permanent("404"), deliveries: 1, maxDeliver: 20, jitter: 0) == .deadLetter(reason: "404"))
        guard case .retry(let d1) = WorkOutcome.decide(.transient("503"), deliveries: 1, maxDeliver: 20, jitter: 0),
              case .retry(let d5) = WorkOutcome.decide(.transient("503"), deliveries: 5, maxDeliver: 20, jitter: 0)
        else { Issue.record("a transient failure is retried"); return }
        #expect(d1 < d5 && d5 <= .seconds(60))
        // The last delivery the server would make is set aside instead of dropped.
        #expect(WorkOutcome.decide(.transient("503"), deliveries: 19, maxDeliver: 20, jitter: 0)
                == .deadLetter(reason: "gave up after 19 deliveries: 503"))
    }

    @Test func workItemsCarryWhatTheirModeNeeds() {
        let now = Timestamp(iso8601: "2026-01-12T22:00:00Z")!
        let series = TrackedSeriesRef(ticker: "KXA", category: "Sports", tags: ["Soccer"], routingTag: "Soccer", isGame: true)
        let settled = [Market(ticker: "KXA-1", eventTicker: "KXA-E", status: "finalized")]
        var b = WorkItemBuilder(schedule: "s", cycleId: "s-1", issuedAt: now, exchangeTime: now.adding(seconds: -5), deltaLimit: 1,
                                firstTime: ["KXA"], settledSince: now.adding(seconds: -86_400), lateSettled: ["KXA": settled])
        let full = b.item(.full, for: series)
        #expect(full.mode == .full && full.markets == settled && full.settledSince == nil)
        #expect(full.exchangeTime == now.adding(seconds: -5) && full.subject == "ssmd.work.Soccer" && full.messageID == "work:s-1:KXA")
        b.lateSettled = nil  // the listing failed: the replica asks for its own
        #expect(b.item(.full, for: series).settledSince == now.adding(seconds: -86_400))
        b.lateSettled = ["KXA": settled + settled]  // more than the delta limit
        #expect(b.item(.full, for: series).markets == nil)
        let delta = b.item(.delta(settled), for: series)
        #expect(delta.mode == .delta && delta.markets == settled)
        let inc = b.item(.incremental(since: now, tickers: ["KXA-1", "KXA-2"]), for: series)
        #expect(inc.mode == .incremental && inc.since == now && inc.tickers == ["KXA-1", "KXA-2"])
    }

    // MARK: Vocabulary

    @Test func subjectsNameTheirKind() {
        #expect(Subjects.kind(of: Subjects.market(tag: "S&P", series: "KX", market: "KX-1.5")) == .market)
        #expect(Subjects.kind(of: Subjects.snapshot(series: "KX")) == .snapshot)
        #expect(Subjects.kind(of: "ssmd.nothing.x") == nil)
        #expect(Subjects.kind(of: "other.market.x") == nil)
    }

    @Test func stateKeysAreValidKVKeysForAnyScheduleName() throws {
        for name in ["all", "sync sports & more", "a.b", "über/ü", "50%"] {
            let key = StateKeys.plan(schedule: name)
            #expect(key.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || [0x2D, 0x2F, 0x5F, 0x3D, 0x2E].contains(c)
            }, "\(key)")
            #expect(try StateKeys.decode(String(key.dropFirst("plan.".count))) == name)
        }
        #expect(StateKeys.plan(schedule: "sync-sports-us") == "plan.sync-sports-us", "plain names keep their key")
    }

    @Test func marketStatusesKnowTheirQueryStatus() {
        #expect(MarketStatus.closedPhase.allSatisfy { $0.queryStatus == .closed })
        #expect(MarketStatus.initialized.queryStatus == .unopened && MarketStatus.inactive.queryStatus == .paused)
        #expect(Market(ticker: "T", eventTicker: "E", status: "finalized").lifecycle == .finalized)
        #expect(Market(ticker: "T", eventTicker: "E", status: "something_new").lifecycle == nil)
    }

    @Test func theJSONReaderRefusesRunawayNesting() {
        let deep = Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8)
        let deepAccepted = deep.withUnsafeBufferPointer { b in
            var r = JSONReader(b)
            return r.skipValue()
        }
        #expect(!deepAccepted)
        let fine = Array(#"{"a":[1,{"b":"\u00e9"}],"c":null}"#.utf8)
        let fineAccepted = fine.withUnsafeBufferPointer { b in
            var r = JSONReader(b)
            return r.skipValue() && r.atEnd
        }
        #expect(fineAccepted)
    }

    @Test func secretsAreScrubbedLongestFirstAndDecoded() {
        let s = Secrets(["pass", "p%40ss word", "pass"])
        #expect(s.values == ["p%40ss word", "p@ss word", "pass"])
        #expect(s.scrub("a p@ss word and pass") == "a *** and ***")
    }

    // MARK: The shared budget, deterministic

    /// A clock the test moves; sleeping advances it (so waits are instant and exact).
    final class ManualClock: BudgetClock, @unchecked Sendable {
        private let lock = NSLock()
        private var micros: Int64 = 1_000_000_000_000
        func now() -> Int64 { lock.withLock { micros } }
        func sleep(until target: Int64) async throws { lock.withLock { micros = max(micros, target) } }
    }

    @Test func replicasSharingAStoreSendAtTheConfiguredRate() async throws {
        let store = InMemoryBudgetStore(), clock = ManualClock()
        let limits = BudgetLimits(tokensPerSecond: 100, burstSeconds: 0.25)  // 10 requests/s, burst ≈ 0
        let budgets = (0..<4).map { _ in SharedRequestBudget(store: store, limits: limits, clock: clock, logger: .init(label: "t")) }
        var sent: [Int64] = []
        for round in 0..<10 {
            for b in budgets {
                try await b.acquire(cost: 10)
                sent.append(clock.now())
            }
            _ = round
        }
        // 40 requests at 10/s: the last is sent 3.9 s after the first (no burst to spend).
        #expect(Double(sent.last! - sent.first!) / 1e6 >= 3.85)
        #expect(zip(sent, sent.dropFirst()).allSatisfy { $1 - $0 >= 99_000 }, "no two requests closer than the rate allows")
    }
}
