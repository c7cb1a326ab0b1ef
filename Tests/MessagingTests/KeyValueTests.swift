import Foundation
import Testing
import NATSClient

@Suite("Key-value buckets")
struct KeyValueTests {
    @Test func createUpdateWithRevision() async throws {
        try await withNATS { f in
            let kv = try await f.js.ensureKeyValue(KeyValueSpec(bucket: "ratebudget", history: 1, ttl: .seconds(3600)))
            #expect(try await kv.get("gcra.global") == nil)
            let r1 = try await kv.create("gcra.global", value: bytes("tat=1"))
            do {
                _ = try await kv.create("gcra.global", value: bytes("tat=2"))
                Issue.record("second create must fail")
            } catch let e as NATSError {
                guard case .keyExists = e else { Issue.record("expected keyExists, got \(e)"); return }
                #expect(e.description.contains("gcra.global"))
            }
            let e1 = try #require(try await kv.get("gcra.global"))
            #expect(e1.revision == r1)
            #expect(string(e1.value) == "tat=1")
            let r2 = try await kv.update("gcra.global", value: bytes("tat=3"), expectedRevision: r1)
            #expect(r2 > r1)
            do {
                _ = try await kv.update("gcra.global", value: bytes("tat=4"), expectedRevision: r1)
                Issue.record("stale update must fail")
            } catch let e as NATSError {
                guard case .revisionMismatch = e else { Issue.record("expected revisionMismatch, got \(e)"); return }
            }
            #expect(try await kv.get("gcra.global").map { string($0.value) } == "tat=3")
            let r3 = try await kv.put("gcra.global", value: bytes("tat=5"))
            #expect(r3 > r2)
            try await kv.delete("gcra.global")
            #expect(try await kv.get("gcra.global") == nil)
            // A deleted key can be created again.
            let r4 = try await kv.create("gcra.global", value: bytes("tat=6"))
            #expect(try await kv.get("gcra.global")?.revision == r4)
            // Binding again and ensuring again both work and see the same data.
            let again = try await f.js.keyValue(bucket: "ratebudget")
            #expect(try await again.get("gcra.global").map { string($0.value) } == "tat=6")
            let ensured = try await f.js.ensureKeyValue(KeyValueSpec(bucket: "ratebudget", history: 1, ttl: .seconds(3600)))
            #expect(try await ensured.get("gcra.global")?.revision == r4)
            // A changed history is applied to the existing bucket.
            _ = try await f.js.ensureKeyValue(KeyValueSpec(bucket: "ratebudget", history: 5, ttl: .seconds(3600)))
            #expect(try await f.js.streamInfo(name: "KV_ratebudget").messages >= 1)
        }
    }

    @Test func concurrentCompareAndSetLosesNothing() async throws {
        try await withNATS { f in
            _ = try await f.js.ensureKeyValue(KeyValueSpec(bucket: "counter"))
            let perThread = 150
            let conflicts = Collector<Int>()
            let other = try await f.connect(name: "cas-2")
            defer { other.close() }
            let buckets = [try await f.js.keyValue(bucket: "counter"), try await other.jetStream().keyValue(bucket: "counter")]
            try await concurrently(2) { i in
                let kv = buckets[i]
                var lost = 0
                for _ in 0..<perThread {
                    while true {
                        let current = try await kv.get("n")
                        let value = (current.flatMap { Int(string($0.value)) } ?? 0) + 1
                        do {
                            if let current {
                                _ = try await kv.update("n", value: bytes(String(value)), expectedRevision: current.revision)
                            } else {
                                _ = try await kv.create("n", value: bytes(String(value)))
                            }
                            break
                        } catch NATSError.revisionMismatch {
                            lost += 1
                        } catch NATSError.keyExists {
                            lost += 1
                        }
                    }
                }
                conflicts.append(lost)
            }
            let final = try #require(try await buckets[0].get("n"))
            #expect(string(final.value) == String(2 * perThread))
            print("CAS counter: \(2 * perThread) increments, \(conflicts.all.reduce(0, +)) lost races retried")
        }
    }
}
