import Foundation

/// One WebSocket connection's command state: subscriptions, their `sid`s and `seq`s, and
/// the answers to `subscribe`, `unsubscribe`, `update_subscription` and
/// `list_subscriptions` (asyncapi.yaml, getting_started_quick_start_websockets.md). A pure
/// value: text in, texts out; the server shell only moves frames.
public struct WSSession: Sendable {
    public struct Subscription: Sendable, Equatable {
        public var sid: Int
        public var channel: LifecycleChannel
        /// Messages sent on this subscription so far.
        public var sent: Int
    }

    public private(set) var subscriptions: [Subscription] = []
    private var nextSid = 1

    public init() {}

    /// Every channel name the docs list for `subscribe`; the simulator serves the two
    /// lifecycle channels and answers the others with code 8.
    public static let documentedChannels: Set<String> = [
        "orderbook_delta", "ticker", "trade", "fill", "market_positions", "market_lifecycle_v2",
        "multivariate_market_lifecycle", "communications", "order_group_updates", "user_orders",
        "cfbenchmarks_value", "pyth_value",
    ]

    /// Error codes and their messages, exactly as the docs' table names them.
    public enum ErrorCode: Int, Sendable {
        case unableToProcess = 1, paramsRequired = 2, channelsRequired = 3, sidsRequired = 4, unknownCommand = 5
        case alreadySubscribed = 6, unknownSid = 7, unknownChannel = 8, invalidParameter = 11
        case exactlyOneSid = 12, unsupportedAction = 13, actionRequired = 15

        public var message: String {
            switch self {
            case .unableToProcess: return "Unable to process message"
            case .paramsRequired: return "Params required"
            case .channelsRequired: return "Channels required"
            case .sidsRequired: return "Subscription IDs required"
            case .unknownCommand: return "Unknown command"
            case .alreadySubscribed: return "Already subscribed"
            case .unknownSid: return "Unknown subscription ID"
            case .unknownChannel: return "Unknown channel name"
            case .invalidParameter: return "Invalid parameter"
            case .exactlyOneSid: return "Exactly one subscription ID is required"
            case .unsupportedAction: return "Unsupported action"
            case .actionRequired: return "Action required"
            }
        }
    }

    struct Command: Decodable {
        var id: Int?
        var cmd: String?
        var params: Params?
    }

    struct Params: Decodable {
        var channels: [String]?
        var sids: [Int]?
        var sid: Int?
        var action: String?
        var market_ticker: String?
        var market_tickers: [String]?
    }

    /// Answers one text frame from the client.
    public mutating func handle(_ text: String) -> [String] {
        guard let cmd = try? JSONDecoder().decode(Command.self, from: Data(text.utf8)) else {
            // Not JSON, or a field of the wrong type: code 1. The id is echoed when readable.
            let id = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["id"] as? Int
            return [Self.error(id: id, .unableToProcess)]
        }
        let id = cmd.id
        if let id, id < 0 { return [Self.error(id: nil, .unableToProcess)] }
        switch cmd.cmd {
        case "subscribe": return subscribe(id: id, cmd.params)
        case "unsubscribe": return unsubscribe(id: id, cmd.params)
        case "list_subscriptions": return [listSubscriptions(id: id)]
        case "update_subscription": return [updateSubscription(id: id, cmd.params)]
        default: return [Self.error(id: id, .unknownCommand)]
        }
    }

    mutating func subscribe(id: Int?, _ params: Params?) -> [String] {
        guard let params else { return [Self.error(id: id, .paramsRequired)] }
        guard let channels = params.channels, !channels.isEmpty else { return [Self.error(id: id, .channelsRequired)] }
        var out: [String] = []
        for name in channels {
            // Lifecycle channels take no market filter ("market_ticker filters are not
            // supported"): any given is ignored and every lifecycle message is delivered.
            guard let ch = LifecycleChannel(rawValue: name) else {
                out.append(Self.error(id: id, .unknownChannel))
                continue
            }
            if subscriptions.contains(where: { $0.channel == ch }) {
                out.append(Self.error(id: id, .alreadySubscribed))
                continue
            }
            let sid = nextSid
            nextSid += 1
            subscriptions.append(Subscription(sid: sid, channel: ch, sent: 0))
            var w = JSONWriter()
            w.raw("{"); Self.appendID(id, to: &w)
            w.raw("\"type\":\"subscribed\",\"msg\":{\"channel\":"); w.string(ch.rawValue)
            w.raw(",\"sid\":"); w.int(sid); w.raw("}}")
            out.append(String(decoding: w.bytes, as: UTF8.self))
        }
        return out
    }

    mutating func unsubscribe(id: Int?, _ params: Params?) -> [String] {
        guard let params else { return [Self.error(id: id, .paramsRequired)] }
        guard let sids = params.sids, !sids.isEmpty else { return [Self.error(id: id, .sidsRequired)] }
        var out: [String] = []
        for sid in sids {
            guard let k = subscriptions.firstIndex(where: { $0.sid == sid }) else {
                out.append(Self.error(id: id, .unknownSid))
                continue
            }
            let sub = subscriptions.remove(at: k)
            var w = JSONWriter()
            w.raw("{"); Self.appendID(id, to: &w)
            w.raw("\"sid\":"); w.int(sid)
            w.raw(",\"seq\":"); w.int(sub.sent + 1)
            w.raw(",\"type\":\"unsubscribed\"}")
            out.append(String(decoding: w.bytes, as: UTF8.self))
        }
        return out
    }

    func listSubscriptions(id: Int?) -> String {
        var w = JSONWriter()
        w.raw("{"); Self.appendID(id, to: &w)
        w.raw("\"type\":\"ok\",\"msg\":[")
        for (i, s) in subscriptions.enumerated() {
            if i > 0 { w.comma() }
            w.raw("{\"channel\":"); w.string(s.channel.rawValue)
            w.raw(",\"sid\":"); w.int(s.sid); w.raw("}")
        }
        w.raw("]}")
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func updateSubscription(id: Int?, _ params: Params?) -> String {
        guard let params else { return Self.error(id: id, .paramsRequired) }
        guard let action = params.action, !action.isEmpty else { return Self.error(id: id, .actionRequired) }
        let sid: Int
        switch (params.sid, params.sids) {
        case (let s?, nil): sid = s
        case (nil, let s?) where s.count == 1: sid = s[0]
        default: return Self.error(id: id, .exactlyOneSid)
        }
        guard subscriptions.contains(where: { $0.sid == sid }) else { return Self.error(id: id, .unknownSid) }
        // Lifecycle subscriptions have no market list to add to, delete from or snapshot.
        return Self.error(id: id, .unsupportedAction)
    }

    /// The frame for a lifecycle message, if this session subscribes to its channel.
    public mutating func address(_ m: LifecycleMessage) -> String? {
        guard let k = subscriptions.firstIndex(where: { $0.channel == m.channel }) else { return nil }
        subscriptions[k].sent += 1
        var w = JSONWriter(capacity: m.msg.count + 64)
        w.raw("{\"type\":"); w.string(m.type)
        w.raw(",\"sid\":"); w.int(subscriptions[k].sid)
        w.raw(",\"msg\":"); w.raw(m.msg)
        w.raw("}")
        return String(decoding: w.bytes, as: UTF8.self)
    }

    public var isSubscribed: Bool { !subscriptions.isEmpty }

    /// `"id":n,` unless the id is absent or 0 ("treated as if there was no id").
    static func appendID(_ id: Int?, to w: inout JSONWriter) {
        if let id, id != 0 { w.raw("\"id\":"); w.int(id); w.comma() }
    }

    public static func error(id: Int?, _ code: ErrorCode) -> String {
        var w = JSONWriter()
        w.raw("{"); appendID(id, to: &w)
        w.raw("\"type\":\"error\",\"msg\":{\"code\":"); w.int(code.rawValue)
        w.raw(",\"msg\":"); w.string(code.message); w.raw("}}")
        return String(decoding: w.bytes, as: UTF8.self)
    }
}
