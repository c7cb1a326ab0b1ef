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
/// within it): time limits of slotted tests leave room for the wait.
public struct ProcessSlotTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // A suite's own scope is not a test: only its tests take slots.
        guard testCase != nil else { return try await function() }
        try await ProcessSlots.shared.withSlot(function)
    }
}

extension Trait where Self == ProcessSlotTrait {
    /// Runs each test of a suite holding one of the process slots (`SSMD_TEST_PROCESS_SLOTS`,
    /// 3 by default).
    public static var processSlot: Self { ProcessSlotTrait() }
}

/// A counting semaphore for async code: waiters suspend, never block a thread.
public actor ProcessSlots {
    public static let shared = ProcessSlots(
        count: ProcessInfo.processInfo.environment["SSMD_TEST_PROCESS_SLOTS"].flatMap(Int.init).map { max(1, $0) } ?? 3)

    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(count: Int) { free = count }

    public func withSlot<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty { free += 1 } else { waiters.removeFirst().resume() }
    }
}
