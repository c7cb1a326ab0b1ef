import SSMDCore

/// lifecycle-listener: the exchange's lifecycle WebSocket and what reached NATS
/// (`ssmd_lifecycle_*`). Declared here, beside the catalog, so the other daemons need not link
/// the WebSocket client to know the names; emitted by lifecycle-listener alone.
public enum LifecycleListenerMetrics {
    public static let messages = MetricDefinition.counter(
        "ssmd_lifecycle_messages_total", labels: ["type"],
        help: "Lifecycle messages received from the exchange's WebSocket, by type (market_lifecycle_v2, event_lifecycle, event_fee_update)")
    public static let published = MetricDefinition.counter(
        "ssmd_lifecycle_notices_published_total", help: "Lifecycle notices acknowledged by JetStream on ssmd.lifecycle.market/event")
    public static let gaps = MetricDefinition.counter(
        "ssmd_lifecycle_gaps_total", help: "Gaps published on ssmd.lifecycle.gap (start-up, reconnects, notices dropped for the buffer bound)")
    public static let reconnects = MetricDefinition.counter(
        "ssmd_lifecycle_reconnects_total", help: "WebSocket connections lost or given up (drop, close, missed pong, unanswered subscribe) and retried")
    public static let dropped = MetricDefinition.counter(
        "ssmd_lifecycle_dropped_total", help: "Notices dropped because NATS did not take them before the buffer was full (a gap covers them)")
    public static let rejected = MetricDefinition.counter(
        "ssmd_lifecycle_rejected_total", labels: ["reason"],
        help: "WebSocket messages not republished: malformed, unknown_type, or server_error answers")
    public static let subscribed = MetricDefinition.gauge(
        "ssmd_lifecycle_subscribed", help: "1 while the lifecycle subscription is confirmed and its connection open, else 0")
    public static let buffered = MetricDefinition.gauge(
        "ssmd_lifecycle_buffered", help: "Notices and gaps received but not yet acknowledged by JetStream")
    public static let publishDelay = MetricDefinition.histogram(
        "ssmd_lifecycle_publish_delay_seconds", buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300],
        help: "Time from a lifecycle message's arrival to its notice's acknowledgment by JetStream")

    public static let definitions = [messages, published, gaps, reconnects, dropped, rejected, subscribed, buffered, publishDelay]
}
