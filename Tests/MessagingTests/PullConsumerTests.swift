import Foundation
import Testing
import NATSClient
import SSMDCore
import TestSupport

@Suite("Pull consumers")
struct PullConsumerTests {
    @Test func twoSubscribersOnOneDurableSplitTheWork() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "WORK", subjects: ["ssmd.work.>"], retention: .workQueue))
            try await f.js.ensureConsumer(stream: "WORK", ConsumerSpec(durableName: "pool-a", filterSubject: "ssmd.work.a",
                                                                 ackWait: .seconds(30), maxAckPending: 1000))
            let n = 400
            _ = try await f.js.publishAll((0..<n).map { OutgoingMessage(subject: "ssmd.work.a", data: bytes("item-\($0)")) })

            let c2 = try await f.connect(name: "replica-2")
            defer { c2.close() }
            let subs = [try await f.js.pullSubscribe(stream: "WORK", consumer: "pool-a"),
                        try await c2.jetStream().pullSubscribe(stream: "WORK", consumer: "pool-a")]
            let got = [Collector<String>(), Collector<String>()]
            let deliveryCounts = Collector<UInt64>()
            try await concurrently(2) { i in
                var idle = 0
                while idle < 2 {
                    let batch = try await subs[i].fetch(batch: 10, maxWait: .milliseconds(300))
                    if batch.isEmpty { idle += 1; continue }
                    idle = 0
                    for m in batch {
                        deliveryCounts.append(m.deliveryCount)
                        got[i].append(string(m.data))
                        try m.ack()
                    }
                    try await Task.sleep(for: .milliseconds(2)) // simulate work so both replicas get a share
                }
            }
            #expect(deliveryCounts.all.allSatisfy { $0 == 1 })
            let all = got[0].all + got[1].all
            #expect(all.count == n)
            #expect(Set(all).count == n, "each message delivered exactly once")
            #expect(got[0].all.count > 0 && got[1].all.count > 0, "both replicas got work: \(got[0].all.count)/\(got[1].all.count)")
            try await f.connection.flush(timeout: .seconds(2))
            #expect(await waitUntil(timeout: .seconds(3)) { (try? await f.js.streamInfo(name: "WORK").messages) == 0 },
                    "work-queue stream empties once everything is acked")
            subs.forEach { $0.close() }
        }
    }

    @Test func idleFetchReturnsEmptyAfterMaxWait() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "WORK", subjects: ["ssmd.work.>"], retention: .workQueue))
            try await f.js.ensureConsumer(stream: "WORK", ConsumerSpec(durableName: "idle", filterSubject: "ssmd.work.idle"))
            let sub = try await f.js.pullSubscribe(stream: "WORK", consumer: "idle")
            let clock = ContinuousClock()
            let start = clock.now
            let msgs = try await sub.fetch(batch: 16, maxWait: .milliseconds(400))
            let elapsed = clock.now - start
            #expect(msgs.isEmpty)
            #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(3), "idle fetch took \(elapsed)")
            // A message arriving during a fetch is returned without waiting out maxWait.
            let pub = f.js
            Task {
                try await Task.sleep(for: .milliseconds(200))
                _ = try? await pub.publish(OutgoingMessage(subject: "ssmd.work.idle", data: bytes("late")))
            }
            let start2 = clock.now
            let late = try await sub.fetch(batch: 1, maxWait: .seconds(5))
            #expect(late.map { string($0.data) } == ["late"])
            #expect(clock.now - start2 < .seconds(3))
            try await late.first?.ackSync()
            sub.close()
            await #expect(throws: NATSError.self) { try await sub.fetch(batch: 1, maxWait: .milliseconds(10)) }
        }
    }

    /// Timing-bound (AckWait, nak delay): it holds every process slot, so no pipeline test
    /// starves its keep-alive and fetch loops meanwhile.
    @Test(.processSlotAlone) func ackNakInProgressAndTerm() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "JOBS", subjects: ["jobs.>"]))
            try await f.js.ensureConsumer(stream: "JOBS", ConsumerSpec(durableName: "worker", filterSubject: "jobs.>",
                                                                 ackWait: .seconds(2), maxAckPending: 100))
            for name in ["ack", "nak", "progress", "term"] {
                _ = try await f.js.publish(OutgoingMessage(subject: "jobs.\(name)", data: bytes(name), headers: ["X-Job": name]))
            }
            let sub = try await f.js.pullSubscribe(stream: "JOBS", consumer: "worker")
            var first: [String: JetStreamMessage] = [:]
            while first.count < 4 {
                let batch = try await sub.fetch(batch: 4, maxWait: .seconds(2))
                #expect(!batch.isEmpty)
                for m in batch { first[string(m.data)] = m }
            }
            #expect(first["ack"]?.headers["X-Job"] == "ack")
            #expect(first["ack"]?.deliveryCount == 1)
            #expect(first["ack"]?.streamSequence == 1)
            #expect(first["ack"]?.timestamp != nil)

            let clock = ContinuousClock()
            let t0 = clock.now
            try await first["ack"]!.ackSync()
            try first["nak"]!.nak(delay: .milliseconds(1500))
            try first["term"]!.term()

            // For 5 s (2.5 × AckWait) keep the "progress" job alive with in-progress acks, on a
            // task of their own so a fetch slowed by a loaded machine cannot delay them (AckWait
            // is 2 s: a starved task must stall for 2 s to lose the job).
            var redelivered: [(String, Duration, UInt64)] = []
            let progress = first["progress"]!
            try progress.inProgress()
            let keepAlive = Task {
                while clock.now - t0 < .seconds(5) {
                    try? await Task.sleep(for: .milliseconds(200))
                    try? progress.inProgress()
                }
            }
            defer { keepAlive.cancel() }
            while clock.now - t0 < .seconds(5) {
                for m in try await sub.fetch(batch: 4, maxWait: .milliseconds(200)) {
                    redelivered.append((string(m.data), clock.now - t0, m.deliveryCount))
                    if string(m.data) == "nak" { try await m.ackSync() }
                }
            }
            let names = redelivered.map(\.0)
            #expect(names == ["nak"], "only the nak'd job comes back: \(redelivered)")
            if let nak = redelivered.first(where: { $0.0 == "nak" }) {
                #expect(nak.1 >= .milliseconds(1200), "nak delay honoured: \(nak.1)")
                #expect(nak.2 == 2)
            }
            try await first["progress"]!.ackSync()
            // Nothing is left: term'd job never returns; acked jobs are done.
            #expect(try await sub.fetch(batch: 4, maxWait: .milliseconds(1500)).isEmpty)
            let info = try await f.js.consumerInfo(stream: "JOBS", name: "worker")
            #expect(info.numAckPending == 0)
            #expect(info.numPending == 0)
            #expect(info.deliveredStreamSequence == 4)
        }
    }

    @Test func fetchDoesNotSpinWhenMaxAckPendingIsReached() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "WORK", subjects: ["ssmd.work.>"], retention: .workQueue))
            try await f.js.ensureConsumer(stream: "WORK", ConsumerSpec(durableName: "tight", filterSubject: "ssmd.work.t",
                                                                 maxAckPending: 1))
            _ = try await f.js.publishAll((0..<3).map { OutgoingMessage(subject: "ssmd.work.t", data: bytes("\($0)")) })
            let a = try await f.js.pullSubscribe(stream: "WORK", consumer: "tight")
            let b = try await f.js.pullSubscribe(stream: "WORK", consumer: "tight")
            let held = try await a.fetch(batch: 3, maxWait: .seconds(1))
            #expect(held.count == 1)
            let clock = ContinuousClock()
            let t0 = clock.now
            #expect(try await b.fetch(batch: 3, maxWait: .milliseconds(400)).isEmpty)
            #expect(clock.now - t0 >= .milliseconds(300), "waited instead of spinning")
            try await held[0].ackSync()
            let next = try await b.fetch(batch: 1, maxWait: .seconds(2))
            #expect(next.map { string($0.data) } == ["1"])
        }
    }

    @Test func unfilteredConsumerOverMultiSubjectStream() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(StreamSpec(name: "SECMASTER", subjects: ["ssmd.series.>", "ssmd.event.>", "ssmd.market.>"],
                                             maxMsgsPerSubject: 1))
            try await f.js.ensureConsumer(stream: "SECMASTER", ConsumerSpec(durableName: "db-writer", ackWait: .seconds(30),
                                                                      maxAckPending: 10_000))
            _ = try await f.js.publishAll([
                OutgoingMessage(subject: "ssmd.series.S", data: bytes("s")),
                OutgoingMessage(subject: "ssmd.event.S.E", data: bytes("e")),
                OutgoingMessage(subject: "ssmd.market.t.S.M", data: bytes("m")),
            ])
            let sub = try await f.js.pullSubscribe(stream: "SECMASTER", consumer: "db-writer")
            let msgs = try await sub.fetch(batch: 10, maxWait: .seconds(1))
            #expect(msgs.map { string($0.data) } == ["s", "e", "m"])
            #expect(msgs.map(\.pending) == [2, 1, 0])
            for m in msgs { try m.ack() }
        }
    }
}
