import Foundation

public enum TransitionEntity: UInt8, Sendable, CaseIterable {
    case series, event, market

    public var name: String {
        switch self {
        case .series: return "series"
        case .event: return "event"
        case .market: return "market"
        }
    }
}

/// One change of one entity at one simulated instant.
public struct TransitionEntry: Sendable, Equatable {
    public var at: Int64
    /// Index into `Universe.series`, `.events` or `.markets`.
    public var index: Int32
    public var entity: TransitionEntity
    public var kind: TransitionKind

    /// The order of changes: by time; at one instant series before events before markets
    /// (a market's `created` follows its event's), then by kind, then by position.
    static func < (a: TransitionEntry, b: TransitionEntry) -> Bool {
        if a.at != b.at { return a.at < b.at }
        if a.entity != b.entity { return a.entity.rawValue < b.entity.rawValue }
        if a.index != b.index { return a.index < b.index }
        return a.kind < b.kind
    }
}

/// Every transition of the universe, a pure function of it: per entity, a pure function of
/// its own timeline, kept only while the entity is visible (its series listed, its event
/// created). `created` is the instant the entity becomes visible.
public enum Transitions {
    public static func forEach(in u: Universe, _ body: (TransitionEntry) -> Void) {
        for (i, s) in u.series.enumerated() {
            let idx = Int32(i)
            body(TransitionEntry(at: s.createdTs, index: idx, entity: .series, kind: .created))
            if let d = s.delistedTs { body(TransitionEntry(at: d, index: idx, entity: .series, kind: .delisted)) }
            if let m = s.metadataChangeTs, m > s.createdTs, s.isListed(at: m) {
                body(TransitionEntry(at: m, index: idx, entity: .series, kind: .metadataUpdated))
            }
        }
        for (i, e) in u.events.enumerated() {
            let idx = Int32(i)
            let from = max(e.createdTs, u.series[e.seriesIndex].createdTs)
            if u.isEventVisible(i, at: from) { body(TransitionEntry(at: from, index: idx, entity: .event, kind: .created)) }
            if let m = e.metadataChangeTs, m > e.createdTs, u.isEventVisible(i, at: m) {
                body(TransitionEntry(at: m, index: idx, entity: .event, kind: .metadataUpdated))
            }
        }
        for i in u.markets.indices {
            let idx = Int32(i)
            let m = u.markets[i]
            let e = u.events[m.eventIndex]
            let from = max(m.timeline.createdTs, e.createdTs, u.series[m.seriesIndex].createdTs)
            m.timeline.forEachTransition { at, kind in
                if kind == .created {
                    if u.isMarketVisible(i, at: from) { body(TransitionEntry(at: from, index: idx, entity: .market, kind: .created)) }
                } else if at > from || (at == from && kind != .opened), u.isMarketVisible(i, at: at) {
                    body(TransitionEntry(at: at, index: idx, entity: .market, kind: kind))
                }
            }
        }
    }

    /// Whether a transition moves the entity's `updated_time` / `last_updated_ts`.
    public static func movesUpdatedTime(_ e: TransitionEntry, mode: UpdatedTimeMode) -> Bool {
        switch e.entity {
        case .series, .event: return e.kind == .created || e.kind == .metadataUpdated
        case .market: return e.kind == .created || mode == .everyChange || e.kind.movesUpdatedTimeStrictly
        }
    }

    /// One JSON line of `/_sim/truth/transitions`.
    public static func appendTruthLine(_ u: Universe, _ e: TransitionEntry, mode: UpdatedTimeMode, to w: inout JSONWriter) {
        let i = Int(e.index)
        w.raw("{\"entity\":"); w.rawString(e.entity.name.quotedJSON)
        switch e.entity {
        case .series:
            w.raw(",\"ticker\":"); w.string(u.series[i].ticker)
            w.raw(",\"event_ticker\":null,\"series_ticker\":"); w.string(u.series[i].ticker)
        case .event:
            let ev = u.events[i]
            w.raw(",\"ticker\":"); w.string(ev.ticker)
            w.raw(",\"event_ticker\":"); w.string(ev.ticker)
            w.raw(",\"series_ticker\":"); w.string(u.series[ev.seriesIndex].ticker)
        case .market:
            let m = u.markets[i]
            w.raw(",\"ticker\":"); w.string(m.ticker)
            w.raw(",\"event_ticker\":"); w.string(u.events[m.eventIndex].ticker)
            w.raw(",\"series_ticker\":"); w.string(u.series[m.seriesIndex].ticker)
        }
        w.raw(",\"kind\":"); w.rawString(e.kind.name.quotedJSON)
        w.raw(",\"at\":"); w.int(e.at)
        w.raw(",\"time\":"); w.time(e.at)
        switch e.entity {
        case .series:
            w.raw(",\"status_after\":null,\"ws_event_type\":null,\"ws_channel\":null")
            w.raw(",\"moves_updated_time\":"); w.bool(movesUpdatedTime(e, mode: mode))
            w.raw(",\"is_mve\":"); w.bool(u.series[i].kind == .multivariate)
        case .event:
            let mve = u.isMultivariate(series: u.events[i].seriesIndex)
            w.raw(",\"status_after\":null,\"ws_event_type\":")
            w.raw(e.kind == .created ? "\"event_lifecycle\"" : "null")
            w.raw(",\"ws_channel\":")
            if e.kind == .created { w.raw(mve ? "\"multivariate_market_lifecycle\"" : "\"market_lifecycle_v2\"") } else { w.raw("null") }
            w.raw(",\"moves_updated_time\":"); w.bool(movesUpdatedTime(e, mode: mode))
            w.raw(",\"is_mve\":"); w.bool(mve)
        case .market:
            let m = u.markets[i]
            let tl = m.timeline
            w.raw(",\"status_after\":\""); w.rawString(tl.status(at: e.at).rawValue); w.raw("\"")
            let ws = LifecycleMessages.channel(u, e)
            w.raw(",\"ws_event_type\":")
            if ws != nil, let t = e.kind.webSocketEventType { w.string(t) } else { w.raw("null") }
            w.raw(",\"ws_channel\":")
            if let ws { w.rawString(ws.rawValue.quotedJSON) } else { w.raw("null") }
            w.raw(",\"moves_updated_time\":"); w.bool(movesUpdatedTime(e, mode: mode))
            w.raw(",\"is_mve\":"); w.bool(m.isMultivariate)
            w.raw(",\"updated_time_after\":"); w.time(tl.updatedTs(at: e.at, mode: mode))
            w.raw(",\"close_time_after\":"); w.time(tl.shownCloseTs(at: e.at))
            switch e.kind {
            case .determined, .amended:
                w.raw(",\"result\":"); w.string(m.resultYes ? "yes" : "no")
            case .settled:
                w.raw(",\"settlement_ts\":"); w.time(tl.settledTs)
            case .priceLevelStructureUpdated, .created:
                w.raw(",\"price_level_structure\":"); w.string(m.priceLevelStructure(at: e.at).rawValue)
            case .metadataUpdated:
                w.raw(",\"edit\":"); w.optionalString(m.editKind?.rawValue)
            default: break
            }
        }
        w.raw("}\n")
    }
}

/// The universe's transitions sorted by time, built once on first use (a WebSocket
/// connection or `/_sim/truth/transitions`), then read by binary search.
public final class TransitionIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var built: [TransitionEntry]?
    private let universe: Universe

    public init(universe: Universe) { self.universe = universe }

    public var entries: [TransitionEntry] {
        lock.lock(); defer { lock.unlock() }
        if let built { return built }
        var all: [TransitionEntry] = []
        all.reserveCapacity(universe.markets.count * 6 + universe.events.count + universe.series.count)
        Transitions.forEach(in: universe) { all.append($0) }
        all.sort(by: <)
        built = all
        return all
    }

    /// Positions of the transitions with `from <= at < to`.
    public func range(from: Int64, to: Int64) -> Range<Int> {
        let e = entries
        func lowerBound(_ x: Int64) -> Int {
            var lo = 0, hi = e.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if e[mid].at < x { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        let a = lowerBound(from)
        return a..<max(a, lowerBound(to))
    }
}
