import Logging
import NATSClient
import SSMDCore

/// Publishes messages to JetStream and returns only when every one is acknowledged,
/// re-sending the ones that were not (Nats-Msg-Id makes a re-send of one that did land a
/// no-op). Chunked so a huge series never holds thousands of pending acks at once.
public struct ReliablePublisher: Sendable {
    public let js: JetStream
    public let logger: Logger
    public var chunkSize = 2000
    public var maxAttempts = 10

    public init(js: JetStream, logger: Logger) {
        self.js = js
        self.logger = logger
    }

    public func publishAll(_ messages: [OutgoingMessage], heartbeat: @Sendable () async -> Void = {}) async throws {
        var pending = messages
        var attempt = 0
        while !pending.isEmpty {
            var failed: [OutgoingMessage] = []
            var lastReason = ""
            var i = 0
            while i < pending.count {
                let chunk = Array(pending[i..<min(i + chunkSize, pending.count)])
                i += chunkSize
                do {
                    _ = try await js.publishAll(chunk)
                } catch NATSError.publishFailed(let indices, let reason) {
                    failed.append(contentsOf: indices.map { chunk[$0] })
                    lastReason = reason
                } catch {
                    // Connection-level failure: the whole chunk is in doubt.
                    failed.append(contentsOf: chunk)
                    lastReason = "\(error)"
                }
                await heartbeat()
            }
            pending = failed
            guard !pending.isEmpty else { return }
            attempt += 1
            logger.warning("unacknowledged publishes; retrying", metadata: [
                "count": "\(pending.count)", "attempt": "\(attempt)", "reason": "\(lastReason)"])
            guard attempt < maxAttempts else {
                throw NATSError.publishFailed(indices: Array(0..<pending.count), reason: "unacknowledged after \(attempt) attempts: \(lastReason)")
            }
            try await Task.sleep(for: .milliseconds(250 * Int64(attempt)))
        }
    }
}

/// Messages published as they are produced, a slice at a time: a large series or category
/// never holds more than `slice` encoded messages, and each slice is acknowledged before
/// the next is built. `flush()` publishes what is left; call it before relying on the
/// messages being stored (before acking the work that produced them).
public struct SlicedPublisher: Sendable {
    /// Encoded messages held before they are published: bounds memory (work items and
    /// market messages run to a few kilobytes each).
    public static let defaultSlice = 250

    private let publisher: ReliablePublisher
    private let slice: Int
    private let heartbeat: @Sendable () async -> Void
    private var pending: [OutgoingMessage] = []
    /// Messages published so far.
    public private(set) var published = 0

    public init(js: JetStream, logger: Logger, slice: Int = SlicedPublisher.defaultSlice,
                heartbeat: @escaping @Sendable () async -> Void = {}) {
        self.publisher = ReliablePublisher(js: js, logger: logger)
        self.slice = max(1, slice)
        self.heartbeat = heartbeat
        pending.reserveCapacity(self.slice)
    }

    public mutating func append(_ message: OutgoingMessage) async throws {
        pending.append(message)
        if pending.count >= slice { try await flush() }
    }

    public mutating func flush() async throws {
        guard !pending.isEmpty else { return }
        try await publisher.publishAll(pending, heartbeat: heartbeat)
        published += pending.count
        pending.removeAll(keepingCapacity: true)
    }
}
