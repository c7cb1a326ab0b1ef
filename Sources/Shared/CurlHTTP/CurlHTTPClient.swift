import CCurl
import Foundation
import SSMDCore

/// What came back from one HTTP GET.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var contentType: String?
    public var elapsedSeconds: Double
    /// The server's `Date` header: its clock when it answered (1 s resolution).
    public var serverDate: Timestamp? = nil
}

/// Transport-level failure: nothing usable came back (or too much did).
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case connect, timeout, reset, tooLarge, other }
    public var kind: Kind
    public var code: Int32
    public var message: String
    public var url: String
    public var description: String { "HTTP transport error (\(kind), curl \(code)) for \(url): \(message)" }
}

public struct HTTPClientOptions: Sendable {
    public var connectTimeout: Duration = .seconds(5)
    public var totalTimeout: Duration = .seconds(30)
    /// A response larger than this is refused (a runaway page must not exhaust memory).
    public var maxResponseBytes: Int = 64 << 20
    public var userAgent: String = "ssmd/\(SSMD.version)"
    /// Transfers in flight at once (each on its own thread while it lasts).
    public var concurrency: Int = 16
    public init() {}
}

/// HTTP GET over libcurl. The only file that imports `CCurl`.
///
/// Each handle keeps its connection alive between requests (connection reuse); handles are
/// pooled so concurrent callers never share one. Transfers block, so they run on the
/// client's own threads (at most `HTTPClientOptions.concurrency` at once); callers await.
public final class CurlHTTPClient: @unchecked Sendable {
    private let options: HTTPClientOptions
    private let lock = NSLock()
    private var idle: [OpaquePointer] = []
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    private let pool: BlockingPool

    public init(options: HTTPClientOptions = HTTPClientOptions()) {
        _ = CurlHTTPClient.globalInit
        self.options = options
        self.pool = BlockingPool(name: "http", threads: options.concurrency)
    }

    /// One GET, on one of the client's threads.
    public func get(url: String, headers: [(String, String)] = []) async throws -> HTTPResponse {
        try await pool.run { try self.perform(url: url, headers: headers) }
    }

    deinit {
        pool.stop()
        for h in idle { curl_easy_cleanup(UnsafeMutableRawPointer(h)) }
    }

    /// Accumulates the body and enforces the size cap from inside curl's write callback.
    private final class Sink {
        var body: [UInt8] = []
        let limit: Int
        var overflowed = false
        var serverDate: Timestamp?
        init(limit: Int) { self.limit = limit }
    }

    /// The blocking transfer.
    func perform(url: String, headers: [(String, String)]) throws -> HTTPResponse {
        let handle = checkout()
        defer { checkin(handle) }
        let h = UnsafeMutableRawPointer(handle)
        curl_easy_reset(h)
        let sink = Sink(limit: options.maxResponseBytes)
        let box = Unmanaged.passRetained(sink)
        defer { box.release() }

        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        list = curl_slist_append(list, "Accept: application/json")
        defer { curl_slist_free_all(list) }

        ssmd_curl_setopt_string(h, CURLOPT_URL, url)
        ssmd_curl_setopt_long(h, CURLOPT_HTTPGET, 1)
        ssmd_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        ssmd_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(options.connectTimeout.milliseconds))
        ssmd_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(options.totalTimeout.milliseconds))
        ssmd_curl_setopt_string(h, CURLOPT_ACCEPT_ENCODING, "")  // every encoding curl supports
        ssmd_curl_setopt_string(h, CURLOPT_USERAGENT, options.userAgent)
        ssmd_curl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        ssmd_curl_setopt_slist(h, CURLOPT_HTTPHEADER, list)
        ssmd_curl_setopt_off_t(h, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(options.maxResponseBytes))
        ssmd_curl_setopt_pointer(h, CURLOPT_WRITEDATA, box.toOpaque())
        ssmd_curl_setopt_write_function(h) { ptr, size, count, userdata in
            guard let ptr, let userdata else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue()
            let n = size * count
            if sink.body.count + n > sink.limit {
                sink.overflowed = true
                return 0  // makes curl abort with CURLE_WRITE_ERROR
            }
            ptr.withMemoryRebound(to: UInt8.self, capacity: n) {
                sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
            }
            return n
        }

        ssmd_curl_setopt_pointer(h, CURLOPT_HEADERDATA, box.toOpaque())
        ssmd_curl_setopt_header_function(h) { ptr, size, count, userdata in
            let n = size * count
            guard let ptr, let userdata, n > 5, n < 200 else { return n }
            // Only `Date:` is wanted; header lines arrive one per call.
            let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self)
            let name = line.prefix(15).lowercased()
            if name.hasPrefix("date:") {
                let sink = Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue()
                sink.serverDate = Timestamp(httpDate: line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines))
            } else if name == "content-length:" {
                // Room for the whole body at once: growing it by doubling holds up to three
                // times a large page while copying. (A compressed body's length is a lower
                // bound; a length over the cap is refused by curl anyway.)
                let sink = Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue()
                if let length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespacesAndNewlines)), length > 0, length <= sink.limit {
                    sink.body.reserveCapacity(length)
                }
            }
            return n
        }

        let code = curl_easy_perform(h)
        if code != CURLE_OK {
            let message = String(cString: curl_easy_strerror(code))
            let kind: HTTPTransportError.Kind
            if sink.overflowed || code == CURLE_FILESIZE_EXCEEDED { kind = .tooLarge }
            else if code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST { kind = .connect }
            else if code == CURLE_OPERATION_TIMEDOUT { kind = .timeout }
            else if code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR || code == CURLE_GOT_NOTHING
                        || code == CURLE_PARTIAL_FILE { kind = .reset }
            else { kind = .other }
            // A failed transfer may leave the connection in an unknown state: drop the handle.
            discardConnection(handle)
            throw HTTPTransportError(kind: kind, code: Int32(code.rawValue),
                                     message: kind == .tooLarge ? "response larger than \(options.maxResponseBytes) bytes" : message,
                                     url: url)
        }
        var status: Int = 0
        ssmd_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        var elapsed: Double = 0
        ssmd_curl_getinfo_double(h, CURLINFO_TOTAL_TIME, &elapsed)
        var contentType: UnsafeMutablePointer<CChar>? = nil
        ssmd_curl_getinfo_string(h, CURLINFO_CONTENT_TYPE, &contentType)
        return HTTPResponse(status: status, body: sink.body,
                            contentType: contentType.map { String(cString: $0) }, elapsedSeconds: elapsed,
                            serverDate: sink.serverDate)
    }

    private var discarded: Set<OpaquePointer> = []

    private func checkout() -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        if let h = idle.popLast() { return h }
        return OpaquePointer(curl_easy_init()!)
    }

    private func discardConnection(_ h: OpaquePointer) {
        lock.lock()
        discarded.insert(h)
        lock.unlock()
    }

    private func checkin(_ h: OpaquePointer) {
        lock.lock()
        defer { lock.unlock() }
        if discarded.remove(h) != nil {
            curl_easy_cleanup(UnsafeMutableRawPointer(h))
        } else {
            idle.append(h)
        }
    }
}

