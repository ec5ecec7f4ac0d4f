import Foundation
import SQLKit

struct LicenceRow: Codable {
    var id: Int?
    var product: String
    var vendor: String?
    var kind: String
    var seats: Int?
    var expires_on: String?
    var reference: String?
    var match: String
    var versions: String?
    var notes: String?
    var line: Int
    var file: String
    var imported_at: Int64

    init(_ licence: Licence, file: String, at: Date) {
        product = licence.product
        vendor = licence.vendor
        kind = licence.kind.rawValue
        seats = licence.seats
        expires_on = licence.expires?.iso
        reference = licence.reference
        match = licence.match
        versions = licence.versions
        notes = licence.notes
        line = licence.line
        self.file = file
        imported_at = at.millisecondsSince1970
    }

    var licence: Licence {
        Licence(product: product, vendor: vendor, kind: LicenceKind(rawValue: kind) ?? .perDevice, seats: seats,
                expires: expires_on.flatMap(Day.init(iso:)), reference: reference, match: match, versions: versions, notes: notes, line: line)
    }

    var key: String { Licence.purchaseKey(product: product, reference: reference) }

    /// `Zoom Education (ZM-2026)`: the purchase as the audit log names it.
    var label: String { product + (reference.map { " (\($0))" } ?? "") }

    /// What the technician would want to see changed in the audit log.
    func differences(to new: LicenceRow) -> [String] {
        var changes: [String] = []
        func note(_ name: String, _ old: String?, _ new: String?) {
            if old != new { changes.append("\(name) \(old ?? "-") → \(new ?? "-")") }
        }
        note("vendor", vendor, new.vendor)
        note("type", kind, new.kind)
        note("seats", seats.map(String.init), new.seats.map(String.init))
        note("expiry", expires_on, new.expires_on)
        note("match", match, new.match)
        note("versions", versions, new.versions)
        note("notes", notes, new.notes)
        return changes
    }
}

/// One installation a licence rule may cover, on a device that is still enrolled.
struct Installation: Sendable {
    var deviceID: String
    var hostname: String?
    var lastSeen: Date
    var source: String
    var name: String
    var version: String
}

/// A package title across the estate, for spotting unlicensed commercial software.
struct PackageTitle: Sendable {
    /// A package as the estate names it: a dpkg, snap or flatpak name.
    struct Key: Sendable, Hashable {
        var source: String
        var name: String
    }

    var key: Key
    var section: String?
    var maintainer: String?
    var devices: Int
    var lowestVersion: String
    var highestVersion: String
}

extension ControllerStore {
    struct LicenceImportCounts { var added = 0, changed = 0, unchanged = 0, removed = 0 }

    /// Makes the register exactly `licences`, in one transaction, one audit row per licence added, changed or removed.
    func replaceLicences(_ licences: [Licence], file: String, at: Date, dryRun: Bool) async throws -> LicenceImportCounts {
        let actor = AuditLog.actor
        return try await transaction { db in
            var existing: [String: LicenceRow] = [:]
            for row in try await db.select().column(SQLLiteral.all).from("licences").all(decoding: LicenceRow.self) { existing[row.key] = row }
            var counts = LicenceImportCounts()
            var kept = Set<String>()
            for licence in licences {
                let new = LicenceRow(licence, file: file, at: at)
                kept.insert(new.key)
                if let old = existing[new.key], let id = old.id {
                    let changes = old.differences(to: new)
                    if changes.isEmpty {
                        counts.unchanged += 1
                    } else {
                        counts.changed += 1
                    }
                    if dryRun { continue }
                    var updated = new
                    updated.id = id
                    try await db.update("licences").set(model: updated).where("id", .equal, id).run()
                    if !changes.isEmpty {
                        try await AuditLog.append(db, actor: actor, action: "licence.update", target: new.label,
                                                  detail: "from \(file): " + changes.joined(separator: "; "))
                    }
                } else {
                    counts.added += 1
                    if dryRun { continue }
                    try await db.insert(into: "licences").model(new).run()
                    try await AuditLog.append(db, actor: actor, action: "licence.add", target: new.label,
                                              detail: "from \(file): \(licence.kind.rawValue), \(licence.seats.map { "\($0) seat(s)" } ?? "unlimited")"
                                                  + (licence.expires.map { ", expires \($0.iso)" } ?? "") + ", matches \(licence.match)")
                }
            }
            for (key, old) in existing where !kept.contains(key) {
                counts.removed += 1
                if dryRun { continue }
                try await db.delete(from: "licences").where("id", .equal, old.id).run()
                try await AuditLog.append(db, actor: actor, action: "licence.remove", target: old.label,
                                          detail: "not in \(file)")
            }
            return counts
        }
    }

    /// The register as imported, by product then by its line in the file, so purchases of one product sit together.
    public func licences() async throws -> [Licence] {
        try await withConnection { db in
            try await db.select().column(SQLLiteral.all).from("licences").orderBy("product").orderBy("line")
                .all(decoding: LicenceRow.self).map(\.licence)
        }
    }

    /// Every installed package title on enrolled devices, with how many devices have it: a rule is tried against
    /// each title once, not against every installation.
    func packageTitles() async throws -> [PackageTitle] {
        try await withConnection { db in
            try await db.raw("""
                SELECT p.source, p.name, max(p.section) AS section, max(p.maintainer) AS maintainer,
                       count(DISTINCT p.device_id) AS devices, min(p.version) AS low, max(p.version) AS high
                FROM device_packages p JOIN devices d ON d.id = p.device_id
                WHERE p.state = 'installed' AND d.revoked_at IS NULL
                GROUP BY p.source, p.name
                """).all().map { row in
                PackageTitle(key: PackageTitle.Key(source: try row.decode(column: "source", as: String.self),
                                                   name: try row.decode(column: "name", as: String.self)),
                             section: try row.decode(column: "section", as: String?.self),
                             maintainer: try row.decode(column: "maintainer", as: String?.self),
                             devices: try row.decode(column: "devices", as: Int.self),
                             lowestVersion: try row.decode(column: "low", as: String.self),
                             highestVersion: try row.decode(column: "high", as: String.self))
            }
        }
    }

    /// The installations of the named titles on enrolled devices.
    func installations(of titles: Set<PackageTitle.Key>) async throws -> [Installation] {
        guard !titles.isEmpty else { return [] }
        return try await withConnection { db in
            var found: [Installation] = []
            for chunk in Array(Set(titles.map(\.name))).sorted().chunked(into: 500) {
                let rows = try await db.select()
                    .column(SQLColumn("device_id", table: "p")).column(SQLColumn("source", table: "p")).column(SQLColumn("name", table: "p"))
                    .column(SQLColumn("version", table: "p")).column(SQLColumn("hostname", table: "d")).column(SQLColumn("last_seen", table: "d"))
                    .from(SQLAlias(SQLIdentifier("device_packages"), as: SQLIdentifier("p")))
                    .join(SQLAlias(SQLIdentifier("devices"), as: SQLIdentifier("d")), on: SQLColumn("id", table: "d"), .equal, SQLColumn("device_id", table: "p"))
                    .where(SQLColumn("state", table: "p"), .equal, SQLBind("installed"))
                    .where(SQLColumn("revoked_at", table: "d"), .is, SQLLiteral.null)
                    .where(SQLColumn("name", table: "p"), .in, SQLGroupExpression(SQLList(chunk.map { SQLBind($0) })))
                    .all()
                for row in rows {
                    let source = try row.decode(column: "source", as: String.self)
                    let name = try row.decode(column: "name", as: String.self)
                    guard titles.contains(PackageTitle.Key(source: source, name: name)) else { continue }
                    found.append(Installation(deviceID: try row.decode(column: "device_id", as: String.self),
                                              hostname: try row.decode(column: "hostname", as: String?.self),
                                              lastSeen: Date(millisecondsSince1970: try row.decode(column: "last_seen", as: Int64.self)),
                                              source: source, name: name, version: try row.decode(column: "version", as: String.self)))
                }
            }
            return found
        }
    }

    /// Enrolled devices that have sent at least one report.
    func reportingDeviceCount() async throws -> Int {
        try await withConnection { db in
            try await db.raw("SELECT count(*) AS n FROM devices WHERE revoked_at IS NULL AND last_report_id <> ''")
                .first(decodingColumn: "n", as: Int.self) ?? 0
        }
    }

    /// Who each device is issued to in the equipment register (matched by any serial the device reported).
    func deviceHolders() async throws -> [String: String] {
        try await withConnection { db in
            var holders: [String: String] = [:]
            for row in try await db.raw("""
                SELECT DISTINCT ds.device_id, e.assigned_to FROM device_serials ds JOIN equipment e ON e.serial_key = ds.serial_key
                WHERE e.assigned_to IS NOT NULL AND e.state = 'active'
                """).all() {
                holders[try row.decode(column: "device_id", as: String.self)] = try row.decode(column: "assigned_to", as: String.self)
            }
            return holders
        }
    }
}
