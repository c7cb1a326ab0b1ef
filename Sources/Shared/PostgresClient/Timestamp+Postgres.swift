import Foundation
import SSMDCore

/// Conversions between ``Timestamp`` and PostgreSQL `timestamptz` text, exact to the microsecond.
///
/// Pure integer calendar arithmetic (proleptic Gregorian, UTC) — no `DateFormatter`, no
/// floating point, so a value written and read back is bit-for-bit the same.
extension Timestamp {
    /// `2026-01-12T22:08:10.446961Z` (ISO 8601, always six fractional digits, UTC).
    /// Years before 1 AD are written in PostgreSQL's `… BC` form.
    public var postgresText: String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        appendPostgresText(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``postgresText`` as UTF-8 (no intermediate string; one copy into `bytes`).
    func appendPostgresText(to bytes: inout [UInt8]) {
        let micros = microsecondsSinceEpoch
        let (secondsTotal, micro) = micros.floorDivMod(1_000_000)
        let (days, secondOfDay) = secondsTotal.floorDivMod(86_400)
        let (year, month, day) = Timestamp.civilFromDays(days)
        let bc = year <= 0
        let displayYear = bc ? 1 - year : year
        let hour = secondOfDay / 3600, minute = (secondOfDay % 3600) / 60, second = secondOfDay % 60
        // "YYYY-MM-DDTHH:MM:SS.ffffffZ" is 27 bytes: build it on the stack, append once.
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &scratch) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            @inline(__always) func put(_ value: Int64, at offset: Int, width: Int) {
                var v = value
                var i = offset + width - 1
                while i >= offset {
                    p[i] = 0x30 &+ UInt8(truncatingIfNeeded: v % 10)
                    v /= 10
                    i -= 1
                }
            }
            put(displayYear % 10_000, at: 0, width: 4); p[4] = 0x2D
            put(month, at: 5, width: 2); p[7] = 0x2D
            put(day, at: 8, width: 2); p[10] = 0x54  // T
            put(hour, at: 11, width: 2); p[13] = 0x3A
            put(minute, at: 14, width: 2); p[16] = 0x3A
            put(second, at: 17, width: 2); p[19] = 0x2E
            put(micro, at: 20, width: 6); p[26] = 0x5A  // Z
            if displayYear > 9999 {  // far outside the exchange's range
                bytes.append(contentsOf: String(displayYear).utf8)
                bytes.append(contentsOf: UnsafeBufferPointer(start: p + 4, count: 23))
            } else {
                bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: 27))
            }
        }
        if bc { bytes.append(contentsOf: " BC".utf8) }
    }

    /// Parses `timestamptz` text as the server prints it (`2026-01-12 22:08:10.446961+00`,
    /// any UTC offset such as `+05:30`, optional ` BC`) or ISO 8601 (`…T…Z`).
    /// Returns nil for `infinity`, `-infinity` and anything malformed.
    public init?(postgresText text: String) {
        var bytes = Array(text.utf8)
        var bc = false
        if bytes.count > 3, bytes.suffix(3).elementsEqual(" BC".utf8) {
            bc = true
            bytes.removeLast(3)
        }
        var i = 0
        func number(maxDigits: Int) -> Int64? {
            var value: Int64 = 0
            var count = 0
            while i < bytes.count, count < maxDigits, bytes[i] >= 48, bytes[i] <= 57 {
                value = value * 10 + Int64(bytes[i] - 48)
                i += 1
                count += 1
            }
            return count == 0 ? nil : value
        }
        func expect(_ ascii: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == ascii else { return false }
            i += 1
            return true
        }
        guard var year = number(maxDigits: 9), expect(UInt8(ascii: "-")),
              let month = number(maxDigits: 2), expect(UInt8(ascii: "-")),
              let day = number(maxDigits: 2),
              month >= 1, month <= 12, day >= 1, day <= 31
        else { return nil }
        guard i < bytes.count, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "T") else { return nil }
        i += 1
        guard let hour = number(maxDigits: 2), expect(UInt8(ascii: ":")),
              let minute = number(maxDigits: 2), expect(UInt8(ascii: ":")),
              let second = number(maxDigits: 2),
              hour <= 24, minute <= 59, second <= 60
        else { return nil }
        var micro: Int64 = 0
        if expect(UInt8(ascii: ".")) {
            var digits = 0
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                if digits < 6 { micro = micro * 10 + Int64(bytes[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 6 { for _ in digits..<6 { micro *= 10 } }
        }
        var offsetSeconds: Int64 = 0
        if i < bytes.count {
            if bytes[i] == UInt8(ascii: "Z") {
                i += 1
            } else if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
                let sign: Int64 = bytes[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let oh = number(maxDigits: 2) else { return nil }
                var om: Int64 = 0, os: Int64 = 0
                if expect(UInt8(ascii: ":")) { guard let m = number(maxDigits: 2) else { return nil }; om = m }
                if expect(UInt8(ascii: ":")) { guard let s = number(maxDigits: 2) else { return nil }; os = s }
                offsetSeconds = sign * (oh * 3600 + om * 60 + os)
            }
        }
        guard i == bytes.count else { return nil }
        if bc { year = 1 - year }
        let days = Timestamp.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        self.init(microsecondsSinceEpoch: seconds * 1_000_000 + micro)
    }
}

extension Int64 {
    /// Floor division and a non-negative remainder (`-1.floorDivMod(10) == (-1, 9)`).
    fileprivate func floorDivMod(_ divisor: Int64) -> (Int64, Int64) {
        var q = self / divisor
        var r = self % divisor
        if r < 0 { q -= 1; r += divisor }
        return (q, r)
    }
}
