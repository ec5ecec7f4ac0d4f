import Foundation
import RollcallProtocol
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
    /// each title once, not against every installation. Read from `package_catalogue`, which the store's triggers
    /// keep counted as packages are written; a device has one version of a title at a time, so the versions' device
    /// counts add up to the title's.
    func packageTitles() async throws -> [PackageTitle] {
        try await withConnection { db in
            try await db.raw("""
                SELECT source, name, max(section) AS section, max(maintainer) AS maintainer,
                       sum(devices) AS devices, min(version) AS low, max(version) AS high
                FROM package_catalogue GROUP BY source, name
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

    // MARK: Licence matches

    /// Each product's rule, compiled, in register order (the first purchase of a product speaks for it). A rule that
    /// no longer compiles (a newer, stricter parser) matches nothing, visibly: its product shows no installations.
    static func licenceRules(_ db: any SQLDatabase) async throws -> [(productKey: String, rule: LicenceRule)] {
        var rules: [(productKey: String, rule: LicenceRule)] = []
        var seen = Set<String>()
        for row in try await db.select().column(SQLLiteral.all).from("licences").orderBy("product").orderBy("line").all(decoding: LicenceRow.self) {
            let licence = row.licence
            guard seen.insert(licence.productKey).inserted, let rule = try? LicenceRule(match: licence.match, versions: licence.versions) else { continue }
            rules.append((licence.productKey, rule))
        }
        return rules
    }

    /// `dpkg google-chrome-stable 131.0.6778.85-1`: a matched package as the reconciliation lists it.
    static func packageLine(source: String, name: String, version: String) -> String { "\(source) \(name) \(version)" }

    /// Re-matches one device's installed packages after its report replaced them, when the stored matches are
    /// current (otherwise the next ``refreshLicenceMatches()`` matches every device anyway).
    static func matchLicences(deviceID: String, packages: [SoftwarePackage], _ db: any SQLDatabase) async throws {
        let revisions = try await db.raw("SELECT name, revision FROM store_revisions WHERE name IN ('licences', 'licence_matches')").all()
        var revision: [String: Int64] = [:]
        for row in revisions { revision[try row.decode(column: "name", as: String.self)] = try row.decode(column: "revision", as: Int64.self) }
        guard let current = revision["licences"], revision["licence_matches"] == current else { return }
        try await db.delete(from: "licence_matches").where("device_id", .equal, deviceID).run()
        let rules = try await licenceRules(db)
        guard !rules.isEmpty else { return }
        for (productKey, rule) in rules {
            let lines = packages.filter { $0.state == .installed && rule.matches(source: $0.source.rawValue, name: $0.name, version: $0.version) }
                .map { packageLine(source: $0.source.rawValue, name: $0.name, version: $0.version) }.sorted()
            guard !lines.isEmpty else { continue }
            try await db.insert(into: "licence_matches").columns("product_key", "device_id", "packages")
                .values(SQLBind(productKey), SQLBind(deviceID), SQLBind(lines.joined(separator: "\n"))).run()
        }
    }

    /// Matches every device's packages against the register when the register has changed since the last match
    /// (an import, or a store upgraded to keep matches): rules are tried once per package title in the catalogue,
    /// then against the installations of the titles they name.
    func refreshLicenceMatches() async throws {
        let stale = try await withConnection { db in
            try await db.raw("""
                SELECT l.revision <> m.revision AS stale FROM store_revisions l JOIN store_revisions m ON m.name = 'licence_matches' WHERE l.name = 'licences'
                """).first(decodingColumn: "stale", as: Bool.self) ?? false
        }
        guard stale else { return }
        try await transaction { db in
            try await db.delete(from: "licence_matches").run()
            let rules = try await Self.licenceRules(db)
            if !rules.isEmpty {
                let titles = try await db.select().column("source").column("name").from("package_catalogue").groupBy("source").groupBy("name").all()
                    .map { PackageTitle.Key(source: try $0.decode(column: "source", as: String.self), name: try $0.decode(column: "name", as: String.self)) }
                for (productKey, rule) in rules {
                    let named = Set(titles.filter { rule.matches(source: $0.source, name: $0.name, version: nil) })
                    var matched: [String: [String]] = [:]
                    for installation in try await Self.installations(of: named, db)
                    where rule.matches(source: installation.source, name: installation.name, version: installation.version) {
                        matched[installation.deviceID, default: []].append(
                            Self.packageLine(source: installation.source, name: installation.name, version: installation.version))
                    }
                    var rows = JSONRows(columns: ["product_key", "device_id", "packages"])
                    for (device, lines) in matched { rows.append([.text(productKey), .text(device), .text(lines.sorted().joined(separator: "\n"))]) }
                    try await db.insert(into: "licence_matches", rows: rows)
                }
            }
            try await db.raw("""
                UPDATE store_revisions SET revision = (SELECT revision FROM store_revisions WHERE name = 'licences') WHERE name = 'licence_matches'
                """).run()
        }
    }

    /// Every matched installation on an enrolled device, with the device and the person the register issues it to.
    func licenceMatches() async throws -> [(productKey: String, machine: LicenceReconciliation.Machine)] {
        try await withConnection { db in
            let holders = try await Self.deviceHolders(db)
            return try await db.raw("""
                SELECT m.product_key, m.device_id, m.packages, d.hostname, d.last_seen FROM licence_matches m JOIN devices d ON d.id = m.device_id
                WHERE d.revoked_at IS NULL
                """).all().map { row in
                let device = try row.decode(column: "device_id", as: String.self)
                return (try row.decode(column: "product_key", as: String.self),
                        LicenceReconciliation.Machine(deviceID: device, hostname: try row.decode(column: "hostname", as: String?.self),
                                                      lastSeen: Date(millisecondsSince1970: try row.decode(column: "last_seen", as: Int64.self)),
                                                      packages: try row.decode(column: "packages", as: String.self).split(separator: "\n").map(String.init),
                                                      holder: holders[device]))
            }
        }
    }

    /// Per product: the enrolled devices it is installed on, and for `perUser` products the people those are issued
    /// to (a device issued to nobody counting as its own user) and the devices issued to nobody, counted by the store.
    func licenceMatchCounts(perUser: Set<String>) async throws -> [String: (devices: Int, users: Int, unassigned: Int)] {
        try await withConnection { db in
            let enrolled = "m.device_id NOT IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL)"
            var counts: [String: (devices: Int, users: Int, unassigned: Int)] = [:]
            for row in try await db.raw("SELECT m.product_key, count(*) AS n FROM licence_matches m WHERE \(unsafeRaw: enrolled) GROUP BY 1").all() {
                let devices = try row.decode(column: "n", as: Int.self)
                counts[try row.decode(column: "product_key", as: String.self)] = (devices, devices, 0)
            }
            guard !perUser.isEmpty else { return counts }
            for row in try await db.raw("""
                SELECT product_key, count(DISTINCT coalesce('person ' || holder, 'device ' || device_id)) AS users, sum(holder IS NULL) AS unassigned
                FROM (SELECT m.product_key, m.device_id, \(unsafeRaw: Self.holder(of: "m.device_id")) AS holder
                      FROM licence_matches m WHERE m.product_key IN (\(binds: perUser.sorted())) AND \(unsafeRaw: enrolled))
                GROUP BY product_key
                """).all() {
                let key = try row.decode(column: "product_key", as: String.self)
                counts[key]?.users = try row.decode(column: "users", as: Int.self)
                counts[key]?.unassigned = try row.decode(column: "unassigned", as: Int.self)
            }
            return counts
        }
    }

    /// The installations of the named titles on enrolled devices.
    static func installations(of titles: Set<PackageTitle.Key>, _ db: any SQLDatabase) async throws -> [Installation] {
        guard !titles.isEmpty else { return [] }
        do {
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

    /// The person the equipment register issues the device `column` names to, as SQL: matched by any serial the
    /// device reported, and of two holders the first by name.
    static func holder(of column: String) -> String {
        """
        (SELECT min(e.assigned_to) FROM device_serials ds JOIN equipment e ON e.serial_key = ds.serial_key
         WHERE ds.device_id = \(column) AND e.assigned_to IS NOT NULL AND e.state = 'active')
        """
    }

    /// Who each device is issued to in the equipment register.
    static func deviceHolders(_ db: any SQLDatabase) async throws -> [String: String] {
        var holders: [String: String] = [:]
        for row in try await db.raw("""
            SELECT device_id, holder FROM (SELECT DISTINCT s.device_id, \(unsafeRaw: holder(of: "s.device_id")) AS holder FROM device_serials s)
            WHERE holder IS NOT NULL
            """).all() {
            holders[try row.decode(column: "device_id", as: String.self)] = try row.decode(column: "holder", as: String.self)
        }
        return holders
    }
}
