/// Desired configuration of a JetStream stream (`JetStream.ensureStream`).
public struct StreamSpec: Sendable, Equatable {
    public enum Retention: String, Sendable { case limits, workQueue, interest }
    public enum Storage: String, Sendable { case file, memory }
    public enum Discard: String, Sendable { case old, new }

    public var name: String
    public var subjects: [String]
    public var retention: Retention
    public var storage: Storage
    /// -1 = unlimited; 1 = last value per subject.
    public var maxMsgsPerSubject: Int64
    /// nil = keep forever.
    public var maxAge: Duration?
    /// nil = server default (2 minutes, or `maxAge` if shorter); not compared when nil.
    public var duplicateWindow: Duration?
    /// nil = unlimited.
    public var maxBytes: Int64?
    public var discard: Discard
    public var replicas: Int
    public var description: String?

    public init(name: String, subjects: [String], retention: Retention = .limits, storage: Storage = .file,
                maxMsgsPerSubject: Int64 = -1, maxAge: Duration? = nil, duplicateWindow: Duration? = nil,
                maxBytes: Int64? = nil, discard: Discard = .old, replicas: Int = 1, description: String? = nil) {
        self.name = name
        self.subjects = subjects
        self.retention = retention
        self.storage = storage
        self.maxMsgsPerSubject = maxMsgsPerSubject
        self.maxAge = maxAge
        self.duplicateWindow = duplicateWindow
        self.maxBytes = maxBytes
        self.discard = discard
        self.replicas = replicas
        self.description = description
    }
}

/// Desired configuration of a durable pull consumer (`JetStream.ensureConsumer`).
/// The ack policy is always explicit.
public struct ConsumerSpec: Sendable, Equatable {
    public enum DeliverPolicy: String, Sendable { case all, new, lastPerSubject }

    public var durableName: String
    public var filterSubject: String?
    public var ackWait: Duration
    /// Messages delivered but not yet acknowledged, across all subscribers.
    public var maxAckPending: Int
    /// -1 = unlimited.
    public var maxDeliver: Int
    public var deliverPolicy: DeliverPolicy
    /// Redelivery delays (after the n-th delivery); needs `maxDeliver` > count.
    public var backoff: [Duration]?
    public var description: String?
    /// Maximum pull requests waiting at once (server default 512 when nil).
    public var maxWaiting: Int?

    public init(durableName: String, filterSubject: String? = nil, ackWait: Duration = .seconds(30),
                maxAckPending: Int = 1000, maxDeliver: Int = -1, deliverPolicy: DeliverPolicy = .all,
                backoff: [Duration]? = nil, description: String? = nil, maxWaiting: Int? = nil) {
        self.durableName = durableName
        self.filterSubject = filterSubject
        self.ackWait = ackWait
        self.maxAckPending = maxAckPending
        self.maxDeliver = maxDeliver
        self.deliverPolicy = deliverPolicy
        self.backoff = backoff
        self.description = description
        self.maxWaiting = maxWaiting
    }
}

/// A consumer's state as the server reports it.
public struct ConsumerState: Sendable, Equatable {
    public var stream: String
    public var name: String
    /// Messages matching the filter not yet delivered.
    public var numPending: UInt64
    /// Delivered, not yet acknowledged.
    public var numAckPending: Int64
    public var numRedelivered: Int64
    /// Pull requests waiting at the server.
    public var numWaiting: Int64
    public var deliveredConsumerSequence: UInt64
    public var deliveredStreamSequence: UInt64
    public var ackFloorConsumerSequence: UInt64
    public var ackFloorStreamSequence: UInt64
    // Echo of the configuration.
    public var filterSubject: String?
    public var ackWait: Duration
    public var maxAckPending: Int64
    public var maxDeliver: Int64
}

/// A stream's state as the server reports it.
public struct StreamState: Sendable, Equatable {
    public var name: String
    public var messages: UInt64
    public var bytes: UInt64
    public var firstSeq: UInt64
    public var lastSeq: UInt64
    public var consumerCount: Int64
    public var numSubjects: Int64
    /// Messages per subject; filled only when `streamInfo(name:subjectsFilter:)` had a filter.
    public var subjects: [String: UInt64]
    public var subjectPatterns: [String]
}

/// A message to publish to JetStream.
public struct OutgoingMessage: Sendable, Equatable {
    public var subject: String
    public var data: [UInt8]
    /// Sent as `Nats-Msg-Id`: the stream drops a repeat within its duplicate window.
    public var msgId: String?
    public var headers: [String: String]

    public init(subject: String, data: [UInt8], msgId: String? = nil, headers: [String: String] = [:]) {
        self.subject = subject
        self.data = data
        self.msgId = msgId
        self.headers = headers
    }
}

/// The server's acknowledgment of a JetStream publish.
public struct PubAck: Sendable, Equatable {
    public var stream: String
    public var sequence: UInt64
    /// True when the stream had already stored a message with this `Nats-Msg-Id`.
    public var duplicate: Bool

    public init(stream: String, sequence: UInt64, duplicate: Bool) {
        self.stream = stream
        self.sequence = sequence
        self.duplicate = duplicate
    }
}

/// Desired configuration of a key-value bucket.
public struct KeyValueSpec: Sendable, Equatable {
    public var bucket: String
    /// Values kept per key (1…64).
    public var history: Int
    /// nil = values never expire.
    public var ttl: Duration?
    public var storage: StreamSpec.Storage
    public var description: String?
    /// Copies of the bucket in a clustered JetStream; raised on an existing bucket when
    /// asked, never lowered.
    public var replicas: Int = 1

    public init(bucket: String, history: Int = 1, ttl: Duration? = nil, storage: StreamSpec.Storage = .file,
                description: String? = nil, replicas: Int = 1) {
        self.replicas = max(1, replicas)
        self.bucket = bucket
        self.history = history
        self.ttl = ttl
        self.storage = storage
        self.description = description
    }
}

/// One value of a key.
public struct KeyValueEntry: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    public var revision: UInt64

    public init(key: String, value: [UInt8], revision: UInt64) {
        self.key = key
        self.value = value
        self.revision = revision
    }
}
