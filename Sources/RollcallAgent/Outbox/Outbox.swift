#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The agent's durable queue: every report is written here before any attempt to send it, and removed only when
/// the controller acknowledged its id.
///
/// SQLite in WAL mode with `synchronous=FULL`: a row that `enqueue` returned for is on disk and survives
/// `kill -9` and power loss. Delivery is at-least-once; the controller de-duplicates by report id.
/// Reports the controller refused as invalid (a 4xx other than 408/429) are kept as `rejected` rather than
/// deleted or retried forever, so a technician can see them in `rollcall-agent status`.
///
/// Not `Sendable`: one owner (the agent's run loop or a CLI command) uses it at a time.
public final class Outbox {
    public struct Entry: Equatable, Sendable {
        public let sequence: Int64
        public let reportID: UUID
        public let kind: String
        public let body: [UInt8]
        public let attempts: Int
        public let queuedAt: Date
    }

    public struct Status: Equatable, Sendable, Codable {
        public var pending: Int
        public var rejected: Int
        public var oldestPendingQueuedAt: Date?
        public var lastUploadAt: Date?
        public var lastUploadReportID: String?
        public var lastError: String?
        public var lastErrorAt: Date?
        public var pendingReportIDs: [String]
    }

    private let database: SQLiteDatabase
    /// Oldest inventory snapshots beyond this many pending are dropped: a newer snapshot supersedes them.
    public let maxPendingSnapshots: Int

    public init(path: String, maxPendingSnapshots: Int = 500) throws(SQLiteError) {
        database = try SQLiteDatabase(path: path)
        self.maxPendingSnapshots = maxPendingSnapshots
        try database.execute("PRAGMA busy_timeout=5000")
        // Switching a new file to WAL needs it to itself, and SQLite answers BUSY at once rather than wait: the
        // daemon and `rollcall-agent status` may open a new outbox together, so try again for up to 5 s.
        for attempt in 1... {
            do {
                try database.execute("PRAGMA journal_mode=WAL")
                break
            } catch where error.isBusy && attempt < 100 {
                usleep(50_000)
            }
        }
        try database.execute("PRAGMA synchronous=FULL")
        try migrate()
    }

    /// Reads the schema version inside the write transaction: the daemon and `rollcall-agent status` may open a new
    /// outbox at the same moment, and a version read before the transaction is a stale snapshot (SQLITE_BUSY at
    /// BEGIN, or both creating the tables).
    private func migrate() throws(SQLiteError) {
        func version() throws(SQLiteError) -> Int {
            let statement = try database.prepare("PRAGMA user_version")
            return try statement.step() ? Int(statement.int(0)) : 0
        }
        try database.transaction { () throws(SQLiteError) in
            if try version() < 1 {
                try database.execute("""
                    CREATE TABLE outbox (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        report_id TEXT NOT NULL UNIQUE,
                        kind TEXT NOT NULL,
                        body BLOB NOT NULL,
                        queued_at INTEGER NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'rejected')),
                        last_error TEXT
                    );
                    CREATE TABLE agent_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    PRAGMA user_version = 1;
                    """)
            }
        }
    }

    /// Durably queues a report. Returns once the row is on disk.
    public func enqueue(reportID: UUID, kind: String, body: [UInt8], now: Date = Date()) throws(SQLiteError) {
        try database.transaction { () throws(SQLiteError) in
            let insert = try database.prepare(
                "INSERT OR IGNORE INTO outbox (report_id, kind, body, queued_at) VALUES (?, ?, ?, ?)")
            try insert.bind([.text(reportID.uuidString), .text(kind), .blob(body), .integer(Int64(now.timeIntervalSince1970))])
            _ = try insert.step()
            if kind == "inventory" {
                let trim = try database.prepare("""
                    DELETE FROM outbox WHERE kind = 'inventory' AND state = 'pending' AND sequence NOT IN
                    (SELECT sequence FROM outbox WHERE kind = 'inventory' AND state = 'pending' ORDER BY sequence DESC LIMIT ?)
                    """)
                try trim.bind([.integer(Int64(maxPendingSnapshots))])
                _ = try trim.step()
            }
        }
    }

    /// The oldest pending entry, which the uploader sends first so the controller sees reports in order.
    public func nextPending() throws(SQLiteError) -> Entry? {
        let select = try database.prepare(
            "SELECT sequence, report_id, kind, body, attempts, queued_at FROM outbox WHERE state = 'pending' ORDER BY sequence LIMIT 1")
        guard try select.step(), let id = select.text(1).flatMap(UUID.init(uuidString:)) else { return nil }
        return Entry(
            sequence: select.int(0), reportID: id, kind: select.text(2) ?? "", body: select.blob(3),
            attempts: Int(select.int(4)), queuedAt: Date(timeIntervalSince1970: Double(select.int(5))))
    }

    /// The controller acknowledged the report: forget it and remember when.
    public func acknowledge(_ reportID: UUID, now: Date = Date()) throws(SQLiteError) {
        try database.transaction { () throws(SQLiteError) in
            let delete = try database.prepare("DELETE FROM outbox WHERE report_id = ?")
            try delete.bind([.text(reportID.uuidString)])
            _ = try delete.step()
            try setState("last_upload_at", String(Int64(now.timeIntervalSince1970)))
            try setState("last_upload_report_id", reportID.uuidString)
            try clearState("last_error")
        }
    }

    /// Sending failed for a reason that may pass (network, 5xx): count the attempt and keep the report.
    public func recordFailure(_ reportID: UUID?, error: String, now: Date = Date()) throws(SQLiteError) {
        try database.transaction { () throws(SQLiteError) in
            if let reportID {
                let update = try database.prepare("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE report_id = ?")
                try update.bind([.text(error), .text(reportID.uuidString)])
                _ = try update.step()
            }
            try setState("last_error", error)
            try setState("last_error_at", String(Int64(now.timeIntervalSince1970)))
        }
    }

    /// The controller refused the report as invalid: keep it aside, never resend it.
    public func reject(_ reportID: UUID, reason: String) throws(SQLiteError) {
        let update = try database.prepare("UPDATE outbox SET state = 'rejected', last_error = ? WHERE report_id = ?")
        try update.bind([.text(reason), .text(reportID.uuidString)])
        _ = try update.step()
    }

    public func status() throws(SQLiteError) -> Status {
        let counts = try database.prepare("""
            SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'), (SELECT count(*) FROM outbox WHERE state = 'rejected'),
                   (SELECT min(queued_at) FROM outbox WHERE state = 'pending')
            """)
        _ = try counts.step()
        var ids: [String] = []
        let list = try database.prepare("SELECT report_id FROM outbox WHERE state = 'pending' ORDER BY sequence")
        while try list.step() { if let id = list.text(0) { ids.append(id) } }
        func date(_ key: String) throws(SQLiteError) -> Date? {
            try state(key).flatMap { Int64($0) }.map { Date(timeIntervalSince1970: Double($0)) }
        }
        return Status(
            pending: Int(counts.int(0)), rejected: Int(counts.int(1)),
            oldestPendingQueuedAt: counts.isNull(2) ? nil : Date(timeIntervalSince1970: Double(counts.int(2))),
            lastUploadAt: try date("last_upload_at"), lastUploadReportID: try state("last_upload_report_id"),
            lastError: try state("last_error"), lastErrorAt: try date("last_error_at"), pendingReportIDs: ids)
    }

    private func state(_ key: String) throws(SQLiteError) -> String? {
        let select = try database.prepare("SELECT value FROM agent_state WHERE key = ?")
        try select.bind([.text(key)])
        return try select.step() ? select.text(0) : nil
    }

    private func setState(_ key: String, _ value: String) throws(SQLiteError) {
        let upsert = try database.prepare(
            "INSERT INTO agent_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        try upsert.bind([.text(key), .text(value)])
        _ = try upsert.step()
    }

    private func clearState(_ key: String) throws(SQLiteError) {
        let delete = try database.prepare("DELETE FROM agent_state WHERE key = ?")
        try delete.bind([.text(key)])
        _ = try delete.step()
    }
}

@available(*, unavailable, message: "The outbox has one owner at a time (the run loop or one CLI command).")
extension Outbox: Sendable {}
