import Dispatch
import Foundation
import Logging
import TestSupport
import NATSClient
import SSMDCore

/// A test's NATS — an account of its own on the shared server, or a private server the
/// test may stop and start — plus a connection and JetStream context to it.
struct NATSFixture: Sendable {
    /// The private server (`withPrivateNATS` only).
    let privateServer: NATSTestServer?
    let url: String
    let connection: NATSConnection
    let js: JetStream

    var server: NATSTestServer {
        guard let privateServer else { fatalError("withNATS shares a server: use withPrivateNATS to stop or start it") }
        return privateServer
    }

    func connect(name: String, configure: (inout NATSOptions) -> Void = { _ in }) async throws -> NATSConnection {
        var o = NATSOptions(urls: [url], name: name)
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

/// Runs a test body with a fresh JetStream account on the shared server (nothing another
/// test made is visible in it), a connection and a JetStream context.
func withNATS<T>(_ body: (NATSFixture) async throws -> T) async throws -> T {
    try await withFixture(url: NATSTestServer.sharedAccount().url, server: nil, body)
}

/// Runs a test body with a private server (which it may stop, kill and restart), torn down
/// afterwards.
func withPrivateNATS<T>(_ body: (NATSFixture) async throws -> T) async throws -> T {
    let server = try await NATSTestServer()
    defer { server.teardown() }
    return try await withFixture(url: server.url, server: server, body)
}

private func withFixture<T>(url: String, server: NATSTestServer?, _ body: (NATSFixture) async throws -> T) async throws -> T {
    var o = NATSOptions(urls: [url], name: "test")
    o.retryOnFailedConnect = false
    o.reconnectWait = .milliseconds(100)
    let connection = try await NATSConnection.connect(options: o, logger: testLogger)
    defer { connection.close() }
    let js = try connection.jetStream()
    return try await body(NATSFixture(privateServer: server, url: url, connection: connection, js: js))
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
