import Foundation
import Testing
import TestSupport
@testable import KalshiModels
@testable import PostgresClient
@testable import SSMDCore
@testable import Secmaster
@testable import SecmasterSchema

/// `MarketRow.columns` is the one description of a market's columns: the migrations must
/// create exactly those columns with those types, and every column must survive the trip
/// exchange JSON → row → PostgreSQL → row.
@Suite struct ColumnTableTests {
    static let db = SuiteDatabase()

    @Test func migrationsCreateEveryDeclaredColumnWithItsType() async throws {
        let conn = try await Self.db.freshStore()
        defer { conn.close() }
        let r = try await conn.execute("""
            SELECT column_name, data_type, is_nullable FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = 'markets'
            """)
        var stored: [String: (type: String, nullable: Bool)] = [:]
        for i in 0..<r.rowCount { stored[r[i, "column_name"]!] = (r[i, "data_type"]!, r[i, "is_nullable"] == "YES") }
        for c in MarketRow.columns {
            let column = try #require(stored[c.name], "no column \(c.name) in markets: add a migration")
            #expect(column.type == c.kind.sqlType, "\(c.name) is \(column.type) in PostgreSQL, \(c.kind.sqlType) in the table")
            #expect(column.nullable == !c.isRequired, "\(c.name): NOT NULL must match isRequired")
        }
        // The store's own bookkeeping is all the table does not declare.
        let undeclared = Set(stored.keys).subtracting(MarketRow.columnNames)
        #expect(undeclared == ["gone_at", "created_at", "updated_at"], "columns nobody writes: \(undeclared.sorted())")
    }

    @Test func everyExchangeKeyIsAKeyOfTheMarketModel() throws {
        // A market with every field set, encoded as the exchange spells it.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(JSONCodec.encode(Self.fullMarket()))) as? [String: Any])
        let keys = Set(object.keys)
        for c in MarketRow.columns {
            guard let key = c.exchangeKey else { continue }
            #expect(keys.contains(key), "\(key) is not a key of Market's JSON")
        }
    }

    /// A market with every column filled, as the exchange would send it.
    static func fullMarket() -> Market {
        var m = Market(ticker: "KXT-26JAN12-T3.5", eventTicker: "KXT-26JAN12", status: "finalized")
        let t = Timestamp(iso8601: "2026-01-12T22:08:10.446961Z")!
        m.marketType = "binary"; m.title = "Title"; m.subtitle = "Sub"; m.yesSubTitle = "Yes"; m.noSubTitle = "No"
        m.result = "yes"; m.createdTime = t; m.updatedTime = t.adding(seconds: 1); m.openTime = t.adding(seconds: 2)
        m.closeTime = t.adding(seconds: 3); m.expectedExpirationTime = t.adding(seconds: 4)
        m.latestExpirationTime = t.adding(seconds: 5); m.expirationTime = t.adding(seconds: 6); m.settlementTs = t.adding(seconds: 9)
        m.settlementTimerSeconds = 600; m.canCloseEarly = true; m.earlyCloseCondition = "If the event ends early"
        m.strikeType = "between"; m.floorStrike = FixedPoint("3.5"); m.capStrike = FixedPoint("4.25")
        m.customStrike = .object(["Associated Events": .string("A,B")]); m.functionalStrike = "f(x)"
        m.rulesPrimary = "If X, yes"; m.rulesSecondary = "Else no"; m.priceLevelStructure = "deci_cent"
        m.priceRanges = .array([.object(["start": .string("0.0000"), "end": .string("1.0000"), "step": .string("0.0010")])])
        m.yesBid = FixedPoint("0.5600"); m.yesAsk = FixedPoint("0.5800"); m.noBid = FixedPoint("0.4200")
        m.noAsk = FixedPoint("0.4400"); m.lastPrice = FixedPoint("0.5700"); m.notionalValue = FixedPoint("1.0000")
        m.settlementValue = FixedPoint("1.0000"); m.volume = FixedPoint("10.00"); m.volume24h = FixedPoint("2.00")
        m.openInterest = FixedPoint("7.00"); m.expirationValue = "3.7"; m.occurrenceDatetime = t.adding(seconds: 7)
        m.feeWaiverExpirationTime = t.adding(seconds: 8); m.primaryParticipantKey = "P1"; m.isProvisional = false
        return m
    }

    @Test func everyColumnRoundTripsThroughPostgreSQL() async throws {
        let conn = try await Self.db.freshStore()
        defer { conn.close() }
        let market = Self.fullMarket()
        let row = MarketRow(market, seriesTicker: "KXT", fetchedAt: Timestamp(iso8601: "2026-01-12T22:09:00Z")!)
        for c in MarketRow.columns {
            #expect(c.value(in: row) != nil, "the sample leaves \(c.name) empty")
        }
        let event = EventRow(ticker: market.eventTicker, seriesTicker: "KXT", fetchedAt: row.fetchedAt)
        let stored = try await conn.secmaster { store in
            _ = try store.upsert(events: [event])
            _ = try store.upsert(markets: [row])
            return try store.market(ticker: row.ticker)?.row
        }
        // JSONB prints a space after each colon; the rest is exact text.
        var expected = row
        expected.customStrikeJSON = #"{"Associated Events": "A,B"}"#
        expected.priceRangesJSON = #"[{"end": "1.0000", "step": "0.0010", "start": "0.0000"}]"#
        #expect(stored == expected)
    }
}
