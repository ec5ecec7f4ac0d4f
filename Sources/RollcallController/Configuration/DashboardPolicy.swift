/// `[dashboard]`: how people sign in to `rollcall serve`.
///
/// ```toml
/// [dashboard]
/// session_hours = 8                 # a school day; a session ends sooner on sign-out
/// lockout_failures = 5              # this many wrong passwords within lockout_minutes lock the name
/// lockout_minutes = 15
/// ldap_sign_in = true               # staff sign in with their directory password; roles come from groups
/// ldap_sign_in_attribute = "uid"    # sAMAccountName on Active Directory
/// technician_groups = ["cn=ict-support,ou=groups,dc=school,dc=example"]
/// esafety_officer_groups = ["cn=safeguarding,ou=groups,dc=school,dc=example"]
/// governor_groups = ["cn=governors,ou=groups,dc=school,dc=example"]
/// read_only_groups = []
/// ```
public struct DashboardPolicy: Sendable, Equatable {
    static let keys = [
        "session_hours", "lockout_failures", "lockout_minutes", "ldap_sign_in", "ldap_sign_in_attribute",
        "technician_groups", "esafety_officer_groups", "governor_groups", "read_only_groups",
    ]

    public var sessionHours = 8
    public var lockoutFailures = 5
    public var lockoutMinutes = 15
    /// Whether a name that is not a local dashboard user is tried against the school directory.
    public var ldapSignIn = false
    /// The attribute a person's sign-in name is looked up by; nil for the directory's login name (`uid` on
    /// OpenLDAP, `sAMAccountName` on Active Directory).
    public var ldapSignInAttribute: String?
    /// A directory group whose members get a role.
    public struct GroupRole: Sendable, Equatable {
        public var group: String
        public var role: DashboardRole

        public init(group: String, role: DashboardRole) {
            self.group = group
            self.role = role
        }
    }

    /// Most powerful first: someone in two mapped groups gets the stronger role.
    public var groupRoles: [GroupRole] = []

    public init() {}

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        if let hours = try reader.integer("dashboard", "session_hours") {
            guard (1...168).contains(hours) else { throw reader.fail("'dashboard.session_hours' must be between 1 and 168") }
            sessionHours = hours
        }
        if let failures = try reader.integer("dashboard", "lockout_failures") {
            guard (1...100).contains(failures) else { throw reader.fail("'dashboard.lockout_failures' must be between 1 and 100") }
            lockoutFailures = failures
        }
        if let minutes = try reader.integer("dashboard", "lockout_minutes") {
            guard (1...1440).contains(minutes) else { throw reader.fail("'dashboard.lockout_minutes' must be between 1 and 1440") }
            lockoutMinutes = minutes
        }
        ldapSignIn = try reader.boolean("dashboard", "ldap_sign_in") ?? false
        if let attribute = try reader.string("dashboard", "ldap_sign_in_attribute") {
            guard !attribute.isEmpty, attribute.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw reader.fail("'dashboard.ldap_sign_in_attribute' must be an attribute name such as uid or sAMAccountName")
            }
            ldapSignInAttribute = attribute
        }
        let order: [(String, DashboardRole)] = [
            ("technician_groups", .technician), ("esafety_officer_groups", .esafetyOfficer), ("read_only_groups", .readOnly),
            ("governor_groups", .governor),
        ]
        for (key, role) in order {
            for group in try reader.strings("dashboard", key) ?? [] {
                guard group.contains("=") else { throw reader.fail("'dashboard.\(key)' holds '\(group)', which is not a group DN like cn=ict,ou=groups,dc=school") }
                groupRoles.append(GroupRole(group: group, role: role))
            }
        }
        if ldapSignIn, groupRoles.isEmpty {
            throw reader.fail("'dashboard.ldap_sign_in' is true but no *_groups map a directory group to a role, so nobody could sign in")
        }
    }
}
