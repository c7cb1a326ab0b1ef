import Foundation
import SSMDCore
import SecmasterSchema
import WireContract

/// One secmaster payload, decoded.
public enum SecmasterPayload: Sendable {
    case series(SeriesMessage)
    case event(EventMessage)
    /// Markets travel as rows: the hot path decodes the payload straight into one.
    case market(MarketRow)
    case catalog(CatalogMessage)
    case snapshot(SeriesSnapshotMessage)

    /// Decodes by subject kind; the error's description is the reason a poison message
    /// is dead-lettered with.
    public static func decode(subject: String, data: [UInt8], decoder: JSONDecoder = JSONDecoder()) throws -> SecmasterPayload {
        switch Subjects.kind(of: subject) {
        case .market?:
            if let row = FastMarketDecoder.decode(data) { return .market(row) }
            return .market(MarketRow(try WriterDecoding.decode(MarketMessage.self, from: data, subject: subject, decoder: decoder)))
        case .event?:
            return .event(try WriterDecoding.decode(EventMessage.self, from: data, subject: subject, decoder: decoder))
        case .series?:
            return .series(try WriterDecoding.decode(SeriesMessage.self, from: data, subject: subject, decoder: decoder))
        case .catalog?:
            return .catalog(try WriterDecoding.decode(CatalogMessage.self, from: data, subject: subject, decoder: decoder))
        case .snapshot?:
            return .snapshot(try WriterDecoding.decode(SeriesSnapshotMessage.self, from: data, subject: subject, decoder: decoder))
        case .work?, .listing?, .lifecycle?, .lifecycleGap?, nil:
            throw MessageDecodingError(subject: subject, reason: "no writer for subject \(subject)")
        }
    }
}

/// A batch reduced to what one transaction writes: decoded payloads coalesced to the
/// newest state per key. What cannot be decoded is poison, with its reason.
public struct DecodedBatch: Sendable {
    public var coalesced = CoalescedBatch()
    public var poison: [(index: Int, reason: String)] = []

    public init(subjects: [String], payloads: [[UInt8]]) {
        let decoder = JSONDecoder()
        for (i, (subject, data)) in zip(subjects, payloads).enumerated() {
            do {
                add(try SecmasterPayload.decode(subject: subject, data: data, decoder: decoder))
            } catch {
                poison.append((i, "\(error)"))
            }
        }
    }

    /// Already decoded payloads (no poison possible).
    public init(_ payloads: some Sequence<SecmasterPayload>) {
        for p in payloads { add(p) }
    }

    public mutating func add(_ payload: SecmasterPayload) {
        switch payload {
        case .series(let m): coalesced.add(m)
        case .event(let m): coalesced.add(m)
        case .market(let m): coalesced.add(m)
        case .catalog(let m): coalesced.add(m)
        case .snapshot(let m): coalesced.add(m)
        }
    }

    /// Rows in dependency order for one transaction.
    public var rows: (series: [SeriesRow], events: [EventRow], markets: [MarketRow]) {
        (coalesced.series.values.map(SeriesRow.init).sorted { $0.ticker < $1.ticker },
         coalesced.events.values.map(EventRow.init).sorted { $0.ticker < $1.ticker },
         coalesced.markets.values.sorted { $0.ticker < $1.ticker })
    }

    /// The category listings to apply after the upserts, newest per category, each with the
    /// series of this batch whose own snapshot is newer than the listing (the listing does
    /// not decide for those: they were seen, so they stay active).
    public var catalogs: [CatalogUpdate] {
        coalesced.catalogs.values.sorted { $0.category < $1.category }.map { c in
            let newer = coalesced.series.values
                .filter { $0.series.category == c.category && $0.fetchedAt > c.fetchedAt }
                .map(\.series.ticker).sorted()
            return CatalogUpdate(category: c.category, listed: c.seriesTickers, newer: newer, listedAt: c.fetchedAt)
        }
    }
}

extension DecodedBatch {
    /// Complete series syncs to apply after the upserts, newest per series.
    public var snapshots: [SeriesSnapshotMessage] {
        coalesced.snapshots.values.sorted { $0.seriesTicker < $1.seriesTicker }
    }
}

/// One category listing as the store applies it.
public struct CatalogUpdate: Sendable, Equatable {
    public var category: String
    public var listed: [String]
    public var newer: [String]
    public var listedAt: Timestamp

    public init(category: String, listed: [String], newer: [String], listedAt: Timestamp = .now()) {
        self.category = category
        self.listed = listed
        self.newer = newer
        self.listedAt = listedAt
    }
}

/// The payload fields the writer checks after decoding in one pass.
protocol VersionedPayload: SSMDMessage {
    var schema: Int { get }
    var kind: MessageKind { get }
}

extension MarketMessage: VersionedPayload {}
extension EventMessage: VersionedPayload {}
extension SeriesMessage: VersionedPayload {}
extension CatalogMessage: VersionedPayload {}
extension SeriesSnapshotMessage: VersionedPayload {}

enum WriterDecoding {
    /// One JSON pass for a good message (the hot path); when that fails or the schema or
    /// kind is not the expected one, ``MessageCodec/decode(_:from:subject:)`` runs to
    /// produce its precise reason (or the message after all).
    static func decode<M: VersionedPayload>(_ type: M.Type, from bytes: [UInt8], subject: String,
                                            decoder: JSONDecoder) throws -> M {
        if let m = try? decoder.decode(M.self, from: Data(bytes)),
           m.schema == MessageSchema.version, m.kind == M.kind {
            return m
        }
        return try MessageCodec.decode(M.self, from: bytes, subject: subject)
    }
}
