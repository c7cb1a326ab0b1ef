#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import KalshiSimulator
import Logging

/// A deliberately small HTTP/1.1 client over a blocking loopback socket: one request per
/// connection (`Connection: close`), so tests see exactly what the server wrote, including
/// truncated or malformed bodies, without a client library smoothing it over.
struct HTTPResult {
    var status: Int
    var headers: [String: String]
    var body: Data
    var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    var object: [String: Any] { (json as? [String: Any]) ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

enum HTTPTestError: Error { case connect, malformed(String) }

/// Runs the blocking exchange on a Dispatch thread: blocking a thread of Swift's
/// cooperative pool (2 threads here) would starve the in-process server of threads.
func httpRequest(port: Int, method: String = "GET", path: String, body: String? = nil,
                 headers: [String: String] = [:]) async throws -> HTTPResult {
    try await withCheckedThrowingContinuation { cont in
        DispatchQueue.global().async {
            cont.resume(with: Result { try blockingHTTPRequest(port: port, method: method, path: path, body: body, headers: headers) })
        }
    }
}

func blockingHTTPRequest(port: Int, method: String, path: String, body: String?,
                         headers: [String: String]) throws -> HTTPResult {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HTTPTestError.connect }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { throw HTTPTestError.connect }
    // Never hang a test on a server that neither answers nor closes.
    var timeout = timeval(tv_sec: 15, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var req = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    for (k, v) in headers { req += "\(k): \(v)\r\n" }
    if let body { req += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
    req += "\r\n" + (body ?? "")
    let bytes = Array(req.utf8)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw HTTPTestError.connect }
        sent += n
    }
    var raw = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buf, buf.count, 0)
        if n <= 0 { break }
        raw.append(contentsOf: buf[0..<n])
    }
    return try parseHTTP(raw)
}

func parseHTTP(_ raw: [UInt8]) throws -> HTTPResult {
    let sep: [UInt8] = [13, 10, 13, 10]
    guard let end = (0..<max(0, raw.count - 3)).first(where: { Array(raw[$0..<$0 + 4]) == sep }) else {
        throw HTTPTestError.malformed("no header end")
    }
    let head = String(decoding: raw[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
    let statusParts = head[0].split(separator: " ")
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw HTTPTestError.malformed(head[0]) }
    var headers: [String: String] = [:]
    for line in head.dropFirst() {
        guard let c = line.firstIndex(of: ":") else { continue }
        headers[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
    }
    var body = Array(raw[(end + 4)...])
    if headers["transfer-encoding"]?.lowercased() == "chunked" {
        var out = [UInt8]()
        var i = 0
        while i < body.count {
            guard let lineEnd = (i..<(body.count - 1)).first(where: { body[$0] == 13 && body[$0 + 1] == 10 }) else { break }
            let sizeText = String(decoding: body[i..<lineEnd], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { break }
            if size == 0 { break }
            let start = lineEnd + 2
            let stop = min(body.count, start + size)
            out.append(contentsOf: body[start..<stop])
            i = stop + 2
        }
        body = out
    }
    return HTTPResult(status: status, headers: headers, body: Data(body))
}

/// A simulator served in-process on an ephemeral loopback port for one test.
struct TestServer {
    let server: SimServer
    let port: Int
    let task: Task<Void, any Error>

    static let fixedStart: Int64 = 1_795_600_000  // 2026-11-25T09:46:40Z

    static func start(scale: Double = 0.02, seed: UInt64 = 42, speed: Double = 0,
                      settings: SimSettings = { var s = SimSettings(); s.rateLimit = false; return s }(),
                      authenticator: RequestAuthenticator = RequestAuthenticator()) async throws -> TestServer {
        var c = SimConfiguration()
        c.settings = settings
        c.authenticator = authenticator
        c.port = 0
        c.scale = scale
        c.seed = seed
        c.startTime = fixedStart
        c.clockSpeed = speed
        let s = SimServer(configuration: c)
        var logger = Logger(label: "kalshi-sim-test")
        logger.logLevel = .critical  // cancelling the server task logs an expected error
        let (port, task) = try await s.start(logger: logger)
        return TestServer(server: s, port: port, task: task)
    }

    func get(_ path: String) async throws -> HTTPResult { try await httpRequest(port: port, path: path) }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// Sends `request` raw and reads until the server closes or fails the connection.
/// Returns what was read and the errno of the failing `recv` (0 = orderly close, FIN).
func rawExchange(port: Int, request: String) async -> (bytes: [UInt8], recvErrno: Int32) {
    await withCheckedContinuation { cont in
        DispatchQueue.global().async {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            var timeout = timeval(tv_sec: 15, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let bytes = Array(request.utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            var raw = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buf, buf.count, 0)
                if n < 0 { cont.resume(returning: (raw, errno)); return }
                if n == 0 { cont.resume(returning: (raw, 0)); return }
                raw.append(contentsOf: buf[0..<n])
            }
        }
    }
}
