public import Foundation

/// A person from the HR imports, with what the imports said about them.
public struct Person: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case current, left
    }

    public enum Offboarding: String, Sendable, Codable {
        /// In an offboarding plan, with accounts or equipment still outstanding.
        case offboarding
        /// Every account disabled and everything handed back.
        case offboarded
    }

    public var joinKey: String
    public var kind: AccountKind
    public var forename: String
    public var surname: String
    public var email: String?
    public var role: String?
    public var startDate: Day?
    public var leavingDate: Day?
    public var status: Status
    public var leftOn: Day?
    /// The import that recorded the leaving: its file and day, for "left on 31/08 per the export of 02/09".
    public var leftPer: ImportReference?
    public var offboarding: Offboarding?

    public var name: String { "\(forename) \(surname)" }

    public struct ImportReference: Sendable, Codable, Equatable {
        public var id: Int
        public var file: String
        public var importedOn: Day

        /// `the export of 02/09/2026 (staff.csv, import 3)`.
        public var phrase: String {
            "the export of \(importedOn.uk) (\(URL(fileURLWithPath: file).lastPathComponent), import \(id))"
        }
    }

    /// `left on 31/08/2026 per the export of 02/09/2026 (staff.csv, import 3)`.
    public var leavingPhrase: String {
        guard status == .left else { return leavingDate.map { "leaving on \($0.uk)" } ?? "current" }
        return "left on \(leftOn?.uk ?? "?")" + (leftPer.map { " per \($0.phrase)" } ?? "")
    }
}

/// Decides what each leaver's offboarding takes: `rollcall offboard plan`.
///
/// For every leaver whose leaving date has passed and who is not yet offboarded: the directory accounts carrying
/// their join key that are still enabled (disabled through the same plan, threshold and protection as every other
/// directory change; a protected account is left alone and said so), the equipment issued to them, and the per-user
/// licences to reclaim.
public struct OffboardingPlanner: Sendable {
    public var policy: AccountsPolicy
    public var today: Day

    public init(policy: AccountsPolicy, today: Day = Day(Date())) {
        self.policy = policy
        self.today = today
    }

    /// One leaver's part of the plan, stored with it.
    public struct Leaver: Sendable, Codable, Equatable {
        public var person: Person
        /// Accounts already disabled, protected ones left alone, or no account at all: in words.
        public var accountNotes: [String]
        public var equipment: [String]
        /// Per-user licences to reclaim, or why none can be listed.
        public var licenceNotes: [String]
    }

    /// The per-user seats a leaver's machines hold, to release once the machines are back.
    static func licenceNotes(for person: Person, _ licences: LicenceReconciliation?) -> [String] {
        guard let licences, !licences.products.isEmpty else {
            return ["No licence register yet (`rollcall licences import`): per-user licences cannot be listed; check the school's subscriptions by hand."]
        }
        let perUser = licences.products.filter { $0.kind == .perUser }
        var notes: [String] = []
        for product in perUser {
            let theirs = product.machines.filter { $0.holder == person.joinKey }
            guard !theirs.isEmpty else { continue }
            notes.append("\(product.product) (per user\(product.references.isEmpty ? "" : ", \(product.references.joined(separator: ", "))")): "
                + "installed on \(theirs.map { $0.hostname ?? $0.deviceID }.joined(separator: ", ")) issued to them; release their seat "
                + "with \(product.vendor ?? "the vendor") once the machine\(theirs.count == 1 ? " is" : "s are") back")
        }
        if notes.isEmpty {
            notes.append(perUser.isEmpty
                ? "The licence register has no per-user licences: nothing to reclaim for \(person.forename)."
                : "None of the \(perUser.count) per-user licence(s) on the register is installed on equipment issued to \(person.forename).")
        }
        return notes
    }

    public struct Result: Sendable {
        public var items: [PlanItem]
        public var leavers: [Leaver]
        public var notes: [String]

        public init(items: [PlanItem], leavers: [Leaver], notes: [String]) {
            self.items = items
            self.leavers = leavers
            self.notes = notes
        }
    }

    /// `licences`: the latest reconciliation, whose per-user products name the register holder of each machine;
    /// nil or empty when the school has no licence register in Rollcall yet.
    public func plan(leavers people: [Person], accounts: [DirectoryAccount], equipment: [EquipmentEntry],
                     licences: LicenceReconciliation? = nil) -> Result {
        let protection = ProtectedAccounts(policy)
        var accountsByKey: [String: [DirectoryAccount]] = [:]
        for account in accounts { if let key = account.joinKey { accountsByKey[key, default: []].append(account) } }
        var equipmentByKey: [String: [EquipmentEntry]] = [:]
        for entry in equipment where entry.state == .active { if let key = entry.assignedTo { equipmentByKey[key, default: []].append(entry) } }
        var items: [PlanItem] = []
        var leavers: [Leaver] = []
        var notes: [String] = []
        var notYet = 0
        for person in people.sorted(by: { ($0.kind.rawValue, $0.surname, $0.forename, $0.joinKey) < ($1.kind.rawValue, $1.surname, $1.forename, $1.joinKey) }) {
            guard person.status == .left, person.offboarding != .offboarded else { continue }
            if let leftOn = person.leftOn, leftOn > today {
                notYet += 1
                continue
            }
            var accountNotes: [String] = []
            let theirs = accountsByKey[person.joinKey] ?? []
            if theirs.isEmpty { accountNotes.append("no directory account carries \(person.joinKey)") }
            for account in theirs {
                if let rule = protection.rule(protecting: account) {
                    accountNotes.append("\(account.name) is protected (\(rule)): left alone; check it by hand")
                    continue
                }
                if account.isDisabled {
                    accountNotes.append("\(account.name) is already disabled")
                    continue
                }
                items.append(PlanItem(position: items.count + 1, dn: account.dn, uid: account.uid, joinKey: person.joinKey, kind: account.kind,
                                      action: .disable, reason: .leaver, detail: person.leavingPhrase))
            }
            leavers.append(Leaver(person: person, accountNotes: accountNotes,
                                  equipment: (equipmentByKey[person.joinKey] ?? []).map(\.assetTag).sorted(),
                                  licenceNotes: Self.licenceNotes(for: person, licences)))
        }
        if notYet > 0 { notes.append("\(notYet) leaver(s) with a leaving date still to come: not in this plan.") }
        let protectedCount = leavers.reduce(0) { $0 + $1.accountNotes.filter { $0.contains("is protected") }.count }
        if protectedCount > 0 { notes.append("\(protectedCount) protected account(s) of leavers left alone: see their checklists.") }
        return Result(items: items, leavers: leavers, notes: notes)
    }
}
