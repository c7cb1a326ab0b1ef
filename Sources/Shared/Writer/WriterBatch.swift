/// Decodes a fetched batch by subject kind; what cannot be decoded is poison, with its reason.
public struct DecodedBatch: Sendable {
    public var coalesced = CoalescedBatch()
    public var poison: [(index: Int, reason: String)] = []

    public init(subjects: [String], payloads: [[UInt8]]) {
        for (i, (subject, data)) in zip(subjects, payloads).enumerated() {
            do {
                if subject.hasPrefix("ssmd.market.") {
                    coalesced.add(try MessageCodec.decode(MarketMessage.self, from: data, subject: subject))
                } else if subject.hasPrefix("ssmd.event.") {
                    coalesced.add(try MessageCodec.decode(EventMessage.self, from: data, subject: subject))
                } else if subject.hasPrefix("ssmd.series.") {
                    coalesced.add(try MessageCodec.decode(SeriesMessage.self, from: data, subject: subject))
                } else if subject.hasPrefix("ssmd.catalog.") {
                    coalesced.add(try MessageCodec.decode(CatalogMessage.self, from: data, subject: subject))
                } else {
                    poison.append((i, "no writer for subject \(subject)"))
                }
            } catch {
                poison.append((i, "\(error)"))
            }
        }
    }

    /// Rows in dependency order for one transaction.
    public var rows: (series: [SeriesRow], events: [EventRow], markets: [MarketRow]) {
        (coalesced.series.values.map(SeriesRow.init).sorted { $0.ticker < $1.ticker },
         coalesced.events.values.map(EventRow.init).sorted { $0.ticker < $1.ticker },
         coalesced.markets.values.map(MarketRow.init).sorted { $0.ticker < $1.ticker })
    }
}
