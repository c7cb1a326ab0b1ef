import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Three (or more) real `nats-server -js` processes clustered on 127.0.0.1 — routes between
/// them, JetStream replicated through Raft — for tests of what happens when a node dies.
/// Each node can be killed and started again on its ports and store.
public final class NATSClusterTestServer: @unchecked Sendable {
    public struct Node: Sendable {
        public let name: String
        public let clientPort: Int
        public let clusterPort: Int
        public let monitorPort: Int
        public let store: URL
        public var url: String { "nats://127.0.0.1:\(clientPort)" }
    }

    public private(set) var nodes: [Node]
    public let directory: URL
    private let lock = NSLock()
    private var pids: [Int: pid_t] = [:]

    /// Every node's client URL, comma-separated, as ssmd's `--nats-url` takes them.
    public var urls: String { nodes.map(\.url).joined(separator: ",") }

    public init(size: Int = 3, timeout: Duration = .seconds(60)) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ssmd-cluster-\(getpid())-\(UUID().uuidString.prefix(8))")
        self.directory = dir
        self.nodes = []
        // A port picked as free can be taken before the node binds it (another test's server
        // starting at the same moment; CI saw a node die on its monitor port): kill the
        // cluster, pick new ports, start again on empty stores.
        var attempt = 0
        while true {
            do {
                nodes = try Self.freshNodes(size: size, in: dir)
                for i in nodes.indices { try start(i) }
                try await waitUntilReady(timeout: timeout)
                return
            } catch NATSTestServer.TestServerError.exited(let log) where log.contains("address already in use") && attempt < 5 {
                attempt += 1
                for i in nodes.indices { await kill(i) }
                try? FileManager.default.removeItem(at: dir)
            } catch {
                teardown()
                throw error
            }
        }
    }

    /// `size` nodes on distinct free ports, each with an empty store under `directory`.
    private static func freshNodes(size: Int, in directory: URL) throws -> [Node] {
        var used = Set<Int>()
        func port() throws -> Int {
            var p = try NATSTestServer.freePort()
            while used.contains(p) { p = try NATSTestServer.freePort() }
            used.insert(p)
            return p
        }
        return try (1...size).map { i in
            let store = directory.appendingPathComponent("n\(i)")
            try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
            return Node(name: "n\(i)", clientPort: try port(), clusterPort: try port(), monitorPort: try port(), store: store)
        }
    }

    deinit { teardown() }

    /// Starts node `i` (again) on its ports and store.
    public func start(_ i: Int) throws {
        let node = nodes[i]
        let routes = nodes.filter { $0.name != node.name }.map { "nats://127.0.0.1:\($0.clusterPort)" }.joined(separator: ",")
        let args = ["-js", "-a", "127.0.0.1", "-p", "\(node.clientPort)", "-m", "\(node.monitorPort)", "-sd", node.store.path,
                    "-n", node.name, "--cluster_name", "ssmd-test", "--cluster", "nats://127.0.0.1:\(node.clusterPort)",
                    "--routes", routes]
        let pid = try Spawn.start(NATSTestServer.serverBinary(), args,
                                  stdout: .file(directory.appendingPathComponent("\(node.name).log").path, append: true))
        lock.withLock { pids[i] = pid }
    }

    /// SIGKILL node `i` and wait for it to exit.
    public func kill(_ i: Int) async {
        guard let pid = lock.withLock({ pids.removeValue(forKey: i) }) else { return }
        if Spawn.poll(pid) != nil { return }   // already gone (and reaped): its PID may be another's now
        Glibc.kill(pid, SIGKILL)
        _ = await Spawn.exit(of: pid)
    }

    public func isRunning(_ i: Int) -> Bool { lock.withLock { pids[i] != nil } }

    /// Every running node answers healthz with JetStream, and a meta leader is elected.
    public func waitUntilReady(timeout: Duration) async throws {
        let ready = await eventually(timeout: timeout, every: .milliseconds(250)) {
            if self.exitedNode() != nil { return true }
            for i in self.nodes.indices where self.isRunning(i) {
                guard let r = try? await NATSTestServer.httpGet(port: self.nodes[i].monitorPort, path: "/healthz"), r.status == 200 else { return false }
            }
            return (try? await self.metaLeader()) != nil
        }
        guard ready, exitedNode() == nil else { throw NATSTestServer.TestServerError.exited(log()) }
    }

    /// A node that was started and has exited since (a port taken, a bad store), if any:
    /// waiting for it to answer would only run out the timeout.
    private func exitedNode() -> Int? {
        let started = lock.withLock { pids }
        return started.first { Spawn.poll($0.value) != nil }?.key
    }

    /// Every node runs, the meta group has a leader with every peer current, and every stream
    /// (KV buckets are streams too) has a leader that counts all its replicas current.
    ///
    /// Unlike `waitUntilReady` this leaves consumers out: nats-server 2.9.10 was seen (CI)
    /// reporting one consumer of a restarted node "not current" for over 240 s. Enough before
    /// the next node loss when a test's state is in streams and buckets (ClusterTests); a test
    /// whose work goes through consumers also needs them caught up (ClusterPipelineTests says
    /// what goes wrong otherwise).
    public func waitUntilStreamsReplicated(timeout: Duration) async throws {
        var last = "no answer yet"
        let ready = await eventually(timeout: timeout, every: .milliseconds(250)) {
            do {
                if let missing = try await self.unreplicated() { last = missing; return false }
                return true
            } catch {
                last = "\(error)"
                return false
            }
        }
        guard ready else { throw NATSTestServer.TestServerError.timeout("not replicated after \(timeout): \(last)\n\(log())") }
    }

    /// What keeps the cluster from being whole (a node down, a group without a leader, a
    /// replica behind), nil when nothing does. Each group is judged by its leader's report.
    func unreplicated() async throws -> String? {
        var streams: Set<String> = []
        var judged: Set<String> = []
        var metaJudged = false
        for i in nodes.indices {
            guard isRunning(i) else { return "\(nodes[i].name) is not running" }
            let r = try await NATSTestServer.httpGet(port: nodes[i].monitorPort, path: "/jsz?streams=true&config=true")
            guard r.status == 200, let o = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any] else {
                return "\(nodes[i].name) /jsz answered \(r.status)"
            }
            if let meta = o["meta_cluster"] as? [String: Any], meta["leader"] as? String == nodes[i].name {
                if let behind = Self.behind(meta, size: nodes.count) { return "meta group: \(behind)" }
                metaJudged = true
            }
            for a in (o["account_details"] as? [[String: Any]]) ?? [] {
                for s in (a["stream_detail"] as? [[String: Any]]) ?? [] {
                    guard let name = s["name"] as? String else { continue }
                    streams.insert(name)
                    guard let cluster = s["cluster"] as? [String: Any], cluster["leader"] as? String == nodes[i].name else { continue }
                    let size = ((s["config"] as? [String: Any])?["num_replicas"] as? Int) ?? nodes.count
                    if let behind = Self.behind(cluster, size: size) { return "stream \(name): \(behind)" }
                    judged.insert(name)
                }
            }
        }
        guard metaJudged else { return "no meta leader" }
        if let leaderless = streams.subtracting(judged).sorted().first { return "stream \(leaderless) has no leader" }
        return nil
    }

    /// Why a Raft group's leader report (`{leader, replicas: [{name, current, offline}]}`) is
    /// not whole for a group of `size` peers, nil when it is.
    static func behind(_ cluster: [String: Any], size: Int) -> String? {
        let replicas = (cluster["replicas"] as? [[String: Any]]) ?? []
        if replicas.count < size - 1 { return "\(replicas.count + 1) of \(size) peers" }
        for r in replicas where (r["current"] as? Bool) != true || (r["offline"] as? Bool) == true {
            return "\(r["name"] as? String ?? "?") not current"
        }
        return nil
    }

    /// The index of the node that leads the JetStream meta group, nil while none does.
    public func metaLeader() async throws -> Int? {
        for i in nodes.indices where isRunning(i) {
            let r = try await NATSTestServer.httpGet(port: nodes[i].monitorPort, path: "/jsz")
            guard let o = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
                  let meta = o["meta_cluster"] as? [String: Any], let leader = meta["leader"] as? String, !leader.isEmpty else { continue }
            return nodes.firstIndex { $0.name == leader }
        }
        return nil
    }

    /// The index of the node that leads a stream's Raft group, nil while none does.
    public func streamLeader(_ stream: String) async throws -> Int? {
        for i in nodes.indices where isRunning(i) {
            let r = try await NATSTestServer.httpGet(port: nodes[i].monitorPort, path: "/jsz?streams=true")
            guard let o = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
                  let accounts = o["account_details"] as? [[String: Any]] else { continue }
            for a in accounts {
                for s in (a["stream_detail"] as? [[String: Any]]) ?? [] where s["name"] as? String == stream {
                    if let cluster = s["cluster"] as? [String: Any], let leader = cluster["leader"] as? String, !leader.isEmpty {
                        return nodes.firstIndex { $0.name == leader }
                    }
                }
            }
        }
        return nil
    }

    public func log() -> String {
        nodes.map { n in
            let text = (try? String(contentsOf: directory.appendingPathComponent("\(n.name).log"), encoding: .utf8)) ?? ""
            return "--- \(n.name)\n" + String(text.suffix(2000))
        }.joined(separator: "\n")
    }

    /// SIGKILL every node without waiting and remove the stores.
    public func teardown() {
        let all = lock.withLock { () -> [pid_t] in
            let p = Array(pids.values)
            pids = [:]
            return p
        }
        for p in all { Spawn.killInBackground(p) }
        try? FileManager.default.removeItem(at: directory)
    }
}
