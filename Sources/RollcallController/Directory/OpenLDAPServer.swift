import Foundation
import LDAPKit

/// OpenLDAP with the ppolicy overlay: disabled is `pwdAccountLockedTime: 000001010000Z`, a forced change is
/// `pwdReset: TRUE`, the last log-on comes from last-bind tracking, passwords are set with the Password Modify
/// extended operation so the server hashes them.
struct OpenLDAPServer: DirectoryServer {
    let configuration: DirectoryConfiguration

    var accountAttributes: [String] {
        ["uid", "cn", "displayName", "mail"] + configuration.joinKeyAttributes
            + ["createTimestamp", "pwdChangedTime", "pwdReset", "pwdAccountLockedTime", "pwdLastSuccess", "authTimestamp", "shadowExpire", "memberOf"]
    }

    func account(from entry: LDAPEntry, kind: AccountKind) -> DirectoryAccount {
        let lastBind = [entry.string("pwdLastSuccess"), entry.string("authTimestamp")].compactMap { $0.flatMap(GeneralizedTime.parse) }.max()
        var groups = entry.strings("memberOf")
        groups.sort()
        let locked = entry.string("pwdAccountLockedTime")
        let shadowExpire = entry.string("shadowExpire").flatMap { Int($0) }
        return DirectoryAccount(
            dn: entry.dn, uid: entry.string("uid"), joinKey: configuration.joinKey(of: entry),
            kind: kind, displayName: entry.string("displayName") ?? entry.string("cn"), mail: entry.string("mail"),
            createdAt: entry.string("createTimestamp").flatMap(GeneralizedTime.parse),
            passwordChangedAt: entry.string("pwdChangedTime").flatMap(GeneralizedTime.parse),
            passwordReset: entry.string("pwdReset")?.uppercased() == "TRUE",
            lockedTime: locked, lastBindAt: lastBind, shadowExpire: shadowExpire, groups: groups,
            isDisabled: locked == GeneralizedTime.administrativeLock,
            // shadowExpire -1 (or absent) is "never"; 0 is not a day anyone sets.
            expiresAt: shadowExpire.flatMap { $0 > 0 ? Date(timeIntervalSince1970: Double($0) * 86_400) : nil })
    }

    var recordsEveryLogon: Bool { false }

    /// The `contextCSN` values of the naming contexts holding the configured bases (the syncprov overlay keeps
    /// them; they move on every write, last-bind updates included), or nil when the server keeps none.
    func changeMarker(_ directory: LDAPConnection) async throws -> String? {
        guard let root = try await directory.entry(dn: "", attributes: ["namingContexts"]) else { return nil }
        let bases = configuration.staffBaseDNs + configuration.pupilBaseDNs + configuration.groupBaseDNs
        let lowered = bases.map { ProtectedAccounts.normalise($0) }
        var values: [String] = []
        for context in root.strings("namingContexts") {
            let suffix = ProtectedAccounts.normalise(context)
            guard lowered.contains(where: { $0 == suffix || $0.hasSuffix("," + suffix) }) else { continue }
            guard let csn = try await directory.entry(dn: context, attributes: ["contextCSN"])?.strings("contextCSN"), !csn.isEmpty else { return nil }
            values += csn.map { "\(context)=\($0)" }
        }
        return values.isEmpty ? nil : values.sorted().joined(separator: " ")
    }

    /// groupOfNames, groupOfUniqueNames and posixGroup under the group bases. OpenLDAP has no standard way to follow
    /// nested groups, so protected groups are matched on direct membership (and `memberOf`, where the overlay runs).
    func groups(_ directory: LDAPConnection, protectedGroups: [String], each: (DirectoryGroup) async throws -> Void) async throws {
        for base in configuration.groupBaseDNs {
            for try await group in directory.search(
                base: base, filter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))",
                attributes: ["cn", "member", "uniqueMember", "memberUid"], pageSize: configuration.pageSize) {
                try await each(DirectoryGroup(dn: group.dn, cn: group.string("cn"), memberDNs: group.strings("member") + group.strings("uniqueMember"),
                                              memberUIDs: group.strings("memberUid")))
            }
        }
    }

    func passwordPolicyFindings(_ directory: LDAPConnection, school: PasswordRotationPolicy) async throws -> [PasswordAudit.Finding] {
        PasswordPolicyEntry.findings(try await PasswordPolicyEntry.read(from: directory), school: school)
    }

    var stateAttributes: [String] { ["uid", "objectClass", "pwdAccountLockedTime", "pwdReset", "shadowExpire", "memberOf"] }

    /// Matched by name or DN against `memberOf` and the synced groups: nothing to look up.
    func protectedGroups(_ names: [String], on directory: LDAPConnection) async throws -> [String] {
        names
    }

    func currentGroups(of entry: LDAPEntry, on directory: LDAPConnection, protectedGroups: [String]) async throws -> [String] {
        entry.strings("memberOf")
    }

    func disable(_ entry: LDAPEntry, on directory: LDAPConnection, policy: AccountsPolicy, now: Date) async throws -> DirectoryChange {
        var changes: [LDAPModification] = []
        var said: [String] = []
        if entry.string("pwdAccountLockedTime") != GeneralizedTime.administrativeLock {
            changes.append(.replace("pwdAccountLockedTime", [GeneralizedTime.administrativeLock]))
            said.append("locked (pwdAccountLockedTime: \(GeneralizedTime.administrativeLock))")
        }
        if policy.setShadowExpire, entry.string("shadowExpire").flatMap({ Int($0) }).map({ $0 > 1 }) ?? true {
            if !entry.strings("objectClass").contains(where: { $0.lowercased() == "shadowaccount" }) {
                changes.append(.add("objectClass", ["shadowAccount"]))
            }
            // 1 = 2 January 1970: expired, whatever the day today.
            changes.append(.replace("shadowExpire", ["1"]))
            said.append("shadowExpire: 1")
        }
        guard !changes.isEmpty else { return .alreadyInEffect("already disabled") }
        try await directory.modify(dn: entry.dn, changes)
        return .done(said.joined(separator: ", "))
    }

    func forcePasswordChange(_ entry: LDAPEntry, on directory: LDAPConnection) async throws -> DirectoryChange {
        if entry.string("pwdReset")?.uppercased() == "TRUE" { return .alreadyInEffect("already must change the password at next log-on") }
        try await directory.modify(dn: entry.dn, [.replace("pwdReset", ["TRUE"])])
        return .done("must change the password at next log-on (pwdReset: TRUE)")
    }

    func create(_ account: NewAccount, dn: String, password: String, on directory: LDAPConnection) async throws {
        try await directory.add(dn: dn, attributes: account.attributes.map { ($0.name, $0.values) })
        try await setTemporaryPassword(dn: dn, password: password, on: directory)
    }

    /// Through the server (Password Modify), which hashes it; `pwdReset` makes it temporary.
    func setTemporaryPassword(dn: String, password: String, on directory: LDAPConnection) async throws {
        try await directory.setPassword(dn: dn, newPassword: password)
        try await directory.modify(dn: dn, [.replace("pwdReset", ["TRUE"])])
    }

    func join(group: String, dn: String, uid: String, on directory: LDAPConnection) async throws -> Bool? {
        guard let entry = try await directory.entry(dn: group, attributes: ["objectClass", "member", "uniqueMember", "memberUid"]) else { return nil }
        let classes = Set(entry.strings("objectClass").map { $0.lowercased() })
        let (attribute, value) = classes.contains("posixgroup") ? ("memberUid", uid)
            : classes.contains("groupofuniquenames") ? ("uniqueMember", dn) : ("member", dn)
        if entry.strings(attribute).contains(where: { $0.lowercased() == value.lowercased() }) { return false }
        try await directory.modify(dn: group, [.add(attribute, [value])])
        return true
    }

    func newAccount(for person: Person, uid: String, ou: String, policy: JoinersPolicy, takenDNs: Set<String>) -> (dn: String, account: NewAccount) {
        let staff = person.kind == .staff
        var attributes: [NewAccount.Attribute] = [
            .init(name: "objectClass", values: policy.objectClasses), .init(name: "uid", values: [uid]),
            .init(name: "cn", values: [person.name]), .init(name: "sn", values: [person.surname]),
            .init(name: "givenName", values: [person.forename]), .init(name: configuration.joinKey, values: [person.joinKey]),
        ]
        if let email = person.email { attributes.append(.init(name: "mail", values: [email])) }
        if let role = person.role { attributes.append(.init(name: staff ? "title" : "departmentNumber", values: [role])) }
        return ("uid=\(LDAPDN.escape(uid)),\(ou)", NewAccount(attributes: attributes, groups: staff ? policy.staffGroups : policy.pupilGroups,
                                                               forename: person.forename, surname: person.surname, email: person.email))
    }

    var maximumUIDLength: Int { 64 }
}
