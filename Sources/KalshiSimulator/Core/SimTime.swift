/// Calendar arithmetic on unix seconds without Foundation, so formatting a timestamp in the
/// serving hot path costs a few integer divisions.
public enum SimTime {
    /// (year, month 1-12, day 1-31) for days since 1970-01-01 (Howard Hinnant's algorithm).
    public static func civil(fromDays z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    public static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    public static func appendISO8601(_ t: Int64, to out: inout [UInt8]) {
        let days = floorDiv(t, 86_400)
        let secs = t - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        FixedPoint.appendDigits(UInt64(max(0, y)), minDigits: 4, to: &out)
        out.append(0x2D)
        FixedPoint.appendDigits(UInt64(m), minDigits: 2, to: &out)
        out.append(0x2D)
        FixedPoint.appendDigits(UInt64(d), minDigits: 2, to: &out)
        out.append(0x54)
        FixedPoint.appendDigits(UInt64(secs / 3600), minDigits: 2, to: &out)
        out.append(0x3A)
        FixedPoint.appendDigits(UInt64(secs / 60 % 60), minDigits: 2, to: &out)
        out.append(0x3A)
        FixedPoint.appendDigits(UInt64(secs % 60), minDigits: 2, to: &out)
        out.append(0x5A)
    }

    public static func iso8601(_ t: Int64) -> String {
        var b: [UInt8] = []
        appendISO8601(t, to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    /// Parses `2026-11-25T17:00:00Z`, with optional fractional seconds and `±hh:mm` offset,
    /// or a plain integer of unix seconds. Returns nil for anything else.
    public static func parse(_ text: String) -> Int64? {
        if let v = Int64(text) { return v }
        let b = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int64? {
            guard from + len <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + len) {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 19, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x20,
              b[13] == 0x3A, b[16] == 0x3A,
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2),
              let h = num(11, 2), let mi = num(14, 2), let s = num(17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        if i < b.count, b[i] == 0x2E {
            i += 1
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        }
        var offset: Int64 = 0
        if i < b.count {
            if b[i] == 0x5A || b[i] == 0x7A {
                i += 1
            } else if b[i] == 0x2B || b[i] == 0x2D {
                guard let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let om = num(i + 4, 2) else { return nil }
                offset = (oh * 3600 + om * 60) * (b[i] == 0x2B ? 1 : -1)
                i += 6
            } else { return nil }
        }
        guard i == b.count else { return nil }
        return days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset
    }

    static let monthCodes = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Kalshi's date code in tickers: `26NOV25` (yy MON dd).
    public static func tickerDate(_ t: Int64) -> String {
        let (y, m, d) = civil(fromDays: floorDiv(t, 86_400))
        return two(y % 100) + monthCodes[Int(m - 1)] + two(d)
    }

    /// `26NOV2517`: date code plus the hour, as hourly series use.
    public static func tickerDateHour(_ t: Int64) -> String {
        tickerDate(t) + two((t - floorDiv(t, 86_400) * 86_400) / 3600)
    }

    /// The HTTP `Date` header (IMF-fixdate) for simulated time `t`: clients read the
    /// exchange's clock from it, so an accelerated simulator must send its own time.
    public static func httpDate(_ t: Int64) -> String {
        let days = floorDiv(t, 86_400)
        let (y, m, d) = civil(fromDays: days)
        let rem = t - days * 86_400
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        return "\(weekday), \(two(d)) \(monthNames[Int(m - 1)]) \(y) \(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60)) GMT"
    }

    /// `Nov 25, 2026`
    public static func humanDate(_ t: Int64) -> String {
        let (y, m, d) = civil(fromDays: floorDiv(t, 86_400))
        return "\(monthNames[Int(m - 1)]) \(d), \(y)"
    }

    static func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
