public import Foundation
import SQLKit

/// One entry of the incident log: the fields of the schools' e-safety log (who reported it, when, where, who was
/// involved, what happened with the devices and user names, the actions taken from the fixed list, the outcome).
public struct Incident: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case open, closed
    }

    public var id: Int
    /// An ``IncidentCategory`` code: `usb-unapproved` for those the controller opens itself.
    public var kind: String
    public var openedAt: Date
    public var occurredAt: Date
    public var reportedBy: String
    public var location: String?
    public var involved: String?
    public var description: String
    public var deviceID: String?
    public var usbEventID: String?
    public var actions: [IncidentAction]
    public var outcome: String?
    public var status: Status
    public var updatedAt: Date

    public var category: IncidentCategory? { IncidentCategory(rawValue: kind) }
}

extension ControllerStore {
    /// The log oldest first, as the schools' paper log reads; `status` narrows it to what still needs following up.
    public func incidents(status: Incident.Status? = nil) async throws -> [Incident] {
        try await withConnection { db in
            try await db.raw("SELECT * FROM incidents WHERE \(bind: status?.rawValue) IS NULL OR status = \(bind: status?.rawValue) ORDER BY id")
                .all().map(Self.incident)
        }
    }

    /// How many incidents have `status`, counted by the store.
    func incidentCount(status: Incident.Status) async throws -> Int {
        try await withConnection { db in
            try await db.raw("SELECT count(*) AS n FROM incidents WHERE status = \(bind: status.rawValue)").first(decodingColumn: "n", as: Int.self) ?? 0
        }
    }

    /// One incident, nil when there is none by that number (the command line turns that into its own error).
    public func incident(id: Int) async throws -> Incident? {
        try await withConnection { db in try await db.raw("SELECT * FROM incidents WHERE id = \(bind: id)").first().map(Self.incident) }
    }

    /// Logs an incident a person reports; audited with its description.
    public func addIncident(_ new: NewIncident, actor: String? = nil, at: Date = Date()) async throws -> Incident {
        let actor = actor ?? AuditLog.actor
        let description = new.description.trimmingCharacters(in: .whitespacesAndNewlines)
        let reportedBy = new.reportedBy.flatMap { $0.isEmpty ? nil : $0 } ?? actor
        guard !description.isEmpty else { throw IncidentError.emptyDescription }
        let id = try await transaction { db in
            if let device = new.deviceID,
               try await db.select().column("id").from("devices").where("id", .equal, device).first() == nil {
                throw IncidentError.unknownDevice(device)
            }
            let now = at.millisecondsSince1970
            let id = try await db.raw("""
                INSERT INTO incidents (kind, opened_at, occurred_at, reported_by, location, involved, description, device_id, action_taken,
                                       outcome, status, updated_at)
                VALUES (\(bind: new.category.rawValue), \(bind: now), \(bind: new.occurredAt.millisecondsSince1970), \(bind: reportedBy),
                        \(bind: new.location), \(bind: new.involved), \(bind: description), \(bind: new.deviceID),
                        \(bind: IncidentAction.encode(new.actions)), \(bind: new.outcome), 'open', \(bind: now))
                RETURNING id
                """).first(decodingColumn: "id", as: Int.self) ?? 0
            try await AuditLog.append(db, actor: actor, action: "incident.open", target: "incident \(id)",
                                      detail: "\(new.category.label), reported by \(reportedBy): \(description)", at: at)
            return id
        }
        guard let incident = try await incident(id: id) else { throw IncidentError.unknown(id: id) }
        return incident
    }

    /// Records actions taken, the outcome, and closing or reopening; one audit row per change, naming old and new.
    public func updateIncident(id: Int, _ update: IncidentUpdate, actor: String? = nil, at: Date = Date()) async throws -> Incident {
        let actor = actor ?? AuditLog.actor
        guard !update.isEmpty else { throw IncidentError.nothingToChange(id: id) }
        try await transaction { db in
            guard let old = try await db.raw("SELECT * FROM incidents WHERE id = \(bind: id)").first().map(Self.incident) else {
                throw IncidentError.unknown(id: id)
            }
            var new = old
            new.actions = IncidentAction.allCases.filter { (old.actions.contains($0) || update.addActions.contains($0)) && !update.removeActions.contains($0) }
            if let outcome = update.outcome { new.outcome = outcome.isEmpty ? nil : outcome }
            if let location = update.location { new.location = location.isEmpty ? nil : location }
            if let involved = update.involved { new.involved = involved.isEmpty ? nil : involved }
            if let status = update.status { new.status = status }
            if new.status == .closed, old.status == .open, new.outcome == nil { throw IncidentError.closeNeedsOutcome(id: id) }
            let target = "incident \(id)"
            func audit(_ action: String, _ detail: String) async throws {
                try await AuditLog.append(db, actor: actor, action: action, target: target, detail: detail, at: at)
            }
            let added = new.actions.filter { !old.actions.contains($0) }
            let removed = old.actions.filter { !new.actions.contains($0) }
            if !added.isEmpty { try await audit("incident.action", "added: " + added.map(\.label).joined(separator: ", ")) }
            if !removed.isEmpty { try await audit("incident.action", "removed: " + removed.map(\.label).joined(separator: ", ")) }
            if new.outcome != old.outcome { try await audit("incident.outcome", "\(old.outcome ?? "-") → \(new.outcome ?? "-")") }
            if new.location != old.location { try await audit("incident.update", "where: \(old.location ?? "-") → \(new.location ?? "-")") }
            if new.involved != old.involved { try await audit("incident.update", "who: \(old.involved ?? "-") → \(new.involved ?? "-")") }
            if new.status != old.status { try await audit(new.status == .closed ? "incident.close" : "incident.reopen", new.outcome ?? "") }
            try await db.update("incidents")
                .set("action_taken", to: SQLBind(IncidentAction.encode(new.actions))).set("outcome", to: SQLBind(new.outcome))
                .set("location", to: SQLBind(new.location)).set("involved", to: SQLBind(new.involved))
                .set("status", to: SQLBind(new.status.rawValue)).set("updated_at", to: SQLBind(at.millisecondsSince1970))
                .where("id", .equal, id).run()
        }
        guard let incident = try await incident(id: id) else { throw IncidentError.unknown(id: id) }
        return incident
    }

    /// An incident's entries in the audit log, oldest first: its history.
    public func incidentHistory(id: Int) async throws -> [AuditEntry] {
        try await auditEntries(target: "incident \(id)")
    }

    static func incident(_ row: any SQLRow) throws -> Incident {
        Incident(
            id: try row.decode(column: "id", as: Int.self), kind: try row.decode(column: "kind", as: String.self),
            openedAt: Date(millisecondsSince1970: try row.decode(column: "opened_at", as: Int64.self)),
            occurredAt: Date(millisecondsSince1970: try row.decode(column: "occurred_at", as: Int64.self)),
            reportedBy: try row.decode(column: "reported_by", as: String.self), location: try row.decode(column: "location", as: String?.self),
            involved: try row.decode(column: "involved", as: String?.self), description: try row.decode(column: "description", as: String.self),
            deviceID: try row.decode(column: "device_id", as: String?.self), usbEventID: try row.decode(column: "usb_event_id", as: String?.self),
            actions: IncidentAction.decode(try row.decode(column: "action_taken", as: String?.self)),
            outcome: try row.decode(column: "outcome", as: String?.self),
            status: Incident.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .open,
            updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self)))
    }
}
