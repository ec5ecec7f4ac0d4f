import Foundation
import LDAPKit

/// Active Directory (Windows Server or Samba AD): disabled is bit 0x2 of `userAccountControl`, a forced change is
/// `pwdLastSet: 0`, times are FILETIMEs, passwords go in `unicodePwd` (quoted UTF-16LE, over TLS only), group
/// membership is read in ranges, and nested membership of the protected groups is followed (down from each group when
/// syncing, with LDAP_MATCHING_RULE_IN_CHAIN on the one entry about to change when applying).
struct ActiveDirectoryServer: DirectoryServer {
    let configuration: DirectoryConfiguration

    /// `userAccountControl` bits Rollcall reads or writes.
    enum AccountControl {
        static let disabled = 0x2
        static let normalAccount = 0x200
        static let dontExpirePassword = 0x10000
    }

    /// Nested membership: `(memberOf:1.2.840.113556.1.4.1941:=GROUP)` matches members of members. Cheap on one entry
    /// (a base-scope search), slow over a whole domain.
    static let inChain = "1.2.840.113556.1.4.1941"

    var accountAttributes: [String] {
        var seen = Set<String>()
        return (["sAMAccountName", "cn", "displayName", "mail"] + configuration.joinKeyAttributes
            + ["whenCreated", "userAccountControl", "pwdLastSet", "lastLogonTimestamp", "lastLogon", "lockoutTime", "accountExpires", "memberOf"])
            .filter { seen.insert($0.lowercased()).inserted }
    }

    func account(from entry: LDAPEntry, kind: AccountKind) -> DirectoryAccount {
        let control = entry.string("userAccountControl").flatMap { Int($0) } ?? 0
        let passwordLastSet = entry.string("pwdLastSet")
        // lastLogonTimestamp is replicated (up to 14 days behind); lastLogon is exact but this DC's alone.
        let lastLogon = [entry.string("lastLogonTimestamp"), entry.string("lastLogon")].compactMap { $0.flatMap(FileTime.date) }.max()
        var groups = entry.strings("memberOf")
        groups.sort()
        return DirectoryAccount(
            dn: entry.dn, uid: entry.string("sAMAccountName"), joinKey: configuration.joinKey(of: entry),
            kind: kind, displayName: entry.string("displayName") ?? entry.string("cn"), mail: entry.string("mail"),
            createdAt: entry.string("whenCreated").flatMap(GeneralizedTime.parse),
            passwordChangedAt: passwordLastSet.flatMap(FileTime.date),
            passwordReset: passwordLastSet == "0",
            lockedTime: entry.string("lockoutTime").flatMap(FileTime.date).map(GeneralizedTime.format),
            lastBindAt: lastLogon, groups: groups,
            isDisabled: control & AccountControl.disabled != 0,
            passwordNeverExpires: control & AccountControl.dontExpirePassword != 0,
            expiresAt: entry.string("accountExpires").flatMap(FileTime.date))
    }

    var recordsEveryLogon: Bool { true }

    /// The DC's `highestCommittedUSN`, with the DC's name: every change made on or replicated to that DC raises it.
    /// `lastLogon` alone (not replicated) does not, so an unchanged directory may hide a log-on that
    /// `lastLogonTimestamp` has yet to catch up with — days, against a stale threshold of months.
    func changeMarker(_ directory: LDAPConnection) async throws -> String? {
        guard let root = try await directory.entry(dn: "", attributes: ["highestCommittedUSN", "dsServiceName"]),
              let usn = root.string("highestCommittedUSN") else { return nil }
        return "\(root.string("dsServiceName") ?? directory.url)@\(usn)"
    }

    /// The domain's naming context (`DC=school,DC=test`), from the root DSE.
    func domain(_ directory: LDAPConnection) async throws -> String {
        guard let name = try await directory.entry(dn: "", attributes: ["defaultNamingContext"])?.string("defaultNamingContext") else {
            throw LDAPError(code: 32, operation: .search, target: "the root DSE of \(directory.url)",
                            diagnostic: "no defaultNamingContext: is this an Active Directory domain controller? (directory.kind = \"active-directory\")")
        }
        return name
    }

    /// The groups named in `protectedGroups` (by cn or DN) and the built-in administrative groups, as DNs.
    func protectedGroupDNs(_ directory: LDAPConnection, domain: String, protectedGroups: [String]) async throws -> [String] {
        let names = ProtectedAccounts.builtInGroups + protectedGroups.filter { !$0.contains("=") }
        let filter = "(&(objectClass=group)(|" + names.map { "(cn=\(LDAPFilter.escape($0)))" }.joined() + "))"
        var dns = try await directory.searchAll(base: domain, filter: filter, attributes: ["1.1"]).map(\.dn)
        dns += protectedGroups.filter { $0.contains("=") }
        var seen = Set<String>()
        return dns.filter { seen.insert(ProtectedAccounts.normalise($0)).inserted }
    }

    /// Groups under the group bases with every member (asked for in ranges of `member_range_step`, as AD hands out
    /// at most its MaxValRange at once), then each protected group with its nested members (``nestedMembers``).
    func groups(_ directory: LDAPConnection, protectedGroups: [String], each: (DirectoryGroup) async throws -> Void) async throws {
        let step = configuration.memberRangeStep
        for base in configuration.groupBaseDNs {
            for try await group in directory.search(base: base, filter: "(objectClass=group)", attributes: ["cn", "member;range=0-\(step - 1)"],
                                                     pageSize: configuration.pageSize) {
                let members = try await directory.rangedValues("member", of: group, step: step).map { String(decoding: $0, as: UTF8.self) }
                try await each(DirectoryGroup(dn: group.dn, cn: group.string("cn"), memberDNs: members))
            }
        }
        let domain = try await domain(directory)
        for group in try await protectedGroupDNs(directory, domain: domain, protectedGroups: protectedGroups) {
            try await each(DirectoryGroup(dn: group, cn: ProtectedAccounts.firstRDNValue(group),
                                          memberDNs: try await nestedMembers(of: group, directory, domain: domain)))
        }
    }

    /// Every member of `group` and of the groups nested in it, walking down from the group: each group's `member` (in
    /// ranges), then the groups whose `memberOf` names it, each group once so a loop of groups ends. Asking the DC
    /// for the domain's objects `(memberOf:1.2.840.113556.1.4.1941:=GROUP)` gives the same answer, but Samba (and
    /// AD on a large domain) evaluates it object by object: 3 s for one group among 4,000 users.
    func nestedMembers(of group: String, _ directory: LDAPConnection, domain: String) async throws -> [String] {
        let step = configuration.memberRangeStep
        var members: [String] = []
        var queue = [group]
        var visited = Set<String>()
        while let next = queue.popLast() {
            guard visited.insert(ProtectedAccounts.normalise(next)).inserted,
                  let entry = try await directory.entry(dn: next, attributes: ["member;range=0-\(step - 1)"]) else { continue }
            members += try await directory.rangedValues("member", of: entry, step: step).map { String(decoding: $0, as: UTF8.self) }
            let filter = "(&(objectClass=group)(memberOf=\(LDAPFilter.escape(next))))"
            queue += try await directory.searchAll(base: domain, filter: filter, attributes: ["1.1"]).map(\.dn)
        }
        return members
    }

    /// The domain's own policy (on the domain head) and every fine-grained password policy (PSO).
    func passwordPolicyFindings(_ directory: LDAPConnection, school: PasswordRotationPolicy) async throws -> [PasswordAudit.Finding] {
        let domain = try await domain(directory)
        guard let head = try await directory.entry(dn: domain, attributes: ["maxPwdAge", "minPwdLength", "pwdProperties"]) else {
            return [PasswordAudit.Finding(policy: domain, severity: .shortfall, message: "the domain head cannot be read: the bind account lacks the rights")]
        }
        var findings = Self.findings(policy: "domain policy (\(domain))", maxAge: head.string("maxPwdAge"), minLength: head.string("minPwdLength"),
                                     complex: head.string("pwdProperties").flatMap { Int($0) }.map { $0 & 1 != 0 }, school: school)
        let container = "CN=Password Settings Container,CN=System,\(domain)"
        let settings = ["cn", "msDS-MaximumPasswordAge", "msDS-MinimumPasswordLength", "msDS-PasswordComplexityEnabled",
                        "msDS-PasswordSettingsPrecedence", "msDS-PSOAppliesTo"]
        var psos: [LDAPEntry] = []
        do {
            psos = try await directory.searchAll(base: container, scope: .oneLevel, filter: "(objectClass=msDS-PasswordSettings)", attributes: settings)
        } catch {
            guard (error as? LDAPError)?.code == 32 else { throw error }
            psos = []  // no container: no fine-grained policies
        }
        for pso in psos.sorted(by: { (Int($0.string("msDS-PasswordSettingsPrecedence") ?? "") ?? 0) < (Int($1.string("msDS-PasswordSettingsPrecedence") ?? "") ?? 0) }) {
            let appliesTo = pso.strings("msDS-PSOAppliesTo").compactMap(ProtectedAccounts.firstRDNValue)
            let name = "fine-grained policy \(pso.string("cn") ?? pso.dn) (precedence \(pso.string("msDS-PasswordSettingsPrecedence") ?? "?"), "
                + (appliesTo.isEmpty ? "applies to nobody" : "applies to \(appliesTo.joined(separator: ", "))") + ")"
            findings += Self.findings(policy: name, maxAge: pso.string("msDS-MaximumPasswordAge"), minLength: pso.string("msDS-MinimumPasswordLength"),
                                      complex: pso.string("msDS-PasswordComplexityEnabled").map { $0.uppercased() == "TRUE" }, school: school)
        }
        return findings
    }

    static func findings(policy: String, maxAge: String?, minLength: String?, complex: Bool?, school: PasswordRotationPolicy) -> [PasswordAudit.Finding] {
        var findings: [PasswordAudit.Finding] = []
        func add(_ severity: PasswordAudit.Finding.Severity, _ message: String) {
            findings.append(PasswordAudit.Finding(policy: policy, severity: severity, message: message))
        }
        if let days = maxAge.flatMap(FileTime.intervalDays) {
            if days > school.maxAgeDays { add(.shortfall, "maximum password age is \(days) days; the school's policy is at most \(school.maxAgeDays)") }
        } else {
            add(.shortfall, "maximum password age is not set: passwords never expire (the school's policy: at most \(school.maxAgeDays) days)")
        }
        let length = minLength.flatMap { Int($0) } ?? 0
        if length < school.minLength {
            add(.shortfall, "minimum password length is \(length); the school's policy is at least \(school.minLength)")
        }
        if complex != true {
            add(.shortfall, "password complexity is off: a mix of upper case, lower case, digits and symbols is not required")
        }
        return findings
    }

    var stateAttributes: [String] { ["sAMAccountName", "userAccountControl", "pwdLastSet", "accountExpires", "memberOf"] }

    /// The DNs of the protected groups, found by name in the domain.
    func protectedGroups(_ names: [String], on directory: LDAPConnection) async throws -> [String] {
        try await protectedGroupDNs(directory, domain: try await domain(directory), protectedGroups: names)
    }

    /// `memberOf` (direct groups) and every protected group (by DN) the entry is in through nesting, asked of the DC
    /// now with the in-chain rule on this one entry.
    func currentGroups(of entry: LDAPEntry, on directory: LDAPConnection, protectedGroups: [String]) async throws -> [String] {
        var groups = entry.strings("memberOf")
        for group in protectedGroups {
            let filter = "(memberOf:\(Self.inChain):=\(LDAPFilter.escape(group)))"
            if try await !directory.searchAll(base: entry.dn, scope: .base, filter: filter, attributes: ["1.1"]).isEmpty { groups.append(group) }
        }
        return groups
    }

    /// Sets bit 0x2 on the value read a moment ago: the old value is deleted and the new one added in one modify,
    /// so the DC refuses it (noSuchAttribute) if anyone changed the flags in between, instead of overwriting them.
    func disable(_ entry: LDAPEntry, on directory: LDAPConnection, policy: AccountsPolicy, now: Date) async throws -> DirectoryChange {
        guard let old = entry.string("userAccountControl"), let control = Int(old) else {
            return .failed("\(entry.dn) has no userAccountControl: is it a user account?")
        }
        var said: [String] = []
        let already = "already disabled (userAccountControl \(old))"
        if control & AccountControl.disabled == 0 {
            let new = String(control | AccountControl.disabled)
            try await directory.modify(dn: entry.dn, [.delete("userAccountControl", [old]), .add("userAccountControl", [new])])
            said.append("disabled (userAccountControl \(old) → \(new))")
        }
        let disabledBefore = said.isEmpty
        if policy.setAccountExpires {
            let expires = entry.string("accountExpires").flatMap(FileTime.date)
            if expires.map({ $0 > now }) ?? true {
                try await directory.modify(dn: entry.dn, [.replace("accountExpires", [String(FileTime.ticks(now))])])
                said.append("accountExpires \(entry.string("accountExpires") ?? "unset") → \(GeneralizedTime.format(now))")
            }
        }
        if said.isEmpty { return .alreadyInEffect(already) }
        return .done(((disabledBefore ? [already] : []) + said).joined(separator: ", "))
    }

    /// `pwdLastSet: 0`; a password set never to expire would let the person keep theirs, so that flag goes too.
    func forcePasswordChange(_ entry: LDAPEntry, on directory: LDAPConnection) async throws -> DirectoryChange {
        var changes: [LDAPModification] = []
        var said: [String] = []
        if entry.string("pwdLastSet") != "0" {
            changes.append(.replace("pwdLastSet", ["0"]))
            said.append("must change the password at next log-on (pwdLastSet: 0)")
        }
        if let old = entry.string("userAccountControl"), let control = Int(old), control & AccountControl.dontExpirePassword != 0 {
            let new = String(control & ~AccountControl.dontExpirePassword)
            changes += [.delete("userAccountControl", [old]), .add("userAccountControl", [new])]
            said.append("password no longer set never to expire (userAccountControl \(old) → \(new))")
        }
        guard !changes.isEmpty else { return .alreadyInEffect("already must change the password at next log-on (pwdLastSet: 0)") }
        try await directory.modify(dn: entry.dn, changes)
        return .done(said.joined(separator: ", "))
    }

    /// `unicodePwd` is the password in quotes, UTF-16LE. AD takes it only over an encrypted connection; Rollcall
    /// refuses to send it in clear text even to a server that would take it.
    static func unicodePassword(_ password: String) -> [UInt8] {
        Array("\"\(password)\"".utf16).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
    }

    static func requireEncryption(_ directory: LDAPConnection, dn: String) throws(LDAPError) {
        guard directory.isEncrypted else {
            // confidentialityRequired (13): Rollcall's own refusal, not the server's.
            throw LDAPError(code: 13, operation: .setPassword, target: dn, diagnostic:
                "Rollcall sends a password to Active Directory only over TLS, and \(directory.url) is plain LDAP: set directory.tls = \"starttls\" "
                + "(with directory.ca_file) or use an ldaps:// URL")
        }
    }

    /// One add: the entry, its temporary password, enabled (512) and marked to change at first log-on
    /// (`pwdLastSet: 0`), so there is never an enabled account without a password, nor one with a lasting one.
    func create(_ account: NewAccount, dn: String, password: String, on directory: LDAPConnection) async throws {
        try Self.requireEncryption(directory, dn: dn)
        var attributes = account.attributes.map { LDAPEntry.Attribute(name: $0.name, values: $0.values.map { Array($0.utf8) }) }
        attributes += [
            LDAPEntry.Attribute(name: "unicodePwd", values: [Self.unicodePassword(password)]),
            LDAPEntry.Attribute(name: "userAccountControl", values: [Array(String(AccountControl.normalAccount).utf8)]),
            LDAPEntry.Attribute(name: "pwdLastSet", values: [Array("0".utf8)]),
        ]
        try await directory.add(dn: dn, entry: attributes)
    }

    func setTemporaryPassword(dn: String, password: String, on directory: LDAPConnection) async throws {
        try Self.requireEncryption(directory, dn: dn)
        try await directory.modify(dn: dn, [.replaceBinary("unicodePwd", [Self.unicodePassword(password)]), .replace("pwdLastSet", ["0"])])
    }

    /// Adds to `member`; a group of thousands is not read first: the DC says when the entry is already in it.
    func join(group: String, dn: String, uid: String, on directory: LDAPConnection) async throws -> Bool? {
        guard try await directory.entry(dn: group, attributes: ["1.1"]) != nil else { return nil }
        do {
            try await directory.modify(dn: group, [.add("member", [dn])])
            return true
        } catch {
            // attributeOrValueExists (Samba) or entryAlreadyExists (Windows): already a member.
            guard error.code == 20 || error.code == 68 else { throw error }
            return false
        }
    }

    /// `CN=Forename Surname` (with the login name added when another entry has that name), a `user` with the
    /// login name as `sAMAccountName` and `uid@suffix` as `userPrincipalName`.
    func newAccount(for person: Person, uid: String, ou: String, policy: JoinersPolicy, takenDNs: Set<String>) -> (dn: String, account: NewAccount) {
        let staff = person.kind == .staff
        var name = person.name
        var dn = "CN=\(LDAPDN.escape(name)),\(ou)"
        if takenDNs.contains(ProtectedAccounts.normalise(dn)) {
            name = "\(person.name) (\(uid))"
            dn = "CN=\(LDAPDN.escape(name)),\(ou)"
        }
        let suffix = policy.upnSuffix ?? Self.dnsName(of: ou)
        var attributes: [NewAccount.Attribute] = [
            .init(name: "objectClass", values: ["top", "person", "organizationalPerson", "user"]), .init(name: "cn", values: [name]),
            .init(name: "sAMAccountName", values: [uid]), .init(name: "userPrincipalName", values: ["\(uid)@\(suffix)"]),
            .init(name: "sn", values: [person.surname]), .init(name: "givenName", values: [person.forename]),
            .init(name: "displayName", values: [person.name]), .init(name: configuration.joinKey, values: [person.joinKey]),
        ]
        if let email = person.email { attributes.append(.init(name: "mail", values: [email])) }
        if let role = person.role { attributes.append(.init(name: staff ? "title" : "department", values: [role])) }
        return (dn, NewAccount(attributes: attributes, groups: staff ? policy.staffGroups : policy.pupilGroups,
                               forename: person.forename, surname: person.surname, email: person.email))
    }

    /// `school.test` from `OU=Staff,DC=school,DC=test`: the domain's DNS name, AD's default UPN suffix.
    static func dnsName(of dn: String) -> String {
        dn.split(separator: ",").compactMap { part -> String? in
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "dc" else { return nil }
            return pair[1].trimmingCharacters(in: .whitespaces).lowercased()
        }.joined(separator: ".")
    }

    /// `sAMAccountName` takes at most 20 characters.
    var maximumUIDLength: Int { 20 }
}
