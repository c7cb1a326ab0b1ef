import Foundation
import Testing
@testable import KalshiSimulator

/// The strict lifecycle: updated_time modes, every transition kind, close edits, reopen,
/// determination before settlement, metadata and price-level-structure changes.
@Suite struct StrictLifecycleTests {
    /// open 2000, paused [3000, 4000), extended at 5000 to 12 000, metadata edit at 6000,
    /// structure change at 7000, closes 12 000, determined 13 000, settles 13 600.
    let tl = MarketTimeline(createdTs: 1000, openTs: 2000, scheduledCloseTs: 10_000,
                            closeEdit1: CloseEdit(at: 5000, to: 12_000),
                            pauseStartTs: 3000, pauseEndTs: 4000, determinedTs: 13_000,
                            settlementTimerSeconds: 600, metadataChangeTs: 6000, priceLevelStructureChangeTs: 7000)

    @Test func metadataOnlyUpdatedTimeIgnoresEveryStatusChange() {
        let strict: [(Int64, Int64)] = [(1500, 1000), (2500, 1000), (3500, 1000), (4500, 1000), (5000, 5000),
                                        (6500, 6000), (7000, 7000), (12_500, 7000), (13_100, 7000), (99_999, 7000)]
        for (t, want) in strict { #expect(tl.updatedTs(at: t, mode: .metadataOnly) == want, "at \(t)") }
        let every: [(Int64, Int64)] = [(1500, 1000), (2500, 2000), (3500, 3000), (4500, 4000), (5000, 5000),
                                       (6500, 6000), (7000, 7000), (12_500, 12_000), (13_100, 13_000), (99_999, 13_600)]
        for (t, want) in every { #expect(tl.updatedTs(at: t, mode: .everyChange) == want, "at \(t)") }
    }

    func transitions(_ t: MarketTimeline) -> [(Int64, TransitionKind)] {
        var out: [(Int64, TransitionKind)] = []
        t.forEachTransition { out.append(($0, $1)) }
        return out.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
    }

    @Test func transitionsOfAnExtendedPausedMarket() {
        let got = transitions(tl).map { "\($0.0) \($0.1.name)" }
        #expect(got == ["1000 created", "2000 opened", "3000 paused", "4000 unpaused", "5000 close_date_updated",
                        "6000 metadata_updated", "7000 price_level_structure_updated", "12000 closed",
                        "13000 determined", "13600 settled"])
        #expect(tl.status(at: 10_500) == .active)  // the extension keeps it trading past the old close
        #expect(tl.shownCloseTs(at: 4999) == 10_000 && tl.shownCloseTs(at: 5000) == 12_000)
    }

    @Test func reopenedMarket() {
        // Closes at 10 000; at 10 500 the close moves to 11 000 (close_date_updated, activated).
        let r = MarketTimeline(createdTs: 1000, openTs: 2000, scheduledCloseTs: 10_000,
                               closeEdit1: CloseEdit(at: 10_500, to: 11_000), determinedTs: 11_200, settlementTimerSeconds: 300)
        #expect(transitions(r).map { "\($0.0) \($0.1.name)" } == [
            "1000 created", "2000 opened", "10000 closed", "10500 close_date_updated", "10500 reopened",
            "11000 closed", "11200 determined", "11500 settled"])
        #expect([9999, 10_000, 10_499, 10_500, 10_999, 11_000, 11_199, 11_200, 11_500].map { r.status(at: $0) }
            == [.active, .closed, .closed, .active, .active, .closed, .closed, .determined, .finalized])
        #expect(r.shownCloseTs(at: 10_499) == 10_000 && r.shownCloseTs(at: 10_500) == 11_000)
        #expect(TransitionKind.reopened.webSocketEventType == "activated")
        #expect(TransitionKind.closeDateUpdated.webSocketEventType == "close_date_updated")
    }

    @Test func earlyCloseIsACloseDateUpdateThenAClose() {
        let e = MarketTimeline(createdTs: 0, openTs: 0, scheduledCloseTs: 50_000, earlyCloseTs: 8000, determinedTs: 9000,
                               settlementTimerSeconds: 600)
        #expect(transitions(e).map { "\($0.0) \($0.1.name)" } == [
            "0 created", "8000 close_date_updated", "8000 closed", "9000 determined", "9600 settled"])
        #expect(e.status(at: 8999) == .closed && e.status(at: 9000) == .determined && e.status(at: 9600) == .finalized)
        #expect(e.settlementTs(at: 9599) == nil && e.settlementTs(at: 9600) == 9600)
    }

    @Test func noWebSocketEventForOpeningOrClosing() {
        #expect(TransitionKind.opened.webSocketEventType == nil)
        #expect(TransitionKind.closed.webSocketEventType == nil)
        #expect(TransitionKind.paused.webSocketEventType == "deactivated")
        #expect(TransitionKind.unpaused.webSocketEventType == "activated")
    }

    @Test func universeHasEveryKindOfTransition() {
        let u = Universe(seed: 42, scale: 0.05, referenceTs: ref)
        var kinds: [TransitionKind: Int] = [:]
        var futureKinds = Set<TransitionKind>()
        Transitions.forEach(in: u) { e in
            guard e.entity == .market else { return }
            kinds[e.kind, default: 0] += 1
            if e.at > ref && e.at < ref + 2 * 86_400 { futureKinds.insert(e.kind) }
        }
        let marketKinds = TransitionKind.allCases.filter { $0 != .delisted }
        for k in marketKinds { #expect((kinds[k] ?? 0) > 0, "no \(k.name) in the universe") }
        // Within two simulated days of the start, every kind happens live.
        for k in marketKinds where k != .disputed && k != .amended {
            #expect(futureKinds.contains(k), "no \(k.name) in the first two days")
        }
    }

    @Test func everyTimelineIsOrdered() {
        let u = Universe(seed: 42, scale: 0.05, referenceTs: ref)
        for m in u.markets {
            let t = m.timeline
            #expect(t.openTs >= t.createdTs, "\(m.ticker)")
            #expect(t.determinedTs > t.finalCloseTs || t.determinedTs == t.finalCloseTs, "\(m.ticker)")
            if let e = t.closeEdit1, let f = t.closeEdit2 { #expect(f.at > e.at, "\(m.ticker)") }
            if let c = t.metadataChangeTs { #expect(c > t.createdTs && c < t.determinedTs, "\(m.ticker)") }
            if let c = t.priceLevelStructureChangeTs { #expect(c > t.openTs && c < t.finalCloseTs, "\(m.ticker)") }
            if m.isMultivariate { #expect(m.priceLevelStructure == .centerDeciEdgeCentiCent && m.newPriceLevelStructure == nil) }
        }
    }
}

@Suite struct PriceLevelTests {
    @Test func bandsAreTheDocumentedTable() throws {
        func ranges(_ s: PriceLevelStructure) throws -> [[String: String]] {
            try JSONSerialization.jsonObject(with: Data(s.rangesJSON)) as! [[String: String]]
        }
        #expect(try ranges(.linearCent) == [["start": "0.0000", "end": "1.0000", "step": "0.0100"]])
        #expect(try ranges(.deciCent) == [["start": "0.0000", "end": "1.0000", "step": "0.0010"]])
        #expect(try ranges(.taperedDeciCent) == [["start": "0.0000", "end": "0.1000", "step": "0.0010"],
                                                 ["start": "0.1000", "end": "0.9000", "step": "0.0100"],
                                                 ["start": "0.9000", "end": "1.0000", "step": "0.0010"]])
        #expect(try ranges(.centerDeciEdgeCentiCent) == [["start": "0.0000", "end": "0.0100", "step": "0.0001"],
                                                         ["start": "0.0100", "end": "0.9900", "step": "0.0010"],
                                                         ["start": "0.9900", "end": "1.0000", "step": "0.0001"]])
        #expect(try ranges(.centerQuintEdgeDeciCent).map { $0["step"]! } == ["0.0010", "0.0020", "0.0010"])
        for s in PriceLevelStructure.allCases {
            // Whole cents are valid in every structure (fixed-point page).
            for c in stride(from: Int64(0), through: 10_000, by: 100) { #expect(s.isValid(c), "\(s) \(c)") }
        }
        #expect(!PriceLevelStructure.linearCent.isValid(5050))
        #expect(PriceLevelStructure.centerHalfEdgeHalfCent.isValid(5050))
    }

    @Test func quotesStayOnTheGridAcrossAStructureChange() {
        let u = Universe(seed: 42, scale: 0.05, referenceTs: ref)
        let changing = u.markets.filter { $0.newPriceLevelStructure != nil }
        #expect(changing.count > 10)
        for m in u.markets.prefix(2000) + changing {
            let tl = m.timeline
            for t in [tl.openTs, tl.priceLevelStructureChangeTs.map { $0 - 1 }, tl.priceLevelStructureChangeTs, ref, tl.finalCloseTs - 1]
            where t != nil && tl.isTrading(at: t!) {
                let q = MarketRendering.quote(m, status: tl.status(at: t!), at: t!)
                let s = m.priceLevelStructure(at: t!)
                for p in [q.yesBid, q.yesAsk, q.noBid, q.noAsk, q.lastPrice] { #expect(s.isValid(p), "\(m.ticker) \(s) \(p)") }
            }
        }
    }
}

@Suite struct WSSessionTests {
    func obj(_ s: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any]) ?? [:] }
    func code(_ s: String) -> Int? { (obj(s)["msg"] as? [String: Any])?["code"] as? Int }

    @Test func commandsAndDocumentedErrorCodes() {
        var s = WSSession()
        let sub = s.handle(#"{"id":1,"cmd":"subscribe","params":{"channels":["market_lifecycle_v2"]}}"#)
        #expect(sub.count == 1)
        #expect(obj(sub[0])["type"] as? String == "subscribed" && obj(sub[0])["id"] as? Int == 1)
        #expect((obj(sub[0])["msg"] as? [String: Any])?["sid"] as? Int == 1)
        #expect((obj(sub[0])["msg"] as? [String: Any])?["channel"] as? String == "market_lifecycle_v2")
        let again = s.handle(#"{"id":2,"cmd":"subscribe","params":{"channels":["market_lifecycle_v2"]}}"#)
        #expect(code(again[0]) == 6 && (obj(again[0])["msg"] as? [String: Any])?["msg"] as? String == "Already subscribed")
        #expect(obj(again[0])["type"] as? String == "error" && obj(again[0])["id"] as? Int == 2)
        #expect(code(s.handle(#"{"id":3,"cmd":"subscribe","params":{"channels":["no_such_channel"]}}"#)[0]) == 8)
        #expect(code(s.handle(#"{"id":3,"cmd":"subscribe","params":{"channels":["orderbook_delta"]}}"#)[0]) == 8)
        #expect(code(s.handle(#"{"id":4,"cmd":"subscribe"}"#)[0]) == 2)
        #expect(code(s.handle(#"{"id":5,"cmd":"subscribe","params":{"channels":[]}}"#)[0]) == 3)
        #expect(code(s.handle(#"{"id":6,"cmd":"unsubscribe","params":{}}"#)[0]) == 4)
        #expect(code(s.handle(#"{"id":7,"cmd":"unsubscribe","params":{"sids":[99]}}"#)[0]) == 7)
        #expect(code(s.handle(#"{"id":8,"cmd":"fly"}"#)[0]) == 5)
        #expect(code(s.handle("not json")[0]) == 1)
        #expect(code(s.handle(#"{"id":"nine","cmd":"subscribe"}"#)[0]) == 1)
        #expect(code(s.handle(#"{"id":10,"cmd":"update_subscription","params":{"sid":1}}"#)[0]) == 15)
        #expect(code(s.handle(#"{"id":11,"cmd":"update_subscription","params":{"action":"add_markets"}}"#)[0]) == 12)
        #expect(code(s.handle(#"{"id":11,"cmd":"update_subscription","params":{"sids":[1,2],"action":"add_markets"}}"#)[0]) == 12)
        #expect(code(s.handle(#"{"id":12,"cmd":"update_subscription","params":{"sid":42,"action":"add_markets"}}"#)[0]) == 7)
        #expect(code(s.handle(#"{"id":13,"cmd":"update_subscription","params":{"sids":[1],"action":"add_markets","market_tickers":["X"]}}"#)[0]) == 13)
        // Two channels in one command: one answer each, each with its own sid.
        let both = s.handle(#"{"id":14,"cmd":"subscribe","params":{"channels":["multivariate_market_lifecycle"]}}"#)
        #expect((obj(both[0])["msg"] as? [String: Any])?["sid"] as? Int == 2)
        let list = obj(s.handle(#"{"id":15,"cmd":"list_subscriptions"}"#)[0])
        #expect(list["type"] as? String == "ok" && list["id"] as? Int == 15)
        #expect((list["msg"] as? [[String: Any]])?.map { $0["sid"] as? Int } == [1, 2])
        // Messages are addressed by channel; unsubscribe answers with sid and seq.
        let m = LifecycleMessage(channel: .marketLifecycleV2, type: "market_lifecycle_v2", msg: Array(#"{"market_ticker":"A","event_type":"settled","settled_ts":5}"#.utf8), at: 5)
        let frame = obj(s.address(m)!)
        #expect(frame["type"] as? String == "market_lifecycle_v2" && frame["sid"] as? Int == 1)
        #expect((frame["msg"] as? [String: Any])?["settled_ts"] as? Int == 5)
        let unsub = obj(s.handle(#"{"id":16,"cmd":"unsubscribe","params":{"sids":[1]}}"#)[0])
        #expect(unsub["type"] as? String == "unsubscribed" && unsub["sid"] as? Int == 1 && unsub["seq"] as? Int == 2)
        #expect(s.address(m) == nil)
        // id 0 is treated as no id: answers carry none.
        #expect(obj(s.handle(#"{"id":0,"cmd":"list_subscriptions"}"#)[0])["id"] == nil)
    }
}
