import Foundation

/// Each directory account as the school's policy sees it today: a zombie (a leaver's, an orphan's or a stale account
/// still enabled), a password overdue for its six-month change, protected, or fine. The same judgement as
/// `rollcall accounts plan` and `rollcall passwords audit`, without storing a plan.
struct AccountStanding: Sendable {
    var rows: [DashboardTable.Row]
    var notes: [String]
    var accounts: Int
    var zombies: Int
    var overduePasswords: Int
    /// Accounts the rotation rule covers (enabled, unprotected, of the kinds it applies to).
    var rotationChecked: Int

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
        let (items, planNotes) = sources.planner(policy: configuration.accounts, lastBindTracked: sync.lastBindTracked, now: now).plan(accounts)
        let protection = ProtectedAccounts(configuration.accounts)
        let audit = PasswordAudit(policies: [], accounts: accounts, school: configuration.passwords, protection: protection, now: now)
        var zombie: [String: String] = [:]
        for item in items { zombie[item.dn] = "\(item.reason.rawValue): \(item.detail)" }
        var overdue: [String: String] = [:]
        for account in audit.overdue {
            overdue[account.dn] = account.ageDays.map { "password \($0) days old (policy: \(configuration.passwords.maxAgeDays))" } ?? "password never changed"
        }
        let rows = accounts.map { account in
            let status = account.isDisabled ? "disabled" : (account.lockedTime != nil ? "locked" : (account.passwordReset ? "must change password" : "active"))
            let finding = zombie[account.dn] ?? overdue[account.dn]
            return DashboardTable.Row([
                .text(account.uid), .text(account.displayName), .text(account.kind.rawValue), .text(status), .date(account.passwordChangedAt),
                .number(account.passwordChangedAt.map { Int(now.timeIntervalSince($0) / 86_400) }), .date(account.lastBindAt), .text(finding),
                .text(protection.rule(protecting: account)), .text(account.dn),
            ], tone: zombie[account.dn] != nil ? "bad" : (finding != nil ? "warn" : nil))
        }
        return AccountStanding(rows: rows, notes: sources.notes + planNotes + ["From the last sync of \(sync.url): \(accounts.count) account(s)."],
                               accounts: accounts.count, zombies: zombie.count, overduePasswords: overdue.count, rotationChecked: audit.checkedAccounts)
    }
}
