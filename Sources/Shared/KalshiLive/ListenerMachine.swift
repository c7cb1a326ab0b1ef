import SSMDCore
import WireContract

/// The lifecycle listener's connection, as a pure state machine: it is told what happened
/// (connected, a text frame, a drop, a refused key, a timer) and answers what to do (send a
/// command, publish a notice or a gap, reconnect after a delay, stop). The I/O shell
/// (`LifecycleListener`) performs the actions; tests drive the machine with made-up events
/// and times.
///
/// connecting → subscribing → streaming, and from any of them → backing off → connecting.
/// Every interruption opens a gap — from the last lifecycle message received (nil if none yet)
/// to the moment a new subscription is confirmed — and a new listener starts with one open
/// (it has seen nothing).
public struct ListenerMachine: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Reconnect delays: full jitter, capped.
        public var backoff = RetryPolicy(maxAttempts: .max, base: .milliseconds(500), cap: .seconds(30))
        /// A connection that stays subscribed this long resets the backoff.
        public var stableAfter: Duration = .seconds(60)
        /// How long a subscribe may go unanswered before the connection is given up.
        public var subscribeTimeout: Duration = .seconds(10)
        /// How long connecting (TCP, TLS, the upgrade) may take before the attempt is given
        /// up: a server that accepts the connection and never answers must not hold us.
        public var connectTimeout: Duration = .seconds(15)

        public init() {}
    }

    public enum State: Sendable, Equatable {
        case idle
        case connecting(since: Timestamp)
        case subscribing(commandID: Int, since: Timestamp)
        case streaming(sid: Int, since: Timestamp)
        case backingOff(until: Timestamp)
        case stopped
    }

    public enum Event: Sendable, Equatable {
        case start
        /// The handshake was accepted.
        case connected
        /// The exchange answered the handshake with an HTTP status that refuses the key (401, 403).
        case keyRefused(status: Int, detail: String)
        /// The connection could not be made, or ended (dropped, closed by the server, a missed
        /// keep-alive): `reason` says which.
        case disconnected(reason: String)
        case text(String)
        /// A timer: checks the subscribe timeout and the end of a backoff.
        case tick
        /// Graceful shutdown.
        case stop
    }

    public enum Action: Sendable, Equatable {
        case connect
        case send(LiveCommand)
        case publish(LifecycleNotice)
        case publishGap(LifecycleGap)
        /// Drop the current connection (if any) and wake with `.tick` after the delay.
        case reconnect(after: Duration, reason: String)
        /// Close the connection with a close frame; the listener is stopping.
        case close
        /// A configuration error: stop the daemon with this one-line message.
        case fail(String)
        /// Something worth a log line and a counter, not an action.
        case report(Report)
    }

    public enum Report: Sendable, Equatable {
        case subscribed(sid: Int)
        case malformed(String)
        case unknownType(String)
        case serverError(code: Int?, message: String)
    }

    public let settings: Settings
    public private(set) var state: State = .idle
    /// When the last lifecycle message arrived.
    public private(set) var lastMessageAt: Timestamp?
    /// The gap being bridged: opened by an interruption (or the start), closed by the next
    /// confirmed subscription.
    public private(set) var openGap: (from: Timestamp?, reason: String)? = (nil, "start-up")
    /// Consecutive failed connections (what the backoff grows with).
    public private(set) var failures = 0
    private var nextCommandID = 1

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The actions for `event` at `now`; `random` in [0, 1) draws the jitter.
    public mutating func handle(_ event: Event, now: Timestamp, random: Double) -> [Action] {
        if state == .stopped { return [] }
        switch event {
        case .start:
            guard state == .idle else { return [] }
            state = .connecting(since: now)
            return [.connect]

        case .stop:
            state = .stopped
            return [.close]

        case .keyRefused(let status, let detail):
            state = .stopped
            return [.fail("the exchange refused the API key at the WebSocket handshake (HTTP \(status))\(detail.isEmpty ? "" : ": " + detail)")]

        case .connected:
            guard case .connecting = state else { return [] }
            let id = nextCommandID
            nextCommandID += 1
            state = .subscribing(commandID: id, since: now)
            return [.send(.subscribe(id: id, channels: [LiveChannel.marketLifecycle]))]

        case .disconnected(let reason):
            switch state {
            case .connecting, .subscribing, .streaming: return interrupted(reason: reason, now: now, random: random)
            default: return []
            }

        case .tick:
            switch state {
            case .subscribing(_, let since) where now.microsecondsSinceEpoch - since.microsecondsSinceEpoch >= settings.subscribeTimeout.microseconds:
                return interrupted(reason: "no answer to subscribe within \(settings.subscribeTimeout.seconds)s", now: now, random: random)
            case .connecting(let since) where now.microsecondsSinceEpoch - since.microsecondsSinceEpoch >= settings.connectTimeout.microseconds:
                return interrupted(reason: "no answer to the handshake within \(settings.connectTimeout.seconds)s", now: now, random: random)
            case .backingOff(let until) where now >= until:
                state = .connecting(since: now)
                return [.connect]
            default:
                return []
            }

        case .text(let text):
            return received(text, now: now, random: random)
        }
    }

    private mutating func received(_ text: String, now: Timestamp, random: Double) -> [Action] {
        let message: LiveMessage
        do { message = try LiveMessage.decode(text) } catch { return [.report(.malformed("\(error)"))] }
        switch message {
        case .subscribed(let id, let channel, let sid):
            guard case .subscribing(let wanted, let since) = state, id == nil || id == wanted, channel == LiveChannel.marketLifecycle else {
                return []
            }
            _ = since
            state = .streaming(sid: sid, since: now)
            var actions: [Action] = [.report(.subscribed(sid: sid))]
            if let gap = openGap {
                actions.append(.publishGap(LifecycleGap(from: gap.from, to: now, reason: gap.reason)))
                openGap = nil
            }
            return actions

        case .lifecycle(let type, _, let msg):
            // A message that arrives while still subscribing belongs to the new subscription
            // (the exchange may send it right behind `subscribed`): keep it.
            switch state {
            case .streaming, .subscribing: break
            default: return []
            }
            do {
                let notice = try LifecycleNotice.from(type: type, msg: msg, receivedAt: now)
                lastMessageAt = now
                return [.publish(notice)]
            } catch {
                return [.report(.malformed("\(error)"))]
            }

        case .error(let id, let code, let text):
            if case .subscribing(let wanted, _) = state, id == nil || id == wanted {
                return [.report(.serverError(code: code, message: text))]
                    + interrupted(reason: "subscribe refused: error \(code.map(String.init) ?? "?") \(text)", now: now, random: random)
            }
            return [.report(.serverError(code: code, message: text))]

        case .other(let type):
            return [.report(.unknownType(type))]

        case .ok, .unsubscribed:
            return []
        }
    }

    /// The connection is lost: open (or keep) the gap, back off, reconnect.
    private mutating func interrupted(reason: String, now: Timestamp, random: Double) -> [Action] {
        if case .streaming(_, let since) = state {
            if now.microsecondsSinceEpoch - since.microsecondsSinceEpoch >= settings.stableAfter.microseconds { failures = 0 }
        }
        // A gap already open (the connection failed again before a subscription was
        // confirmed) keeps its start: the window only grows.
        if openGap == nil { openGap = (lastMessageAt, reason) }
        let delay = settings.backoff.delay(attempt: failures, unit: random)
        failures += 1
        state = .backingOff(until: Timestamp(microsecondsSinceEpoch: now.microsecondsSinceEpoch + delay.microseconds))
        return [.reconnect(after: delay, reason: reason)]
    }
}

extension Duration {
    /// Whole microseconds (truncated).
    var microseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000 + atto / 1_000_000_000_000
    }
}
