import Foundation

/// Active Directory's times: `pwdLastSet`, `lastLogonTimestamp`, `lastLogon`, `lockoutTime` and `accountExpires` are
/// Windows FILETIMEs, 100-nanosecond ticks since 1601-01-01 UTC, written as decimal text; `maxPwdAge` and the
/// fine-grained policies' ages are intervals in the same ticks, negative.
enum FileTime {
    /// Ticks from 1601-01-01 to 1970-01-01.
    static let unixEpoch: Int64 = 116_444_736_000_000_000
    static let ticksPerSecond: Int64 = 10_000_000
    /// `accountExpires` for "never" (0 means never too).
    static let never = Int64.max

    /// The moment a FILETIME names; nil for 0 ("never set": a `pwdLastSet` that forces a change, a `lastLogon` that
    /// never happened) and for `0x7FFFFFFFFFFFFFFF` ("never", in `accountExpires`), and for text that is no number.
    static func date(_ text: String) -> Date? {
        guard let ticks = Int64(text) else { return nil }
        return date(ticks)
    }

    static func date(_ ticks: Int64) -> Date? {
        guard ticks > 0, ticks != never else { return nil }
        let sinceUnix = ticks - unixEpoch
        return Date(timeIntervalSince1970: Double(sinceUnix / ticksPerSecond) + Double(sinceUnix % ticksPerSecond) / Double(ticksPerSecond))
    }

    static func ticks(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970
        let whole = seconds.rounded(.down)
        return unixEpoch + Int64(whole) * ticksPerSecond + Int64(((seconds - whole) * Double(ticksPerSecond)).rounded())
    }

    /// An interval such as `maxPwdAge: -36288000000000` (42 days) in whole days; nil for "never"
    /// (`-9223372036854775808`, or 0) and for text that is no number.
    static func intervalDays(_ text: String) -> Int? {
        guard let ticks = Int64(text), ticks != 0, ticks != Int64.min else { return nil }
        return Int(ticks.magnitude / UInt64(ticksPerSecond * 86_400))
    }
}

extension GeneralizedTime {
    /// `20261123215422Z`: how Rollcall writes a moment where a directory's own text is kept (AD's `lockoutTime`).
    static func format(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        // Howard Hinnant's civil_from_days, the inverse of `daysSince1970`.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(year)\(two(month))\(two(day))\(two(rest / 3600))\(two(rest % 3600 / 60))\(two(rest % 60))Z"
    }
}
