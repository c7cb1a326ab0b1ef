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

    func connect(name: String, configure: (inout NATSOptions) -> Void = { _ in }) async throws -> NATSConnection {
        var o = NATSOptions(urls: [server.url], name: name)
        o.retryOnFailedConnect = false
        o.reconnectWait = .milliseconds(100)
        configure(&o)
        return try await NATSConnection.connect(options: o, logger: testLogger)
    }
}

let testLogger: Logger = {
    var l = Logger(label: "ssmd.tests.nats")
    l.logLevel = .warning
    return l
}()

/// Runs a test body with a fresh server, connection and JetStream context; all torn
/// down afterwards.
func withNATS<T>(_ body: (NATSFixture) async throws -> T) async throws -> T {
    let server = try await NATSTestServer()
    defer { server.teardown() }
    var o = NATSOptions(urls: [server.url], name: "test")
    o.retryOnFailedConnect = false
    o.reconnectWait = .milliseconds(100)
    let connection = try await NATSConnection.connect(options: o, logger: testLogger)
    defer { connection.close() }
    let js = try connection.jetStream()
    return try await body(NATSFixture(server: server, connection: connection, js: js))
}

/// Runs `body` in `count` tasks at once; waits for all and rethrows the first error.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<count { group.addTask { try await body(i) } }
        try await group.waitForAll()
    }
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

func waitUntil(timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    await eventually(timeout: timeout, every: .milliseconds(20)) { await condition() }
}
