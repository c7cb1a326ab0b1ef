import KalshiModels
import SSMDCore
import WireContract

/// What one batch of lifecycle messages asks for: the markets to read again (each once, in
/// arrival order) and the earliest time the listener may have missed messages from. Pure:
/// the refresher feeds it decoded messages and acts on the result.
public struct LifecycleBatch: Sendable, Equatable {
    /// Markets named by market notices (`created`, `activated`, `deactivated`,
    /// `close_date_updated`, `determined`, `settled`, `metadata_updated`,
    /// `price_level_structure_updated`), without repeats.
    public private(set) var marketTickers: [String] = []
    /// Events named by event notices (an event was created: its markets follow as `created`
    /// market notices, so nothing is read for it here).
    public private(set) var eventTickers: [String] = []
    /// The earliest `from` of the gaps in the batch: the REST feed is asked again from there.
    public private(set) var missedSince: Timestamp?
    /// A gap without `from` (the listener had received nothing yet): it cannot say what it
    /// missed, and the REST feed's own position already covers it.
    public private(set) var openGaps = 0

    public init() {}

    private var seen = Set<String>()

    public mutating func add(_ notice: LifecycleNotice) {
        if let ticker = notice.marketTicker {
            if seen.insert(ticker).inserted { marketTickers.append(ticker) }
        } else if let event = notice.eventTicker, !eventTickers.contains(event) {
            eventTickers.append(event)
        }
    }

    public mutating func add(_ gap: LifecycleGap) {
        guard let from = gap.from else { openGaps += 1; return }
        missedSince = missedSince.map { Swift.min($0, from) } ?? from
    }

    public var isEmpty: Bool { marketTickers.isEmpty && eventTickers.isEmpty && missedSince == nil && openGaps == 0 }

    public static func == (a: LifecycleBatch, b: LifecycleBatch) -> Bool {
        a.marketTickers == b.marketTickers && a.eventTickers == b.eventTickers && a.missedSince == b.missedSince && a.openGaps == b.openGaps
    }
}
