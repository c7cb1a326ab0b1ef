import Foundation
import Testing

extension Tag {
    /// Starts real processes (daemons, the simulator, servers of its own): the slow part of
    /// the suite.
    @Tag public static var processes: Self
}

/// Holds one of a few process-wide slots while a test runs. A test that starts a whole
/// pipeline (simulator, fetchers, writer, data-api) keeps both cores busy for a while; with
/// every such test at once, each would only wait for the others and hit its time limits.
/// Tests without the trait (pure code, one database, one NATS account) run alongside freely.
///
/// The slot is taken inside the test's time limit (Swift Testing applies scoping traits
/// within it): time limits of slotted tests leave room for the wait — 20 minutes, since the
/// queue for slots grows with the suite; a test that hangs is still stopped.
public struct ProcessSlotTrait: TestTrait, SuiteTrait, TestScoping {
    /// How many slots the test holds: all of them for a test whose assertions depend on the
    /// machine's speed (a fleet that must outrun a rate limit), so no other pipeline shares
    /// the cores with it.
    public var slots: Int
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // A suite's own scope is not a test: only its tests take slots.
        guard testCase != nil else { return try await function() }
        let asked = ContinuousClock.now
        try await ProcessSlots.shared.withSlots(slots) {
            let took = ContinuousClock.now
            // Where the suite's time goes: each slotted test's wait and run, in `scripts/test`'s log.
            defer {
                let line = "process slot: \(test.id) waited \(seconds(took - asked)) s, ran \(seconds(.now - took)) s\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
            try await function()
        }
    }
}

private func seconds(_ d: Duration) -> String {
    String(format: "%.1f", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
}

extension Trait where Self == ProcessSlotTrait {
    /// Runs each test of a suite holding one of the process slots (`SSMD_TEST_PROCESS_SLOTS`,
    /// 4 by default: on 2 cores the suite left half the CPU idle at 3).
    public static var processSlot: Self { ProcessSlotTrait(slots: 1) }

    /// Runs each test holding every process slot: no other pipeline test runs meanwhile.
    public static var processSlotAlone: Self { ProcessSlotTrait(slots: .max) }
}

/// A counting semaphore for async code: waiters suspend, never block a thread, and are
/// served in order (a test waiting for every slot is not overtaken forever).
public actor ProcessSlots {
    public static let shared = ProcessSlots(
        count: ProcessInfo.processInfo.environment["SSMD_TEST_PROCESS_SLOTS"].flatMap(Int.init).map { max(1, $0) } ?? 4)

    public let count: Int
    private var free: Int
    private var waiters: [(slots: Int, continuation: CheckedContinuation<Void, Never>)] = []

    public init(count: Int) {
        self.count = count
        free = count
    }

    public func withSlots<T: Sendable>(_ wanted: Int, _ body: @Sendable () async throws -> T) async throws -> T {
        let n = min(max(1, wanted), count)
        await acquire(n)
        defer { release(n) }
        return try await body()
    }

    private func acquire(_ n: Int) async {
        if waiters.isEmpty && free >= n {
            free -= n
            return
        }
        await withCheckedContinuation { waiters.append((n, $0)) }
    }

    private func release(_ n: Int) {
        free += n
        while let first = waiters.first, first.slots <= free {
            free -= first.slots
            waiters.removeFirst()
            first.continuation.resume()
        }
    }
}
