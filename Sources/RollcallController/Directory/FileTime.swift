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
        let time = civil(date)
        return digits(time.year, 4) + digits(time.month, 2) + digits(time.day, 2) + digits(time.hour, 2) + digits(time.minute, 2)
            + digits(time.second, 2) + "Z"
    }
}
