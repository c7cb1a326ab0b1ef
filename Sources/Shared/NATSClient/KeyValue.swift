import CNATS
import Foundation

extension JetStream {
    /// Creates the bucket, or binds to it; when it exists with another history or TTL
    /// the backing stream is updated. Idempotent and safe concurrently.
    func ensureKeyValue(_ spec: KeyValueSpec) throws -> KeyValueBucket {
        var cfg = kvConfig()
        kvConfig_Init(&cfg)
        cfg.History = UInt8(clamping: max(1, min(64, spec.history)))
        cfg.TTL = spec.ttl?.natsNanoseconds ?? 0
        cfg.StorageType = spec.storage.c
        cfg.Replicas = Int32(spec.replicas)
        var kv: OpaquePointer?
        let s: natsStatus = spec.bucket.withCString { b in
            withOptionalCString(spec.description) { d in
                cfg.Bucket = b
                cfg.Description = d
                return js_CreateKeyValue(&kv, ctx, &cfg)
            }
        }
        if s == NATS_OK, let kv {
            return KeyValueBucket(kv: kv, jetStream: self, bucket: spec.bucket)
        }
        let createError = NATSStatus.error(s, "create key-value bucket \(spec.bucket)")
        if let kv { kvStore_Destroy(kv) }
        // Exists with a different configuration: align the stream, then bind.
        let streamName = "KV_\(spec.bucket)"
        var si: UnsafeMutablePointer<jsStreamInfo>?
        var jerr = jsErrCode(rawValue: 0)
        let gs = withOptions { o in js_GetStreamInfo(&si, ctx, streamName, &o, &jerr) }
        defer { jsStreamInfo_Destroy(si) }
        guard gs == NATS_OK, let si, let c = si.pointee.Config else { throw createError }
        let wantHistory = Int64(max(1, min(64, spec.history)))
        let wantAge = spec.ttl?.natsNanoseconds ?? 0
        let wantReplicas = max(c.pointee.Replicas, Int64(spec.replicas))
        if c.pointee.MaxMsgsPerSubject != wantHistory || c.pointee.MaxAge != wantAge || c.pointee.Replicas != wantReplicas {
            logger.notice("updating key-value bucket", metadata: ["nats.bucket": "\(spec.bucket)", "nats.replicas": "\(wantReplicas)"])
            c.pointee.MaxMsgsPerSubject = wantHistory
            c.pointee.MaxAge = wantAge
            c.pointee.Replicas = wantReplicas
            if spec.ttl != nil { c.pointee.Duplicates = min(wantAge, Duration.seconds(120).natsNanoseconds) }
            var usi: UnsafeMutablePointer<jsStreamInfo>?
            var ujerr = jsErrCode(rawValue: 0)
            let us = withOptions { o in js_UpdateStream(&usi, ctx, c, &o, &ujerr) }
            jsStreamInfo_Destroy(usi)
            try NATSStatus.check(us, ujerr, "update key-value bucket \(spec.bucket)")
        }
        return try keyValue(bucket: spec.bucket)
    }

    /// Binds to an existing bucket.
    func keyValue(bucket: String) throws -> KeyValueBucket {
        var kv: OpaquePointer?
        let s = js_KeyValue(&kv, ctx, bucket)
        if s == NATS_NOT_FOUND { throw NATSError.notFound("key-value bucket \(bucket)") }
        guard s == NATS_OK, let kv else { throw NATSStatus.error(s, "bind key-value bucket \(bucket)") }
        return KeyValueBucket(kv: kv, jetStream: self, bucket: bucket)
    }

    func deleteKeyValue(bucket: String) throws {
        let s = js_DeleteKeyValue(ctx, bucket)
        if s == NATS_NOT_FOUND { throw NATSError.notFound("key-value bucket \(bucket)") }
        try NATSStatus.check(s, "delete key-value bucket \(bucket)")
    }
}

/// A JetStream key-value bucket. Thread-safe. Compare-and-set writes go through JetStream
/// publish with an expected last subject sequence so that a lost race is recognised by
/// its API error code (`JetStreamErrorCode.wrongLastSequence`) rather than by text.
public final class KeyValueBucket: @unchecked Sendable {
    public let bucket: String
    private let kv: OpaquePointer
    let jetStream: JetStream
    private let streamName: String
    private let subjectPrefix: String

    init(kv: OpaquePointer, jetStream: JetStream, bucket: String) {
        self.kv = kv
        self.jetStream = jetStream
        self.bucket = bucket
        self.streamName = "KV_\(bucket)"
        self.subjectPrefix = "$KV.\(bucket)."
    }

    deinit {
        kvStore_Destroy(kv)
    }

    /// The current value, or nil when the key is absent or deleted.
    func get(_ key: String) throws -> KeyValueEntry? {
        var e: OpaquePointer?
        let s = kvStore_Get(&e, kv, key)
        defer { kvEntry_Destroy(e) }
        if s == NATS_NOT_FOUND { return nil }
        try NATSStatus.check(s, "get \(bucket)/\(key)")
        guard let e else { return nil }
        let n = Int(kvEntry_ValueLen(e))
        var value: [UInt8] = []
        if n > 0, let p = kvEntry_Value(e) {
            value = Array(UnsafeRawBufferPointer(start: p, count: n))
        }
        return KeyValueEntry(key: key, value: value, revision: kvEntry_Revision(e))
    }

    /// Stores `value` only if the key is absent (or deleted); returns the new revision.
    /// Throws `NATSError.keyExists` when it is present.
    func create(_ key: String, value: [UInt8]) throws -> UInt64 {
        do {
            return try write(key, value: value, expectedRevision: 0, operation: "create")
        } catch NATSError.revisionMismatch {
            // A delete/purge marker counts as absent: replace it with a CAS on its revision.
            if let marker = try deleteMarkerRevision(key) {
                do {
                    return try write(key, value: value, expectedRevision: marker, operation: "create")
                } catch NATSError.revisionMismatch {
                    throw NATSError.keyExists("\(bucket)/\(key)")
                }
            }
            throw NATSError.keyExists("\(bucket)/\(key)")
        }
    }

    /// Stores `value` only if the key's latest revision is `expectedRevision`; returns the
    /// new revision. Throws `NATSError.revisionMismatch` when another writer won.
    func update(_ key: String, value: [UInt8], expectedRevision: UInt64) throws -> UInt64 {
        try write(key, value: value, expectedRevision: expectedRevision, operation: "update")
    }

    /// Stores `value` unconditionally; returns the new revision.
    func put(_ key: String, value: [UInt8]) throws -> UInt64 {
        var rev: UInt64 = 0
        let s = value.withUnsafeBytes { buf in
            kvStore_Put(&rev, kv, key, buf.baseAddress, Int32(buf.count))
        }
        try NATSStatus.check(s, "put \(bucket)/\(key)")
        return rev
    }

    /// Deletes the key (a delete marker; `get` then returns nil).
    func delete(_ key: String) throws {
        try NATSStatus.check(kvStore_Delete(kv, key), "delete \(bucket)/\(key)")
    }

    /// Removes the key and all its history.
    func purge(_ key: String) throws {
        try NATSStatus.check(kvStore_Purge(kv, key, nil), "purge \(bucket)/\(key)")
    }

    private func write(_ key: String, value: [UInt8], expectedRevision: UInt64, operation: String) throws -> UInt64 {
        guard Self.isValidKey(key) else {
            throw NATSError.status(Int32(NATS_INVALID_ARG.rawValue), "\(operation) \(bucket)/\(key): invalid key")
        }
        let subject = subjectPrefix + key
        var po = jsPubOptions()
        jsPubOptions_Init(&po)
        po.MaxWait = jetStream.timeout.natsMilliseconds()
        if expectedRevision == 0 {
            po.ExpectNoMessage = true
        } else {
            po.ExpectLastSubjectSeq = expectedRevision
        }
        var pa: UnsafeMutablePointer<jsPubAck>?
        var jerr = jsErrCode(rawValue: 0)
        let s = value.withUnsafeBytes { buf in
            js_Publish(&pa, jetStream.ctx, subject, buf.baseAddress, Int32(buf.count), &po, &jerr)
        }
        defer { jsPubAck_Destroy(pa) }
        if s != NATS_OK {
            if JetStreamErrorCode.wrongLastSequence.matches(jerr) {
                throw NATSError.revisionMismatch("\(operation) \(bucket)/\(key) expecting revision \(expectedRevision)")
            }
            throw NATSStatus.error(s, "\(operation) \(bucket)/\(key)", jsErr: jerr)
        }
        guard let pa else { throw NATSError.status(Int32(NATS_ERR.rawValue), "\(operation) \(bucket)/\(key): no ack") }
        return pa.pointee.Sequence
    }

    /// The revision of the key's last message if it is a delete or purge marker.
    private func deleteMarkerRevision(_ key: String) throws -> UInt64? {
        guard let last = try jetStream.lastMessage(stream: streamName, subject: subjectPrefix + key) else { return nil }
        let op = last.headers["KV-Operation"] ?? ""
        return (op == "DEL" || op == "PURGE") ? last.sequence : nil
    }

    static func isValidKey(_ key: String) -> Bool {
        guard !key.isEmpty, !key.hasPrefix("."), !key.hasSuffix(".") else { return false }
        return key.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == 0x2D || c == 0x2F || c == 0x5F || c == 0x3D || c == 0x2E
        }
    }
}
