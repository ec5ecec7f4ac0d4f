public import Foundation

/// A stored list of directory changes, made by `rollcall accounts plan` or `rollcall passwords plan` and carried out
/// only by `rollcall plan apply`. Plans are what a technician reviews before the directory changes.
public struct Plan: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// Disable zombie, orphan and stale accounts.
        case accounts
        /// Force a password change at next log-on.
        case passwords
        /// Disable leavers' accounts; the plan also lists their equipment and licences (`rollcall offboard plan`).
        case offboarding
        /// Create new starters' accounts with temporary passwords (`rollcall accounts plan --joiners`).
        case joiners
    }

    public enum Status: String, Sendable, Codable {
        case planned, applying, applied
        /// Applied, but some items failed; applying again retries them.
        case incomplete
    }

    public var id: Int
    public var kind: Kind
    public var createdAt: Date
    public var createdBy: String
    /// Accounts in the store when the plan was made: the base of the mass-change threshold.
    public var totalAccounts: Int
    /// The most items this plan may change without `--accept-mass-change`.
    public var threshold: Int
    /// What the planner checked, skipped or protected, in sentences.
    public var notes: [String]
    public var status: Status
    public var items: [PlanItem]

    public var exceedsThreshold: Bool { items.count > threshold }
}

public struct PlanItem: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable {
        case disable
        case forcePasswordChange = "force-password-change"
        case create
    }

    public enum Reason: String, Sendable, Codable {
        /// The HR side says the person has left.
        case leaver
        /// No current HR record names this account.
        case orphan
        /// No log-on for longer than the configured number of days.
        case stale
        case passwordOverdue = "password-overdue"
        case passwordNeverChanged = "password-never-changed"
        /// A new starter in the HR export with no account yet.
        case joiner
    }

    public enum Status: String, Sendable, Codable {
        case pending, done, failed, skipped
    }

    public var position: Int
    public var dn: String
    public var uid: String?
    public var joinKey: String?
    public var kind: AccountKind
    public var action: Action
    public var reason: Reason
    /// The evidence, e.g. "on the leavers list, left 2026-08-31" or "last log-on 150 days ago".
    public var detail: String
    public var status: Status = .pending
    public var outcome: String?
    /// Where the account is now, after a move to the leavers OU.
    public var currentDN: String?
    public var appliedAt: Date?
    /// For `create`: the entry to add and the groups to join.
    public var newAccount: NewAccount?
}

/// A directory entry a joiners plan creates. The temporary password is not here: it is made when the plan is
/// applied and written only to the passwords file.
public struct NewAccount: Sendable, Codable, Equatable {
    /// Attributes in the order they are sent, e.g. objectClass, uid, cn, sn, givenName, mail, employeeNumber.
    public var attributes: [Attribute]
    /// Group DNs to add the account to.
    public var groups: [String]
    public var forename: String
    public var surname: String
    public var email: String?

    public struct Attribute: Sendable, Codable, Equatable {
        public var name: String
        public var values: [String]
    }
}
