import Foundation
import Testing
import NATSClient
import SSMDCore

@Suite("JetStream publishing")
struct PublishTests {
    @Test func msgIdDeduplicates() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "SECMASTER", subjects: ["ssmd.series.>"], duplicateWindow: .seconds(60)))
            let m = OutgoingMessage(subject: "ssmd.series.KXNBAGAME", data: bytes("{}"), msgId: "series:KXNBAGAME:cycle-1")
            let a = try await f.js.publish(m)
            let b = try await f.js.publish(m)
            #expect(a.stream == "SECMASTER")
            #expect(!a.duplicate)
            #expect(b.duplicate)
            #expect(b.sequence == a.sequence)
            // Also through publishAll, and via the raw header.
            let acks = try await f.js.publishAll([
                m,
                OutgoingMessage(subject: "ssmd.series.X", data: [], headers: ["Nats-Msg-Id": "raw-1"]),
                OutgoingMessage(subject: "ssmd.series.X", data: [], headers: ["Nats-Msg-Id": "raw-1"]),
            ])
            #expect(acks.map(\.duplicate) == [true, false, true])
            #expect(try await f.js.streamInfo(name: "SECMASTER").messages == 2)
        }
    }

    @Test func publishToNoStreamFails() async throws {
        try await withNATS { f in
            await #expect(throws: NATSError.self) {
                _ = try await f.js.publish(OutgoingMessage(subject: "nowhere.at.all", data: [1]), timeout: .seconds(1))
            }
            do {
                _ = try await f.js.publishAll([OutgoingMessage(subject: "nowhere.x", data: [1]),
                                         OutgoingMessage(subject: "nowhere.y", data: [2])], timeout: .seconds(1))
                Issue.record("expected publishFailed")
            } catch let NATSError.publishFailed(indices, reason) {
                #expect(indices == [0, 1])
                #expect(!reason.isEmpty)
            }
        }
    }

    @Test func publishAllTenThousandThenDrain() async throws {
        let figures = try await withNATS { f -> (Double, Double) in
            try await f.js.ensureStream(StreamSpec(name: "BULK", subjects: ["bulk.>"], retention: .workQueue))
            try await f.js.ensureConsumer(stream: "BULK", ConsumerSpec(durableName: "drain", ackWait: .seconds(30),
                                                                 maxAckPending: 10_000))
            let n = 10_000
            let payload = [UInt8](repeating: 0x61, count: 200)
            let messages = (0..<n).map { OutgoingMessage(subject: "bulk.\($0 % 50)", data: payload, msgId: "m-\($0)") }
            let clock = ContinuousClock()
            let t0 = clock.now
            let acks = try await f.js.publishAll(messages, timeout: .seconds(30))
            let pubTime = clock.now - t0
            #expect(acks.count == n)
            #expect(Set(acks.map(\.sequence)) == Set(1...UInt64(n)))
            #expect(acks.allSatisfy { !$0.duplicate && $0.stream == "BULK" })
            #expect(try await f.js.streamInfo(name: "BULK").messages == UInt64(n))

            let sub = try await f.js.pullSubscribe(stream: "BULK", consumer: "drain")
            var received = 0
            let t1 = clock.now
            while received < n {
                let batch = try await sub.fetch(batch: 256, maxWait: .seconds(2))
                if batch.isEmpty { break }
                for m in batch { try m.ack() }
                received += batch.count
            }
            try await f.connection.flush(timeout: .seconds(5))
            let drainTime = clock.now - t1
            #expect(received == n)
            let secs = { (d: Duration) in Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
            return (Double(n) / secs(pubTime), Double(n) / secs(drainTime))
        }
        print("throughput: publishAll \(Int(figures.0)) msg/s; fetch(256)+ack \(Int(figures.1)) msg/s")
    }

    @Test func lastValueStreamAndOrderedWatch() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "SECMASTER", subjects: ["ssmd.market.>"], maxMsgsPerSubject: 1))
            for v in 1...3 {
                for m in ["A", "B", "C"] {
                    _ = try await f.js.publish(OutgoingMessage(subject: "ssmd.market.nba.KX.\(m)", data: bytes("\(m)-v\(v)")))
                }
            }
            _ = try await f.js.publish(OutgoingMessage(subject: "ssmd.market.nfl.KX.Z", data: bytes("Z-v1")))
            let info = try await f.js.streamInfo(name: "SECMASTER", subjectsFilter: "ssmd.market.>")
            #expect(info.messages == 4)
            #expect(info.subjects == ["ssmd.market.nba.KX.A": 1, "ssmd.market.nba.KX.B": 1,
                                      "ssmd.market.nba.KX.C": 1, "ssmd.market.nfl.KX.Z": 1])

            let watch = try await f.js.orderedWatch(stream: "SECMASTER", filterSubject: "ssmd.market.nba.>", deliverLastPerSubject: true)
            var snapshot: [String: String] = [:]
            while let m = try await watch.next(timeout: .milliseconds(500)) {
                snapshot[m.subject] = string(m.data)
                if snapshot.count == 3 { break }
            }
            #expect(snapshot == ["ssmd.market.nba.KX.A": "A-v3", "ssmd.market.nba.KX.B": "B-v3", "ssmd.market.nba.KX.C": "C-v3"])
            #expect(try await watch.next(timeout: .milliseconds(300)) == nil, "nothing more until a live update")

            _ = try await f.js.publish(OutgoingMessage(subject: "ssmd.market.nfl.KX.Z", data: bytes("Z-v2"))) // not watched
            _ = try await f.js.publish(OutgoingMessage(subject: "ssmd.market.nba.KX.B", data: bytes("B-v4")))
            let live = try await watch.next(timeout: .seconds(2))
            #expect(live?.subject == "ssmd.market.nba.KX.B")
            #expect(live.map { string($0.data) } == "B-v4")
            #expect(live?.streamSequence == 12)
            let last = try await f.js.lastMessage(stream: "SECMASTER", subject: "ssmd.market.nba.KX.B")
            #expect(last.map { string($0.data) } == "B-v4")
            watch.close()
        }
    }
}
