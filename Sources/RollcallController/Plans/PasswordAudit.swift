public import Foundation
public import LDAPKit

/// A `pwdPolicy` entry as the directory holds it (draft-behera ppolicy; OpenLDAP's overlay reads these).
public struct PasswordPolicyEntry: Sendable, Equatable, Codable {
    public var dn: String
    public var maxAgeSeconds: Int?
    public var minLength: Int?
    public var checkQuality: Int?
    public var mustChange: Bool?
    /// A quality-check module (OpenLDAP `pwdCheckModule`, or the `pwdUseCheckModule` flag with the module in cn=config).
    public var checkModule: String?

    public init(_ entry: LDAPEntry) {
        dn = entry.dn
        maxAgeSeconds = entry.string("pwdMaxAge").flatMap { Int($0) }
        minLength = entry.string("pwdMinLength").flatMap { Int($0) }
        checkQuality = entry.string("pwdCheckQuality").flatMap { Int($0) }
        mustChange = entry.string("pwdMustChange").map { $0.uppercased() == "TRUE" }
        checkModule = entry.string("pwdCheckModule") ?? (entry.string("pwdUseCheckModule")?.uppercased() == "TRUE" ? "pwdUseCheckModule" : nil)
    }

    static let attributes = ["pwdMaxAge", "pwdMinLength", "pwdCheckQuality", "pwdMustChange", "pwdCheckModule", "pwdUseCheckModule"]

    /// What the entries lack against the school's rules.
    static func findings(_ policies: [PasswordPolicyEntry], school: PasswordRotationPolicy) -> [PasswordAudit.Finding] {
        typealias Finding = PasswordAudit.Finding
        var findings: [Finding] = []
        if policies.isEmpty {
            findings.append(Finding(policy: "-", severity: .shortfall, message:
                "no pwdPolicy entry is readable: the ppolicy overlay is not configured, or the bind DN cannot read it"))
        }
        let maxAge = school.maxAgeDays * 86_400
        for policy in policies {
            func add(_ severity: Finding.Severity, _ message: String) {
                findings.append(Finding(policy: policy.dn, severity: severity, message: message))
            }
            switch policy.maxAgeSeconds {
            case nil, 0?: add(.shortfall, "pwdMaxAge is not set: passwords never expire (the school's policy: at most \(school.maxAgeDays) days)")
            case let seconds? where seconds > maxAge:
                add(.shortfall, "pwdMaxAge is \(seconds / 86_400) days; the school's policy is at most \(school.maxAgeDays)")
            default: break
            }
            if (policy.minLength ?? 0) < school.minLength {
                add(.shortfall, "pwdMinLength is \(policy.minLength.map(String.init) ?? "not set"); the school's policy is at least \(school.minLength)")
            }
            switch policy.checkQuality ?? 0 {
            case 0: add(.shortfall, "pwdCheckQuality is 0 or not set: new passwords are not checked at all")
            case 1: add(.advice, "pwdCheckQuality is 1: a password the server cannot check (already hashed) is accepted; 2 refuses it")
            default: break
            }
            if policy.mustChange != true {
                add(.shortfall, "pwdMustChange is not TRUE: a password set by an administrator need not be changed at next log-on")
            }
            if policy.checkModule == nil {
                add(.advice, "no quality-check module (pwdCheckModule, e.g. ppm): length is enforced but a mix of character types is not")
            }
        }
        return findings
    }

    /// Every `pwdPolicy` entry under the directory's naming contexts.
    public static func read(from directory: LDAPConnection) async throws -> [PasswordPolicyEntry] {
        let root = try await directory.entry(dn: "", attributes: ["namingContexts"])
        var policies: [PasswordPolicyEntry] = []
        for context in root?.strings("namingContexts") ?? [] {
            for try await entry in directory.search(base: context, filter: "(objectClass=pwdPolicy)", attributes: attributes) {
                policies.append(PasswordPolicyEntry(entry))
            }
        }
        return policies
    }
}

/// `rollcall passwords audit`: the directory's password policy against the school's, and whose password is due.
public struct PasswordAudit: Sendable, Codable, Equatable {
    public struct Finding: Sendable, Codable, Equatable {
        public enum Severity: String, Sendable, Codable {
            /// The policy falls short of the school's.
            case shortfall
            /// Worth knowing; not a breach on its own.
            case advice
        }

        public var policy: String
        public var severity: Severity
        public var message: String
    }

    public struct OverdueAccount: Sendable, Codable, Equatable {
        public var dn: String
        public var uid: String?
        public var kind: AccountKind
        public var reason: PlanItem.Reason
        public var passwordChangedAt: Date?
        public var ageDays: Int?
    }

    public var findings: [Finding]
    public var overdue: [OverdueAccount]
    /// Accounts the rule covers whose password is set never to expire (AD's `DONT_EXPIRE_PASSWORD`): a breach of
    /// the rotation rule even while the password is young.
    public var neverExpires: [String]
    /// Accounts whose temporary password is waiting to be changed (`pwdReset` already set).
    public var awaitingChange: [String]
    public var checkedAccounts: Int
    /// The first moment after `now` at which a checked password becomes overdue; nil when none will.
    public var holdsUntil: Date?

    /// The audit of an OpenLDAP directory's ppolicy entries.
    public init(policies: [PasswordPolicyEntry], accounts: [DirectoryAccount], school: PasswordRotationPolicy,
                protection: ProtectedAccounts, now: Date = Date()) {
        self.init(findings: PasswordPolicyEntry.findings(policies, school: school), accounts: accounts, school: school, protection: protection, now: now)
    }

    /// - Parameter policyFindings: what the directory's own rules lack against the school's
    ///   (``DirectoryServer/passwordPolicyFindings(_:school:)``).
    public init(findings policyFindings: [Finding], accounts: [DirectoryAccount], school: PasswordRotationPolicy,
                protection: ProtectedAccounts, now: Date = Date()) {
        var findings = policyFindings
        var overdue: [OverdueAccount] = []
        var awaiting: [String] = []
        var checked = 0
        var holdsUntil: Date?
        var neverExpires: [String] = []
        for account in accounts where school.appliesTo.contains(account.kind) && !account.isDisabled && protection.rule(protecting: account) == nil {
            checked += 1
            if account.passwordNeverExpires { neverExpires.append(account.name) }
            if account.passwordReset {
                awaiting.append(account.name)
                continue
            }
            guard let changed = account.passwordChangedAt else {
                overdue.append(OverdueAccount(dn: account.dn, uid: account.uid, kind: account.kind, reason: .passwordNeverChanged))
                continue
            }
            let age = Int(now.timeIntervalSince(changed) / 86_400)
            if age > school.maxAgeDays {
                overdue.append(OverdueAccount(dn: account.dn, uid: account.uid, kind: account.kind, reason: .passwordOverdue,
                                              passwordChangedAt: changed, ageDays: age))
            } else {
                // Overdue once its age in whole days passes the policy's.
                let due = changed.addingTimeInterval(Double(school.maxAgeDays + 1) * 86_400)
                if due > now, holdsUntil.map({ due < $0 }) ?? true { holdsUntil = due }
            }
        }
        if !neverExpires.isEmpty {
            findings.append(Finding(policy: "accounts", severity: .shortfall, message:
                "\(neverExpires.count) account(s) the rotation rule covers have a password set never to expire (userAccountControl 0x10000): "
                + neverExpires.sorted().joined(separator: ", ") + "; a passwords plan forcing a change clears the flag too"))
        }
        self.findings = findings
        self.overdue = overdue
        self.neverExpires = neverExpires.sorted()
        self.awaitingChange = awaiting.sorted()
        self.checkedAccounts = checked
        self.holdsUntil = holdsUntil
    }

    /// The plan's items: force a change at next log-on for every overdue account.
    public var planItems: [PlanItem] {
        overdue.enumerated().map { index, account in
            PlanItem(position: index + 1, dn: account.dn, uid: account.uid, joinKey: nil, kind: account.kind, action: .forcePasswordChange,
                     reason: account.reason,
                     detail: account.ageDays.map { "password \($0) days old" } ?? "no record of the password ever being changed")
        }
    }
}
