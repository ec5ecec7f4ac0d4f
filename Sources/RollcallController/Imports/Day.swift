public import Foundation

/// A calendar day with no time or zone: start and leaving dates, purchase dates. Stored as `YYYY-MM-DD`, which sorts
/// and compares the same as text in every engine; shown to people the UK way, `31/08/2026`.
public struct Day: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), (1...Self.days(inMonth: month, of: year)).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The UTC day `date` falls on.
    public init(_ date: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        self.year = parts.year!
        self.month = parts.month!
        self.day = parts.day!
    }

    /// `2026-08-31`.
    public var iso: String {
        func pad(_ value: Int, _ width: Int) -> String { String(repeating: "0", count: max(0, width - String(value).count)) + String(value) }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// `31/08/2026`, as the school office writes it.
    public var uk: String {
        func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(pad(day))/\(pad(month))/\(year)"
    }

    public var description: String { uk }

    /// Midnight UTC at the start of the day.
    public var date: Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day))!
    }

    public func adding(days: Int) -> Day { Day(date.addingTimeInterval(Double(days) * 86_400)) }

    public static func < (lhs: Day, rhs: Day) -> Bool { (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day) }

    /// Reads the dates UK school exports hold: `31/08/2026`, `1/9/26`, `31-08-2026`, `31.08.2026`, ISO `2026-08-31`,
    /// each optionally followed by a time (`31/08/2026 00:00`, `2026-08-31T00:00:00`), which is ignored. Day first,
    /// always: a UK export never means 08/31. A two-digit year is 20yy up to ten years ahead and 19yy before that.
    public init?(uk text: String, today: Day = Day(Date())) {
        var body = Substring(text.trimmingCharacters(in: .whitespaces))
        if let cut = body.firstIndex(where: { $0 == " " || $0 == "T" }) {
            let time = body[body.index(after: cut)...]
            guard time.allSatisfy({ $0.isNumber || $0 == ":" || $0 == "." || $0 == "Z" }) else { return nil }
            body = body[..<cut]
        }
        guard let separator = body.first(where: { $0 == "/" || $0 == "-" || $0 == "." }) else { return nil }
        let parts = body.split(separator: separator, omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let a = Int(parts[0]), let b = Int(parts[1]), let c = Int(parts[2]) else { return nil }
        if parts[0].count == 4 {
            guard separator == "-", parts[1].count <= 2, parts[2].count <= 2 else { return nil }
            self.init(year: a, month: b, day: c)
        } else {
            guard parts[0].count <= 2, parts[1].count <= 2, parts[2].count == 4 || parts[2].count == 2 else { return nil }
            var year = c
            if parts[2].count == 2 { year = 2000 + c <= today.year + 10 ? 2000 + c : 1900 + c }
            self.init(year: year, month: b, day: a)
        }
    }

    /// Reads a stored `YYYY-MM-DD`.
    public init?(iso text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = Day(iso: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a YYYY-MM-DD date"))
        }
        self = day
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso)
    }

    static func days(inMonth month: Int, of year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
