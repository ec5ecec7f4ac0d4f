public import Foundation

/// A file of join keys, one per line, optionally with a date: the leavers list (`KEY,2026-08-31` or
/// `KEY,31/08/2026`) and the roster of everyone current. `#` starts a comment; blank lines are ignored.
/// Any other shape is an error naming the file, line and column, and nothing is planned from a file with errors.
public struct KeyListFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        /// The leaving date, when given (a leaver with a date still to come is not disabled yet).
        public var date: Date?
        public var line: Int

        public init(key: String, date: Date?, line: Int) {
            self.key = key
            self.date = date
            self.line = line
        }
    }

    public let path: String
    public let entries: [Entry]

    public init(path: String, entries: [Entry]) {
        self.path = path
        self.entries = entries
    }

    public static func load(_ path: String) throws(KeyListError) -> KeyListFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyListError(path: path, line: 0, column: 0, message: "cannot read the file")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw KeyListError(path: path, line: 0, column: 0, message: "the file is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(KeyListError) -> KeyListFile {
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        for (index, rawLine) in body.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = rawLine
            if line.hasSuffix("\r") { line = line.dropLast() }
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let column = (line.firstIndex { !$0.isWhitespace }.map { line.distance(from: line.startIndex, to: $0) } ?? 0) + 1
            guard fields.count <= 2 else {
                throw KeyListError(path: path, line: number, column: column, message: "expected KEY or KEY,DATE, found \(fields.count) fields")
            }
            let key = fields[0]
            guard !key.isEmpty, !key.contains(where: \.isWhitespace) else {
                throw KeyListError(path: path, line: number, column: column, message: "'\(key)' is not a join key (no spaces; one key per line)")
            }
            if let first = seen[key] {
                throw KeyListError(path: path, line: number, column: column, message: "\(key) is listed twice (first on line \(first))")
            }
            seen[key] = number
            var date: Date?
            if fields.count == 2 {
                let comma = line.distance(from: line.startIndex, to: line.firstIndex(of: ",") ?? line.startIndex)
                let dateColumn = comma + 2 + (line[line.index(line.startIndex, offsetBy: comma + 1)...].prefix { $0.isWhitespace }.count)
                guard let parsed = Self.date(fields[1]) else {
                    throw KeyListError(path: path, line: number, column: dateColumn,
                                       message: "'\(fields[1])' is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
                }
                date = parsed
            }
            entries.append(Entry(key: key, date: date, line: number))
        }
        return KeyListFile(path: path, entries: entries)
    }

    /// `2026-08-31` or the UK `31/08/2026`, as midnight UTC at the start of that day.
    static func date(_ text: String) -> Date? {
        Day(uk: text)?.date
    }
}

public struct KeyListError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let column: Int
    public let message: String

    public var description: String {
        line == 0 ? "\(path): \(message)" : "\(path):\(line):\(column): \(message)"
    }
}
