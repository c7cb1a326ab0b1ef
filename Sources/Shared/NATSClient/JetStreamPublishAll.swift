import CNATS
import Foundation
import Synchronization

/// One `publishAll` call: results by input index, and a condition to wait on.
final class PublishBatch: @unchecked Sendable {
    private let cond = NSCondition()
    private var acks: [PubAck?]
    private var errors: [Int: String] = [:]
    private var remaining: Int

    init(count: Int) {
        acks = Array(repeating: nil, count: count)
        remaining = count
    }

    func record(_ index: Int, ack: PubAck?, error: String?) {
        cond.lock()
        defer { cond.unlock() }
        guard acks[index] == nil && errors[index] == nil else { return }
        if let ack { acks[index] = ack } else { errors[index] = error ?? "unknown error" }
        remaining -= 1
        if remaining == 0 { cond.broadcast() }
    }

    /// Waits until every message has a result or `deadline` passes; then returns the acks
    /// and the failures (unanswered messages count as failed).
    func wait(until deadline: Date) -> (acks: [PubAck?], errors: [Int: String]) {
        cond.lock()
        defer { cond.unlock() }
        while remaining > 0 {
            if !cond.wait(until: deadline) { break }
        }
        var errs = errors
        if remaining > 0 {
            for i in acks.indices where acks[i] == nil && errs[i] == nil {
                errs[i] = "no acknowledgment within the timeout"
            }
        }
        return (acks, errs)
    }
}

/// Routes asynchronous publish acks (delivered by cnats on its own thread, per message
/// pointer) to the batch and index the message came from.
final class PublishRouter: @unchecked Sendable {
    private struct Entry: @unchecked Sendable {
        let batch: PublishBatch
        let index: Int
    }
    private let entries = Mutex<[UInt: Entry]>([:])

    func register(_ msg: OpaquePointer, batch: PublishBatch, index: Int) {
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(msg)))
        entries.withLock { $0[key] = Entry(batch: batch, index: index) }
    }

    func unregister(_ msg: OpaquePointer) {
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(msg)))
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    func complete(_ msg: OpaquePointer, ack: PubAck?, error: String?) {
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(msg)))
        guard let entry = entries.withLock({ $0.removeValue(forKey: key) }) else { return }
        entry.batch.record(entry.index, ack: ack, error: error)
    }
}

private let asyncAckHandler: jsPubAckHandler = { _, msg, pa, pae, closure in
    defer { natsMsg_Destroy(msg) }
    guard let msg, let closure else { return }
    let router = Unmanaged<PublishRouter>.fromOpaque(closure).takeUnretainedValue()
    if let pa {
        let ack = PubAck(stream: pa.pointee.Stream.map { String(cString: $0) } ?? "",
                         sequence: pa.pointee.Sequence, duplicate: pa.pointee.Duplicate)
        router.complete(msg, ack: ack, error: nil)
    } else {
        var text = "publish failed"
        if let pae {
            let status = String(cString: natsStatus_GetText(pae.pointee.Err))
            let detail = pae.pointee.ErrText.map { String(cString: $0) } ?? ""
            text = detail.isEmpty ? status : "\(status): \(detail)"
            if pae.pointee.ErrCode.rawValue != 0 { text += " (api error \(pae.pointee.ErrCode.rawValue))" }
        }
        router.complete(msg, ack: nil, error: text)
    }
}

/// A JetStream context dedicated to asynchronous publishing. Its router is kept alive by
/// the connection until the connection's handle is destroyed, so a late ack callback
/// never touches freed memory.
final class AsyncPublisher: @unchecked Sendable {
    let ctx: OpaquePointer
    private let router: PublishRouter
    private let destroyed = Atomic<Bool>(false)
    static let maxPending: Int64 = 16_384
    /// cnats' own ack timeout: the same MaxWait for every message of this context. It must
    /// not vary: cnats 3.4.1 keeps one deadline per async publish in a sorted singly linked
    /// list (acked ones stay until their deadline passes), appends when the new deadline is
    /// >= the tail's and otherwise walks the list from its head, under the context lock that
    /// the ack thread needs too. A per-message "time left until the batch deadline" made about
    /// half of all publishes walk every entry of the last MaxWait (O(n) per message). With a
    /// constant, deadlines only grow and every insertion is an append. The caller's batch
    /// deadline is applied by `PublishBatch.wait`; this timeout only makes cnats report (and
    /// free) every message eventually, even one the server never answers.
    static let ackTimeout: Duration = .seconds(30)

    init(connection: NATSConnection) throws {
        let router = PublishRouter()
        connection.retainUntilDestroyed(router)
        self.router = router
        var o = jsOptions()
        jsOptions_Init(&o)
        o.Wait = 5000
        o.PublishAsync.AckHandler = asyncAckHandler
        o.PublishAsync.AckHandlerClosure = Unmanaged.passUnretained(router).toOpaque()
        o.PublishAsync.MaxPending = Self.maxPending
        o.PublishAsync.StallWait = 100
        var js: OpaquePointer?
        let s = natsConnection_JetStream(&js, connection.handle, &o)
        guard s == NATS_OK, let js else { throw NATSStatus.error(s, "creating async JetStream context") }
        self.ctx = js
    }

    func destroyContext() {
        if destroyed.exchange(true, ordering: .acquiringAndReleasing) { return }
        jsCtx_Destroy(ctx)
    }

    func publishAll(_ messages: [OutgoingMessage], timeout: Duration) throws -> [PubAck] {
        let batch = PublishBatch(count: messages.count)
        let start = Date()
        let deadline = start.addingTimeInterval(Double(timeout.natsMilliseconds()) / 1000)
        var firstSubmitError: String?
        var closedAtSubmit = 0

        let ackWait = Self.ackTimeout.natsMilliseconds()
        for (i, m) in messages.enumerated() {
            let msg: OpaquePointer
            do {
                msg = try NATSMessageBuilder.make(subject: m.subject, data: m.data, headers: m.headers)
            } catch {
                batch.record(i, ack: nil, error: "\(error)")
                continue
            }
            router.register(msg, batch: batch, index: i)
            var owned: OpaquePointer? = msg
            var s = NATS_OK
            repeat {
                var po = jsPubOptions()
                jsPubOptions_Init(&po)
                // Constant, never "time left" (see `ackTimeout`).
                po.MaxWait = ackWait
                s = withOptionalCString(m.msgId) { id in
                    po.MsgId = id
                    return js_PublishMsgAsync(ctx, &owned, &po)
                }
                // NATS_TIMEOUT here means "stalled: too many acks outstanding" — wait more.
            } while s == NATS_TIMEOUT && Date() < deadline
            if s != NATS_OK {
                let text = NATSStatus.lastErrorText(s)
                router.unregister(msg)
                natsMsg_Destroy(owned)
                if firstSubmitError == nil { firstSubmitError = text }
                if s == NATS_CONNECTION_CLOSED { closedAtSubmit += 1 }
                batch.record(i, ack: nil, error: "publish to \(m.subject): \(text)")
            }
        }

        // Messages unanswered at the deadline count as failed (by index). cnats still owns
        // them: it reports each one (ack or timeout) within `ackTimeout`, the router then
        // drops the entry and the handler frees the message — never touched after that.
        let (acks, errors) = batch.wait(until: deadline)
        if closedAtSubmit == messages.count { throw NATSError.closed }
        if !errors.isEmpty {
            let indices = errors.keys.sorted()
            let sample = errors[indices[0]] ?? firstSubmitError ?? "unknown"
            throw NATSError.publishFailed(indices: indices, reason: sample)
        }
        return acks.map { $0! }
    }
}
