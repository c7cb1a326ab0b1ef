import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import SSMDCore
@testable import SecmasterSchema

@Suite struct SecmasterStoreTests {
    static let db = SuiteDatabase()

    @Test func insertUpdateAndNoOpCounts() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            let series = [SeriesRow(ticker: "KXTEST", title: "Test", category: "Sports", tags: ["Football", "S&P"], isGame: false)]
            let events = [sampleEvent("KXTEST-1"), sampleEvent("KXTEST-2")]
            let markets = [sampleMarket("KXTEST-1-A", event: "KXTEST-1"), sampleMarket("KXTEST-1-B", event: "KXTEST-1"),
                           sampleMarket("KXTEST-2-A", event: "KXTEST-2")]
            let first = try store.upsert(series: series, events: events, markets: markets)
            #expect(first.series == UpsertCounts(inserted: 1, updated: 0, unchanged: 0))
            #expect(first.events == UpsertCounts(inserted: 2, updated: 0, unchanged: 0))
            #expect(first.markets == UpsertCounts(inserted: 3, updated: 0, unchanged: 0))

            // Identical batch, re-fetched later: nothing is written.
            let before = try store.connection.execute("SELECT ticker, updated_at, xmin::text FROM markets ORDER BY ticker").rows
            let refetched = markets.map { var m = $0; m.fetchedAt = ts(60); return m }
            let again = try store.upsert(series: series, events: events.map { var e = $0; e.fetchedAt = ts(60); return e },
                                         markets: refetched)
            #expect(again.series == UpsertCounts(inserted: 0, updated: 0, unchanged: 1))
            #expect(again.events == UpsertCounts(inserted: 0, updated: 0, unchanged: 2))
            #expect(again.markets == UpsertCounts(inserted: 0, updated: 0, unchanged: 3))
            let after = try store.connection.execute("SELECT ticker, updated_at, xmin::text FROM markets ORDER BY ticker").rows
            #expect(before == after, "no-op upsert rewrote rows")
            // The same decimal written with another scale is not a change either.
            var rescaled = markets[0]
            rescaled.yesBidDollars = "0.56"
            rescaled.fetchedAt = ts(90)
            #expect(try store.upsert(markets: [rescaled]).markets.unchanged == 1)

            // One real change.
            var changed = markets[1]
            changed.yesBidDollars = "0.6100"
            changed.status = "closed"
            changed.updatedTime = ts(120)
            changed.fetchedAt = ts(120)
            let third = try store.upsert(series: [], events: [], markets: [changed] + Array(refetched[2...]))
            #expect(third.markets == UpsertCounts(inserted: 0, updated: 1, unchanged: 1))
            #expect(try store.marketStatuses() == ["KXTEST-1-A": "active", "KXTEST-1-B": "closed", "KXTEST-2-A": "active"])
            #expect(try store.market(ticker: "KXTEST-1-B")?.row == changed)
            #expect(try store.count(.markets) == 3)
            #expect(try store.count(.events) == 2)
            #expect(try store.count(.series) == 1)
        }
    }

    @Test func rowsRoundTripExactly() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            var market = sampleMarket("KXWEIRD-26JAN12-T3.5", event: "KXWEIRD-26JAN12")
            market.title = "Tab\there, newline\nhere, backslash \\ and quote \" ünï 🚀"
            market.createdTime = Timestamp(microsecondsSinceEpoch: -62_135_596_800_000_000)  // 0001-01-01, as the exchange sends
            market.customStrikeJSON = nil
            market.capStrike = "-0.000001"
            let event = sampleEvent("KXWEIRD-26JAN12", series: "KXWEIRD", title: "{braces}, \"quotes\"", updated: 5)
            let series = SeriesRow(ticker: "KXWEIRD", title: "Weird, \"quoted\" {title}",
                                   category: "SCOTUS & courts", tags: ["EUR/USD", "a,b", "{x}", "", "NULL", "back\\slash"],
                                   isGame: true)
            try store.upsert(series: [series], events: [event], markets: [market])
            #expect(try store.market(ticker: market.ticker)?.row == market)
            #expect(try store.event(ticker: event.ticker)?.row == event)
            let stored = try #require(try store.series(ticker: series.ticker))
            #expect(stored.row == series)
            #expect(stored.active)
        }
    }

    @Test func olderSnapshotNeverOverwritesNewer() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            try store.upsert(events: [sampleEvent("E")])
            let newer = sampleMarket("M", event: "E", status: "closed", updated: 100, fetched: 100, yesBid: "0.9900")
            let older = sampleMarket("M", event: "E", status: "active", updated: 50, fetched: 200, yesBid: "0.1000")
            let sameUpdateOlderFetch = sampleMarket("M", event: "E", status: "active", updated: 100, fetched: 90)
            #expect(try store.upsert(markets: [newer]).markets.inserted == 1)
            #expect(try store.upsert(markets: [older]).markets == UpsertCounts(inserted: 0, updated: 0, unchanged: 1))
            #expect(try store.upsert(markets: [sameUpdateOlderFetch]).markets.unchanged == 1)
            #expect(try store.market(ticker: "M")?.row == newer)
            // Within one batch, the newest copy of a key wins whatever the order.
            let newest = sampleMarket("M", event: "E", status: "determined", updated: 300, fetched: 300)
            let counts = try store.upsert(markets: [newest, older, newer])
            #expect(counts.markets == UpsertCounts(inserted: 0, updated: 1, unchanged: 2))
            #expect(try store.marketStatuses()["M"] == "determined")
            // A market without updated_time is ordered by fetched_at alone, and never beats a timed one.
            var untimed = sampleMarket("M", event: "E", status: "active", fetched: 999)
            untimed.updatedTime = nil
            #expect(try store.upsert(markets: [untimed]).markets.unchanged == 1)
            // Events: same rule on (exchange_updated_at, fetched_at).
            try store.upsert(events: [sampleEvent("E", title: "new", fetched: 100, updated: 100)])
            #expect(try store.upsert(events: [sampleEvent("E", title: "old", fetched: 200, updated: 50)]).events.unchanged == 1)
            #expect(try store.event(ticker: "E")?.row.title == "new")
        }
    }

    @Test func marketBeforeItsEventGetsAPlaceholder() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            let market = sampleMarket("KXLATE-1-A", event: "KXLATE-1", series: "KXLATE", fetched: 100)
            let counts = try store.upsert(markets: [market])
            #expect(counts.markets.inserted == 1)
            let placeholder = try #require(try store.event(ticker: "KXLATE-1"))
            #expect(placeholder.row == EventRow(ticker: "KXLATE-1", seriesTicker: "KXLATE", fetchedAt: ts(100)))
            // The real event arrives later, fetched *before* the market: it still fills the placeholder.
            let real = sampleEvent("KXLATE-1", series: "KXLATE", title: "The real event", fetched: 50)
            #expect(try store.upsert(events: [real]).events == UpsertCounts(inserted: 0, updated: 1, unchanged: 0))
            #expect(try store.event(ticker: "KXLATE-1")?.row == real)
            // Markets of an existing event add no placeholder; a batch with both needs none either.
            try store.upsert(events: [sampleEvent("KXLATE-2", series: "KXLATE")],
                             markets: [sampleMarket("KXLATE-2-A", event: "KXLATE-2", series: "KXLATE")])
            #expect(try store.event(ticker: "KXLATE-2")?.row.title == "An event")
            #expect(try store.count(.events) == 2)
        }
    }

    @Test func goneRowsAreMarkedAndRevived() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            try store.upsert(events: [sampleEvent("E")], markets: [sampleMarket("M1", event: "E"), sampleMarket("M2", event: "E")])
            #expect(try store.markGone(markets: ["M1", "NOPE"], at: ts(10)) == 1)
            #expect(try store.markGone(markets: ["M1"], at: ts(20)) == 0)  // already gone
            #expect(try store.markGone(events: ["E"], at: ts(10)) == 1)
            #expect(try store.market(ticker: "M1")?.goneAt == ts(10))
            #expect(try store.market(ticker: "M2")?.goneAt == nil)
            // A snapshot fetched before it went away does not revive it …
            #expect(try store.upsert(markets: [sampleMarket("M1", event: "E", fetched: 5)]).markets.unchanged == 1)
            #expect(try store.market(ticker: "M1")?.goneAt == ts(10))
            // … one fetched after does, even with identical content.
            let revived = try store.upsert(events: [sampleEvent("E", fetched: 30)],
                                           markets: [sampleMarket("M1", event: "E", fetched: 30)])
            #expect(revived.markets == UpsertCounts(inserted: 0, updated: 1, unchanged: 0))
            #expect(revived.events == UpsertCounts(inserted: 0, updated: 1, unchanged: 0))
            #expect(try store.market(ticker: "M1")?.goneAt == nil)
            #expect(try store.event(ticker: "E")?.goneAt == nil)
        }
    }

    @Test func seriesSnapshotMarksWhatItProvesGone() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            var old = sampleMarket("KXTEST-0-OLD", event: "KXTEST-0")
            old.closeTime = ts(-3 * 86_400)  // closed before the snapshot's scope
            try store.upsert(events: [sampleEvent("KXTEST-0"), sampleEvent("KXTEST-1"), sampleEvent("KXTEST-2"), sampleEvent("KXOTHER-1", series: "KXOTHER")],
                             markets: [old, sampleMarket("KXTEST-1-A", event: "KXTEST-1"), sampleMarket("KXTEST-1-B", event: "KXTEST-1"),
                                       sampleMarket("KXTEST-2-A", event: "KXTEST-2"),
                                       sampleMarket("KXTEST-2-NEW", event: "KXTEST-2", fetched: 100),
                                       sampleMarket("KXOTHER-1-A", event: "KXOTHER-1", series: "KXOTHER")])
            // Listed: 1-A only. 1-B and 2-A are in scope and gone; 2-NEW was fetched after the
            // snapshot; OLD is outside its scope; another series is never touched.
            let r = try store.applySeriesSnapshot(series: "KXTEST", closedSince: ts(-86_400), markets: ["KXTEST-1-A"],
                                                  events: ["KXTEST-1"], fetchedAt: ts(50))
            #expect(r.markets == 2)
            #expect(try store.market(ticker: "KXTEST-1-B")?.goneAt == ts(50))
            #expect(try store.market(ticker: "KXTEST-2-A")?.goneAt == ts(50))
            #expect(try store.market(ticker: "KXTEST-1-A")?.goneAt == nil)
            #expect(try store.market(ticker: "KXTEST-2-NEW")?.goneAt == nil)
            #expect(try store.market(ticker: "KXTEST-0-OLD")?.goneAt == nil)
            #expect(try store.market(ticker: "KXOTHER-1-A")?.goneAt == nil)
            // Events go only when every market of theirs is gone: none here (2-NEW is live).
            #expect(r.events == 0)
            let again = try store.applySeriesSnapshot(series: "KXTEST", closedSince: ts(-86_400), markets: ["KXTEST-1-A"],
                                                      events: ["KXTEST-1"], fetchedAt: ts(200))
            #expect(again.markets == 1, "2-NEW, now older than a newer snapshot")
            #expect(again.events == 1)
            #expect(try store.event(ticker: "KXTEST-2")?.goneAt == ts(200))
            #expect(try store.event(ticker: "KXTEST-0")?.goneAt == nil, "out of scope: its market is not gone")
        }
    }

    @Test func deactivatedSeriesTakesItsMarketsAndEventsWithIt() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            try store.upsert(series: [SeriesRow(ticker: "KXTEST", title: "T", category: "Sports", tags: [], isGame: false),
                                      SeriesRow(ticker: "KXKEEP", title: "K", category: "Sports", tags: [], isGame: false)],
                             events: [sampleEvent("KXTEST-1"), sampleEvent("KXKEEP-1", series: "KXKEEP")],
                             markets: [sampleMarket("KXTEST-1-A", event: "KXTEST-1"), sampleMarket("KXKEEP-1-A", event: "KXKEEP-1", series: "KXKEEP")])
            let r = try store.applyCatalog(category: "Sports", listed: ["KXKEEP"], listedAt: ts(30))
            #expect(r.deactivated == 1)
            #expect(try store.market(ticker: "KXTEST-1-A")?.goneAt == ts(30))
            #expect(try store.event(ticker: "KXTEST-1")?.goneAt == ts(30))
            #expect(try store.market(ticker: "KXKEEP-1-A")?.goneAt == nil)
            // Listed again and re-synced: the rows come back.
            try store.applyCatalog(category: "Sports", listed: ["KXKEEP", "KXTEST"], listedAt: ts(40))
            try store.upsert(events: [sampleEvent("KXTEST-1", fetched: 50)], markets: [sampleMarket("KXTEST-1-A", event: "KXTEST-1", fetched: 50)])
            #expect(try store.market(ticker: "KXTEST-1-A")?.goneAt == nil)
        }
    }

    @Test func deactivateSeriesOnlyTouchesItsCategory() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            let sports = (1...4).map { SeriesRow(ticker: "KXS\($0)GAME", title: "S\($0)", category: "Sports", tags: ["Soccer"], isGame: true) }
            let politics = (1...3).map { SeriesRow(ticker: "KXP\($0)", title: "P\($0)", category: "Politics", tags: [], isGame: false) }
            try store.upsert(series: sports + politics)
            let stamp = try store.connection.execute("SELECT ticker, updated_at FROM series ORDER BY ticker").rows

            #expect(try store.deactivateSeries(category: "Sports", listed: ["KXS1GAME", "KXS2GAME"]) == 2)
            let active = try store.connection.execute("SELECT ticker FROM series WHERE active ORDER BY ticker").rows.map { $0[0]! }
            #expect(active == ["KXP1", "KXP2", "KXP3", "KXS1GAME", "KXS2GAME"])
            // Repeating it changes nothing, and unaffected rows kept their updated_at.
            #expect(try store.deactivateSeries(category: "Sports", listed: ["KXS1GAME", "KXS2GAME"]) == 0)
            let untouched = try store.connection.execute(
                "SELECT ticker, updated_at FROM series WHERE ticker NOT IN ('KXS3GAME', 'KXS4GAME') ORDER BY ticker").rows
            #expect(untouched == stamp.filter { !["KXS3GAME", "KXS4GAME"].contains($0[0]!) })

            // Reappearing reactivates through the upsert; unchanged active series stay untouched.
            let counts = try store.upsert(series: [sports[2], sports[0]])
            #expect(counts.series == UpsertCounts(inserted: 0, updated: 1, unchanged: 1))
            #expect(try store.series(ticker: "KXS3GAME")?.active == true)
            #expect(try store.series(ticker: "KXS4GAME")?.active == false)
            #expect(try store.deactivateSeries(category: "Politics", listed: []) == 3)
        }
    }

    @Test func batchBeyondTheBindParameterLimit() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            let n = 70_500
            let events = (0..<n / 10).map { sampleEvent("KXBIG-E\($0)", series: "KXBIG") }
            let markets = (0..<n).map { sampleMarket("KXBIG-E\($0 / 10)-M\($0)", event: "KXBIG-E\($0 / 10)", series: "KXBIG") }
            let first = try store.upsert(events: events, markets: markets)
            #expect(first.markets == UpsertCounts(inserted: n, updated: 0, unchanged: 0))
            #expect(first.events.inserted == n / 10)
            #expect(try store.count(.markets) == n)
            let again = try store.upsert(events: events, markets: markets)
            #expect(again.markets == UpsertCounts(inserted: 0, updated: 0, unchanged: n))
            #expect(try store.markGone(markets: markets.map(\.ticker), at: ts(5)) == n)
        }
    }

    @Test func poisonRowFailsTheBatchAsAConstraintViolation() async throws {
        let db = try await Self.db.freshStore()
        try await db.secmaster { store in
            try store.upsert(events: [sampleEvent("E")], markets: [sampleMarket("GOOD", event: "E")])
            var bad = sampleMarket("BAD", event: "E")
            bad.customStrikeJSON = "{not json"
            var alsoGood = sampleMarket("GOOD2", event: "E")
            alsoGood.fetchedAt = ts(1)
            #expect {
                try store.upsert(markets: [alsoGood, bad])
            } throws: { ($0 as? PostgresError)?.isConstraintViolation == true }
            var overflow = sampleMarket("BAD2", event: "E")
            overflow.floorStrike = "12abc"
            #expect {
                try store.upsert(markets: [overflow])
            } throws: { ($0 as? PostgresError)?.isConstraintViolation == true }
            // Nothing of the failed batches was written, and the store keeps working.
            #expect(try store.count(.markets) == 1)
            #expect(try store.upsert(markets: [alsoGood]).markets.inserted == 1)
            // Inside a caller's transaction the staging tables are emptied between calls.
            try store.connection.transaction { _ in
                try store.upsert(markets: [sampleMarket("T1", event: "E")])
                let second = try store.upsert(markets: [sampleMarket("T2", event: "E")])
                #expect(second.markets == UpsertCounts(inserted: 1, updated: 0, unchanged: 0))
            }
            #expect(try store.count(.markets) == 4)
        }
    }
}
