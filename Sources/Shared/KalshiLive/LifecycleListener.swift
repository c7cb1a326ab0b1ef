import CurlHTTP
import Foundation
import HTTPTypes
import HummingbirdWSClient
import KalshiAPI
import Logging
import NIOSSL
import ServiceLifecycle
import SSMDCore
import Synchronization
import WireContract

/// The exchange's lifecycle WebSocket, kept subscribed: the I/O shell around
/// `ListenerMachine`. It opens the signed connection (hummingbird-websocket's client; TLS by
/// swift-nio-ssl with the system's CA bundle), answers the server's pings and sends its own
/// (a connection whose pong does not come back within `pingInterval` is given up), feeds
/// every event to the machine and performs its actions. Notices and gaps go to `deliver`,
/// which must not block (the daemon queues them for NATS).
///
/// `run()` returns on graceful shutdown (after closing the socket with a close frame) and
/// throws `LiveKeyRefused` when the exchange refuses the key at the handshake.
public final class LifecycleListener: Sendable {
    public struct Configuration: Sendable {
        public var url: String
        public var signer: KalshiKeySigner
        public var pingInterval: Duration = .seconds(10)
        public var machine = ListenerMachine.Settings()
        /// Largest message accepted (lifecycle messages are a few kilobytes).
        public var maxMessageBytes = 1 << 20
        public var tls: TLSConfiguration = .makeClientConfiguration()

        public init(url: String, signer: KalshiKeySigner) {
            self.url = url
            self.signer = signer
        }
    }

    /// What the listener hands on.
    public enum Output: Sendable {
        case notice(LifecycleNotice)
        case gap(LifecycleGap)
    }

    /// What the listener observed, for logs and metrics.
    public enum Observation: Sendable {
        case subscribed(sid: Int)
        case interrupted(reason: String, retryIn: Duration)
        case report(ListenerMachine.Report)
    }

    let configuration: Configuration
    let logger: Logger
    let deliver: @Sendable (Output) -> Void
    let observe: @Sendable (Observation) -> Void
    private let status = Mutex<(subscribed: Bool, state: String)>((false, "connecting"))

    public init(configuration: Configuration, logger: Logger, deliver: @escaping @Sendable (Output) -> Void,
                observe: @escaping @Sendable (Observation) -> Void = { _ in }) {
        self.configuration = configuration
        self.logger = logger
        self.deliver = deliver
        self.observe = observe
    }

    /// True while a subscription is confirmed and its connection open.
    public var isSubscribed: Bool { status.withLock { $0.subscribed } }
    /// connecting, subscribing, streaming, backing off, stopped.
    public var stateName: String { status.withLock { $0.state } }

    /// An event of one connection, tagged with its number so that a late event of an
    /// abandoned connection is told apart.
    private enum Input: Sendable {
        case machine(ListenerMachine.Event, connection: Int)
        case upgradeDeclined(connection: Int)
    }

    public func run() async throws {
        let (inputs, feed) = AsyncStream<Input>.makeStream()
        var machine = ListenerMachine(settings: configuration.machine)
        var current = 0
        var socket: Socket?
        var socketTask: Task<Void, Never>?
        var timer: Task<Void, Never>?
        let ticker = Task {
            // Checks the subscribe timeout once a second.
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                feed.yield(.machine(.tick, connection: -1))
            }
        }
        defer {
            ticker.cancel()
            timer?.cancel()
            socketTask?.cancel()
            setStatus(false, "stopped")
        }
        feed.yield(.machine(.start, connection: 0))

        try await withGracefulShutdownHandler {
            for await input in inputs {
                let event: ListenerMachine.Event
                switch input {
                case .machine(let e, let connection):
                    if connection >= 0 && connection != current && e != .start && e != .stop { continue }
                    event = e
                case .upgradeDeclined(let connection):
                    guard connection == current else { continue }
                    event = await probeRefusal()
                }
                let actions = machine.handle(event, now: .now(), random: Double.random(in: 0..<1))
                for action in actions {
                    switch action {
                    case .connect:
                        current += 1
                        let s = Socket(connection: current)
                        socket = s
                        setStatus(false, "connecting")
                        socketTask = Task { await self.connect(s, feed: feed) }
                    case .send(let command):
                        setStatus(false, "subscribing")
                        await socket?.send(command.jsonText)
                    case .publish(let notice):
                        deliver(.notice(notice))
                    case .publishGap(let gap):
                        deliver(.gap(gap))
                    case .reconnect(let delay, let reason):
                        // Abandon the connection (its late events are ignored) and come back
                        // with a tick when the backoff is over.
                        setStatus(false, "backing off")
                        observe(.interrupted(reason: reason, retryIn: delay))
                        await socket?.abort()
                        socket = nil
                        timer?.cancel()
                        timer = Task {
                            try? await Task.sleep(for: delay)
                            feed.yield(.machine(.tick, connection: -1))
                        }
                    case .close:
                        setStatus(false, "stopped")
                        await socket?.close()
                        _ = await socketTask?.value
                        return
                    case .fail(let message):
                        await socket?.abort()
                        throw LiveKeyRefused(message: message)
                    case .report(let report):
                        if case .subscribed = report { setStatus(true, "streaming") }
                        observe(.report(report))
                    }
                }
            }
        } onGracefulShutdown: {
            feed.yield(.machine(.stop, connection: -1))
        }
    }

    private func setStatus(_ subscribed: Bool, _ state: String) {
        status.withLock { $0 = (subscribed, state) }
    }

    /// One connection: the signed handshake, then text frames into the machine until it ends.
    private func connect(_ socket: Socket, feed: AsyncStream<Input>.Continuation) async {
        let n = socket.connection
        let headers: [(String, String)]
        do {
            headers = try configuration.signer.headers(method: "GET", path: LiveEndpoint.signedPath(of: configuration.url))
        } catch {
            feed.yield(.machine(.disconnected(reason: "cannot sign the handshake: \(error)"), connection: n))
            return
        }
        var fields = HTTPFields()
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
        }
        let config = WebSocketClientConfiguration(maxFrameSize: configuration.maxMessageBytes, additionalHeaders: fields,
                                                  closeTimeout: .seconds(5), autoPing: .enabled(timePeriod: configuration.pingInterval))
        let maxMessage = configuration.maxMessageBytes
        var wsLogger = logger
        wsLogger.logLevel = max(logger.logLevel, .notice)
        do {
            let closeFrame = try await WebSocketClient.connect(url: configuration.url, configuration: config, tlsConfiguration: configuration.tls,
                                                               logger: wsLogger) { inbound, outbound, _ in
                socket.attach(outbound)
                feed.yield(.machine(.connected, connection: n))
                for try await message in inbound.messages(maxSize: maxMessage) {
                    switch message {
                    case .text(let text): feed.yield(.machine(.text(text), connection: n))
                    case .binary: feed.yield(.machine(.text("<binary frame>"), connection: n))
                    }
                }
            }
            let why = closeFrame.map { "closed by the exchange (\($0.closeCode)\($0.reason.map { ": " + $0 } ?? ""))" } ?? "connection ended"
            feed.yield(.machine(.disconnected(reason: why), connection: n))
        } catch let e as WebSocketClientError where e == .webSocketUpgradeFailed {
            feed.yield(.upgradeDeclined(connection: n))
        } catch {
            feed.yield(.machine(.disconnected(reason: "\(error)"), connection: n))
        }
    }

    /// The handshake was answered with something other than 101; the WebSocket client does
    /// not say what. A signed plain GET of the same URL asks again: 401 or 403 means the key
    /// is refused (a configuration error), anything else is a passing failure.
    private func probeRefusal() async -> ListenerMachine.Event {
        let url = LiveEndpoint.httpURL(of: configuration.url)
        var options = HTTPClientOptions()
        options.totalTimeout = .seconds(10)
        options.maxResponseBytes = 64 << 10
        do {
            let headers = try configuration.signer.headers(method: "GET", path: LiveEndpoint.signedPath(of: configuration.url))
            let response = try await CurlHTTPClient(options: options).get(url: url, headers: headers)
            if response.status == 401 || response.status == 403 {
                let body = String(decoding: response.body.prefix(300), as: UTF8.self)
                return .keyRefused(status: response.status, detail: body.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return .disconnected(reason: "WebSocket upgrade declined (the same URL answers HTTP \(response.status))")
        } catch {
            return .disconnected(reason: "WebSocket upgrade declined (\(error))")
        }
    }

    /// The writing side of one connection.
    final class Socket: Sendable {
        let connection: Int
        private let writer = Mutex<(outbound: WebSocketOutboundWriter?, abandoned: Bool)>((nil, false))

        init(connection: Int) { self.connection = connection }

        func attach(_ outbound: WebSocketOutboundWriter) {
            let abandoned = writer.withLock { w in
                w.outbound = outbound
                return w.abandoned
            }
            if abandoned { Task { try? await outbound.close(.goingAway, reason: nil) } }
        }

        func send(_ text: String) async {
            guard let outbound = writer.withLock({ $0.outbound }) else { return }
            try? await outbound.write(.text(text))
        }

        /// Close with a close frame (normal closure): the peer knows we left on purpose.
        func close() async {
            let outbound = writer.withLock { w -> WebSocketOutboundWriter? in
                w.abandoned = true
                return w.outbound
            }
            try? await outbound?.close(.normalClosure, reason: "shutting down")
        }

        /// Give the connection up (a drop, a timeout): close it, without waiting.
        func abort() async {
            let outbound = writer.withLock { w -> WebSocketOutboundWriter? in
                w.abandoned = true
                return w.outbound
            }
            if let outbound { Task { try? await outbound.close(.goingAway, reason: "reconnecting") } }
        }
    }
}

/// The exchange refused the API key at the WebSocket handshake.
public struct LiveKeyRefused: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
