import CoreMetrics
import SSMDCore

/// The exchange client's metrics (`ssmd_exchange_*`), emitted through swift-metrics: every
/// HTTP attempt by endpoint and outcome, its latency, and what the retry loop did.
///
/// `endpoint` is the path template the client sends to (`/markets`, `/events`, `/series`,
/// `/search/…`), never a URL with a query; `status` is the HTTP code, or `transport_error`
/// when no response came (connection refused or reset, timeout, TLS).
public enum ExchangeMetrics {
    public static let requests = MetricDefinition.counter(
        "ssmd_exchange_requests_total", labels: ["endpoint", "status"],
        help: "HTTP requests sent to the exchange (every attempt), by endpoint path template and HTTP status or transport_error")
    public static let requestDuration = MetricDefinition.histogram(
        "ssmd_exchange_request_duration_seconds", labels: ["endpoint", "status"],
        buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        help: "Time from sending one exchange request to having its whole response (rate-budget wait not included)")
    public static let throttled = MetricDefinition.counter(
        "ssmd_exchange_throttled_total", labels: ["endpoint"], help: "429 answers from the exchange")
    public static let retries = MetricDefinition.counter(
        "ssmd_exchange_retries_total", labels: ["endpoint"],
        help: "Exchange requests retried after a 429, 5xx, transport error or garbled body")
    public static let failures = MetricDefinition.counter(
        "ssmd_exchange_failures_total", labels: ["endpoint"],
        help: "Exchange requests given up: not retryable, or out of attempts")

    public static let definitions = [requests, requestDuration, throttled, retries, failures]

    /// Every path the client requests. Their per-endpoint counters exist from the start at
    /// zero, so a rate over them works before the first 429 or retry.
    public static let endpoints = ["/search/tags_by_categories", "/search/filters_by_sport", "/series", "/markets", "/events"]

    /// The `status` label of an attempt without a response.
    public static let transportError = "transport_error"
}

/// Emits one client's figures. Handles are made per event: the registry behind swift-metrics
/// returns the existing series for a name and label set, so this costs a lookup.
struct ExchangeMetricsEmitter: Sendable {
    init() {
        for endpoint in ExchangeMetrics.endpoints {
            for d in [ExchangeMetrics.throttled, ExchangeMetrics.retries, ExchangeMetrics.failures] {
                _ = Counter(label: d.name, dimensions: d.dimensions(endpoint))
            }
        }
    }

    func attempt(endpoint: String, status: String, duration: Duration) {
        Counter(label: ExchangeMetrics.requests.name, dimensions: ExchangeMetrics.requests.dimensions(endpoint, status)).increment()
        CoreMetrics.Timer(label: ExchangeMetrics.requestDuration.name, dimensions: ExchangeMetrics.requestDuration.dimensions(endpoint, status))
            .recordNanoseconds(duration.wholeNanoseconds)
    }

    func throttled(endpoint: String) { count(ExchangeMetrics.throttled, endpoint) }
    func retried(endpoint: String) { count(ExchangeMetrics.retries, endpoint) }
    func failed(endpoint: String) { count(ExchangeMetrics.failures, endpoint) }

    private func count(_ d: MetricDefinition, _ endpoint: String) {
        Counter(label: d.name, dimensions: d.dimensions(endpoint)).increment()
    }
}
