public import Foundation

/// Decides which accounts to disable, and why: `rollcall accounts plan`.
///
/// In order, the first that applies: a **leaver** (the join key is on the leavers list, leaving date reached), an
/// **orphan** (a roster of everyone current is configured and no line names the account), **stale** (no log-on for
/// `stale_after_days`). Protected accounts and accounts already disabled are never in a plan. Everything the
/// planner could not check, and why, goes into the plan's notes, so a short plan is never mistaken for a clean one.
public struct AccountsPlanner: Sendable {
    public var policy: AccountsPolicy
    public var leavers: KeyListFile?
    public var roster: KeyListFile?
    /// Whether the directory records last binds (from the last sync).
    public var lastBindTracked: Bool
    /// The kinds of account the roster covers: only those can be orphans (an HR import of staff says nothing
    /// about pupils).
    public var rosterKinds: Set<AccountKind> = Set(AccountKind.allCases)
    public var now: Date

    public init(policy: AccountsPolicy, leavers: KeyListFile?, roster: KeyListFile?, lastBindTracked: Bool, now: Date = Date()) {
        self.policy = policy
        self.leavers = leavers
        self.roster = roster
        self.lastBindTracked = lastBindTracked
        self.now = now
    }

    /// The plan's items and notes, and the first moment after `now` at which the plan could come out differently
    /// from the same accounts and lists (a leaving date or a stale threshold reached); nil when none is ahead.
    public func plan(_ accounts: [DirectoryAccount]) -> (items: [PlanItem], notes: [String], holdsUntil: Date?) {
        var notes: [String] = []
        var holdsUntil: Date?
        func ahead(_ moment: Date) {
            if moment > now, holdsUntil.map({ moment < $0 }) ?? true { holdsUntil = moment }
        }
        let protection = ProtectedAccounts(policy)
        var leaversByKey: [String: KeyListFile.Entry] = [:]
        if let leavers {
            for entry in leavers.entries {
                if let date = entry.date, date > now {
                    ahead(date)
                    notes.append("\(entry.key) leaves on \(Self.day(date)): not disabled yet (\(leavers.path) line \(entry.line))")
                } else {
                    leaversByKey[entry.key] = entry
                }
            }
        } else {
            notes.append("No leavers list (accounts.leavers_file or --leavers): leavers were not checked.")
        }
        let current = roster.map { Set($0.entries.map(\.key)) }
        if current == nil { notes.append("No roster of current people (accounts.roster_file or --roster): orphans were not checked.") }
        let checkStale = policy.staleAfterDays > 0 && lastBindTracked
        if policy.staleAfterDays > 0, !lastBindTracked {
            notes.append("The directory records no log-on times (OpenLDAP: olcLastBind or the lastbind overlay): stale accounts were not checked.")
        }
        let staleAfter = Double(policy.staleAfterDays) * 86_400
        let staleBefore = now.addingTimeInterval(-staleAfter)

        var items: [PlanItem] = []
        var protectedNames: [String] = []
        var alreadyDisabled = 0
        var matchedLeavers = Set<String>()
        var protectedLeavers: [String] = []
        for account in accounts {
            if let key = account.joinKey { matchedLeavers.insert(key) }
            if let rule = protection.rule(protecting: account) {
                protectedNames.append("\(account.name) (\(rule))")
                if let key = account.joinKey, leaversByKey[key] != nil, !account.isDisabled { protectedLeavers.append("\(account.name) (\(key), \(rule))") }
                continue
            }
            if account.isDisabled {
                alreadyDisabled += 1
                continue
            }
            var reason: PlanItem.Reason?
            var detail = ""
            if let key = account.joinKey, let leaver = leaversByKey[key] {
                reason = .leaver
                detail = "\(key) is on the leavers list" + (leaver.date.map { ", left \(Self.day($0))" } ?? "")
            } else if let current, rosterKinds.contains(account.kind), !(account.joinKey.map(current.contains) ?? false) {
                reason = .orphan
                detail = account.joinKey.map { "no current HR record has \($0)" } ?? "the account has no join key, so no HR record can name it"
            } else if checkStale {
                if let last = account.lastBindAt, last < staleBefore {
                    reason = .stale
                    detail = "last log-on \(Self.days(from: last, to: now)) days ago (\(Self.day(last)))"
                } else if account.lastBindAt == nil, let created = account.createdAt, created < staleBefore {
                    reason = .stale
                    detail = "never logged on; created \(Self.days(from: created, to: now)) days ago"
                } else if let since = account.lastBindAt ?? account.createdAt {
                    ahead(since.addingTimeInterval(staleAfter))
                }
            }
            guard let reason else { continue }
            items.append(PlanItem(position: items.count + 1, dn: account.dn, uid: account.uid, joinKey: account.joinKey,
                                  kind: account.kind, action: .disable, reason: reason, detail: detail))
        }
        if !protectedNames.isEmpty {
            notes.append("Protected, never planned: " + protectedNames.sorted().joined(separator: ", ") + ".")
        }
        if !protectedLeavers.isEmpty {
            notes.append("On the leavers list but protected, so left alone: " + protectedLeavers.sorted().joined(separator: ", ")
                         + ". Check each by hand, and disable it there if it is right to.")
        }
        if alreadyDisabled > 0 { notes.append("\(alreadyDisabled) account(s) already disabled: nothing to do for them.") }
        let unmatched = leaversByKey.keys.filter { !matchedLeavers.contains($0) }.sorted()
        if !unmatched.isEmpty {
            notes.append("On the leavers list but matching no account: " + unmatched.joined(separator: ", ") + ".")
        }
        return (items, notes, holdsUntil)
    }

    /// `2026-08-31`, in UTC.
    static func day(_ date: Date) -> String {
        String(date.formatted(Date.ISO8601FormatStyle()).prefix(10))
    }

    static func days(from start: Date, to end: Date) -> Int {
        Int(end.timeIntervalSince(start) / 86_400)
    }
}

/// The configured protected set: DNs, uids and groups (by DN or cn). Checked when planning and again when applying.
public struct ProtectedAccounts: Sendable {
    let dns: Set<String>
    let uids: Set<String>
    /// Protected group DNs and names, normalised, each with its place in the list: the configured groups first, then
    /// the built-in ones, so an account in several is reported under the most telling (Domain Admins, not the
    /// Administrators group that nests it).
    let groups: [String: Int]

    /// Active Directory's administrative groups, protected whatever the configuration says: an account that can
    /// administer the domain is never disabled by a plan. A directory of another kind with groups of these names
    /// gets the same care.
    static let builtInGroups = ["Domain Admins", "Enterprise Admins", "Schema Admins", "Administrators"]

    public init(_ policy: AccountsPolicy) {
        dns = Set(policy.protectedDNs.map(Self.normalise))
        uids = Set(policy.protectedUIDs.map { $0.lowercased() })
        var groups: [String: Int] = [:]
        for (index, group) in (policy.protectedGroups + Self.builtInGroups).enumerated() where groups[Self.normalise(group)] == nil {
            groups[Self.normalise(group)] = index
        }
        self.groups = groups
    }

    /// Which rule protects the account, or nil.
    public func rule(protecting account: DirectoryAccount) -> String? {
        if !dns.isEmpty, dns.contains(Self.normalise(account.dn)) { return "protected DN" }
        if !uids.isEmpty, let uid = account.uid, uids.contains(uid.lowercased()) { return "protected uid" }
        var best: (rank: Int, rule: String)?
        for group in account.groups {
            let dn = Self.normalise(group)
            let match: (Int, String)? = if let rank = groups[dn] { (rank, "member of \(group)") }
                else if let cn = Self.firstRDNValue(dn), let rank = groups[cn] { (rank, "member of \(Self.firstRDNValue(group) ?? cn)") }
                else { nil }
            if let (rank, rule) = match, best.map({ rank < $0.rank }) ?? true { best = (rank, rule) }
        }
        return best?.rule
    }

    /// DNs compare without case and without spaces after commas (`cn=A, dc=x` is `cn=a,dc=x`). Done on Swift's own
    /// strings, not Foundation's trimming: it runs for every account and group on every look at the directory.
    static func normalise(_ dn: String) -> String {
        var result = ""
        result.reserveCapacity(dn.utf8.count)
        for (index, part) in dn.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            if index > 0 { result.append(",") }
            let start = part.firstIndex { !($0 == " " || $0 == "\t") } ?? part.endIndex
            let end = part[start...].lastIndex { !($0 == " " || $0 == "\t") }.map(part.index(after:)) ?? start
            result += part[start..<end]
        }
        return result.lowercased()
    }

    static func firstRDNValue(_ dn: String) -> String? {
        guard let first = dn.split(separator: ",").first, let equals = first.firstIndex(of: "=") else { return nil }
        return String(first[first.index(after: equals)...])
    }
}
