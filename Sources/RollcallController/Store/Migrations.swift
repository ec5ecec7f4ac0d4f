import SQLKit

/// Numbered schema changes, applied in order inside one transaction each and recorded in `schema_migrations`.
///
/// Never edit a migration that has shipped; add the next number. Each is written with SQLKit's builders so SQLite
/// and PostgreSQL get the same schema.
enum Migrations {
    struct Migration: Sendable {
        let number: Int
        let name: String
        let apply: @Sendable (any SQLDatabase) async throws -> Void
    }

    static let all: [Migration] = [
        Migration(number: 1, name: "create devices, reports and device packages") { db in
            try await db.create(table: "devices")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("hostname", type: .text)
                .column("serial", type: .text)
                .column("vendor", type: .text)
                .column("model", type: .text)
                .column("os", type: .text)
                .column("kernel", type: .text)
                .column("virtualization", type: .text)
                .column("first_seen", type: .bigint, .notNull)
                .column("last_seen", type: .bigint, .notNull)
                .column("last_collected_at", type: .bigint, .notNull)
                .column("package_count", type: .int, .notNull)
                .column("last_report_id", type: .text, .notNull)
                .run()
            try await db.create(table: "reports")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("device_id", type: .text, .notNull)
                .column("received_at", type: .bigint, .notNull)
                .column("collected_at", type: .bigint, .notNull)
                .column("schema_version", type: .int, .notNull)
                .column("body", type: .text, .notNull)
                .run()
            try await db.create(index: "reports_by_device").on("reports").column("device_id").column("collected_at").run()
            try await db.create(table: "device_packages")
                .column("device_id", type: .text, .notNull)
                .column("source", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("version", type: .text, .notNull)
                .column("architecture", type: .text)
                .column("state", type: .text, .notNull)
                .run()
            try await db.create(index: "device_packages_by_device").on("device_packages").column("device_id").run()
            try await db.create(index: "device_packages_by_name").on("device_packages").column("name").run()
        },
        Migration(number: 2, name: "directory accounts, memberships, plans and the audit log") { db in
            try await db.create(table: "directory_accounts")
                .column("dn", type: .text, .primaryKey(autoIncrement: false))
                .column("uid", type: .text)
                .column("join_key", type: .text)
                .column("kind", type: .text, .notNull)
                .column("display_name", type: .text)
                .column("mail", type: .text)
                .column("created_at", type: .bigint)
                .column("password_changed_at", type: .bigint)
                .column("password_reset", type: .int, .notNull)
                .column("locked_time", type: .text)
                .column("last_bind_at", type: .bigint)
                .column("shadow_expire", type: .int)
                .column("digest", type: .text, .notNull)
                .column("synced_at", type: .bigint, .notNull)
                .run()
            try await db.create(index: "directory_accounts_by_join_key").on("directory_accounts").column("join_key").run()
            try await db.create(table: "directory_memberships")
                .column("group_dn", type: .text, .notNull)
                .column("group_cn", type: .text)
                .column("member_dn", type: .text)
                .column("member_uid", type: .text)
                .run()
            try await db.create(index: "directory_memberships_by_dn").on("directory_memberships").column("member_dn").run()
            try await db.create(index: "directory_memberships_by_uid").on("directory_memberships").column("member_uid").run()
            try await db.create(table: "directory_syncs")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("url", type: .text, .notNull)
                .column("finished_at", type: .bigint, .notNull)
                .column("summary", type: .text, .notNull)
                .run()
            try await db.create(table: "plans")
                .column("id", type: .int, .primaryKey(autoIncrement: true))
                .column("kind", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("created_by", type: .text, .notNull)
                .column("total_accounts", type: .int, .notNull)
                .column("threshold", type: .int, .notNull)
                .column("notes", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .run()
            try await db.create(table: "plan_items")
                .column("plan_id", type: .int, .notNull)
                .column("position", type: .int, .notNull)
                .column("dn", type: .text, .notNull)
                .column("uid", type: .text)
                .column("join_key", type: .text)
                .column("kind", type: .text, .notNull)
                .column("action", type: .text, .notNull)
                .column("reason", type: .text, .notNull)
                .column("detail", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("outcome", type: .text)
                .column("current_dn", type: .text)
                .column("applied_at", type: .bigint)
                .primaryKey("plan_id", "position")
                .run()
            try await db.create(table: "audit_log")
                .column("seq", type: .bigint, .primaryKey(autoIncrement: false))
                .column("at", type: .bigint, .notNull)
                .column("actor", type: .text, .notNull)
                .column("action", type: .text, .notNull)
                .column("target", type: .text, .notNull)
                .column("detail", type: .text, .notNull)
                .column("previous_hash", type: .text, .notNull)
                .column("hash", type: .text, .notNull)
                .run()
            // Append-only in the engine too (SQLite trigger syntax; the PostgreSQL backend will need its own). The hash
            // chain is what detects a change made by someone who drops these.
            try await db.raw("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END").run()
            try await db.raw("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END").run()
        },
        Migration(number: 3, name: "membership indexes hold only the rows they find") { db in
            // A posixGroup's members have a uid and no DN, a groupOfNames' the other way round; indexing the NULLs made
            // every membership written by a sync cost two index inserts where one does.
            try await db.drop(index: "directory_memberships_by_dn").run()
            try await db.drop(index: "directory_memberships_by_uid").run()
            try await db.raw("CREATE INDEX directory_memberships_by_dn ON directory_memberships (member_dn) WHERE member_dn IS NOT NULL").run()
            try await db.raw("CREATE INDEX directory_memberships_by_uid ON directory_memberships (member_uid) WHERE member_uid IS NOT NULL").run()
        },
        Migration(number: 4, name: "when each account last changed") { db in
            // `synced_at` now says which sync last saw the account, `changed_at` which sync last found it new or changed.
            try await db.raw("ALTER TABLE directory_accounts ADD COLUMN changed_at BIGINT").run()
            try await db.raw("UPDATE directory_accounts SET changed_at = synced_at").run()
        },
        Migration(number: 5, name: "enrolment tokens, enrolled device keys and request nonces") { db in
            try await db.create(table: "enrolment_tokens")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("secret_hash", type: .text, .notNull, .unique)
                .column("uses_allowed", type: .int, .notNull)
                .column("uses", type: .int, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .column("revoked_at", type: .bigint)
                .run()
            // A device row now exists from enrolment on; `last_report_id` is '' until its first report. Rows from
            // before enrolment (keyed by machine id, no key) stay listed but can no longer report.
            for column in ["machine_id TEXT", "public_key TEXT", "enrolled_at BIGINT", "revoked_at BIGINT", "enrolment_token TEXT"] {
                try await db.raw("ALTER TABLE devices ADD COLUMN \(unsafeRaw: column)").run()
            }
            try await db.raw("CREATE UNIQUE INDEX devices_by_public_key ON devices (public_key) WHERE public_key IS NOT NULL").run()
            try await db.create(table: "request_nonces")
                .column("device_id", type: .text, .notNull)
                .column("nonce", type: .text, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .primaryKey("device_id", "nonce")
                .run()
            try await db.create(index: "request_nonces_by_expiry").on("request_nonces").column("expires_at").run()
        },
    ]

    static func run(on store: ControllerStore) async throws {
        try await store.withConnection { db in
            try await db.create(table: "schema_migrations").ifNotExists()
                .column("number", type: .int, .primaryKey(autoIncrement: false))
                .column("name", type: .text, .notNull)
                .run()
        }
        let applied = Set(try await store.withConnection { db in
            try await db.select().column("number").from("schema_migrations").all(decodingColumn: "number", as: Int.self)
        })
        for migration in all where !applied.contains(migration.number) {
            try await store.transaction { db in
                try await migration.apply(db)
                try await db.insert(into: "schema_migrations").columns("number", "name")
                    .values(SQLBind(migration.number), SQLBind(migration.name)).run()
            }
        }
    }
}
