import Foundation
import Logging
import TestSupport
import Testing
import NATSClient
import SSMDCore

@Suite("Connections", .tags(.processes))
struct ConnectionTests {
    @Test func reconnectsAfterServerRestart() async throws {
        try await withPrivateNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "DURABLE", subjects: ["d.>"]))
            _ = try await f.js.publish(OutgoingMessage(subject: "d.before", data: bytes("1")))
            #expect(f.connection.isConnected)
            #expect(f.connection.status == "CONNECTED")

            await f.server.stop()
            #expect(await waitUntil(timeout: .seconds(5)) { !f.connection.isConnected },
                    "connection notices the server is gone")
            #expect(["RECONNECTING", "DISCONNECTED", "CONNECTING"].contains(f.connection.status))
            // Publishing while down fails cleanly (no crash, no hang beyond the timeout).
            await #expect(throws: NATSError.self) {
                _ = try await f.js.publish(OutgoingMessage(subject: "d.during", data: bytes("x")), timeout: .milliseconds(300))
            }

            try await f.server.start()
            #expect(await waitUntil(timeout: .seconds(10)) { f.connection.isConnected }, "reconnected by itself")
            #expect(await waitUntil(timeout: .seconds(2)) { f.connection.reconnectCount >= 1 }, "reconnected callback ran")
            // JetStream may need a moment after the restart to accept writes again.
            var ack: PubAck?
            let deadline = ContinuousClock.now + .seconds(10)
            while ack == nil && ContinuousClock.now < deadline {
                ack = try? await f.js.publish(OutgoingMessage(subject: "d.after", data: bytes("2")), timeout: .seconds(1))
                if ack == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(ack?.stream == "DURABLE")
            // The store survived the restart (same store directory).
            #expect(try await f.js.streamInfo(name: "DURABLE").messages >= 2)
            try f.connection.publish(subject: "core.subject", data: bytes("hi"))
            try await f.connection.flush(timeout: .seconds(2))
        }
    }

    @Test func publishAllDuringOutageNamesIndicesAndRetryIsDeduplicated() async throws {
        try await withPrivateNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "SECMASTER", subjects: ["ssmd.market.>"], duplicateWindow: .seconds(120)))
            let batch = (0..<20).map {
                OutgoingMessage(subject: "ssmd.market.t.S.M\($0)", data: bytes("v\($0)"), msgId: "M\($0):v1")
            }
            await f.server.stop()
            _ = await waitUntil(timeout: .seconds(5)) { !f.connection.isConnected }
            var failed: [Int] = []
            do {
                _ = try await f.js.publishAll(batch, timeout: .milliseconds(800))
                Issue.record("publishAll cannot succeed while the server is down")
            } catch NATSError.publishFailed(let indices, _) {
                failed = indices
            }
            #expect(failed == Array(0..<20))
            try await f.server.start()
            #expect(await waitUntil(timeout: .seconds(10)) { f.connection.isConnected })
            // Retry the failed ones until JetStream is back. Messages buffered during the
            // outage may have been stored after all: Nats-Msg-Id makes the retry safe.
            var acks: [PubAck] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while acks.isEmpty && ContinuousClock.now < deadline {
                if let a = try? await f.js.publishAll(failed.map { batch[$0] }, timeout: .seconds(2)) { acks = a } else { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(acks.count == 20)
            #expect(try await f.js.streamInfo(name: "SECMASTER").messages == 20, "no duplicates stored")
        }
    }

    @Test func drainClosesAfterInFlightWork() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "W", subjects: ["w.>"], retention: .workQueue))
            try await f.js.ensureConsumer(stream: "W", ConsumerSpec(durableName: "w", ackWait: .seconds(30)))
            let c = try await f.connect(name: "drainer")
            let js = try c.jetStream()
            _ = try await js.publish(OutgoingMessage(subject: "w.1", data: [1]))
            let sub = try await js.pullSubscribe(stream: "W", consumer: "w")
            let msgs = try await sub.fetch(batch: 1, maxWait: .seconds(2))
            #expect(msgs.count == 1)
            try await msgs.first?.ackSync()
            try await js.ensureStream(StreamSpec(name: "LV", subjects: ["lv.>"], maxMsgsPerSubject: 1))
            let watch = try await js.orderedWatch(stream: "LV", filterSubject: "lv.>", deliverLastPerSubject: true)
            let t0 = ContinuousClock.now
            try await c.drain(timeout: .seconds(2))
            #expect(ContinuousClock.now - t0 < .seconds(1), "open subscriptions do not hold up the drain")
            #expect(c.status == "CLOSED")
            await #expect(throws: NATSError.self) { try await sub.fetch(batch: 1, maxWait: .milliseconds(50)) }
            await #expect(throws: NATSError.self) { try await watch.next(timeout: .milliseconds(50)) }
            #expect(try await f.js.streamInfo(name: "W").messages == 0)
        }
    }

    @Test func retryOnFailedConnectConnectsLater() async throws {
        let server = try await NATSTestServer()
        defer { server.teardown() }
        await server.stop()
        var o = NATSOptions(urls: [server.url], name: "late-starter")
        o.reconnectWait = .milliseconds(100)
        o.retryOnFailedConnect = true
        let c = try await NATSConnection.connect(options: o, logger: testLogger)
        defer { c.close() }
        #expect(!c.isConnected)
        try await server.start()
        #expect(await waitUntil(timeout: .seconds(10)) { c.isConnected })
        let js = try c.jetStream()
        try await js.ensureStream(StreamSpec(name: "S", subjects: ["s.>"]))
        #expect(try await js.publish(OutgoingMessage(subject: "s.1", data: [1])).sequence == 1)
    }

    @Test func authFailureDoesNotLeakSecrets() async throws {
        let secret = "hunter2-Secr3t"
        let server = try await NATSTestServer(auth: .userPassword(user: "ssmd", password: secret))
        defer { server.teardown() }
        var bad = NATSOptions(urls: [server.url], name: "bad-auth")
        bad.user = "ssmd"
        bad.password = secret + "-wrong"
        bad.retryOnFailedConnect = false
        do {
            _ = try await NATSConnection.connect(options: bad, logger: testLogger)
            Issue.record("connect with a wrong password must fail")
        } catch let e as NATSError {
            guard case .refused = e else { Issue.record("expected .refused, got \(e)"); return }
            #expect(!e.description.contains(secret))
            #expect(e.description.contains("127.0.0.1:\(server.port)"))
            #expect(e.description.lowercased().contains("auth"), "says why: \(e)")
        }
        // Password embedded in the URL is redacted too.
        var inURL = NATSOptions(urls: ["nats://ssmd:\(secret)-x@127.0.0.1:\(server.port)"], name: "url-auth")
        inURL.retryOnFailedConnect = false
        do {
            _ = try await NATSConnection.connect(options: inURL, logger: testLogger)
            Issue.record("must fail")
        } catch {
            #expect(!"\(error)".contains(secret))
        }
        // With retryOnFailedConnect (the daemon default) a refused login does not retry
        // forever: the initializer throws at once, with the server's reason.
        var retrying = bad
        retrying.retryOnFailedConnect = true
        retrying.reconnectWait = .milliseconds(50)
        do {
            let c = try await NATSConnection.connect(options: retrying, logger: testLogger)
            Issue.record("a refused login must throw at once, not retry (status \(c.status))")
        } catch let e as NATSError {
            guard case .refused(let m) = e else { Issue.record("expected .refused, got \(e)"); return }
            #expect(m.contains("Authorization Violation") && !m.contains(secret), "\(m)")
        }

        var good = NATSOptions(urls: [server.url], name: "good-auth")
        good.user = "ssmd"
        good.password = secret
        good.retryOnFailedConnect = false
        let c = try await NATSConnection.connect(options: good, logger: testLogger)
        #expect(c.isConnected)
        c.close()
        #expect(c.status == "CLOSED")
        #expect(throws: NATSError.closed) { try c.publish(subject: "x", data: []) }
    }

    @Test func tokenAuth() async throws {
        let server = try await NATSTestServer(auth: .token("tok-123456"))
        defer { server.teardown() }
        var bad = NATSOptions(urls: [server.url], name: "bad-token")
        bad.token = "tok-wrong-999"
        bad.retryOnFailedConnect = false
        do {
            _ = try await NATSConnection.connect(options: bad, logger: testLogger)
            Issue.record("must fail")
        } catch {
            #expect(!"\(error)".contains("tok-wrong-999"))
        }
        var good = NATSOptions(urls: [server.url], name: "good-token")
        good.token = "tok-123456"
        good.retryOnFailedConnect = false
        let c = try await NATSConnection.connect(options: good, logger: testLogger)
        defer { c.close() }
        #expect(c.isConnected)
        // The connection name shows in /connz.
        let connz = try await server.monitor("/connz")
        #expect(connz.status == 200)
        #expect(connz.body.contains("good-token"))

        // A token as the URL's user-info authenticates too, and is never shown.
        let tokenURL = server.url.replacingOccurrences(of: "nats://", with: "nats://tok-123456@")
        let wrongURL = server.url.replacingOccurrences(of: "nats://", with: "nats://tok-wrong-777@")
        var inURL = NATSOptions(urls: [tokenURL], name: "url-token")
        inURL.retryOnFailedConnect = false
        #expect(!inURL.description.contains("tok-123456"))
        let viaURL = try await NATSConnection.connect(options: inURL, logger: testLogger)
        defer { viaURL.close() }
        #expect(viaURL.isConnected)
        var wrongInURL = NATSOptions(urls: [wrongURL], name: "url-wrong-token")
        wrongInURL.retryOnFailedConnect = false
        do {
            _ = try await NATSConnection.connect(options: wrongInURL, logger: testLogger)
            Issue.record("a wrong token in the URL must be refused")
        } catch {
            #expect(!"\(error)".contains("tok-wrong-777"), "\(error)")
        }
    }

    @Test func unreachableServerFailsFastWithoutRetry() async throws {
        let port = try NATSTestServer.freePort()
        var o = NATSOptions(urls: ["nats://127.0.0.1:\(port)"], name: "nobody-home")
        o.retryOnFailedConnect = false
        o.connectTimeout = .milliseconds(500)
        do {
            _ = try await NATSConnection.connect(options: o, logger: testLogger)
            Issue.record("must fail")
        } catch let e as NATSError {
            guard case .connection(let m) = e else { Issue.record("expected .connection, got \(e)"); return }
            #expect(m.contains("127.0.0.1:\(port)"))
        }
    }
}
