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

        try await Topology(streamReplicas: 3, coordinationReplicas: 3).provision(js)
        let expected = [Streams.work, Streams.secmaster, Streams.deadLetters, Streams.lifecycle,
                        "KV_\(Topology.stateBucket)", "KV_\(Topology.budgetBucket)"]
        var counts = try await Self.replicas(cluster)
        for name in expected { #expect(counts[name] == 3, "\(name): \(counts[name] ?? 0) replicas") }

        // A daemon started without the setting (replicas 1) leaves the operator's R3 alone.
        try await Topology().provision(js)
        counts = try await Self.replicas(cluster)
        for name in expected { #expect(counts[name] == 3, "\(name) lowered to \(counts[name] ?? 0)") }

        // Work is published and a budget key written while first the meta leader, then (once
        // the meta leader is back and the cluster whole again) the work stream's leader are
        // killed: one machine lost at a time, as a three-node cluster is built to survive.
        let kv = try await js.keyValue(bucket: Topology.budgetBucket)
        var published = 0
        var lastWritten = ""
        func publishAndWrite(_ label: String) async -> Bool {
            // A publish or update whose reply was lost in an election may still have landed:
            // the retry is deduplicated by its message ID, and the update re-reads the revision.
            lastWritten = label
            return await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
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
        try cluster.start(meta)
        // The restarted node catches up every stream through Raft before the next loss.
        try await cluster.waitUntilStreamsReplicated(timeout: .seconds(90))
        let leader = try #require(try await cluster.streamLeader(Streams.work))
        await cluster.kill(leader)
        #expect(await publishAndWrite("after-stream"), "no progress after the work stream's leader \(cluster.nodes[leader].name) died:\n\(cluster.log())")
        published += 1

        var messages: UInt64?
        let counted = await eventually(timeout: .seconds(30), every: .milliseconds(250)) {
            messages = try? await js.streamInfo(name: Streams.work).messages
            return messages == UInt64(published)
        }
        #expect(counted, "work messages: \(String(describing: messages)), published \(published)")
        var value: String?
        _ = await eventually(timeout: .seconds(30), every: .milliseconds(250)) {
            value = (try? await kv.get("cluster-test")).flatMap { $0 }.map { String(decoding: $0.value, as: UTF8.self) }
            return value != nil
        }
        #expect(value == lastWritten)
    }
}
