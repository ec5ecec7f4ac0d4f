import Foundation

/// A column an import understands: the join key of an HR export, the asset tag of the equipment register.
protocol ImportField: Hashable, CaseIterable, RawRepresentable<String> {
    /// How a technician reads it in an error.
    var label: String { get }
    var required: Bool { get }
}

/// A header row resolved: for each field, which column (0-based) holds it.
///
/// Header names match without regard to case, spaces or punctuation, so `Date of Leaving`, `date_of_leaving` and
/// `DATE OF LEAVING` are one column. Each field takes a list of names, best first; the first present wins.
struct ImportHeader<Field: ImportField> {
    var columns: [Field: Int]
    var width: Int

    /// Every problem with the header (a required column missing, a name given twice), all at once.
    static func resolve(_ header: CSVReader.Record, names wanted: [Field: [String]], missing hint: (Field) -> String,
                        file: String) throws(ImportError) -> ImportHeader {
        let normalised = header.values.map(Self.normalise)
        var columns: [Field: Int] = [:]
        var problems: [ImportProblem] = []
        for field in Field.allCases {
            let names = wanted[field] ?? []
            for name in names {
                let matches = normalised.indices.filter { normalised[$0] == Self.normalise(name) }
                if matches.count > 1 {
                    let places = matches.map { "column \(header.fields[$0].column)" }.joined(separator: " and ")
                    problems.append(ImportProblem(line: header.line, column: header.fields[matches[1]].column,
                                                  message: "'\(name)' is in the header twice (\(places)): which one holds the \(field.label) is unclear"))
                }
                if let first = matches.first {
                    columns[field] = first
                    break
                }
            }
            if columns[field] == nil, field.required {
                let looked = names.map { "'\($0)'" }.joined(separator: ", ")
                problems.append(ImportProblem(line: header.line, column: 1,
                                              message: "no column holds the \(field.label) (looked for \(looked.isEmpty ? "nothing: no name configured" : looked)); \(hint(field))"))
            }
        }
        if !problems.isEmpty {
            let found = header.values.map { "'\($0)'" }.joined(separator: ", ")
            problems.append(ImportProblem(line: header.line, column: 1, message: "the header's columns are: \(found)"))
            throw ImportError.rows(file: file, problems: problems, total: problems.count)
        }
        return ImportHeader(columns: columns, width: header.fields.count)
    }

    static func normalise(_ name: String) -> String {
        String(name.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }
}

/// One row of an import, read against its header: trimmed values and their places, with every fault reported.
struct ImportRow<Field: ImportField> {
    let record: CSVReader.Record
    let header: ImportHeader<Field>
    private let report: (Int, Int, String) -> Void
    private(set) var faults = 0

    /// Reads `record`; a row with more or fewer fields than the header is a fault of its own.
    init(_ record: CSVReader.Record, header: ImportHeader<Field>, problem: @escaping (Int, Int, String) -> Void) {
        self.record = record
        self.header = header
        report = problem
        let fields = record.fields
        if fields.count < header.width {
            let last = fields[fields.count - 1]
            fail(last, "this row has \(fields.count) field(s) but the header has \(header.width) (a line break inside an unquoted field, or a cut-short row?)")
        } else if fields.count > header.width,
                  let extra = fields[header.width...].first(where: { !$0.value.trimmingCharacters(in: .whitespaces).isEmpty }) {
            fail(extra, "this row has \(fields.count) fields but the header has \(header.width) (an unquoted comma in a name?)")
        }
    }

    var line: Int { record.line }

    func field(_ name: Field) -> CSVReader.Field? {
        guard let index = header.columns[name], index < record.fields.count else { return nil }
        return record.fields[index]
    }

    /// The value, trimmed; nil when the column is absent or the cell empty.
    func text(_ name: Field) -> String? {
        guard let value = field(name)?.value.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    mutating func fail(_ field: CSVReader.Field, _ message: String) {
        faults += 1
        report(field.line, field.column, message)
    }

    /// A UK date, or a fault naming the field.
    mutating func date(_ name: Field, today: Day) -> Day? {
        guard let value = text(name), let place = field(name) else { return nil }
        guard let day = Day(uk: value, today: today) else {
            fail(place, "'\(value)' is not a date (the \(name.label); expected dd/mm/yyyy, d/m/yy or yyyy-mm-dd)")
            return nil
        }
        return day
    }

    /// A value that must be present when its column is.
    mutating func required(_ name: Field) -> String? {
        if let value = text(name) { return value }
        if let place = field(name) { fail(place, "the \(name.label) is empty") }
        return nil
    }
}

/// A fault in an import file, at a line and column.
public struct ImportProblem: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "\(line):\(column): \(message)" }

    init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    init(_ problem: CSVReader.Problem) {
        self.init(line: problem.line, column: problem.column, message: problem.message)
    }
}

/// Collects an import's problems: all counted, the first ``limit`` kept for the message.
struct ImportProblems {
    static let limit = 200
    private(set) var kept: [ImportProblem] = []
    private(set) var count = 0

    mutating func add(_ line: Int, _ column: Int, _ message: String) {
        count += 1
        if kept.count < Self.limit { kept.append(ImportProblem(line: line, column: column, message: message)) }
    }

    var sorted: [ImportProblem] { kept.sorted { ($0.line, $0.column) < ($1.line, $1.column) } }
}
