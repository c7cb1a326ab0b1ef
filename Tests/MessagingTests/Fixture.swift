import Dispatch
import Foundation
import Logging
import TestSupport
import NATSClient
import SSMDCore

/// A test's own nats-server plus a connection and JetStream context to it. Everything is
/// torn down (server stopped by PID, temp dir removed) even when the body throws.
struct NATSFixture: Sendable {
    let server: NATSTestServer
    let connection: NATSConnection
    let js: JetStream

    func connect(name: String, configure: (inout NATSOptions) -> Void = { _ in }) throws -> NATSConnection {
        var o = NATSOptions(urls: [server.url], name: name)
        o.retryOnFailedConnect = false
        o.reconnectWait = .milliseconds(100)
        configure(&o)
        return try NATSConnection(options: o, logger: testLogger)
    }
}

let testLogger: Logger = {
    var l = Logger(label: "ssmd.tests.nats")
    l.logLevel = .warning
    return l
}()

/// Runs a test body with a fresh server, connection and JetStream context; all torn
/// down afterwards. Bodies are synchronous (cnats calls block) so that `#expect` stays
/// attributed to the running test; don't put `#expect` on other threads.
func withNATS<T>(_ body: (NATSFixture) throws -> T) throws -> T {
    let server = try NATSTestServer()
    defer { server.shutdown() }
    var o = NATSOptions(urls: [server.url], name: "test")
    o.retryOnFailedConnect = false
    o.reconnectWait = .milliseconds(100)
    let connection = try NATSConnection(options: o, logger: testLogger)
    defer { connection.close() }
    let js = try connection.jetStream()
    return try body(NATSFixture(server: server, connection: connection, js: js))
}

/// Runs `body` on `count` dedicated threads released at the same instant; waits for all
/// and rethrows the first error.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    let errors = ErrorBox()
    let gate = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    for i in 0..<count {
        done.enter()
        let t = Thread {
            gate.wait()
            do { try body(i) } catch { errors.add(error) }
            done.leave()
        }
        t.start()
    }
    for _ in 0..<count { gate.signal() }
    done.wait()
    if let e = errors.first { throw e }
}

final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []
    func add(_ e: Error) { lock.lock(); errors.append(e); lock.unlock() }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return errors.first }
}

/// A thread-safe collector for tests.
final class Collector<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ x: T) { lock.lock(); items.append(x); lock.unlock() }
    func append(contentsOf xs: [T]) { lock.lock(); items.append(contentsOf: xs); lock.unlock() }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return items }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
func string(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

func waitUntil(timeout: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
