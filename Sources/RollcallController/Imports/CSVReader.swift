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

    struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        var line: Int
        var column: Int
        var message: String

        var description: String { "\(line):\(column): \(message)" }
    }

    private let source: ScalarDecoder
    /// The scalar under the cursor and the one after it (a doubled quote and CRLF need one of lookahead).
    private var current: Unicode.Scalar?
    private var following: Unicode.Scalar?
    private var line = 1
    private var column = 1
    private let separator: Unicode.Scalar

    /// Reads from a decoder, which may stream a file of any size.
    init(_ source: ScalarDecoder, separator: Unicode.Scalar = ",") {
        self.source = source
        self.separator = separator
        current = source.next()
        following = current == nil ? nil : source.next()
    }

    /// Opens an export file in its detected (or the forced) encoding, skipping a byte-order mark; says which encoding
    /// and whether there was a BOM. A file that cannot be opened is an error naming it and why.
    static func open(_ path: String, forced: TextEncoding?) throws(ImportError) -> (reader: CSVReader, encoding: TextEncoding, byteOrderMark: Bool) {
        var failure: ImportFileError?
        func reader() -> ByteReader {
            switch ByteReader.open(path) {
            case .success(let reader): return reader
            case .failure(let error):
                failure = error
                return ByteReader(bytes: [])
            }
        }
        let (encoding, bom) = TextDecoding.detect(forced: forced, open: reader)
        let bytes = reader()
        if let failure { throw .file(failure) }
        return (CSVReader(ScalarDecoder(bytes, encoding: encoding, skipping: bom ? 1 : 0)), encoding, bom)
    }

    /// A small register (equipment, licences) read whole: its non-blank records, at least a header and one row, or
    /// the error naming the file and the first bad place. `what` names the rows for the empty-file messages.
    static func registerRecords(_ path: String, forced: TextEncoding?, what: String) throws(ImportError) -> (records: [Record], encoding: TextEncoding) {
        var (reader, encoding, _) = try open(path, forced: forced)
        var records: [Record] = []
        do {
            while let record = try reader.next() { if !record.isBlank { records.append(record) } }
        } catch {
            throw .syntax(file: path, problem: ImportProblem(error))
        }
        guard !records.isEmpty else { throw .empty(file: path, message: "the file is empty: no header row, no \(what)") }
        guard records.count > 1 else { throw .empty(file: path, message: "the file has a header row but no \(what)") }
        return (records, encoding)
    }

    init(_ text: String, separator: Unicode.Scalar = ",") {
        self.init(ScalarDecoder(ByteReader(bytes: Array(text.utf8)), encoding: .utf8), separator: separator)
    }

    /// The next record, nil at the end of the input.
    mutating func next() throws(Problem) -> Record? {
        guard current != nil else {
            try checkDecoding()
            return nil
        }
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
        if current == "\"" {
            advance()
            while true {
                guard let scalar = current else {
                    try checkDecoding()
                    throw Problem(line: startLine, column: startColumn, message: "a quoted field is never closed (the file may be cut short)")
                }
                if scalar == "\"" {
                    if following == "\"" {
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
            guard let after = current else { return (field, true) }
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
        while let scalar = current {
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

    private mutating func step() {
        current = following
        following = current == nil ? nil : source.next()
    }

    private mutating func advance() {
        step()
        column += 1
    }

    /// Inside quotes: a line break is part of the value but still starts a new line of the file.
    private mutating func advanceCountingLines() {
        if current == "\n" || (current == "\r" && following != "\n") {
            step()
            line += 1
            column = 1
        } else {
            advance()
        }
    }

    /// Consumes CRLF, LF or a lone CR.
    private mutating func endLine() {
        if current == "\r", following == "\n" { step() }
        step()
        line += 1
        column = 1
    }

    /// The input ended early because a byte could not be decoded: say where, in the reader's terms.
    private func checkDecoding() throws(Problem) {
        if let problem = source.problem {
            throw Problem(line: problem.line, column: column, message: "\(problem.message) (byte \(problem.offset) of the file)")
        }
    }
}
