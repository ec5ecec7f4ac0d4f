import SQLKit

/// Many rows handed to SQLite as one JSON text, unpacked by `json_each` inside the statement.
///
/// The directory sync writes tens of thousands of rows. Bound one value at a time (SQLKit's `values` and `models`),
/// each value was boxed, cast and copied, and each batch's statement of 7,000 placeholders parsed, which cost more
/// than SQLite's own work. Here a batch is one JSON array of arrays, built in a single pass, bound once, and taken
/// apart by SQLite in C; the statement text stays the same for every batch.
///
/// SQLite only (`json_each`, `->>`), like the store; PostgreSQL's form is `json_array_elements($1::json)`.
struct JSONRows: Sendable {
    enum Value: Sendable {
        case text(String)
        case integer(Int64)
        case null
    }

    let columns: [String]
    private var bytes: [UInt8] = [UInt8(ascii: "[")]
    private(set) var count = 0

    init(columns: [String], capacity: Int = 0) {
        self.columns = columns
        bytes.reserveCapacity(capacity * columns.count * 24)
    }

    var isEmpty: Bool { count == 0 }

    /// Appends one row, one value per column.
    mutating func append(_ row: [Value]) {
        precondition(row.count == columns.count, "a row of \(row.count) values for \(columns.count) columns")
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "["))
        for (index, value) in row.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            switch value {
            case .null: bytes.append(contentsOf: "null".utf8)
            case .integer(let number): bytes.append(contentsOf: String(number).utf8)
            case .text(let text): appendString(text)
            }
        }
        bytes.append(UInt8(ascii: "]"))
        count += 1
    }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(UInt8(ascii: "["))
        count = 0
    }

    /// The rows as JSON text.
    var json: String {
        var text = bytes
        text.append(UInt8(ascii: "]"))
        return String(decoding: text, as: UTF8.self)
    }

    /// A JSON string: quote, backslash and control characters escaped (RFC 8259 7); other UTF-8 as it is.
    private mutating func appendString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        defer { bytes.append(UInt8(ascii: "\"")) }
        var text = text
        let plain = text.withUTF8 { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        guard !plain else { return }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xf)]])
            default: bytes.append(byte)
            }
        }
    }

    /// `SELECT value ->> 0 AS first, … FROM jsonb_each(?)`: the rows as a table with this value's column names.
    /// `jsonb_each` hands each row over in SQLite's binary form, so `->>` does not parse it again.
    var asTable: SQLQueryString {
        let fields = columns.enumerated().map { "value ->> \($0.offset) AS \($0.element)" }.joined(separator: ", ")
        return "SELECT \(unsafeRaw: fields) FROM jsonb_each(\(bind: json))"
    }
}

extension SQLDatabase {
    /// `INSERT INTO table (columns) SELECT … FROM jsonb_each(rows)`.
    func insert(into table: String, rows: JSONRows) async throws {
        guard !rows.isEmpty else { return }
        var query: SQLQueryString = "INSERT INTO \(ident: table) (\(unsafeRaw: rows.columns.joined(separator: ", "))) "
        query += rows.asTable
        try await raw(query).run()
    }
}
