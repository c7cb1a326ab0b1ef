/// The lifecycle WebSocket channels the simulator serves.
public enum LifecycleChannel: String, Sendable, CaseIterable {
    /// Every non-MVE market and event (`KXMVE*` are skipped, as documented).
    case marketLifecycleV2 = "market_lifecycle_v2"
    /// MVE markets and events only.
    case multivariateMarketLifecycle = "multivariate_market_lifecycle"
}

/// One lifecycle message, before it is addressed to a subscription: the `type` and the
/// rendered `msg` object (the `sid` is per connection).
public struct LifecycleMessage: Sendable {
    public var channel: LifecycleChannel
    public var type: String
    public var msg: [UInt8]
    public var at: Int64
}

/// Renders transitions as the documented `market_lifecycle_v2` / `event_lifecycle`
/// messages (websockets_market-and-event-lifecycle.md, asyncapi.yaml), as pure functions.
public enum LifecycleMessages {
    /// The channel a transition is sent on, or nil when it has no WebSocket event.
    public static func channel(_ u: Universe, _ e: TransitionEntry) -> LifecycleChannel? {
        switch e.entity {
        case .series: return nil
        case .event:
            guard e.kind == .created else { return nil }
            return u.isMultivariate(series: u.events[Int(e.index)].seriesIndex) ? .multivariateMarketLifecycle : .marketLifecycleV2
        case .market:
            guard e.kind.webSocketEventType != nil else { return nil }
            if u.markets[Int(e.index)].isMultivariate {
                // The MVE channel carries created, (de)activated, close_date_updated,
                // determined and settled only (market lifecycle page).
                if e.kind == .metadataUpdated || e.kind == .priceLevelStructureUpdated { return nil }
                return .multivariateMarketLifecycle
            }
            return .marketLifecycleV2
        }
    }

    public static func message(_ u: Universe, _ e: TransitionEntry) -> LifecycleMessage? {
        guard let ch = channel(u, e) else { return nil }
        var w = JSONWriter(capacity: 256)
        let type: String
        switch e.entity {
        case .series:
            return nil
        case .event:
            type = "event_lifecycle"
            let ev = u.events[Int(e.index)]
            let s = u.series[ev.seriesIndex]
            w.raw("{\"event_ticker\":"); w.string(ev.ticker)
            w.raw(",\"exchange_index\":0,\"title\":"); w.string(ev.title)
            w.raw(",\"subtitle\":"); w.string(ev.subTitle(at: e.at))
            w.raw(",\"collateral_return_type\":"); w.string(ev.mutuallyExclusive ? "MECNET" : "")
            w.raw(",\"series_ticker\":"); w.string(s.ticker)
            if let d = ev.strikeDate { w.raw(",\"strike_date\":"); w.int(d) }
            if let p = ev.strikePeriod, !p.isEmpty { w.raw(",\"strike_period\":"); w.string(p) }
            w.raw("}")
        case .market:
            type = ch.rawValue
            let m = u.markets[Int(e.index)]
            let tl = m.timeline
            let eventType = e.kind.webSocketEventType!
            w.raw("{\"market_ticker\":"); w.string(m.ticker)
            w.raw(",\"event_type\":"); w.string(eventType)
            switch e.kind {
            case .created:
                let f = m.fields(at: e.at)
                w.raw(",\"exchange_index\":0,\"open_ts\":"); w.int(tl.openTs)
                w.raw(",\"close_ts\":"); w.int(tl.shownCloseTs(at: e.at))
                if ch == .marketLifecycleV2 {
                    let pls = m.priceLevelStructure(at: e.at)
                    w.raw(",\"price_level_structure\":"); w.string(pls.rawValue)
                    w.raw(",\"price_ranges\":"); w.raw(pls.rangesJSON)
                }
                w.raw(",\"additional_metadata\":{\"name\":"); w.string(u.events[m.eventIndex].title)
                w.raw(",\"title\":"); w.string(f.title)
                w.raw(",\"yes_sub_title\":"); w.string(f.yesSubTitle)
                w.raw(",\"no_sub_title\":"); w.string(f.noSubTitle)
                w.raw(",\"rules_primary\":"); w.string(f.rulesPrimary)
                w.raw(",\"rules_secondary\":"); w.string(f.rulesSecondary)
                w.raw(",\"can_close_early\":"); w.bool(m.canCloseEarly)
                w.raw(",\"event_ticker\":"); w.string(u.events[m.eventIndex].ticker)
                w.raw(",\"expected_expiration_ts\":"); w.int(m.expectedExpirationTs)
                appendStrikes(f, to: &w)
                w.raw("}")
            case .unpaused, .reopened:
                w.raw(",\"is_deactivated\":false")
            case .paused:
                w.raw(",\"is_deactivated\":true")
            case .closeDateUpdated:
                w.raw(",\"close_ts\":"); w.int(tl.shownCloseTs(at: e.at))
            case .determined:
                w.raw(",\"result\":"); w.string(m.resultYes ? "yes" : "no")
                w.raw(",\"determination_ts\":"); w.int(e.at)
                w.raw(",\"settlement_value\":"); w.raw(m.resultYes ? "\"1.0000\"" : "\"0.0000\"")
            case .settled:
                w.raw(",\"settled_ts\":"); w.int(e.at)
            case .priceLevelStructureUpdated:
                let pls = m.priceLevelStructure(at: e.at)
                w.raw(",\"price_level_structure\":"); w.string(pls.rawValue)
                w.raw(",\"price_ranges\":"); w.raw(pls.rangesJSON)
            case .metadataUpdated:
                let f = m.fields(at: e.at)
                switch m.editKind {
                case .subtitle?: w.raw(",\"yes_sub_title\":"); w.string(f.yesSubTitle)
                case .strike?: appendStrikes(f, to: &w)
                default: break
                }
            default:
                break
            }
            w.raw("}")
        }
        return LifecycleMessage(channel: ch, type: type, msg: w.bytes, at: e.at)
    }

    static func appendStrikes(_ f: MarketFields, to w: inout JSONWriter) {
        if let st = f.strikeType { w.raw(",\"strike_type\":"); w.string(st) }
        if let x = f.floorStrike { w.raw(",\"floor_strike\":"); w.rawString(x) }
        if let x = f.capStrike { w.raw(",\"cap_strike\":"); w.rawString(x) }
    }
}
