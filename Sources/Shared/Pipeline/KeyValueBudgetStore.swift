import NATSClient
import RateBudget
import SSMDCore

/// The shared rate budget's state in a NATS KV bucket: one key per bucket of the budget,
/// changed by compare-and-set on the key's revision (a lost race is API error 10071).
public struct KeyValueBudgetStore: BudgetStore {
    public let bucket: KeyValueBucket

    public init(bucket: KeyValueBucket) { self.bucket = bucket }

    public func read(_ key: String) async throws -> (value: [UInt8], revision: UInt64)? {
        try await bucket.get(key).map { ($0.value, $0.revision) }
    }

    public func isTransient(_ error: Error) -> Bool { (error as? NATSError)?.isTransient ?? false }

    public func write(_ key: String, value: [UInt8], ifRevision revision: UInt64?) async throws -> Bool {
        do {
            if let revision { _ = try await bucket.update(key, value: value, expectedRevision: revision) }
            else { _ = try await bucket.create(key, value: value) }
            return true
        } catch NATSError.revisionMismatch, NATSError.keyExists {
            return false
        }
    }
}
