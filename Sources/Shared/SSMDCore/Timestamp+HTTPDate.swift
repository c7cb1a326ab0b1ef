/// RFC 9110 `Date` header values (IMF-fixdate: `Wed, 25 Nov 2026 15:42:55 GMT`). The
/// exchange's `Date` header is the only reading of the exchange's own clock a client gets,
/// and "since when" questions (`min_updated_ts`, `min_close_ts`) are asked in that clock.
extension Timestamp {
    static let httpMonths = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    static let httpWeekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday

    /// Parses IMF-fixdate; nil for anything else (obsolete formats are not worth guessing).
    public init?(httpDate text: some StringProtocol) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 6, parts[5] == "GMT",
              let day = Int64(parts[1]), (1...31).contains(day),
              let monthIndex = Timestamp.httpMonths.firstIndex(where: { $0.elementsEqual(parts[2]) }),
              let year = Int64(parts[3]), (1970...9999).contains(year) else { return nil }
        let hms = parts[4].split(separator: ":")
        guard hms.count == 3, let h = Int64(hms[0]), let m = Int64(hms[1]), let s = Int64(hms[2]),
              (0...23).contains(h), (0...59).contains(m), (0...60).contains(s) else { return nil }
        let days = Timestamp.daysFromCivil(year: year, month: Int64(monthIndex + 1), day: day)
        self = .seconds(days * 86_400 + h * 3600 + m * 60 + s)
    }

    public var httpDate: String {
        let secs = secondsSinceEpoch
        let days = secs >= 0 ? secs / 86_400 : -((-secs + 86_399) / 86_400)
        let rem = secs - days * 86_400
        let (y, mo, d) = Timestamp.civilFromDays(days)
        func pad(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let weekday = Timestamp.httpWeekdays[Int(((days % 7) + 7) % 7)]
        return "\(weekday), \(pad(d)) \(Timestamp.httpMonths[Int(mo - 1)]) \(y) \(pad(rem / 3600)):\(pad(rem % 3600 / 60)):\(pad(rem % 60)) GMT"
    }
}
