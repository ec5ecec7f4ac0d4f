public import Foundation
import SQLKit

extension ControllerStore {
    // MARK: Directory accounts

    /// Every synced account with its groups, ordered by DN.
    /// Kept in memory under the store's `accounts` revision: the list changes only when a sync (or an HR import)
    /// writes, and reading 60,000 accounts back is most of a look at them.
    public func directoryAccounts() async throws -> [DirectoryAccount] {
        let revision = try await revision("accounts")
        if let kept = directoryAccountsKept.withLock({ $0?.revision == revision ? $0?.accounts : nil }) { return kept }
        let accounts = try await readDirectoryAccounts()
        directoryAccountsKept.withLock { $0 = (revision, accounts) }
        return accounts
    }

    private func readDirectoryAccounts() async throws -> [DirectoryAccount] {
        try await withConnection { db in
            var groups: [String: [String]] = [:]
            var groupsByUID: [String: [String]] = [:]
            for row in try await db.select().column("group_dn").column("member_dn").column("member_uid").from("directory_memberships").all() {
                let group = try row.decode(column: "group_dn", as: String.self)
                if let dn = try row.decode(column: "member_dn", as: String?.self) { groups[ProtectedAccounts.normalise(dn), default: []].append(group) }
                if let uid = try row.decode(column: "member_uid", as: String?.self) { groupsByUID[uid, default: []].append(group) }
            }
            return try await db.select().column(SQLLiteral.all).from("directory_accounts").orderBy("dn")
                .all(decoding: DirectoryAccountRow.self)
                .map { row in
                    let memberOf = (groups[ProtectedAccounts.normalise(row.dn)] ?? []) + (row.uid.flatMap { groupsByUID[$0] } ?? [])
                    return row.account(groups: Array(Set(memberOf)).sorted())
                }
        }
    }

    /// The last successful sync's summary, or nil before the first.
    public func lastDirectorySync() async throws -> DirectorySyncSummary? {
        try await withConnection { db in
            guard let json = try await db.select().column("summary").from("directory_syncs").orderBy("id", .descending).limit(1)
                .first(decodingColumn: "summary", as: String.self) else { return nil }
            return try JSONDecoder().decode(DirectorySyncSummary.self, from: Data(json.utf8))
        }
    }

    // MARK: Plans

    /// Stores a new plan (and audits its creation); returns it with its id.
    public func createPlan(kind: Plan.Kind, items: [PlanItem], notes: [String], totalAccounts: Int, threshold: Int, createdAt: Date = Date()) async throws -> Plan {
        let actor = AuditLog.actor
        return try await transaction { db in
            try await db.insert(into: "plans").columns("kind", "created_at", "created_by", "total_accounts", "threshold", "notes", "status")
                .values(SQLBind(kind.rawValue), SQLBind(createdAt.millisecondsSince1970), SQLBind(actor), SQLBind(totalAccounts),
                        SQLBind(threshold), SQLBind(String(decoding: try JSONEncoder().encode(notes), as: UTF8.self)),
                        SQLBind(Plan.Status.planned.rawValue))
                .run()
            guard let id = try await db.select().column(SQLFunction("max", args: SQLColumn("id")), as: "id").from("plans")
                .first(decodingColumn: "id", as: Int.self) else { throw StoreError(code: .corrupt, message: "the new plan has no id") }
            for chunk in items.chunked(into: 200) {
                var insert = db.insert(into: "plan_items").columns("plan_id", "position", "dn", "uid", "join_key", "kind", "action", "reason", "detail", "status", "payload")
                for item in chunk {
                    let payload = try item.newAccount.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
                    insert = insert.values(SQLBind(id), SQLBind(item.position), SQLBind(item.dn), SQLBind(item.uid), SQLBind(item.joinKey),
                                           SQLBind(item.kind.rawValue), SQLBind(item.action.rawValue), SQLBind(item.reason.rawValue),
                                           SQLBind(item.detail), SQLBind(PlanItem.Status.pending.rawValue), SQLBind(payload))
                }
                try await insert.run()
            }
            let counts = Dictionary(grouping: items, by: \.reason).map { "\($0.value.count) \($0.key.rawValue)" }.sorted().joined(separator: ", ")
            try await AuditLog.append(db, actor: actor, action: "plan.create", target: "plan \(id)",
                                      detail: "\(kind.rawValue): \(items.count) item(s)\(counts.isEmpty ? "" : " (\(counts))"); threshold \(threshold) of \(totalAccounts) accounts")
            return Plan(id: id, kind: kind, createdAt: createdAt, createdBy: actor, totalAccounts: totalAccounts, threshold: threshold,
                        notes: notes, status: .planned, items: items)
        }
    }

    public func plan(id: Int) async throws -> Plan? {
        try await withConnection { db in try await Self.plan(id: id, db) }
    }

    static func plan(id: Int, _ db: any SQLDatabase) async throws -> Plan? {
        guard let row = try await db.select().columns("id", "kind", "created_at", "created_by", "total_accounts", "threshold", "notes", "status")
            .from("plans").where("id", .equal, id).first(decoding: PlanRow.self) else { return nil }
        let items = try await db.select().column(SQLLiteral.all).from("plan_items").where("plan_id", .equal, id).orderBy("position")
            .all(decoding: PlanItemRow.self).map(\.item)
        return row.plan(items: items)
    }

    /// Every plan, newest first, without items' detail beyond counts.
    public func plans() async throws -> [Plan] {
        try await withConnection { db in
            var plans: [Plan] = []
            for id in try await db.select().column("id").from("plans").orderBy("id", .descending).all(decodingColumn: "id", as: Int.self) {
                if let plan = try await Self.plan(id: id, db) { plans.append(plan) }
            }
            return plans
        }
    }

    /// Records one item's outcome and its audit row together.
    func recordItem(planID: Int, item: PlanItem, audit: (action: String, detail: String)) async throws {
        let actor = AuditLog.actor
        try await transaction { db in
            try await db.update("plan_items")
                .set("status", to: SQLBind(item.status.rawValue)).set("outcome", to: SQLBind(item.outcome))
                .set("current_dn", to: SQLBind(item.currentDN)).set("applied_at", to: SQLBind(item.appliedAt?.millisecondsSince1970))
                .where("plan_id", .equal, planID).where("position", .equal, item.position)
                .run()
            try await AuditLog.append(db, actor: actor, action: audit.action, target: item.currentDN ?? item.dn,
                                      detail: "plan \(planID) item \(item.position): \(audit.detail)")
        }
    }

    func setPlanStatus(_ id: Int, _ status: Plan.Status, audit: (action: String, detail: String)) async throws {
        let actor = AuditLog.actor
        try await transaction { db in
            try await db.update("plans").set("status", to: SQLBind(status.rawValue)).where("id", .equal, id).run()
            try await AuditLog.append(db, actor: actor, action: audit.action, target: "plan \(id)", detail: audit.detail)
        }
    }

    // MARK: Audit log

    /// The audit log in order; `target` narrows it to one thing's history (a DN, `incident 7`).
    public func auditEntries(target: String? = nil) async throws -> [AuditEntry] {
        try await withConnection { db in
            var query = db.select().column(SQLLiteral.all).from("audit_log")
            if let target { query = query.where("target", .equal, target) }
            return try await query.orderBy("seq").all(decoding: AuditRow.self).map(\.entry)
        }
    }

    /// Recomputes the chain from the first row: every hash, every link, no gaps in the sequence.
    public func verifyAuditLog() async throws -> AuditVerification {
        let entries = try await auditEntries()
        var previous = AuditLog.genesis
        var expectedSeq: Int64 = 1
        for entry in entries {
            if entry.seq != expectedSeq {
                return AuditVerification(rows: entries.count, firstBreak: (entry.seq, "expected row \(expectedSeq) here: rows are missing"))
            }
            if entry.previousHash != previous {
                return AuditVerification(rows: entries.count, firstBreak: (entry.seq, "its link to the previous row does not match: a row before it was changed or removed"))
            }
            let hash = AuditLog.digest(seq: entry.seq, at: entry.at.millisecondsSince1970, actor: entry.actor, action: entry.action,
                                       target: entry.target, detail: entry.detail, previous: entry.previousHash)
            if hash != entry.hash {
                return AuditVerification(rows: entries.count, firstBreak: (entry.seq, "its contents do not match its hash: the row was changed"))
            }
            previous = entry.hash
            expectedSeq += 1
        }
        return AuditVerification(rows: entries.count, firstBreak: nil)
    }
}

struct PlanRow: Codable {
    var id: Int
    var kind: String
    var created_at: Int64
    var created_by: String
    var total_accounts: Int
    var threshold: Int
    var notes: String
    var status: String

    func plan(items: [PlanItem]) -> Plan {
        Plan(id: id, kind: Plan.Kind(rawValue: kind) ?? .accounts, createdAt: Date(millisecondsSince1970: created_at), createdBy: created_by,
             totalAccounts: total_accounts, threshold: threshold,
             notes: (try? JSONDecoder().decode([String].self, from: Data(notes.utf8))) ?? [notes],
             status: Plan.Status(rawValue: status) ?? .planned, items: items)
    }
}

struct PlanItemRow: Codable {
    var plan_id: Int
    var position: Int
    var dn: String
    var uid: String?
    var join_key: String?
    var kind: String
    var action: String
    var reason: String
    var detail: String
    var status: String
    var outcome: String?
    var current_dn: String?
    var applied_at: Int64?
    var payload: String?

    var item: PlanItem {
        PlanItem(position: position, dn: dn, uid: uid, joinKey: join_key, kind: AccountKind(rawValue: kind) ?? .staff,
                 action: PlanItem.Action(rawValue: action) ?? .disable, reason: PlanItem.Reason(rawValue: reason) ?? .leaver, detail: detail,
                 status: PlanItem.Status(rawValue: status) ?? .pending, outcome: outcome, currentDN: current_dn,
                 appliedAt: applied_at.map(Date.init(millisecondsSince1970:)),
                 newAccount: payload.flatMap { try? JSONDecoder().decode(NewAccount.self, from: Data($0.utf8)) })
    }
}

struct AuditRow: Codable {
    var seq: Int64
    var at: Int64
    var actor: String
    var action: String
    var target: String
    var detail: String
    var previous_hash: String
    var hash: String

    var entry: AuditEntry {
        AuditEntry(seq: seq, at: Date(millisecondsSince1970: at), actor: actor, action: action, target: target, detail: detail,
                   previousHash: previous_hash, hash: hash)
    }
}
