public import Foundation
import RollcallProtocol

/// One table of the estate as every view of it shares it: a dashboard page sorts, filters and pages it, and the same
/// rows, filtered and sorted the same way, become the page's CSV and JSON and a section of the compliance report.
public struct DashboardTable: Sendable {
    public struct Column: Sendable {
        /// The CSV header and JSON key: snake_case, stable for scripts.
        public var key: String
        public var label: String
        public var numeric: Bool

        public init(_ key: String, _ label: String, numeric: Bool = false) {
            self.key = key
            self.label = label
            self.numeric = numeric
        }
    }

    /// A value as the browser shows it and as it sorts: numbers by number, dates by time, text by text.
    public enum Value: Sendable, Equatable, Encodable {
        case text(String?)
        case number(Int?)
        case date(Date?)

        var display: String {
            switch self {
            case .text(let text): text ?? ""
            case .number(let number): number.map(String.init) ?? ""
            case .date(let date): date.map(Self.timestamp) ?? ""
            }
        }

        /// `2026-11-24T09:15:30Z`, as `Date.ISO8601FormatStyle` in UTC writes it, from whole seconds by integer
        /// arithmetic (the civil-from-days algorithm): a report writes one for every device, account and event, and
        /// the format style costs microseconds each.
        static func timestamp(_ date: Date) -> String {
            let time = GeneralizedTime.civil(date)
            let digits = GeneralizedTime.digits
            return digits(time.year, 4) + "-" + digits(time.month, 2) + "-" + digits(time.day, 2) + "T" + digits(time.hour, 2) + ":"
                + digits(time.minute, 2) + ":" + digits(time.second, 2) + "Z"
        }

        static func < (lhs: Value, rhs: Value) -> Bool {
            switch (lhs, rhs) {
            case (.number(let a), .number(let b)): (a ?? .min) < (b ?? .min)
            case (.date(let a), .date(let b)): (a ?? .distantPast) < (b ?? .distantPast)
            default: lhs.display.localizedStandardCompare(rhs.display) == .orderedAscending
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .number(let number): try container.encode(number)
            case .date(let date): try container.encode(date.map(Self.timestamp))
            }
        }
    }

    public struct Row: Sendable {
        public var values: [Value]
        /// A CSS class for the whole row (`bad`, `warn`), so a failing device stands out.
        public var tone: String?
        /// Where the row's first cell links to on the dashboard.
        public var link: String?

        public init(_ values: [Value], tone: String? = nil, link: String? = nil) {
            self.values = values
            self.tone = tone
            self.link = link
        }
    }

    public var name: String
    public var title: String
    public var columns: [Column]
    public var rows: [Row]
    /// Said instead of an empty table: why there is nothing (no agent yet, never synced), never a blank.
    public var emptyMessage: String
    /// Lines above the table: what the section judged against, what is missing.
    public var notes: [String] = []

    public init(name: String, title: String, columns: [Column], rows: [Row], emptyMessage: String, notes: [String] = []) {
        self.name = name
        self.title = title
        self.columns = columns
        self.rows = rows
        self.emptyMessage = emptyMessage
        self.notes = notes
    }

    /// Rows in which some cell contains `query`, ignoring case and accents.
    public func filtered(_ query: String?) -> DashboardTable {
        guard let query = query?.trimmingCharacters(in: .whitespaces), !query.isEmpty else { return self }
        var table = self
        table.rows = rows.filter { row in
            row.values.contains { $0.display.range(of: query, options: [.caseInsensitive, .diacriticInsensitive]) != nil }
        }
        return table
    }

    /// Sorted by the column named `key` (stable: equal rows keep the section's own order); an unknown key leaves it.
    public func sorted(by key: String?, descending: Bool) -> DashboardTable {
        guard let key, let index = columns.firstIndex(where: { $0.key == key }) else { return self }
        var table = self
        table.rows = rows.enumerated().sorted { a, b in
            let (x, y) = (a.element.values[index], b.element.values[index])
            if x == y { return a.offset < b.offset }
            return descending ? y < x : x < y
        }.map(\.element)
        return table
    }

    public func csv() -> String {
        var lines = [CSVWriter.row(columns.map(\.key))]
        lines.reserveCapacity(rows.count + 1)
        for row in rows { lines.append(CSVWriter.row(row.values.map(\.display))) }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// `{"section": ..., "count": N, "rows": [{column: value}]}`, numbers as numbers and times as ISO 8601.
    public func json() throws -> String {
        String(decoding: try RollcallJSON.encoder(pretty: true).encode(JSONDocument(table: self)), as: UTF8.self) + "\n"
    }

    struct JSONDocument: Encodable {
        let table: DashboardTable

        enum Keys: String, CodingKey { case section, title, notes, count, rows }

        struct Row: Encodable {
            let columns: [Column]
            let values: [Value]

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: AnyKey.self)
                for (column, value) in zip(columns, values) { try container.encode(value, forKey: AnyKey(column.key)) }
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(table.name, forKey: .section)
            try container.encode(table.title, forKey: .title)
            try container.encode(table.notes, forKey: .notes)
            try container.encode(table.rows.count, forKey: .count)
            try container.encode(table.rows.map { Row(columns: table.columns, values: $0.values) }, forKey: .rows)
        }
    }

    struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ key: String) { stringValue = key }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
