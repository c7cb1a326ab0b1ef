import CNATS
import Foundation
import Synchronization
import SSMDCore

/// Owns one `natsSubscription` handle: unsubscribed by `close()`, destroyed exactly once
/// when the last reference (the subscription object or any message from it) goes.
final class NATSSubscriptionHandle: @unchecked Sendable {
    let sub: OpaquePointer
    /// Keeps the JetStream context and connection alive while messages can still ack.
    let jetStream: JetStream
    private let unsubscribed = Atomic<Bool>(false)

    init(sub: OpaquePointer, jetStream: JetStream) {
        self.sub = sub
        self.jetStream = jetStream
        jetStream.connection.register(self)
    }

    var isClosed: Bool { unsubscribed.load(ordering: .acquiring) }

    func unsubscribe() {
        if unsubscribed.exchange(true, ordering: .acquiringAndReleasing) { return }
        _ = natsSubscription_Unsubscribe(sub)
    }

    deinit {
        natsSubscription_Destroy(sub)
    }
}

/// A pull subscription bound to a durable consumer. `fetch` is serialised per
/// subscription; use one subscription per concurrent fetch loop.
public final class PullSubscription: @unchecked Sendable {
    public let stream: String
    public let consumer: String
    let handle: NATSSubscriptionHandle
    private let fetchLock = Mutex<Void>(())
    /// Fetches block until messages come or the wait ends: they run here, one at a time.
    let fetchThread: DedicatedThread

    init(jetStream: JetStream, stream: String, consumer: String, subject: String?) throws {
        self.stream = stream
        self.consumer = consumer
        var so = jsSubOptions()
        jsSubOptions_Init(&so)
        var sub: OpaquePointer?
        var jerr = jsErrCode(rawValue: 0)
        let s: natsStatus = stream.withCString { st in
            consumer.withCString { cons in
                withOptionalCString(subject) { subj in
                    so.Stream = st
                    so.Consumer = cons
                    return jetStream.withOptions { o in
                        js_PullSubscribe(&sub, jetStream.ctx, subj, cons, &o, &so, &jerr)
                    }
                }
            }
        }
        if s != NATS_OK {
            if let sub { natsSubscription_Destroy(sub) }
            if s == NATS_NOT_FOUND { throw NATSError.notFound("consumer \(stream)/\(consumer) (pull subscribe)") }
            throw NATSStatus.error(s, "pull subscribe to \(stream)/\(consumer)", jsErr: jerr)
        }
        guard let sub else { throw NATSError.status(Int32(NATS_ERR.rawValue), "pull subscribe to \(stream)/\(consumer): no handle") }
        self.handle = NATSSubscriptionHandle(sub: sub, jetStream: jetStream)
        self.fetchThread = DedicatedThread(name: "fetch-\(consumer)")
    }

    /// Up to `batch` messages, waiting at most `maxWait` for the first one; returns `[]`
    /// when nothing arrived in time (not an error). `maxBytes` caps a batch's size.
    ///
    /// The pull request carries `Expires` = `maxWait` and `NoWait`: nats-server (2.9)
    /// then answers at once with what is available (up to `batch`), or waits up to
    /// `maxWait` and returns as soon as any message arrives — a partial batch does not
    /// sit out the whole wait. When the server refuses to wait (408 "Requests Pending",
    /// e.g. while MaxAckPending is reached and other pulls are queued) a plain waiting
    /// request for one message covers the rest of `maxWait`, so callers never spin.
    func fetch(batch: Int, maxWait: Duration, maxBytes: Int? = nil) throws -> [JetStreamMessage] {
        try fetchLock.withLock { _ in
            if handle.isClosed { throw NATSError.closed }
            let clock = ContinuousClock()
            let start = clock.now
            let out = try request(batch: max(1, batch), expires: maxWait, noWait: true, maxBytes: maxBytes)
            if !out.isEmpty { return out }
            let remaining = maxWait - (clock.now - start)
            if remaining < .milliseconds(20) { return [] }
            return try request(batch: 1, expires: remaining, noWait: false, maxBytes: maxBytes)
        }
    }

    /// One `natsSubscription_FetchRequest`. No-wait requests still carry `Expires` so
    /// cnats bounds its own wait.
    private func request(batch: Int, expires: Duration, noWait: Bool, maxBytes: Int?) throws -> [JetStreamMessage] {
        var req = jsFetchRequest()
        jsFetchRequest_Init(&req)
        req.Batch = Int32(clamping: batch)
        req.Expires = max(expires, .milliseconds(1)).natsNanoseconds
        req.NoWait = noWait
        if let maxBytes { req.MaxBytes = Int64(maxBytes) }
        var list = natsMsgList()
        let s = natsSubscription_FetchRequest(&list, handle.sub, &req)
        defer { natsMsgList_Destroy(&list) }
        var out: [JetStreamMessage] = []
        out.reserveCapacity(Int(list.Count))
        if let msgs = list.Msgs {
            for i in 0..<Int(list.Count) {
                guard let m = msgs[i] else { continue }
                msgs[i] = nil // ownership moves to the Swift object
                out.append(JetStreamMessage(msg: m, owner: handle))
            }
        }
        // NATS_TIMEOUT: Expires passed; NATS_NOT_FOUND: no-wait found nothing.
        if s == NATS_OK || s == NATS_TIMEOUT || s == NATS_NOT_FOUND || !out.isEmpty { return out }
        if s == NATS_INVALID_SUBSCRIPTION || s == NATS_CONNECTION_CLOSED { throw NATSError.closed }
        throw NATSStatus.error(s, "fetch from \(stream)/\(consumer)")
    }

    /// Stops receiving (the durable consumer stays). Messages already fetched can still be
    /// acknowledged while the connection is open.
    public func close() {
        handle.unsubscribe()
        fetchThread.stop()
    }

    deinit {
        handle.unsubscribe()
        fetchThread.stop()
    }
}

/// An ephemeral ordered push consumer (flow control + heartbeats, recreated by cnats on
/// gaps). No acknowledgments.
public final class OrderedWatch: @unchecked Sendable {
    public let stream: String
    public let filterSubject: String
    let handle: NATSSubscriptionHandle
    private let nextLock = Mutex<Void>(())
    /// Waiting for the next message blocks: it happens here.
    let waitThread: DedicatedThread

    init(jetStream: JetStream, stream: String, filterSubject: String, deliverPolicy: ConsumerSpec.DeliverPolicy) throws {
        self.stream = stream
        self.filterSubject = filterSubject
        var so = jsSubOptions()
        jsSubOptions_Init(&so)
        var sub: OpaquePointer?
        var jerr = jsErrCode(rawValue: 0)
        let s: natsStatus = stream.withCString { st in
            so.Stream = st
            so.Ordered = true
            so.Config.DeliverPolicy = deliverPolicy.c
            return jetStream.withOptions { o in
                js_SubscribeSync(&sub, jetStream.ctx, filterSubject, &o, &so, &jerr)
            }
        }
        if s != NATS_OK {
            if let sub { natsSubscription_Destroy(sub) }
            if s == NATS_NOT_FOUND { throw NATSError.notFound("stream \(stream) (ordered watch of \(filterSubject))") }
            throw NATSStatus.error(s, "ordered watch of \(filterSubject) in \(stream)", jsErr: jerr)
        }
        guard let sub else { throw NATSError.status(Int32(NATS_ERR.rawValue), "ordered watch of \(filterSubject): no handle") }
        // Watches can be bursty (a snapshot of every subject): allow a deep queue.
        _ = natsSubscription_SetPendingLimits(sub, 1_000_000, 1 << 30)
        self.handle = NATSSubscriptionHandle(sub: sub, jetStream: jetStream)
        self.waitThread = DedicatedThread(name: "watch-\(stream)")
    }

    /// The next message, or nil when none arrived within `timeout`.
    func next(timeout: Duration) throws -> JetStreamMessage? {
        try nextLock.withLock { _ in
            if handle.isClosed { throw NATSError.closed }
            var msg: OpaquePointer?
            let s = natsSubscription_NextMsg(&msg, handle.sub, timeout.natsMilliseconds())
            if s == NATS_TIMEOUT { return nil }
            if s == NATS_INVALID_SUBSCRIPTION || s == NATS_CONNECTION_CLOSED {
                natsMsg_Destroy(msg)
                throw NATSError.closed
            }
            if s != NATS_OK {
                natsMsg_Destroy(msg)
                throw NATSStatus.error(s, "ordered watch of \(filterSubject)")
            }
            guard let msg else { return nil }
            return JetStreamMessage(msg: msg, owner: handle)
        }
    }

    /// Messages queued locally, not yet returned by `next`.
    public var pendingLocally: Int {
        var msgs: Int32 = 0
        var bytes: Int32 = 0
        _ = natsSubscription_GetPending(handle.sub, &msgs, &bytes)
        return Int(msgs)
    }

    /// Stops the watch (the server removes the ephemeral consumer).
    public func close() {
        handle.unsubscribe()
        waitThread.stop()
    }

    deinit {
        handle.unsubscribe()
        waitThread.stop()
    }
}

/// A message delivered by a JetStream consumer. Owns its `natsMsg`; acknowledgment calls
/// on one message are serialised.
public final class JetStreamMessage: @unchecked Sendable {
    public let subject: String
    public let data: [UInt8]
    public let headers: [String: String]
    public let streamSequence: UInt64
    public let consumerSequence: UInt64
    /// 1 on first delivery.
    public let deliveryCount: UInt64
    /// Messages still pending for the consumer after this one.
    public let pending: UInt64
    /// When the stream stored the message.
    public let timestamp: Timestamp?
    public let stream: String?

    private let msg: OpaquePointer
    private let owner: NATSSubscriptionHandle
    private let lock = Mutex<Void>(())

    init(msg: OpaquePointer, owner: NATSSubscriptionHandle) {
        self.msg = msg
        self.owner = owner
        subject = natsMsg_GetSubject(msg).map { String(cString: $0) } ?? ""
        data = NATSMessageBuilder.data(of: msg)
        headers = NATSMessageBuilder.headers(of: msg)
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        if natsMsg_GetMetaData(&meta, msg) == NATS_OK, let meta {
            streamSequence = meta.pointee.Sequence.Stream
            consumerSequence = meta.pointee.Sequence.Consumer
            deliveryCount = meta.pointee.NumDelivered
            pending = meta.pointee.NumPending
            timestamp = Timestamp(microsecondsSinceEpoch: meta.pointee.Timestamp / 1000)
            stream = meta.pointee.Stream.map { String(cString: $0) }
            jsMsgMetaData_Destroy(meta)
        } else {
            streamSequence = 0
            consumerSequence = 0
            deliveryCount = 0
            pending = 0
            timestamp = nil
            stream = nil
        }
    }

    deinit {
        natsMsg_Destroy(msg)
    }

    /// Where this message's blocking acknowledgments run: its connection's threads.
    var pool: BlockingPool { owner.jetStream.connection.pool }

    private func call(_ what: String, _ body: (OpaquePointer) -> natsStatus) throws {
        let s = lock.withLock { _ in body(msg) }
        if s == NATS_CONNECTION_CLOSED { throw NATSError.closed }
        try NATSStatus.check(s, "\(what) of \(subject) (stream seq \(streamSequence))")
    }

    /// Acknowledges (fire-and-forget).
    public func ack() throws {
        try call("ack") { natsMsg_Ack($0, nil) }
    }

    /// Acknowledges and waits for the server to confirm (use after a database commit).
    func ackSync(timeout: Duration = .seconds(5)) throws {
        var jerr = jsErrCode(rawValue: 0)
        let s = lock.withLock { _ -> natsStatus in
            var o = jsOptions()
            jsOptions_Init(&o)
            o.Wait = timeout.natsMilliseconds()
            return natsMsg_AckSync(msg, &o, &jerr)
        }
        if s == NATS_CONNECTION_CLOSED { throw NATSError.closed }
        try NATSStatus.check(s, jerr, "ackSync of \(subject) (stream seq \(streamSequence))")
    }

    /// Asks for redelivery, after `delay` if given.
    public func nak(delay: Duration? = nil) throws {
        if let delay {
            try call("nak") { natsMsg_NakWithDelay($0, delay.natsMilliseconds(), nil) }
        } else {
            try call("nak") { natsMsg_Nak($0, nil) }
        }
    }

    /// Still working on it: resets the server's AckWait timer.
    public func inProgress() throws {
        try call("in-progress ack") { natsMsg_InProgress($0, nil) }
    }

    /// Never redeliver this message.
    public func term() throws {
        try call("term") { natsMsg_Term($0, nil) }
    }
}
