import Foundation
import SSMDCore
import WireContract

/// The exchange's WebSocket API v2 as the lifecycle listener speaks it: the commands it
/// sends and the messages it reads (asyncapi.yaml; docs/websockets_*.md). Decoding is
/// tolerant: unknown fields are ignored, an unknown message type is reported as `.other`
/// (never fatal), and only a message that is not a JSON object with a `type` is an error.
public enum LiveChannel {
    /// Market lifecycle messages; the same subscription carries `event_lifecycle` and
    /// `event_fee_update` (asyncapi.yaml: both are "delivered on the market_lifecycle_v2 channel").
    public static let marketLifecycle = "market_lifecycle_v2"
}

/// The WebSocket path the handshake is signed over (quick start: timestamp + "GET" + "/trade-api/ws/v2").
public enum LiveEndpoint {
    public static let path = "/trade-api/ws/v2"

    /// The WebSocket URL of a REST base URL: same host and port, `https` → `wss`, `http` →
    /// `ws`, path `/trade-api/ws/v2` (`https://api.elections.kalshi.com/trade-api/v2` →
    /// `wss://api.elections.kalshi.com/trade-api/ws/v2`). nil for anything but an http(s) URL
    /// with a host.
    public static func webSocketURL(exchangeURL: String) -> String? {
        guard let c = URLComponents(string: exchangeURL), let host = c.host, !host.isEmpty else { return nil }
        let scheme: String
        switch c.scheme?.lowercased() {
        case "https": scheme = "wss"
        case "http": scheme = "ws"
        default: return nil
        }
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart)\(c.port.map { ":\($0)" } ?? "")\(path)"
    }

    /// The path of a WebSocket URL (what the signature covers), without its query.
    public static func signedPath(of webSocketURL: String) -> String {
        guard let c = URLComponents(string: webSocketURL), !c.path.isEmpty else { return "/" }
        return c.path
    }

    /// The http(s) URL of the same resource (`wss` → `https`, `ws` → `http`).
    public static func httpURL(of webSocketURL: String) -> String {
        if webSocketURL.lowercased().hasPrefix("wss://") { return "https://" + webSocketURL.dropFirst(6) }
        if webSocketURL.lowercased().hasPrefix("ws://") { return "http://" + webSocketURL.dropFirst(5) }
        return webSocketURL
    }
}

/// A command the client sends (`id` is echoed in the answer).
public enum LiveCommand: Sendable, Equatable {
    case subscribe(id: Int, channels: [String])
    case unsubscribe(id: Int, sids: [Int])

    public var id: Int {
        switch self {
        case .subscribe(let id, _), .unsubscribe(let id, _): return id
        }
    }

    public var jsonText: String {
        switch self {
        case .subscribe(let id, let channels):
            return JSONValue.object(["id": .number(Double(id)), "cmd": .string("subscribe"),
                                     "params": .object(["channels": .array(channels.map { .string($0) })])]).jsonText
        case .unsubscribe(let id, let sids):
            return JSONValue.object(["id": .number(Double(id)), "cmd": .string("unsubscribe"),
                                     "params": .object(["sids": .array(sids.map { .number(Double($0)) })])]).jsonText
        }
    }
}

/// A message the exchange sends.
public enum LiveMessage: Sendable, Equatable {
    /// `{"id":1,"type":"subscribed","msg":{"channel":"market_lifecycle_v2","sid":1}}`
    case subscribed(id: Int?, channel: String, sid: Int)
    /// `{"id":2,"sid":1,"seq":7,"type":"unsubscribed"}`
    case unsubscribed(id: Int?, sid: Int?)
    /// `{"id":3,"type":"ok",…}`
    case ok(id: Int?)
    /// `{"id":4,"type":"error","msg":{"code":6,"msg":"Already subscribed"}}`
    case error(id: Int?, code: Int?, message: String)
    /// A lifecycle message (`market_lifecycle_v2`, `event_lifecycle`, `event_fee_update`):
    /// its `type`, `sid` and `msg` object.
    case lifecycle(type: String, sid: Int?, msg: [String: JSONValue])
    /// A message of a type this client does not know: reported, skipped.
    case other(type: String)

    /// The message types the `market_lifecycle_v2` subscription delivers.
    public static let lifecycleTypes: Set<String> = ["market_lifecycle_v2", "event_lifecycle", "event_fee_update"]

    public static func decode(_ text: String) throws -> LiveMessage {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) } catch {
            throw LiveDecodingError(reason: "not JSON", excerpt: text)
        }
        guard case .object(let o) = value else { throw LiveDecodingError(reason: "not a JSON object", excerpt: text) }
        guard case .string(let type)? = o["type"] else { throw LiveDecodingError(reason: "no \"type\" string", excerpt: text) }
        let id = o["id"]?.intValue
        let msg = o["msg"]?.objectValue
        switch type {
        case "subscribed":
            guard let msg, let channel = msg["channel"]?.stringValue, let sid = msg["sid"]?.intValue else {
                throw LiveDecodingError(reason: "subscribed without msg.channel and msg.sid", excerpt: text)
            }
            return .subscribed(id: id, channel: channel, sid: sid)
        case "unsubscribed":
            return .unsubscribed(id: id, sid: o["sid"]?.intValue)
        case "ok":
            return .ok(id: id)
        case "error":
            return .error(id: id, code: msg?["code"]?.intValue, message: msg?["msg"]?.stringValue ?? "")
        case _ where lifecycleTypes.contains(type):
            guard let msg else { throw LiveDecodingError(reason: "\(type) without a msg object", excerpt: text) }
            return .lifecycle(type: type, sid: o["sid"]?.intValue, msg: msg)
        default:
            return .other(type: type)
        }
    }
}

/// A text frame that is not a message of the protocol. `excerpt` is the frame's start, for
/// the log (exchange messages carry no secrets).
public struct LiveDecodingError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public var excerpt: String

    public init(reason: String, excerpt: String) {
        self.reason = reason
        self.excerpt = String(excerpt.prefix(200))
    }

    public var description: String { "malformed WebSocket message (\(reason)): \(excerpt)" }
}

extension LifecycleNotice {
    /// The notice of a lifecycle message, or an error naming what it lacks: a market message
    /// needs `market_ticker` and `event_type`, an event message `event_ticker`.
    public static func from(type: String, msg: [String: JSONValue], receivedAt: Timestamp) throws -> LifecycleNotice {
        func text(_ key: String, in o: [String: JSONValue]) -> String? {
            guard let s = o[key]?.stringValue, !s.isEmpty else { return nil }
            return s
        }
        switch type {
        case "market_lifecycle_v2":
            guard let market = text("market_ticker", in: msg) else {
                throw LiveDecodingError(reason: "\(type) without msg.market_ticker", excerpt: JSONValue.object(msg).jsonText)
            }
            guard let eventType = text("event_type", in: msg) else {
                throw LiveDecodingError(reason: "\(type) without msg.event_type", excerpt: JSONValue.object(msg).jsonText)
            }
            let event = msg["additional_metadata"]?.objectValue.flatMap { text("event_ticker", in: $0) }
            return LifecycleNotice(receivedAt: receivedAt, type: type, eventType: eventType, marketTicker: market,
                                   eventTicker: event, message: .object(msg))
        default:
            guard let event = text("event_ticker", in: msg) else {
                throw LiveDecodingError(reason: "\(type) without msg.event_ticker", excerpt: JSONValue.object(msg).jsonText)
            }
            return LifecycleNotice(receivedAt: receivedAt, type: type, eventTicker: event,
                                   seriesTicker: text("series_ticker", in: msg), message: .object(msg))
        }
    }
}

extension JSONValue {
    /// An integral number that fits an `Int`.
    var intValue: Int? {
        guard case .number(let n) = self, n == n.rounded(), abs(n) < 9e15 else { return nil }
        return Int(n)
    }
    var stringValue: String? {
        guard case .string(let s) = self else { return nil }
        return s
    }
    var objectValue: [String: JSONValue]? {
        guard case .object(let o) = self else { return nil }
        return o
    }
}
