import Foundation
import TestSupport
import PostgresClient
import SSMDCore
import Secmaster
import SecmasterSchema

/// Databases for one suite, on the process's shared PostgreSQL cluster (started on first
/// use, stopped at process exit): each test gets its own database.
struct SuiteDatabase: Sendable {
    init() {}

    func get() async throws -> PostgresTestServer {
        try await PostgresTestServer.shared()
    }

    /// A new, empty database on the shared cluster and a connection to it.
    func freshConnection() async throws -> (PostgresConnection, PostgresTestServer, String) {
        let database = try await PostgresTestServer.sharedDatabase(migrated: false)
        let connection = try await PostgresConnection.connect(database.connectionString)
        return (connection, database.server, database.database)
    }

    /// A new database with the secmaster schema (a copy of the migrated template); the store
    /// runs on the connection's thread (`connection.secmaster { store in … }`).
    func freshStore() async throws -> PostgresConnection {
        let database = try await PostgresTestServer.sharedDatabase(migrated: true)
        return try await PostgresConnection.connect(database.connectionString)
    }
}

/// 2026-01-12T22:08:10.446961Z plus `seconds`.
func ts(_ seconds: Double = 0) -> Timestamp {
    Timestamp(microsecondsSinceEpoch: 1_768_255_690_446_961 + Int64((seconds * 1_000_000).rounded()))
}

func sampleMarket(_ ticker: String, event: String, series: String = "KXTEST", status: String = "active",
                  updated: Double = 0, fetched: Double = 0, yesBid: String? = "0.5600") -> MarketRow {
    MarketRow(
        ticker: ticker, eventTicker: event, seriesTicker: series, marketType: "binary",
        title: "Will \(ticker) happen?", subtitle: "", yesSubTitle: "Yes, \"quoted\"", noSubTitle: "No\ttab",
        status: status, result: "", createdTime: ts(-86_400), updatedTime: ts(updated), openTime: ts(-3_600),
        closeTime: ts(86_400 * 7), expectedExpirationTime: ts(86_400 * 8), latestExpirationTime: ts(86_400 * 9),
        settlementTs: nil, canCloseEarly: true, strikeType: "greater", floorStrike: "101.25", capStrike: nil,
        customStrikeJSON: #"{"Associated Events": "A,B"}"#, rulesPrimary: "If X\nthen yes \\ backslash",
        rulesSecondary: "", yesBidDollars: yesBid, yesAskDollars: "0.5800", noBidDollars: "0.4200",
        noAskDollars: "0.4400", lastPriceDollars: "0.5700", notionalValueDollars: "1.0000",
        settlementValueDollars: nil, volumeFp: "10.00", volume24hFp: "2.00", openInterestFp: "7.00",
        fetchedAt: ts(fetched))
}

func sampleEvent(_ ticker: String, series: String = "KXTEST", title: String = "An event", fetched: Double = 0,
                 updated: Double? = nil) -> EventRow {
    EventRow(ticker: ticker, seriesTicker: series, title: title, subTitle: "sub", category: "Sports",
             mutuallyExclusive: true, strikeDate: ts(3_600), strikePeriod: "", collateralReturnType: "",
             exchangeUpdatedAt: updated.map { ts($0) }, fetchedAt: ts(fetched))
}
