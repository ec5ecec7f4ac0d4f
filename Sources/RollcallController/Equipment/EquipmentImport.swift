public import Foundation
import SQLKit

/// The columns of the bursar's register, with the names spreadsheets give them.
enum EquipmentField: String, CaseIterable, ImportField {
    case assetTag = "asset_tag"
    case serial, make, model, type
    case purchaseDate = "purchase_date"
    case cost, location
    case assignedTo = "assigned_to"

    var required: Bool { self == .assetTag }

    var label: String {
        switch self {
        case .assetTag: "asset tag"
        case .purchaseDate: "purchase date"
        case .assignedTo: "assigned person"
        default: rawValue
        }
    }

    static let names: [EquipmentField: [String]] = [
        .assetTag: ["Asset Tag", "Asset No", "Asset Number", "Asset ID", "Asset", "Tag"],
        .serial: ["Serial Number", "Serial", "Serial No", "S/N", "SN"],
        .make: ["Make", "Manufacturer", "Brand", "Vendor"],
        .model: ["Model", "Model Name", "Description"],
        .type: ["Type", "Category", "Device Type", "Equipment Type", "Item"],
        .purchaseDate: ["Purchase Date", "Date Purchased", "Date of Purchase", "Purchased"],
        .cost: ["Cost", "Purchase Price", "Price", "Cost (£)", "Value"],
        .location: ["Location", "Room", "Site"],
        .assignedTo: ["Assigned To", "Issued To", "Assigned", "Holder", "User", "Staff"],
    ]
}

/// `rollcall equipment import FILE`: adds and updates register entries by asset tag, all or nothing.
///
/// The person an item is issued to is named by their join key (payroll number, UPN) or the email the HR export
/// gave them — never by a display name, which two people can share. An entry in the store that the file does not
/// list is left as it is (registers are often kept per site); the summary says how many there are.
public struct EquipmentImport: Sendable {
    public var path: String
    public var encoding: TextEncoding?
    public var now: Date

    public init(path: String, encoding: TextEncoding? = nil, now: Date = Date()) {
        self.path = path
        self.encoding = encoding
        self.now = now
    }

    public struct Summary: Sendable, Codable, Equatable {
        public var rows: Int
        public var added: Int
        public var changed: Int
        public var unchanged: Int
        /// In the store, not in this file: kept as they were.
        public var notInFile: Int
        public var encoding: TextEncoding
    }

    struct Row: Equatable {
        var assetTag: String
        var serial: String?
        var make: String?
        var model: String?
        var type: String?
        var purchaseDate: Day?
        var costPence: Int64?
        var location: String?
        var assignedTo: String?
        var line: Int
    }

    public func run(into store: ControllerStore) async throws -> Summary {
        let (records, chosen) = try CSVReader.registerRecords(path, forced: encoding, what: "equipment")
        let header = try ImportHeader<EquipmentField>.resolve(records[0], names: EquipmentField.names,
                                                              missing: { _ in "rename the column to 'Asset Tag'" }, file: path)

        let people = try await store.peopleKeys()
        var problems = ImportProblems()
        var rows: [Row] = []
        var tags: [String: Int] = [:]
        var serials: [String: (line: Int, tag: String)] = [:]
        let today = Day(now)
        for record in records.dropFirst() {
            var row = ImportRow(record, header: header, problem: { problems.add($0, $1, $2) })
            guard let tag = row.required(.assetTag), let tagField = row.field(.assetTag) else { continue }
            if let first = tags[tag.uppercased()] {
                row.fail(tagField, "asset tag \(tag) is in the file twice (first on line \(first))")
            }
            tags[tag.uppercased()] = record.line
            let serial = row.text(.serial)
            if let serial, let key = SerialNumber.key(serial), let place = row.field(.serial) {
                if let first = serials[key] {
                    row.fail(place, "serial \(serial) is on line \(first.line) too (asset \(first.tag)): one serial, one machine")
                }
                serials[key] = (record.line, tag)
            }
            var cost: Int64?
            if let text = row.text(.cost), let place = row.field(.cost) {
                cost = Self.pence(text)
                if cost == nil { row.fail(place, "'\(text)' is not an amount (e.g. 649.99 or £1,249.00)") }
            }
            var assigned: String?
            if let who = row.text(.assignedTo), let place = row.field(.assignedTo) {
                assigned = people.byKey[who] ?? people.byEmail[who.lowercased()]
                if assigned == nil {
                    row.fail(place, people.byKey.isEmpty
                        ? "'\(who)' names nobody: no HR export has been imported yet (`rollcall hr import` first)"
                        : "'\(who)' is neither a join key (payroll number, UPN) nor an email of anyone in the HR import")
                }
            }
            let entry = Row(assetTag: tag, serial: serial, make: row.text(.make), model: row.text(.model), type: row.text(.type),
                            purchaseDate: row.date(.purchaseDate, today: today), costPence: cost, location: row.text(.location),
                            assignedTo: assigned, line: record.line)
            if row.faults == 0 { rows.append(entry) }
        }
        if problems.count > 0 { throw ImportError.rows(file: path, problems: problems.sorted, total: problems.count) }
        let summary = try await store.importEquipment(rows, file: path, at: now)
        return Summary(rows: rows.count, added: summary.added, changed: summary.changed, unchanged: summary.unchanged,
                       notInFile: summary.notInFile, encoding: chosen)
    }

    /// `649.99`, `£1,249.00`, `1249` as pence.
    static func pence(_ text: String) -> Int64? {
        var body = text.trimmingCharacters(in: .whitespaces)
        if body.hasPrefix("£") { body.removeFirst() }
        body = body.replacingOccurrences(of: ",", with: "")
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let pounds = Int64(parts[0]), pounds >= 0, !parts[0].hasPrefix("+") else { return nil }
        var pence: Int64 = 0
        if parts.count == 2 {
            guard (1...2).contains(parts[1].count), parts[1].allSatisfy(\.isNumber), let value = Int64(parts[1]) else { return nil }
            pence = parts[1].count == 1 ? value * 10 : value
        }
        return pounds * 100 + pence
    }
}
