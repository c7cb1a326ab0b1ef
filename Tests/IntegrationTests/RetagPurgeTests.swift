import Foundation
import Testing
import TestSupport
import NATSClient
import Pipeline
import SSMDCore
import SyncCore
import WireContract

/// A series the exchange re-tags moves to another `ssmd.market.<tag>.…` subject; the
/// series-fetcher purges what it left under the old tag, so connectors never read a stale
/// last value there.
@Suite(.tags(.processes), .processSlot) struct RetagPurgeTests {
    @Test func aReTaggedSeriesLeavesNoLastValueUnderItsOldTag() async throws {
        let h = try await PipelineHarness(name: "retag", simulatorArguments: PipelineEndToEndTests.frozenClock)
        defer { h.teardown() }
        let first = try await h.run("series-fetcher", ["--once", "--category", "Economics"])
        #expect(first.status == 0, "\(first.output)")
        let (connection, js) = try await h.jetStream()
        defer { connection.close() }
        let kv = try await js.keyValue(bucket: Topology.stateBucket)
        let key = StateKeys.routes(schedule: "all")
        let memory = try JSONCodec.decode(RouteMemory.self, from: try #require(try await kv.get(key)).value)
        let (series, tag) = try #require(memory.routes.sorted { $0.key < $1.key }.first)

        // As if the series had been routed under "Old Tag" until now: a last value there.
        var earlier = memory.routes
        earlier[series] = "Old Tag"
        _ = try await kv.put(key, value: try JSONCodec.encode(RouteMemory(routes: earlier)))
        let stale = Subjects.market(tag: "Old Tag", series: series, market: "\(series)-X")
        let other = Subjects.market(tag: "Old Tag", series: "\(series)OTHER", market: "\(series)OTHER-X")
        _ = try await js.publishAll([OutgoingMessage(subject: stale, data: Array("{}".utf8)),
                                     OutgoingMessage(subject: other, data: Array("{}".utf8))])

        let second = try await h.run("series-fetcher", ["--once", "--category", "Economics"])
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("series re-tagged"), "\(second.output)")
        #expect(try await js.lastMessage(stream: Streams.secmaster, subject: stale) == nil, "the old tag's last value stays")
        #expect(try await js.lastMessage(stream: Streams.secmaster, subject: other) != nil, "another series' subject was purged")
        let after = try JSONCodec.decode(RouteMemory.self, from: try #require(try await kv.get(key)).value)
        #expect(after.routes[series] == tag)
    }
}
