import Foundation
import Testing
import PureTestSupport
@testable import KalshiSimulator

let ref: Int64 = 1_795_600_000

@Suite(.ownThread) struct UniverseTests {
    static let universe = Universe(seed: 42, scale: 0.02, referenceTs: ref)

    @Test func sameSeedSameUniverse() {
        let a = Universe(seed: 7, scale: 0.02, referenceTs: ref)
        let b = Universe(seed: 7, scale: 0.02, referenceTs: ref)
        #expect(a.series.map(\.ticker) == b.series.map(\.ticker))
        #expect(a.markets.map(\.ticker) == b.markets.map(\.ticker))
        #expect(a.markets.map(\.staticJSON) == b.markets.map(\.staticJSON))
        #expect(a.markets.map(\.timeline) == b.markets.map(\.timeline))
        let c = Universe(seed: 8, scale: 0.02, referenceTs: ref)
        #expect(a.markets.map(\.ticker) != c.markets.map(\.ticker))
    }

    @Test func sizesFollowScale() {
        let u = Self.universe
        let listed = u.series.filter { $0.kind != .multivariate }
        #expect(listed.count == 200)
        #expect(listed.filter { $0.category == "Sports" }.count == 20)
        #expect(listed.filter { $0.kind == .game }.count == 2)
        let nonMVE = u.markets.filter { !$0.isMultivariate }.count
        #expect(nonMVE > 1_500 && nonMVE < 6_000, "\(nonMVE)")
    }

    @Test func awkwardDataIsPresent() {
        let u = Self.universe
        #expect(u.series.contains { $0.tags == nil && $0.kind != .multivariate })
        #expect(u.series.contains { ($0.tags?.count ?? 0) >= 2 })
        #expect(u.markets.contains { $0.ticker.contains(".") })
        #expect(u.events.contains { $0.ticker.hasPrefix("KXBTCD-") })
        #expect(u.series.contains { s in s.title.unicodeScalars.contains { $0.value > 127 } })
        #expect(u.series.contains { $0.category == "Sports" && $0.kind != .game })
        // Tags come only from the category's list, and categories mapped to null have none.
        for s in u.series where s.kind != .multivariate {
            let allowed = Catalog.tagsByCategory.first { $0.category == s.category }?.tags
            if allowed == nil { #expect(s.tags == nil) } else { #expect(Set(s.tags ?? []).isSubset(of: Set(allowed!))) }
        }
    }

    @Test func everyStatusAtStart() {
        let u = Self.universe
        var seen = Set<MarketStatus>()
        var settledRecently = false, settledLongAgo = false, closedRecently = false, closedLongAgo = false
        for (i, m) in u.markets.enumerated() where u.isMarketVisible(i, at: ref) {
            seen.insert(m.timeline.status(at: ref))
            if let s = m.timeline.settlementTs(at: ref) {
                if ref - s < 86_400 { settledRecently = true } else { settledLongAgo = true }
            }
            let c = m.timeline.effectiveCloseTs
            if c <= ref { if ref - c < 86_400 { closedRecently = true } else { closedLongAgo = true } }
        }
        #expect(seen == Set(MarketStatus.allCases))
        #expect(settledRecently && settledLongAgo && closedRecently && closedLongAgo)
        // Some entities only appear later.
        #expect(u.markets.contains { $0.timeline.createdTs > ref })
    }

    @Test func orderIsStableAndRangesContiguous() {
        let u = Self.universe
        for (si, s) in u.series.enumerated() {
            for ei in s.eventRange { #expect(u.events[ei].seriesIndex == si) }
            for mi in s.marketRange { #expect(u.markets[mi].seriesIndex == si) }
        }
        #expect(Set(u.markets.map(\.ticker)).count == u.markets.count)
        #expect(Set(u.events.map(\.ticker)).count == u.events.count)
    }
}

@Suite struct LifecycleTests {
    let tl = MarketTimeline(createdTs: 1000, openTs: 2000, scheduledCloseTs: 10_000, earlyCloseTs: 8000,
                            pauseStartTs: 3000, pauseEndTs: 4000, determinedTs: 9000,
                            settlementTimerSeconds: 600, metadataChangeTs: 5000)

    @Test func statusAtEachMoment() {
        #expect(tl.status(at: 1500) == .initialized)
        #expect(tl.status(at: 2000) == .active)
        #expect(tl.status(at: 3000) == .inactive)
        #expect(tl.status(at: 3999) == .inactive)
        #expect(tl.status(at: 4000) == .active)
        #expect(tl.status(at: 7999) == .active)
        #expect(tl.status(at: 8000) == .closed)
        #expect(tl.status(at: 9000) == .determined)
        #expect(tl.status(at: 9599) == .determined)
        #expect(tl.status(at: 9600) == .finalized)
        #expect(tl.settlementTs(at: 9599) == nil)
        #expect(tl.settlementTs(at: 9600) == 9600)
    }

    @Test func earlyCloseMovesCloseTimeOnlyWhenItHappens() {
        #expect(tl.shownCloseTs(at: 7999) == 10_000)
        #expect(tl.shownCloseTs(at: 8000) == 8000)
    }

    @Test func disputeAndAmend() {
        var d = tl
        d.disputedTs = 9100
        d.amendedTs = 9300
        #expect(d.status(at: 9050) == .determined)
        #expect(d.status(at: 9100) == .disputed)
        #expect(d.status(at: 9300) == .amended)
        #expect(d.status(at: 9899) == .amended)
        #expect(d.status(at: 9900) == .finalized)
    }

    @Test func updatedTimeMovesOnStatusAndMetadataNotPrices() {
        // every-change: status changes and metadata.
        #expect(tl.updatedTs(at: 1500, mode: .everyChange) == 1000)
        #expect(tl.updatedTs(at: 2500, mode: .everyChange) == 2000)
        #expect(tl.updatedTs(at: 3500, mode: .everyChange) == 3000)
        #expect(tl.updatedTs(at: 4500, mode: .everyChange) == 4000)
        #expect(tl.updatedTs(at: 5500, mode: .everyChange) == 5000)
        #expect(tl.updatedTs(at: 8500, mode: .everyChange) == 8000)
        #expect(tl.updatedTs(at: 99_999, mode: .everyChange) == 9600)
        // metadata-only (the default): the metadata edit and the early close's close-time edit.
        #expect(tl.updatedTs(at: 4500) == 1000)
        #expect(tl.updatedTs(at: 5500) == 5000)
        #expect(tl.updatedTs(at: 8500) == 8000)
        #expect(tl.updatedTs(at: 99_999) == 8000)
        // Prices move between 5500 and 7900 while updated_time stays.
        let u = UniverseTests.universe
        let active = u.markets.first { $0.timeline.status(at: ref) == .active && $0.timeline.effectiveCloseTs > ref + 86_400 && $0.timeline.metadataChangeTs == nil && $0.timeline.closeEdit1 == nil && $0.timeline.priceLevelStructureChangeTs == nil && ($0.timeline.pauseStartTs ?? .max) > ref + 86_400 }!
        var mids = Set<Int64>()
        for k in 0..<40 { mids.insert(MarketRendering.quote(active, status: .active, at: ref + Int64(k) * 900).yesBid) }
        #expect(mids.count > 1)
        #expect(active.timeline.updatedTs(at: ref) == active.timeline.updatedTs(at: ref + 40 * 900))
    }

    @Test func queryStatusMapping() {
        #expect(QueryStatus.unopened.matches(.initialized))
        #expect(QueryStatus.open.matches(.active) && !QueryStatus.open.matches(.inactive))
        #expect(QueryStatus.paused.matches(.inactive))
        for s in [MarketStatus.closed, .determined, .disputed, .amended] { #expect(QueryStatus.closed.matches(s)) }
        #expect(!QueryStatus.closed.matches(.finalized))
        #expect(QueryStatus.settled.matches(.finalized) && !QueryStatus.settled.matches(.determined))
    }
}

@Suite struct QueryTests {
    func q(_ s: String) throws -> MarketsQuery { try MarketsQuery(QueryParams(s)) }

    @Test func compatibilityTable() throws {
        #expect(try q("min_created_ts=1&status=open").isCompatible)
        #expect(try q("max_created_ts=1&status=unopened").isCompatible)
        #expect(try !q("min_created_ts=1&status=closed").isCompatible)
        #expect(try q("min_close_ts=1&status=closed").isCompatible)
        #expect(try q("max_close_ts=1").isCompatible)
        #expect(try !q("min_close_ts=1&status=open").isCompatible)
        #expect(try q("min_settled_ts=1&status=settled").isCompatible)
        #expect(try !q("min_settled_ts=1&status=closed").isCompatible)
        #expect(try !q("min_settled_ts=1&min_close_ts=1").isCompatible)
        #expect(try q("min_updated_ts=1").isCompatible)
        #expect(try q("min_updated_ts=1&mve_filter=exclude").isCompatible)
        #expect(try q("min_updated_ts=1&mve_filter=exclude&series_ticker=X").isCompatible)
        #expect(try !q("min_updated_ts=1&series_ticker=X").isCompatible)
        #expect(try !q("min_updated_ts=1&status=open").isCompatible)
        #expect(try !q("min_updated_ts=1&event_ticker=E").isCompatible)
        #expect(try !q("min_updated_ts=1&min_close_ts=5").isCompatible)
    }

    @Test func badParameters() {
        #expect(throws: APIError.self) { try q("limit=1001") }
        #expect(throws: APIError.self) { try q("limit=abc") }
        #expect(throws: APIError.self) { try q("status=bogus") }
        #expect(throws: APIError.self) { try q("status=open,closed") }
        #expect(throws: APIError.self) { try q("min_close_ts=yesterday") }
        #expect(throws: APIError.self) { try q("cursor=%%%") }
        #expect(throws: APIError.self) { try q("mve_filter=maybe") }
    }

    @Test func cursorRoundTrip() {
        for t in ["KXBTCD-26NOV2517-T98999.99", "A", "AB", "ABC", "Zürich-é"] {
            #expect(Cursor.decode(Cursor.encode(kind: "m", ticker: t), kind: "m") == t)
        }
        #expect(Cursor.decode(Cursor.encode(kind: "e", ticker: "X"), kind: "m") == nil)
    }

    @Test func timeFormatting() {
        #expect(SimTime.iso8601(0) == "1970-01-01T00:00:00Z")
        #expect(SimTime.iso8601(1_795_600_000) == "2026-11-25T09:46:40Z")
        #expect(SimTime.parse("2026-11-25T09:46:40Z") == 1_795_600_000)
        #expect(SimTime.parse("2026-11-25T10:46:40.123+01:00") == 1_795_600_000)
        #expect(SimTime.parse("1795600000") == 1_795_600_000)
        #expect(SimTime.parse("yesterday") == nil)
        #expect(SimTime.tickerDateHour(1_795_600_000) == "26NOV2509")
        #expect(FixedPoint.dollars(5600) == "0.5600")
        #expect(FixedPoint.count(1000) == "10.00")
    }
}

@Test(.ownThread) func everyMarketOpensBeforeItCloses() throws {
    let u = Universe(seed: 42, scale: 0.05, referenceTs: 1_795_600_000)
    let bad = u.markets.map(\.timeline).filter { $0.openTs > ($0.closeEdit1?.to ?? $0.scheduledCloseTs) || $0.determinedTs < $0.finalCloseTs }
    #expect(bad.isEmpty, "\(bad.count) markets close before they open or are determined before they close")
}
