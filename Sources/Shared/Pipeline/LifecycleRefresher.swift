import Logging
import KalshiAPI
import KalshiModels
import NATSClient
import SSMDCore
import SyncCore
import WireContract

/// Turns the exchange's lifecycle messages (republished on `ssmd.lifecycle.…` by the
/// lifecycle-listener) into targeted refreshes within seconds: the markets they name are read
/// again (`GET /markets?tickers=…`) and handed to the market-fetchers as `delta` work items of
/// their series, the normal path to connectors and PostgreSQL. A gap (the listener may have
/// missed messages) makes each schedule's next change feed ask again from the gap's start.
///
/// Runs inside series-fetcher, which knows the tracked series and their routing; it waits
/// for the first cycle's listing before it acts, and idles where no listener runs.
public final class LifecycleRefresher: Sendable {
    private let client: ExchangeClient
    private let js: JetStream
    private let topology: Topology
    private let syncer: SeriesSyncer
    private let logger: Logger
    /// Messages taken in one batch at most, and the longest a message waits for its batch.
    let batchSize = 500
    let batchWait: Duration = .seconds(1)

    public init(client: ExchangeClient, js: JetStream, topology: Topology, syncer: SeriesSyncer, logger: Logger) {
        self.client = client
        self.js = js
        self.topology = topology
        self.syncer = syncer
        self.logger = logger
    }

    /// Until the task is cancelled or the process shuts down.
    public func run() async throws {
        try await js.ensureConsumer(stream: Streams.lifecycle, topology.freshnessConsumer)
        let subscription = try await js.pullSubscribe(stream: Streams.lifecycle, consumer: Streams.freshnessConsumer)
        defer { subscription.close() }
        logger.info("lifecycle refresher consuming", metadata: ["stream": "\(Streams.lifecycle)"])
        while !Task.isCancelled {
            let messages: [JetStreamMessage]
            do {
                messages = try await subscription.fetch(batch: batchSize, maxWait: batchWait)
            } catch {
                if Task.isCancelled { return }
                logger.warning("lifecycle fetch failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if messages.isEmpty { continue }
            await handle(messages)
        }
    }

    /// One batch: decoded, acted on, then acknowledged — or handed back for redelivery when
    /// the series are not known yet or the exchange could not be read.
    func handle(_ messages: [JetStreamMessage]) async {
        var batch = LifecycleBatch()
        var usable: [JetStreamMessage] = []
        for m in messages {
            if m.subject == Subjects.lifecycleGap, let gap = try? MessageCodec.decode(LifecycleGap.self, from: m.data, subject: m.subject) {
                batch.add(gap)
            } else if m.subject != Subjects.lifecycleGap,
                      let notice = try? MessageCodec.decode(LifecycleNotice.self, from: m.data, subject: m.subject) {
                batch.add(notice)
            } else {
                // Nothing to act on in it; the listener's own copy stays in the stream.
                logger.warning("undecodable lifecycle message skipped", metadata: ["subject": "\(m.subject)"])
                try? m.term()
                continue
            }
            usable.append(m)
        }
        guard !usable.isEmpty else { return }
        let tracked = syncer.trackedSeries()
        guard !tracked.isEmpty else {
            // Before the first cycle nothing is known to route by; that cycle reads everything anyway.
            for m in usable { try? m.nak(delay: .seconds(5)) }
            return
        }
        if let since = batch.missedSince {
            syncer.noteLifecycleGap(since: since)
            logger.info("lifecycle gap: the next change feed covers it", metadata: ["from": "\(since)"])
        }
        do {
            let items = try await refresh(batch.marketTickers, tracked: tracked)
            if items > 0 {
                logger.debug("lifecycle refresh handed out", metadata: ["markets": "\(batch.marketTickers.count)", "work_items": "\(items)"])
            }
            for m in usable { try? m.ack() }
        } catch {
            logger.warning("lifecycle refresh failed; the messages come back", metadata: ["error": "\(error)", "markets": "\(batch.marketTickers.count)"])
            for m in usable { try? m.nak(delay: .seconds(5)) }
        }
    }

    /// Reads the markets and publishes one `delta` work item per series; returns how many.
    /// Markets of series no schedule tracks are left alone.
    func refresh(_ tickers: [String], tracked: [String: (schedule: String, series: TrackedSeriesRef)]) async throws -> Int {
        let listed = Set(tracked.keys)
        // A market's ticker starts with its event's, which starts with its series': markets
        // of series no schedule tracks (combo/MVE markets among them, created by the
        // thousand) are not read at all. Attribution after the read is by event, exactly.
        let wanted = tickers.filter { SeriesAttribution.series(ofEvent: $0, listed: listed) != nil }
        guard !wanted.isEmpty else { return 0 }
        var merge = FeedMerge()
        try await client.forEachMarketsPage(tickers: wanted) { page in
            for m in page {
                if let series = SeriesAttribution.series(ofEvent: m.eventTicker, listed: listed) { merge.add(m, series: series) }
            }
        }
        let now = Timestamp.now()
        var publisher = SlicedPublisher(js: js, logger: logger)
        for (series, markets) in merge.changes.sorted(by: { $0.key < $1.key }) {
            guard let (schedule, ref) = tracked[series] else { continue }
            try await js.ensureConsumer(stream: Streams.work, topology.workConsumer(tag: ref.routingTag))
            let builder = WorkItemBuilder(schedule: schedule, cycleId: "live-\(now.microsecondsSinceEpoch)", issuedAt: now,
                                          exchangeTime: client.clock.now(), deltaLimit: .max, settledSince: now)
            let item = builder.item(.delta(markets), for: ref)
            try await publisher.append(OutgoingMessage(subject: item.subject, data: try MessageCodec.encode(item), msgId: item.messageID))
        }
        try await publisher.flush()
        return merge.changes.count
    }
}
