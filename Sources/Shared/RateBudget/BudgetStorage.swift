import SSMDCore

/// Where a shared budget keeps its state: one value per key with a revision, changed only by
/// compare-and-set. NATS KV in the daemons (Pipeline's `KeyValueBudgetStore`), memory in
/// tests and single processes (`InMemoryBudgetStore`).
public protocol BudgetStore: Sendable {
    /// The key's value and revision; nil when the key has no value yet.
    func read(_ key: String) async throws -> (value: [UInt8], revision: UInt64)?
    /// Writes `value` if the key is still at `revision` (nil: the key must not exist yet).
    /// False when another writer changed it first: the caller reads again and retries.
    func write(_ key: String, value: [UInt8], ifRevision revision: UInt64?) async throws -> Bool
    /// Whether `error` (thrown by `read` or `write`) may go away by itself — a timeout while
    /// the store's server is busy or electing a leader — so the budget tries again.
    func isTransient(_ error: Error) -> Bool
}

extension BudgetStore {
    public func isTransient(_ error: Error) -> Bool { false }
}

/// Compare-and-set in memory, with the semantics of a KV bucket's revisions.
public actor InMemoryBudgetStore: BudgetStore {
    private var values: [String: (value: [UInt8], revision: UInt64)] = [:]
    private var lastRevision: UInt64 = 0
    /// Writes that lost a race (tests count them).
    public private(set) var conflicts = 0

    public init() {}

    public func read(_ key: String) -> (value: [UInt8], revision: UInt64)? { values[key] }

    public func write(_ key: String, value: [UInt8], ifRevision revision: UInt64?) -> Bool {
        guard values[key]?.revision == revision else {
            conflicts += 1
            return false
        }
        lastRevision += 1
        values[key] = (value, lastRevision)
        return true
    }
}

/// The time a budget reads and sleeps by. Budgets never read the wall clock themselves, so
/// tests drive them with a manual clock and get the same answer every run.
public protocol BudgetClock: Sendable {
    /// Microseconds since the epoch.
    func now() -> Int64
    /// Suspends until `now()` reaches `micros`.
    func sleep(until micros: Int64) async throws
}

/// The system's wall clock.
public struct WallClock: BudgetClock {
    public init() {}
    public func now() -> Int64 { Timestamp.now().microsecondsSinceEpoch }
    public func sleep(until micros: Int64) async throws {
        let wait = micros - now()
        if wait > 0 { try await Task.sleep(for: .microseconds(wait)) }
    }
}
