import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging

/// Waits until `condition` holds or `timeout` passes; returns whether it held.
func eventually(timeout: Double = 10, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return try await condition()
}

/// Texts received by a test WebSocket client, and whether the connection has ended.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var _texts: [String] = []
    private var _closed = false
    private var _closeError: String?

    func add(_ s: String) { lock.lock(); _texts.append(s); lock.unlock() }
    func close(_ error: String?) { lock.lock(); _closed = true; _closeError = error; lock.unlock() }

    var texts: [String] { lock.lock(); defer { lock.unlock() }; return _texts }
    var closed: Bool { lock.lock(); defer { lock.unlock() }; return _closed }
    var closeError: String? { lock.lock(); defer { lock.unlock() }; return _closeError }

    var objects: [[String: Any]] {
        texts.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

/// A WebSocket client (swift-websocket's `WebSocketClient`) run in a task: what it
/// receives lands in `inbox`, what is passed to `send` is written.
final class WSTestClient: Sendable {
    let inbox = Inbox()
    private let outgoing: AsyncStream<String>.Continuation
    private let task: Task<Void, Never>

    init(port: Int, path: String = "/trade-api/ws/v2", headers: [String: String]) {
        var fields = HTTPFields()
        for (k, v) in headers { fields[HTTPField.Name(k)!] = v }
        let (stream, cont) = AsyncStream<String>.makeStream()
        outgoing = cont
        let inbox = self.inbox
        var logger = Logger(label: "ws-test-client")
        logger.logLevel = .critical
        let url = "ws://127.0.0.1:\(port)\(path)"
        task = Task {
            do {
                try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 22, additionalHeaders: fields),
                                                  logger: logger) { inbound, outbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await text in stream { try await outbound.write(.text(text)) }
                        }
                        for try await message in inbound.messages(maxSize: 1 << 22) {
                            if case .text(let s) = message { inbox.add(s) }
                        }
                        group.cancelAll()
                    }
                }
                inbox.close(nil)
            } catch {
                inbox.close("\(error)")
            }
        }
    }

    func send(_ text: String) { outgoing.yield(text) }

    /// The first received object matching `match`, waiting up to `timeout`.
    func first(timeout: Double = 10, where match: @escaping ([String: Any]) -> Bool) async -> [String: Any]? {
        var found: [String: Any]?
        _ = await eventually(timeout: timeout) {
            found = inbox.objects.first(where: match)
            return found != nil
        }
        return found
    }

    func close() async {
        outgoing.finish()
        task.cancel()
        _ = await task.value
    }
}
