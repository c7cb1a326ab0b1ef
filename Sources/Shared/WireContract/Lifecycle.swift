import KalshiModels
import SSMDCore

/// A message of the exchange's lifecycle WebSocket channels (`market_lifecycle_v2`,
/// `event_lifecycle`; docs/websockets_market-and-event-lifecycle.md), as the
/// lifecycle-listener republishes it on `ssmd.lifecycle.…`. The exchange's `msg` object
/// travels verbatim in `message`; the fields beside it are what routing needs.
public struct LifecycleNotice: SSMDMessage, Equatable {
    public static let kind = MessageKind.lifecycle
    public var schema = MessageSchema.version
    public var kind = MessageKind.lifecycle
    /// When the listener received it (our clock).
    public var receivedAt: Timestamp
    /// The exchange's message type: `market_lifecycle_v2` or `event_lifecycle`.
    public var type: String
    /// For market messages: `created`, `activated`, `deactivated`, `close_date_updated`,
    /// `determined`, `settled`, `price_level_structure_updated`, `metadata_updated`.
    public var eventType: String?
    public var marketTicker: String?
    /// The event: of an `event_lifecycle` message, or a `created` market's
    /// `additional_metadata.event_ticker`.
    public var eventTicker: String?
    /// Of an `event_lifecycle` message.
    public var seriesTicker: String?
    /// The exchange's `msg` object as sent.
    public var message: JSONValue

    public init(receivedAt: Timestamp, type: String, eventType: String? = nil, marketTicker: String? = nil,
                eventTicker: String? = nil, seriesTicker: String? = nil, message: JSONValue) {
        self.receivedAt = receivedAt; self.type = type; self.eventType = eventType; self.marketTicker = marketTicker
        self.eventTicker = eventTicker; self.seriesTicker = seriesTicker; self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case schema, kind, receivedAt = "received_at", type, eventType = "event_type", marketTicker = "market_ticker"
        case eventTicker = "event_ticker", seriesTicker = "series_ticker", message
    }

    /// The subject it is published on.
    public var subject: String {
        if let marketTicker { return Subjects.lifecycle(marketEvent: eventType ?? "unknown", market: marketTicker) }
        return Subjects.lifecycle(event: eventTicker ?? "unknown")
    }

    /// `Nats-Msg-Id`: the same exchange message received by two listeners lands once.
    public var messageID: String {
        "lifecycle:\(type):\(marketTicker ?? eventTicker ?? ""):\(eventType ?? ""):\(FNV1a.hash64(message.jsonText).hex)"
    }
}

/// The listener may have missed lifecycle messages between `from` and `to` (a reconnect, a
/// restart, messages the exchange reported as skipped): whoever acts on notices catches up
/// on that window through the REST feeds. On `ssmd.lifecycle.gap`.
public struct LifecycleGap: SSMDMessage, Equatable {
    public static let kind = MessageKind.lifecycleGap
    public var schema = MessageSchema.version
    public var kind = MessageKind.lifecycleGap
    /// The last message received before the gap; nil when the listener had received none.
    public var from: Timestamp?
    /// When the stream was whole again.
    public var to: Timestamp
    public var reason: String

    public init(from: Timestamp?, to: Timestamp, reason: String) {
        self.from = from; self.to = to; self.reason = reason
    }
}
