public import Foundation
public import RollcallProtocol
import SQLKit

extension ControllerStore {
    /// Join keys and lower-cased emails of everyone imported, to resolve who an item is issued to.
    func peopleKeys() async throws -> (byKey: [String: String], byEmail: [String: String]) {
        try await withConnection { db in
            var byKey: [String: String] = [:]
            var byEmail: [String: String] = [:]
            for row in try await db.raw("SELECT join_key, email FROM people").all() {
                let key = try row.decode(column: "join_key", as: String.self)
                byKey[key] = key
                if let email = try row.decode(column: "email", as: String?.self) { byEmail[email.lowercased()] = key }
            }
            return (byKey, byEmail)
        }
    }

    struct EquipmentImportCounts: Sendable {
        var added = 0
        var changed = 0
        var unchanged = 0
        var notInFile = 0
    }

    /// Writes checked register rows in one transaction, one audit row per entry added or changed.
    func importEquipment(_ rows: [EquipmentImport.Row], file: String, at: Date) async throws -> EquipmentImportCounts {
        let actor = AuditLog.actor
        return try await transaction { db in
            var existing: [String: EquipmentRow] = [:]
            for row in try await db.select().column(SQLLiteral.all).from("equipment").all(decoding: EquipmentRow.self) {
                existing[row.asset_tag.uppercased()] = row
            }
            var problems = ImportProblems()
            for row in rows {
                guard let key = SerialNumber.key(row.serial) else { continue }
                if let holder = existing.values.first(where: { $0.serial_key == key && $0.asset_tag.uppercased() != row.assetTag.uppercased() }),
                   !rows.contains(where: { $0.assetTag.uppercased() == holder.asset_tag.uppercased() }) {
                    problems.add(row.line, 1, "serial \(row.serial ?? key) is already on the register as asset \(holder.asset_tag)")
                }
            }
            if problems.count > 0 { throw ImportError.rows(file: file, problems: problems.sorted, total: problems.count) }
            var counts = EquipmentImportCounts()
            let milliseconds = at.millisecondsSince1970
            // Serials move between tags within one file (a corrected register): clear them first so the unique index
            // sees only the final state.
            for row in rows { try await db.update("equipment").set("serial_key", to: SQLLiteral.null).where("asset_tag", .equal, existing[row.assetTag.uppercased()]?.asset_tag ?? row.assetTag).run() }
            for row in rows {
                let old = existing[row.assetTag.uppercased()]
                var new = EquipmentRow(asset_tag: old?.asset_tag ?? row.assetTag, serial: row.serial, serial_key: SerialNumber.key(row.serial),
                                       make: row.make, model: row.model, type: row.type, purchase_date: row.purchaseDate?.iso,
                                       cost_pence: row.costPence, location: row.location, assigned_to: row.assignedTo,
                                       state: old?.state ?? EquipmentEntry.State.active.rawValue, created_at: old?.created_at ?? milliseconds,
                                       updated_at: milliseconds)
                if let old {
                    new.carryLifecycle(from: old)
                    let changes = old.differences(to: new)
                    if changes.isEmpty {
                        counts.unchanged += 1
                        try await db.update("equipment").set("serial_key", to: SQLBind(new.serial_key)).where("asset_tag", .equal, new.asset_tag).run()
                        continue
                    }
                    try await db.update("equipment").set(model: new).where("asset_tag", .equal, new.asset_tag).run()
                    try await AuditLog.append(db, actor: actor, action: "equipment.update", target: new.asset_tag,
                                              detail: "from \(file): " + changes.joined(separator: "; "))
                    counts.changed += 1
                } else {
                    try await db.insert(into: "equipment").model(new).run()
                    try await AuditLog.append(db, actor: actor, action: "equipment.add", target: new.asset_tag,
                                              detail: "from \(file): serial \(new.serial ?? "-"), \([new.make, new.model].compactMap { $0 }.joined(separator: " "))"
                                                  + (new.assigned_to.map { ", issued to \($0)" } ?? ""))
                    counts.added += 1
                }
            }
            let inFile = Set(rows.map { $0.assetTag.uppercased() })
            counts.notInFile = existing.keys.filter { !inFile.contains($0) }.count
            return counts
        }
    }

    /// The register with each entry's matched device and lifecycle stage, by asset tag.
    public func equipment(policy: EquipmentPolicy, now: Date = Date()) async throws -> [EquipmentEntry] {
        try await withConnection { db in
            let matches = try await Self.deviceMatches(db)
            let names = try await Self.personNames(db)
            let staleBefore = now.addingTimeInterval(-Double(policy.staleAfterDays) * 86_400)
            return try await db.select().column(SQLLiteral.all).from("equipment").orderBy("asset_tag").all(decoding: EquipmentRow.self).map { row in
                var entry = row.entry(device: row.serial_key.flatMap { matches[$0] }, staleBefore: staleBefore)
                entry.assignedName = entry.assignedTo.flatMap { names[$0] }
                return entry
            }
        }
    }

    /// Enrolled devices whose serials match no register entry: machines the bursar does not know about.
    public func unregisteredDevices() async throws -> [DeviceSummary] {
        let registered = try await withConnection { db in
            Set(try await db.raw("""
                SELECT DISTINCT ds.device_id FROM device_serials ds JOIN equipment e ON e.serial_key = ds.serial_key
                """).all(decodingColumn: "device_id", as: String.self))
        }
        return try await devices().filter { !registered.contains($0.id) && $0.revokedAt == nil && $0.lastReportID != nil }
    }

    /// Serial key → the device it belongs to, preferring a DMI product serial over a board's over a disk's.
    static func deviceMatches(_ db: any SQLDatabase) async throws -> [String: EquipmentEntry.MatchedDevice] {
        var matches: [String: EquipmentEntry.MatchedDevice] = [:]
        let rank = ["product": 0, "board": 1, "disk": 2]
        for row in try await db.raw("""
            SELECT ds.serial_key, ds.source, d.id, d.hostname, d.last_seen FROM device_serials ds JOIN devices d ON d.id = ds.device_id
            WHERE d.revoked_at IS NULL
            """).all() {
            let key = try row.decode(column: "serial_key", as: String.self)
            let source = try row.decode(column: "source", as: String.self)
            let match = EquipmentEntry.MatchedDevice(id: try row.decode(column: "id", as: String.self),
                                                     hostname: try row.decode(column: "hostname", as: String?.self), matchedBy: source,
                                                     lastSeen: Date(millisecondsSince1970: try row.decode(column: "last_seen", as: Int64.self)))
            if let held = matches[key], rank[held.matchedBy, default: 9] <= rank[source, default: 9] { continue }
            matches[key] = match
        }
        return matches
    }

    static func personNames(_ db: any SQLDatabase) async throws -> [String: String] {
        var names: [String: String] = [:]
        for row in try await db.raw("SELECT join_key, forename, surname FROM people").all() {
            names[try row.decode(column: "join_key", as: String.self)] =
                "\(try row.decode(column: "forename", as: String.self)) \(try row.decode(column: "surname", as: String.self))"
        }
        return names
    }

    /// Records that an item came back: it is no longer issued to anyone. A leaver with nothing else outstanding is
    /// then offboarded.
    public func returnEquipment(tag: String, note: String?, at: Date = Date()) async throws -> EquipmentChange {
        let actor = AuditLog.actor
        return try await transaction { db in
            let row = try await Self.equipmentRow(tag, db)
            guard row.state == EquipmentEntry.State.active.rawValue else { throw EquipmentError.notActive(tag: row.asset_tag, state: row.state) }
            guard let holder = row.assigned_to else { throw EquipmentError.notIssued(tag: row.asset_tag) }
            try await db.update("equipment").set("assigned_to", to: SQLLiteral.null).set("returned_at", to: SQLBind(at.millisecondsSince1970))
                .set("returned_from", to: SQLBind(holder)).set("updated_at", to: SQLBind(at.millisecondsSince1970))
                .where("asset_tag", .equal, row.asset_tag).run()
            try await AuditLog.append(db, actor: actor, action: "equipment.return", target: row.asset_tag,
                                      detail: "returned by \(holder)" + (note.map { ": \($0)" } ?? ""))
            let offboarded = try await Self.settleOffboarding(joinKeys: [holder], db, actor: actor)
            return EquipmentChange(tag: row.asset_tag, person: holder, personOffboarded: offboarded.contains(holder))
        }
    }

    /// Takes an item out of use (broken, replaced); it stays on the register until disposed of.
    public func retireEquipment(tag: String, reason: String, at: Date = Date()) async throws -> EquipmentChange {
        let actor = AuditLog.actor
        return try await transaction { db in
            let row = try await Self.equipmentRow(tag, db)
            guard row.state == EquipmentEntry.State.active.rawValue else { throw EquipmentError.notActive(tag: row.asset_tag, state: row.state) }
            if let holder = row.assigned_to { throw EquipmentError.stillIssued(tag: row.asset_tag, to: holder) }
            try await db.update("equipment").set("state", to: SQLBind(EquipmentEntry.State.retired.rawValue))
                .set("retired_at", to: SQLBind(at.millisecondsSince1970)).set("retired_reason", to: SQLBind(reason))
                .set("updated_at", to: SQLBind(at.millisecondsSince1970)).where("asset_tag", .equal, row.asset_tag).run()
            try await AuditLog.append(db, actor: actor, action: "equipment.retire", target: row.asset_tag, detail: reason)
            return EquipmentChange(tag: row.asset_tag, person: nil, personOffboarded: false)
        }
    }

    /// Records the disposal the policy asks for; only a retired item can be disposed of.
    public func disposeEquipment(tag: String, disposal: EquipmentEntry.Disposal) async throws -> EquipmentChange {
        let actor = AuditLog.actor
        return try await transaction { db in
            let row = try await Self.equipmentRow(tag, db)
            guard row.state == EquipmentEntry.State.retired.rawValue else {
                throw row.state == EquipmentEntry.State.disposed.rawValue ? EquipmentError.notActive(tag: row.asset_tag, state: row.state)
                    : EquipmentError.notRetired(tag: row.asset_tag)
            }
            let at = disposal.at.millisecondsSince1970
            try await db.update("equipment").set("state", to: SQLBind(EquipmentEntry.State.disposed.rawValue))
                .set("disposed_at", to: SQLBind(at)).set("disposal_agency", to: SQLBind(disposal.agency))
                .set("disposal_receipt", to: SQLBind(disposal.receipt)).set("destruction_method", to: SQLBind(disposal.destructionMethod))
                .set("destruction_date", to: SQLBind(disposal.destructionDate.iso)).set("updated_at", to: SQLBind(at))
                .where("asset_tag", .equal, row.asset_tag).run()
            try await AuditLog.append(db, actor: actor, action: "equipment.dispose", target: row.asset_tag,
                                      detail: "by \(disposal.agency), receipt \(disposal.receipt); data destroyed \(disposal.destructionDate.uk) by \(disposal.destructionMethod)")
            return EquipmentChange(tag: row.asset_tag, person: nil, personOffboarded: false)
        }
    }

    static func equipmentRow(_ tag: String, _ db: any SQLDatabase) async throws -> EquipmentRow {
        guard let row = try await db.raw("SELECT * FROM equipment WHERE upper(asset_tag) = \(bind: tag.uppercased())").first(decoding: EquipmentRow.self) else {
            throw EquipmentError.unknownTag(tag)
        }
        return row
    }

    /// Replaces a device's reported serials (inside the report's transaction).
    static func recordSerials(of report: InventoryReportSerials, deviceID: String, _ db: any SQLDatabase) async throws {
        try await db.delete(from: "device_serials").where("device_id", .equal, deviceID).run()
        for (source, serial) in report.serials {
            guard let key = SerialNumber.key(serial) else { continue }
            try await db.insert(into: "device_serials").columns("device_id", "source", "serial_key")
                .values(SQLBind(deviceID), SQLBind(source), SQLBind(key)).run()
        }
    }
}

/// The serials of a report worth matching, in order of trust.
struct InventoryReportSerials {
    var serials: [(source: String, serial: String?)]
}

public struct EquipmentChange: Sendable, Equatable {
    public var tag: String
    public var person: String?
    /// The return was the last thing a leaver owed.
    public var personOffboarded: Bool
}

public enum EquipmentError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownTag(String)
    case notActive(tag: String, state: String)
    case notIssued(tag: String)
    case stillIssued(tag: String, to: String)
    case notRetired(tag: String)

    public var description: String {
        switch self {
        case .unknownTag(let tag): "no asset \(tag) on the register; `rollcall equipment list` shows them"
        case .notActive(let tag, let state): "asset \(tag) is \(state): nothing to do"
        case .notIssued(let tag): "asset \(tag) is not issued to anyone, so it cannot be returned"
        case .stillIssued(let tag, let holder): "asset \(tag) is still issued to \(holder): record its return first (`rollcall equipment return \(tag)`)"
        case .notRetired(let tag): "asset \(tag) is in use: retire it first (`rollcall equipment retire \(tag) --reason ...`), then dispose of it"
        }
    }
}

/// The `equipment` row; column names are the SQL names.
struct EquipmentRow: Codable, Sendable {
    var asset_tag: String
    var serial: String?
    var serial_key: String?
    var make: String?
    var model: String?
    var type: String?
    var purchase_date: String?
    var cost_pence: Int64?
    var location: String?
    var assigned_to: String?
    var state: String
    var retired_at: Int64?
    var retired_reason: String?
    var disposed_at: Int64?
    var disposal_agency: String?
    var disposal_receipt: String?
    var destruction_method: String?
    var destruction_date: String?
    var returned_at: Int64?
    var returned_from: String?
    var created_at: Int64
    var updated_at: Int64

    init(asset_tag: String, serial: String?, serial_key: String?, make: String?, model: String?, type: String?, purchase_date: String?,
         cost_pence: Int64?, location: String?, assigned_to: String?, state: String, created_at: Int64, updated_at: Int64) {
        self.asset_tag = asset_tag
        self.serial = serial
        self.serial_key = serial_key
        self.make = make
        self.model = model
        self.type = type
        self.purchase_date = purchase_date
        self.cost_pence = cost_pence
        self.location = location
        self.assigned_to = assigned_to
        self.state = state
        self.created_at = created_at
        self.updated_at = updated_at
    }

    /// Keeps what the register file does not carry: retirement, disposal and the last return.
    mutating func carryLifecycle(from old: EquipmentRow) {
        retired_at = old.retired_at
        retired_reason = old.retired_reason
        disposed_at = old.disposed_at
        disposal_agency = old.disposal_agency
        disposal_receipt = old.disposal_receipt
        destruction_method = old.destruction_method
        destruction_date = old.destruction_date
        returned_at = old.returned_at
        returned_from = old.returned_from
    }

    /// What the register file changed, in words for the audit log.
    func differences(to new: EquipmentRow) -> [String] {
        let pairs: [(String, String?, String?)] = [
            ("serial", serial, new.serial), ("make", make, new.make), ("model", model, new.model), ("type", type, new.type),
            ("purchase date", purchase_date, new.purchase_date), ("cost (pence)", cost_pence.map(String.init), new.cost_pence.map(String.init)),
            ("location", location, new.location), ("issued to", assigned_to, new.assigned_to),
        ]
        return pairs.filter { $0.1 != $0.2 }.map { "\($0.0): \($0.1 ?? "-") -> \($0.2 ?? "-")" }
    }

    func entry(device: EquipmentEntry.MatchedDevice?, staleBefore: Date) -> EquipmentEntry {
        let state = EquipmentEntry.State(rawValue: state) ?? .active
        let lifecycle: EquipmentEntry.Lifecycle = switch state {
        case .disposed: .disposed
        case .retired: .retired
        case .active: device.map { $0.lastSeen < staleBefore ? .stale : .inUse } ?? .enrolled
        }
        var disposal: EquipmentEntry.Disposal?
        if let disposed_at, let disposal_agency, let disposal_receipt, let destruction_method, let date = destruction_date.flatMap(Day.init(iso:)) {
            disposal = .init(at: Date(millisecondsSince1970: disposed_at), agency: disposal_agency, receipt: disposal_receipt,
                             destructionMethod: destruction_method, destructionDate: date)
        }
        return EquipmentEntry(assetTag: asset_tag, serial: serial, make: make, model: model, type: type,
                              purchaseDate: purchase_date.flatMap(Day.init(iso:)), costPence: cost_pence, location: location,
                              assignedTo: assigned_to, assignedName: nil, state: state, retiredAt: retired_at.map(Date.init(millisecondsSince1970:)),
                              retiredReason: retired_reason, disposal: disposal, returnedAt: returned_at.map(Date.init(millisecondsSince1970:)),
                              returnedFrom: returned_from, device: device, lifecycle: lifecycle)
    }
}
