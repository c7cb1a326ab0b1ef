import CoreMetrics
import Foundation
import Prometheus
import Synchronization
import BuildInfo
import KalshiAPI
import Pipeline
import RateBudget
import SSMDCore

/// Every metric any ssmd program exposes, gathered from the modules that emit them;
/// docs/metrics.md lists the same set (ObservabilityContractTests keeps them equal, and the
/// Prometheus test finds each one in a real scrape).
public enum MetricCatalog {
    public static let all: [MetricDefinition] =
        DaemonMetrics.definitions + ExchangeMetrics.definitions + BudgetMetrics.definitions + WorkPoolMetrics.definitions
        + CycleMetrics.definitions + FeedMetrics.definitions + WriterPrometheusMetrics.definitions + APIMetrics.definitions
        + LifecycleListenerMetrics.definitions

    public static let byName: [String: MetricDefinition] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
}

/// data-api's own requests (`ssmd_api_*`). `route` is the path template (`/v1/markets/{ticker}`,
/// `/`, `/metrics`, … or `other` for a path no route has), `status` the HTTP code answered.
public enum APIMetrics {
    public static let requests = MetricDefinition.counter(
        "ssmd_api_requests_total", labels: ["route", "status"], help: "Requests data-api answered, by route template and HTTP status")
    public static let requestDuration = MetricDefinition.histogram(
        "ssmd_api_request_duration_seconds", labels: ["route", "status"],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        help: "Time data-api took to answer one request, by route template and HTTP status")
    public static let definitions = [requests, requestDuration]
}

/// One process's metrics: bootstraps swift-metrics with a Prometheus registry (once per
/// process, before any library makes a metric: one made earlier would stay a no-op), and
/// renders the registry for `/metrics`, with the process's own figures refreshed first.
public final class DaemonMetrics: Sendable {
    public static let buildInfo = MetricDefinition.gauge(
        "ssmd_build_info", labels: ["program", "version", "commit"],
        help: "Always 1; the labels say which program, version and commit (unknown when the build was not told) is running")
    public static let definitions = [buildInfo] + ProcessMetrics.definitions

    public let program: String
    let registry: PrometheusCollectorRegistry
    private let process: ProcessMetrics

    private static let bootstrapped = Mutex<DaemonMetrics?>(nil)

    init(program: String, registry: PrometheusCollectorRegistry) {
        self.program = program
        self.registry = registry
        self.process = ProcessMetrics()
    }

    /// Bootstraps swift-metrics for `program` and returns its metrics. Once per process: a
    /// second call returns the first one's (swift-metrics allows one bootstrap).
    public static func bootstrap(program: String) -> DaemonMetrics {
        bootstrapped.withLock { existing in
            if let existing { return existing }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(CatalogMetricsFactory(registry: registry, catalog: MetricCatalog.byName))
            let metrics = DaemonMetrics(program: program, registry: registry)
            CoreMetrics.Gauge(label: buildInfo.name, dimensions: buildInfo.dimensions(program, BuildInfo.version, BuildInfo.commit ?? "unknown")).record(1)
            metrics.process.refresh()
            existing = metrics
            return metrics
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of everything registered.
    public func render() -> [UInt8] {
        process.refresh()
        return registry.emitToBuffer()
    }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// swift-metrics → Prometheus, with each metric's help text and buckets from the catalog.
/// A name the catalog lacks still works (no help line, default buckets): a metric must never
/// crash a daemon, and the catalog test reports the omission.
struct CatalogMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let catalog: [String: MetricDefinition]

    static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: catalog[label]?.help ?? "")
    }

    private func buckets(_ label: String) -> [Double] {
        guard let d = catalog[label], !d.buckets.isEmpty else { return Self.defaultBuckets }
        return d.buckets
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets(label))
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions,
                                       buckets: buckets(label).map { .nanoseconds(Int64(($0 * 1e9).rounded())) })
    }

    // Metrics live as long as the process: series are never removed (a scrape must not lose
    // a counter that a short-lived handle happened to destroy).
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

/// The process figures every Prometheus client library exposes (`process_*`), read from
/// /proc at scrape time. Where /proc is missing (not Linux) they stay at their last value.
final class ProcessMetrics: Sendable {
    static let cpuSeconds = MetricDefinition.counter("process_cpu_seconds_total", help: "User and system CPU time spent, in seconds")
    static let residentMemory = MetricDefinition.gauge("process_resident_memory_bytes", help: "Resident memory size in bytes")
    static let virtualMemory = MetricDefinition.gauge("process_virtual_memory_bytes", help: "Virtual memory size in bytes")
    static let startTime = MetricDefinition.gauge("process_start_time_seconds", help: "Start time of the process since the Unix epoch, in seconds")
    static let openFDs = MetricDefinition.gauge("process_open_fds", help: "Open file descriptors")
    static let maxFDs = MetricDefinition.gauge("process_max_fds", help: "Limit on open file descriptors")
    static let definitions = [cpuSeconds, residentMemory, virtualMemory, startTime, openFDs, maxFDs]

    /// CPU seconds already added to the counter (a Prometheus counter only grows by increments).
    private let reportedCPU = Mutex<Double>(0)
    private let cpu = FloatingPointCounter(label: ProcessMetrics.cpuSeconds.name)
    private let resident = CoreMetrics.Gauge(label: ProcessMetrics.residentMemory.name)
    private let virtual = CoreMetrics.Gauge(label: ProcessMetrics.virtualMemory.name)
    private let start = CoreMetrics.Gauge(label: ProcessMetrics.startTime.name)
    private let open = CoreMetrics.Gauge(label: ProcessMetrics.openFDs.name)
    private let maxOpen = CoreMetrics.Gauge(label: ProcessMetrics.maxFDs.name)

    init() {
        start.record(Self.processStartTime() ?? Date().timeIntervalSince1970)
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxOpen.record(Double(limit.rlim_cur)) }
    }

    func refresh() {
        if let stat = Self.selfStat() {
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            let total = Double(stat.utime + stat.stime) / max(1, ticks)
            let delta = reportedCPU.withLock { reported -> Double in
                let d = total - reported
                if d > 0 { reported = total }
                return d
            }
            if delta > 0 { cpu.increment(by: delta) }
            virtual.record(Double(stat.vsize))
            resident.record(Double(stat.rss) * Double(sysconf(Int32(_SC_PAGESIZE))))
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") { open.record(fds.count) }
    }

    struct Stat { var utime: UInt64, stime: UInt64, starttime: UInt64, vsize: UInt64, rss: UInt64 }

    /// /proc/self/stat: the fields after the command name (which may hold spaces and parentheses).
    static func selfStat() -> Stat? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let f = text[text.index(after: close)...].split(separator: " ")
        // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
        guard f.count > 21, let u = UInt64(f[11]), let s = UInt64(f[12]), let st = UInt64(f[19]),
              let v = UInt64(f[20]), let r = UInt64(f[21]) else { return nil }
        return Stat(utime: u, stime: s, starttime: st, vsize: v, rss: r)
    }

    /// Boot time (/proc/stat `btime`) plus the process's start in clock ticks after boot.
    static func processStartTime() -> Double? {
        guard let stat = selfStat(), let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        return boot + Double(stat.starttime) / Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
    }
}
