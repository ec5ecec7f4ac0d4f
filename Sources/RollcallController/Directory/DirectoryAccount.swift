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
    /// Must change the password at next log-on: OpenLDAP's `pwdReset: TRUE`, Active Directory's `pwdLastSet: 0`.
    public var passwordReset: Bool
    /// When the account was locked (OpenLDAP's `pwdAccountLockedTime` as the server holds it; AD's `lockoutTime` as
    /// GeneralizedTime), for a lockout after failures or OpenLDAP's administrative lock.
    public var lockedTime: String?
    /// The last successful log-on (OpenLDAP: `pwdLastSuccess` or the overlay's `authTimestamp`; AD: the later of
    /// `lastLogonTimestamp` and this DC's `lastLogon`).
    public var lastBindAt: Date?
    /// `shadowExpire`, days since 1970.
    public var shadowExpire: Int?
    /// DNs of the groups the account belongs to.
    public var groups: [String]
    /// Disabled for good by an administrator, as Rollcall's plans do it: OpenLDAP's `pwdAccountLockedTime:
    /// 000001010000Z`, AD's `userAccountControl` bit 0x2.
    public var isDisabled = false
    /// AD's `DONT_EXPIRE_PASSWORD` (`userAccountControl` 0x10000): the domain's maximum password age does not apply,
    /// a breach of the school's rotation rule for anyone the rule covers.
    public var passwordNeverExpires = false
    /// When the account stops working by itself (AD's `accountExpires`, OpenLDAP's `shadowExpire`); nil for never.
    public var expiresAt: Date?

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
    /// Whether log-ons are recorded (always, on AD; on OpenLDAP when any account carries a last-bind time): when
    /// not, the stale check would flag everyone, so it is skipped.
    public var lastBindTracked = false
    public var seconds = 0.0
    /// The directory's change marker when the sync started: the naming contexts' `contextCSN` (OpenLDAP with
    /// syncprov keeps it; it moves on every write, last-bind updates included) or the DC's `highestCommittedUSN`
    /// (Active Directory), and what was synced, so an unchanged directory need not be read again.
    public var contextCSN: String?
    public var scope: String?
    /// True when the directory's change marker showed nothing had changed since the last sync, so nothing was read.
    public var skippedUnchanged = false

    public init(url: String) {
        self.url = url
    }
}
