import Foundation
import Logging
@testable import RollcallController
import SQLKit
import Testing

@Suite("Writing many rows through one JSON bind")
struct JSONRowsTests {
    /// A real SQLite store in a temporary directory, removed afterwards.
    func withStore(_ body: (ControllerStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-json-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await ControllerStore.open(path: directory.appendingPathComponent("store.sqlite").path, logger: Logger(label: "test"))
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    struct Row: Codable, Equatable {
        var name: String?
        var number: Int64?
    }

    @Test("text with quotes, backslashes, control characters and non-ASCII letters, integers and NULLs come back as written")
    func roundTrip() async throws {
        let written: [Row] = [
            Row(name: #"Jean "JJ" Smith"#, number: 0),
            Row(name: #"C:\Users\pupil\"#, number: -1),
            Row(name: "tab\there, newline\nthere, bell\u{7}", number: Int64.max),
            Row(name: "Siobhán Ó Briain, Zoë, 李雷, 🙂", number: Int64.min),
            Row(name: nil, number: nil),
            Row(name: "", number: 42),
        ]
        try await withStore { store in
            let read = try await store.withConnection { db in
                try await db.raw("CREATE TEMP TABLE sample (position INTEGER, name TEXT, number INTEGER)").run()
                var rows = JSONRows(columns: ["position", "name", "number"])
                for (position, row) in written.enumerated() {
                    rows.append([.integer(Int64(position)), row.name.map { .text($0) } ?? .null, row.number.map { .integer($0) } ?? .null])
                }
                try await db.insert(into: "sample", rows: rows)
                return try await db.raw("SELECT name, number, typeof(number) AS type FROM sample ORDER BY position").all()
            }
            #expect(try read.map { try $0.decode(model: Row.self) } == written)
            #expect(try read.map { try $0.decode(column: "type", as: String.self) } == ["integer", "integer", "integer", "integer", "null", "integer"])
        }
    }
}
