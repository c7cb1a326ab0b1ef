import CNATS

/// Errors of the NATS layer. Every description names the operation and the subject,
/// stream, consumer or key it was about, and never a password, token or credential.
public enum NATSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Connecting failed (message names the URL with any user-info removed).
    case connection(String)
    /// A server answered and refused the connection (bad credentials, not authorized):
    /// retrying with the same settings cannot help.
    case refused(String)
    /// An operation did not complete in time.
    case timeout(String)
    /// The JetStream API answered with an error. `code` is the cnats status
    /// (`natsStatus`, e.g. 1 = NATS_ERR, 7 = NATS_NOT_FOUND), `errorCode` the JetStream
    /// API error code (see `JetStreamErrorCode`; 0 if none was reported).
    case jetStream(code: Int, errorCode: Int, message: String)
    /// A key-value `create` found the key already present.
    case keyExists(String)
    /// A key-value `update` lost a compare-and-set race (API error 10071).
    case revisionMismatch(String)
    /// A stream, consumer, bucket or message does not exist.
    case notFound(String)
    /// `publishAll`: these indices were not acknowledged; retry them.
    case publishFailed(indices: [Int], reason: String)
    /// The connection (or subscription) was closed.
    case closed
    /// Any other cnats failure: the `natsStatus` value and a description.
    case status(Int32, String)

    public var description: String {
        switch self {
        case .connection(let m): return "NATS connection error: \(m)"
        case .refused(let m): return "NATS refused the connection: \(m)"
        case .timeout(let m): return "NATS timeout: \(m)"
        case .jetStream(let code, let errorCode, let m):
            return "JetStream error (status \(code), api error \(errorCode)): \(m)"
        case .keyExists(let m): return "key already exists: \(m)"
        case .revisionMismatch(let m): return "revision mismatch: \(m)"
        case .notFound(let m): return "not found: \(m)"
        case .publishFailed(let indices, let reason):
            let shown = indices.prefix(10).map(String.init).joined(separator: ",")
            let more = indices.count > 10 ? ",…" : ""
            return "JetStream publish failed for \(indices.count) message(s) [\(shown)\(more)]: \(reason)"
        case .closed: return "NATS connection closed"
        case .status(let s, let m): return "NATS error (status \(s)): \(m)"
        }
    }

    /// True for failures that go away by themselves (timeouts, disconnects, no responders
    /// while JetStream restarts): callers may retry.
    public var isTransient: Bool {
        switch self {
        case .timeout, .connection: return true
        case .status(let s, _):
            return s == Int32(NATS_TIMEOUT.rawValue) || s == Int32(NATS_CONNECTION_DISCONNECTED.rawValue)
                || s == Int32(NATS_NO_RESPONDERS.rawValue) || s == Int32(NATS_NOT_YET_CONNECTED.rawValue)
        case .jetStream(let code, let errorCode, _):
            return code == Int(NATS_TIMEOUT.rawValue) || code == Int(NATS_NO_RESPONDERS.rawValue)
                || JetStreamErrorCode.clusterUnavailable.matches(errorCode)
        case .publishFailed: return true
        default: return false
        }
    }
}

/// The JetStream API error codes ssmd reacts to (nats-server's `errors.json`; codes are
/// never reused).
public enum JetStreamErrorCode: Int, Sendable, CaseIterable {
    /// "JetStream system temporarily unavailable": a group (the meta group, a stream's or a
    /// consumer's) has no leader for the moment — a node died or came back.
    case clusterUnavailable = 10008
    case consumerNameInUse = 10013
    case consumerNotFound = 10014
    case noMessageFound = 10037
    case streamNameInUse = 10058
    case streamNotFound = 10059
    case subjectsOverlap = 10065
    /// A compare-and-set lost its race: the subject's last sequence was not the expected one.
    case wrongLastSequence = 10071
    /// Another consumer of the work-queue stream already has this filter.
    case workQueueFilterTaken = 10100
    case consumerExistsAndActive = 10105
    case consumerAlreadyExists = 10148

    /// Whether `code` is this one.
    public func matches(_ code: Int) -> Bool { code == rawValue }
    func matches(_ code: jsErrCode) -> Bool { Int(code.rawValue) == rawValue }
}

extension NATSError {
    /// The JetStream API error code, when the server gave a known one.
    public var jetStreamCode: JetStreamErrorCode? {
        if case .jetStream(_, let code, _) = self { return JetStreamErrorCode(rawValue: code) }
        return nil
    }
}

/// Helpers to turn a cnats status into a `NATSError` with a useful, secret-free message.
enum NATSStatus {
    /// The text of the calling thread's last cnats error, or the generic status text.
    /// Must be called on the thread that made the failing call, right after it.
    static func lastErrorText(_ s: natsStatus) -> String {
        var last = NATS_OK
        if let p = nats_GetLastError(&last), last == s {
            var text = String(cString: p)
            // cnats prefixes "(file.c:123): "; keep the message only.
            if text.hasPrefix("("), let close = text.firstIndex(of: ")"),
               text[close...].hasPrefix("): "), text[..<close].contains(".c:") {
                text = String(text[text.index(close, offsetBy: 3)...])
            }
            if !text.isEmpty { return text }
        }
        return String(cString: natsStatus_GetText(s))
    }

    static func error(_ s: natsStatus, _ operation: String, jsErr: jsErrCode = jsErrCode(rawValue: 0)) -> NATSError {
        let text = lastErrorText(s)
        let raw = Int32(s.rawValue)
        let msg = "\(operation): \(text)"
        if s == NATS_CONNECTION_CLOSED { return .closed }
        if s == NATS_TIMEOUT { return .timeout(msg) }
        // stream not found / consumer not found / no message found
        let notFound: [JetStreamErrorCode] = [.streamNotFound, .consumerNotFound, .noMessageFound]
        if s == NATS_NOT_FOUND || notFound.contains(where: { $0.matches(jsErr) }) {
            return .notFound(jsErr.rawValue != 0 ? "\(msg) (api error \(jsErr.rawValue))" : msg)
        }
        if jsErr.rawValue != 0 { return .jetStream(code: Int(raw), errorCode: Int(jsErr.rawValue), message: msg) }
        return .status(raw, msg)
    }

    @inline(__always)
    static func check(_ s: natsStatus, _ operation: @autoclosure () -> String) throws {
        if s != NATS_OK { throw error(s, operation()) }
    }

    @inline(__always)
    static func check(_ s: natsStatus, _ jsErr: jsErrCode, _ operation: @autoclosure () -> String) throws {
        if s != NATS_OK { throw error(s, operation(), jsErr: jsErr) }
    }
}

/// cnats library initialisation, done once per process (thread-safe lazy global).
enum NATSLibrary {
    static let openStatus: UInt32 = nats_Open(-1).rawValue

    static func ensureOpen() throws {
        let s = openStatus
        if s != NATS_OK.rawValue && s != NATS_ILLEGAL_STATE.rawValue {
            throw NATSError.status(Int32(s), "nats_Open failed")
        }
    }
}

extension Duration {
    /// Whole milliseconds, at least `minimum` (cnats takes int64 milliseconds).
    func natsMilliseconds(minimum: Int64 = 1) -> Int64 {
        let (s, atto) = components
        let ms = s * 1000 + atto / 1_000_000_000_000_000
        return Swift.max(ms, minimum)
    }

    /// Nanoseconds (JetStream configs take int64 nanoseconds).
    var natsNanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
