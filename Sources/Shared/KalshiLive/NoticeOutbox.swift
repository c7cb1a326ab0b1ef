import SSMDCore
import WireContract

/// What the listener has received and NATS has not yet acknowledged, in order: notices and
/// gaps. Bounded: past `limit` notices the oldest is dropped and a gap covering what was
/// dropped takes its place (gaps are never dropped), so a long NATS outage costs a REST
/// catch-up, not memory (at most `limit` notices plus the one batch being published). Items
/// carry increasing sequence numbers: the publisher `peek`s a batch, publishes it, and
/// `acknowledge`s through its last number (or calls `retryLater`), while receipt goes on.
public struct NoticeOutbox: Sendable {
    public enum Item: Sendable, Equatable {
        case notice(LifecycleNotice)
        case gap(LifecycleGap)
    }

    public let limit: Int
    private var items: [(seq: UInt64, item: Item)] = []
    private var head = 0
    private var nextSeq: UInt64 = 1
    private var notices = 0
    /// The gap standing for dropped notices that may still grow (not handed out yet).
    private var overflowGapSeq: UInt64?
    /// Everything up to here has been handed to the publisher.
    private var peekedThrough: UInt64 = 0
    /// Notices dropped for the bound, in all.
    public private(set) var dropped = 0

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public var count: Int { items.count - head }
    public var noticeCount: Int { notices }
    public var isEmpty: Bool { count == 0 }

    /// Adds an item; returns true when a notice had to be dropped to keep the bound.
    @discardableResult
    public mutating func append(_ item: Item) -> Bool {
        items.append((nextSeq, item))
        nextSeq += 1
        guard case .notice = item else { return false }
        notices += 1
        guard notices > limit else { return false }
        dropOldestNotice()
        return true
    }

    private mutating func dropOldestNotice() {
        // The oldest notice not in the publisher's hands: one being published is either
        // stored (then it was not lost) or handed back by `retryLater`. What is in flight is
        // at most one batch, so memory stays bounded.
        guard let i = (head..<items.count).first(where: {
                  guard items[$0].seq > peekedThrough, case .notice = items[$0].item else { return false }
                  return true
              }),
              case .notice(let lost) = items[i].item else { return }
        notices -= 1
        dropped += 1
        // Extend the overflow gap while it is still ours to change: it sits before the dropped
        // notice and has not been handed to the publisher.
        if let gapSeq = overflowGapSeq, gapSeq > peekedThrough,
           let g = (head..<i).last(where: { items[$0].seq == gapSeq }), case .gap(var gap) = items[g].item {
            gap.to = max(gap.to, lost.receivedAt)
            items[g].item = .gap(gap)
            items.remove(at: i)
        } else {
            // The gap takes the dropped notice's place (and sequence number).
            let gap = LifecycleGap(from: lost.receivedAt, to: lost.receivedAt,
                                   reason: "notices dropped: NATS did not take them before the buffer of \(limit) was full")
            items[i] = (items[i].seq, .gap(gap))
            overflowGapSeq = items[i].seq
        }
        compact()
    }

    /// Up to `max` items from the head, with the sequence number to acknowledge them by.
    public mutating func peek(max: Int) -> (items: [Item], through: UInt64)? {
        guard !isEmpty else { return nil }
        let slice = items[head..<min(items.count, head + Swift.max(1, max))]
        let through = slice.last!.seq
        peekedThrough = Swift.max(peekedThrough, through)
        return (slice.map(\.item), through)
    }

    /// Removes every item up to sequence number `through` (the publisher has them stored).
    /// Items dropped meanwhile are simply gone; nothing after `through` is touched.
    public mutating func acknowledge(through: UInt64) {
        while head < items.count, items[head].seq <= through {
            if case .notice = items[head].item { notices -= 1 }
            head += 1
        }
        compact()
    }

    /// After a failed publish: the same items will be handed out again, and the overflow gap
    /// among them may grow again.
    public mutating func retryLater() {
        peekedThrough = items.indices.contains(head) ? items[head].seq - 1 : nextSeq - 1
    }

    private mutating func compact() {
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
