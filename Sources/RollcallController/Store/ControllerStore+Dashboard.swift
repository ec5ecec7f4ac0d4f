import Foundation
import SQLKit

/// Counts the overview and the governors' report need, asked of SQL so they do not load the estate row by row.
extension ControllerStore {
    /// USB insertions (add and present) per device since `since`, and how many of them unapproved.
    func usbInsertionCounts(since: Date) async throws -> [(String, (all: Int, unapproved: Int))] {
        try await withConnection { db in
            try await db.raw("""
                SELECT device_id, COUNT(*) AS total, SUM(CASE WHEN approved = 0 THEN 1 ELSE 0 END) AS unapproved FROM usb_events
                WHERE action <> 'remove' AND occurred_at >= \(bind: since.millisecondsSince1970) GROUP BY device_id
                """).all().map { row in
                (try row.decode(column: "device_id", as: String.self),
                 (try row.decode(column: "total", as: Int.self), try row.decode(column: "unapproved", as: Int?.self) ?? 0))
            }
        }
    }

    /// Insertions between two times: all, approved, unapproved and blocked.
    func usbInsertionTotals(from start: Date, to end: Date) async throws -> USBInsertionTotals {
        try await withConnection { db in
            guard let row = try await db.raw("""
                SELECT COUNT(*) AS total, SUM(CASE WHEN approved = 0 THEN 1 ELSE 0 END) AS unapproved,
                       SUM(CASE WHEN blocked <> 0 THEN 1 ELSE 0 END) AS blocked FROM usb_events
                WHERE action <> 'remove' AND occurred_at >= \(bind: start.millisecondsSince1970) AND occurred_at < \(bind: end.millisecondsSince1970)
                """).first() else { return USBInsertionTotals() }
            let total = try row.decode(column: "total", as: Int.self)
            let unapproved = try row.decode(column: "unapproved", as: Int?.self) ?? 0
            return USBInsertionTotals(total: total, approved: total - unapproved, unapproved: unapproved,
                                      blocked: try row.decode(column: "blocked", as: Int?.self) ?? 0)
        }
    }

    /// How many rows of `table` have `column` in each of the half-open periods: one indexed range count each, the
    /// same SQL on SQLite and PostgreSQL.
    func counts(in table: String, column: String, periods: [DateInterval], where condition: String? = nil) async throws -> [Int] {
        try await withConnection { db in
            var counts: [Int] = []
            for period in periods {
                var query = db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table)
                    .where(SQLIdentifier(column), .greaterThanOrEqual, SQLBind(period.start.millisecondsSince1970))
                    .where(SQLIdentifier(column), .lessThan, SQLBind(period.end.millisecondsSince1970))
                if let condition { query = query.where(SQLRaw(condition)) }
                counts.append(try await query.first(decodingColumn: "n", as: Int.self) ?? 0)
            }
            return counts
        }
    }

    /// Devices that have reported, and how many within `since`.
    func deviceCounts(reportingSince since: Date) async throws -> (total: Int, reporting: Int) {
        try await withConnection { db in
            guard let row = try await db.raw("""
                SELECT COUNT(*) AS total, SUM(CASE WHEN last_seen >= \(bind: since.millisecondsSince1970) THEN 1 ELSE 0 END) AS reporting FROM devices
                WHERE revoked_at IS NULL
                """).first() else { return (0, 0) }
            return (try row.decode(column: "total", as: Int.self), try row.decode(column: "reporting", as: Int?.self) ?? 0)
        }
    }

    /// Records today's compliance figures (one row a day, the latest look wins): what "compliance over time" draws.
    func recordComplianceDay(_ day: ComplianceDay) async throws {
        try await withConnection { db in
            try await db.delete(from: "compliance_history").where("day", .equal, day.day).run()
            try await db.insert(into: "compliance_history")
                .columns("day", "devices", "reporting", "screen_lock_pass", "encryption_pass", "accounts", "zombie_accounts", "overdue_passwords")
                .values(SQLBind(day.day), SQLBind(day.devices), SQLBind(day.reporting), SQLBind(day.screenLockPass), SQLBind(day.encryptionPass),
                        SQLBind(day.accounts), SQLBind(day.zombieAccounts), SQLBind(day.overduePasswords))
                .run()
        }
    }

    /// The recorded days since `since` (an ISO date), oldest first.
    func complianceHistory(since: String) async throws -> [ComplianceDay] {
        try await withConnection { db in
            try await db.select().column(SQLLiteral.all).from("compliance_history").where("day", .greaterThanOrEqual, since).orderBy("day")
                .all().map { row in
                    ComplianceDay(
                        day: try row.decode(column: "day", as: String.self), devices: try row.decode(column: "devices", as: Int.self),
                        reporting: try row.decode(column: "reporting", as: Int.self),
                        screenLockPass: try row.decode(column: "screen_lock_pass", as: Int.self),
                        encryptionPass: try row.decode(column: "encryption_pass", as: Int.self),
                        accounts: try row.decode(column: "accounts", as: Int.self),
                        zombieAccounts: try row.decode(column: "zombie_accounts", as: Int.self),
                        overduePasswords: try row.decode(column: "overdue_passwords", as: Int.self))
                }
        }
    }

    /// Leavers with a leaving date in the period, and when (if ever) each one's disable was applied: whether accounts
    /// were disabled on time. Join keys stay inside this function's callers; the governors' report only counts them.
    func leaverDisables(from start: Date, to end: Date) async throws -> [(leftOn: Date, disabledAt: Date?)] {
        let (first, last) = (Day(start).iso, Day(end.addingTimeInterval(-1)).iso)
        return try await withConnection { db in
            try await db.raw("""
                SELECT p.left_on, MIN(i.applied_at) AS disabled_at FROM people p
                LEFT JOIN plan_items i ON i.join_key = p.join_key AND i.action = 'disable' AND i.status = 'done'
                WHERE p.status = 'left' AND p.left_on >= \(bind: first) AND p.left_on <= \(bind: last)
                GROUP BY p.join_key, p.left_on
                """).all().compactMap { row in
                guard let left = Day(iso: try row.decode(column: "left_on", as: String.self)) else { return nil }
                return (left.date, try row.decode(column: "disabled_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)))
            }
        }
    }
}

public struct USBInsertionTotals: Sendable, Equatable, Codable {
    public var total = 0
    public var approved = 0
    public var unapproved = 0
    public var blocked = 0
}

/// One day's compliance figures.
public struct ComplianceDay: Sendable, Equatable, Codable {
    public var day: String
    public var devices: Int
    public var reporting: Int
    public var screenLockPass: Int
    public var encryptionPass: Int
    public var accounts: Int
    public var zombieAccounts: Int
    public var overduePasswords: Int
}
