import CNATS
import Foundation
import Logging
import Synchronization
import SSMDCore

/// How to reach NATS. Defaults suit a daemon: reconnect forever, keep retrying the first
/// connect in the background.
public struct NATSOptions: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var urls: [String]
    /// Connection name shown in the server's `/connz`.
    public var name: String
    public var user: String?
    public var password: String?
    public var token: String?
    /// A `.creds` file (JWT + NKey seed).
    public var credentialsFile: String?
    public var tlsCAFile: String?
    public var tlsCertFile: String?
    public var tlsKeyFile: String?
    public var tlsRequired: Bool
    /// -1 = forever.
    public var maxReconnectAttempts: Int
    public var reconnectWait: Duration
    public var connectTimeout: Duration
    /// When the first connect fails, keep retrying in the background (the initializer
    /// returns a not-yet-connected connection) instead of throwing.
    public var retryOnFailedConnect: Bool
    /// Bytes buffered for publishing while reconnecting.
    public var reconnectBufferSize: Int
    /// Client PING interval (detects a dead server on an idle connection).
    public var pingInterval: Duration
    /// Threads for this connection's blocking calls: at most this many JetStream requests,
    /// key-value operations or publish submissions are in flight at once.
    public var blockingThreads: Int

    public init(urls: [String], name: String) {
        self.urls = urls
        self.name = name
        self.user = nil
        self.password = nil
        self.token = nil
        self.credentialsFile = nil
        self.tlsCAFile = nil
        self.tlsCertFile = nil
        self.tlsKeyFile = nil
        self.tlsRequired = false
        self.maxReconnectAttempts = -1
        self.reconnectWait = .milliseconds(500)
        self.connectTimeout = .seconds(2)
        self.retryOnFailedConnect = true
        self.reconnectBufferSize = 8 * 1024 * 1024
        self.pingInterval = .seconds(20)
        self.blockingThreads = 8
    }

    /// Safe to log: no password, token or URL user-info.
    public var description: String {
        "NATSOptions(urls: \(redactedURLs), name: \(name), user: \(user ?? "nil"), password: \(password == nil ? "nil" : "***"), token: \(token == nil ? "nil" : "***"), credentialsFile: \(credentialsFile ?? "nil"))"
    }
    public var debugDescription: String { description }

    /// The URLs with passwords and tokens redacted — safe to log.
    public var redactedURLs: [String] { urls.map(Redaction.url) }

    /// Strings that must never appear in an error or a log line: the password, the token,
    /// and user-info embedded in URLs.
    var secrets: Secrets {
        Secrets([password, token].compactMap { $0 } + urls.compactMap(Redaction.secret(inURL:)))
    }

    func scrub(_ text: String) -> String { secrets.scrub(text) }
}

final class WeakSubscription: @unchecked Sendable {
    weak var handle: NATSSubscriptionHandle?
    init(_ handle: NATSSubscriptionHandle) { self.handle = handle }
}

/// An object held only to keep it alive (never used across threads).
final class KeptAlive: @unchecked Sendable {
    let object: AnyObject
    init(_ object: AnyObject) { self.object = object }
}

/// State the C callbacks reach through their `void *closure`.
final class NATSConnectionEvents: @unchecked Sendable {
    let logger: Logger
    let name: String
    /// Counts of events, for tests and health reporting.
    let disconnects = Atomic<Int>(0)
    let reconnects = Atomic<Int>(0)
    /// Set when the application closes the connection (vs. cnats giving up).
    let closeRequested = Atomic<Bool>(false)
    /// Set once the "closed" callback has logged (it runs on cnats' thread, after close).
    let closedLogged = Atomic<Bool>(false)
    let secrets: Secrets

    init(logger: Logger, name: String, secrets: Secrets) {
        self.logger = logger
        self.name = name
        self.secrets = secrets
    }

    func scrub(_ text: String) -> String { secrets.scrub(text) }

    static func from(_ closure: UnsafeMutableRawPointer?) -> NATSConnectionEvents? {
        guard let closure else { return nil }
        return Unmanaged<NATSConnectionEvents>.fromOpaque(closure).takeUnretainedValue()
    }

    static func lastError(_ nc: OpaquePointer?) -> String {
        guard let nc else { return "" }
        var p: UnsafePointer<CChar>?
        let s = natsConnection_GetLastError(nc, &p)
        if let p { return String(cString: p) }
        return s == NATS_OK ? "" : String(cString: natsStatus_GetText(s))
    }

    static func connectedURL(_ nc: OpaquePointer?) -> String {
        guard let nc else { return "?" }
        var buf = [CChar](repeating: 0, count: 512)
        if natsConnection_GetConnectedUrl(nc, &buf, 512) == NATS_OK {
            let url = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return url.isEmpty ? "?" : Redaction.url(url)
        }
        return "?"
    }
}

private let onDisconnected: natsConnectionHandler = { nc, closure in
    guard let ev = NATSConnectionEvents.from(closure) else { return }
    if let nc, natsConnection_IsClosed(nc) {
        ev.logger.debug("NATS disconnected (closing)", metadata: ["nats.connection": "\(ev.name)"])
        return
    }
    ev.disconnects.add(1, ordering: .relaxed)
    ev.logger.warning("NATS disconnected; reconnecting", metadata: ["nats.connection": "\(ev.name)"])
}

private let onReconnected: natsConnectionHandler = { nc, closure in
    guard let ev = NATSConnectionEvents.from(closure) else { return }
    ev.reconnects.add(1, ordering: .relaxed)
    ev.logger.notice("NATS reconnected", metadata: [
        "nats.connection": "\(ev.name)", "nats.url": "\(NATSConnectionEvents.connectedURL(nc))",
    ])
}

private let onConnected: natsConnectionHandler = { nc, closure in
    guard let ev = NATSConnectionEvents.from(closure) else { return }
    ev.logger.notice("NATS connected (after retrying)", metadata: [
        "nats.connection": "\(ev.name)", "nats.url": "\(NATSConnectionEvents.connectedURL(nc))",
    ])
}

/// cnats runs connection callbacks in order on one thread and "closed" is the last one,
/// so it drops the callbacks' reference to the box as its very last action.
private let onClosed: natsConnectionHandler = { nc, closure in
    guard let closure else { return }
    let box = Unmanaged<NATSConnectionEvents>.fromOpaque(closure)
    let ev = box.takeUnretainedValue()
    if ev.closeRequested.load(ordering: .acquiring) {
        ev.logger.info("NATS connection closed", metadata: ["nats.connection": "\(ev.name)"])
    } else {
        ev.logger.error("NATS connection closed for good (reconnect gave up or was refused)", metadata: [
            "nats.connection": "\(ev.name)", "nats.error": "\(ev.scrub(NATSConnectionEvents.lastError(nc)))",
        ])
    }
    ev.closedLogged.store(true, ordering: .releasing)
    box.release()
}

private let onAsyncError: natsErrHandler = { _, sub, err, closure in
    guard let ev = NATSConnectionEvents.from(closure) else { return }
    var subject = ""
    if let sub, let p = natsSubscription_GetSubject(sub) { subject = String(cString: p) }
    ev.logger.error("NATS asynchronous error", metadata: [
        "nats.connection": "\(ev.name)", "nats.subject": "\(subject)",
        "nats.status": "\(String(cString: natsStatus_GetText(err)))",
    ])
}

/// One connection to NATS (thread-safe: cnats serialises internally). Owns the C handle
/// and destroys it exactly once; the callback box is released only after that.
public final class NATSConnection: @unchecked Sendable {
    let handle: OpaquePointer
    let options: NATSOptions
    let logger: Logger
    private let events: NATSConnectionEvents
    private let closed = Atomic<Bool>(false)
    /// Objects reachable from C callbacks; released only after the handle is destroyed
    /// (stored properties are released after `deinit` has run).
    private let keptAlive = Mutex<[KeptAlive]>([])
    /// The threads this connection's blocking calls run on (JetStream API requests, key-value
    /// operations, publish submissions, synchronous acks): callers only `await`.
    let pool: BlockingPool

    /// Connects without blocking the caller's thread; see `init(options:logger:)`.
    public static func connect(options: NATSOptions, logger: Logger) async throws -> NATSConnection {
        try await connectPool.run { try NATSConnection(options: options, logger: logger) }
    }

    /// Connecting blocks for up to the connect timeout per server.
    private static let connectPool = BlockingPool(name: "nats-connect", threads: 2)

    /// Connects (blocking: use `connect(options:logger:)` from async code). A server that
    /// answers and refuses throws `NATSError.refused`; with `retryOnFailedConnect`, servers
    /// that do not answer at all are retried in the background.
    init(options: NATSOptions, logger: Logger) throws {
        try NATSLibrary.ensureOpen()
        self.options = options
        self.logger = logger
        let where_ = options.redactedURLs.joined(separator: ",")
        guard !options.urls.isEmpty else { throw NATSError.connection("no NATS URL configured") }

        let events = NATSConnectionEvents(logger: logger, name: options.name, secrets: options.secrets)
        let ptr = Unmanaged.passRetained(events).toOpaque()

        var opts: OpaquePointer?
        var s = natsOptions_Create(&opts)
        guard s == NATS_OK, let opts else {
            Unmanaged<NATSConnectionEvents>.fromOpaque(ptr).release()
            throw NATSError.connection("creating options for \(where_): \(String(cString: natsStatus_GetText(s)))")
        }
        defer { natsOptions_Destroy(opts) }

        func step(_ st: natsStatus, _ what: String) throws {
            if st != NATS_OK {
                throw NATSError.connection("\(what) for \(where_): \(options.scrub(NATSStatus.lastErrorText(st)))")
            }
        }
        do {
            try options.urls.withCStringArray { arr in
                try step(natsOptions_SetServers(opts, arr, Int32(options.urls.count)), "setting servers")
            }
            try step(natsOptions_SetName(opts, options.name), "setting name")
            try step(natsOptions_SetNoRandomize(opts, false), "setting randomize")
            try step(natsOptions_SetAllowReconnect(opts, true), "enabling reconnect")
            try step(natsOptions_SetMaxReconnect(opts, Int32(clamping: options.maxReconnectAttempts)), "setting max reconnect")
            try step(natsOptions_SetReconnectWait(opts, options.reconnectWait.natsMilliseconds()), "setting reconnect wait")
            try step(natsOptions_SetTimeout(opts, options.connectTimeout.natsMilliseconds()), "setting connect timeout")
            try step(natsOptions_SetReconnectBufSize(opts, Int32(clamping: options.reconnectBufferSize)), "setting reconnect buffer")
            try step(natsOptions_SetPingInterval(opts, options.pingInterval.natsMilliseconds()), "setting ping interval")
            try step(natsOptions_SetMaxPingsOut(opts, 3), "setting max pings out")
            if let user = options.user {
                try step(natsOptions_SetUserInfo(opts, user, options.password), "setting user")
            }
            if let token = options.token {
                try step(natsOptions_SetToken(opts, token), "setting token")
            }
            if let creds = options.credentialsFile {
                try step(natsOptions_SetUserCredentialsFromFiles(opts, creds, nil), "loading credentials file \(creds)")
            }
            if options.tlsRequired || options.tlsCAFile != nil || options.tlsCertFile != nil {
                try step(natsOptions_SetSecure(opts, true), "enabling TLS")
            }
            if let ca = options.tlsCAFile {
                try step(natsOptions_LoadCATrustedCertificates(opts, ca), "loading CA file \(ca)")
            }
            if let cert = options.tlsCertFile {
                try step(natsOptions_LoadCertificatesChain(opts, cert, options.tlsKeyFile), "loading certificate \(cert)")
            }
            try step(natsOptions_SetDisconnectedCB(opts, onDisconnected, ptr), "setting disconnected callback")
            try step(natsOptions_SetReconnectedCB(opts, onReconnected, ptr), "setting reconnected callback")
            try step(natsOptions_SetClosedCB(opts, onClosed, ptr), "setting closed callback")
            try step(natsOptions_SetErrorHandler(opts, onAsyncError, ptr), "setting error handler")
        } catch {
            Unmanaged<NATSConnectionEvents>.fromOpaque(ptr).release()
            throw error
        }

        // First a plain connect: a server that answers and refuses (bad credentials, TLS
        // required) is a configuration problem to report at once, with the server's reason.
        // Only when no server answers at all does the connection keep retrying in the
        // background (cnats' retry-on-failed-connect would otherwise swallow the reason and
        // close the connection for good).
        var nc: OpaquePointer?
        s = natsConnection_Connect(&nc, opts)
        var reason = s == NATS_OK ? "" : options.scrub(NATSStatus.lastErrorText(s))
        if s == NATS_NO_SERVER && options.retryOnFailedConnect {
            if let old = nc { natsConnection_Destroy(old) }
            nc = nil
            // With a connected callback the first connect does not block: cnats returns
            // NATS_NOT_YET_CONNECTED and keeps trying in the background.
            s = natsOptions_SetRetryOnFailedConnect(opts, true, onConnected, ptr)
            if s == NATS_OK { s = natsConnection_Connect(&nc, opts) }
        }
        if s == NATS_NOT_YET_CONNECTED, let nc {
            if natsConnection_IsClosed(nc) {
                // cnats gave up at once: not worth retrying.
                let text = options.scrub(NATSConnectionEvents.lastError(nc))
                events.closeRequested.store(true, ordering: .releasing)
                natsConnection_Destroy(nc)
                throw NATSError.connection("connecting to \(where_) as '\(options.name)': \(text)")
            }
            logger.warning("NATS not reachable yet; retrying in the background", metadata: [
                "nats.connection": "\(options.name)", "nats.urls": "\(where_)", "nats.error": "\(reason)",
            ])
            self.handle = nc
        } else if s == NATS_OK, let nc {
            self.handle = nc
        } else {
            if reason.isEmpty { reason = options.scrub(NATSStatus.lastErrorText(s)) }
            if let nc { natsConnection_Destroy(nc) }
            // The callbacks' reference is not released here: cnats might still invoke
            // one; a failed connect leaks this small box instead of risking a crash.
            let message = "connecting to \(where_) as '\(options.name)': \(reason)"
            if s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED || reason.lowercased().contains("authorization") {
                throw NATSError.refused(message)
            }
            throw NATSError.connection(message)
        }
        self.events = events
        // Made last: nothing above may throw with its threads started.
        self.pool = BlockingPool(name: "nats-\(options.name)", threads: options.blockingThreads)
        if s == NATS_OK {
            logger.info("NATS connected", metadata: [
                "nats.connection": "\(options.name)", "nats.url": "\(NATSConnectionEvents.connectedURL(handle))",
            ])
        }
    }

    deinit {
        pool.stop()
        // The callbacks' reference to `events` is dropped by the closed callback.
        events.closeRequested.store(true, ordering: .releasing)
        natsConnection_Close(handle)
        natsConnection_Destroy(handle)
    }

    public var isConnected: Bool { natsConnection_Status(handle) == NATS_CONN_STATUS_CONNECTED }

    public var isClosed: Bool { natsConnection_IsClosed(handle) }

    /// Closed by cnats, not by us (reconnecting gave up or was refused): this connection
    /// will never work again.
    public var isClosedForGood: Bool { isClosed && !events.closeRequested.load(ordering: .acquiring) }

    /// The connection's last error (secrets removed), "" when none.
    public var lastErrorText: String { options.scrub(NATSConnectionEvents.lastError(handle)) }

    /// Throws unless the connection is up: a clear error naming the servers while it is
    /// still (re)connecting, `NATSError.closed` once it is closed.
    public func requireConnected() throws {
        if isConnected { return }
        if isClosed { throw NATSError.closed }
        let last = lastErrorText
        throw NATSError.connection("no NATS server reachable at \(options.redactedURLs.joined(separator: ",")) (\(status.lowercased())\(last.isEmpty ? "" : ": " + last))")
    }

    public var status: String {
        switch natsConnection_Status(handle) {
        case NATS_CONN_STATUS_DISCONNECTED: return "DISCONNECTED"
        case NATS_CONN_STATUS_CONNECTING: return "CONNECTING"
        case NATS_CONN_STATUS_CONNECTED: return "CONNECTED"
        case NATS_CONN_STATUS_CLOSED: return "CLOSED"
        case NATS_CONN_STATUS_RECONNECTING: return "RECONNECTING"
        case NATS_CONN_STATUS_DRAINING_SUBS: return "DRAINING_SUBS"
        case NATS_CONN_STATUS_DRAINING_PUBS: return "DRAINING_PUBS"
        default: return "UNKNOWN"
        }
    }

    /// The server URL currently connected to (user-info removed), or nil.
    public var connectedURL: String? {
        let u = NATSConnectionEvents.connectedURL(handle)
        return u == "?" ? nil : u
    }

    /// How many times the connection was lost / re-established since it was opened.
    public var disconnectCount: Int { events.disconnects.load(ordering: .relaxed) }
    public var reconnectCount: Int { events.reconnects.load(ordering: .relaxed) }

    /// Core NATS publish (no acknowledgment; buffered while reconnecting).
    public func publish(subject: String, data: [UInt8]) throws {
        let s = data.withUnsafeBytes { buf in
            natsConnection_Publish(handle, subject, buf.baseAddress, Int32(buf.count))
        }
        try NATSStatus.check(s, "publish to \(subject)")
    }

    /// Core NATS publish with headers.
    public func publish(subject: String, data: [UInt8], headers: [String: String]) throws {
        let msg = try NATSMessageBuilder.make(subject: subject, data: data, headers: headers)
        defer { natsMsg_Destroy(msg) }
        try NATSStatus.check(natsConnection_PublishMsg(handle, msg), "publish to \(subject)")
    }

    /// Round-trip to the server: everything published before has been processed by it.
    func flushNow(timeout: Duration) throws {
        try NATSStatus.check(natsConnection_FlushTimeout(handle, timeout.natsMilliseconds()), "flush")
    }

    /// A JetStream context whose API requests wait up to `timeout`.
    public func jetStream(timeout: Duration = .seconds(5)) throws -> JetStream {
        try JetStream(connection: self, timeout: timeout)
    }

    /// Pull subscriptions and ordered watches made from this connection (weakly held), so
    /// `drain` can stop them first: cnats 3.4.1 never finishes draining a synchronous
    /// JetStream subscription that is still open.
    private let subscriptions = Mutex<[WeakSubscription]>([])

    func register(_ handle: NATSSubscriptionHandle) {
        subscriptions.withLock { list in
            list.removeAll { $0.handle == nil }
            list.append(WeakSubscription(handle))
        }
    }

    func retainUntilDestroyed(_ object: AnyObject) {
        let box = KeptAlive(object)
        keptAlive.withLock { $0.append(box) }
    }

    /// Graceful shutdown: stops delivery to subscriptions, lets in-flight work finish,
    /// flushes pending publishes, then closes — within `timeout`. Waits without blocking a
    /// thread (the drain runs in cnats' own threads).
    public func drain(timeout: Duration) async throws {
        if closed.load(ordering: .acquiring) { return }
        events.closeRequested.store(true, ordering: .releasing)
        let open = subscriptions.withLock { list in list.compactMap { $0.handle } }
        open.forEach { $0.unsubscribe() }
        let s = natsConnection_DrainTimeout(handle, timeout.natsMilliseconds())
        if s != NATS_OK && s != NATS_CONNECTION_CLOSED {
            close()
            throw NATSStatus.error(s, "drain connection '\(options.name)'")
        }
        // The connection closes itself when the drain is done.
        let deadline = ContinuousClock.now + timeout + .milliseconds(500)
        while !natsConnection_IsClosed(handle) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        close()
        // The "closed" line comes from cnats' callback thread: wait for it, so that it never
        // lands after what the caller prints next (a daemon's one-line last word).
        let logged = ContinuousClock.now + .milliseconds(500)
        while !events.closedLogged.load(ordering: .acquiring) && ContinuousClock.now < logged {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Closes the connection (idempotent). Subscriptions and JetStream contexts made from
    /// it fail with `NATSError.closed` afterwards; the handle is freed when the last
    /// reference goes.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        events.closeRequested.store(true, ordering: .releasing)
        natsConnection_Close(handle)
    }
}

extension Array where Element == String {
    /// Calls `body` with a C `const char **` array of these strings.
    func withCStringArray<R>(_ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) throws -> R) rethrows -> R {
        let dup: [UnsafeMutablePointer<CChar>?] = self.map { strdup($0) }
        defer { dup.forEach { free($0) } }
        var ptrs: [UnsafePointer<CChar>?] = dup.map { $0.map { UnsafePointer($0) } }
        ptrs.append(nil)
        return try ptrs.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}

/// Builds `natsMsg` values (caller destroys unless ownership moves to cnats).
enum NATSMessageBuilder {
    static func make(subject: String, data: [UInt8], headers: [String: String]) throws -> OpaquePointer {
        var msg: OpaquePointer?
        let s = data.withUnsafeBytes { buf in
            natsMsg_Create(&msg, subject, nil, buf.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(buf.count))
        }
        guard s == NATS_OK, let msg else { throw NATSStatus.error(s, "creating message for \(subject)") }
        for (k, v) in headers {
            let hs = natsMsgHeader_Set(msg, k, v)
            if hs != NATS_OK {
                natsMsg_Destroy(msg)
                throw NATSStatus.error(hs, "setting header \(k) on message for \(subject)")
            }
        }
        return msg
    }

    /// All headers of a received message (first value of each key).
    static func headers(of msg: OpaquePointer) -> [String: String] {
        var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var count: Int32 = 0
        guard natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK, let keys else { return [:] }
        defer { free(keys) }
        var out: [String: String] = [:]
        for i in 0..<Int(count) {
            guard let kp = keys[i] else { continue }
            var vp: UnsafePointer<CChar>?
            if natsMsgHeader_Get(msg, kp, &vp) == NATS_OK, let vp {
                out[String(cString: kp)] = String(cString: vp)
            }
        }
        return out
    }

    static func data(of msg: OpaquePointer) -> [UInt8] {
        let n = Int(natsMsg_GetDataLength(msg))
        guard n > 0, let p = natsMsg_GetData(msg) else { return [] }
        return p.withMemoryRebound(to: UInt8.self, capacity: n) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }
}
