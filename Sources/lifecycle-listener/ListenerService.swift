import CoreMetrics
import DaemonKit
import Foundation
import KalshiLive
import Logging
import NATSClient
import Pipeline
import SSMDCore
import ServiceLifecycle
import Synchronization
import WireContract

/// The listener and its publisher: notices and gaps go into a bounded outbox as they arrive
/// and a publisher takes whatever is there (what arrived together travels together) to
/// JetStream, acknowledged, retrying while NATS is away. On SIGTERM the listener closes its
/// socket with a close frame, the publisher flushes, and the service ends.
final class ListenerService: Service, Sendable {
    let configuration: LifecycleListener.Configuration
    let bufferLimit: Int
    let nats: NATSOptions
    let probe: ReadinessProbe
    let logger: Logger
    private let outbox: Mutex<NoticeOutbox>
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let listenerDone = Atomic<Bool>(false)
    private let listenerRef = Mutex<LifecycleListener?>(nil)
    /// How many notices a publish carries at most.
    static let batch = 500

    init(configuration: LifecycleListener.Configuration, bufferLimit: Int, nats: NATSOptions, probe: ReadinessProbe, logger: Logger) {
        self.configuration = configuration
        self.bufferLimit = bufferLimit
        self.nats = nats
        self.probe = probe
        self.logger = logger
        self.outbox = Mutex(NoticeOutbox(limit: bufferLimit))
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wakes = stream
        wake = continuation
        for d in [LifecycleListenerMetrics.published, LifecycleListenerMetrics.gaps, LifecycleListenerMetrics.reconnects,
                  LifecycleListenerMetrics.dropped] { _ = Counter(label: d.name) }
        for t in LiveMessage.lifecycleTypes { _ = Counter(label: LifecycleListenerMetrics.messages.name, dimensions: LifecycleListenerMetrics.messages.dimensions(t)) }
        for r in ["malformed", "unknown_type", "server_error"] {
            _ = Counter(label: LifecycleListenerMetrics.rejected.name, dimensions: LifecycleListenerMetrics.rejected.dimensions(r))
        }
        Gauge(label: LifecycleListenerMetrics.subscribed.name).record(0)
        Gauge(label: LifecycleListenerMetrics.buffered.name).record(0)
        _ = CoreMetrics.Timer(label: LifecycleListenerMetrics.publishDelay.name)
    }

    /// Ready: NATS connected and the WebSocket subscribed.
    func readiness() async -> (ready: Bool, detail: String) {
        let nats = await probe.check()
        let listener = listenerRef.withLock { $0 }
        var problems = nats.ready ? [] : [nats.detail]
        if let listener {
            if !listener.isSubscribed { problems.append("websocket: \(listener.stateName)") }
        } else {
            problems.append("websocket: not started")
        }
        return problems.isEmpty ? (true, "ready") : (false, problems.joined(separator: "; "))
    }

    /// The socket starts at once, beside NATS: a refused key is reported even while NATS is
    /// away, and what arrives before NATS is ready waits in the outbox.
    func run() async throws {
        let listener = LifecycleListener(configuration: configuration, logger: logger,
                                         deliver: { [self] output in self.enqueue(output) },
                                         observe: { [self] observation in self.observed(observation) })
        listenerRef.withLock { $0 = listener }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer {
                    self.listenerDone.store(true, ordering: .sequentiallyConsistent)
                    Gauge(label: LifecycleListenerMetrics.subscribed.name).record(0)
                    self.wake.yield()
                }
                try await listener.run()
            }
            group.addTask {
                let connection = try await NATSConnection.connect(options: self.nats, logger: self.logger)
                self.probe.watch(nats: connection)
                do {
                    let js = try await provisionPipeline(connection, topology: Topology(), logger: self.logger)
                    await self.publish(js)
                } catch {
                    await Self.finish(connection)
                    throw error
                }
                await Self.finish(connection)
            }
            try await group.waitForAll()
        }
    }

    /// Drains a live connection; closes one that is away (a drain would wait for a server
    /// that is not there, longer than a stopping service may take).
    static func finish(_ connection: NATSConnection) async {
        if connection.isConnected {
            try? await connection.drain(timeout: .seconds(5))
        } else {
            connection.close()
        }
    }

    private func enqueue(_ output: LifecycleListener.Output) {
        let (droppedOne, count) = outbox.withLock { box -> (Bool, Int) in
            switch output {
            case .notice(let n): return (box.append(.notice(n)), box.count)
            case .gap(let g): return (box.append(.gap(g)), box.count)
            }
        }
        if case .notice(let n) = output {
            Counter(label: LifecycleListenerMetrics.messages.name, dimensions: LifecycleListenerMetrics.messages.dimensions(n.type)).increment()
            logger.debug("lifecycle message", metadata: ["type": "\(n.type)", "event_type": "\(n.eventType ?? "")",
                                                          "market": "\(n.marketTicker ?? "")", "event": "\(n.eventTicker ?? "")"])
        }
        if droppedOne { Counter(label: LifecycleListenerMetrics.dropped.name).increment() }
        Gauge(label: LifecycleListenerMetrics.buffered.name).record(count)
        wake.yield()
    }

    private func observed(_ observation: LifecycleListener.Observation) {
        switch observation {
        case .subscribed, .report(.subscribed):
            if case .report(.subscribed(let sid)) = observation {
                logger.info("subscribed", metadata: ["channel": "\(LiveChannel.marketLifecycle)", "sid": "\(sid)", "url": "\(Redaction.url(configuration.url))"])
            }
            Gauge(label: LifecycleListenerMetrics.subscribed.name).record(1)
        case .interrupted(let reason, let delay):
            Gauge(label: LifecycleListenerMetrics.subscribed.name).record(0)
            Counter(label: LifecycleListenerMetrics.reconnects.name).increment()
            logger.warning("websocket interrupted; reconnecting", metadata: ["reason": "\(reason)", "retry_in_s": "\(String(format: "%.2f", delay.seconds))"])
        case .report(.malformed(let why)):
            Counter(label: LifecycleListenerMetrics.rejected.name, dimensions: LifecycleListenerMetrics.rejected.dimensions("malformed")).increment()
            logger.warning("skipped a message", metadata: ["reason": "\(why)"])
        case .report(.unknownType(let type)):
            Counter(label: LifecycleListenerMetrics.rejected.name, dimensions: LifecycleListenerMetrics.rejected.dimensions("unknown_type")).increment()
            logger.notice("skipped a message of an unknown type", metadata: ["type": "\(type.prefix(64))"])
        case .report(.serverError(let code, let message)):
            Counter(label: LifecycleListenerMetrics.rejected.name, dimensions: LifecycleListenerMetrics.rejected.dimensions("server_error")).increment()
            logger.warning("the exchange answered an error", metadata: ["code": "\(code.map(String.init) ?? "none")", "message": "\(message)"])
        }
    }

    /// Publishes the outbox as it fills, until the listener has stopped and everything is
    /// acknowledged. A failed publish keeps its items (re-sent later; message ids make a
    /// repeat harmless). Stopping while NATS is away waits for it up to the shutdown timeout;
    /// the cancellation that follows ends it at once, with what is left logged.
    private func publish(_ js: JetStream) async {
        var publisher = ReliablePublisher(js: js, logger: logger)
        // A few attempts, then this loop's own retry, which watches for shutdown.
        publisher.maxAttempts = 3
        var failures = 0
        var wakes = self.wakes.makeAsyncIterator()
        while true {
            while let (items, through) = outbox.withLock({ $0.peek(max: Self.batch) }) {
                let messages: [OutgoingMessage]
                do { messages = try items.map(Self.outgoing) } catch {
                    logger.error("cannot encode a notice; skipping it", metadata: ["error": "\(error)"])
                    outbox.withLock { $0.acknowledge(through: through) }
                    continue
                }
                do {
                    try await Self.unlessCancelled { [publisher] in try await publisher.publishAll(messages) }
                    failures = 0
                    let now = Timestamp.now()
                    let count = outbox.withLock { box in
                        box.acknowledge(through: through)
                        return box.count
                    }
                    Gauge(label: LifecycleListenerMetrics.buffered.name).record(count)
                    for item in items {
                        switch item {
                        case .notice(let n):
                            Counter(label: LifecycleListenerMetrics.published.name).increment()
                            CoreMetrics.Timer(label: LifecycleListenerMetrics.publishDelay.name)
                                .recordMicroseconds(max(0, now.microsecondsSinceEpoch - n.receivedAt.microsecondsSinceEpoch))
                        case .gap(let g):
                            Counter(label: LifecycleListenerMetrics.gaps.name).increment()
                            logger.info("gap published", metadata: ["from": "\(g.from.map { "\($0)" } ?? "none")", "to": "\(g.to)", "reason": "\(g.reason)"])
                        }
                    }
                } catch {
                    outbox.withLock { $0.retryLater() }
                    if Task.isCancelled {
                        logger.error("stopping with notices not published (the next start publishes a gap from nothing)", metadata: ["pending": "\(outbox.withLock { $0.count })"])
                        return
                    }
                    failures += 1
                    let (held, dropped) = outbox.withLock { ($0.count, $0.dropped) }
                    logger.warning("NATS did not take the notices; holding them and retrying", metadata: [
                        "pending": "\(held)", "dropped_total": "\(dropped)", "error": "\(error)"])
                    do { try await Task.sleep(for: .milliseconds(min(5000, 250 * failures))) } catch {
                        logger.error("stopping with notices not published (the next start publishes a gap from nothing)", metadata: ["pending": "\(outbox.withLock { $0.count })"])
                        return
                    }
                }
            }
            if listenerDone.load(ordering: .sequentiallyConsistent) && outbox.withLock({ $0.isEmpty }) {
                logger.info("stopped; every notice published")
                return
            }
            guard await wakes.next() != nil, !Task.isCancelled else { return }
        }
    }

    static func outgoing(_ item: NoticeOutbox.Item) throws -> OutgoingMessage {
        switch item {
        case .notice(let n):
            return OutgoingMessage(subject: n.subject, data: try MessageCodec.encode(n), msgId: n.messageID)
        case .gap(let g):
            return OutgoingMessage(subject: Subjects.lifecycleGap, data: try MessageCodec.encode(g),
                                   msgId: "lifecycle-gap:\(g.from?.microsecondsSinceEpoch ?? 0):\(g.to.microsecondsSinceEpoch)")
        }
    }
}

/// Ends the daemon when its NATS connection is closed for good (cnats gave up: the server
/// refuses our credentials), as the other daemons do.
struct ConnectionWatchdog: Service {
    let probe: ReadinessProbe

    func run() async throws {
        while await sleepUnlessShuttingDown(.seconds(1)) {
            if let c = probe.natsConnection, c.isClosedForGood {
                throw NATSError.connection("the connection to NATS was closed for good and will not come back: \(c.lastErrorText)")
            }
        }
    }
}

extension ListenerService {
    /// Runs `body` in a task of its own and waits for it unless the waiting task is cancelled
    /// first: a publish blocked on acknowledgments that cannot come (NATS away) must not hold
    /// a shutdown past the service group's cancellation limit. The abandoned publish ends by
    /// its own timeout.
    static func unlessCancelled<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        let waiter = OnceContinuation<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                waiter.set(continuation)
                if Task.isCancelled { waiter.resume(with: .failure(CancellationError())) }
                Task { waiter.resume(with: await task.result) }
            }
        } onCancel: {
            waiter.resume(with: .failure(CancellationError()))
            task.cancel()
        }
    }
}

/// A continuation resumed once, by whichever comes first.
final class OnceContinuation<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, early: Result<T, any Error>?, done: Bool)>((nil, nil, false))

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { s -> Result<T, any Error>? in
            if let e = s.early { s.done = true; s.early = nil; return e }
            s.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func resume(with result: Result<T, any Error>) {
        let c = state.withLock { s -> CheckedContinuation<T, any Error>? in
            guard !s.done else { return nil }
            if let c = s.continuation { s.done = true; s.continuation = nil; return c }
            // Not waiting yet (cancelled before the continuation existed): keep the first result.
            if s.early == nil { s.early = result }
            return nil
        }
        c?.resume(with: result)
    }
}
