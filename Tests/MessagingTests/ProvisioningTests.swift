import Foundation
import Testing
import NATSClient

@Suite("JetStream provisioning")
struct ProvisioningTests {
    static let workStream = StreamSpec(name: "WORK", subjects: ["ssmd.work.>"], retention: .workQueue,
                                       duplicateWindow: .seconds(60))
    static let consumer = ConsumerSpec(durableName: "pool-sports", filterSubject: "ssmd.work.sports",
                                       ackWait: .seconds(30), maxAckPending: 100, maxDeliver: 5,
                                       backoff: nil, description: "sports pool")

    @Test func ensureIsIdempotentAndUpdates() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(Self.workStream)
            try await f.js.ensureStream(Self.workStream)
            try await f.js.ensureConsumer(stream: "WORK", Self.consumer)
            try await f.js.ensureConsumer(stream: "WORK", Self.consumer)
            #expect(try await f.js.consumerNames(stream: "WORK") == ["pool-sports"])
            let info = try await f.js.streamInfo(name: "WORK")
            #expect(info.consumerCount == 1)
            #expect(info.messages == 0)

            // A changed spec is applied in place.
            var changed = Self.consumer
            changed.maxAckPending = 7
            changed.ackWait = .seconds(12)
            try await f.js.ensureConsumer(stream: "WORK", changed)
            let ci = try await f.js.consumerInfo(stream: "WORK", name: "pool-sports")
            #expect(ci.maxAckPending == 7)
            #expect(ci.ackWait == .seconds(12))
            #expect(ci.filterSubject == "ssmd.work.sports")

            var stream = Self.workStream
            stream.maxBytes = 10_000_000
            stream.subjects = ["ssmd.work.>", "ssmd.extra.>"]
            try await f.js.ensureStream(stream)
            await #expect(Set(try f.js.streamInfo(name: "WORK").subjectPatterns) == ["ssmd.work.>", "ssmd.extra.>"])

            // Retention of an existing stream cannot change: a clear error.
            var wrong = stream
            wrong.retention = .limits
            await #expect(throws: NATSError.self) { try await f.js.ensureStream(wrong) }

            try await f.js.deleteConsumer(stream: "WORK", name: "pool-sports")
            #expect(try await f.js.consumerNames(stream: "WORK").isEmpty)
            await #expect(throws: NATSError.self) { try await f.js.consumerInfo(stream: "WORK", name: "pool-sports") }
        }
    }

    @Test func consumerWithBackoffIsStable() async throws {
        try await withNATS { f in
            try await f.js.ensureStream(Self.workStream)
            let spec = ConsumerSpec(durableName: "pool-slow", filterSubject: "ssmd.work.slow", ackWait: .seconds(20),
                                    maxAckPending: 50, maxDeliver: 6, deliverPolicy: .all,
                                    backoff: [.seconds(1), .seconds(5), .seconds(30)])
            try await f.js.ensureConsumer(stream: "WORK", spec)
            let before = try await f.js.consumerInfo(stream: "WORK", name: "pool-slow")
            try await f.js.ensureConsumer(stream: "WORK", spec)
            #expect(try await f.js.consumerInfo(stream: "WORK", name: "pool-slow") == before)
            #expect(before.maxDeliver == 6)
            // Deliver policy of an existing consumer cannot change: a clear error.
            var other = spec
            other.deliverPolicy = .new
            await #expect(throws: NATSError.self) { try await f.js.ensureConsumer(stream: "WORK", other) }
            // Overlapping filters on a work-queue stream are refused by the server.
            let overlap = ConsumerSpec(durableName: "overlap", filterSubject: "ssmd.work.>")
            await #expect(throws: NATSError.self) { try await f.js.ensureConsumer(stream: "WORK", overlap) }
        }
    }

    @Test func concurrentProvisioningFromTwoConnections() async throws {
        try await withNATS { f in
            let c1 = try await f.connect(name: "p1")
            let c2 = try await f.connect(name: "p2")
            defer { c1.close(); c2.close() }
            let contexts = [try c1.jetStream(), try c2.jetStream()]
            // Fresh names each round so that every round races on creation.
            for round in 0..<6 {
                let work = StreamSpec(name: "WORK\(round)", subjects: ["r\(round).work.>"], retention: .workQueue,
                                      duplicateWindow: .seconds(60))
                let secmaster = StreamSpec(name: "SECMASTER\(round)",
                                           subjects: ["r\(round).series.>", "r\(round).event.>", "r\(round).market.>"],
                                           maxMsgsPerSubject: 1, duplicateWindow: .seconds(120))
                let pool = ConsumerSpec(durableName: "pool-sports", filterSubject: "r\(round).work.sports",
                                        ackWait: .seconds(30), maxAckPending: 100, maxDeliver: 5)
                let writer = ConsumerSpec(durableName: "db-writer", ackWait: .seconds(60), maxAckPending: 10_000)
                try await concurrently(4) { i in
                    let js = contexts[i % 2]
                    try await js.ensureStream(work)
                    try await js.ensureStream(secmaster)
                    try await js.ensureConsumer(stream: work.name, pool)
                    try await js.ensureConsumer(stream: secmaster.name, writer)
                    _ = try await js.ensureKeyValue(KeyValueSpec(bucket: "ratebudget\(round)", history: 1, ttl: .seconds(3600)))
                }
                #expect(try await f.js.consumerNames(stream: work.name) == ["pool-sports"])
                #expect(try await f.js.consumerNames(stream: secmaster.name) == ["db-writer"])
                #expect(try await f.js.streamInfo(name: secmaster.name).consumerCount == 1)
                _ = try await f.js.keyValue(bucket: "ratebudget\(round)")
            }
        }
    }

    @Test func missingThingsAreNotFound() async throws {
        try await withNATS { f in
            await #expect(throws: NATSError.self) { try await f.js.streamInfo(name: "NOPE") }
            try await f.js.ensureStream(Self.workStream)
            do {
                _ = try await f.js.pullSubscribe(stream: "WORK", consumer: "nobody")
                Issue.record("expected an error")
            } catch let e as NATSError {
                guard case .notFound = e else { Issue.record("expected notFound, got \(e)"); return }
                #expect(e.description.contains("nobody"))
            }
            await #expect(throws: NATSError.self) { try await f.js.keyValue(bucket: "absent") }
        }
    }
}
