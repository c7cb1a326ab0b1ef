import Foundation
import NIOCore

/// One WebSocket connection: its command state (`WSSession`, pure) and the queue of frames
/// its writer task sends. Commands and lifecycle deliveries take the same lock and queue
/// in order, so a `subscribed` answer always precedes the subscription's first message.
final class WSConnection: @unchecked Sendable {
    enum Outgoing: Sendable {
        case text(String)
        /// Drop the connection: close the TCP connection without a close frame.
        case drop
    }

    let number: UInt64
    let channel: any Channel
    let outgoing: AsyncStream<Outgoing>
    private let continuation: AsyncStream<Outgoing>.Continuation
    private let lock = NSLock()
    private var session = WSSession()
    /// Lifecycle messages addressed to this connection so far (fault draws are numbered by it).
    private var addressed: UInt64 = 0
    private var dropping = false

    init(number: UInt64, channel: any Channel) {
        self.number = number
        self.channel = channel
        (outgoing, continuation) = AsyncStream<Outgoing>.makeStream()
    }

    func command(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        guard !dropping else { return }
        for reply in session.handle(text) { continuation.yield(.text(reply)) }
    }

    /// Queues the messages this connection subscribes to, applying the WebSocket faults.
    func deliver(_ messages: [LifecycleMessage], settings: SimSettings) -> (sent: Int, lost: Int, dropped: Bool) {
        lock.lock(); defer { lock.unlock() }
        var sent = 0, lost = 0
        for m in messages {
            guard !dropping else { break }
            guard let frame = session.address(m) else { continue }
            addressed += 1
            let fault = FaultPlan.webSocket(settings: settings, connection: number, message: addressed)
            if fault.drop {
                dropping = true
                continuation.yield(.drop)
                return (sent, lost, true)
            }
            if fault.lose { lost += 1; continue }
            continuation.yield(.text(frame))
            sent += 1
        }
        return (sent, lost, false)
    }

    /// `POST /_sim/ws/drop`.
    func drop() -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard !dropping else { return false }
        dropping = true
        continuation.yield(.drop)
        return true
    }

    func finish() { continuation.finish() }
}

/// Emits lifecycle messages at the simulated time of each transition to every connection.
/// While any connection is open, a task polls the simulated clock (every 20 ms of wall
/// time); when it has moved from `last` to `now`, every transition with `last < at <= now`
/// is rendered once and addressed to each subscribed connection. Advancing the clock with
/// `POST /_sim/clock` delivers everything passed over, in order.
public final class LifecycleHub: @unchecked Sendable {
    let api: ExchangeAPI
    let state: SimState
    private let lock = NSLock()
    private var connections: [UInt64: WSConnection] = [:]
    private var nextNumber: UInt64 = 0
    private var running = false
    private var last: Int64 = 0
    private var counters = (accepted: 0, refused: 0, sent: 0, lost: 0, dropped: 0)

    init(api: ExchangeAPI, state: SimState) {
        self.api = api
        self.state = state
    }

    func register(channel: any Channel) -> WSConnection {
        lock.lock()
        nextNumber += 1
        let c = WSConnection(number: nextNumber, channel: channel)
        connections[c.number] = c
        counters.accepted += 1
        let start = !running
        if start {
            running = true
            last = state.now()
        }
        lock.unlock()
        if start {
            // Build the index before the first tick so the first tick is not late.
            _ = api.transitions.entries
            Task { await self.run() }
        }
        return c
    }

    func unregister(_ c: WSConnection) {
        lock.lock()
        connections[c.number] = nil
        lock.unlock()
        c.finish()
    }

    func countRefused() {
        lock.lock(); counters.refused += 1; lock.unlock()
    }

    /// Drops every open connection; returns how many.
    public func dropAll() -> Int {
        lock.lock()
        let all = Array(connections.values)
        lock.unlock()
        var n = 0
        for c in all where c.drop() { n += 1 }
        lock.lock(); counters.dropped += n; lock.unlock()
        return n
    }

    public func statsJSON() -> [UInt8] {
        lock.lock()
        let open = connections.count
        let c = counters
        let last = running ? self.last : nil
        lock.unlock()
        var w = JSONWriter()
        w.raw("{\"connections\":"); w.int(open)
        w.raw(",\"accepted\":"); w.int(c.accepted)
        w.raw(",\"refused\":"); w.int(c.refused)
        w.raw(",\"messages_sent\":"); w.int(c.sent)
        w.raw(",\"messages_lost\":"); w.int(c.lost)
        w.raw(",\"drops\":"); w.int(c.dropped)
        w.raw(",\"emitted_through\":"); if let last { w.int(last) } else { w.raw("null") }
        w.raw("}")
        return w.bytes
    }

    private func run() async {
        while let (conns, from) = snapshot() {
            let now = state.now()
            if now > from {
                tick(from: from, through: now, to: conns)
                setLast(now)
            }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// The open connections and the last instant emitted, or nil (and the loop stops)
    /// when no connection is open.
    private func snapshot() -> ([WSConnection], Int64)? {
        lock.lock(); defer { lock.unlock() }
        if connections.isEmpty {
            running = false
            return nil
        }
        return (Array(connections.values), last)
    }

    private func setLast(_ t: Int64) {
        lock.lock(); defer { lock.unlock() }
        last = t
    }

    private func tick(from: Int64, through now: Int64, to conns: [WSConnection]) {
        let index = api.transitions
        let entries = index.entries
        let range = index.range(from: from + 1, to: now + 1)
        guard !range.isEmpty else { return }
        var messages: [LifecycleMessage] = []
        for k in range {
            if let m = LifecycleMessages.message(api.universe, entries[k]) { messages.append(m) }
        }
        guard !messages.isEmpty else { return }
        let settings = state.currentSettings()
        var sent = 0, lost = 0, dropped = 0
        for c in conns {
            let r = c.deliver(messages, settings: settings)
            sent += r.sent
            lost += r.lost
            if r.dropped { dropped += 1 }
        }
        lock.lock()
        counters.sent += sent
        counters.lost += lost
        counters.dropped += dropped
        lock.unlock()
    }
}
