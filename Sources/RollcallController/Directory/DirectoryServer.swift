import Foundation
public import LDAPKit

/// Which kind of server `[directory]` points at: `kind = "openldap"` (the default) or `kind = "active-directory"`
/// (Windows AD or Samba AD).
public enum DirectoryKind: String, Sendable, Equatable, Codable, CaseIterable {
    case openldap
    case activeDirectory = "active-directory"
}

/// What one plan step did to an entry, in words for the plan and the audit log.
enum DirectoryChange: Sendable, Equatable {
    case done(String)
    case alreadyInEffect(String)
    case failed(String)

    var text: String {
        switch self {
        case .done(let text), .alreadyInEffect(let text), .failed(let text): text
        }
    }

    /// The change is in effect, whether made now or before.
    var isInEffect: Bool {
        if case .failed = self { false } else { true }
    }
}

/// One group as the sync reads it: its members by DN and, for posixGroup, by uid.
struct DirectoryGroup: Sendable {
    var dn: String
    var cn: String?
    var memberDNs: [String]
    var memberUIDs: [String] = []
}

/// How Rollcall reads and changes people on one kind of directory server.
///
/// OpenLDAP with ppolicy and Active Directory keep the same facts (disabled, must change the password, last log-on,
/// password age) in different attributes and change them differently. This protocol is the one place that knows
/// which: the planners, the mass-change threshold, protection and the audit log above it see only
/// ``DirectoryAccount`` and plan items, and never name an attribute.
///
/// Two conformances, ``OpenLDAPServer`` and ``ActiveDirectoryServer``, both tested against the real server
/// (slapd, Samba AD). Do not declare others.
protocol DirectoryServer: Sendable {
    var configuration: DirectoryConfiguration { get }

    // MARK: Reading

    /// What to ask for when reading accounts (operational attributes must be named; passwords never are).
    var accountAttributes: [String] { get }
    /// One person's state from their entry.
    func account(from entry: LDAPEntry, kind: AccountKind) -> DirectoryAccount
    /// Whether every account's last log-on is recorded whatever the server's configuration (AD does; OpenLDAP only
    /// with last-bind tracking turned on).
    var recordsEveryLogon: Bool { get }
    /// A value that moves whenever anything in the directory changes, or nil when the server keeps none: then an
    /// unchanged value since the last sync means nothing need be read.
    func changeMarker(_ directory: LDAPConnection) async throws -> String?
    /// The groups under the configured group bases with their members, and the members (nested groups followed,
    /// where the server can) of `protectedGroups` (names or DNs) wherever those groups are.
    func groups(_ directory: LDAPConnection, protectedGroups: [String], each: (DirectoryGroup) async throws -> Void) async throws
    /// The domain's or the ppolicy overlay's password rules against the school's.
    func passwordPolicyFindings(_ directory: LDAPConnection, school: PasswordRotationPolicy) async throws -> [PasswordAudit.Finding]

    // MARK: Changing

    /// What to read of an entry, right before changing it, to see what is already in effect.
    var stateAttributes: [String] { get }
    /// The protected groups (names or DNs, with the built-in administrative ones) as the server can check
    /// membership of them: asked once per plan apply, handed to ``currentGroups(of:on:protectedGroups:)`` per item.
    func protectedGroups(_ names: [String], on directory: LDAPConnection) async throws -> [String]
    /// The groups the entry is in now, as far as protection needs to know (nested membership of `protectedGroups`,
    /// from ``protectedGroups(_:on:)``, included where the server can tell).
    func currentGroups(of entry: LDAPEntry, on directory: LDAPConnection, protectedGroups: [String]) async throws -> [String]
    /// Stops the account from logging on, writing only what is not already so.
    func disable(_ entry: LDAPEntry, on directory: LDAPConnection, policy: AccountsPolicy, now: Date) async throws -> DirectoryChange
    /// Makes the person change their password at next log-on.
    func forcePasswordChange(_ entry: LDAPEntry, on directory: LDAPConnection) async throws -> DirectoryChange
    /// Adds a joiner's entry with a temporary password that must be changed at first log-on.
    func create(_ account: NewAccount, dn: String, password: String, on directory: LDAPConnection) async throws
    /// Gives an existing entry (left by an interrupted apply) a new temporary password, to be changed at next log-on.
    func setTemporaryPassword(dn: String, password: String, on directory: LDAPConnection) async throws
    /// Adds the entry to a group; false when it already was a member.
    func join(group: String, dn: String, uid: String, on directory: LDAPConnection) async throws -> Bool?
    /// The entry a joiners plan would add for `person`, and its DN under `ou`; `takenDNs` (normalised) are avoided.
    func newAccount(for person: Person, uid: String, ou: String, policy: JoinersPolicy, takenDNs: Set<String>) -> (dn: String, account: NewAccount)
    /// The longest uid (login name) the server takes.
    var maximumUIDLength: Int { get }
}

extension DirectoryConfiguration {
    /// The implementation for this directory's kind.
    var server: any DirectoryServer {
        switch kind {
        case .openldap: OpenLDAPServer(configuration: self)
        case .activeDirectory: ActiveDirectoryServer(configuration: self)
        }
    }

    /// The attributes that may carry the HR join key, in the order they are tried.
    var joinKeyAttributes: [String] { [joinKey] + joinKeyFallbacks }

    /// The HR join key of an entry: the first of ``joinKeyAttributes`` it has.
    func joinKey(of entry: LDAPEntry) -> String? {
        for attribute in joinKeyAttributes {
            if let value = entry.string(attribute).map(DirectorySync.trimmingSpaces), !value.isEmpty { return value }
        }
        return nil
    }
}

/// The first RDN of a DN (`uid=jsmith` of `uid=jsmith,ou=staff,...`), for moving an entry under another parent.
/// An escaped comma (`CN=Smith\, Jane`) stays inside the RDN.
func firstRDN(_ dn: String) -> String {
    var escaped = false
    var end = dn.endIndex
    for index in dn.indices {
        let character = dn[index]
        if escaped { escaped = false; continue }
        if character == "\\" { escaped = true; continue }
        if character == "," { end = index; break }
    }
    return String(dn[..<end])
}

extension DirectoryConfiguration {
    /// What the directory's own password rules lack against the school's: the ppolicy entries (OpenLDAP), or the
    /// domain's policy and its fine-grained policies (Active Directory).
    public func passwordPolicyFindings(_ directory: LDAPConnection, school: PasswordRotationPolicy) async throws -> [PasswordAudit.Finding] {
        try await server.passwordPolicyFindings(directory, school: school)
    }
}
