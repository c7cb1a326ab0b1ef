import KalshiAPI
import KalshiModels
import Pipeline
import RateBudget
import SSMDCore
import SecmasterSchema
import WriterCore

/// Prometheus text exposition (version 0.0.4) of the figures the daemons already keep —
/// exchange requests, budget use, work items, writer rows — without a metrics framework:
/// each component registers a closure that reads its own counters at scrape time.
public struct MetricFamily: Sendable {
    public enum Kind: String, Sendable { case counter, gauge }
    public var name: String
    public var help: String
    public var kind: Kind
    public var samples: [(labels: [(String, String)], value: Double)]

    public init(_ name: String, _ kind: Kind, _ help: String, _ value: Double) {
        self.init(name, kind, help, samples: [([], value)])
    }

    public init(_ name: String, _ kind: Kind, _ help: String, samples: [(labels: [(String, String)], value: Double)]) {
        self.name = name; self.kind = kind; self.help = help; self.samples = samples
    }
}

public final class MetricsRegistry: @unchecked Sendable {
    private let lock = SimpleLock()
    private var providers: [@Sendable () -> [MetricFamily]] = []

    public init() {}

    public func register(_ provider: @escaping @Sendable () -> [MetricFamily]) {
        lock.withLock { providers.append(provider) }
    }

    public func render() -> String {
        let families = lock.withLock { providers }.flatMap { $0() }
        var out = ""
        for f in families {
            out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.kind.rawValue)\n"
            for s in f.samples {
                let labels = s.labels.isEmpty ? "" : "{" + s.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
                out += "\(f.name)\(labels) \(Self.format(s.value))\n"
            }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }
}

extension ExchangeClient {
    /// `ssmd_exchange_*` counters of this client.
    public func metricFamilies() -> [MetricFamily] {
        let s = stats.snapshot
        var families = [
            MetricFamily("ssmd_exchange_requests_total", .counter, "Requests sent to the exchange", Double(s.requests)),
            MetricFamily("ssmd_exchange_throttled_total", .counter, "429 answers from the exchange", Double(s.throttled)),
            MetricFamily("ssmd_exchange_retries_total", .counter, "Requests retried (429, 5xx, transport, garbled body)", Double(s.retries)),
            MetricFamily("ssmd_exchange_failures_total", .counter, "Requests given up after their last attempt", Double(s.failures)),
        ]
        if let shared = budget as? SharedRequestBudget {
            let b = shared.metrics.snapshot
            families += [
                MetricFamily("ssmd_budget_tokens_granted_total", .counter, "Tokens granted by the shared budget", Double(b.tokens)),
                MetricFamily("ssmd_budget_wait_seconds_total", .counter, "Time spent waiting for budget slots", b.waitedSeconds),
                MetricFamily("ssmd_budget_cas_conflicts_total", .counter, "Lost compare-and-set races on the budget key", Double(b.conflicts)),
                MetricFamily("ssmd_budget_tokens_per_second", .gauge, "Configured budget refill", shared.tokensPerSecond),
            ]
        }
        return families
    }
}

extension MarketWorkPool {
    public func metricFamilies() -> [MetricFamily] {
        let t = totals
        return [
            MetricFamily("ssmd_series_synced_total", .counter, "Series work items synced and acked", Double(t.seriesSynced)),
            MetricFamily("ssmd_markets_published_total", .counter, "Markets published to ssmd.market.*", Double(t.markets)),
            MetricFamily("ssmd_events_published_total", .counter, "Events published to ssmd.event.*", Double(t.events)),
            MetricFamily("ssmd_work_retried_total", .counter, "Work items handed back for a later retry", Double(t.retried)),
            MetricFamily("ssmd_work_dead_lettered_total", .counter, "Work items set aside on ssmd.dlq.market-fetcher", Double(t.deadLettered)),
        ]
    }
}

extension WriterMetrics {
    /// The Prometheus view: `ssmd_writer_*` counters, the batch-size and commit-latency
    /// histograms, and the consumer lag gauges.
    public func metricFamilies() -> [MetricFamily] {
        func rows(_ table: String, _ c: UpsertCounts) -> [(labels: [(String, String)], value: Double)] {
            [([("table", table), ("outcome", "inserted")], Double(c.inserted)),
             ([("table", table), ("outcome", "updated")], Double(c.updated)),
             ([("table", table), ("outcome", "unchanged")], Double(c.unchanged))]
        }
        func histogram(_ name: String, _ help: String, _ h: Histogram) -> MetricFamily {
            var samples: [(labels: [(String, String)], value: Double)] = h.cumulative.map { ([("le", MetricsRegistry.format($0.le))], Double($0.count)) }
            samples.append(([("le", "+Inf")], Double(h.count)))
            return MetricFamily(name + "_bucket", .counter, help, samples: samples)
        }
        var families = [
            MetricFamily("ssmd_writer_batches_total", .counter, "Batches committed", Double(batches)),
            MetricFamily("ssmd_writer_messages_total", .counter, "Messages committed (before coalescing)", Double(messages)),
            MetricFamily("ssmd_writer_dead_letters_total", .counter, "Messages set aside on ssmd.dlq.db-writer", Double(deadLetters)),
            MetricFamily("ssmd_writer_commit_retries_total", .counter, "Batch commits retried after a PostgreSQL error", Double(commitRetries)),
            MetricFamily("ssmd_writer_rows_total", .counter, "Rows by table and outcome",
                         samples: rows("series", series) + rows("events", events) + rows("markets", markets)),
            MetricFamily("ssmd_writer_series_deactivated_total", .counter, "Series the exchange stopped listing", Double(seriesDeactivated)),
            MetricFamily("ssmd_writer_marked_gone_total", .counter, "Markets and events a complete series sync proved gone", Double(markedGone)),
            MetricFamily("ssmd_writer_last_batch_messages", .gauge, "Messages in the last committed batch", Double(lastBatchMessages)),
            histogram("ssmd_writer_batch_size", "Messages per committed batch", batchSize),
            histogram("ssmd_writer_commit_seconds", "Commit latency", commitSeconds),
        ]
        if let p = consumerPending { families.append(MetricFamily("ssmd_writer_consumer_pending", .gauge, "Messages not yet delivered to the writer", Double(p))) }
        if let a = consumerAckPending { families.append(MetricFamily("ssmd_writer_consumer_ack_pending", .gauge, "Messages delivered, not yet acked", Double(a))) }
        return families
    }
}
