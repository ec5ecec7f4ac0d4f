import Foundation
public import LDAPKit

/// `[directory]` in controller.toml: how to reach the school's LDAP directory and where its people are.
///
/// ```toml
/// [directory]
/// url = "ldap://dc1.school.internal"
/// tls = "starttls"                       # "starttls", or "none" (ldaps:// and ldapi:// need nothing here)
/// ca_file = "/etc/rollcall/directory-ca.pem"
/// bind_dn = "cn=rollcall,ou=system,dc=school,dc=internal"
/// password_file = "/etc/rollcall/directory.secret"   # mode 0600; never in this file
/// staff_base_dns = ["ou=staff,dc=school,dc=internal"]
/// pupil_base_dns = ["ou=pupils,dc=school,dc=internal"]
/// group_base_dns = ["ou=groups,dc=school,dc=internal"]
/// user_filter = "(|(objectClass=inetOrgPerson)(objectClass=account))"
/// join_key = "employeeNumber"
/// ```
///
/// For Active Directory (Windows or Samba), `kind = "active-directory"`; the defaults then follow AD: users are
/// `(&(objectCategory=person)(objectClass=user))`, the join key is `employeeID`, then `sAMAccountName`,
/// `userPrincipalName` and `mail` for an account without one. AD refuses passwords in clear text, so use an
/// `ldaps://` URL or StartTLS, and bind as `rollcall@SCHOOL.INTERNAL` or a DN:
/// ```toml
/// [directory]
/// kind = "active-directory"
/// url = "ldaps://dc1.school.internal"
/// ca_file = "/etc/rollcall/directory-ca.pem"
/// bind_dn = "rollcall@SCHOOL.INTERNAL"
/// password_file = "/etc/rollcall/directory.secret"
/// staff_base_dns = ["OU=Staff,OU=School,DC=school,DC=internal"]
/// pupil_base_dns = ["OU=Pupils,OU=School,DC=school,DC=internal"]
/// group_base_dns = ["OU=Groups,OU=School,DC=school,DC=internal"]
/// ```
public struct DirectoryConfiguration: Sendable, Equatable {
    public enum TLSMode: String, Sendable, Equatable {
        case none, starttls
    }

    static let keys = [
        "kind", "url", "tls", "ca_file", "bind_dn", "password_file", "timeout_seconds", "staff_base_dns", "pupil_base_dns",
        "group_base_dns", "user_filter", "join_key", "join_key_fallbacks", "page_size", "member_range_step",
    ]

    public var kind: DirectoryKind = .openldap
    public var url: String
    public var tls: TLSMode = .none
    public var caFile: String?
    /// Empty for SASL EXTERNAL over `ldapi://` (the controller running as root on the directory server).
    public var bindDN: String = ""
    public var passwordFile: String?
    public var timeoutSeconds = 10
    public var staffBaseDNs: [String] = []
    public var pupilBaseDNs: [String] = []
    public var groupBaseDNs: [String] = []
    public var userFilter = "(|(objectClass=inetOrgPerson)(objectClass=account)(objectClass=posixAccount))"
    /// The attribute that holds the HR join key (payroll number for staff, UPN for pupils).
    public var joinKey = "employeeNumber"
    /// Attributes tried in turn for an account without ``joinKey``.
    public var joinKeyFallbacks: [String] = []
    public var pageSize = 1000
    /// Active Directory: how many values of a group's `member` to ask for at once (AD's MaxValRange, 1,500 by
    /// default, is the most it gives).
    public var memberRangeStep = 1500

    public init(url: String, kind: DirectoryKind = .openldap) {
        self.url = url
        self.kind = kind
        if kind == .activeDirectory {
            userFilter = "(&(objectCategory=person)(objectClass=user))"
            joinKey = "employeeID"
            joinKeyFallbacks = ["sAMAccountName", "userPrincipalName", "mail"]
        }
    }

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        guard let url = try reader.string("directory", "url") else {
            throw reader.fail("[directory] needs 'url', e.g. url = \"ldap://dc1.school.internal\"")
        }
        var kind = DirectoryKind.openldap
        if let name = try reader.string("directory", "kind") {
            guard let parsed = DirectoryKind(rawValue: name) else {
                throw reader.fail("'directory.kind' must be \"openldap\" or \"active-directory\", not \"\(name)\"")
            }
            kind = parsed
        }
        self.init(url: url, kind: kind)
        if let mode = try reader.string("directory", "tls") {
            guard let parsed = TLSMode(rawValue: mode) else {
                throw reader.fail("'directory.tls' must be \"starttls\" or \"none\", not \"\(mode)\" (for TLS from the first byte use an ldaps:// url)")
            }
            tls = parsed
        }
        caFile = try reader.path("directory", "ca_file")
        bindDN = try reader.string("directory", "bind_dn") ?? ""
        passwordFile = try reader.path("directory", "password_file")
        if !bindDN.isEmpty, passwordFile == nil {
            throw reader.fail("'directory.bind_dn' is set but 'directory.password_file' is not: name the file that holds its password")
        }
        if bindDN.isEmpty, !url.hasPrefix("ldapi://") || kind == .activeDirectory {
            throw reader.fail(kind == .activeDirectory
                ? "'directory.bind_dn' is required for Active Directory: the service account as rollcall@REALM or its DN"
                : "'directory.bind_dn' is required unless the url is ldapi:// (SASL EXTERNAL)")
        }
        if let seconds = try reader.integer("directory", "timeout_seconds") {
            guard (1...600).contains(seconds) else { throw reader.fail("'directory.timeout_seconds' must be between 1 and 600") }
            timeoutSeconds = seconds
        }
        staffBaseDNs = try reader.strings("directory", "staff_base_dns") ?? []
        pupilBaseDNs = try reader.strings("directory", "pupil_base_dns") ?? []
        groupBaseDNs = try reader.strings("directory", "group_base_dns") ?? []
        if staffBaseDNs.isEmpty, pupilBaseDNs.isEmpty {
            throw reader.fail("[directory] needs 'staff_base_dns' or 'pupil_base_dns': where the school's people are")
        }
        if let filter = try reader.string("directory", "user_filter") {
            guard filter.hasPrefix("("), filter.hasSuffix(")") else {
                throw reader.fail("'directory.user_filter' must be an LDAP filter in parentheses, like (objectClass=inetOrgPerson)")
            }
            userFilter = filter
        }
        if let key = try reader.string("directory", "join_key") { joinKey = key }
        if let fallbacks = try reader.strings("directory", "join_key_fallbacks") { joinKeyFallbacks = fallbacks }
        if let step = try reader.integer("directory", "member_range_step") {
            guard (10...100_000).contains(step) else { throw reader.fail("'directory.member_range_step' must be between 10 and 100000") }
            memberRangeStep = step
        }
        if let size = try reader.integer("directory", "page_size") {
            guard (10...10000).contains(size) else { throw reader.fail("'directory.page_size' must be between 10 and 10000") }
            pageSize = size
        }
    }

    public var connectionOptions: LDAPConnectionOptions {
        LDAPConnectionOptions(security: tls == .starttls ? .startTLS : .asInURL, caFile: caFile, timeoutSeconds: timeoutSeconds,
                              domainScope: kind == .activeDirectory)
    }
}

/// `[accounts]`: the safety nets and the rules that decide which accounts to disable.
public struct AccountsPolicy: Sendable, Equatable {
    static let keys = [
        "protected_dns", "protected_uids", "protected_groups", "stale_after_days", "leavers_file", "roster_file",
        "set_shadow_expire", "set_account_expires", "leavers_ou", "mass_change_percent", "mass_change_max",
    ]

    /// Never in a plan: DNs (exact, case-insensitive), uids, and members of these groups (by DN or cn).
    public var protectedDNs: [String] = []
    public var protectedUIDs: [String] = []
    public var protectedGroups: [String] = []
    /// No bind for this many days makes an account stale; 0 turns the check off.
    public var staleAfterDays = 120
    /// Leavers' join keys, one per line (until the HR import provides them).
    public var leaversFile: String?
    /// Everyone current, one join key per line: accounts matching no line are orphans. No file, no orphan check.
    public var rosterFile: String?
    /// Also set `shadowExpire` (days since 1970) so PAM/nss logins stop even where ppolicy is not consulted.
    public var setShadowExpire = false
    /// Active Directory: also set `accountExpires` to the moment of disabling, so the account stays unusable if
    /// someone re-enables it by mistake.
    public var setAccountExpires = false
    /// Move disabled accounts here (an existing OU), out of the staff and pupil bases.
    public var leaversOU: String?
    /// A plan may change at most this share of all accounts, and at most `massChangeMax`, without
    /// `--accept-mass-change`. The smaller limit wins.
    public var massChangePercent = 5
    public var massChangeMax = 25

    public init() {}

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        protectedDNs = try reader.strings("accounts", "protected_dns") ?? []
        protectedUIDs = try reader.strings("accounts", "protected_uids") ?? []
        protectedGroups = try reader.strings("accounts", "protected_groups") ?? []
        if let days = try reader.integer("accounts", "stale_after_days") {
            guard days >= 0 else { throw reader.fail("'accounts.stale_after_days' must be 0 (off) or more") }
            staleAfterDays = days
        }
        leaversFile = try reader.path("accounts", "leavers_file")
        rosterFile = try reader.path("accounts", "roster_file")
        setShadowExpire = try reader.boolean("accounts", "set_shadow_expire") ?? false
        setAccountExpires = try reader.boolean("accounts", "set_account_expires") ?? false
        leaversOU = try reader.string("accounts", "leavers_ou")
        if let percent = try reader.integer("accounts", "mass_change_percent") {
            guard (0...100).contains(percent) else { throw reader.fail("'accounts.mass_change_percent' must be between 0 and 100") }
            massChangePercent = percent
        }
        if let maximum = try reader.integer("accounts", "mass_change_max") {
            guard maximum >= 0 else { throw reader.fail("'accounts.mass_change_max' must be 0 or more") }
            massChangeMax = maximum
        }
    }

    /// The most changes a plan may make among `totalAccounts` without `--accept-mass-change`.
    public func massChangeThreshold(totalAccounts: Int) -> Int {
        min(massChangeMax, totalAccounts * massChangePercent / 100)
    }
}

/// `[passwords]`: what the school's e-safety policy asks of passwords.
public struct PasswordRotationPolicy: Sendable, Equatable {
    static let keys = ["max_age_days", "min_length", "applies_to"]

    /// Staff change their password at least this often (six months).
    public var maxAgeDays = 180
    public var minLength = 6
    /// Which account kinds must rotate: "staff", "pupils".
    public var appliesTo: [AccountKind] = [.staff]

    public init() {}

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        if let days = try reader.integer("passwords", "max_age_days") {
            guard days > 0 else { throw reader.fail("'passwords.max_age_days' must be more than 0") }
            maxAgeDays = days
        }
        if let length = try reader.integer("passwords", "min_length") {
            guard length > 0 else { throw reader.fail("'passwords.min_length' must be more than 0") }
            minLength = length
        }
        if let kinds = try reader.strings("passwords", "applies_to") {
            var parsed: [AccountKind] = []
            for kind in kinds {
                guard let value = AccountKind(rawValue: kind) else {
                    throw reader.fail("'passwords.applies_to' takes \"staff\" and \"pupils\", not \"\(kind)\"")
                }
                parsed.append(value)
            }
            appliesTo = parsed
        }
    }
}

/// Which base an account was found under.
public enum AccountKind: String, Sendable, Codable, CaseIterable {
    case staff, pupils
}
