import CNATS
import Foundation
import Logging
import Synchronization
import SSMDCore

/// A JetStream context over one `NATSConnection`: provisioning, publishing, pull
/// subscriptions, ordered watches and key-value buckets. Thread-safe (cnats locks the
/// context; `publishAll` batches are routed by message so they can run concurrently).
public final class JetStream: @unchecked Sendable {
    public let connection: NATSConnection
    /// Default wait for JetStream API requests.
    public let timeout: Duration
    let ctx: OpaquePointer
    let logger: Logger
    /// Context dedicated to asynchronous publishing (its ack handler routes to batches).
    private let asyncPublisher = Mutex<AsyncPublisher?>(nil)

    init(connection: NATSConnection, timeout: Duration) throws {
        self.connection = connection
        self.timeout = timeout
        self.logger = connection.logger
        var o = jsOptions()
        jsOptions_Init(&o)
        o.Wait = timeout.natsMilliseconds()
        var js: OpaquePointer?
        let s = natsConnection_JetStream(&js, connection.handle, &o)
        guard s == NATS_OK, let js else { throw NATSStatus.error(s, "creating JetStream context") }
        self.ctx = js
    }

    deinit {
        jsCtx_Destroy(ctx)
        asyncPublisher.withLock { $0?.destroyContext() }
    }

    // MARK: - Helpers

    func withOptions<R>(_ timeout: Duration? = nil, _ body: (inout jsOptions) throws -> R) rethrows -> R {
        var o = jsOptions()
        jsOptions_Init(&o)
        o.Wait = (timeout ?? self.timeout).natsMilliseconds()
        return try body(&o)
    }

    // MARK: - Streams

    /// Creates the stream, or updates it when its configuration differs. Idempotent and
    /// safe when several processes do it at once. Throws when a difference cannot be
    /// applied (retention or storage of an existing stream).
    func ensureStream(_ spec: StreamSpec) throws {
        var lastError: Error?
        for _ in 0..<5 {
            if let current = try currentStreamConfig(spec.name) {
                // Replicas are raised when asked, never lowered: an operator who set more
                // keeps them (a start with the default of 1 must not undo a cluster's R3).
                var spec = spec
                if current.replicas > Int64(spec.replicas) {
                    logger.notice("JetStream stream has more replicas than configured; kept", metadata: [
                        "nats.stream": "\(spec.name)", "nats.replicas": "\(current.replicas)", "configured": "\(spec.replicas)"])
                    spec.replicas = Int(current.replicas)
                }
                let diffs = current.differences(to: spec)
                if diffs.isEmpty { return }
                if current.retention != spec.retention || current.storage != spec.storage {
                    throw NATSError.jetStream(code: Int(NATS_ERR.rawValue), errorCode: 0, message:
                        "ensureStream \(spec.name): cannot change \(diffs.joined(separator: ", ")) of an existing stream")
                }
                logger.notice("updating JetStream stream", metadata: [
                    "nats.stream": "\(spec.name)", "nats.changes": "\(diffs.joined(separator: ", "))",
                ])
                try addOrUpdateStream(spec, update: true)
                return
            }
            if (lastError as? NATSError)?.jetStreamCode == .subjectsOverlap {
                // "subjects overlap" and the stream still does not exist: another stream
                // owns these subjects.
                throw lastError!
            }
            do {
                try addOrUpdateStream(spec, update: false)
                logger.info("created JetStream stream", metadata: ["nats.stream": "\(spec.name)"])
                return
            } catch NATSError.jetStream(let code, let errorCode, let message)
                        where JetStreamErrorCode.streamNameInUse.matches(errorCode) || JetStreamErrorCode.subjectsOverlap.matches(errorCode) {
                // Created concurrently by someone else (the server reports "name in use" or,
                // in a race, "subjects overlap"): look again and compare.
                lastError = NATSError.jetStream(code: code, errorCode: errorCode, message: message)
                continue
            }
        }
        throw lastError ?? NATSError.jetStream(code: 1, errorCode: 0, message: "ensureStream \(spec.name): did not settle")
    }

    private func addOrUpdateStream(_ spec: StreamSpec, update: Bool) throws {
        var cfg = jsStreamConfig()
        jsStreamConfig_Init(&cfg)
        cfg.Retention = spec.retention.c
        cfg.Storage = spec.storage.c
        cfg.Discard = spec.discard == .new ? js_DiscardNew : js_DiscardOld
        cfg.MaxMsgsPerSubject = spec.maxMsgsPerSubject == 0 ? -1 : spec.maxMsgsPerSubject
        cfg.MaxAge = spec.maxAge?.natsNanoseconds ?? 0
        cfg.Duplicates = spec.duplicateWindow?.natsNanoseconds ?? 0
        cfg.MaxBytes = spec.maxBytes ?? -1
        cfg.Replicas = Int64(spec.replicas)
        var jerr = jsErrCode(rawValue: 0)
        var si: UnsafeMutablePointer<jsStreamInfo>?
        let s: natsStatus = spec.name.withCString { name in
            withOptionalCString(spec.description) { desc in
                spec.subjects.withCStringArray { subjects in
                    cfg.Name = name
                    cfg.Description = desc
                    cfg.Subjects = subjects
                    cfg.SubjectsLen = Int32(spec.subjects.count)
                    return withOptions { o in
                        update ? js_UpdateStream(&si, ctx, &cfg, &o, &jerr) : js_AddStream(&si, ctx, &cfg, &o, &jerr)
                    }
                }
            }
        }
        jsStreamInfo_Destroy(si)
        try NATSStatus.check(s, jerr, "\(update ? "update" : "add") stream \(spec.name)")
    }

    private func currentStreamConfig(_ name: String) throws -> StreamConfigSnapshot? {
        var si: UnsafeMutablePointer<jsStreamInfo>?
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_GetStreamInfo(&si, ctx, name, &o, &jerr) }
        defer { jsStreamInfo_Destroy(si) }
        if s == NATS_NOT_FOUND { return nil }
        try NATSStatus.check(s, jerr, "stream info \(name)")
        guard let si, let cfg = si.pointee.Config else { return nil }
        return StreamConfigSnapshot(cfg.pointee)
    }

    func deleteStream(name: String) throws {
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_DeleteStream(ctx, name, &o, &jerr) }
        try NATSStatus.check(s, jerr, "delete stream \(name)")
    }

    /// Deletes one message by its stream sequence. Unlike a purge with a subject filter (which
    /// nats-server 2.9 applies to consumers' positions too, so a consumer could skip messages
    /// pending on other subjects), this touches only that message.
    func deleteMessage(stream: String, sequence: UInt64) throws {
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_DeleteMsg(ctx, stream, sequence, &o, &jerr) }
        if s == NATS_NOT_FOUND { return }
        try NATSStatus.check(s, jerr, "delete message \(sequence) of stream \(stream)")
    }

    func streamNames() throws -> [String] {
        var list: UnsafeMutablePointer<jsStreamNamesList>?
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_StreamNames(&list, ctx, &o, &jerr) }
        defer { jsStreamNamesList_Destroy(list) }
        if s == NATS_NOT_FOUND { return [] }
        try NATSStatus.check(s, jerr, "stream names")
        guard let list else { return [] }
        return (0..<Int(list.pointee.Count)).compactMap { i in list.pointee.List[i].map { String(cString: $0) } }
    }

    /// Stream state; with `subjectsFilter` (e.g. `">"` or `"ssmd.market.>"`) also the
    /// message count of each matching subject.
    func streamInfo(name: String, subjectsFilter: String? = nil) throws -> StreamState {
        var si: UnsafeMutablePointer<jsStreamInfo>?
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptionalCString(subjectsFilter) { filter in
            withOptions { o in
                o.Stream.Info.SubjectsFilter = filter
                return js_GetStreamInfo(&si, ctx, name, &o, &jerr)
            }
        }
        defer { jsStreamInfo_Destroy(si) }
        if s == NATS_NOT_FOUND { throw NATSError.notFound("stream \(name)") }
        try NATSStatus.check(s, jerr, "stream info \(name)")
        guard let si else { throw NATSError.notFound("stream \(name)") }
        let st = si.pointee.State
        var subjects: [String: UInt64] = [:]
        if let list = st.Subjects, let items = list.pointee.List {
            for i in 0..<Int(list.pointee.Count) {
                if let p = items[i].Subject { subjects[String(cString: p)] = items[i].Msgs }
            }
        }
        var patterns: [String] = []
        if let cfg = si.pointee.Config {
            patterns = StreamConfigSnapshot(cfg.pointee).subjects
        }
        return StreamState(name: name, messages: st.Msgs, bytes: st.Bytes, firstSeq: st.FirstSeq, lastSeq: st.LastSeq,
                           consumerCount: st.Consumers, numSubjects: st.NumSubjects, subjects: subjects,
                           subjectPatterns: patterns)
    }

    // MARK: - Consumers

    /// Creates the durable pull consumer, or updates it when its configuration differs.
    /// Idempotent and safe concurrently. The deliver policy of an existing consumer
    /// cannot change (throws).
    func ensureConsumer(stream: String, _ spec: ConsumerSpec) throws {
        var lastError: Error?
        for _ in 0..<5 {
            if let current = try currentConsumerConfig(stream: stream, name: spec.durableName) {
                let diffs = current.differences(to: spec)
                if diffs.isEmpty { return }
                if current.deliverPolicy != spec.deliverPolicy.c {
                    throw NATSError.jetStream(code: Int(NATS_ERR.rawValue), errorCode: 0, message:
                        "ensureConsumer \(stream)/\(spec.durableName): cannot change deliver policy of an existing consumer; delete it first")
                }
                logger.notice("updating JetStream consumer", metadata: [
                    "nats.stream": "\(stream)", "nats.consumer": "\(spec.durableName)",
                    "nats.changes": "\(diffs.joined(separator: ", "))",
                ])
                try addOrUpdateConsumer(stream: stream, spec, update: true)
                return
            }
            if (lastError as? NATSError)?.jetStreamCode == .workQueueFilterTaken {
                // "filtered consumer not unique" and ours still does not exist: another
                // consumer of this work-queue stream owns the filter.
                throw lastError!
            }
            do {
                try addOrUpdateConsumer(stream: stream, spec, update: false)
                logger.info("created JetStream consumer", metadata: [
                    "nats.stream": "\(stream)", "nats.consumer": "\(spec.durableName)",
                ])
                return
            } catch let e as NATSError {
                // Created concurrently (name in use, already exists, active, or the
                // work-queue filter taken — by the twin being created): look again and compare.
                let raced: [JetStreamErrorCode] = [.consumerNameInUse, .consumerAlreadyExists, .consumerExistsAndActive, .workQueueFilterTaken]
                if let code = e.jetStreamCode, raced.contains(code) {
                    lastError = e
                    continue
                }
                throw e
            }
        }
        throw lastError ?? NATSError.jetStream(code: 1, errorCode: 0,
                                               message: "ensureConsumer \(stream)/\(spec.durableName): did not settle")
    }

    private func addOrUpdateConsumer(stream: String, _ spec: ConsumerSpec, update: Bool) throws {
        var cfg = jsConsumerConfig()
        jsConsumerConfig_Init(&cfg)
        cfg.AckPolicy = js_AckExplicit
        cfg.DeliverPolicy = spec.deliverPolicy.c
        cfg.AckWait = spec.ackWait.natsNanoseconds
        cfg.MaxAckPending = Int64(spec.maxAckPending)
        cfg.MaxDeliver = Int64(spec.maxDeliver)
        if let w = spec.maxWaiting { cfg.MaxWaiting = Int64(w) }
        var backoff: [Int64] = (spec.backoff ?? []).map(\.natsNanoseconds)
        var jerr = jsErrCode(rawValue: 0)
        var ci: UnsafeMutablePointer<jsConsumerInfo>?
        let s: natsStatus = spec.durableName.withCString { durable in
            withOptionalCString(spec.filterSubject) { filter in
                withOptionalCString(spec.description) { desc in
                    backoff.withUnsafeMutableBufferPointer { bo in
                        cfg.Durable = durable
                        cfg.FilterSubject = filter
                        cfg.Description = desc
                        if bo.count > 0 {
                            cfg.BackOff = bo.baseAddress
                            cfg.BackOffLen = Int32(bo.count)
                        }
                        return withOptions { o in
                            update ? js_UpdateConsumer(&ci, ctx, stream, &cfg, &o, &jerr)
                                : js_AddConsumer(&ci, ctx, stream, &cfg, &o, &jerr)
                        }
                    }
                }
            }
        }
        jsConsumerInfo_Destroy(ci)
        try NATSStatus.check(s, jerr, "\(update ? "update" : "add") consumer \(stream)/\(spec.durableName)")
    }

    private func currentConsumerConfig(stream: String, name: String) throws -> ConsumerConfigSnapshot? {
        var ci: UnsafeMutablePointer<jsConsumerInfo>?
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_GetConsumerInfo(&ci, ctx, stream, name, &o, &jerr) }
        defer { jsConsumerInfo_Destroy(ci) }
        if s == NATS_NOT_FOUND && JetStreamErrorCode.streamNotFound.matches(jerr) { throw NATSError.notFound("stream \(stream)") }
        if s == NATS_NOT_FOUND { return nil }
        try NATSStatus.check(s, jerr, "consumer info \(stream)/\(name)")
        guard let ci, let cfg = ci.pointee.Config else { return nil }
        return ConsumerConfigSnapshot(cfg.pointee)
    }

    func deleteConsumer(stream: String, name: String) throws {
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_DeleteConsumer(ctx, stream, name, &o, &jerr) }
        if s == NATS_NOT_FOUND { throw NATSError.notFound("consumer \(stream)/\(name)") }
        try NATSStatus.check(s, jerr, "delete consumer \(stream)/\(name)")
    }

    func consumerNames(stream: String) throws -> [String] {
        var list: UnsafeMutablePointer<jsConsumerNamesList>?
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_ConsumerNames(&list, ctx, stream, &o, &jerr) }
        defer { jsConsumerNamesList_Destroy(list) }
        if s == NATS_NOT_FOUND {
            if JetStreamErrorCode.streamNotFound.matches(jerr) { throw NATSError.notFound("stream \(stream)") }
            return []
        }
        try NATSStatus.check(s, jerr, "consumer names of \(stream)")
        guard let list else { return [] }
        return (0..<Int(list.pointee.Count)).compactMap { i in list.pointee.List[i].map { String(cString: $0) } }
    }

    func consumerInfo(stream: String, name: String) throws -> ConsumerState {
        var ci: UnsafeMutablePointer<jsConsumerInfo>?
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_GetConsumerInfo(&ci, ctx, stream, name, &o, &jerr) }
        defer { jsConsumerInfo_Destroy(ci) }
        if s == NATS_NOT_FOUND { throw NATSError.notFound("consumer \(stream)/\(name)") }
        try NATSStatus.check(s, jerr, "consumer info \(stream)/\(name)")
        guard let ci else { throw NATSError.notFound("consumer \(stream)/\(name)") }
        return ConsumerState(ci.pointee, stream: stream, name: name)
    }

    // MARK: - Publishing

    /// Publishes one message and waits for the stream's acknowledgment.
    func publish(_ message: OutgoingMessage, timeout: Duration = .seconds(5)) throws -> PubAck {
        let msg = try NATSMessageBuilder.make(subject: message.subject, data: message.data, headers: message.headers)
        defer { natsMsg_Destroy(msg) }
        var po = jsPubOptions()
        jsPubOptions_Init(&po)
        po.MaxWait = timeout.natsMilliseconds()
        var pa: UnsafeMutablePointer<jsPubAck>?
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptionalCString(message.msgId) { id in
            po.MsgId = id
            return js_PublishMsg(&pa, ctx, msg, &po, &jerr)
        }
        defer { jsPubAck_Destroy(pa) }
        if s == NATS_NO_RESPONDERS {
            throw NATSError.jetStream(code: Int(s.rawValue), errorCode: Int(jerr.rawValue),
                                      message: "publish to \(message.subject): no stream listens on this subject (or JetStream unavailable)")
        }
        try NATSStatus.check(s, jerr, "publish to \(message.subject)")
        guard let pa else { throw NATSError.status(Int32(NATS_ERR.rawValue), "publish to \(message.subject): no ack") }
        return PubAck(stream: pa.pointee.Stream.map { String(cString: $0) } ?? "", sequence: pa.pointee.Sequence,
                      duplicate: pa.pointee.Duplicate)
    }

    /// Publishes many messages asynchronously and waits until every one is acknowledged
    /// (or failed). Returns the acks in input order; if any failed throws
    /// `NATSError.publishFailed(indices:reason:)` naming the indices to retry.
    func publishAll(_ messages: [OutgoingMessage], timeout: Duration = .seconds(10)) throws -> [PubAck] {
        if messages.isEmpty { return [] }
        let publisher = try asyncPublisher.withLock { p -> AsyncPublisher in
            if let p { return p }
            let made = try AsyncPublisher(connection: connection)
            p = made
            return made
        }
        return try publisher.publishAll(messages, timeout: timeout)
    }

    // MARK: - Subscriptions

    /// Binds a pull subscription to an existing durable consumer (see `ensureConsumer`).
    /// Several subscriptions (in any processes) on one durable share its messages.
    /// The consumer's own filter decides what is delivered; `filterSubject` is only the
    /// subscription's subject (looked up from the consumer when nil).
    func pullSubscribe(stream: String, consumer: String, filterSubject: String? = nil) throws -> PullSubscription {
        var subject = filterSubject
        if subject == nil {
            subject = try consumerInfo(stream: stream, name: consumer).filterSubject
        }
        if subject == nil || subject == "" {
            // A consumer without a filter reads the whole stream: use the stream's subjects.
            let info = try streamInfo(name: stream)
            subject = info.subjectPatterns.count == 1 ? info.subjectPatterns[0] : nil
        }
        return try PullSubscription(jetStream: self, stream: stream, consumer: consumer, subject: subject)
    }

    /// An ephemeral ordered consumer: (optionally) the last message of every subject
    /// matching `filterSubject`, then live updates, in order, with automatic recovery.
    func orderedWatch(stream: String, filterSubject: String, deliverLastPerSubject: Bool) throws -> OrderedWatch {
        try OrderedWatch(jetStream: self, stream: stream, filterSubject: filterSubject,
                         deliverPolicy: deliverLastPerSubject ? .lastPerSubject : .all)
    }

    /// Like `orderedWatch` but only messages published from now on.
    func orderedWatchNew(stream: String, filterSubject: String) throws -> OrderedWatch {
        try OrderedWatch(jetStream: self, stream: stream, filterSubject: filterSubject, deliverPolicy: .new)
    }

    /// The last message stored on `subject` in `stream`, or nil when there is none.
    func lastMessage(stream: String, subject: String) throws -> StoredMessage? {
        var msg: OpaquePointer?
        var jerr = jsErrCode(rawValue: 0)
        let s = withOptions { o in js_GetLastMsg(&msg, ctx, stream, subject, &o, &jerr) }
        defer { natsMsg_Destroy(msg) }
        if s == NATS_NOT_FOUND { return nil }
        try NATSStatus.check(s, jerr, "last message of \(subject) in \(stream)")
        guard let msg else { return nil }
        return StoredMessage(
            subject: natsMsg_GetSubject(msg).map { String(cString: $0) } ?? subject,
            data: NATSMessageBuilder.data(of: msg),
            headers: NATSMessageBuilder.headers(of: msg),
            sequence: natsMsg_GetSequence(msg),
            timestamp: Timestamp(microsecondsSinceEpoch: natsMsg_GetTime(msg) / 1000))
    }
}

/// A message read directly from a stream (not through a consumer).
public struct StoredMessage: Sendable, Equatable {
    public var subject: String
    public var data: [UInt8]
    public var headers: [String: String]
    public var sequence: UInt64
    public var timestamp: Timestamp
}

// MARK: - Config snapshots and conversions

struct StreamConfigSnapshot {
    var subjects: [String]
    var retention: StreamSpec.Retention
    var storage: StreamSpec.Storage
    var discard: StreamSpec.Discard
    var maxMsgsPerSubject: Int64
    var maxAge: Int64
    var duplicates: Int64
    var maxBytes: Int64
    var replicas: Int64
    var description: String?

    init(_ c: jsStreamConfig) {
        var subs: [String] = []
        if let list = c.Subjects {
            for i in 0..<Int(c.SubjectsLen) { if let p = list[i] { subs.append(String(cString: p)) } }
        }
        subjects = subs
        switch c.Retention {
        case js_WorkQueuePolicy: retention = .workQueue
        case js_InterestPolicy: retention = .interest
        default: retention = .limits
        }
        storage = c.Storage == js_MemoryStorage ? .memory : .file
        discard = c.Discard == js_DiscardNew ? .new : .old
        maxMsgsPerSubject = c.MaxMsgsPerSubject
        maxAge = c.MaxAge
        duplicates = c.Duplicates
        maxBytes = c.MaxBytes
        replicas = c.Replicas
        description = c.Description.map { String(cString: $0) }
    }

    func differences(to spec: StreamSpec) -> [String] {
        var d: [String] = []
        if Set(subjects) != Set(spec.subjects) { d.append("subjects") }
        if retention != spec.retention { d.append("retention") }
        if storage != spec.storage { d.append("storage") }
        if discard != spec.discard { d.append("discard") }
        let mps = spec.maxMsgsPerSubject <= 0 ? -1 : spec.maxMsgsPerSubject
        if (maxMsgsPerSubject <= 0 ? -1 : maxMsgsPerSubject) != mps { d.append("maxMsgsPerSubject") }
        if maxAge != (spec.maxAge?.natsNanoseconds ?? 0) { d.append("maxAge") }
        if let dw = spec.duplicateWindow, dw.natsNanoseconds != duplicates { d.append("duplicateWindow") }
        if (maxBytes <= 0 ? -1 : maxBytes) != (spec.maxBytes ?? -1) { d.append("maxBytes") }
        if max(replicas, 1) != Int64(max(spec.replicas, 1)) { d.append("replicas") }
        if let desc = spec.description, desc != (description ?? "") { d.append("description") }
        return d
    }
}

struct ConsumerConfigSnapshot {
    var filterSubject: String?
    var ackWait: Int64
    var maxAckPending: Int64
    var maxDeliver: Int64
    var deliverPolicy: jsDeliverPolicy
    var backoff: [Int64]
    var description: String?
    var maxWaiting: Int64

    init(_ c: jsConsumerConfig) {
        filterSubject = c.FilterSubject.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        ackWait = c.AckWait
        maxAckPending = c.MaxAckPending
        maxDeliver = c.MaxDeliver
        deliverPolicy = c.DeliverPolicy
        var bo: [Int64] = []
        if let p = c.BackOff { for i in 0..<Int(c.BackOffLen) { bo.append(p[i]) } }
        backoff = bo
        description = c.Description.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        maxWaiting = c.MaxWaiting
    }

    func differences(to spec: ConsumerSpec) -> [String] {
        var d: [String] = []
        if filterSubject != spec.filterSubject.flatMap({ $0.isEmpty ? nil : $0 }) { d.append("filterSubject") }
        let specBackoff = (spec.backoff ?? []).map(\.natsNanoseconds)
        if backoff != specBackoff { d.append("backoff") }
        // With a backoff list the server may replace AckWait by its first entry.
        if specBackoff.isEmpty && ackWait != spec.ackWait.natsNanoseconds { d.append("ackWait") }
        if maxAckPending != Int64(spec.maxAckPending) { d.append("maxAckPending") }
        if (maxDeliver <= 0 ? -1 : maxDeliver) != Int64(spec.maxDeliver <= 0 ? -1 : spec.maxDeliver) { d.append("maxDeliver") }
        if deliverPolicy != spec.deliverPolicy.c { d.append("deliverPolicy") }
        if description != spec.description.flatMap({ $0.isEmpty ? nil : $0 }) { d.append("description") }
        if let w = spec.maxWaiting, Int64(w) != maxWaiting { d.append("maxWaiting") }
        return d
    }
}

extension ConsumerState {
    init(_ ci: jsConsumerInfo, stream: String, name: String) {
        let cfg = ci.Config.map { ConsumerConfigSnapshot($0.pointee) }
        self.init(stream: ci.Stream.map { String(cString: $0) } ?? stream,
                  name: ci.Name.map { String(cString: $0) } ?? name,
                  numPending: ci.NumPending,
                  numAckPending: ci.NumAckPending,
                  numRedelivered: ci.NumRedelivered,
                  numWaiting: ci.NumWaiting,
                  deliveredConsumerSequence: ci.Delivered.Consumer,
                  deliveredStreamSequence: ci.Delivered.Stream,
                  ackFloorConsumerSequence: ci.AckFloor.Consumer,
                  ackFloorStreamSequence: ci.AckFloor.Stream,
                  filterSubject: cfg?.filterSubject,
                  ackWait: .nanoseconds(cfg?.ackWait ?? 0),
                  maxAckPending: cfg?.maxAckPending ?? 0,
                  maxDeliver: cfg?.maxDeliver ?? -1)
    }
}

extension StreamSpec.Retention {
    var c: jsRetentionPolicy {
        switch self {
        case .limits: return js_LimitsPolicy
        case .workQueue: return js_WorkQueuePolicy
        case .interest: return js_InterestPolicy
        }
    }
}

extension StreamSpec.Storage {
    var c: jsStorageType { self == .memory ? js_MemoryStorage : js_FileStorage }
}

extension ConsumerSpec.DeliverPolicy {
    var c: jsDeliverPolicy {
        switch self {
        case .all: return js_DeliverAll
        case .new: return js_DeliverNew
        case .lastPerSubject: return js_DeliverLastPerSubject
        }
    }
}

/// Calls `body` with a C string for `s`, or NULL when nil.
func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) throws -> R) rethrows -> R {
    if let s { return try s.withCString { try body($0) } }
    return try body(nil)
}
