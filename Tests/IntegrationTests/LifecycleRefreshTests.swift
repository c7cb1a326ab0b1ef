import Foundation
import Testing
import TestSupport
import NATSClient
import Pipeline
import SSMDCore
import WireContract

/// series-fetcher acts on lifecycle messages within seconds: a transition the exchange
/// announces on its WebSocket (here the simulator's own message for it, republished as the
/// lifecycle-listener does) reaches PostgreSQL long before the next cycle (an hour away).
@Suite(.tags(.processes), .processSlot) struct LifecycleRefreshTests {
    /// The next cycle, and the shared feed's next run, an hour away.
    static let nextHourQuiet = ["--interval", "3600s", "--feed-interval", "3600s"]

    @Test func aLifecycleMessageRefreshesItsMarketWithinSeconds() async throws {
        let h = try await PipelineHarness(name: "lifecycle-refresh", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        // The shared change feed runs once after the first cycle, then not within the test:
        // only the refresh can bring the transition in.
        let fetcher = try await h.startThroughFirstCycle(seriesFetcher: Self.nextHourQuiet)

        // The next transitions with a WebSocket message that change the status of a market the
        // first cycle wrote (a metadata change would leave the status as it is, and the check
        // below could not tell a refresh from none).
        let now = try #require((try await h.simulatorJSON("/_sim/clock")["now_unix"] as? Int).map(Int64.init))
        let statusInDB = try await h.storedStatuses()
        let upcoming = try await h.simulatorJSONLines("/_sim/truth/transitions?entity=market&from=\(now + 1)&to=\(now + 3 * 86_400)")
            .filter { t in
                guard (t["ws_event_type"] as? String) != nil, let ticker = t["ticker"] as? String, let was = statusInDB[ticker] else { return false }
                return (t["status_after"] as? String).map { $0 != was } ?? false
            }
        let first = try #require(upcoming.first, "no transition with a lifecycle message ahead")
        let at = try #require(first["at"] as? Int)
        let moved = upcoming.filter { ($0["at"] as? Int) == at }
        // Not yet in PostgreSQL: what follows can only pass through the refresh.
        for t in moved { #expect(statusInDB[t["ticker"] as! String] != t["status_after"] as? String) }
        _ = try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": \#(Int64(at) - now + 1)}"#)

        // Republished as the listener does it.
        let (connection, js) = try await h.jetStream()
        defer { connection.close() }
        var notices: [OutgoingMessage] = []
        for line in try await h.simulatorJSONLines("/_sim/truth/ws_messages?from=\(at)&to=\(at + 1)") {
            let message = try #require(line["message"] as? [String: Any]), msg = try #require(message["msg"] as? [String: Any])
            let value = try JSONCodec.decode(JSONValue.self, from: Array(try JSONSerialization.data(withJSONObject: msg)))
            let notice = LifecycleNotice(receivedAt: .now(), type: message["type"] as? String ?? "", eventType: msg["event_type"] as? String,
                                         marketTicker: msg["market_ticker"] as? String, eventTicker: msg["event_ticker"] as? String,
                                         message: value)
            notices.append(OutgoingMessage(subject: notice.subject, data: try MessageCodec.encode(notice), msgId: notice.messageID))
        }
        #expect(!notices.isEmpty)
        // And a gap: the next cycle's feed will ask again from its start.
        let gap = LifecycleGap(from: .seconds(now - 600), to: .now(), reason: "test")
        notices.append(OutgoingMessage(subject: Subjects.lifecycleGap, data: try MessageCodec.encode(gap)))
        let published = ContinuousClock.now
        _ = try await js.publishAll(notices)

        let truth = try await h.trueStatuses()
        let tickers = moved.compactMap { $0["ticker"] as? String }
        let refreshed = await h.statusesArrive(tickers, truth: truth, timeout: .seconds(20))
        let seconds = (ContinuousClock.now - published).seconds
        print("lifecycle refresh: \(tickers.count) markets (\(moved.compactMap { $0["kind"] as? String }.sorted())) in PostgreSQL \(String(format: "%.1f", seconds)) s after the messages")
        #expect(refreshed, "not refreshed within 20 s: \(tickers)\n\(h.logs())")
        #expect(await eventually(timeout: .seconds(10)) { fetcher.output.contains("lifecycle gap") }, "the gap was not noted")
    }

    /// The whole path in one run: the simulator's signed WebSocket → lifecycle-listener →
    /// SSMD_LIFECYCLE → series-fetcher's refresher → market-fetcher → db-writer → PostgreSQL,
    /// for pauses and unpauses, which no REST filter reports (the next cycle, and with it the
    /// next re-read, is an hour away; the shared feed cannot see them).
    @Test func aPauseAnnouncedOnTheWebSocketReachesPostgreSQLWithinSeconds() async throws {
        let keys = try LifecycleListenerTests.Keys()
        defer { keys.cleanup() }
        let h = try await LifecycleListenerTests.harness("lifecycle-e2e", keys: keys)
        defer { h.teardown() }
        _ = try await h.startThroughFirstCycle(seriesFetcher: Self.nextHourQuiet)
        let listener = try LifecycleListenerTests.startListener(h, keys: keys)
        #expect(await eventually(timeout: .seconds(30)) { listener.output.contains("subscribed") }, "\(h.logs())")

        let now = try #require((try await h.simulatorJSON("/_sim/clock")["now_unix"] as? Int).map(Int64.init))
        let statusInDB = try await h.storedStatuses()
        let pauses = try await h.simulatorJSONLines("/_sim/truth/transitions?entity=market&from=\(now + 1)&to=\(now + 3 * 86_400)")
            .filter { t in
                guard let kind = t["kind"] as? String, kind == "paused" || kind == "unpaused",
                      let ticker = t["ticker"] as? String, let was = statusInDB[ticker] else { return false }
                return (t["status_after"] as? String).map { $0 != was } ?? false
            }
        let first = try #require(pauses.first, "no pause ahead in the simulated universe")
        let at = try #require(first["at"] as? Int)
        let moved = pauses.filter { ($0["at"] as? Int) == at }
        _ = try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": \#(Int64(at) - now + 1)}"#)
        let advanced = ContinuousClock.now

        let truth = try await h.trueStatuses()
        let tickers = moved.compactMap { $0["ticker"] as? String }
        let arrived = await h.statusesArrive(tickers, truth: truth, timeout: .seconds(30))
        print("lifecycle end to end: \(tickers.count) markets (\(moved.compactMap { $0["kind"] as? String }.sorted())) in PostgreSQL \(String(format: "%.1f", (ContinuousClock.now - advanced).seconds)) s after the clock moved")
        #expect(arrived, "not in PostgreSQL within 30 s: \(tickers)\n\(h.logs())")
    }
}
