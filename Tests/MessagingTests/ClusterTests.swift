import Foundation
import Logging
import Testing
import TestSupport
import NATSClient
import Pipeline
import SSMDCore
import WireContract

/// ssmd on a three-node JetStream cluster on loopback: `--stream-replicas 3` makes every
/// stream and bucket R3, a start with the default never lowers them, and the client goes on
/// through the loss of the meta leader and of a stream's leader.
@Suite(.tags(.processes), .processSlot) struct ClusterTests {
    /// num_replicas of each stream as the cluster reports it.
    static func replicas(_ cluster: NATSClusterTestServer) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for i in cluster.nodes.indices where cluster.isRunning(i) {
            let r = try await NATSTestServer.httpGet(port: cluster.nodes[i].monitorPort, path: "/jsz?streams=true&config=true")
            let o = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
            for a in (o?["account_details"] as? [[String: Any]]) ?? [] {
                for s in (a["stream_detail"] as? [[String: Any]]) ?? [] {
                    if let name = s["name"] as? String, let config = s["config"] as? [String: Any] {
                        out[name] = config["num_replicas"] as? Int
                    }
                }
            }
            if !out.isEmpty { return out }
        }
        return out
    }

    @Test func replicatedStreamsSurviveLeaderLossAndAreNeverLowered() async throws {
        let cluster = try await NATSClusterTestServer()
        defer { cluster.teardown() }
        var options = NATSOptions(urls: cluster.nodes.map(\.url), name: "cluster-test")
        options.retryOnFailedConnect = true
        let connection = try await NATSConnection.connect(options: options, logger: Logger(label: "test"))
        defer { connection.close() }
        let js = try connection.jetStream()

        try await Topology(streamReplicas: 3).provision(js)
        let expected = [Streams.work, Streams.secmaster, Streams.deadLetters, Streams.lifecycle,
                        "KV_\(Topology.stateBucket)", "KV_\(Topology.budgetBucket)"]
        var counts = try await Self.replicas(cluster)
        for name in expected { #expect(counts[name] == 3, "\(name): \(counts[name] ?? 0) replicas") }

        // A daemon started without the setting (replicas 1) leaves the operator's R3 alone.
        try await Topology().provision(js)
        counts = try await Self.replicas(cluster)
        for name in expected { #expect(counts[name] == 3, "\(name) lowered to \(counts[name] ?? 0)") }

        // Work is published and a budget key written while first the meta leader, then the
        // work stream's leader, are killed.
        let kv = try await js.keyValue(bucket: Topology.budgetBucket)
        var published = 0
        func publishAndWrite(_ label: String) async -> Bool {
            await eventually(timeout: .seconds(30), every: .milliseconds(250)) {
                do {
                    _ = try await js.publish(OutgoingMessage(subject: Subjects.work(tag: "Fed"), data: Array("\(label)".utf8), msgId: label))
                    let entry = try await kv.get("cluster-test")
                    if let entry { _ = try await kv.update("cluster-test", value: Array(label.utf8), expectedRevision: entry.revision) }
                    else { _ = try await kv.create("cluster-test", value: Array(label.utf8)) }
                    return true
                } catch {
                    return false
                }
            }
        }
        #expect(await publishAndWrite("before"))
        published += 1
        let meta = try #require(try await cluster.metaLeader())
        await cluster.kill(meta)
        #expect(await publishAndWrite("after-meta"), "no progress after the meta leader \(cluster.nodes[meta].name) died:\n\(cluster.log())")
        published += 1
        if let leader = try await cluster.streamLeader(Streams.work) {
            await cluster.kill(leader)
            // Two of three down would lose the quorum: bring the meta leader back first.
            try cluster.start(meta)
            #expect(await publishAndWrite("after-stream"), "no progress after the work stream's leader died:\n\(cluster.log())")
            published += 1
        }
        let state = try await js.streamInfo(name: Streams.work)
        #expect(state.messages == UInt64(published), "work messages: \(state.messages), published \(published)")
        #expect(String(decoding: try #require(try await kv.get("cluster-test")).value, as: UTF8.self) == (published == 3 ? "after-stream" : "after-meta"))
    }
}
