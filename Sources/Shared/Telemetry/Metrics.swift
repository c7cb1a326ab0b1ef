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
