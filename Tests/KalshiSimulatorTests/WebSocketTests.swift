#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import Testing
import _CryptoExtras
@testable import KalshiSimulator

/// The lifecycle WebSocket: signed handshake, commands, messages at the simulated time of
/// each transition, keep-alive and faults.
@Suite(.serialized) struct WebSocketTests {
    static let start = TestServer.fixedStart
    let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    func headers(path: String = "/trade-api/ws/v2", keyID: String = "ws-key", with k: _RSA.Signing.PrivateKey? = nil) throws -> [String: String] {
        let ts = String(Int64(Date().timeIntervalSince1970 * 1000))
        let sig = try (k ?? key).signature(for: Data((ts + "GET" + path).utf8), padding: .PSS).rawRepresentation.base64EncodedString()
        return ["KALSHI-ACCESS-KEY": keyID, "KALSHI-ACCESS-TIMESTAMP": ts, "KALSHI-ACCESS-SIGNATURE": sig]
    }

    /// A server verifying `key` as `ws-key` (like `--public-key ws-key=PATH`).
    func server(scale: Double = 0.05) async throws -> TestServer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kalshi-sim-ws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pem = dir.appendingPathComponent("ws.pub.pem")
        try key.publicKey.pemRepresentation.write(to: pem, atomically: true, encoding: .utf8)
        return try await TestServer.start(scale: scale, authenticator: try RequestAuthenticator(keySpecs: ["ws-key=\(pem.path)"]))
    }

    /// A raw handshake: the answer's head (status line and headers), and the first
    /// `after` bytes that follow it (frames), reading until the connection closes or
    /// 10 s pass.
    func handshake(_ port: Int, path: String = "/trade-api/ws/v2", headers: [String: String],
                   after: Int = 0) async -> (head: String, rest: [UInt8]) {
        var req = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        req += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (k, v) in headers { req += "\(k): \(v)\r\n" }
        let request = req + "\r\n"
        return await withCheckedContinuation { cont in
            DispatchQueue.global().async {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(fd) }
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(UInt16(port).bigEndian)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                _ = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                var timeout = timeval(tv_sec: 2, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let bytes = Array(request.utf8)
                _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                var raw: [UInt8] = []
                var buf = [UInt8](repeating: 0, count: 4096)
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline {
                    if let end = (0..<max(0, raw.count - 3)).first(where: { raw[$0..<$0 + 4] == [13, 10, 13, 10] }),
                       raw.count >= end + 4 + after {
                        cont.resume(returning: (String(decoding: raw[..<end], as: UTF8.self), Array(raw[(end + 4)...])))
                        return
                    }
                    let n = recv(fd, &buf, buf.count, 0)
                    if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { break }
                    if n > 0 { raw.append(contentsOf: buf[0..<n]) }
                }
                cont.resume(returning: (String(decoding: raw, as: UTF8.self), []))
            }
        }
    }

    @Test func signedHandshakeAcceptedOthersRefused() async throws {
        let s = try await server(scale: 0.02)
        let ok = WSTestClient(port: s.port, headers: try headers())
        ok.send(#"{"id":1,"cmd":"subscribe","params":{"channels":["market_lifecycle_v2"]}}"#)
        let sub = await ok.first { $0["type"] as? String == "subscribed" }
        #expect(sub?["id"] as? Int == 1)
        #expect((sub?["msg"] as? [String: Any])?["channel"] as? String == "market_lifecycle_v2")
        await ok.close()

        // Root variant: the path as sent is signed.
        let root = WSTestClient(port: s.port, path: "/", headers: try headers(path: "/"))
        root.send(#"{"id":1,"cmd":"list_subscriptions"}"#)
        #expect(await root.first { $0["type"] as? String == "ok" } != nil)
        await root.close()

        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let wrongKey = await handshake(s.port, headers: try headers(with: other))
        #expect(wrongKey.head.hasPrefix("HTTP/1.1 401"), "\(wrongKey.head)")
        #expect(String(decoding: wrongKey.rest, as: UTF8.self).contains("\"unauthorized\""))
        let unknownID = await handshake(s.port, headers: try headers(keyID: "nobody"))
        #expect(unknownID.head.hasPrefix("HTTP/1.1 401"))
        let unsigned = await handshake(s.port, headers: [:])
        #expect(unsigned.head.hasPrefix("HTTP/1.1 401"))
        let restPath = await handshake(s.port, headers: try headers(path: "/trade-api/v2"))
        #expect(restPath.head.hasPrefix("HTTP/1.1 401"))  // signed over another path than the one requested
        let wrongPath = await handshake(s.port, path: "/elsewhere", headers: try headers(path: "/elsewhere"))
        #expect(wrongPath.head.hasPrefix("HTTP/1.1 404"))
        let good = await handshake(s.port, headers: try headers())
        #expect(good.head.hasPrefix("HTTP/1.1 101"), "\(good.head)")
        // A refused client through the library sees a failed upgrade.
        let refused = WSTestClient(port: s.port, headers: try headers(with: other))
        #expect(await eventually { refused.inbox.closed })
        #expect(refused.inbox.closeError != nil)
        await refused.close()
        #expect((try await s.get("/_sim/ws").object["refused"] as? Int ?? 0) >= 5)
        await s.stop()
    }

    /// Every message of a window, in order, equals what the truth says the WebSocket sends:
    /// no message for opening or closing, `MVE` markets never on market_lifecycle_v2.
    @Test func lifecycleMessagesArriveWhenTheClockPassesTheirTransitions() async throws {
        let s = try await server()
        let c = WSTestClient(port: s.port, headers: try headers())
        c.send(#"{"id":1,"cmd":"subscribe","params":{"channels":["market_lifecycle_v2"]}}"#)
        let sub = await c.first { $0["type"] as? String == "subscribed" }
        let sid = (sub?["msg"] as? [String: Any])?["sid"] as? Int
        #expect(sid != nil)
        // The window: the next six simulated hours.
        let to = Self.start + 6 * 3600
        let truth = lines(try await s.get("/_sim/truth/transitions?from=\(Self.start + 1)&to=\(to + 1)"))
        let expected = truth.filter { $0["ws_channel"] as? String == "market_lifecycle_v2" }
        #expect(expected.count > 20)
        #expect(truth.contains { $0["kind"] as? String == "opened" } || truth.contains { $0["kind"] as? String == "closed" })
        _ = try await post(s, "/_sim/clock", "{\"advance_seconds\": \(to - Self.start)}")
        #expect(await eventually { c.inbox.objects.filter { $0["sid"] != nil && $0["type"] as? String != "subscribed" }.count >= expected.count })
        let got = c.inbox.objects.filter { ["market_lifecycle_v2", "event_lifecycle"].contains($0["type"] as? String ?? "") }
        #expect(got.count == expected.count)
        func key(_ msg: [String: Any], _ type: String) -> String {
            type == "event_lifecycle" ? "event \(msg["event_ticker"] ?? "")" : "\(msg["market_ticker"] ?? "") \(msg["event_type"] ?? "")"
        }
        let gotKeys = got.map { key($0["msg"] as! [String: Any], $0["type"] as! String) }
        let wantKeys = expected.map { l in
            l["ws_event_type"] as? String == "event_lifecycle" ? "event \(l["ticker"]!)" : "\(l["ticker"]!) \(l["ws_event_type"]!)"
        }
        #expect(gotKeys == wantKeys)
        #expect(got.allSatisfy { $0["sid"] as? Int == sid && $0["seq"] == nil })
        #expect(!gotKeys.contains { $0.hasPrefix("KXMVE") })
        // Field shapes per event type (asyncapi.yaml marketLifecycleV2Payload).
        let allowed: Set<String> = ["event_type", "market_ticker", "exchange_index", "open_ts", "close_ts", "result",
                                    "determination_ts", "settlement_value", "settled_ts", "is_deactivated", "price_level_structure",
                                    "price_ranges", "strike_type", "floor_strike", "cap_strike", "custom_strike", "yes_sub_title",
                                    "additional_metadata"]
        for m in got where m["type"] as? String == "market_lifecycle_v2" {
            let msg = m["msg"] as! [String: Any]
            #expect(Set(msg.keys).isSubset(of: allowed), "\(msg.keys)")
            switch msg["event_type"] as! String {
            case "created":
                #expect(msg["open_ts"] is Int && msg["close_ts"] is Int && msg["exchange_index"] as? Int == 0)
                #expect(msg["price_level_structure"] is String && msg["price_ranges"] is [[String: String]])
                let meta = msg["additional_metadata"] as? [String: Any]
                #expect(meta?["event_ticker"] is String && meta?["expected_expiration_ts"] is Int && meta?["can_close_early"] is Bool)
            case "activated": #expect(msg["is_deactivated"] as? Bool == false)
            case "deactivated": #expect(msg["is_deactivated"] as? Bool == true)
            case "close_date_updated": #expect(msg["close_ts"] is Int)
            case "determined":
                #expect(["yes", "no"].contains(msg["result"] as? String) && msg["determination_ts"] is Int)
                #expect(["1.0000", "0.0000"].contains(msg["settlement_value"] as? String))
            case "settled": #expect(msg["settled_ts"] is Int)
            case "price_level_structure_updated": #expect(msg["price_level_structure"] is String && msg["price_ranges"] is [Any])
            case "metadata_updated": break
            default: Issue.record("unexpected event_type \(msg["event_type"]!)")
            }
        }
        for m in got where m["type"] as? String == "event_lifecycle" {
            let msg = m["msg"] as! [String: Any]
            for k in ["event_ticker", "title", "subtitle", "collateral_return_type", "series_ticker"] { #expect(msg[k] is String, "\(k)") }
            #expect(msg["exchange_index"] as? Int == 0)
        }
        await c.close()
        await s.stop()
    }

    @Test func dropEndpointAndDropRate() async throws {
        let s = try await server(scale: 0.02)
        let c = WSTestClient(port: s.port, headers: try headers())
        c.send(#"{"id":1,"cmd":"subscribe","params":{"channels":["market_lifecycle_v2"]}}"#)
        #expect(await c.first { $0["type"] as? String == "subscribed" } != nil)
        #expect(await eventually { (try? await s.get("/_sim/ws").object["connections"] as? Int) == 1 })
        let dropped = try await post(s, "/_sim/ws/drop", "")
        #expect(dropped.object["dropped"] as? Int == 1)
        #expect(await eventually { c.inbox.closed })
        #expect(await eventually { (try? await s.get("/_sim/ws").object["connections"] as? Int) == 0 })
        await c.close()

        // Every message drops the connection: the first lifecycle message never arrives.
        #expect(try await post(s, "/_sim/settings", #"{"ws_drop_rate": 1}"#).status == 200)
        let d = WSTestClient(port: s.port, headers: try headers())
        d.send(#"{"id":1,"cmd":"subscribe","params":{"channels":["market_lifecycle_v2"]}}"#)
        #expect(await d.first { $0["type"] as? String == "subscribed" } != nil)
        _ = try await post(s, "/_sim/clock", #"{"advance_seconds": 86400}"#)
        #expect(await eventually { d.inbox.closed })
        #expect(d.inbox.objects.allSatisfy { $0["type"] as? String == "subscribed" })
        await d.close()
        await s.stop()
    }

    @Test func messageLossIsSeededAndCounted() async throws {
        let s = try await server(scale: 0.02)
        #expect(try await post(s, "/_sim/settings", #"{"ws_message_loss_rate": 0.5}"#).status == 200)
        let c = WSTestClient(port: s.port, headers: try headers())
        c.send(#"{"id":1,"cmd":"subscribe","params":{"channels":["market_lifecycle_v2"]}}"#)
        #expect(await c.first { $0["type"] as? String == "subscribed" } != nil)
        let to = Self.start + 86_400
        let expected = lines(try await s.get("/_sim/truth/transitions?from=\(Self.start + 1)&to=\(to + 1)"))
            .filter { $0["ws_channel"] as? String == "market_lifecycle_v2" }.count
        #expect(expected > 20)
        _ = try await post(s, "/_sim/clock", "{\"advance_seconds\": \(to - Self.start)}")
        var stats: [String: Any] = [:]
        #expect(await eventually {
            stats = (try? await s.get("/_sim/ws").object) ?? [:]
            return (stats["messages_sent"] as? Int ?? 0) + (stats["messages_lost"] as? Int ?? 0) == expected
        })
        let lost = stats["messages_lost"] as? Int ?? 0
        #expect(lost > expected / 5 && lost < expected * 4 / 5, "\(lost) of \(expected)")
        #expect(await eventually { c.inbox.objects.count == 1 + (stats["messages_sent"] as? Int ?? -1) })
        await c.close()
        await s.stop()
    }

    /// Ping frames (0x9) with body "heartbeat", read off the wire.
    @Test func heartbeatPings() async throws {
        let s = try await server(scale: 0.02)
        #expect(try await post(s, "/_sim/settings", #"{"ws_ping_interval_s": 0.2}"#).status == 200)
        let (head, frame) = await handshake(s.port, headers: try headers(), after: 11)
        #expect(head.hasPrefix("HTTP/1.1 101"))
        #expect(frame.count >= 11)
        #expect(frame.first == 0x89)  // FIN + Ping
        #expect(frame.count >= 2 && frame[1] == 9)  // unmasked, 9 bytes
        #expect(String(decoding: frame.dropFirst(2).prefix(9), as: UTF8.self) == "heartbeat")
        await s.stop()
    }
}
