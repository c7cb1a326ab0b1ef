import Testing
import KalshiLive
import SSMDCore
import WireContract

/// The listener's connection state machine, driven by made-up events at made-up times.
@Suite struct ListenerMachineTests {
    func at(_ s: Double) -> Timestamp { Timestamp(microsecondsSinceEpoch: 1_795_600_000_000_000 + Int64(s * 1e6)) }
    let subscribed = #"{"id":1,"type":"subscribed","msg":{"channel":"market_lifecycle_v2","sid":1}}"#
    func lifecycle(_ market: String) -> String {
        #"{"type":"market_lifecycle_v2","sid":1,"msg":{"market_ticker":"\#(market)","event_type":"settled","settled_ts":1}}"#
    }

    /// Start → connect → subscribe → confirmed: the start-up gap (from nil) closes at the confirmation.
    @Test func startUpSubscribesAndPublishesTheStartGap() {
        var m = ListenerMachine()
        #expect(m.handle(.start, now: at(0), random: 0.5) == [.connect])
        #expect(m.handle(.connected, now: at(1), random: 0.5) == [.send(.subscribe(id: 1, channels: ["market_lifecycle_v2"]))])
        let actions = m.handle(.text(subscribed), now: at(2), random: 0.5)
        #expect(actions == [.report(.subscribed(sid: 1)), .publishGap(LifecycleGap(from: nil, to: at(2), reason: "start-up"))])
        #expect(m.state == .streaming(sid: 1, since: at(2)))
        let msg = m.handle(.text(lifecycle("M1")), now: at(3), random: 0.5)
        guard case .publish(let n)? = msg.first else { Issue.record("\(msg)"); return }
        #expect(n.marketTicker == "M1" && n.receivedAt == at(3))
        #expect(m.lastMessageAt == at(3))
    }

    /// A drop: back off (full jitter, growing), reconnect, and the gap runs from the last
    /// message to the new confirmation.
    @Test func dropReconnectsWithBackoffAndPublishesTheGap() {
        var m = ListenerMachine()
        _ = m.handle(.start, now: at(0), random: 0)
        _ = m.handle(.connected, now: at(0), random: 0)
        _ = m.handle(.text(subscribed), now: at(0), random: 0)
        _ = m.handle(.text(lifecycle("M1")), now: at(5), random: 0)
        let drop = m.handle(.disconnected(reason: "connection ended"), now: at(6), random: 1)
        #expect(drop == [.reconnect(after: .milliseconds(500), reason: "connection ended")], "attempt 0: up to the 0.5 s base")
        #expect(m.handle(.tick, now: at(6.2), random: 0).isEmpty, "still backing off")
        #expect(m.handle(.tick, now: at(6.5), random: 0) == [.connect])
        // The reconnect fails too: the next delay's ceiling doubles.
        #expect(m.handle(.disconnected(reason: "refused"), now: at(7), random: 1) == [.reconnect(after: .seconds(1), reason: "refused")])
        #expect(m.handle(.tick, now: at(8), random: 0) == [.connect])
        _ = m.handle(.connected, now: at(8), random: 0)
        let again = m.handle(.text(#"{"id":2,"type":"subscribed","msg":{"channel":"market_lifecycle_v2","sid":1}}"#), now: at(9), random: 0)
        #expect(again.contains(.publishGap(LifecycleGap(from: at(5), to: at(9), reason: "connection ended"))),
                "the gap keeps the first interruption's start and reason: \(again)")
        #expect(m.openGap == nil)
    }

    @Test func backoffIsCappedAndResetsAfterAStableConnection() {
        var s = ListenerMachine.Settings()
        s.backoff.cap = .seconds(4)
        var m = ListenerMachine(settings: s)
        _ = m.handle(.start, now: at(0), random: 1)
        var now = 0.0
        var last: Duration = .zero
        for _ in 0..<10 {
            now += 1
            guard case .reconnect(let d, _)? = m.handle(.disconnected(reason: "x"), now: at(now), random: 1).first else { Issue.record("no reconnect"); return }
            last = d
            now += 100
            _ = m.handle(.tick, now: at(now), random: 1)
        }
        #expect(last == .seconds(4), "capped")
        #expect(m.failures == 10)
        // Streaming for longer than stableAfter, then a drop: back to the base delay.
        _ = m.handle(.connected, now: at(now), random: 1)
        _ = m.handle(.text(#"{"id":1,"type":"subscribed","msg":{"channel":"market_lifecycle_v2","sid":3}}"#), now: at(now), random: 1)
        #expect(m.handle(.disconnected(reason: "x"), now: at(now + 61), random: 1) == [.reconnect(after: .milliseconds(500), reason: "x")])
    }

    @Test func fullJitterDrawsFromZeroToTheCeiling() {
        var m = ListenerMachine()
        _ = m.handle(.start, now: at(0), random: 0)
        #expect(m.handle(.disconnected(reason: "x"), now: at(1), random: 0) == [.reconnect(after: .zero, reason: "x")])
        _ = m.handle(.tick, now: at(2), random: 0)
        #expect(m.handle(.disconnected(reason: "x"), now: at(3), random: 0.5) == [.reconnect(after: .milliseconds(500), reason: "x")])
    }

    @Test func unansweredSubscribeGivesTheConnectionUp() {
        var m = ListenerMachine()
        _ = m.handle(.start, now: at(0), random: 0)
        _ = m.handle(.connected, now: at(0), random: 0)
        #expect(m.handle(.tick, now: at(9), random: 0).isEmpty)
        guard case .reconnect(_, let reason)? = m.handle(.tick, now: at(10), random: 0).first else { Issue.record("no reconnect"); return }
        #expect(reason.contains("subscribe"))
    }

    @Test func aHandshakeThatNeverCompletesIsGivenUp() {
        var m = ListenerMachine()
        _ = m.handle(.start, now: at(0), random: 0)
        #expect(m.handle(.tick, now: at(14), random: 0).isEmpty)
        guard case .reconnect(_, let reason)? = m.handle(.tick, now: at(15), random: 0).first else { Issue.record("no reconnect"); return }
        #expect(reason.contains("handshake"))
        #expect(m.state == .backingOff(until: at(15)))
        // A late `connected` of the abandoned attempt changes nothing.
        #expect(m.handle(.connected, now: at(15), random: 0).isEmpty)
    }

    @Test func subscribeRefusedReconnects() {
        var m = ListenerMachine()
        _ = m.handle(.start, now: at(0), random: 0)
        _ = m.handle(.connected, now: at(0), random: 0)
        let a = m.handle(.text(#"{"id":1,"type":"error","msg":{"code":17,"msg":"Internal error"}}"#), now: at(1), random: 0)
        #expect(a.first == .report(.serverError(code: 17, message: "Internal error")))
        guard case .reconnect? = a.last else { Issue.record("\(a)"); return }
    }

    @Test func refusedKeyFailsAndStops() {
        var m = ListenerMachine()
        _ = m.handle(.start, now: at(0), random: 0)
        let a = m.handle(.keyRefused(status: 401, detail: "bad signature"), now: at(1), random: 0)
        guard case .fail(let text)? = a.first else { Issue.record("\(a)"); return }
        #expect(text.contains("401") && text.contains("bad signature"))
        #expect(m.state == .stopped)
        #expect(m.handle(.tick, now: at(100), random: 0).isEmpty)
    }

    @Test func badFramesAreReportedAndTheStreamGoesOn() {
        var m = ListenerMachine()
        _ = m.handle(.start, now: at(0), random: 0)
        _ = m.handle(.connected, now: at(0), random: 0)
        _ = m.handle(.text(subscribed), now: at(0), random: 0)
        guard case .report(.malformed)? = m.handle(.text("{oops"), now: at(1), random: 0).first else { Issue.record("not reported"); return }
        guard case .report(.malformed)? = m.handle(.text(#"{"type":"market_lifecycle_v2","msg":{"event_type":"settled"}}"#), now: at(1), random: 0).first
        else { Issue.record("not reported"); return }
        #expect(m.handle(.text(#"{"type":"brand_new","msg":{}}"#), now: at(1), random: 0) == [.report(.unknownType("brand_new"))])
        #expect(m.state == .streaming(sid: 1, since: at(0)))
        guard case .publish? = m.handle(.text(lifecycle("M2")), now: at(2), random: 0).first else { Issue.record("stream stopped"); return }
    }

    @Test func stopClosesAndIgnoresWhatFollows() {
        var m = ListenerMachine()
        _ = m.handle(.start, now: at(0), random: 0)
        _ = m.handle(.connected, now: at(0), random: 0)
        _ = m.handle(.text(subscribed), now: at(0), random: 0)
        #expect(m.handle(.stop, now: at(1), random: 0) == [.close])
        #expect(m.handle(.disconnected(reason: "closed"), now: at(2), random: 0).isEmpty)
        #expect(m.handle(.text(lifecycle("M3")), now: at(2), random: 0).isEmpty)
    }
}

/// The bounded outbox between the socket and NATS.
@Suite struct NoticeOutboxTests {
    func notice(_ i: Int) -> LifecycleNotice {
        LifecycleNotice(receivedAt: Timestamp(microsecondsSinceEpoch: Int64(i) * 1_000_000), type: "market_lifecycle_v2",
                        eventType: "settled", marketTicker: "M\(i)", message: .object(["market_ticker": .string("M\(i)")]))
    }

    @Test func batchesInOrderAndAcknowledges() {
        var box = NoticeOutbox(limit: 10)
        for i in 1...5 { box.append(.notice(notice(i))) }
        let (items, through) = box.peek(max: 3)!
        #expect(items == (1...3).map { .notice(notice($0)) })
        box.append(.notice(notice(6)))
        box.acknowledge(through: through)
        #expect(box.peek(max: 10)!.items == (4...6).map { .notice(notice($0)) })
    }

    @Test func failedPublishKeepsEverything() {
        var box = NoticeOutbox(limit: 10)
        for i in 1...3 { box.append(.notice(notice(i))) }
        _ = box.peek(max: 10)
        box.retryLater()
        #expect(box.count == 3)
        #expect(box.peek(max: 10)!.items.count == 3)
    }

    /// Past the bound the oldest notices go and one gap covering them takes their place.
    @Test func overflowDropsOldestAndRecordsAGap() {
        var box = NoticeOutbox(limit: 3)
        box.append(.gap(LifecycleGap(from: nil, to: Timestamp(microsecondsSinceEpoch: 0), reason: "start-up")))
        var droppedCount = 0
        for i in 1...6 { if box.append(.notice(notice(i))) { droppedCount += 1 } }
        #expect(droppedCount == 3)
        #expect(box.dropped == 3 && box.noticeCount == 3)
        let items = box.peek(max: 100)!.items
        #expect(items.count == 5)
        #expect(items[0] == .gap(LifecycleGap(from: nil, to: Timestamp(microsecondsSinceEpoch: 0), reason: "start-up")), "gaps are never dropped")
        guard case .gap(let g) = items[1] else { Issue.record("\(items)"); return }
        #expect(g.from == notice(1).receivedAt && g.to == notice(3).receivedAt)
        #expect(Array(items[2...]) == (4...6).map { .notice(notice($0)) })
    }

    /// A notice being published is not dropped (it may well be stored): the next oldest is.
    @Test func inFlightNoticesAreNotDropped() {
        var box = NoticeOutbox(limit: 2)
        box.append(.notice(notice(1)))
        let (batch, through) = box.peek(max: 10)!
        #expect(batch == [.notice(notice(1))])
        for i in 2...4 { box.append(.notice(notice(i))) }   // over the bound twice: drops 2 and 3, not 1
        #expect(box.dropped == 2)
        box.acknowledge(through: through)
        let rest = box.peek(max: 10)!.items
        guard case .gap(let g)? = rest.first else { Issue.record("\(rest)"); return }
        #expect(g.from == notice(2).receivedAt && g.to == notice(3).receivedAt)
        #expect(Array(rest.dropFirst()) == [.notice(notice(4))])
    }

    /// A gap already handed to the publisher is not changed; further drops get a new one.
    @Test func handedOutGapIsNotExtended() {
        var box = NoticeOutbox(limit: 2)
        for i in 1...3 { box.append(.notice(notice(i))) }   // drops 1
        let (first, through) = box.peek(max: 1)!
        guard case .gap(let g1) = first[0] else { Issue.record("\(first)"); return }
        #expect(g1.from == notice(1).receivedAt && g1.to == notice(1).receivedAt)
        box.append(.notice(notice(4)))   // drops 2: a new gap
        box.acknowledge(through: through)
        let rest = box.peek(max: 10)!.items
        guard case .gap(let g2) = rest[0] else { Issue.record("\(rest)"); return }
        #expect(g2.from == notice(2).receivedAt && g2.to == notice(2).receivedAt)
        #expect(Array(rest[1...]) == [.notice(notice(3)), .notice(notice(4))])
    }
}
