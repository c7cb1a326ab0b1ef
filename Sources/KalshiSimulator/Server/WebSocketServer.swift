import Foundation
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The lifecycle WebSocket (`/trade-api/ws/v2`, and `/` as the root variant): the signed
/// handshake, then `WSSession` commands and `LifecycleHub` deliveries over
/// hummingbird-websocket's server, plus `heartbeat` Ping frames.
struct LifecycleWebSocket: Sendable {
    let hub: LifecycleHub
    let state: SimState
    let authenticator: RequestAuthenticator

    static let paths: Set<String> = ["/trade-api/ws/v2", "/"]

    typealias Handler = WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>

    func shouldUpgrade(_ head: HTTPRequest, channel: any Channel, logger: Logger) async -> ShouldUpgradeResult<Handler> {
        let target = head.path ?? "/"
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        guard Self.paths.contains(path) else {
            await refuse(channel, status: .notFound, APIError.notFound("page not found"))
            return .dontUpgrade
        }
        if let why = authenticate(head, path: path) {
            hub.countRefused()
            await refuse(channel, status: .unauthorized, APIError(status: 401, code: "unauthorized", message: why))
            return .dontUpgrade
        }
        let hub = self.hub
        let state = self.state
        return .upgrade([:]) { inbound, outbound, _ in
            let conn = hub.register(channel: channel)
            defer { hub.unregister(conn) }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await item in conn.outgoing {
                        switch item {
                        case .text(let text):
                            do { try await outbound.write(.text(text)) } catch { return }
                        case .drop:
                            // A network drop: the TCP connection closes with no close frame.
                            try? await channel.close()
                            return
                        }
                    }
                }
                group.addTask {
                    // Keep-alive as documented: Ping (0x9) with body "heartbeat" every 10 s.
                    while !Task.isCancelled {
                        let interval = state.currentSettings().wsPingIntervalSeconds
                        do {
                            try await Task.sleep(nanoseconds: UInt64(max(interval, 0.05) * 1_000_000_000))
                            guard interval > 0 else { continue }
                            let ping = WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "heartbeat"))
                            try await outbound.write(.custom(ping))
                        } catch { return }
                    }
                }
                do {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        switch message {
                        case .text(let text): conn.command(text)
                        case .binary: conn.command("")  // not a JSON command: code 1
                        }
                    }
                } catch {}
                group.cancelAll()
            }
        }
    }

    /// nil when the handshake is authenticated. With `--public-key` the three headers must
    /// carry a valid RSA-PSS signature over timestamp + "GET" + path (the path as sent,
    /// `/trade-api/ws/v2`); without keys they must be present but are not verified.
    func authenticate(_ head: HTTPRequest, path: String) -> String? {
        let key = head.headerFields[SimResponder.keyHeader]
        let timestamp = head.headerFields[SimResponder.timestampHeader]
        let signature = head.headerFields[SimResponder.signatureHeader]
        if !authenticator.verifies {
            if key == nil || timestamp == nil || signature == nil {
                return "authentication required: KALSHI-ACCESS-KEY, KALSHI-ACCESS-TIMESTAMP and KALSHI-ACCESS-SIGNATURE headers"
            }
            return nil
        }
        switch authenticator.check(key: key, timestamp: timestamp, signature: signature, method: "GET", path: path,
                                   nowMs: Int64((SimState.wallNow() * 1000).rounded(.down))) {
        case .signed: return nil
        case .unsigned: return "authentication required: KALSHI-ACCESS-KEY, KALSHI-ACCESS-TIMESTAMP and KALSHI-ACCESS-SIGNATURE headers"
        case .rejected(let why): return why
        }
    }

    /// Answers the handshake with an HTTP error instead of `101 Switching Protocols`
    /// (hummingbird-websocket would answer any refused upgrade with a bare 400), then
    /// half-closes the connection so nothing else is written.
    func refuse(_ channel: any Channel, status: HTTPResponseStatus, _ error: APIError) async {
        let body = error.body
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Date", value: SimTime.httpDate(state.now()))
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
        try? await channel.close(mode: .output).get()
    }
}
