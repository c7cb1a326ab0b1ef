import Foundation
import Synchronization
import Testing

/// Runs each test on a thread of its own instead of Swift's cooperative pool.
///
/// The pool has one thread per core (two here). A synchronous test that computes for
/// seconds (a fuzz loop, a whole simulated universe) holds one of them for that long; two
/// such tests at once stop every other test's `await` from resuming — a server's health
/// check, an in-process simulator's handlers — and those tests then time out. With this
/// trait the computation competes for the cores through the kernel's scheduler, and the pool
/// stays free for the tests that wait.
public struct OwnThreadTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(ThreadExecutor.next()) { try await function() }
    }
}

extension Trait where Self == OwnThreadTrait {
    /// For CPU-bound tests: each runs on a thread of its own, never on the cooperative pool.
    public static var ownThread: Self { OwnThreadTrait() }
}

/// A task executor with one thread: the jobs of tasks that prefer it run there, in order.
/// Two of them (one per core) serve every `.ownThread` test, for the life of the process.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private static let shared = (0..<2).map { ThreadExecutor(name: "ssmd-test-cpu-\($0)") }
    private static let turn = Atomic<Int>(0)

    /// The shared executors in turn.
    public static func next() -> ThreadExecutor {
        shared[turn.wrappingAdd(1, ordering: .relaxed).oldValue % shared.count]
    }

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(name: String) {
        let thread = Thread { [self] in runJobs() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
