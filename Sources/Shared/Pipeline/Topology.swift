import NATSClient
import WireContract

/// The streams, consumers and buckets ssmd needs, provisioned idempotently by every daemon at
/// start (so any start order works and a wiped server is rebuilt).
public struct Topology: Sendable {
    /// How long a consumer waits for an ack before redelivering (work items send in-progress
    /// acks while they wait for the rate budget, so this is a stall detector, not a deadline).
    public var workAckWait: Duration = .seconds(30)
    public var workMaxDeliver = 20
    public var writerAckWait: Duration = .seconds(60)
    public var writerMaxAckPending = 100_000
    public var duplicateWindow: Duration = .seconds(120)
    public var deadLetterMaxAge: Duration = .seconds(14 * 86_400)
    public var lifecycleMaxAge: Duration = .seconds(86_400)
    /// Copies of every stream and KV bucket in a clustered JetStream (`--stream-replicas`).
    /// Raised on existing ones when asked, never lowered (see `JetStream.ensureStream`).
    public var streamReplicas = 1

    /// Copies of the buckets written by compare-and-set (the rate budget; the leader lease and
    /// sync state): 1 unless raised, whatever `streamReplicas` says — see
    /// `Settings.coordinationReplicas` for why.
    public var coordinationReplicas = 1

    public init(streamReplicas: Int = 1, coordinationReplicas: Int = 1) {
        self.streamReplicas = max(1, streamReplicas)
        self.coordinationReplicas = max(1, coordinationReplicas)
    }

    public static let stateBucket = "ssmd_state"
    public static let budgetBucket = "ssmd_budget"
    public static let budgetBucketDescription = "ssmd shared exchange rate budget (GCRA state)"

    public var streams: [StreamSpec] {
        var work = StreamSpec(name: Streams.work, subjects: [Subjects.allWork, Subjects.listing])
        work.retention = .workQueue
        work.duplicateWindow = duplicateWindow
        var secmaster = StreamSpec(name: Streams.secmaster, subjects: Subjects.secmasterSubjects)
        secmaster.maxMsgsPerSubject = 1
        secmaster.duplicateWindow = duplicateWindow
        var dlq = StreamSpec(name: Streams.deadLetters, subjects: [Subjects.allDeadLetters])
        dlq.maxAge = deadLetterMaxAge
        var lifecycle = StreamSpec(name: Streams.lifecycle, subjects: [Subjects.allLifecycle])
        lifecycle.maxAge = lifecycleMaxAge
        // Two listeners may run side by side: each message lands once.
        lifecycle.duplicateWindow = duplicateWindow
        return [work, secmaster, dlq, lifecycle].map { var spec = $0; spec.replicas = streamReplicas; return spec }
    }

    public func workConsumer(tag: String) -> ConsumerSpec {
        marketFetcherConsumer(Streams.workConsumer(tag: tag), subject: Subjects.work(tag: tag), maxAckPending: 1000,
                              description: "market-fetcher pool for tag \(tag)")
    }

    /// Every replica of every pool shares it: a listing part goes to whichever is free.
    public var listingConsumer: ConsumerSpec {
        marketFetcherConsumer(Streams.listingConsumer, subject: Subjects.listing, maxAckPending: 100,
                              description: "market-fetchers: parts of exchange-wide listings")
    }

    /// A consumer of the work stream that market-fetchers share: redelivered after
    /// `workAckWait` of silence, set aside after `workMaxDeliver` attempts.
    private func marketFetcherConsumer(_ name: String, subject: String, maxAckPending: Int, description: String) -> ConsumerSpec {
        var c = ConsumerSpec(durableName: name)
        c.filterSubject = subject
        c.ackWait = workAckWait
        c.maxDeliver = workMaxDeliver
        c.maxAckPending = maxAckPending
        c.description = description
        return c
    }

    /// The series-fetcher's targeted refreshes from lifecycle messages. Redelivered until
    /// acted on (a batch waits while the exchange cannot be read); the stream keeps a day.
    public var freshnessConsumer: ConsumerSpec {
        var c = ConsumerSpec(durableName: Streams.freshnessConsumer)
        c.filterSubject = Subjects.allLifecycle
        c.ackWait = .seconds(60)
        c.maxAckPending = 10_000
        c.description = "series-fetcher: targeted refreshes from lifecycle messages"
        return c
    }

    public var writerConsumer: ConsumerSpec {
        var c = ConsumerSpec(durableName: Streams.writerConsumer)
        c.ackWait = writerAckWait
        c.maxAckPending = writerMaxAckPending
        c.maxDeliver = -1
        c.description = "db-writer: series, events, markets into PostgreSQL"
        return c
    }

    public func provision(_ js: JetStream) async throws {
        for s in streams { try await js.ensureStream(s) }
        _ = try await js.ensureKeyValue(KeyValueSpec(bucket: Topology.stateBucket, replicas: coordinationReplicas))
        _ = try await js.ensureKeyValue(KeyValueSpec(bucket: Topology.budgetBucket, description: Topology.budgetBucketDescription,
                                                     replicas: coordinationReplicas))
    }
}
