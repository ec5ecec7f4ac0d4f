import Crypto
public import Foundation
import LDAPKit
public import Logging
import SQLKit

/// Reads the school's people and groups from the directory into the store: `rollcall directory sync`.
///
/// Entries stream page by page straight into one store transaction, so memory stays flat in the size of the directory
/// and a failure half-way (a dropped connection, a size limit) leaves the previous sync's data as it was. Reading and
/// writing overlap: the server prepares the next page while LDAPKit decodes one, and the next batch of 500 is made
/// ready while the last is written. Each account's policy-relevant state is digested; only new and changed rows are
/// written whole, unchanged ones just get this sync's stamp, and accounts the sync did not stamp are removed. Where the
/// server keeps a change marker (OpenLDAP's `contextCSN` with the syncprov overlay, AD's `highestCommittedUSN`) and
/// it has not moved since the last sync of the same scope, nothing has changed and nothing is read.
/// What to read and how to understand it is the ``DirectoryServer``'s business, by the configured kind.
/// Otherwise the whole directory is read: a "modified since" filter cannot see deletions.
public struct DirectorySync: Sendable {
    public let configuration: DirectoryConfiguration
    /// Protected groups (names or DNs) whose nested members are read too, where the directory can tell (AD).
    let protectedGroups: [String]
    let logger: Logger

    public init(configuration: DirectoryConfiguration, protectedGroups: [String] = [], logger: Logger) {
        self.configuration = configuration
        self.protectedGroups = protectedGroups
        self.logger = logger
    }

    /// What is synced: a different kind, URL, base, filter or key means the last sync's change marker says nothing.
    var scope: String {
        ([configuration.kind.rawValue, configuration.url, configuration.userFilter] + configuration.joinKeyAttributes + configuration.staffBaseDNs + ["|"]
            + configuration.pupilBaseDNs + ["|"] + configuration.groupBaseDNs + ["|"] + protectedGroups).joined(separator: "\n")
    }

    /// - Parameter full: read everything even when the directory's change marker says nothing changed.
    public func run(into store: ControllerStore, now: Date = Date(), full: Bool = false) async throws -> DirectorySyncSummary {
        let started = Date()
        let directory = try await DirectoryConnector(configuration: configuration).connect()
        let server = configuration.server
        var summary = DirectorySyncSummary(url: configuration.url)
        summary.scope = scope
        summary.contextCSN = try await server.changeMarker(directory)
        if !full, let csn = summary.contextCSN, let last = try await store.lastDirectorySync(), last.contextCSN == csn, last.scope == scope {
            var unchanged = last
            unchanged.skippedUnchanged = true
            unchanged.added = 0
            unchanged.changed = 0
            unchanged.removed = 0
            unchanged.unchanged = last.accountsRead
            unchanged.seconds = Date().timeIntervalSince(started)
            logger.info("directory unchanged since the last sync; nothing read", metadata: ["url": "\(configuration.url)", "marker": "\(csn)"])
            return unchanged
        }
        let bases = configuration.staffBaseDNs.map { ($0, AccountKind.staff) } + configuration.pupilBaseDNs.map { ($0, AccountKind.pupils) }
        let syncedAt = now.millisecondsSince1970
        let accounts = AccountBatches(directory: directory, server: server, bases: bases)
        let protectedGroups = protectedGroups
        summary = try await store.transaction { [summary] db in
            var summary = summary
            try await db.delete(from: "directory_memberships").run()
            // A stamp no earlier sync used, so "not seen by this sync" is `synced_at <> stamp` even for two syncs
            // within one millisecond.
            let stamp = max(syncedAt, Int64(try await Self.integer(db, "SELECT coalesce(max(synced_at), 0) + 1 AS n FROM directory_accounts")))
            let storedBefore = try await Self.integer(db, "SELECT count(*) AS n FROM directory_accounts")
            // The next batch is read from the directory (and made ready for the store) while this one is written.
            var stamped = accounts
            stamped.syncedAt = stamp
            var batches = ReadAhead(stamped)
            defer { batches.cancel() }
            while let batch = try await batches.next() {
                summary.accountsRead += batch.accounts.count
                try await Self.write(batch, to: db, stamp: stamp, storeWasEmpty: storedBefore == 0)
            }
            try await db.raw("DELETE FROM directory_accounts WHERE synced_at <> \(bind: stamp)").run()
            summary.removed = try await Self.integer(db, "SELECT changes() AS n")
            // Stored now = stored before − removed + added.
            summary.added = try await Self.integer(db, "SELECT count(*) AS n FROM directory_accounts") - storedBefore + summary.removed
            summary.changed = try await Self.integer(db, "SELECT count(*) AS n FROM directory_accounts WHERE changed_at = \(bind: stamp)") - summary.added
            summary.unchanged = summary.accountsRead - summary.added - summary.changed
            try await server.groups(directory, protectedGroups: protectedGroups) { group in
                summary.groups += 1
                var rows = JSONRows(columns: Self.membershipColumns)
                let name: JSONRows.Value = group.cn.map { .text($0) } ?? .null
                for member in group.memberDNs { rows.append([.text(group.dn), name, .text(member), .null]) }
                for uid in group.memberUIDs { rows.append([.text(group.dn), name, .null, .text(uid)]) }
                summary.memberships += rows.count
                try await db.insert(into: "directory_memberships", rows: rows)
            }
            let anyLastBind = try await db.select().column("dn").from("directory_accounts").where("last_bind_at", .isNot, SQLLiteral.null)
                .limit(1).first() != nil
            summary.lastBindTracked = server.recordsEveryLogon || anyLastBind
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

    /// HR systems pad keys; LDAP values rarely are, so the common case returns the value as it is.
    static func trimmingSpaces(_ text: String) -> String {
        guard text.first?.isWhitespace == true || text.last?.isWhitespace == true else { return text }
        return text.trimmingCharacters(in: .whitespaces)
    }

    static let membershipColumns = ["group_dn", "group_cn", "member_dn", "member_uid"]

    /// Writes one batch: every account gets this sync's stamp in `synced_at`; new ones, and those whose digest moved,
    /// are written whole and get the stamp in `changed_at` too. An unchanged account has only its stamp updated, which
    /// touches no index. Memberships from `memberOf` (Active Directory, or OpenLDAP's memberof overlay) are added
    /// alongside.
    /// - Parameter storeWasEmpty: nothing can be unchanged, so the stamp-only pass is skipped.
    static func write(_ batch: AccountBatches.Batch, to db: any SQLDatabase, stamp: Int64, storeWasEmpty: Bool) async throws {
        let columns = DirectoryAccountRow.columns
        if !storeWasEmpty {
            var seen: SQLQueryString = "UPDATE directory_accounts SET synced_at = \(bind: stamp) FROM ("
            seen += batch.accounts.asTable
            seen += ") AS batch WHERE directory_accounts.dn = batch.dn AND directory_accounts.digest = batch.digest"
            try await db.raw(seen).run()
        }
        let updates = columns.filter { $0 != "dn" }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        var upsert: SQLQueryString = "INSERT INTO directory_accounts (\(unsafeRaw: columns.joined(separator: ", ")), changed_at) SELECT *, synced_at FROM ("
        upsert += batch.accounts.asTable
        upsert += """
            ) WHERE true ON CONFLICT (dn) DO UPDATE SET \(unsafeRaw: updates), changed_at = excluded.synced_at
            WHERE directory_accounts.digest IS NOT excluded.digest
            """
        try await db.raw(upsert).run()
        try await db.insert(into: "directory_memberships", rows: batch.memberships)
    }

    /// The integer a one-row query returns in its column `n`.
    static func integer(_ db: any SQLDatabase, _ sql: SQLQueryString) async throws -> Int {
        try await db.raw(sql).first(decodingColumn: "n", as: Int.self) ?? 0
    }
}

/// The accounts under the configured bases, 500 at a time, each already digested and laid out for the store.
struct AccountBatches: AsyncIteratorProtocol, Sendable {
    struct Batch: Sendable {
        var accounts = JSONRows(columns: DirectoryAccountRow.columns, capacity: 500)
        var memberships = JSONRows(columns: ["group_dn", "member_dn"])
    }

    let directory: LDAPConnection
    let server: any DirectoryServer
    var bases: [(String, AccountKind)]
    /// This sync's stamp, for `synced_at` and `changed_at`.
    var syncedAt: Int64 = 0
    var current: (search: LDAPSearch.AsyncIterator, kind: AccountKind)?

    init(directory: LDAPConnection, server: any DirectoryServer, bases: [(String, AccountKind)]) {
        self.directory = directory
        self.server = server
        self.bases = bases
    }

    mutating func next() async throws -> Batch? {
        var batch = Batch()
        while batch.accounts.count < 500 {
            if current == nil {
                guard !bases.isEmpty else { break }
                let (base, kind) = bases.removeFirst()
                current = (directory.search(base: base, filter: server.configuration.userFilter, attributes: server.accountAttributes,
                                            pageSize: server.configuration.pageSize).makeAsyncIterator(), kind)
            }
            guard let entry = try await current?.search.next(), let kind = current?.kind else {
                current = nil
                continue
            }
            let account = server.account(from: entry, kind: kind)
            batch.accounts.append(DirectoryAccountRow(account, syncedAt: syncedAt).values)
            for group in account.groups { batch.memberships.append([.text(group), .text(account.dn)]) }
        }
        return batch.accounts.isEmpty ? nil : batch
    }
}

/// Keeps the next `next()` of an iterator running in its own task while the caller handles the element before,
/// so two kinds of work (reading the directory, writing the store) overlap on two cores.
struct ReadAhead<Base: AsyncIteratorProtocol & Sendable> where Base.Element: Sendable {
    private var pending: Task<(Base.Element?, Base), any Error>?

    init(_ base: Base) {
        pending = Self.start(base)
    }

    private static func start(_ base: Base) -> Task<(Base.Element?, Base), any Error> {
        Task {
            var base = base
            let element = try await base.next()
            return (element, base)
        }
    }

    mutating func next() async throws -> Base.Element? {
        guard let task = pending else { return nil }
        pending = nil
        let (element, base) = try await task.value
        if element != nil { pending = Self.start(base) }
        return element
    }

    /// Stops the read in flight when the caller gives up early (a failed write).
    func cancel() {
        pending?.cancel()
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
    var disabled: Int
    var password_never_expires: Int
    var expires_at: Int64?
    var digest: String
    var synced_at: Int64

    static let columns = [
        "dn", "uid", "join_key", "kind", "display_name", "mail", "created_at", "password_changed_at", "password_reset",
        "locked_time", "last_bind_at", "shadow_expire", "disabled", "password_never_expires", "expires_at", "digest", "synced_at",
    ]

    /// The values in ``columns`` order.
    var values: [JSONRows.Value] {
        func text(_ value: String?) -> JSONRows.Value { value.map { .text($0) } ?? .null }
        func integer(_ value: Int64?) -> JSONRows.Value { value.map { .integer($0) } ?? .null }
        return [.text(dn), text(uid), text(join_key), .text(kind), text(display_name), text(mail), integer(created_at),
                integer(password_changed_at), .integer(Int64(password_reset)), text(locked_time), integer(last_bind_at),
                integer(shadow_expire.map(Int64.init)), .integer(Int64(disabled)), .integer(Int64(password_never_expires)), integer(expires_at),
                .text(digest), .integer(synced_at)]
    }

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
        disabled = account.isDisabled ? 1 : 0
        password_never_expires = account.passwordNeverExpires ? 1 : 0
        expires_at = account.expiresAt?.millisecondsSince1970
        synced_at = syncedAt
        digest = Self.digest(of: [uid, join_key, kind, display_name, mail, created_at.map(String.init), password_changed_at.map(String.init),
                                  String(password_reset), locked_time, last_bind_at.map(String.init), shadow_expire.map(String.init),
                                  String(disabled), String(password_never_expires), expires_at.map(String.init)],
                             groups: account.groups)
    }

    /// SHA-256 over the fields (absent ones as U+0000) and the sorted group DNs, with separators no value contains, fed
    /// piece by piece rather than joined into one string first.
    static func digest(of fields: [String?], groups: [String]) -> String {
        var hash = SHA256()
        for field in fields {
            if let field { hash.update(utf8Of: field) } else { hash.update(data: [0]) }
            hash.update(data: [2])
        }
        for (index, group) in groups.enumerated() {
            if index > 0 { hash.update(data: [1]) }
            hash.update(utf8Of: group)
        }
        return SHA256.hex(hash.finalize())
    }

    func account(groups: [String]) -> DirectoryAccount {
        DirectoryAccount(
            dn: dn, uid: uid, joinKey: join_key, kind: AccountKind(rawValue: kind) ?? .staff, displayName: display_name, mail: mail,
            createdAt: created_at.map(Date.init(millisecondsSince1970:)),
            passwordChangedAt: password_changed_at.map(Date.init(millisecondsSince1970:)), passwordReset: password_reset != 0,
            lockedTime: locked_time, lastBindAt: last_bind_at.map(Date.init(millisecondsSince1970:)), shadowExpire: shadow_expire,
            groups: groups, isDisabled: disabled != 0, passwordNeverExpires: password_never_expires != 0,
            expiresAt: expires_at.map(Date.init(millisecondsSince1970:)))
    }
}
