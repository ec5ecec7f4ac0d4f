import Foundation
import Synchronization

/// Each directory account as the school's policy sees it today: a zombie (a leaver's, an orphan's or a stale account
/// still enabled), a password overdue for its six-month change, protected, or fine. The same judgement as
/// `rollcall accounts plan` and `rollcall passwords audit`, without storing a plan.
struct AccountStanding: Sendable {
    /// The counts the overview shows.
    struct Figures: Sendable, Equatable {
        var accounts: Int
        var zombies: Int
        var overduePasswords: Int
        /// Accounts the rotation rule covers (enabled, unprotected, of the kinds it applies to).
        var rotationChecked: Int
    }

    var rows: [DashboardTable.Row]
    var notes: [String]
    var figures: Figures
    /// The first moment after the judgement at which the same accounts would be judged differently (a password
    /// comes due, a leaving date or a stale threshold is reached); nil when nothing is ahead.
    var holdsUntil: Date?

    static let columns: [DashboardTable.Column] = [
        .init("uid", "User"), .init("name", "Name"), .init("kind", "Kind"), .init("status", "Status"),
        .init("password_changed", "Password changed"), .init("password_age_days", "Age (days)", numeric: true), .init("last_log_on", "Last log-on"),
        .init("finding", "Finding"), .init("protected", "Protected by"), .init("dn", "DN"),
    ]

    /// Nil before the first directory sync.
    static func judge(store: ControllerStore, configuration: ControllerConfiguration, now: Date) async throws -> AccountStanding? {
        guard let sync = try await store.lastDirectorySync() else { return nil }
        let accounts = try await store.directoryAccounts()
        let sources = try await store.leaverSources(policy: configuration.accounts)
        let (items, planNotes, planHolds) = sources.planner(policy: configuration.accounts, lastBindTracked: sync.lastBindTracked, now: now)
            .plan(accounts)
        let protection = ProtectedAccounts(configuration.accounts)
        let audit = PasswordAudit(policies: [], accounts: accounts, school: configuration.passwords, protection: protection, now: now)
        var zombie: [String: String] = [:]
        for item in items { zombie[item.dn] = "\(item.reason.rawValue): \(item.detail)" }
        var overdue: [String: String] = [:]
        for account in audit.overdue {
            overdue[account.dn] = account.ageDays.map { "password \($0) days old (policy: \(configuration.passwords.maxAgeDays))" } ?? "password never changed"
        }
        let neverExpiring = Set(audit.neverExpires)
        let rows = accounts.map { account in
            let status = account.isDisabled ? "disabled" : account.expiresAt.map({ $0 <= now }) == true ? "expired"
                : account.lockedTime != nil ? "locked" : account.passwordReset ? "must change password" : "active"
            let finding = zombie[account.dn] ?? overdue[account.dn]
                ?? (account.passwordNeverExpires && neverExpiring.contains(account.name) ? "password set never to expire" : nil)
            return DashboardTable.Row([
                .text(account.uid), .text(account.displayName), .text(account.kind.rawValue), .text(status), .date(account.passwordChangedAt),
                .number(account.passwordChangedAt.map { Int(now.timeIntervalSince($0) / 86_400) }), .date(account.lastBindAt), .text(finding),
                .text(protection.rule(protecting: account)), .text(account.dn),
            ], tone: zombie[account.dn] != nil ? "bad" : (finding != nil ? "warn" : nil))
        }
        return AccountStanding(rows: rows, notes: sources.notes + planNotes + ["From the last sync of \(sync.url): \(accounts.count) account(s)."],
                               figures: Figures(accounts: accounts.count, zombies: zombie.count, overduePasswords: overdue.count,
                                                rotationChecked: audit.checkedAccounts),
                               holdsUntil: [planHolds, audit.holdsUntil].compactMap { $0 }.min())
    }
}

/// The overview's account figures, kept between looks while nothing they are judged from has changed: the store's
/// `accounts` revision (every write to the synced directory or the HR imports raises it), the leavers and roster
/// files, the policy, and the clock short of the next moment a password comes due or a threshold is reached. Judging
/// 60,000 accounts takes about a second; a look that finds them unchanged takes one query.
final class AccountFiguresMemo: Sendable {
    struct Key: Sendable, Equatable {
        var revision: Int64
        /// Path, size and modification time of each configured leavers or roster file.
        var files: [String]
        var accounts: AccountsPolicy
        var passwords: PasswordRotationPolicy
    }

    private struct Entry {
        var key: Key
        var figures: AccountStanding.Figures
        var judgedAt: Date
        var holdsUntil: Date?
    }

    private let entry = Mutex<Entry?>(nil)

    /// What the figures depend on, read before they are judged: a change made while judging shows at the next look.
    static func key(store: ControllerStore, configuration: ControllerConfiguration) async throws -> Key {
        let files = [configuration.accounts.leaversFile, configuration.accounts.rosterFile].compactMap { $0 }.map { path in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
            return "\(path) \(size) \(modified)"
        }
        return Key(revision: try await store.revision("accounts"), files: files, accounts: configuration.accounts, passwords: configuration.passwords)
    }

    /// The remembered figures, when they were judged from `key` and still hold at `now`.
    func figures(for key: Key, at now: Date) -> AccountStanding.Figures? {
        entry.withLock { entry in
            guard let entry, entry.key == key, now >= entry.judgedAt, entry.holdsUntil.map({ now < $0 }) ?? true else { return nil }
            return entry.figures
        }
    }

    func remember(_ standing: AccountStanding, key: Key, judgedAt: Date) {
        entry.withLock { $0 = Entry(key: key, figures: standing.figures, judgedAt: judgedAt, holdsUntil: standing.holdsUntil) }
    }
}
