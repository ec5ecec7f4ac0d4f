public import Foundation

/// One person's account as the last directory sync saw it, with the state the school's policy judges.
public struct DirectoryAccount: Sendable, Equatable, Codable {
    public var dn: String
    public var uid: String?
    /// The HR join key (the configured attribute, `employeeNumber` by default).
    public var joinKey: String?
    public var kind: AccountKind
    public var displayName: String?
    public var mail: String?
    public var createdAt: Date?
    public var passwordChangedAt: Date?
    /// `pwdReset: TRUE`: the password was set by an administrator and must be changed at next log-on.
    public var passwordReset: Bool
    /// `pwdAccountLockedTime` as the server holds it (a time for a lockout after failures, or the administrative lock).
    public var lockedTime: String?
    /// The last successful bind (`pwdLastSuccess` from OpenLDAP's core last-bind, `authTimestamp` from the overlay).
    public var lastBindAt: Date?
    /// `shadowExpire`, days since 1970.
    public var shadowExpire: Int?
    /// DNs of the groups the account belongs to.
    public var groups: [String]

    /// Disabled for good by an administrator (ppolicy's `000001010000Z`), as Rollcall's plans do it.
    public var isDisabled: Bool { lockedTime == GeneralizedTime.administrativeLock }

    public var name: String { uid ?? dn }
}

/// What one `rollcall directory sync` did.
public struct DirectorySyncSummary: Sendable, Equatable, Codable {
    public var url: String
    public var accountsRead = 0
    public var added = 0
    public var changed = 0
    public var unchanged = 0
    public var removed = 0
    public var groups = 0
    public var memberships = 0
    /// Whether any account carries a last-bind time; when none does, the server is not tracking binds and the stale
    /// check would flag everyone, so it is skipped.
    public var lastBindTracked = false
    public var seconds = 0.0
    /// The naming contexts' `contextCSN` when the sync started (OpenLDAP with syncprov keeps it; it moves on every
    /// write, last-bind updates included), and what was synced, so an unchanged directory need not be read again.
    public var contextCSN: String?
    public var scope: String?
    /// True when the directory's contextCSN showed nothing had changed since the last sync, so nothing was read.
    public var skippedUnchanged = false

    public init(url: String) {
        self.url = url
    }
}
