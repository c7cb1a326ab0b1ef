import PostgresClient
import SSMDCore
import SecmasterSchema

/// Writes and reads the secmaster tables (`series`, `events`, `markets`).
///
/// Upserts go through `COPY` into session-local staging tables and one
/// `INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE …` per table, so a batch has no
/// bind-parameter limit, rows identical to what is stored are not rewritten, and an older
/// snapshot never overwrites a newer one. Calls block: they run on a connection's own thread, inside
/// `PostgresConnection.withSession` (or `PostgresConnection.secmaster`).
///
/// Designed for one writer (the db-writer). Two writers upserting overlapping keys
/// concurrently are still correct, but may deadlock (40P01): that error `isTransient`,
/// so retry the batch.
public final class SecmasterStore {
    public let connection: PostgresSession

    public init(connection: PostgresSession) {
        self.connection = connection
    }

    public enum Table: String, Sendable, CaseIterable {
        case series, events, markets
    }

    // MARK: - Upsert

    /// Upserts a batch in ONE transaction, in dependency order series → events → markets.
    ///
    /// * Duplicate keys in the batch are collapsed first (series: last wins; events: newest
    ///   by `exchangeUpdatedAt` then `fetchedAt`; markets: newest by `updatedTime` then
    ///   `fetchedAt`; ties go to the later element).
    /// * A market whose event row does not exist gets a placeholder event
    ///   (`ticker, series_ticker, fetched_at` only); the real event replaces it whenever it
    ///   arrives, whatever its `fetched_at`.
    /// * Markets/events are only rewritten when a stored column differs (ignoring
    ///   `fetched_at`) and the incoming `(updated_time, fetched_at)` — for events
    ///   `(exchange_updated_at, fetched_at)`, NULL times ordering first — is not older than
    ///   the stored one. A write clears `gone_at` when the snapshot was fetched at or after
    ///   it was marked gone (a row that reappeared is rewritten for that alone).
    /// * A series write sets `active = true` and bumps `updated_at`, only when something changed.
    ///
    /// Throws ``PostgresError``; on `isConstraintViolation` the batch holds a poison row
    /// (bad JSON, overflowing number, NUL byte …) and nothing was written.
    @discardableResult
    public func upsert(
        series: [SeriesRow] = [], events: [EventRow] = [], markets: [MarketRow] = []
    ) throws -> (series: UpsertCounts, events: UpsertCounts, markets: UpsertCounts) {
        let seriesRows = SecmasterStore.dedupe(series, key: \.ticker) { _, _ in true }
        let eventRows = SecmasterStore.dedupe(events, key: \.ticker) { new, old in
            (new.exchangeUpdatedAt ?? .storageFloor, new.fetchedAt) >= (old.exchangeUpdatedAt ?? .storageFloor, old.fetchedAt)
        }
        let marketRows = SecmasterStore.dedupe(markets, key: \.ticker) { new, old in
            (new.updatedTime ?? .storageFloor, new.fetchedAt) >= (old.updatedTime ?? .storageFloor, old.fetchedAt)
        }

        return try connection.transaction { db in
            var seriesCounts = UpsertCounts()
            var eventCounts = UpsertCounts()
            var marketCounts = UpsertCounts()
            if !seriesRows.isEmpty {
                try stage(db, SQL.series, rows: seriesRows, encode: SecmasterStore.encode)
                seriesCounts = try apply(db, SQL.series.upsert, total: series.count)
            }
            if !eventRows.isEmpty {
                try stage(db, SQL.events, rows: eventRows, encode: SecmasterStore.encode)
                eventCounts = try apply(db, SQL.events.upsert, total: events.count)
            }
            if !marketRows.isEmpty {
                try stage(db, SQL.markets, rows: marketRows, encode: SecmasterStore.encode)
                try db.execute(SQL.placeholderEvents)
                marketCounts = try apply(db, SQL.markets.upsert, total: markets.count)
            }
            return (seriesCounts, eventCounts, marketCounts)
        }
    }

    // MARK: - Lifecycle

    /// Marks every series of `category` whose ticker is not in `tickers` inactive
    /// (`updated_at` bumped only for rows that change). Call only after the category's
    /// list was fetched completely — an empty list deactivates the whole category.
    /// Returns how many series became inactive. A later upsert reactivates a series.
    @discardableResult
    public func deactivateSeries(category: String, listed tickers: [String]) throws -> Int {
        try connection.execute("""
            UPDATE series SET active = false, updated_at = now()
            WHERE category = $1
              AND active IS DISTINCT FROM false
              AND ticker NOT IN (SELECT unnest($2::text[]))
            """, [.text(category), .array(tickers)]).affectedRows
    }

    /// Applies a category's complete listing (`ssmd.catalog.<category>`): its series that are
    /// not listed become inactive, listed ones that were inactive become active again
    /// (`updated_at` bumped only for rows that change). `newer` names series whose own
    /// snapshot, written in the same transaction, is newer than the listing: the listing
    /// does not decide for them. The markets and events of a series that became inactive are
    /// marked gone at `listedAt` (never left looking open); a series that comes back is
    /// synced again, which clears that. Call only with a complete list.
    @discardableResult
    public func applyCatalog(category: String, listed tickers: [String], newer: [String] = [], listedAt: Timestamp = .now())
        throws -> (deactivated: Int, reactivated: Int)
    {
        let result = try connection.execute("""
            WITH listed AS (SELECT DISTINCT unnest($2::text[]) AS ticker),
            changed AS (
                UPDATE series s SET active = (s.ticker IN (SELECT ticker FROM listed)), updated_at = now()
                WHERE s.category = $1
                  AND NOT (s.ticker = ANY($3::text[]))
                  AND s.active IS DISTINCT FROM (s.ticker IN (SELECT ticker FROM listed))
                RETURNING s.ticker, s.active
            ),
            gone_markets AS (
                UPDATE markets m SET gone_at = $4::timestamptz, updated_at = now()
                FROM changed c WHERE NOT c.active AND m.series_ticker = c.ticker AND m.gone_at IS NULL
                RETURNING 1
            ),
            gone_events AS (
                UPDATE events e SET gone_at = $4::timestamptz, updated_at = now()
                FROM changed c WHERE NOT c.active AND e.series_ticker = c.ticker AND e.gone_at IS NULL
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM changed WHERE NOT active) AS deactivated,
                   (SELECT count(*) FROM changed WHERE active) AS reactivated,
                   (SELECT count(*) FROM gone_markets) + (SELECT count(*) FROM gone_events) AS gone
            """, [.text(category), .array(tickers), .array(newer), .timestamp(listedAt)])
        return (Int(result[0, "deactivated"] ?? "0") ?? 0, Int(result[0, "reactivated"] ?? "0") ?? 0)
    }

    /// Applies a complete series sync (`ssmd.snapshot.<series>`), which covered the events
    /// with a market closing at or after `closedSince`: the series' markets in that scope
    /// (no close time, or closing at or after it) that are not listed, not already gone and
    /// last fetched before the snapshot are marked gone at `fetchedAt`; then its unlisted
    /// events whose markets are all gone. Rows fetched after the snapshot are a later
    /// sync's to judge.
    @discardableResult
    public func applySeriesSnapshot(series: String, closedSince: Timestamp, markets: [String], events: [String],
                                    fetchedAt: Timestamp) throws -> (markets: Int, events: Int)
    {
        let m = try connection.execute("""
            UPDATE markets SET gone_at = $4::timestamptz, updated_at = now()
            WHERE series_ticker = $1 AND gone_at IS NULL AND fetched_at < $4::timestamptz
              AND (close_time IS NULL OR close_time >= $2::timestamptz)
              AND NOT (ticker = ANY($3::text[]))
            """, [.text(series), .timestamp(closedSince), .array(markets), .timestamp(fetchedAt)]).affectedRows
        let e = try connection.execute("""
            UPDATE events e SET gone_at = $3::timestamptz, updated_at = now()
            WHERE e.series_ticker = $1 AND e.gone_at IS NULL AND e.fetched_at < $3::timestamptz
              AND NOT (e.ticker = ANY($2::text[]))
              AND EXISTS (SELECT 1 FROM markets m WHERE m.event_ticker = e.ticker)
              AND NOT EXISTS (SELECT 1 FROM markets m WHERE m.event_ticker = e.ticker AND m.gone_at IS NULL)
            """, [.text(series), .array(events), .timestamp(fetchedAt)]).affectedRows
        return (m, e)
    }

    /// Sets `gone_at` on the given markets that are not already gone; returns how many changed.
    @discardableResult
    public func markGone(markets tickers: [String], at time: Timestamp) throws -> Int {
        try markGone(table: "markets", tickers: tickers, at: time)
    }

    /// Sets `gone_at` on the given events that are not already gone; returns how many changed.
    @discardableResult
    public func markGone(events tickers: [String], at time: Timestamp) throws -> Int {
        try markGone(table: "events", tickers: tickers, at: time)
    }

    private func markGone(table: String, tickers: [String], at time: Timestamp) throws -> Int {
        guard !tickers.isEmpty else { return 0 }
        // `table` is one of two fixed identifiers, never data.
        return try connection.execute("""
            UPDATE \(table) SET gone_at = $2::timestamptz, updated_at = now()
            WHERE ticker = ANY($1::text[]) AND gone_at IS NULL
            """, [.array(tickers), .timestamp(time)]).affectedRows
    }

    // MARK: - Reads

    public func count(_ table: Table) throws -> Int {
        Int(try connection.execute("SELECT count(*) FROM \(table.rawValue)").scalar ?? "0") ?? 0
    }

    /// ticker → raw exchange status, for every market.
    public func marketStatuses() throws -> [String: String] {
        let result = try connection.execute("SELECT ticker, status FROM markets")
        var statuses: [String: String] = [:]
        statuses.reserveCapacity(result.rowCount)
        for row in result.rows {
            if let ticker = row[0], let status = row[1] { statuses[ticker] = status }
        }
        return statuses
    }

    public func series(ticker: String) throws -> (row: SeriesRow, active: Bool)? {
        let result = try connection.execute(
            "SELECT ticker, title, category, tags, is_game, active FROM series WHERE ticker = $1", [.text(ticker)])
        guard result.rowCount == 1 else { return nil }
        let tags = result[0, "tags"].flatMap(PostgresArrayLiteral.decode)?.compactMap { $0 } ?? []
        let row = SeriesRow(ticker: result[0, "ticker"] ?? "", title: result[0, "title"] ?? "",
                            category: result[0, "category"] ?? "", tags: tags,
                            isGame: result[0, "is_game"] == "t")
        return (row, result[0, "active"] == "t")
    }

    public func event(ticker: String) throws -> (row: EventRow, goneAt: Timestamp?)? {
        let result = try connection.execute(
            "SELECT \(SQL.events.columns.joined(separator: ", ")), gone_at FROM events WHERE ticker = $1",
            [.text(ticker)])
        guard result.rowCount == 1 else { return nil }
        let v = { (name: String) in result[0, name] }
        let ts = { (name: String) in v(name).flatMap(Timestamp.init(postgresText:)) }
        let row = EventRow(
            ticker: v("ticker") ?? "", seriesTicker: v("series_ticker") ?? "", title: v("title"),
            subTitle: v("sub_title"), category: v("category"),
            mutuallyExclusive: v("mutually_exclusive").map { $0 == "t" }, strikeDate: ts("strike_date"),
            strikePeriod: v("strike_period"), collateralReturnType: v("collateral_return_type"),
            exchangeUpdatedAt: ts("exchange_updated_at"), fetchedAt: ts("fetched_at") ?? .storageFloor)
        return (row, ts("gone_at"))
    }

    /// The stored market (decimals as the server prints them; `customStrikeJSON` as jsonb
    /// normalizes it).
    public func market(ticker: String) throws -> (row: MarketRow, goneAt: Timestamp?)? {
        let result = try connection.execute(
            "SELECT \(SQL.markets.columns.joined(separator: ", ")), gone_at FROM markets WHERE ticker = $1",
            [.text(ticker)])
        guard result.rowCount == 1 else { return nil }
        var row = MarketRow.empty(fetchedAt: .storageFloor)
        for column in MarketRow.columns {
            column.set(Self.columnValue(result[0, column.name], kind: column.kind), in: &row)
        }
        return (row, result[0, "gone_at"].flatMap(Timestamp.init(postgresText:)))
    }

    // MARK: - Internals

    private func stage<Row>(_ db: PostgresSession, _ table: SQL.TableSQL, rows: [Row],
                            encode: (Row, inout PostgresCopyRow) -> Void) throws {
        try db.executeScript(table.createStaging)
        try db.copyIn(table.copy, rows: rows, encode: encode)
    }

    private func apply(_ db: PostgresSession, _ sql: String, total: Int) throws -> UpsertCounts {
        let result = try db.execute(sql)
        let inserted = Int(result[0, "inserted"] ?? "0") ?? 0
        let updated = Int(result[0, "updated"] ?? "0") ?? 0
        return UpsertCounts(inserted: inserted, updated: updated, unchanged: total - inserted - updated)
    }

    /// Keeps one row per key: the first seen unless `replaces(new, kept)` says otherwise.
    /// Preserves first-occurrence order.
    static func dedupe<Row>(_ rows: [Row], key: (Row) -> String, replaces: (Row, Row) -> Bool) -> [Row] {
        var index: [String: Int] = [:]
        index.reserveCapacity(rows.count)
        var out: [Row] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            let k = key(row)
            if let at = index[k] {
                if replaces(row, out[at]) { out[at] = row }
            } else {
                index[k] = out.count
                out.append(row)
            }
        }
        return out
    }

    // COPY encoders: field order = SQL.*Columns.

    /// The `markets` columns the upsert writes, in the order ``encode(_:_:)-(MarketRow,_)``
    /// emits them (benchmarks COPY with it).
    public static var marketColumns: [String] { SQL.marketColumns }

    /// Writes one market as a COPY text row, as the upsert's staging COPY does.
    public static func encodeMarket(_ row: MarketRow, _ w: inout PostgresCopyRow) { encode(row, &w) }

    static func encode(_ row: SeriesRow, _ w: inout PostgresCopyRow) {
        w.text(row.ticker); w.text(row.title); w.text(row.category)
        w.textArray(row.tags.map { Optional($0) }); w.bool(row.isGame)
    }

    static func encode(_ row: EventRow, _ w: inout PostgresCopyRow) {
        w.text(row.ticker); w.text(row.seriesTicker); w.text(row.title); w.text(row.subTitle)
        w.text(row.category); w.bool(row.mutuallyExclusive); w.timestamp(row.strikeDate)
        w.text(row.strikePeriod); w.text(row.collateralReturnType); w.timestamp(row.exchangeUpdatedAt)
        w.timestamp(row.fetchedAt)
    }

    static func encode(_ row: MarketRow, _ w: inout PostgresCopyRow) {
        for column in MarketRow.columns {
            switch column.value(in: row) {
            case nil: w.null()
            case .text(let s)?: w.text(s)
            case .timestamp(let t)?: w.timestamp(t)
            case .bool(let b)?: w.bool(b)
            case .integer(let i)?: w.int(i)
            }
        }
    }

    /// A column's value from PostgreSQL's text output.
    static func columnValue(_ text: String?, kind: ColumnKind) -> ColumnValue? {
        guard let text else { return nil }
        switch kind {
        case .text, .decimal, .json: return .text(text)
        case .timestamp: return Timestamp(postgresText: text).map(ColumnValue.timestamp)
        case .bool: return .bool(text == "t")
        case .integer: return Int64(text).map(ColumnValue.integer)
        }
    }

    /// Fixed SQL text, built once from the column lists (identifiers only — never data).
    enum SQL {
        struct TableSQL {
            let columns: [String]
            let createStaging: String
            let copy: String
            let upsert: String
        }

        static let seriesColumns = ["ticker", "title", "category", "tags", "is_game"]

        static let eventColumns = [
            "ticker", "series_ticker", "title", "sub_title", "category", "mutually_exclusive", "strike_date",
            "strike_period", "collateral_return_type", "exchange_updated_at", "fetched_at",
        ]

        static let marketColumns = MarketRow.columnNames

        /// Staging tables are temporary (per session), created once with the target's column
        /// types but no constraints, emptied at commit; the DELETE covers a call nested in a
        /// caller's transaction.
        static func staging(_ table: String, columns: [String]) -> (create: String, copy: String) {
            let stage = "ssmd_stage_\(table)"
            return ("""
                CREATE TEMP TABLE IF NOT EXISTS \(stage) ON COMMIT DELETE ROWS
                    AS SELECT \(columns.joined(separator: ", ")) FROM \(table) WITH NO DATA;
                DELETE FROM \(stage);
                """,
                "COPY \(stage) (\(columns.joined(separator: ", "))) FROM STDIN")
        }

        static let series: TableSQL = {
            let (create, copy) = staging("series", columns: seriesColumns)
            let content = ["title", "category", "tags", "is_game"]
            let upsert = """
                WITH up AS (
                    INSERT INTO series AS t (ticker, title, category, tags, is_game, active)
                    SELECT ticker, title, category, tags, is_game, true FROM ssmd_stage_series
                    ON CONFLICT (ticker) DO UPDATE SET
                        \(content.map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")),
                        active = true,
                        updated_at = now()
                    WHERE (\(content.map { "t.\($0)" }.joined(separator: ", ")), t.active)
                          IS DISTINCT FROM
                          (\(content.map { "EXCLUDED.\($0)" }.joined(separator: ", ")), true)
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted) AS inserted,
                       count(*) FILTER (WHERE NOT inserted) AS updated
                FROM up
                """
            return TableSQL(columns: seriesColumns, createStaging: create, copy: copy, upsert: upsert)
        }()

        /// Shared shape of the events/markets upsert. `versionColumn` orders snapshots
        /// (NULL first), then `fetched_at`. `alwaysAccept` marks stored rows any snapshot
        /// may replace (placeholder events).
        static func versionedUpsert(table: String, columns: [String], versionColumn: String,
                                    alwaysAccept: String?) -> String {
            let content = columns.filter { $0 != "ticker" && $0 != "fetched_at" }
            let assignments = columns.filter { $0 != "ticker" }.map { "\($0) = EXCLUDED.\($0)" }
            let newer = """
                (coalesce(EXCLUDED.\(versionColumn), '-infinity'::timestamptz), EXCLUDED.fetched_at)
                          >= (coalesce(t.\(versionColumn), '-infinity'::timestamptz), t.fetched_at)
                """
            let guardClause = alwaysAccept.map { "(\($0) OR \(newer))" } ?? "(\(newer))"
            return """
                WITH up AS (
                    INSERT INTO \(table) AS t (\(columns.joined(separator: ", ")))
                    SELECT \(columns.joined(separator: ", ")) FROM ssmd_stage_\(table)
                    ON CONFLICT (ticker) DO UPDATE SET
                        \(assignments.joined(separator: ",\n            ")),
                        gone_at = CASE WHEN EXCLUDED.fetched_at >= t.gone_at THEN NULL ELSE t.gone_at END,
                        updated_at = now()
                    WHERE \(guardClause)
                      AND ((\(content.map { "t.\($0)" }.joined(separator: ", ")))
                             IS DISTINCT FROM
                           (\(content.map { "EXCLUDED.\($0)" }.joined(separator: ", ")))
                           OR EXCLUDED.fetched_at >= t.gone_at)
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted) AS inserted,
                       count(*) FILTER (WHERE NOT inserted) AS updated
                FROM up
                """
        }

        static let events: TableSQL = {
            let (create, copy) = staging("events", columns: eventColumns)
            let content = eventColumns.filter { $0 != "ticker" && $0 != "fetched_at" && $0 != "series_ticker" }
            // A placeholder (inserted for a market that arrived first) has no content at all.
            let placeholder = "ROW(\(content.map { "t.\($0)" }.joined(separator: ", "))) IS NULL"
            return TableSQL(columns: eventColumns, createStaging: create, copy: copy,
                            upsert: versionedUpsert(table: "events", columns: eventColumns,
                                                    versionColumn: "exchange_updated_at", alwaysAccept: placeholder))
        }()

        static let markets: TableSQL = {
            let (create, copy) = staging("markets", columns: marketColumns)
            return TableSQL(columns: marketColumns, createStaging: create, copy: copy,
                            upsert: versionedUpsert(table: "markets", columns: marketColumns,
                                                    versionColumn: "updated_time", alwaysAccept: nil))
        }()

        /// Events that staged markets point at but that do not exist yet.
        static let placeholderEvents = """
            INSERT INTO events (ticker, series_ticker, fetched_at)
            SELECT DISTINCT ON (s.event_ticker) s.event_ticker, s.series_ticker, s.fetched_at
            FROM ssmd_stage_markets s
            WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.ticker = s.event_ticker)
            ORDER BY s.event_ticker, s.fetched_at
            ON CONFLICT (ticker) DO NOTHING
            """
    }
}

extension Timestamp {
    /// Earlier than any real timestamp (orders missing times first).
    fileprivate static let storageFloor = Timestamp(microsecondsSinceEpoch: .min)
}

extension PostgresConnection {
    /// Runs `body` with the secmaster store on this connection's thread.
    public func secmaster<T: Sendable>(_ body: @escaping @Sendable (SecmasterStore) throws -> T) async throws -> T {
        try await withSession { try body(SecmasterStore(connection: $0)) }
    }
}
