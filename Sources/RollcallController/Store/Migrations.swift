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
