import CoreMetrics
import SSMDCore
import SecmasterSchema
import WireContract
import WriterCore

// The pipeline services' metrics, emitted through swift-metrics. The services keep their own
// plain figures (WorkPoolTotals, CycleReport, WriterMetrics) for logs and summaries; these
// emitters turn the same events into Prometheus series. Label values come from small fixed
// sets: sync modes, schedule names, table names.

/// The sync modes a work item can carry, as label values.
let syncModes = ["full", "delta", "incremental"]

/// market-fetcher: what its work pool did (`ssmd_series_*`, `ssmd_markets_*`, `ssmd_work_*`).
public enum WorkPoolMetrics {
    public static let seriesSynced = MetricDefinition.counter(
        "ssmd_series_synced_total", help: "Series work items synced and acked")
    public static let listingParts = MetricDefinition.counter(
        "ssmd_listing_parts_total", help: "Parts of exchange-wide listings (cold start, re-reads) read and acked")
    public static let marketsPublished = MetricDefinition.counter(
        "ssmd_markets_published_total", help: "Markets published to ssmd.market.*")
    public static let eventsPublished = MetricDefinition.counter(
        "ssmd_events_published_total", help: "Events published to ssmd.event.*")
    public static let retried = MetricDefinition.counter(
        "ssmd_work_retried_total", help: "Work items handed back (nak with backoff) for a later retry")
    public static let deadLettered = MetricDefinition.counter(
        "ssmd_work_dead_lettered_total", help: "Work items set aside on ssmd.dlq.market-fetcher")
    public static let syncDuration = MetricDefinition.histogram(
        "ssmd_series_sync_duration_seconds", labels: ["mode"],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
        help: "Time to sync one series work item and ack it, by sync mode (full, delta, incremental)")

    public static let definitions = [seriesSynced, listingParts, marketsPublished, eventsPublished, retried, deadLettered, syncDuration]
}

/// Emits a work pool's figures: every counter exists from the start at zero.
struct WorkPoolMetricsEmitter: Sendable {
    init() {
        for d in [WorkPoolMetrics.seriesSynced, WorkPoolMetrics.listingParts, WorkPoolMetrics.marketsPublished, WorkPoolMetrics.eventsPublished,
                  WorkPoolMetrics.retried, WorkPoolMetrics.deadLettered] {
            _ = Counter(label: d.name)
        }
        for mode in syncModes { _ = CoreMetrics.Timer(label: WorkPoolMetrics.syncDuration.name, dimensions: WorkPoolMetrics.syncDuration.dimensions(mode)) }
    }

    /// Adds what changed in the pool's totals.
    func add(from before: WorkPoolTotals, to after: WorkPoolTotals) {
        for (d, delta) in [(WorkPoolMetrics.seriesSynced, after.seriesSynced - before.seriesSynced),
                           (WorkPoolMetrics.listingParts, after.listingParts - before.listingParts),
                           (WorkPoolMetrics.marketsPublished, after.markets - before.markets),
                           (WorkPoolMetrics.eventsPublished, after.events - before.events),
                           (WorkPoolMetrics.retried, after.retried - before.retried),
                           (WorkPoolMetrics.deadLettered, after.deadLettered - before.deadLettered)] where delta > 0 {
            Counter(label: d.name).increment(by: delta)
        }
    }

    func synced(mode: SyncMode, duration: Duration) {
        CoreMetrics.Timer(label: WorkPoolMetrics.syncDuration.name, dimensions: WorkPoolMetrics.syncDuration.dimensions(mode.rawValue))
            .recordNanoseconds(duration.wholeNanoseconds)
    }
}

/// series-fetcher: each schedule's cycles (`ssmd_cycle_*`).
public enum CycleMetrics {
    public static let cycles = MetricDefinition.counter(
        "ssmd_cycles_total", labels: ["schedule", "outcome"],
        help: "Series cycles by outcome: complete (every category listed), partial (some categories failed), failed (ended with an error; the next cycle asks again)")
    public static let lastSuccess = MetricDefinition.gauge(
        "ssmd_cycle_last_success_timestamp_seconds", labels: ["schedule"],
        help: "Unix time at which the schedule's last complete cycle finished handing out work")
    public static let duration = MetricDefinition.histogram(
        "ssmd_cycle_duration_seconds", labels: ["schedule"],
        buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
        help: "Time from a cycle's start to its last work item published (complete and partial cycles)")
    public static let workItems = MetricDefinition.counter(
        "ssmd_cycle_work_items_total", labels: ["schedule", "kind"],
        help: "Work items published by kind: full (whole series), delta (changes carried in the item), incremental (changes to fetch)")
    public static let seriesTracked = MetricDefinition.gauge(
        "ssmd_cycle_series_tracked", labels: ["schedule"], help: "Series the schedule's last finished cycle tracked")
    public static let feedFailures = MetricDefinition.counter(
        "ssmd_cycle_feed_failures_total", labels: ["schedule"],
        help: "Cycles whose change feed failed (they synced new series and their reconciliation slice only)")

    public static let leader = MetricDefinition.gauge(
        "ssmd_leader", help: "1 while this series-fetcher holds the leader lease and runs the schedules, 0 while it stands by")
    public static let leaderChanges = MetricDefinition.counter(
        "ssmd_leader_changes_total", help: "Times this series-fetcher took or lost the leader lease")

    public static let definitions = [cycles, lastSuccess, duration, workItems, seriesTracked, feedFailures, leader, leaderChanges]
    public static let outcomes = ["complete", "partial", "failed"]
}

struct CycleMetricsEmitter: Sendable {
    /// Creates the schedule's series, so every outcome and kind reads 0 until it happens.
    func prepare(schedule: String) {
        for outcome in CycleMetrics.outcomes { _ = Counter(label: CycleMetrics.cycles.name, dimensions: CycleMetrics.cycles.dimensions(schedule, outcome)) }
        for kind in syncModes { _ = Counter(label: CycleMetrics.workItems.name, dimensions: CycleMetrics.workItems.dimensions(schedule, kind)) }
        _ = Counter(label: CycleMetrics.feedFailures.name, dimensions: CycleMetrics.feedFailures.dimensions(schedule))
    }

    func finished(_ r: CycleReport, duration: Duration) {
        let s = r.schedule
        let outcome = r.categoriesFailed == 0 ? "complete" : "partial"
        Counter(label: CycleMetrics.cycles.name, dimensions: CycleMetrics.cycles.dimensions(s, outcome)).increment()
        if outcome == "complete" {
            Gauge(label: CycleMetrics.lastSuccess.name, dimensions: CycleMetrics.lastSuccess.dimensions(s))
                .record(Double(r.finishedAt.microsecondsSinceEpoch) / 1e6)
        }
        CoreMetrics.Timer(label: CycleMetrics.duration.name, dimensions: CycleMetrics.duration.dimensions(s)).recordNanoseconds(duration.wholeNanoseconds)
        for (kind, n) in [("full", r.fullItems), ("delta", r.deltaItems), ("incremental", r.incrementalItems)] where n > 0 {
            Counter(label: CycleMetrics.workItems.name, dimensions: CycleMetrics.workItems.dimensions(s, kind)).increment(by: n)
        }
        Gauge(label: CycleMetrics.seriesTracked.name, dimensions: CycleMetrics.seriesTracked.dimensions(s)).record(r.seriesTracked)
        if r.feedFailed { Counter(label: CycleMetrics.feedFailures.name, dimensions: CycleMetrics.feedFailures.dimensions(s)).increment() }
    }

    func failed(schedule: String) {
        Counter(label: CycleMetrics.cycles.name, dimensions: CycleMetrics.cycles.dimensions(schedule, "failed")).increment()
    }
}

/// db-writer: the Prometheus view of ``WriterMetrics`` (`ssmd_writer_*`), emitted by the
/// writer shell as it commits, so the pure value stays a plain value.
public enum WriterPrometheusMetrics {
    public static let batches = MetricDefinition.counter("ssmd_writer_batches_total", help: "Batches committed")
    public static let messages = MetricDefinition.counter(
        "ssmd_writer_messages_total", help: "Messages committed (counted before coalescing to the newest state per key)")
    public static let deadLetters = MetricDefinition.counter(
        "ssmd_writer_dead_letters_total", help: "Messages set aside on ssmd.dlq.db-writer (undecodable, or rejected by PostgreSQL)")
    public static let commitRetries = MetricDefinition.counter(
        "ssmd_writer_commit_retries_total", help: "Batch commits retried after a PostgreSQL error (nothing acked meanwhile)")
    public static let rows = MetricDefinition.counter(
        "ssmd_writer_rows_total", labels: ["table", "outcome"],
        help: "Rows by table (series, events, markets) and outcome (inserted, updated, unchanged: identical, older or coalesced away)")
    public static let seriesDeactivated = MetricDefinition.counter(
        "ssmd_writer_series_deactivated_total", help: "Series switched inactive because their category's complete listing no longer had them")
    public static let seriesReactivated = MetricDefinition.counter(
        "ssmd_writer_series_reactivated_total", help: "Inactive series switched active again because a listing had them")
    public static let markedGone = MetricDefinition.counter(
        "ssmd_writer_marked_gone_total", help: "Markets and events a complete series sync proved gone")
    public static let lastBatchMessages = MetricDefinition.gauge(
        "ssmd_writer_last_batch_messages", help: "Messages in the last committed batch")
    public static let lastBatchBytes = MetricDefinition.gauge(
        "ssmd_writer_last_batch_bytes", help: "Payload bytes in the last committed batch")
    public static let batchSize = MetricDefinition.histogram(
        "ssmd_writer_batch_size", buckets: WriterMetrics.batchSizeBounds, help: "Messages per committed batch")
    public static let commitSeconds = MetricDefinition.histogram(
        "ssmd_writer_commit_seconds", buckets: WriterMetrics.commitSecondsBounds,
        help: "Time from the start of a successful commit attempt to its COMMIT")
    public static let consumerPending = MetricDefinition.gauge(
        "ssmd_writer_consumer_pending", help: "Messages on the secmaster stream not yet delivered to the writer (its lag), as last read")
    public static let consumerAckPending = MetricDefinition.gauge(
        "ssmd_writer_consumer_ack_pending", help: "Messages delivered to the writer and not yet acked, as last read")

    public static let definitions = [batches, messages, deadLetters, commitRetries, rows, seriesDeactivated, seriesReactivated,
                                     markedGone, lastBatchMessages, lastBatchBytes, batchSize, commitSeconds,
                                     consumerPending, consumerAckPending]
    static let tables = ["series", "events", "markets"]
    static let outcomes = ["inserted", "updated", "unchanged"]
}

/// Emits the writer's figures; everything but the lag exists from the start (the lag gauges
/// appear once the consumer was first read: a 0 before would claim a lag nobody measured).
public struct WriterMetricsEmitter: Sendable {
    public init() {
        let m = WriterPrometheusMetrics.self
        for d in [m.batches, m.messages, m.deadLetters, m.commitRetries, m.seriesDeactivated, m.seriesReactivated, m.markedGone] {
            _ = Counter(label: d.name)
        }
        for t in m.tables { for o in m.outcomes { _ = Counter(label: m.rows.name, dimensions: m.rows.dimensions(t, o)) } }
        for d in [m.lastBatchMessages, m.lastBatchBytes] { _ = Gauge(label: d.name) }
        _ = Recorder(label: m.batchSize.name)
        _ = CoreMetrics.Timer(label: m.commitSeconds.name)
    }

    func committed(messages: Int, bytes: Int, duration: Duration, series: UpsertCounts, events: UpsertCounts, markets: UpsertCounts,
                   deactivated: Int, reactivated: Int, gone: Int) {
        let m = WriterPrometheusMetrics.self
        Counter(label: m.batches.name).increment()
        Counter(label: m.messages.name).increment(by: messages)
        for (table, c) in [("series", series), ("events", events), ("markets", markets)] {
            for (outcome, n) in [("inserted", c.inserted), ("updated", c.updated), ("unchanged", c.unchanged)] where n > 0 {
                Counter(label: m.rows.name, dimensions: m.rows.dimensions(table, outcome)).increment(by: n)
            }
        }
        if deactivated > 0 { Counter(label: m.seriesDeactivated.name).increment(by: deactivated) }
        if reactivated > 0 { Counter(label: m.seriesReactivated.name).increment(by: reactivated) }
        if gone > 0 { Counter(label: m.markedGone.name).increment(by: gone) }
        Gauge(label: m.lastBatchMessages.name).record(messages)
        Gauge(label: m.lastBatchBytes.name).record(bytes)
        Recorder(label: m.batchSize.name).record(messages)
        CoreMetrics.Timer(label: m.commitSeconds.name).recordNanoseconds(duration.wholeNanoseconds)
    }

    func commitRetried() { Counter(label: WriterPrometheusMetrics.commitRetries.name).increment() }
    func deadLettered() { Counter(label: WriterPrometheusMetrics.deadLetters.name).increment() }

    /// The writer consumer's backlog as just read from the server.
    public static func lag(pending: UInt64, ackPending: Int64) {
        Gauge(label: WriterPrometheusMetrics.consumerPending.name).record(Double(pending))
        Gauge(label: WriterPrometheusMetrics.consumerAckPending.name).record(Double(ackPending))
    }
}
