import Logging

/// One series-side cycle: read the category→tags map and the sports, fetch each needed
/// category's series, apply the tracking rule and routing, and publish series metadata,
/// complete category listings and one work item per tracked series.
public final class SeriesSyncer: Sendable {
    private let client: ExchangeClient
    private let js: JetStream
    private let topology: Topology
    private let logger: Logger
    private let knownConsumers = LockedSet()

    public init(client: ExchangeClient, js: JetStream, topology: Topology, logger: Logger) {
        self.client = client
        self.js = js
        self.topology = topology
        self.logger = logger
    }

    /// - Parameter claimedByEarlier: selections of schedules that come first; a series they
    ///   cover is theirs, and this cycle leaves it out (overlapping schedules never sync a
    ///   series twice).
    public func runCycle(schedule: String, selection: SeriesSelection, claimedByEarlier: [SeriesSelection] = []) async throws -> CycleReport {
        // Schedules run concurrently on one client: count this cycle's requests only.
        let tally = RequestTally()
        return try await ExchangeClient.$tally.withValue(tally) {
            try await runCounted(schedule: schedule, selection: selection, claimedByEarlier: claimedByEarlier, tally: tally)
        }
    }

    private func runCounted(schedule: String, selection: SeriesSelection, claimedByEarlier: [SeriesSelection], tally: RequestTally) async throws -> CycleReport {
        let started = Timestamp.now()
        let cycleId = "\(schedule)-\(started.secondsSinceEpoch)"
        var log = logger
        log[metadataKey: "cycle"] = "\(cycleId)"

        let map = try await client.tagsByCategories()
        let sports = try await client.sportFilters()
        let rule = TrackingRule(sports: Set(sports.sports))
        let categories = selection.categoriesToFetch(map)
        var listed = 0, tracked = 0, work = 0, failed = 0

        for category in categories {
            // Ask the exchange for only the wanted tags when the schedule names tags of this
            // category and not the category itself; then the listing is partial.
            let whole = selection.coversEverything || selection.categories.contains(category)
            let tagFilter = whole ? [] : selection.tags.filter { (map.categories[category] ?? []).contains($0) }
            let series: [Series]
            do {
                series = try await client.series(category: category, tags: tagFilter)
            } catch {
                failed += 1
                log.error("series fetch failed; category skipped this cycle, nothing deactivated", metadata: [
                    "category": "\(category)", "error": "\(error)"])
                continue
            }
            listed += series.count
            let picked = selection.select(series, category: category, map: map, rule: rule).filter { t in
                !claimedByEarlier.contains { !$0.select([t.series], category: category, map: map, rule: rule).isEmpty }
            }
            tracked += picked.count
            let fetchedAt = Timestamp.now()
            var messages: [OutgoingMessage] = []
            for t in picked {
                let payload = try MessageCodec.encode(SeriesMessage(fetchedAt: fetchedAt, isGame: t.isGame, series: t.series))
                // Same content → same id: an unchanged series is not re-sent within the duplicate window.
                let content = FNV1a.hash64(bytes: try JSONCodec.encode(t.series)).hex + (t.isGame ? "g" : "")
                messages.append(OutgoingMessage(subject: Subjects.series(t.series.ticker), data: payload,
                                                msgId: "series:\(t.series.ticker):\(content)"))
            }
            if tagFilter.isEmpty {
                // Only a complete listing may deactivate anything.
                let catalog = CatalogMessage(fetchedAt: fetchedAt, category: category, seriesTickers: series.map(\.ticker).sorted())
                messages.append(OutgoingMessage(subject: Subjects.catalog(category: category), data: try MessageCodec.encode(catalog),
                                                msgId: "catalog:\(cycleId):\(category)"))
            }
            for t in picked {
                try await ensureWorkConsumer(tag: t.routingTag)
                let item = WorkItem(seriesTicker: t.series.ticker, category: t.series.category.isEmpty ? category : t.series.category,
                                    tags: t.series.tags, routingTag: t.routingTag, isGame: t.isGame,
                                    schedule: schedule, cycleId: cycleId, issuedAt: fetchedAt)
                messages.append(OutgoingMessage(subject: Subjects.work(tag: t.routingTag), data: try MessageCodec.encode(item),
                                                msgId: "work:\(cycleId):\(t.series.ticker)"))
                work += 1
            }
            try await ReliablePublisher(js: js, logger: log).publishAll(messages)
            log.debug("category synced", metadata: ["category": "\(category)", "listed": "\(series.count)", "tracked": "\(picked.count)"])
        }

        let report = CycleReport(schedule: schedule, cycleId: cycleId, startedAt: started, finishedAt: .now(),
                                 categories: categories.count, categoriesFailed: failed, seriesListed: listed,
                                 seriesTracked: tracked, workItems: work,
                                 requests: tally.requests)
        await recordReport(report)
        return report
    }

    func ensureWorkConsumer(tag: String) async throws {
        guard !knownConsumers.contains(tag) else { return }
        let js = self.js, spec = topology.workConsumer(tag: tag)
        try await Offload.run { try js.ensureConsumer(stream: Streams.work, spec) }
        knownConsumers.insert(tag)
    }

    func recordReport(_ report: CycleReport) async {
        let js = self.js
        do {
            let bytes = try JSONCodec.encode(report)
            _ = try await Offload.run { try js.keyValue(bucket: Topology.stateBucket).put("cycle.\(SubjectToken.encode(report.schedule))", value: bytes) }
        } catch {
            logger.warning("could not record cycle report", metadata: ["error": "\(error)"])
        }
    }
}

/// A set shared between tasks.
final class LockedSet: @unchecked Sendable {
    private let lock = SimpleLock()
    private var items = Set<String>()
    func contains(_ s: String) -> Bool { lock.withLock { items.contains(s) } }
    func insert(_ s: String) { lock.withLock { _ = items.insert(s) } }
}
