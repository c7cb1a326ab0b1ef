import Foundation
import Testing
import TestSupport
import NATSClient
import SSMDCore
import WireContract
import _CryptoExtras

/// lifecycle-listener against the real simulator's signed WebSocket and a real nats-server:
/// what the exchange sends reaches SSMD_LIFECYCLE as notices, promptly; a wrong key stops it
/// with exit 2; drops and NATS outages cost nothing but a gap; SIGTERM is a clean stop.
@Suite(.tags(.processes), .processSlot) struct LifecycleListenerTests {
    /// A key the simulator knows (k1) and one it does not.
    struct Keys {
        let dir: URL
        let good: String
        let other: String
        let publicKey: String

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("ssmd-lifecycle-keys-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            good = dir.appendingPathComponent("k1.key").path
            publicKey = dir.appendingPathComponent("k1.pub.pem").path
            other = dir.appendingPathComponent("other.key").path
            try key.pemRepresentation.write(toFile: good, atomically: true, encoding: .utf8)
            try key.publicKey.pemRepresentation.write(toFile: publicKey, atomically: true, encoding: .utf8)
            try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation.write(toFile: other, atomically: true, encoding: .utf8)
        }

        func cleanup() { try? FileManager.default.removeItem(at: dir) }
    }

    /// What the stream holds, in order.
    struct Stored {
        var notices: [LifecycleNotice] = []
        var gaps: [LifecycleGap] = []
    }

    static func harness(_ name: String, keys: Keys, privateNATS: Bool = false) async throws -> PipelineHarness {
        try await PipelineHarness(name: name, simulatorArguments: ["--clock-speed", "0", "--public-key", "k1=\(keys.publicKey)"],
                                  privateNATS: privateNATS)
    }

    static func startListener(_ h: PipelineHarness, keys: Keys, extra: [String: String] = [:]) throws -> ChildProcess {
        var env = ["SSMD_API_KEY_ID": "k1", "SSMD_API_PRIVATE_KEY": keys.good, "SSMD_METRICS_PORT": "0"]
        for (k, v) in extra { env[k] = v }
        return try h.start("lifecycle-listener", [], environment: env)
    }

    /// Every message of SSMD_LIFECYCLE so far.
    static func stored(_ h: PipelineHarness) async throws -> Stored {
        let (c, js) = try await h.jetStream()
        defer { c.close() }
        let names = try await js.streamNames()
        guard names.contains(Streams.lifecycle) else { return Stored() }
        let watch = try await js.orderedWatch(stream: Streams.lifecycle, filterSubject: Subjects.allLifecycle, deliverLastPerSubject: false)
        defer { watch.close() }
        let total = try await js.streamInfo(name: Streams.lifecycle).messages
        var out = Stored()
        var seen: UInt64 = 0
        while seen < total, let m = try await watch.next(timeout: .seconds(2)) {
            seen += 1
            if m.subject == Subjects.lifecycleGap {
                out.gaps.append(try MessageCodec.decode(LifecycleGap.self, from: m.data, subject: m.subject))
            } else {
                out.notices.append(try MessageCodec.decode(LifecycleNotice.self, from: m.data, subject: m.subject))
            }
        }
        return out
    }

    static func simNow(_ h: PipelineHarness) async throws -> Double {
        try #require((try await h.simulatorJSON("/_sim/clock")["now_unix"] as? NSNumber)?.doubleValue)
    }

    /// The simulator's messages for transitions in (from, to], as the notices they become:
    /// (type, msg as JSON text).
    static func truth(_ h: PipelineHarness, after from: Double, through to: Double) async throws -> [(type: String, msg: JSONValue)] {
        let lines = try await h.simulatorJSONLines("/_sim/truth/ws_messages?from=\(Int(from.rounded(.down)))&to=\(Int(to.rounded(.down)) + 1)")
        return try lines.compactMap { line -> (String, JSONValue)? in
            guard line["channel"] as? String == "market_lifecycle_v2", let at = (line["at"] as? NSNumber)?.doubleValue,
                  at > from, at <= to, let message = line["message"] as? [String: Any],
                  let type = message["type"] as? String, let msg = message["msg"] else { return nil }
            let data = try JSONSerialization.data(withJSONObject: msg)
            return (type, try JSONDecoder().decode(JSONValue.self, from: data))
        }
    }

    /// How far to advance the frozen clock so that about `count` messages come due.
    static func advanceCovering(_ h: PipelineHarness, count: Int) async throws -> Double {
        let now = try await simNow(h)
        let lines = try await h.simulatorJSONLines("/_sim/truth/ws_messages?from=\(Int(now) + 1)&to=\(Int(now) + 7 * 86_400)")
        let times = lines.filter { $0["channel"] as? String == "market_lifecycle_v2" }
            .compactMap { ($0["at"] as? NSNumber)?.doubleValue }.filter { $0 > now }.sorted()
        try #require(!times.isEmpty, "no transition due within a week of simulated time")
        return times[min(count, times.count) - 1] - now + 0.5
    }

    static func advance(_ h: PipelineHarness, seconds: Double) async throws {
        try await h.simulatorPost("/_sim/clock", json: #"{"advance_seconds": \#(seconds)}"#)
    }

    static func opsURL(_ p: ChildProcess) -> String? {
        guard let line = p.output.split(separator: "\n").first(where: { $0.contains("metrics and health endpoints listening") }),
              let r = line.range(of: "url=") else { return nil }
        return String(line[r.upperBound...].prefix { $0 != " " && $0 != "\"" })
    }

    static func expectSame(_ notices: [LifecycleNotice], _ truth: [(type: String, msg: JSONValue)], _ context: String) {
        let got = notices.map { "\($0.type) \($0.message.jsonText)" }.sorted()
        let want = truth.map { "\($0.type) \($0.msg.jsonText)" }.sorted()
        #expect(got == want, "\(context): only received \(Set(got).subtracting(want).prefix(3)); missing \(Set(want).subtracting(got).prefix(3))")
    }

    /// (1) and (5): the signed handshake is accepted, the start-up gap is published, each
    /// message for a transition reaches the stream as a notice within 2 s of the clock's
    /// advance, exactly what the simulator's truth says was sent; /readyz says ready; SIGTERM
    /// closes the socket with a close frame and exits 0.
    @Test(.timeLimit(.minutes(20))) func transitionsReachTheStreamPromptly() async throws {
        let keys = try Keys()
        defer { keys.cleanup() }
        let h = try await Self.harness("lifecycle-flow", keys: keys)
        defer { h.teardown() }
        let listener = try Self.startListener(h, keys: keys)
        let started = await eventually(timeout: .seconds(60)) { (try? await Self.stored(h).gaps.count) ?? 0 >= 1 }
        #expect(started, "no start-up gap:\n\(listener.report())")
        let startGap = try await Self.stored(h).gaps.first
        #expect(startGap?.from == nil && startGap?.reason == "start-up")
        #expect(listener.output.contains("signed_as=k1") && !listener.output.contains("PRIVATE KEY"))

        let ops = try #require(Self.opsURL(listener), "\(listener.report())")
        let ready = await eventually(timeout: .seconds(10)) { (try? await APIClient.get(ops + "/readyz"))?.status == 200 }
        #expect(ready, "not ready while subscribed")

        let before = try await Self.simNow(h)
        let step = try await Self.advanceCovering(h, count: 25)
        try await Self.advance(h, seconds: step)
        let advancedAt = ContinuousClock.now
        let expected = try await Self.truth(h, after: before, through: before + step)
        try #require(!expected.isEmpty)
        var arrived = false
        while ContinuousClock.now - advancedAt < .seconds(2) {
            if (try await Self.stored(h).notices.count) >= expected.count { arrived = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(arrived, "not every notice within 2 s of the advance:\n\(listener.report())")
        let stored = try await Self.stored(h)
        Self.expectSame(stored.notices, expected, "after the advance")
        for n in stored.notices {
            #expect(n.subject.hasPrefix("ssmd.lifecycle."))
            if n.type == "market_lifecycle_v2" { #expect(n.marketTicker != nil && n.eventType != nil) }
        }
        let metrics = try await APIClient.get(ops + "/metrics").body
        #expect(metrics.contains("ssmd_lifecycle_notices_published_total \(expected.count)"), "\(metrics.prefix(3000))")
        #expect(metrics.contains("ssmd_lifecycle_subscribed 1"))

        listener.signal(SIGTERM)
        #expect(await listener.waitForExit(timeout: .seconds(20)), "did not stop on SIGTERM")
        #expect(listener.exitCode == 0, "\(listener.report())")
        let closed = await eventually(timeout: .seconds(5)) { ((try? await h.simulatorJSON("/_sim/ws"))?["connections"] as? Int) == 0 }
        #expect(closed, "the socket stayed open")
        #expect(listener.output.contains("every notice published"))
    }

    /// (2): a key the exchange refuses at the handshake is a configuration error: exit 2 and
    /// one line, not an endless retry. No key at all: the same, naming both settings.
    @Test(.timeLimit(.minutes(20))) func aWrongKeyIsRefusedAtTheHandshake() async throws {
        let keys = try Keys()
        defer { keys.cleanup() }
        let h = try await Self.harness("lifecycle-badkey", keys: keys)
        defer { h.teardown() }
        let bad = try await h.run("lifecycle-listener", [], environment: ["SSMD_API_KEY_ID": "k1", "SSMD_API_PRIVATE_KEY": keys.other],
                                  timeout: .seconds(60))
        #expect(bad.status == 2, "\(bad.output.suffix(2000))")
        let last = bad.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("lifecycle-listener: invalid setting --api-key-id/--api-private-key"), "\(last)")
        #expect(last.contains("401"), "\(last)")
        #expect(!bad.output.contains("PRIVATE KEY"), "key material in the output")
        let ws = try await h.simulatorJSON("/_sim/ws")
        #expect((ws["refused"] as? Int ?? 0) >= 1 && (ws["accepted"] as? Int ?? 0) == 0, "\(ws)")

        let none = try await h.run("lifecycle-listener", [], environment: ["SSMD_API_KEY_ID": "", "SSMD_API_PRIVATE_KEY": ""], timeout: .seconds(30))
        #expect(none.status == 2)
        let line = none.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.contains("SSMD_API_KEY_ID") && line.contains("SSMD_API_PRIVATE_KEY"), "\(line)")
    }

    /// (3): the exchange drops the connection: the listener reconnects with backoff, publishes
    /// a gap from the last message before the drop to the new subscription, and what follows
    /// keeps arriving.
    @Test(.timeLimit(.minutes(20))) func aDropReconnectsAndPublishesTheGap() async throws {
        let keys = try Keys()
        defer { keys.cleanup() }
        let h = try await Self.harness("lifecycle-drop", keys: keys)
        defer { h.teardown() }
        let listener = try Self.startListener(h, keys: keys)
        #expect(await eventually(timeout: .seconds(60)) { (try? await Self.stored(h).gaps.count) ?? 0 >= 1 }, "\(listener.report())")

        var t = try await Self.simNow(h)
        let step1 = try await Self.advanceCovering(h, count: 5)
        try await Self.advance(h, seconds: step1)
        let first = try await Self.truth(h, after: t, through: t + step1)
        t += step1
        #expect(await eventually(timeout: .seconds(10)) { (try? await Self.stored(h).notices.count) ?? 0 >= first.count })
        let lastBefore = try #require(try await Self.stored(h).notices.map(\.receivedAt).max())

        let dropAt = Timestamp.now()
        _ = try await h.simulatorPost("/_sim/ws/drop", json: "{}")
        let gapped = await eventually(timeout: .seconds(30)) { (try? await Self.stored(h).gaps.count) ?? 0 >= 2 }
        #expect(gapped, "no gap after the drop:\n\(listener.report())")
        let gap = try #require(try await Self.stored(h).gaps.last)
        #expect(gap.from == lastBefore, "the gap starts at the last message before the drop")
        #expect(gap.to > dropAt && gap.to <= Timestamp.now(), "the gap ends when the new subscription was confirmed")
        #expect(listener.output.contains("reconnecting"))
        let ws = try await h.simulatorJSON("/_sim/ws")
        #expect((ws["accepted"] as? Int ?? 0) >= 2, "\(ws)")

        let step2 = try await Self.advanceCovering(h, count: 5)
        try await Self.advance(h, seconds: step2)
        let second = try await Self.truth(h, after: t, through: t + step2)
        let all = first.count + second.count
        #expect(await eventually(timeout: .seconds(10)) { (try? await Self.stored(h).notices.count) ?? 0 >= all })
        Self.expectSame(try await Self.stored(h).notices, first + second, "around the drop")
        _ = await listener.stop()
    }

    /// Two replicas (the availability setup): both subscribe and publish everything; the
    /// stream keeps each message once, by its message id.
    @Test(.timeLimit(.minutes(20))) func twoReplicasStoreEachMessageOnce() async throws {
        let keys = try Keys()
        defer { keys.cleanup() }
        let h = try await Self.harness("lifecycle-pair", keys: keys)
        defer { h.teardown() }
        let a = try Self.startListener(h, keys: keys), b = try Self.startListener(h, keys: keys)
        let both = await eventually(timeout: .seconds(60)) {
            let connections = (try? await h.simulatorJSON("/_sim/ws"))?["connections"] as? Int
            let gaps = (try? await Self.stored(h).gaps.count) ?? 0
            return connections == 2 && gaps >= 2
        }
        #expect(both, "\(a.report())\n\(b.report())")
        let t = try await Self.simNow(h)
        let step = try await Self.advanceCovering(h, count: 20)
        try await Self.advance(h, seconds: step)
        let expected = try await Self.truth(h, after: t, through: t + step)
        #expect(await eventually(timeout: .seconds(10)) { (try? await Self.stored(h).notices.count) ?? 0 >= expected.count })
        try await Task.sleep(for: .seconds(1))
        Self.expectSame(try await Self.stored(h).notices, expected, "two replicas")
        let sent = try #require(try await h.simulatorJSON("/_sim/ws")["messages_sent"] as? Int)
        #expect(sent == 2 * expected.count, "each replica received every message")
        _ = await a.stop()
        _ = await b.stop()
    }

    /// (4): NATS stops for a few seconds while messages flow: none is lost once it is back.
    @Test(.timeLimit(.minutes(20))) func aNATSOutageLosesNothing() async throws {
        let keys = try Keys()
        defer { keys.cleanup() }
        let h = try await Self.harness("lifecycle-nats", keys: keys, privateNATS: true)
        defer { h.teardown() }
        let listener = try Self.startListener(h, keys: keys, extra: ["SSMD_SHUTDOWN_TIMEOUT": "3s"])
        #expect(await eventually(timeout: .seconds(60)) { (try? await Self.stored(h).gaps.count) ?? 0 >= 1 }, "\(listener.report())")

        let t = try await Self.simNow(h)
        await h.nats.stop()
        let step = try await Self.advanceCovering(h, count: 20)
        try await Self.advance(h, seconds: step)
        let expected = try await Self.truth(h, after: t, through: t + step)
        try await Task.sleep(for: .seconds(4))
        try await h.nats.start()
        let back = await eventually(timeout: .seconds(90), every: .seconds(1)) { (try? await Self.stored(h).notices.count) ?? 0 >= expected.count }
        #expect(back, "notices lost over the outage:\n\(listener.report())")
        let stored = try await Self.stored(h)
        Self.expectSame(stored.notices, expected, "over the outage")
        #expect(stored.gaps.count == 1, "nothing was dropped, so no gap but the start-up one: \(stored.gaps)")
        #expect(listener.isRunning)

        // SIGTERM while NATS is away again with notices waiting: it waits out the shutdown
        // timeout (3 s) for NATS, then stops cleanly, saying what it could not publish.
        await h.nats.stop()
        try await Self.advance(h, seconds: try await Self.advanceCovering(h, count: 5))
        try await Task.sleep(for: .seconds(1))
        let stopping = ContinuousClock.now
        listener.signal(SIGTERM)
        #expect(await listener.waitForExit(timeout: .seconds(15)), "did not stop")
        #expect(ContinuousClock.now - stopping < .seconds(10))
        #expect(listener.exitCode == 0, "\(listener.report())")
        #expect(listener.output.contains("stopping with notices not published"), "\(listener.report())")
    }

    /// (4, bounded): NATS away longer than the buffer holds: the oldest notices are dropped
    /// and one gap covering their receipt is published when NATS is back; the rest arrive.
    @Test(.timeLimit(.minutes(20))) func aFullBufferBecomesAGap() async throws {
        let keys = try Keys()
        defer { keys.cleanup() }
        let h = try await Self.harness("lifecycle-bound", keys: keys, privateNATS: true)
        defer { h.teardown() }
        let listener = try Self.startListener(h, keys: keys, extra: ["SSMD_BUFFER_LIMIT": "5"])
        #expect(await eventually(timeout: .seconds(60)) { (try? await Self.stored(h).gaps.count) ?? 0 >= 1 }, "\(listener.report())")

        let t = try await Self.simNow(h)
        await h.nats.stop()
        let step = try await Self.advanceCovering(h, count: 20)
        try await Self.advance(h, seconds: step)
        let expected = try await Self.truth(h, after: t, through: t + step)
        try #require(expected.count > 6)
        try await Task.sleep(for: .seconds(2))
        try await h.nats.start()
        let gapped = await eventually(timeout: .seconds(60), every: .seconds(1)) { (try? await Self.stored(h).gaps.count) ?? 0 >= 2 }
        #expect(gapped, "no gap for the dropped notices:\n\(listener.report())")
        let stored = try await Self.stored(h)
        let gap = try #require(stored.gaps.last)
        #expect(gap.reason.contains("dropped"))
        let from = try #require(gap.from)
        #expect(from <= gap.to)
        // Whatever was kept is published, each a message of the window, none twice; what is
        // missing was received inside the gap's window.
        let got = stored.notices.map { "\($0.type) \($0.message.jsonText)" }
        let want = Set(expected.map { "\($0.type) \($0.msg.jsonText)" })
        #expect(Set(got).count == got.count && Set(got).isSubset(of: want))
        #expect(got.count >= 5 && got.count < expected.count, "kept \(got.count) of \(expected.count)")
        for n in stored.notices { #expect(n.receivedAt > gap.to || n.receivedAt < from, "a kept notice inside the gap") }
        _ = await listener.stop()
    }
}

