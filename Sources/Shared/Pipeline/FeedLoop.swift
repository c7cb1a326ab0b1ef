import CoreMetrics
import Logging
import KalshiAPI
import KalshiModels
import NATSClient
import SSMDCore
import SyncCore
import WireContract

/// What the exchange-wide feed remembers between runs (KV `ssmd_state`, key `feed`).
public struct FeedState: Codable, Sendable, Equatable {
    /// Exchange time at which the last run whose changes were all handed out began.
    public var since: Timestamp

    public init(since: Timestamp) { self.since = since }
}

/// The change feed on its own short interval (`--feed-interval`, 15 s), shared by every
/// schedule: one set of exchange-wide requests finds what changed (`ChangeFeed`: created,
/// metadata, closed, settled, and the due-time index's openings and determinations), and the
/// changes go out as `delta`/`incremental` work items of the schedule tracking each series.
/// The schedules' cycles then only list series, reconcile and re-read; they no longer wait
/// their interval (5 min) to pass changes on.
///
/// Runs inside series-fetcher next to the schedules (on the leader only); waits for the first
/// cycles to list the series it routes by.
public final class FeedLoop: Sendable {
    private let client: ExchangeClient
    private let js: JetStream
    private let topology: Topology
    private let syncer: SeriesSyncer
    private let interval: Duration
    private let policy: SyncPolicy
    private let logger: Logger
    private let mayWrite: @Sendable () -> Bool

    public init(client: ExchangeClient, js: JetStream, topology: Topology, syncer: SeriesSyncer, interval: Duration,
                policy: SyncPolicy, logger: Logger, mayWrite: @escaping @Sendable () -> Bool = { true }) {
        self.client = client
        self.js = js
        self.topology = topology
        self.syncer = syncer
        self.interval = interval
        self.policy = policy
        self.logger = logger
        self.mayWrite = mayWrite
        FeedMetrics.prepare()
    }

    /// Until the task is cancelled or the process shuts down.
    public func run() async {
        logger.info("exchange-wide change feed running", metadata: ["interval_s": "\(interval.seconds)"])
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            var wait = interval
            do {
                if let report = try await runOnce() {
                    FeedMetrics.ran(report)
                } else {
                    // No series listed yet: look again soon after the first cycle lists them.
                    wait = min(interval, .seconds(1))
                }
            } catch is CancellationError {
                return
            } catch {
                FeedMetrics.failed()
                logger.warning("change feed failed; the next run asks again from the same point", metadata: ["error": "\(error)"])
            }
            let next = started + wait
            // Openings fall due at their `open_time`, which no feed query reports, and
            // scheduled closes at their `close_time`, which the closed feed reports only at its
            // next run: wake for each before the next run instead of leaving it up to an
            // interval late.
            while let wake = nextDueWake(before: next) {
                guard await sleepUnlessShuttingDown(wake - ContinuousClock.now) else { return }
                do {
                    try await runDue()
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("reading due openings and closes failed; the next run reads them", metadata: ["error": "\(error)"])
                    break
                }
            }
            if ContinuousClock.now < next {
                guard await sleepUnlessShuttingDown(next - ContinuousClock.now) else { return }
            }
        }
    }

    /// How long after an `open_time` (or `close_time`) the feed reads the market: the
    /// exchange opens it "when `open_time` passes" (recorded markets show `updated_time` a few
    /// milliseconds later).
    static let dueLag: Duration = .seconds(1)
    /// Due-only runs are at least this far apart (openings a second apart share one).
    static let dueRunSpacing: Duration = .seconds(1)

    /// When to wake for the index's next opening or close, if that comes before `next` (the
    /// next regular run).
    func nextDueWake(before next: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let exchangeNow = client.clock.now()
        guard let dueTime = syncer.nextFeedWake(from: exchangeNow) else { return nil }
        let untilDue = Duration.microseconds(dueTime.microsecondsSinceEpoch - exchangeNow.microsecondsSinceEpoch) + Self.dueLag
        let wake = ContinuousClock.now + Swift.max(untilDue, Self.dueRunSpacing)
        return wake < next ? wake : nil
    }

    /// Only the due-time index's markets due now, read by ticker and handed out; the feed's
    /// saved position does not move (the feed queries did not run).
    func runDue() async throws {
        let tracked = syncer.trackedSeries()
        guard !tracked.isEmpty else { return }
        let now = client.clock.now()
        let tally = RequestTally()
        let report = try await syncer.withFeedDueIndex(log: logger) { [self] due in
            let result = try await ExchangeClient.$tally.withValue(tally) {
                try await ChangeFeed(client: client).fetchDue(listed: syncer.listedTickers(), due: &due, now: now)
            }
            let items = try await handOut(result, tracked: tracked, now: now, from: now.adding(seconds: -policy.feedOverlapSeconds))
            return Report(requests: tally.requests, returned: result.returned, workItems: items,
                          dueRead: result.dueRead, dueChanged: result.dueChanged)
        }
        FeedMetrics.ranDue(report)
        if report.workItems > 0 {
            logger.info("due openings and closes handed out", metadata: [
                "work_items": "\(report.workItems)", "due_read": "\(report.dueRead)", "due_changed": "\(report.dueChanged)",
                "requests": "\(report.requests)"])
        }
    }

    /// The work items of `result`'s changes, published; how many.
    private func handOut(_ result: ChangeFeed.Result, tracked: [String: (schedule: String, series: TrackedSeriesRef)],
                         now: Timestamp, from: Timestamp) async throws -> Int {
        let items = workItems(result.changes, tracked: tracked, now: now, from: from)
        // A series-fetcher that lost its lease meanwhile hands out nothing and keeps its place.
        guard mayWrite() else { throw LeaseLost() }
        var publisher = SlicedPublisher(js: js, logger: logger)
        for item in items {
            try await syncer.ensureWorkConsumer(tag: item.routingTag)
            try await publisher.append(OutgoingMessage(subject: item.subject, data: try MessageCodec.encode(item), msgId: item.messageID))
        }
        try await publisher.flush()
        guard mayWrite() else { throw LeaseLost() }
        return items.count
    }

    /// What one run did.
    public struct Report: Sendable, Equatable {
        public var requests = 0
        public var returned = 0
        public var workItems = 0
        public var dueRead = 0
        public var dueChanged = 0
    }

    /// One run; nil before the first cycles have listed any series.
    func runOnce() async throws -> Report? {
        let tracked = syncer.trackedSeries()
        guard !tracked.isEmpty, let start = syncer.feedStartHint() else { return nil }
        let kv = try await js.keyValue(bucket: Topology.stateBucket)
        let now = client.clock.now()
        var since = try await kv.get(StateKeys.feed).flatMap { try? JSONCodec.decode(FeedState.self, from: $0.value) }?.since ?? start
        // A gap of the lifecycle listener, or a schedule whose state starts earlier.
        let gap = syncer.takeFeedGap()
        if let gap, gap < since { since = gap }
        // Older than a whole reconciliation period: the schedules' cycles read everything
        // anyway (their own state is as old), so the feed need not go further back.
        since = Swift.max(since, now.adding(seconds: -policy.maxFeedAgeSeconds))
        let from = since.adding(seconds: -policy.feedOverlapSeconds)

        let tally = RequestTally()
        // The whole run holds the due-time index: it keeps what the run read only once the
        // changes found are handed out.
        let report: Report
        do {
            report = try await syncer.withFeedDueIndex(log: logger) { [self] due in
                let result = try await ExchangeClient.$tally.withValue(tally) {
                    try await ChangeFeed(client: client).fetch(since: from, listed: syncer.listedTickers(), due: &due, now: now,
                                                               sweepEverySeconds: policy.unopenedSweepSeconds, paced: true)
                }
                let items = try await handOut(result, tracked: tracked, now: now, from: from)
                _ = try await kv.put(StateKeys.feed, value: try JSONCodec.encode(FeedState(since: now)))
                return Report(requests: tally.requests, returned: result.returned, workItems: items,
                              dueRead: result.dueRead, dueChanged: result.dueChanged)
            }
        } catch {
            // Not covered yet: the next run asks from the gap again (the saved position did
            // not move either).
            if let gap { syncer.noteFeedGap(since: gap) }
            throw error
        }
        if report.workItems > 0 {
            logger.info("changes handed out", metadata: [
                "work_items": "\(report.workItems)", "returned": "\(report.returned)",
                "due_read": "\(report.dueRead)", "due_changed": "\(report.dueChanged)", "requests": "\(report.requests)",
                "since": "\(from)"])
        }
        return report
    }

    /// One work item per changed series of a tracked series, to the schedule tracking it.
    func workItems(_ changes: [String: [Market]], tracked: [String: (schedule: String, series: TrackedSeriesRef)],
                   now: Timestamp, from: Timestamp) -> [WorkItem] {
        let issuedAt = Timestamp.now()
        let cycleId = "feed-\(now.secondsSinceEpoch)"
        var items: [WorkItem] = []
        for (series, markets) in changes.sorted(by: { $0.key < $1.key }) where !markets.isEmpty {
            guard let (schedule, ref) = tracked[series] else { continue }
            let builder = WorkItemBuilder(schedule: schedule, cycleId: cycleId, issuedAt: issuedAt, exchangeTime: now,
                                          deltaLimit: policy.deltaLimit, settledSince: now)
            let decision: SyncDecision = markets.count <= policy.deltaLimit
                ? .delta(markets) : .incremental(since: from, tickers: markets.map(\.ticker))
            items.append(builder.item(decision, for: ref))
        }
        return items
    }
}

/// series-fetcher: the shared change feed (`ssmd_feed_*`).
public enum FeedMetrics {
    public static let runs = MetricDefinition.counter(
        "ssmd_feed_runs_total", labels: ["outcome"],
        help: "Runs of the exchange-wide change feed by outcome: complete (changes handed out), failed (the next run asks again from the same point)")
    public static let lastSuccess = MetricDefinition.gauge(
        "ssmd_feed_last_success_timestamp_seconds", help: "Unix time at which the change feed last handed out every change it found")
    public static let requests = MetricDefinition.counter(
        "ssmd_feed_requests_total", help: "Exchange requests of the change feed (feeds, due-time re-reads, sweeps)")
    public static let workItems = MetricDefinition.counter(
        "ssmd_feed_work_items_total", help: "Work items (delta or incremental) the change feed handed out")

    public static let definitions = [runs, lastSuccess, requests, workItems]

    static func prepare() {
        for o in ["complete", "failed"] { _ = Counter(label: runs.name, dimensions: runs.dimensions(o)) }
        _ = Counter(label: requests.name)
        _ = Counter(label: workItems.name)
    }

    static func ran(_ r: FeedLoop.Report) {
        Counter(label: runs.name, dimensions: runs.dimensions("complete")).increment()
        Gauge(label: lastSuccess.name).record(Double(Timestamp.now().microsecondsSinceEpoch) / 1e6)
        if r.requests > 0 { Counter(label: requests.name).increment(by: r.requests) }
        if r.workItems > 0 { Counter(label: workItems.name).increment(by: r.workItems) }
    }

    /// A due-only run between two runs (an opening): its requests and work items count, the
    /// run itself does not (it is not a complete feed run).
    static func ranDue(_ r: FeedLoop.Report) {
        if r.requests > 0 { Counter(label: requests.name).increment(by: r.requests) }
        if r.workItems > 0 { Counter(label: workItems.name).increment(by: r.workItems) }
    }

    static func failed() {
        Counter(label: runs.name, dimensions: runs.dimensions("failed")).increment()
    }
}
