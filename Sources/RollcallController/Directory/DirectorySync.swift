import Crypto
public import Foundation
import LDAPKit
public import Logging
import SQLKit

/// Reads the school's people and groups from the directory into the store: `rollcall directory sync`.
///
/// Entries stream page by page straight into one store transaction, so memory stays flat in the size of the directory
/// and a failure half-way (a dropped connection, a size limit) leaves the previous sync's data as it was. Each
/// account's policy-relevant state is digested; only new and changed rows are written, and accounts no longer in the
/// directory are removed. Where the server keeps a `contextCSN` (OpenLDAP with the syncprov overlay) and it has not
/// moved since the last sync of the same scope, nothing has changed, last binds included, and nothing is read.
/// Otherwise the whole directory is read: a "modified since" filter cannot see deletions.
public struct DirectorySync: Sendable {
    public let configuration: DirectoryConfiguration
    let logger: Logger

    public init(configuration: DirectoryConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Operational attributes must be asked for by name; `userPassword` never is.
    var accountAttributes: [String] {
        ["uid", "cn", "displayName", "mail", configuration.joinKey, "createTimestamp", "pwdChangedTime", "pwdReset",
         "pwdAccountLockedTime", "pwdLastSuccess", "authTimestamp", "shadowExpire", "memberOf"]
    }

    /// What is synced: a different URL, base, filter or key means the last sync's contextCSN says nothing.
    var scope: String {
        ([configuration.url, configuration.userFilter, configuration.joinKey] + configuration.staffBaseDNs + ["|"]
            + configuration.pupilBaseDNs + ["|"] + configuration.groupBaseDNs).joined(separator: "\n")
    }

    /// The `contextCSN` values of the naming contexts holding the configured bases, or nil when the server keeps none.
    static func contextCSN(_ directory: LDAPConnection, bases: [String]) async throws -> String? {
        guard let root = try await directory.entry(dn: "", attributes: ["namingContexts"]) else { return nil }
        let lowered = bases.map { ProtectedAccounts.normalise($0) }
        var values: [String] = []
        for context in root.strings("namingContexts") {
            let suffix = ProtectedAccounts.normalise(context)
            guard lowered.contains(where: { $0 == suffix || $0.hasSuffix("," + suffix) }) else { continue }
            guard let csn = try await directory.entry(dn: context, attributes: ["contextCSN"])?.strings("contextCSN"), !csn.isEmpty else { return nil }
            values += csn.map { "\(context)=\($0)" }
        }
        return values.isEmpty ? nil : values.sorted().joined(separator: " ")
    }

    /// - Parameter full: read everything even when the directory's contextCSN says nothing changed.
    public func run(into store: ControllerStore, now: Date = Date(), full: Bool = false) async throws -> DirectorySyncSummary {
        let started = Date()
        let directory = try await DirectoryConnector(configuration: configuration).connect()
        var summary = DirectorySyncSummary(url: configuration.url)
        summary.scope = scope
        summary.contextCSN = try await Self.contextCSN(directory, bases: configuration.staffBaseDNs + configuration.pupilBaseDNs + configuration.groupBaseDNs)
        if !full, let csn = summary.contextCSN, let last = try await store.lastDirectorySync(), last.contextCSN == csn, last.scope == scope {
            var unchanged = last
            unchanged.skippedUnchanged = true
            unchanged.added = 0
            unchanged.changed = 0
            unchanged.removed = 0
            unchanged.unchanged = last.accountsRead
            unchanged.seconds = Date().timeIntervalSince(started)
            logger.info("directory unchanged since the last sync (contextCSN); nothing read", metadata: ["url": "\(configuration.url)"])
            return unchanged
        }
        let bases = configuration.staffBaseDNs.map { ($0, AccountKind.staff) } + configuration.pupilBaseDNs.map { ($0, AccountKind.pupils) }
        let attributes = accountAttributes
        let joinKey = configuration.joinKey
        let pageSize = configuration.pageSize
        let filter = configuration.userFilter
        let groupBases = configuration.groupBaseDNs
        let syncedAt = now.millisecondsSince1970
        summary = try await store.transaction { [summary] db in
            var summary = summary
            try await db.raw("CREATE TEMP TABLE IF NOT EXISTS sync_seen (dn TEXT PRIMARY KEY)").run()
            try await db.raw("DELETE FROM sync_seen").run()
            try await db.delete(from: "directory_memberships").run()
            var batch: [DirectoryAccount] = []
            for (base, kind) in bases {
                for try await entry in directory.search(base: base, filter: filter, attributes: attributes, pageSize: pageSize) {
                    batch.append(Self.account(from: entry, kind: kind, joinKey: joinKey))
                    if batch.count == 500 {
                        try await Self.write(batch, to: db, syncedAt: syncedAt, summary: &summary)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
            }
            try await Self.write(batch, to: db, syncedAt: syncedAt, summary: &summary)
            let removed = try await db.raw("SELECT count(*) AS n FROM directory_accounts WHERE dn NOT IN (SELECT dn FROM sync_seen)")
                .first(decodingColumn: "n", as: Int.self) ?? 0
            try await db.raw("DELETE FROM directory_accounts WHERE dn NOT IN (SELECT dn FROM sync_seen)").run()
            summary.removed = removed
            for base in groupBases {
                for try await group in directory.search(
                    base: base, filter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))",
                    attributes: ["cn", "member", "uniqueMember", "memberUid"], pageSize: pageSize) {
                    summary.groups += 1
                    let cn = group.string("cn")
                    var rows: [(String?, String?)] = (group.strings("member") + group.strings("uniqueMember")).map { ($0, nil) }
                    rows += group.strings("memberUid").map { (nil, $0) }
                    summary.memberships += rows.count
                    for chunk in rows.chunked(into: 500) {
                        var insert = db.insert(into: "directory_memberships").columns("group_dn", "group_cn", "member_dn", "member_uid")
                        for (dn, uid) in chunk { insert = insert.values(SQLBind(group.dn), SQLBind(cn), SQLBind(dn), SQLBind(uid)) }
                        try await insert.run()
                    }
                }
            }
            try await db.raw("DROP TABLE sync_seen").run()
            summary.lastBindTracked = try await db.select().column("dn").from("directory_accounts").where("last_bind_at", .isNot, SQLLiteral.null)
                .limit(1).first() != nil
            summary.seconds = Date().timeIntervalSince(started)
            let json = String(decoding: try JSONEncoder().encode(summary), as: UTF8.self)
            try await db.insert(into: "directory_syncs").columns("url", "finished_at", "summary")
                .values(SQLBind(summary.url), SQLBind(Date().millisecondsSince1970), SQLBind(json)).run()
            return summary
        }
        logger.info("directory sync finished", metadata: [
            "url": "\(summary.url)", "read": "\(summary.accountsRead)", "added": "\(summary.added)", "changed": "\(summary.changed)",
            "removed": "\(summary.removed)", "seconds": "\(String(format: "%.2f", summary.seconds))",
        ])
        return summary
    }

    static func account(from entry: LDAPEntry, kind: AccountKind, joinKey: String) -> DirectoryAccount {
        let lastBind = [entry.string("pwdLastSuccess"), entry.string("authTimestamp")].compactMap { $0.flatMap(GeneralizedTime.parse) }.max()
        var groups = entry.strings("memberOf")
        groups.sort()
        return DirectoryAccount(
            dn: entry.dn, uid: entry.string("uid"), joinKey: entry.string(joinKey)?.trimmingCharacters(in: .whitespaces),
            kind: kind, displayName: entry.string("displayName") ?? entry.string("cn"), mail: entry.string("mail"),
            createdAt: entry.string("createTimestamp").flatMap(GeneralizedTime.parse),
            passwordChangedAt: entry.string("pwdChangedTime").flatMap(GeneralizedTime.parse),
            passwordReset: entry.string("pwdReset")?.uppercased() == "TRUE",
            lockedTime: entry.string("pwdAccountLockedTime"), lastBindAt: lastBind,
            shadowExpire: entry.string("shadowExpire").flatMap { Int($0) }, groups: groups)
    }

    /// Upserts the new and changed accounts of one batch; unchanged rows are not rewritten.
    static func write(_ batch: [DirectoryAccount], to db: any SQLDatabase, syncedAt: Int64, summary: inout DirectorySyncSummary) async throws {
        guard !batch.isEmpty else { return }
        summary.accountsRead += batch.count
        var seen = db.insert(into: "sync_seen").columns("dn").ignoringConflicts()
        for account in batch { seen = seen.values(SQLBind(account.dn)) }
        try await seen.run()
        let stored = try await db.select().column("dn").column("digest").from("directory_accounts")
            .where("dn", .in, batch.map(\.dn)).all()
        var digests: [String: String] = [:]
        for row in stored { digests[try row.decode(column: "dn", as: String.self)] = try row.decode(column: "digest", as: String.self) }
        var rows: [DirectoryAccountRow] = []
        for account in batch {
            let row = DirectoryAccountRow(account, syncedAt: syncedAt)
            switch digests[account.dn] {
            case nil: summary.added += 1; rows.append(row)
            case row.digest: summary.unchanged += 1
            default: summary.changed += 1; rows.append(row)
            }
        }
        // Memberships from `memberOf` (Active Directory, or OpenLDAP's memberof overlay); rebuilt every sync.
        var memberships: [(String, String)] = []
        for account in batch { for group in account.groups { memberships.append((group, account.dn)) } }
        for chunk in memberships.chunked(into: 500) {
            var insert = db.insert(into: "directory_memberships").columns("group_dn", "member_dn")
            for (group, member) in chunk { insert = insert.values(SQLBind(group), SQLBind(member)) }
            try await insert.run()
        }
        guard !rows.isEmpty else { return }
        try await db.insert(into: "directory_accounts").models(rows, nilEncodingStrategy: .asNil)
            .onConflict(with: ["dn"]) { try $0.set(excludedContentOf: rows[0], nilEncodingStrategy: .asNil) }
            .run()
    }
}

/// The `directory_accounts` row; column names are the SQL names.
struct DirectoryAccountRow: Codable, Sendable {
    var dn: String
    var uid: String?
    var join_key: String?
    var kind: String
    var display_name: String?
    var mail: String?
    var created_at: Int64?
    var password_changed_at: Int64?
    var password_reset: Int
    var locked_time: String?
    var last_bind_at: Int64?
    var shadow_expire: Int?
    var digest: String
    var synced_at: Int64

    init(_ account: DirectoryAccount, syncedAt: Int64) {
        dn = account.dn
        uid = account.uid
        join_key = account.joinKey
        kind = account.kind.rawValue
        display_name = account.displayName
        mail = account.mail
        created_at = account.createdAt?.millisecondsSince1970
        password_changed_at = account.passwordChangedAt?.millisecondsSince1970
        password_reset = account.passwordReset ? 1 : 0
        locked_time = account.lockedTime
        last_bind_at = account.lastBindAt?.millisecondsSince1970
        shadow_expire = account.shadowExpire
        synced_at = syncedAt
        let canonical = [uid, join_key, kind, display_name, mail, created_at.map(String.init), password_changed_at.map(String.init),
                         String(password_reset), locked_time, last_bind_at.map(String.init), shadow_expire.map(String.init),
                         account.groups.joined(separator: "\u{1}")]
            .map { $0 ?? "\u{0}" }.joined(separator: "\u{2}")
        digest = SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    func account(groups: [String]) -> DirectoryAccount {
        DirectoryAccount(
            dn: dn, uid: uid, joinKey: join_key, kind: AccountKind(rawValue: kind) ?? .staff, displayName: display_name, mail: mail,
            createdAt: created_at.map(Date.init(millisecondsSince1970:)),
            passwordChangedAt: password_changed_at.map(Date.init(millisecondsSince1970:)), passwordReset: password_reset != 0,
            lockedTime: locked_time, lastBindAt: last_bind_at.map(Date.init(millisecondsSince1970:)), shadowExpire: shadow_expire,
            groups: groups)
    }
}
