import Logging
import SSMDCore
import ServiceLifecycle

// The public face of the client: every call that waits for the server is async and runs on
// threads the client owns — the connection's `BlockingPool` for short requests, a
// subscription's own thread for fetches and watches — so no caller ever blocks Swift's
// cooperative pool or has to remember to move a call off it. The blocking implementations
// beside these are internal to this module.

extension NATSConnection {
    /// Round trip to the server: everything published before has been processed by it.
    public func flush(timeout: Duration) async throws {
        try await pool.run { try self.flushNow(timeout: timeout) }
    }
}

/// A connection is a service: it lives while the daemon runs and, when the daemon shuts
/// down, drains (pending publishes and acks reach the server) after the services started
/// after it have stopped. List it first in the service group.
public struct NATSConnectionService: Service {
    public let connection: NATSConnection
    public let drainTimeout: Duration

    public init(_ connection: NATSConnection, drainTimeout: Duration = .seconds(5)) {
        self.connection = connection
        self.drainTimeout = drainTimeout
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await connection.drain(timeout: drainTimeout)
    }
}

extension JetStream {
    private func call<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await connection.pool.run(body)
    }

    /// Creates the stream, or updates it when its configuration differs (see the blocking
    /// `ensureStream` for what may and may not change).
    public func ensureStream(_ spec: StreamSpec) async throws { try await call { try self.ensureStream(spec) } }
    public func deleteStream(name: String) async throws { try await call { try self.deleteStream(name: name) } }
    public func deleteMessage(stream: String, sequence: UInt64) async throws {
        try await call { try self.deleteMessage(stream: stream, sequence: sequence) }
    }
    public func streamNames() async throws -> [String] { try await call { try self.streamNames() } }
    /// Stream state; with `subjectsFilter` also the message count of each matching subject.
    public func streamInfo(name: String, subjectsFilter: String? = nil) async throws -> StreamState {
        try await call { try self.streamInfo(name: name, subjectsFilter: subjectsFilter) }
    }

    /// Creates the durable pull consumer, or updates it when its configuration differs.
    public func ensureConsumer(stream: String, _ spec: ConsumerSpec) async throws {
        try await call { try self.ensureConsumer(stream: stream, spec) }
    }
    public func deleteConsumer(stream: String, name: String) async throws {
        try await call { try self.deleteConsumer(stream: stream, name: name) }
    }
    public func consumerNames(stream: String) async throws -> [String] {
        try await call { try self.consumerNames(stream: stream) }
    }
    public func consumerInfo(stream: String, name: String) async throws -> ConsumerState {
        try await call { try self.consumerInfo(stream: stream, name: name) }
    }

    /// Publishes one message and waits for the stream's acknowledgment.
    public func publish(_ message: OutgoingMessage, timeout: Duration = .seconds(5)) async throws -> PubAck {
        try await call { try self.publish(message, timeout: timeout) }
    }

    /// Publishes many messages asynchronously and returns when every one is acknowledged,
    /// with the acks in input order; throws `NATSError.publishFailed(indices:reason:)`
    /// naming the indices that were not, so the caller can retry exactly those.
    public func publishAll(_ messages: [OutgoingMessage], timeout: Duration = .seconds(10)) async throws -> [PubAck] {
        try await call { try self.publishAll(messages, timeout: timeout) }
    }

    /// Binds a pull subscription to an existing durable consumer.
    public func pullSubscribe(stream: String, consumer: String, filterSubject: String? = nil) async throws -> PullSubscription {
        try await call { try self.pullSubscribe(stream: stream, consumer: consumer, filterSubject: filterSubject) }
    }

    /// An ephemeral ordered consumer: (optionally) the last message of every subject
    /// matching `filterSubject`, then live updates, in order.
    public func orderedWatch(stream: String, filterSubject: String, deliverLastPerSubject: Bool) async throws -> OrderedWatch {
        try await call { try self.orderedWatch(stream: stream, filterSubject: filterSubject, deliverLastPerSubject: deliverLastPerSubject) }
    }

    /// Like `orderedWatch` but only messages published from now on.
    public func orderedWatchNew(stream: String, filterSubject: String) async throws -> OrderedWatch {
        try await call { try self.orderedWatchNew(stream: stream, filterSubject: filterSubject) }
    }

    /// The last message stored on `subject` in `stream`, or nil when there is none.
    public func lastMessage(stream: String, subject: String) async throws -> StoredMessage? {
        try await call { try self.lastMessage(stream: stream, subject: subject) }
    }

    /// Creates the key-value bucket, or binds to it (aligning history and TTL).
    public func ensureKeyValue(_ spec: KeyValueSpec) async throws -> KeyValueBucket {
        try await call { try self.ensureKeyValue(spec) }
    }

    /// Binds to an existing bucket.
    public func keyValue(bucket: String) async throws -> KeyValueBucket {
        try await call { try self.keyValue(bucket: bucket) }
    }

    public func deleteKeyValue(bucket: String) async throws {
        try await call { try self.deleteKeyValue(bucket: bucket) }
    }
}

extension KeyValueBucket {
    private func call<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await jetStream.connection.pool.run(body)
    }

    /// The current value, or nil when the key is absent or deleted.
    public func get(_ key: String) async throws -> KeyValueEntry? { try await call { try self.get(key) } }
    /// Stores `value` only if the key is absent (or deleted); throws `NATSError.keyExists`.
    public func create(_ key: String, value: [UInt8]) async throws -> UInt64 { try await call { try self.create(key, value: value) } }
    /// Stores `value` only if the key is at `expectedRevision`; throws `NATSError.revisionMismatch`.
    public func update(_ key: String, value: [UInt8], expectedRevision: UInt64) async throws -> UInt64 {
        try await call { try self.update(key, value: value, expectedRevision: expectedRevision) }
    }
    /// Stores `value` unconditionally; returns the new revision.
    public func put(_ key: String, value: [UInt8]) async throws -> UInt64 { try await call { try self.put(key, value: value) } }
    /// Deletes the key (a delete marker; `get` then returns nil).
    public func delete(_ key: String) async throws { try await call { try self.delete(key) } }
    /// Removes the key and all its history.
    public func purge(_ key: String) async throws { try await call { try self.purge(key) } }
}

extension PullSubscription {
    /// Up to `batch` messages, waiting at most `maxWait` for the first; `[]` when nothing
    /// came in time. Runs on the subscription's own thread.
    public func fetch(batch: Int, maxWait: Duration, maxBytes: Int? = nil) async throws -> [JetStreamMessage] {
        do {
            return try await fetchThread.run { try self.fetch(batch: batch, maxWait: maxWait, maxBytes: maxBytes) }
        } catch is DedicatedThread.Stopped {
            throw NATSError.closed
        }
    }

    /// Batches as they come, one fetch at a time and only when the consumer of the sequence
    /// asks for the next (nothing is pulled ahead, so nothing waits unacknowledged). Empty
    /// fetches are skipped; the sequence ends when the subscription is closed or the task
    /// is cancelled, and throws the first fetch error.
    public func batches(of batch: Int, maxWait: Duration, maxBytes: Int? = nil) -> AsyncThrowingStream<[JetStreamMessage], Error> {
        AsyncThrowingStream {
            while !Task.isCancelled {
                do {
                    let messages = try await self.fetch(batch: batch, maxWait: maxWait, maxBytes: maxBytes)
                    if !messages.isEmpty { return messages }
                } catch NATSError.closed {
                    return nil
                }
            }
            return nil
        }
    }
}

extension OrderedWatch {
    /// The next message, or nil when none arrived within `timeout`. Runs on the watch's own thread.
    public func next(timeout: Duration) async throws -> JetStreamMessage? {
        do {
            return try await waitThread.run { try self.next(timeout: timeout) }
        } catch is DedicatedThread.Stopped {
            throw NATSError.closed
        }
    }
}

extension JetStreamMessage {
    /// Acknowledges and waits for the server to confirm (use after a database commit).
    public func ackSync(timeout: Duration = .seconds(5)) async throws {
        try await pool.run { try self.ackSync(timeout: timeout) }
    }
}
