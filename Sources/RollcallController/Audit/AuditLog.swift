import Crypto
public import Foundation
import SQLKit

/// One row of the append-only audit log.
public struct AuditEntry: Sendable, Codable, Equatable {
    public var seq: Int64
    public var at: Date
    /// Who ran the command: the login behind sudo, or the user, at this host.
    public var actor: String
    /// What happened, e.g. `account.disable`, `plan.apply.refused`.
    public var action: String
    /// The DN or plan it happened to.
    public var target: String
    public var detail: String
    public var previousHash: String
    public var hash: String
}

/// The hash-chained audit log: each row's hash covers its fields and the previous row's hash, so changing,
/// removing or inserting a row anywhere but the end breaks every hash after it. `rollcall audit verify` walks it.
///
/// Rows are appended inside the caller's transaction, so an audit row and the change it records commit together.
enum AuditLog {
    static let genesis = String(repeating: "0", count: 64)

    static func append(_ db: any SQLDatabase, actor: String, action: String, target: String, detail: String, at: Date = Date()) async throws {
        let last = try await db.select().column("seq").column("hash").from("audit_log").orderBy("seq", .descending).limit(1).first()
        let seq = (try last?.decode(column: "seq", as: Int64.self) ?? 0) + 1
        let previous = try last?.decode(column: "hash", as: String.self) ?? genesis
        let milliseconds = at.millisecondsSince1970
        let hash = digest(seq: seq, at: milliseconds, actor: actor, action: action, target: target, detail: detail, previous: previous)
        try await db.insert(into: "audit_log").columns("seq", "at", "actor", "action", "target", "detail", "previous_hash", "hash")
            .values(SQLBind(seq), SQLBind(milliseconds), SQLBind(actor), SQLBind(action), SQLBind(target), SQLBind(detail),
                    SQLBind(previous), SQLBind(hash))
            .run()
    }

    /// SHA-256 over the previous hash and the fields, each length-prefixed so no two rows can serialise alike.
    static func digest(seq: Int64, at: Int64, actor: String, action: String, target: String, detail: String, previous: String) -> String {
        var text = previous
        for field in [String(seq), String(at), actor, action, target, detail] {
            text += "\n\(field.utf8.count):\(field)"
        }
        return SHA256.hexDigest(of: text)
    }

    /// The person running this command, for the audit log.
    static var actor: String {
        let environment = ProcessInfo.processInfo.environment
        let user = environment["SUDO_USER"] ?? environment["USER"] ?? environment["LOGNAME"] ?? "uid \(getuid())"
        return "\(user)@\(ProcessInfo.processInfo.hostName)"
    }
}

/// What `rollcall audit verify` found.
public struct AuditVerification: Sendable, Equatable {
    public var rows: Int
    /// The first row whose hash or link does not match, with what is wrong.
    public var firstBreak: (seq: Int64, problem: String)?

    public var isIntact: Bool { firstBreak == nil }

    public static func == (lhs: AuditVerification, rhs: AuditVerification) -> Bool {
        lhs.rows == rhs.rows && lhs.firstBreak?.seq == rhs.firstBreak?.seq && lhs.firstBreak?.problem == rhs.firstBreak?.problem
    }
}
