public import Foundation
import SQLKit

extension ControllerStore {
    // MARK: People

    /// People from the HR imports, by kind, surname and forename.
    public func people(kind: AccountKind? = nil, status: Person.Status? = nil) async throws -> [Person] {
        try await withConnection { db in try await Self.people(db, kind: kind, status: status) }
    }

    static func people(_ db: any SQLDatabase, kind: AccountKind? = nil, status: Person.Status? = nil, keys: [String]? = nil) async throws -> [Person] {
        var query: SQLQueryString = """
            SELECT p.*, i.file AS left_file, i.imported_at AS left_imported_at FROM people p LEFT JOIN hr_imports i ON i.id = p.left_import WHERE true
            """
        if let kind { query += " AND p.kind = \(bind: kind.rawValue)" }
        if let status { query += " AND p.status = \(bind: status.rawValue)" }
        if let keys {
            guard !keys.isEmpty else { return [] }
            query += " AND p.join_key IN (\(binds: keys))"
        }
        query += " ORDER BY p.kind, p.surname, p.forename, p.join_key"
        return try await db.raw(query).all(decoding: PersonRow.self).map(\.person)
    }

    /// One person's history, oldest first, each event with the import that caused it.
    public func history(of joinKey: String) async throws -> [PersonEvent] {
        try await withConnection { db in
            try await db.raw("""
                SELECT h.at, h.event, h.detail, h.import_id, i.file FROM people_history h LEFT JOIN hr_imports i ON i.id = h.import_id
                WHERE h.join_key = \(bind: joinKey) ORDER BY h.id
                """).all().map { row in
                PersonEvent(at: Date(millisecondsSince1970: try row.decode(column: "at", as: Int64.self)), event: try row.decode(column: "event", as: String.self),
                            detail: try row.decode(column: "detail", as: String.self), importID: try row.decode(column: "import_id", as: Int?.self),
                            file: try row.decode(column: "file", as: String?.self))
            }
        }
    }

    /// Every import, newest first.
    public func hrImports() async throws -> [HRImportRecord] {
        try await withConnection { db in
            try await db.raw("SELECT * FROM hr_imports ORDER BY id DESC").all(decoding: HRImportRow.self).map(\.record)
        }
    }

    /// Leavers and everyone current, from the HR imports, in the shape the accounts planner takes; nil before the
    /// first import. Only the kinds that have been imported can make an account an orphan.
    public func hrLeaversAndRoster() async throws -> (leavers: KeyListFile, roster: KeyListFile, kinds: Set<AccountKind>)? {
        let imports = try await hrImports()
        guard !imports.isEmpty else { return nil }
        let people = try await people()
        let source = "the HR imports (latest: import \(imports[0].id), \(imports[0].file))"
        let leavers = people.filter { $0.status == .left }.map { KeyListFile.Entry(key: $0.joinKey, date: $0.leftOn?.date, line: 0) }
        let current = people.filter { $0.status == .current }.map { KeyListFile.Entry(key: $0.joinKey, date: nil, line: 0) }
        return (KeyListFile(path: source, entries: leavers), KeyListFile(path: source, entries: current), Set(imports.map(\.kind)))
    }

    /// Where the accounts planner's leavers and roster come from: files named on the command line win, then the HR
    /// imports once there are any (and a configured file is then no longer read), then `[accounts]` files.
    public func leaverSources(policy: AccountsPolicy, leavers: KeyListFile? = nil, roster: KeyListFile? = nil) async throws -> LeaverSources {
        var sources = LeaverSources(leavers: leavers, roster: roster)
        if let hr = try await hrLeaversAndRoster() {
            if sources.leavers == nil { sources.leavers = hr.leavers }
            if sources.roster == nil {
                sources.roster = hr.roster
                sources.rosterKinds = hr.kinds
            }
            sources.notes.append("Leavers and the roster come from \(hr.leavers.path)"
                                 + (policy.leaversFile != nil || policy.rosterFile != nil ? "; accounts.leavers_file and accounts.roster_file are no longer read." : "."))
        } else {
            if sources.leavers == nil { sources.leavers = try policy.leaversFile.map(KeyListFile.load) }
            if sources.roster == nil { sources.roster = try policy.rosterFile.map(KeyListFile.load) }
        }
        return sources
    }

    // MARK: Offboarding

    /// Stores an offboarding plan: its account items, and per leaver what they owe. Leavers with nothing
    /// outstanding are offboarded at once.
    public func createOffboardingPlan(_ result: OffboardingPlanner.Result, totalAccounts: Int, threshold: Int) async throws -> Plan {
        let plan = try await createPlan(kind: .offboarding, items: result.items, notes: result.notes, totalAccounts: totalAccounts, threshold: threshold)
        let actor = AuditLog.actor
        try await transaction { db in
            for leaver in result.leavers {
                let detail = String(decoding: try JSONEncoder().encode(leaver), as: UTF8.self)
                try await db.insert(into: "plan_people").columns("plan_id", "join_key", "detail")
                    .values(SQLBind(plan.id), SQLBind(leaver.person.joinKey), SQLBind(detail)).run()
                for tag in leaver.equipment {
                    try await db.insert(into: "plan_equipment").columns("plan_id", "join_key", "asset_tag")
                        .values(SQLBind(plan.id), SQLBind(leaver.person.joinKey), SQLBind(tag)).run()
                }
                try await db.update("people").set("offboarding", to: SQLBind(Person.Offboarding.offboarding.rawValue))
                    .set("offboarding_plan", to: SQLBind(plan.id)).where("join_key", .equal, leaver.person.joinKey).run()
                try await db.insert(into: "people_history").columns("join_key", "import_id", "at", "event", "detail")
                    .values(SQLBind(leaver.person.joinKey), SQLLiteral.null, SQLBind(Date().millisecondsSince1970), SQLBind("offboarding"),
                            SQLBind("in offboarding plan \(plan.id): \(result.items.filter { $0.joinKey == leaver.person.joinKey }.count) account(s) to disable, \(leaver.equipment.count) item(s) to return"))
                    .run()
            }
            _ = try await Self.settleOffboarding(joinKeys: result.leavers.map(\.person.joinKey), db, actor: actor)
        }
        return plan
    }

    /// Marks offboarded every one of `joinKeys` in an offboarding plan whose accounts are all dealt with and who holds
    /// no equipment; returns those it marked.
    public func settleOffboarding(joinKeys: [String]) async throws -> [String] {
        let actor = AuditLog.actor
        return try await transaction { db in try await Self.settleOffboarding(joinKeys: joinKeys, db, actor: actor) }
    }

    static func settleOffboarding(joinKeys: [String], _ db: any SQLDatabase, actor: String) async throws -> [String] {
        guard !joinKeys.isEmpty else { return [] }
        var settled: [String] = []
        for row in try await db.raw("""
            SELECT p.join_key, p.offboarding_plan,
                (SELECT COUNT(*) FROM equipment e WHERE e.assigned_to = p.join_key AND e.state = 'active') AS equipment,
                (SELECT COUNT(*) FROM plan_items i WHERE i.plan_id = p.offboarding_plan AND i.join_key = p.join_key
                    AND i.status NOT IN ('done', 'skipped')) AS accounts
            FROM people p WHERE p.offboarding = 'offboarding' AND p.join_key IN (\(binds: joinKeys))
            """).all() {
            guard try row.decode(column: "equipment", as: Int.self) == 0, try row.decode(column: "accounts", as: Int.self) == 0 else { continue }
            let key = try row.decode(column: "join_key", as: String.self)
            let plan = try row.decode(column: "offboarding_plan", as: Int?.self)
            try await db.update("people").set("offboarding", to: SQLBind(Person.Offboarding.offboarded.rawValue)).where("join_key", .equal, key).run()
            try await db.insert(into: "people_history").columns("join_key", "import_id", "at", "event", "detail")
                .values(SQLBind(key), SQLLiteral.null, SQLBind(Date().millisecondsSince1970), SQLBind("offboarded"),
                        SQLBind("accounts disabled and equipment returned (plan \(plan.map(String.init) ?? "-"))"))
                .run()
            try await AuditLog.append(db, actor: actor, action: "person.offboarded", target: key, detail: "plan \(plan.map(String.init) ?? "-")")
            settled.append(key)
        }
        return settled
    }

    /// An offboarding plan with, per leaver, their accounts' items, their equipment as it stands now, and notes.
    public func offboarding(planID: Int, equipmentPolicy: EquipmentPolicy) async throws -> OffboardingView? {
        guard let plan = try await plan(id: planID), plan.kind == .offboarding else { return nil }
        let register = Dictionary(uniqueKeysWithValues: try await equipment(policy: equipmentPolicy).map { ($0.assetTag, $0) })
        return try await withConnection { db in
            let rows = try await db.raw("SELECT join_key, detail FROM plan_people WHERE plan_id = \(bind: planID)").all()
            let keys = try rows.map { try $0.decode(column: "join_key", as: String.self) }
            let now = Dictionary(uniqueKeysWithValues: try await Self.people(db, keys: keys).map { ($0.joinKey, $0) })
            var tagsByPerson: [String: [String]] = [:]
            for row in try await db.raw("SELECT join_key, asset_tag FROM plan_equipment WHERE plan_id = \(bind: planID) ORDER BY asset_tag").all() {
                tagsByPerson[try row.decode(column: "join_key", as: String.self), default: []].append(try row.decode(column: "asset_tag", as: String.self))
            }
            var leavers: [OffboardingView.Leaver] = []
            for row in rows {
                var stored = try JSONDecoder().decode(OffboardingPlanner.Leaver.self, from: Data(try row.decode(column: "detail", as: String.self).utf8))
                if let current = now[stored.person.joinKey] { stored.person = current }
                let items = plan.items.filter { $0.joinKey == stored.person.joinKey }
                let equipment = (tagsByPerson[stored.person.joinKey] ?? []).map { tag in
                    OffboardingView.Item(tag: tag, entry: register[tag],
                                         returned: register[tag].map { $0.assignedTo != stored.person.joinKey } ?? false)
                }
                leavers.append(.init(person: stored.person, accounts: items, accountNotes: stored.accountNotes, equipment: equipment,
                                     licenceNotes: stored.licenceNotes))
            }
            leavers.sort { ($0.person.kind.rawValue, $0.person.surname, $0.person.forename) < ($1.person.kind.rawValue, $1.person.surname, $1.person.forename) }
            return OffboardingView(plan: plan, leavers: leavers)
        }
    }

    /// The newest offboarding plan's id.
    public func latestOffboardingPlanID() async throws -> Int? {
        try await withConnection { db in
            try await db.raw("SELECT MAX(id) AS n FROM plans WHERE kind = 'offboarding'").first(decodingColumn: "n", as: Int?.self) ?? nil
        }
    }
}

/// What an offboarding plan asks, per leaver, as it stands now: exported as the checklist.
/// The accounts planner's inputs: who has left, who is current, and which kinds the roster covers.
public struct LeaverSources: Sendable {
    public var leavers: KeyListFile?
    public var roster: KeyListFile?
    /// Only the kinds that have been imported can make an account an orphan.
    public var rosterKinds = Set(AccountKind.allCases)
    public var notes: [String] = []

    /// The planner over these sources.
    public func planner(policy: AccountsPolicy, lastBindTracked: Bool, now: Date = Date()) -> AccountsPlanner {
        var planner = AccountsPlanner(policy: policy, leavers: leavers, roster: roster, lastBindTracked: lastBindTracked, now: now)
        planner.rosterKinds = rosterKinds
        return planner
    }
}

public struct OffboardingView: Sendable, Codable, Equatable {
    public struct Item: Sendable, Codable, Equatable {
        public var tag: String
        /// The register entry now (nil if it was removed since).
        public var entry: EquipmentEntry?
        public var returned: Bool
    }

    public struct Leaver: Sendable, Codable, Equatable {
        public var person: Person
        public var accounts: [PlanItem]
        public var accountNotes: [String]
        public var equipment: [Item]
        public var licenceNotes: [String]

        public var outstanding: Int {
            accounts.filter { $0.status != .done && $0.status != .skipped }.count + equipment.filter { !$0.returned }.count
        }
    }

    public var plan: Plan
    public var leavers: [Leaver]
}

public struct PersonEvent: Sendable, Codable, Equatable {
    public var at: Date
    public var event: String
    public var detail: String
    public var importID: Int?
    public var file: String?
}

public struct HRImportRecord: Sendable, Codable, Equatable {
    public var id: Int
    public var kind: AccountKind
    public var file: String
    public var sha256: String
    public var encoding: String
    public var preset: String
    public var rows: Int
    public var importedAt: Date
    public var importedBy: String
    public var joined: Int
    public var left: Int
    public var rejoined: Int
    public var changed: Int
}

struct HRImportRow: Decodable {
    var id: Int
    var kind: String
    var file: String
    var sha256: String
    var encoding: String
    var preset: String
    var rows: Int
    var imported_at: Int64
    var imported_by: String
    var joined: Int?
    var left_count: Int?
    var rejoined: Int?
    var changed: Int?

    var record: HRImportRecord {
        HRImportRecord(id: id, kind: AccountKind(rawValue: kind) ?? .staff, file: file, sha256: sha256, encoding: encoding, preset: preset, rows: rows,
                       importedAt: Date(millisecondsSince1970: imported_at), importedBy: imported_by, joined: joined ?? 0, left: left_count ?? 0,
                       rejoined: rejoined ?? 0, changed: changed ?? 0)
    }
}

struct PersonRow: Decodable {
    var join_key: String
    var kind: String
    var forename: String
    var surname: String
    var email: String?
    var role: String?
    var start_date: String?
    var leaving_date: String?
    var status: String
    var left_on: String?
    var left_import: Int?
    var offboarding: String?
    var left_file: String?
    var left_imported_at: Int64?

    var person: Person {
        var reference: Person.ImportReference?
        if let left_import, let left_file, let left_imported_at {
            reference = .init(id: left_import, file: left_file, importedOn: Day(Date(millisecondsSince1970: left_imported_at)))
        }
        return Person(joinKey: join_key, kind: AccountKind(rawValue: kind) ?? .staff, forename: forename, surname: surname, email: email, role: role,
                      startDate: start_date.flatMap(Day.init(iso:)), leavingDate: leaving_date.flatMap(Day.init(iso:)),
                      status: Person.Status(rawValue: status) ?? .current, leftOn: left_on.flatMap(Day.init(iso:)), leftPer: reference,
                      offboarding: offboarding.flatMap(Person.Offboarding.init(rawValue:)))
    }
}
