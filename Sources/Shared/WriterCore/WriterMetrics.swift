import Logging
import Synchronization
import KalshiModels
import SSMDCore
import SecmasterSchema

/// What the db-writer has done since it started: a plain value (pure, testable) that the
/// writer updates after every batch and logs periodically. Counters only grow; gauges hold
/// the last observation. Its Prometheus view (`ssmd_writer_*`, docs/metrics.md) is emitted
/// by the writer shell (Pipeline's `BatchWriter`) through swift-metrics as it commits, with
/// the same histogram bounds as here.
public struct WriterMetrics: Sendable, Equatable {
    /// Upper bounds of the batch-size (messages) and commit-latency (seconds) histograms.
    public static let batchSizeBounds: [Double] = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
    public static let commitSecondsBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Committed batches and the messages they held (including coalesced-away duplicates).
    public var batches = 0
    public var messages = 0
    /// Messages set aside on `ssmd.dlq.db-writer` (undecodable or rejected by PostgreSQL).
    public var deadLetters = 0
    /// Commit attempts that failed and were retried (PostgreSQL down, timeouts, deadlocks).
    public var commitRetries = 0
    /// Rows per table: inserted, updated, and unchanged (identical, older, or coalesced away).
    public var series = UpsertCounts()
    public var events = UpsertCounts()
    public var markets = UpsertCounts()
    /// Series switched by category listings (`ssmd.catalog.<category>`).
    public var seriesDeactivated = 0
    public var seriesReactivated = 0
    /// Markets and events a complete series sync proved gone (`ssmd.snapshot.<series>`).
    public var markedGone = 0
    /// The last committed batch: messages and payload bytes.
    public var lastBatchMessages = 0
    public var lastBatchBytes = 0
    /// Messages per committed batch.
    public var batchSize = Histogram(bounds: WriterMetrics.batchSizeBounds)
    /// Seconds from the start of a successful commit attempt to its COMMIT.
    public var commitSeconds = Histogram(bounds: WriterMetrics.commitSecondsBounds)
    /// The latest commit latencies, for exact recent percentiles in the log.
    public var recentCommitSeconds = RecentWindow(capacity: 1024)
    /// The writer consumer's backlog as last read from the server: not yet delivered
    /// (`num_pending`) and delivered but not acknowledged (`num_ack_pending`).
    public var consumerPending: UInt64?
    public var consumerAckPending: Int64?

    public init() {}

    /// Records one committed batch.
    public mutating func recordCommit(messages: Int, bytes: Int, seconds: Double,
                                      series: UpsertCounts, events: UpsertCounts, markets: UpsertCounts,
                                      deactivated: Int, reactivated: Int, gone: Int = 0) {
        batches += 1
        self.messages += messages
        self.series = self.series + series
        self.events = self.events + events
        self.markets = self.markets + markets
        seriesDeactivated += deactivated
        seriesReactivated += reactivated
        markedGone += gone
        lastBatchMessages = messages
        lastBatchBytes = bytes
        batchSize.observe(Double(messages))
        commitSeconds.observe(seconds)
        recentCommitSeconds.append(seconds)
    }

    /// Rows written (inserted + updated) in every table.
    public var rowsWritten: Int { series.written + events.written + markets.written }

    /// The periodic log line's fields.
    public var logMetadata: Logger.Metadata {
        var m: Logger.Metadata = [
            "batches": "\(batches)", "messages": "\(messages)", "dead_letters": "\(deadLetters)",
            "commit_retries": "\(commitRetries)",
            "markets_inserted": "\(markets.inserted)", "markets_updated": "\(markets.updated)",
            "markets_unchanged": "\(markets.unchanged)",
            "events_inserted": "\(events.inserted)", "events_updated": "\(events.updated)",
            "events_unchanged": "\(events.unchanged)",
            "series_inserted": "\(series.inserted)", "series_updated": "\(series.updated)",
            "series_unchanged": "\(series.unchanged)",
            "series_deactivated": "\(seriesDeactivated)", "series_reactivated": "\(seriesReactivated)",
            "marked_gone": "\(markedGone)",
            "last_batch_messages": "\(lastBatchMessages)", "last_batch_bytes": "\(lastBatchBytes)",
        ]
        if let p50 = recentCommitSeconds.quantile(0.5), let p99 = recentCommitSeconds.quantile(0.99) {
            m["commit_p50_ms"] = "\(Self.milliseconds(p50))"
            m["commit_p99_ms"] = "\(Self.milliseconds(p99))"
        }
        if let consumerPending { m["lag_pending"] = "\(consumerPending)" }
        if let consumerAckPending { m["lag_ack_pending"] = "\(consumerAckPending)" }
        return m
    }

    package static func milliseconds(_ seconds: Double) -> String {
        let ms = seconds * 1000
        return ms < 10 ? String(Double(Int(ms * 10)) / 10) : String(Int(ms.rounded()))
    }

    /// A fixed-bucket histogram (Prometheus style: `bounds` are the `le` upper bounds; one
    /// more bucket counts what is above the last bound).
    public struct Histogram: Sendable, Equatable {
        public let bounds: [Double]
        /// Per-bucket counts (not cumulative), `bounds.count + 1` of them.
        public private(set) var counts: [UInt64]
        public private(set) var sum: Double = 0
        public private(set) var count: UInt64 = 0

        public init(bounds: [Double]) {
            self.bounds = bounds.sorted()
            counts = Array(repeating: 0, count: bounds.count + 1)
        }

        public mutating func observe(_ value: Double) {
            var i = 0
            while i < bounds.count, value > bounds[i] { i += 1 }
            counts[i] += 1
            sum += value
            count += 1
        }

        /// Cumulative counts per upper bound (`+Inf` last), as Prometheus exposes them.
        public var cumulative: [(le: Double, count: UInt64)] {
            var running: UInt64 = 0
            var out: [(le: Double, count: UInt64)] = []
            for (i, c) in counts.enumerated() {
                running += c
                out.append((i < bounds.count ? bounds[i] : .infinity, running))
            }
            return out
        }
    }

    /// The last `capacity` observations (a ring), for exact percentiles over recent batches.
    public struct RecentWindow: Sendable, Equatable {
        public let capacity: Int
        private var values: [Double] = []
        private var next = 0

        public init(capacity: Int) { self.capacity = max(1, capacity) }

        public var count: Int { values.count }

        public mutating func append(_ v: Double) {
            if values.count < capacity { values.append(v) } else { values[next] = v }
            next = (next + 1) % capacity
        }

        /// Nearest-rank percentile (`q` in 0…1); nil when empty.
        public func quantile(_ q: Double) -> Double? {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            let rank = Int((q * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1]
        }
    }
}

extension UpsertCounts {
    public static func + (a: UpsertCounts, b: UpsertCounts) -> UpsertCounts {
        UpsertCounts(inserted: a.inserted + b.inserted, updated: a.updated + b.updated, unchanged: a.unchanged + b.unchanged)
    }
}

/// The writer's metrics shared between the batch loop (writes) and readers (the periodic
/// log line, the stop summary). Every access is one short critical section.
public final class WriterMetricsRecorder: Sendable {
    private let state = Mutex(WriterMetrics())

    public init() {}

    public var snapshot: WriterMetrics { state.withLock { $0 } }

    public func update(_ body: (inout WriterMetrics) -> Void) {
        state.withLock { body(&$0) }
    }
}
