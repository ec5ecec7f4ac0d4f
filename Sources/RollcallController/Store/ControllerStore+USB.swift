import Crypto
public import Foundation
public import RollcallProtocol
import SQLKit

/// An approved model or stick (`rollcall media approve`).
public struct ApprovedMediaEntry: Codable, Sendable, Equatable {
    public var id: Int
    public var vendorID: String
    public var productID: String
    public var serial: String?
    public var description: String?
    public var approvedBy: String
    public var approvedAt: Date
    public var revokedAt: Date?

    var medium: ApprovedMedium { ApprovedMedium(vendorID: vendorID, productID: productID, serial: serial, description: description) }
}

/// A USB event as stored, with the device's name and the controller's verdict.
public struct USBEventRecord: Codable, Sendable, Equatable {
    public var id: String
    public var deviceID: String
    public var hostname: String?
    public var action: String
    public var occurredAt: Date
    /// When the controller stored it.
    public var receivedAt: Date
    public var vendorID: String
    public var productID: String
    public var vendor: String?
    public var model: String?
    public var serial: String?
    public var capacityBytes: Int64?
    /// Partitions (or the whole disk) with filesystem and label.
    public var volumes: [USBStorageEvent.Volume]
    public var port: String
    public var consoleUsers: [String]
    public var approved: Bool
    public var blocked: Bool
    public var blockError: String?
    public var incidentID: Int?

    /// `SanDisk Cruzer Blade (0781:5567)`.
    public var name: String {
        let label = [vendor, model].compactMap { $0 }.joined(separator: " ")
        return (label.isEmpty ? "" : label + " ") + "(\(vendorID):\(productID))"
    }
}

/// Why a media approval was refused.
public enum MediaError: Error, CustomStringConvertible, Equatable {
    case malformedID(String)
    case alreadyApproved(id: Int)
    case unknown(id: Int)

    public var description: String {
        switch self {
        case .malformedID(let text): "'\(text)' is not a USB id: give VENDOR:PRODUCT in hex, as lsusb shows it (for example 0781:5567)"
        case .alreadyApproved(let id): "already approved as entry \(id) (`rollcall media list`)"
        case .unknown(let id): "no approved media entry \(id) (`rollcall media list`)"
        }
    }
}

extension ControllerStore {
    // MARK: Posture

    /// Called from ``ingest(_:body:deviceID:receivedAt:)`` for the device's newest report.
    static func recordPosture(_ report: InventoryReport, deviceID: String, _ db: any SQLDatabase) async throws {
        guard let posture = report.posture else { return }
        let facts = String(decoding: try RollcallJSON.encoder().encode(posture), as: UTF8.self)
        try await db.raw("""
            INSERT INTO device_posture (device_id, collected_at, chassis_type, facts)
            VALUES (\(bind: deviceID), \(bind: report.collectedAt.millisecondsSince1970), \(bind: report.hardware.system.chassisType), \(bind: facts))
            ON CONFLICT (device_id) DO UPDATE SET collected_at = excluded.collected_at, chassis_type = excluded.chassis_type, facts = excluded.facts
            """).run()
    }

    /// Every device's verdicts under `policy`; a device without posture facts is judged unknown.
    public func postures(policy: PosturePolicy) async throws -> [String: DevicePosture] {
        let judge = PostureJudge(policy: policy)
        try await judgePostures(judge)
        return try await withConnection { db in
            var result: [String: DevicePosture] = [:]
            for row in try await db.raw("""
                SELECT d.id, p.collected_at, v.screen_lock, v.screen_lock_reason, v.encryption, v.encryption_reason
                FROM devices d LEFT JOIN device_posture p ON p.device_id = d.id LEFT JOIN posture_verdicts v ON v.device_id = d.id
                """).all() {
                let id = try row.decode(column: "id", as: String.self)
                guard let collected = try row.decode(column: "collected_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)) else {
                    result[id] = judge.judge(deviceID: id, facts: nil, chassisType: nil, collectedAt: nil)
                    continue
                }
                result[id] = DevicePosture(deviceID: id, screenLock: try Self.verdict(row, "screen_lock"),
                                           encryption: try Self.verdict(row, "encryption"), collectedAt: collected)
            }
            return result
        }
    }

    /// How many enrolled devices have each pair of verdicts under `policy` (no posture facts yet: unknown on both),
    /// counted by the store from its indexes: every verdict, less the revoked devices' few.
    func postureCounts(policy: PosturePolicy) async throws -> [(screenLock: Verdict.Status, encryption: Verdict.Status, devices: Int)] {
        try await judgePostures(PostureJudge(policy: policy))
        return try await withConnection { db in
            var counts: [String: (screenLock: Verdict.Status, encryption: Verdict.Status, devices: Int)] = [:]
            func add(_ rows: [any SQLRow], sign: Int) throws {
                for row in rows {
                    let lock = try row.decode(column: "screen_lock", as: String.self), encryption = try row.decode(column: "encryption", as: String.self)
                    counts["\(lock) \(encryption)", default: (Verdict.Status(rawValue: lock) ?? .unknown, Verdict.Status(rawValue: encryption) ?? .unknown, 0)]
                        .devices += sign * (try row.decode(column: "n", as: Int.self))
                }
            }
            try add(try await db.raw("SELECT screen_lock, encryption, count(*) AS n FROM posture_verdicts GROUP BY 1, 2").all(), sign: 1)
            try add(try await db.raw("""
                SELECT v.screen_lock, v.encryption, count(*) AS n FROM devices d JOIN posture_verdicts v ON v.device_id = d.id
                WHERE d.revoked_at IS NOT NULL GROUP BY 1, 2
                """).all(), sign: -1)
            let enrolled = try await db.raw("SELECT count(*) AS n FROM devices WHERE revoked_at IS NULL").first(decodingColumn: "n", as: Int.self) ?? 0
            let judged = counts.values.reduce(0) { $0 + $1.devices }
            if enrolled > judged { counts["unknown unknown", default: (.unknown, .unknown, 0)].devices += enrolled - judged }
            return counts.sorted { $0.key < $1.key }.map(\.value).filter { $0.devices > 0 }
        }
    }

    private static func verdict(_ row: any SQLRow, _ column: String) throws -> Verdict {
        // A verdict is stored in the same transaction as it is judged, so a device with facts always has one here.
        Verdict(Verdict.Status(rawValue: try row.decode(column: column, as: String?.self) ?? "") ?? .unknown,
                try row.decode(column: column + "_reason", as: String?.self) ?? "not judged yet")
    }

    /// Judges the facts with no stored verdict (new facts clear it) or one judged under another policy, and stores
    /// the verdicts: after new facts or a policy change each device is judged once, not on every look.
    private func judgePostures(_ judge: PostureJudge) async throws {
        let key = judge.key
        let unjudged = """
            SELECT p.device_id, p.chassis_type, p.facts FROM device_posture p LEFT JOIN posture_verdicts v ON v.device_id = p.device_id
            WHERE v.device_id IS NULL OR v.judged_under <> 
            """
        // Verdicts exist only for stored facts (new facts delete theirs), so all are judged when the counts agree;
        // both come from indexes, not from the kilobytes of facts.
        let pending = try await withConnection { db in
            try await db.raw("""
                SELECT (SELECT count(*) FROM device_posture) - (SELECT count(*) FROM posture_verdicts WHERE judged_under = \(bind: key)) AS n
                """).first(decodingColumn: "n", as: Int.self) ?? 0
        }
        guard pending != 0 else { return }
        // Read and written in one transaction, so facts arriving meanwhile cannot be overwritten by an older verdict.
        try await transaction { db in
            let decoder = RollcallJSON.decoder()
            for row in try await db.raw("\(unsafeRaw: unjudged)\(bind: key)").all() {
                let id = try row.decode(column: "device_id", as: String.self)
                let facts = try decoder.decode(PostureFacts.self, from: Data(try row.decode(column: "facts", as: String.self).utf8))
                let posture = judge.judge(deviceID: id, facts: facts, chassisType: try row.decode(column: "chassis_type", as: Int?.self),
                                          collectedAt: nil)
                try await db.raw("""
                    INSERT OR REPLACE INTO posture_verdicts (device_id, judged_under, screen_lock, screen_lock_reason, encryption, encryption_reason)
                    VALUES (\(bind: id), \(bind: key), \(bind: posture.screenLock.status.rawValue), \(bind: posture.screenLock.reason),
                            \(bind: posture.encryption.status.rawValue), \(bind: posture.encryption.reason))
                    """).run()
            }
        }
    }

    // MARK: USB events

    /// Stores one USB event from an agent, judges it against the approved list, and opens an incident for an
    /// unapproved stick. Idempotent on the event id, like reports.
    public func ingestUSBEvent(_ event: USBStorageEvent, body: String, deviceID: String, receivedAt: Date = Date()) async throws -> ReportReceipt {
        try await transaction { db in
            let id = event.eventID.uuidString
            if let existing = try await db.select().column("device_id").from("usb_events").where("id", .equal, id)
                .first(decodingColumn: "device_id", as: String.self) {
                guard existing == deviceID else {
                    throw StoreError(code: .conflict, message: "USB event \(id) is already stored for another device")
                }
                return ReportReceipt(reportID: event.eventID, deviceID: existing, outcome: .duplicate)
            }
            let rules = try await Self.activeMedia(db)
            let rule = rules.first { $0.medium.matches(vendorID: event.vendorID, productID: event.productID, serial: event.serial) }
            try await db.insert(into: "usb_events")
                .columns("id", "device_id", "action", "occurred_at", "received_at", "vendor_id", "product_id", "vendor", "model", "serial",
                         "capacity_bytes", "volumes", "port", "console_users", "approved", "approved_by_rule", "blocked", "block_error", "body")
                .values(SQLBind(id), SQLBind(deviceID), SQLBind(event.action.rawValue), SQLBind(event.occurredAt.millisecondsSince1970),
                        SQLBind(receivedAt.millisecondsSince1970), SQLBind(event.vendorID.lowercased()), SQLBind(event.productID.lowercased()),
                        SQLBind(event.vendor), SQLBind(event.model), SQLBind(event.serial), SQLBind(event.capacityBytes.map { Int64(clamping: $0) }),
                        SQLBind(String(decoding: try RollcallJSON.encoder().encode(event.volumes), as: UTF8.self)), SQLBind(event.port), SQLBind(event.consoleUsers.joined(separator: ",")), SQLBind(rule == nil ? 0 : 1), SQLBind(rule?.id),
                        SQLBind(event.blocked ? 1 : 0), SQLBind(event.blockError), SQLBind(body))
                .run()
            if rule == nil, event.action != .remove, try await !Self.alreadyOpen(event, deviceID: deviceID, db) {
                try await Self.openUSBIncident(event, deviceID: deviceID, receivedAt: receivedAt, db)
            }
            return ReportReceipt(reportID: event.eventID, deviceID: deviceID, outcome: .stored)
        }
    }

    /// A stick found `present` when an agent restarts is the same insertion as the one already logged, unless it
    /// was removed in between.
    private static func alreadyOpen(_ event: USBStorageEvent, deviceID: String, _ db: any SQLDatabase) async throws -> Bool {
        guard event.action == .present else { return false }
        let row = try await db.raw("""
            SELECT e.action FROM usb_events e WHERE e.device_id = \(bind: deviceID) AND e.vendor_id = \(bind: event.vendorID.lowercased())
              AND e.product_id = \(bind: event.productID.lowercased()) AND e.serial IS \(bind: event.serial) AND e.id <> \(bind: event.eventID.uuidString)
            ORDER BY e.occurred_at DESC LIMIT 1
            """).first()
        return try row.map { try $0.decode(column: "action", as: String.self) != "remove" } ?? false
    }

    private static func openUSBIncident(_ event: USBStorageEvent, deviceID: String, receivedAt: Date, _ db: any SQLDatabase) async throws {
        let hostname = try await db.select().column("hostname").from("devices").where("id", .equal, deviceID)
            .first(decodingColumn: "hostname", as: String?.self) ?? nil
        let machine = hostname ?? deviceID
        let label = [event.vendor, event.model].compactMap { $0 }.joined(separator: " ")
        var description = "Unapproved USB storage \(label.isEmpty ? "" : label + " ")(\(event.vendorID):\(event.productID)"
            + (event.serial.map { ", serial \($0)" } ?? "") + ") plugged into port \(event.port) of \(machine)"
            + (event.action == .present ? " (found present when the agent started)" : "")
        if event.blocked {
            description += "; the agent switched it off"
        } else if let error = event.blockError {
            description += "; blocking failed: \(error)"
        } else {
            description += "; not blocked (the policy only reports)"
        }
        let involved = event.consoleUsers.isEmpty ? nil : event.consoleUsers.joined(separator: ", ")
        let now = receivedAt.millisecondsSince1970
        let id = try await db.raw("""
            INSERT INTO incidents (kind, opened_at, occurred_at, reported_by, location, involved, description, device_id, usb_event_id, status, updated_at)
            VALUES ('usb-unapproved', \(bind: now), \(bind: event.occurredAt.millisecondsSince1970), \(bind: "rollcall-agent on \(machine)"),
                    \(bind: machine), \(bind: involved), \(bind: description), \(bind: deviceID), \(bind: event.eventID.uuidString), 'open', \(bind: now))
            RETURNING id
            """).first(decodingColumn: "id", as: Int.self) ?? 0
        try await AuditLog.append(db, actor: "agent:\(deviceID)", action: "incident.open", target: "incident \(id)", detail: description, at: receivedAt)
    }

    public func usbEvents(since: Date? = nil, deviceID: String? = nil, limit: Int = 1000) async throws -> [USBEventRecord] {
        try await withConnection { db in
            let sinceMs = since?.millisecondsSince1970 ?? 0
            let decoder = RollcallJSON.decoder()
            return try await db.raw("""
                SELECT e.*, d.hostname, i.id AS incident_id FROM usb_events e LEFT JOIN devices d ON d.id = e.device_id
                LEFT JOIN incidents i ON i.usb_event_id = e.id
                WHERE e.occurred_at >= \(bind: sinceMs) AND (\(bind: deviceID) IS NULL OR e.device_id = \(bind: deviceID))
                ORDER BY e.occurred_at DESC, e.received_at DESC LIMIT \(bind: limit)
                """).all().map { row in
                USBEventRecord(
                    id: try row.decode(column: "id", as: String.self), deviceID: try row.decode(column: "device_id", as: String.self),
                    hostname: try row.decode(column: "hostname", as: String?.self), action: try row.decode(column: "action", as: String.self),
                    occurredAt: Date(millisecondsSince1970: try row.decode(column: "occurred_at", as: Int64.self)),
                    receivedAt: Date(millisecondsSince1970: try row.decode(column: "received_at", as: Int64.self)),
                    vendorID: try row.decode(column: "vendor_id", as: String.self), productID: try row.decode(column: "product_id", as: String.self),
                    vendor: try row.decode(column: "vendor", as: String?.self), model: try row.decode(column: "model", as: String?.self),
                    serial: try row.decode(column: "serial", as: String?.self), capacityBytes: try row.decode(column: "capacity_bytes", as: Int64?.self),
                    volumes: try decoder.decode([USBStorageEvent.Volume].self, from: Data(try row.decode(column: "volumes", as: String.self).utf8)),
                    port: try row.decode(column: "port", as: String.self),
                    consoleUsers: try row.decode(column: "console_users", as: String.self).split(separator: ",").map(String.init),
                    approved: try row.decode(column: "approved", as: Int.self) != 0, blocked: try row.decode(column: "blocked", as: Int.self) != 0,
                    blockError: try row.decode(column: "block_error", as: String?.self), incidentID: try row.decode(column: "incident_id", as: Int?.self))
            }
        }
    }

    // MARK: Approved media and the agents' policy

    /// Approves a model (`0781:5567`) or, with a serial, one stick. Audited.
    public func approveMedia(_ id: String, serial: String?, description: String?, actor: String? = nil, at: Date = Date()) async throws -> ApprovedMediaEntry {
        let actor = actor ?? AuditLog.actor
        let parts = id.lowercased().split(separator: ":")
        guard parts.count == 2, parts.allSatisfy({ $0.count == 4 && $0.allSatisfy(\.isHexDigit) }) else { throw MediaError.malformedID(id) }
        let vendorID = String(parts[0]), productID = String(parts[1])
        let serial = serial.flatMap { $0.isEmpty ? nil : $0 }
        return try await transaction { db in
            if let existing = try await Self.activeMedia(db).first(where: { $0.vendorID == vendorID && $0.productID == productID && $0.serial == serial }) {
                throw MediaError.alreadyApproved(id: existing.id)
            }
            let number = try await db.raw("""
                INSERT INTO approved_media (vendor_id, product_id, serial, description, approved_by, approved_at)
                VALUES (\(bind: vendorID), \(bind: productID), \(bind: serial), \(bind: description), \(bind: actor), \(bind: at.millisecondsSince1970))
                RETURNING id
                """).first(decodingColumn: "id", as: Int.self) ?? 0
            let entry = ApprovedMediaEntry(id: number, vendorID: vendorID, productID: productID, serial: serial, description: description,
                                           approvedBy: actor, approvedAt: at, revokedAt: nil)
            try await AuditLog.append(db, actor: actor, action: "media.approve", target: "\(vendorID):\(productID)" + (serial.map { " serial \($0)" } ?? ""),
                                      detail: description ?? "", at: at)
            return entry
        }
    }

    public func revokeMedia(id: Int, actor: String? = nil, at: Date = Date()) async throws {
        let actor = actor ?? AuditLog.actor
        try await transaction { db in
            guard let entry = try await Self.activeMedia(db).first(where: { $0.id == id }) else { throw MediaError.unknown(id: id) }
            try await db.update("approved_media").set("revoked_at", to: SQLBind(at.millisecondsSince1970)).where("id", .equal, id).run()
            try await AuditLog.append(db, actor: actor, action: "media.revoke",
                                      target: "\(entry.vendorID):\(entry.productID)" + (entry.serial.map { " serial \($0)" } ?? ""),
                                      detail: "entry \(id)", at: at)
        }
    }

    public func approvedMedia(includeRevoked: Bool = false) async throws -> [ApprovedMediaEntry] {
        try await withConnection { db in try await Self.media(db, includeRevoked: includeRevoked) }
    }

    /// What agents enforce: the approved list and whether to block. The revision is a digest of the content.
    public func agentPolicy(usb: USBPolicy) async throws -> AgentPolicy {
        let media = try await approvedMedia().map(\.medium)
        let content = String(decoding: try RollcallJSON.encoder().encode(media), as: UTF8.self) + "|block=\(usb.blockUnapproved)"
        return AgentPolicy(revision: String(SHA256.hexDigest(of: content).prefix(16)), blockUnapprovedUSBStorage: usb.blockUnapproved,
                           approvedMedia: media)
    }

    private static func activeMedia(_ db: any SQLDatabase) async throws -> [ApprovedMediaEntry] {
        try await media(db, includeRevoked: false)
    }

    private static func media(_ db: any SQLDatabase, includeRevoked: Bool) async throws -> [ApprovedMediaEntry] {
        try await db.raw("SELECT * FROM approved_media ORDER BY id").all().compactMap { row in
            let revoked = try row.decode(column: "revoked_at", as: Int64?.self)
            if revoked != nil, !includeRevoked { return nil }
            return ApprovedMediaEntry(
                id: try row.decode(column: "id", as: Int.self), vendorID: try row.decode(column: "vendor_id", as: String.self),
                productID: try row.decode(column: "product_id", as: String.self), serial: try row.decode(column: "serial", as: String?.self),
                description: try row.decode(column: "description", as: String?.self), approvedBy: try row.decode(column: "approved_by", as: String.self),
                approvedAt: Date(millisecondsSince1970: try row.decode(column: "approved_at", as: Int64.self)),
                revokedAt: revoked.map(Date.init(millisecondsSince1970:)))
        }
    }
}
