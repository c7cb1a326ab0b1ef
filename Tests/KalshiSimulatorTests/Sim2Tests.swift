#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import Testing
import PureTestSupport
import _CryptoExtras
@testable import KalshiSimulator

/// The tail cache never serves a stale rendering.
@Suite(.ownThread) struct TailCacheTests {
    static let ref = TestServer.fixedStart

    @Test func renderingIsConstantOverItsValidityInterval() {
        let u = Universe(seed: 7, scale: 0.02, referenceTs: Self.ref)
        var rng = SimRandom(seed: 99)
        var checked = 0
        for (n, m) in u.markets.enumerated() where n % 3 == 0 {
            let tl = m.timeline
            // Around every timeline instant (and a day later) plus random times.
            var times: [Int64] = [Self.ref, tl.openTs - 1, tl.openTs, tl.openTs + 1, tl.effectiveCloseTs - 1, tl.effectiveCloseTs,
                                  tl.effectiveCloseTs + 86_399, tl.determinedTs, tl.settledTs - 1, tl.settledTs]
            for _ in 0..<4 { times.append(Self.ref + rng.int64(-5 * 86_400...5 * 86_400)) }
            for t in times {
                let until = MarketRendering.validUntil(m, at: t)
                #expect(until > t)
                var a = JSONWriter()
                MarketRendering.appendTail(m, at: t, to: &a)
                let last = until == Int64.max ? t + 30 * 86_400 : until - 1
                var probes = [last, t + (last - t) / 2]
                for _ in 0..<3 where last > t { probes.append(t + rng.int64(0...(last - t))) }
                for p in probes {
                    var b = JSONWriter()
                    MarketRendering.appendTail(m, at: p, to: &b)
                    if a.bytes != b.bytes {
                        let was = String(decoding: a.bytes, as: UTF8.self), now = String(decoding: b.bytes, as: UTF8.self)
                        Issue.record("\(m.ticker) rendered at \(t) differs at \(p) (valid until \(until)):\n\(was)\n\(now)")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked > 1000)
    }

    @Test func cachedPagesEqualFreshRenderingsAsTheClockMoves() {
        let u = Universe(seed: 42, scale: 0.02, referenceTs: Self.ref)
        let api = ExchangeAPI(universe: u)
        var t = Self.ref
        for step: Int64 in [0, 1, 37, 899, 900, 3_600, 0, 86_400, 1, 2 * 86_400, -86_400, 7] {
            t += step
            var cursor = ""
            var pages = 0
            repeat {
                let r = api.handle(method: "GET", path: "/trade-api/v2/markets",
                                   query: "limit=1000" + (cursor.isEmpty ? "" : "&cursor=\(cursor)"), at: t)
                #expect(r.status == 200)
                let obj = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
                let items = obj?["markets"] as? [[String: Any]] ?? []
                // Byte-for-byte what an uncached rendering gives.
                var w = JSONWriter()
                w.raw("{\"markets\":[")
                for (k, m) in items.enumerated() {
                    if k > 0 { w.comma() }
                    MarketRendering.append(u.markets[u.marketIndex[m["ticker"] as! String]!], at: t, to: &w)
                }
                cursor = obj?["cursor"] as? String ?? ""
                w.raw("],\"cursor\":"); w.string(cursor); w.raw("}")
                let same = r.body == w.bytes
                #expect(same, "page \(pages) at \(t)")
                if !same { return }
                pages += 1
            } while !cursor.isEmpty && pages < 1000
        }
    }
}

/// `--public-key`: RSA-PSS request signatures, verified.
@Suite(.serialized) struct SignatureTests {
    let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    func sign(_ key: _RSA.Signing.PrivateKey, _ message: String) throws -> String {
        try key.signature(for: Data(message.utf8), padding: .PSS).rawRepresentation.base64EncodedString()
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func headers(keyID: String = "test-key", ts: Int64 = nowMs(), method: String = "GET", signedPath: String,
                 with k: _RSA.Signing.PrivateKey? = nil) throws -> [String: String] {
        ["KALSHI-ACCESS-KEY": keyID, "KALSHI-ACCESS-TIMESTAMP": String(ts),
         "KALSHI-ACCESS-SIGNATURE": try sign(k ?? key, "\(ts)\(method)\(signedPath)")]
    }

    /// A server verifying `key` as `test-key`, loaded from a PEM file like `--public-key`.
    func server(settings: SimSettings = { var s = SimSettings(); s.rateLimit = false; return s }()) async throws -> TestServer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kalshi-sim-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pem = dir.appendingPathComponent("test-key.pub.pem")
        try key.publicKey.pemRepresentation.write(to: pem, atomically: true, encoding: .utf8)
        let auth = try RequestAuthenticator(keySpecs: ["test-key=\(pem.path)"])
        return try await TestServer.start(settings: settings, authenticator: auth)
    }

    func expect401(_ r: HTTPResult, _ note: String) {
        #expect(r.status == 401, "\(note): \(r.text)")
        let err = r.object["error"] as? [String: Any]
        #expect(err?["code"] as? String == "unauthorized", "\(note)")
        #expect((err?["message"] as? String ?? "").isEmpty == false, "\(note)")
    }

    @Test func validSignatureIsAcceptedAndInvalidOnesRejected() async throws {
        let s = try await server()
        let path = "/trade-api/v2/markets"
        // Signed over the path without the query.
        let ok = try await httpRequest(port: s.port, path: path + "?limit=5&status=open", headers: try headers(signedPath: path))
        #expect(ok.status == 200, "\(ok.text)")
        #expect((ok.object["markets"] as? [Any])?.count == 5)
        // At the root the path as sent is what is signed.
        let root = try await httpRequest(port: s.port, path: "/markets?limit=1", headers: try headers(signedPath: "/markets"))
        #expect(root.status == 200)
        // No signature headers at all: served (unsigned budget).
        #expect(try await s.get(path + "?limit=1").status == 200)

        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        expect401(try await httpRequest(port: s.port, path: path, headers: try headers(signedPath: path, with: other)), "wrong key")
        expect401(try await httpRequest(port: s.port, path: path, headers: try headers(signedPath: "/trade-api/v2/events")), "tampered path")
        expect401(try await httpRequest(port: s.port, path: path + "?limit=5", headers: try headers(signedPath: path + "?limit=5")),
                  "query signed")
        expect401(try await httpRequest(port: s.port, path: path, headers: try headers(method: "POST", signedPath: path)), "method")
        expect401(try await httpRequest(port: s.port, path: path, headers: try headers(keyID: "nobody", signedPath: path)), "unknown key")
        expect401(try await httpRequest(port: s.port, path: path, headers: try headers(ts: Self.nowMs() - 60_000, signedPath: path)),
                  "stale timestamp")
        var tampered = try headers(signedPath: path)
        tampered["KALSHI-ACCESS-TIMESTAMP"] = String(Int64(tampered["KALSHI-ACCESS-TIMESTAMP"]!)! + 1)
        expect401(try await httpRequest(port: s.port, path: path, headers: tampered), "timestamp not the signed one")
        var partial = try headers(signedPath: path)
        partial["KALSHI-ACCESS-SIGNATURE"] = nil
        expect401(try await httpRequest(port: s.port, path: path, headers: partial), "missing signature")
        partial["KALSHI-ACCESS-SIGNATURE"] = "not base64!"
        expect401(try await httpRequest(port: s.port, path: path, headers: partial), "garbage signature")
        let stats = try await s.get("/_sim/stats").object["requests"] as? [String: [String: Int]]
        #expect(stats?["401"]?["401"] == 9)
        await s.stop()
    }

    @Test func validSignaturesDrawOnTheSignedBudget() async throws {
        var settings = SimSettings()
        settings.rateLimit = true
        // Unsigned: a 10-token bucket = 1 request, refilled only after 10 s, so the second
        // unsigned request is refused even on a slow machine; signed: 2000 tokens.
        settings.rateTokensPerSecond = 200
        settings.unsignedRateTokensPerSecond = 1
        settings.rateBurstSeconds = 10
        let s = try await server(settings: settings)
        let path = "/trade-api/v2/series/nothing-here"
        for _ in 0..<5 {
            let r = try await httpRequest(port: s.port, path: path, headers: try headers(signedPath: path))
            #expect(r.status == 404)  // admitted (and unknown), not 429
        }
        #expect(try await s.get(path).status == 404)
        #expect(try await s.get(path).status == 429)
        // A rejected signature is answered 401 before metering: not 429.
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(try await httpRequest(port: s.port, path: path, headers: try headers(signedPath: path, with: other)).status == 401)
        await s.stop()
    }

    @Test func authenticatorUnit() throws {
        let auth = RequestAuthenticator(keys: ["k": key.publicKey], maxSkewSeconds: 30)
        let now: Int64 = 1_800_000_000_000
        let sig = try sign(key, "\(now)GET/trade-api/v2/markets")
        #expect(auth.check(key: "k", timestamp: "\(now)", signature: sig, method: "GET", path: "/trade-api/v2/markets", nowMs: now)
            == .signed(keyID: "k"))
        #expect(auth.check(key: "k", timestamp: "\(now)", signature: sig, method: "GET", path: "/trade-api/v2/markets",
                           nowMs: now + 29_000) == .signed(keyID: "k"))
        if case .rejected = auth.check(key: "k", timestamp: "\(now)", signature: sig, method: "GET", path: "/trade-api/v2/markets",
                                       nowMs: now + 31_000) {} else { Issue.record("stale timestamp accepted") }
        #expect(auth.check(key: nil, timestamp: nil, signature: nil, method: "GET", path: "/markets", nowMs: now) == .unsigned)
        // Without keys nothing is verified: a key header alone means signed.
        #expect(RequestAuthenticator().check(key: "x", timestamp: nil, signature: nil, method: "GET", path: "/", nowMs: now)
            == .signed(keyID: "x"))
        #expect(throws: (any Error).self) { try RequestAuthenticator(keySpecs: ["k=/nonexistent.pem"]) }
        #expect(throws: (any Error).self) { try RequestAuthenticator(keySpecs: ["no-equals-sign"]) }
    }
}

/// `connection_reset_rate`: the connection is reset (RST), not closed (FIN).
@Suite(.serialized) struct ConnectionResetTests {
    @Test func resetIsATCPReset() async throws {
        let s = try await TestServer.start()
        _ = try await httpRequest(port: s.port, method: "POST", path: "/_sim/settings", body: #"{"connection_reset_rate": 1}"#)
        let (bytes, err) = await rawExchange(port: s.port, request: "GET /trade-api/v2/markets?limit=5 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(bytes.isEmpty)
        #expect(err == ECONNRESET)
        _ = try await httpRequest(port: s.port, method: "POST", path: "/_sim/settings", body: #"{"connection_reset_rate": 0}"#)
        let (ok, _) = await rawExchange(port: s.port, request: "GET /trade-api/v2/markets?limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(String(decoding: ok.prefix(12), as: UTF8.self) == "HTTP/1.1 200")
        await s.stop()
    }
}
