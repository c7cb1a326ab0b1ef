import KalshiModels
import SSMDCore

/// How a column's value is typed, everywhere it travels.
public enum ColumnKind: String, Sendable, CaseIterable {
    /// `TEXT`; a JSON string.
    case text
    /// `NUMERIC`; exact decimal text as the exchange sends it (`"0.5600"`, `"10.00"`), never a
    /// binary float.
    case decimal
    /// `TIMESTAMPTZ`; RFC 3339 text.
    case timestamp
    /// `BOOLEAN`.
    case bool
    /// `BIGINT`; a JSON number.
    case integer
    /// `JSONB`; any JSON value, kept as compact text in rows.
    case json

    /// The PostgreSQL type the column has (migrations must agree: a test checks).
    public var sqlType: String {
        switch self {
        case .text: "text"
        case .decimal: "numeric"
        case .timestamp: "timestamp with time zone"
        case .bool: "boolean"
        case .integer: "bigint"
        case .json: "jsonb"
        }
    }
}

/// A column's value in a row.
public enum ColumnValue: Sendable, Equatable {
    case text(String)
    case timestamp(Timestamp)
    case bool(Bool)
    case integer(Int64)
}

/// Where a row keeps a column's value. Decimal and JSON columns are held as text.
public enum ColumnAccess<Row>: Sendable {
    case text(WritableKeyPath<Row, String?> & Sendable)
    case requiredText(WritableKeyPath<Row, String> & Sendable)
    case timestamp(WritableKeyPath<Row, Timestamp?> & Sendable)
    case requiredTimestamp(WritableKeyPath<Row, Timestamp> & Sendable)
    case bool(WritableKeyPath<Row, Bool?> & Sendable)
    case integer(WritableKeyPath<Row, Int64?> & Sendable)
}

/// One column of a secmaster table: its name (also its key in the data API), its kind, the
/// key of the value in the exchange's object (nil for ssmd's own columns), where a row keeps
/// it and where the exchange's decoded object has it.
public struct Column<Row, Source>: Sendable {
    public let name: String
    public let kind: ColumnKind
    public let exchangeKey: String?
    public let access: ColumnAccess<Row>
    /// The value in the exchange's decoded object; nil for columns ssmd fills itself.
    public let fromExchange: (@Sendable (Source) -> ColumnValue?)?
    /// One line for API documentation.
    public let help: String

    public init(_ name: String, _ kind: ColumnKind, key exchangeKey: String?, _ access: ColumnAccess<Row>, help: String,
                from fromExchange: (@Sendable (Source) -> ColumnValue?)?) {
        self.name = name; self.kind = kind; self.exchangeKey = exchangeKey; self.access = access
        self.help = help; self.fromExchange = fromExchange
    }

    /// Whether every row has a value (the column is NOT NULL).
    public var isRequired: Bool {
        switch access {
        case .requiredText, .requiredTimestamp: true
        default: false
        }
    }

    public func value(in row: Row) -> ColumnValue? {
        switch access {
        case .text(let k): row[keyPath: k].map(ColumnValue.text)
        case .requiredText(let k): .text(row[keyPath: k])
        case .timestamp(let k): row[keyPath: k].map(ColumnValue.timestamp)
        case .requiredTimestamp(let k): .timestamp(row[keyPath: k])
        case .bool(let k): row[keyPath: k].map(ColumnValue.bool)
        case .integer(let k): row[keyPath: k].map(ColumnValue.integer)
        }
    }

    /// Stores `value`; false when its type does not fit the column (or a required column
    /// gets nil), and then the row is unchanged.
    @discardableResult
    public func set(_ value: ColumnValue?, in row: inout Row) -> Bool {
        switch (access, value) {
        case (.text(let k), nil): row[keyPath: k] = nil
        case (.text(let k), .text(let s)?): row[keyPath: k] = s
        case (.requiredText(let k), .text(let s)?): row[keyPath: k] = s
        case (.timestamp(let k), nil): row[keyPath: k] = nil
        case (.timestamp(let k), .timestamp(let t)?): row[keyPath: k] = t
        case (.requiredTimestamp(let k), .timestamp(let t)?): row[keyPath: k] = t
        case (.bool(let k), nil): row[keyPath: k] = nil
        case (.bool(let k), .bool(let b)?): row[keyPath: k] = b
        case (.integer(let k), nil): row[keyPath: k] = nil
        case (.integer(let k), .integer(let i)?): row[keyPath: k] = i
        default: return false
        }
        return true
    }
}

extension MarketRow {
    public typealias MarketColumn = Column<MarketRow, Market>

    /// Every column of `markets` that ssmd writes, in COPY order. The one place a market
    /// field is spelled: add a field here (and to `Market` and a migration) and the writer,
    /// the store, the data API and its OpenAPI schema follow.
    public static let columns: [MarketColumn] = {
        func text(_ name: String, _ row: WritableKeyPath<MarketRow, String?> & Sendable, _ help: String,
                  _ from: @escaping @Sendable (Market) -> String?) -> MarketColumn {
            Column(name, .text, key: name, .text(row), help: help, from: { from($0).map(ColumnValue.text) })
        }
        func decimal(_ name: String, _ row: WritableKeyPath<MarketRow, String?> & Sendable, _ help: String,
                     _ from: @escaping @Sendable (Market) -> FixedPoint?) -> MarketColumn {
            Column(name, .decimal, key: name, .text(row), help: help, from: { from($0).map { .text($0.text) } })
        }
        func time(_ name: String, _ row: WritableKeyPath<MarketRow, Timestamp?> & Sendable, _ help: String,
                  _ from: @escaping @Sendable (Market) -> Timestamp?) -> MarketColumn {
            Column(name, .timestamp, key: name, .timestamp(row), help: help, from: { from($0).map(ColumnValue.timestamp) })
        }
        func json(_ name: String, _ row: WritableKeyPath<MarketRow, String?> & Sendable, _ help: String,
                  _ from: @escaping @Sendable (Market) -> JSONValue?) -> MarketColumn {
            Column(name, .json, key: name, .text(row), help: help, from: { from($0).map { .text($0.jsonText) } })
        }
        return [
            Column("ticker", .text, key: "ticker", .requiredText(\.ticker), help: "Market ticker", from: { .text($0.ticker) }),
            Column("event_ticker", .text, key: "event_ticker", .requiredText(\.eventTicker), help: "Its event", from: { .text($0.eventTicker) }),
            Column("series_ticker", .text, key: nil, .requiredText(\.seriesTicker), help: "Its series (from the event, not the ticker)", from: nil),
            text("market_type", \.marketType, "binary or scalar", { $0.marketType }),
            text("title", \.title, "Title (deprecated by the exchange)", { $0.title }),
            text("subtitle", \.subtitle, "Subtitle (deprecated by the exchange)", { $0.subtitle }),
            text("yes_sub_title", \.yesSubTitle, "Short title of the yes side", { $0.yesSubTitle }),
            text("no_sub_title", \.noSubTitle, "Short title of the no side", { $0.noSubTitle }),
            Column("status", .text, key: "status", .requiredText(\.status),
                   help: "Raw exchange status: initialized, active, inactive, closed, determined, disputed, amended, finalized",
                   from: { .text($0.status) }),
            text("result", \.result, "yes, no, scalar or empty", { $0.result }),
            time("created_time", \.createdTime, "Created on the exchange", { $0.createdTime }),
            time("updated_time", \.updatedTime, "The exchange's last non-trading metadata update", { $0.updatedTime }),
            time("open_time", \.openTime, "Opens for trading", { $0.openTime }),
            time("close_time", \.closeTime, "Trading stops (may move earlier when can_close_early)", { $0.closeTime }),
            time("expected_expiration_time", \.expectedExpirationTime, "When the outcome is expected to be known", { $0.expectedExpirationTime }),
            time("latest_expiration_time", \.latestExpirationTime, "Latest possible expiration", { $0.latestExpirationTime }),
            time("expiration_time", \.expirationTime, "Legacy expiration (deprecated by the exchange)", { $0.expirationTime }),
            time("settlement_ts", \.settlementTs, "When the market settled (finalized markets)", { $0.settlementTs }),
            Column("settlement_timer_seconds", .integer, key: "settlement_timer_seconds", .integer(\.settlementTimerSeconds),
                   help: "Seconds from determination to settlement", from: { $0.settlementTimerSeconds.map(ColumnValue.integer) }),
            Column("can_close_early", .bool, key: "can_close_early", .bool(\.canCloseEarly),
                   help: "Whether close_time may move earlier", from: { $0.canCloseEarly.map(ColumnValue.bool) }),
            text("early_close_condition", \.earlyCloseCondition, "The condition under which the market can close early", { $0.earlyCloseCondition }),
            text("strike_type", \.strikeType, "How the strike is evaluated", { $0.strikeType }),
            decimal("floor_strike", \.floorStrike, "Minimum expiration value for yes", { $0.floorStrike }),
            decimal("cap_strike", \.capStrike, "Maximum expiration value for yes", { $0.capStrike }),
            json("custom_strike", \.customStrikeJSON, "Per-target expiration values for yes", { $0.customStrike }),
            text("functional_strike", \.functionalStrike, "Mapping from expiration values to settlement values", { $0.functionalStrike }),
            text("rules_primary", \.rulesPrimary, "Main market terms", { $0.rulesPrimary }),
            text("rules_secondary", \.rulesSecondary, "Secondary market terms", { $0.rulesSecondary }),
            text("price_level_structure", \.priceLevelStructure, "Named price grid (e.g. linear_cent, deci_cent)", { $0.priceLevelStructure }),
            json("price_ranges", \.priceRangesJSON, "Valid price bands: [{start, end, step}] in dollars", { $0.priceRanges }),
            decimal("yes_bid_dollars", \.yesBidDollars, "Best yes bid when fetched", { $0.yesBid }),
            decimal("yes_ask_dollars", \.yesAskDollars, "Best yes ask when fetched", { $0.yesAsk }),
            decimal("no_bid_dollars", \.noBidDollars, "Best no bid when fetched", { $0.noBid }),
            decimal("no_ask_dollars", \.noAskDollars, "Best no ask when fetched", { $0.noAsk }),
            decimal("last_price_dollars", \.lastPriceDollars, "Last traded yes price when fetched", { $0.lastPrice }),
            decimal("notional_value_dollars", \.notionalValueDollars, "Value of one contract at settlement", { $0.notionalValue }),
            decimal("settlement_value_dollars", \.settlementValueDollars, "Settlement value of yes (after determination)", { $0.settlementValue }),
            decimal("volume_fp", \.volumeFp, "Contracts traded", { $0.volume }),
            decimal("volume_24h_fp", \.volume24hFp, "Contracts traded in the last 24 h", { $0.volume24h }),
            decimal("open_interest_fp", \.openInterestFp, "Contracts open", { $0.openInterest }),
            text("expiration_value", \.expirationValue, "The value the settlement considered", { $0.expirationValue }),
            time("occurrence_datetime", \.occurrenceDatetime, "When the underlying event occurred, if recorded", { $0.occurrenceDatetime }),
            time("fee_waiver_expiration_time", \.feeWaiverExpirationTime, "When the market's fee waiver ends", { $0.feeWaiverExpirationTime }),
            text("primary_participant_key", \.primaryParticipantKey, "Primary participant", { $0.primaryParticipantKey }),
            Column("is_provisional", .bool, key: "is_provisional", .bool(\.isProvisional),
                   help: "May be removed after determination if it had no activity", from: { $0.isProvisional.map(ColumnValue.bool) }),
            Column("fetched_at", .timestamp, key: nil, .requiredTimestamp(\.fetchedAt),
                   help: "When ssmd read this state from the exchange", from: nil),
        ]
    }()

    /// The column names, in COPY order.
    public static let columnNames: [String] = columns.map(\.name)

    /// A row with every column empty but the required ones (for filling column by column).
    public static func empty(fetchedAt: Timestamp) -> MarketRow {
        MarketRow(ticker: "", eventTicker: "", seriesTicker: "", status: "", fetchedAt: fetchedAt)
    }

    /// The row for the exchange's description of a market, fetched at `fetchedAt`, of `series`.
    public init(_ market: Market, seriesTicker: String, fetchedAt: Timestamp) {
        var row = MarketRow.empty(fetchedAt: fetchedAt)
        for column in MarketRow.columns {
            guard let from = column.fromExchange else { continue }
            column.set(from(market), in: &row)
        }
        row.seriesTicker = seriesTicker
        self = row
    }
}
