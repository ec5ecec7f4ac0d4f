/// A strict RFC 4180 reader: records one at a time, each field with the line and column where it starts.
///
/// Why our own: the CSV packages at hand accept an unterminated quote or junk after a closing quote without a word
/// and give no position, and a school office must be told "staff.csv:37:5: …" rather than have a half-read export
/// applied. Accepted as school MIS exports really are: CRLF, LF or lone CR line ends, quoted fields holding commas,
/// quotes (doubled) and line breaks, a missing line end at the end of the file. Refused, with the place: a quote
/// inside an unquoted field, anything but a comma or a line end after a closing quote, a quote left open at the end.
///
/// Columns count characters (as a text editor does), from 1. The input is text already decoded (``TextDecoding``).
struct CSVReader {
    struct Field: Equatable {
        var value: String
        var line: Int
        var column: Int
    }

    struct Record: Equatable {
        var fields: [Field]
        /// The line the record starts on.
        var line: Int { fields.first?.line ?? 0 }
        var values: [String] { fields.map(\.value) }
        /// An empty line, or one of only separators: what spreadsheets leave at the end of an export.
        var isBlank: Bool { fields.allSatisfy { $0.value.isEmpty } }
    }

    struct Problem: Error, Equatable, CustomStringConvertible {
        var line: Int
        var column: Int
        var message: String

        var description: String { "\(line):\(column): \(message)" }
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var column = 1
    private let separator: Unicode.Scalar

    init(_ text: String, separator: Unicode.Scalar = ",") {
        scalars = Array(text.unicodeScalars)
        self.separator = separator
    }

    /// The next record, nil at the end of the input.
    mutating func next() throws(Problem) -> Record? {
        guard index < scalars.count else { return nil }
        var fields: [Field] = []
        while true {
            let (field, ended) = try readField()
            fields.append(field)
            if ended { return Record(fields: fields) }
        }
    }

    /// Every record; stops at the first malformed one (a CSV error leaves the rest of the file unreadable).
    mutating func records() throws(Problem) -> [Record] {
        var all: [Record] = []
        while let record = try next() { all.append(record) }
        return all
    }

    /// Reads one field and what follows it; `true` when that was the end of the record.
    private mutating func readField() throws(Problem) -> (Field, Bool) {
        let startLine = line, startColumn = column
        var value = String.UnicodeScalarView()
        if index < scalars.count, scalars[index] == "\"" {
            advance()
            while true {
                guard index < scalars.count else {
                    throw Problem(line: startLine, column: startColumn, message: "a quoted field is never closed (the file may be cut short)")
                }
                let scalar = scalars[index]
                if scalar == "\"" {
                    if index + 1 < scalars.count, scalars[index + 1] == "\"" {
                        value.append("\"")
                        advance()
                        advance()
                        continue
                    }
                    advance()
                    break
                }
                value.append(scalar)
                advanceCountingLines()
            }
            let field = Field(value: String(value), line: startLine, column: startColumn)
            guard index < scalars.count else { return (field, true) }
            let after = scalars[index]
            if after == separator {
                advance()
                return (field, false)
            }
            if after == "\r" || after == "\n" {
                endLine()
                return (field, true)
            }
            throw Problem(line: line, column: column, message: "'\(Character(after))' after the closing quote of a field (expected a comma or the end of the line)")
        }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == separator {
                advance()
                return (Field(value: String(value), line: startLine, column: startColumn), false)
            }
            if scalar == "\r" || scalar == "\n" {
                endLine()
                return (Field(value: String(value), line: startLine, column: startColumn), true)
            }
            if scalar == "\"" {
                throw Problem(line: line, column: column, message: "a quote inside a field that does not start with one (quote the whole field and double the quote: \"O\"\"Neill\")")
            }
            value.append(scalar)
            advance()
        }
        return (Field(value: String(value), line: startLine, column: startColumn), true)
    }

    private mutating func advance() {
        index += 1
        column += 1
    }

    /// Inside quotes: a line break is part of the value but still starts a new line of the file.
    private mutating func advanceCountingLines() {
        let scalar = scalars[index]
        if scalar == "\n" || (scalar == "\r" && !(index + 1 < scalars.count && scalars[index + 1] == "\n")) {
            index += 1
            line += 1
            column = 1
        } else {
            advance()
        }
    }

    /// Consumes CRLF, LF or a lone CR.
    private mutating func endLine() {
        if scalars[index] == "\r", index + 1 < scalars.count, scalars[index + 1] == "\n" { index += 1 }
        index += 1
        line += 1
        column = 1
    }
}
