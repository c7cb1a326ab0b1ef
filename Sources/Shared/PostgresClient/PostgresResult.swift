/// The outcome of one statement, copied out of libpq: rows × columns as text (`nil` = NULL).
public struct PostgresResult: Sendable, Equatable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows inserted/updated/deleted/copied (libpq's `PQcmdTuples`); 0 when not applicable.
    public let affectedRows: Int
    /// The command tag, e.g. `INSERT 0 3`, `UPDATE 2`, `SELECT 1`.
    public let commandTag: String

    public init(columns: [String], rows: [[String?]], affectedRows: Int, commandTag: String) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
        self.commandTag = commandTag
    }

    public var rowCount: Int { rows.count }

    /// The index of a column by name (first match), or nil.
    public func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }

    /// The value at `row` in the named column; nil for SQL NULL. Traps on an unknown column.
    public subscript(row: Int, column: String) -> String? {
        guard let index = columnIndex(column) else {
            preconditionFailure("no column \(column) in result (columns: \(columns))")
        }
        return rows[row][index]
    }

    public subscript(row: Int, column: Int) -> String? { rows[row][column] }

    /// The first column of the first row, if any (handy for `SELECT count(*) …`).
    public var scalar: String? { rows.first?.first ?? nil }
}
