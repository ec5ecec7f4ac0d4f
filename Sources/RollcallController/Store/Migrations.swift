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
        Migration(number: 6, name: "people from HR imports, their history, the equipment register and offboarding") { db in
            try await db.create(table: "hr_imports")
                .column("id", type: .int, .primaryKey(autoIncrement: true))
                .column("kind", type: .text, .notNull)
                .column("file", type: .text, .notNull)
                .column("sha256", type: .text, .notNull)
                .column("encoding", type: .text, .notNull)
                .column("preset", type: .text, .notNull)
                .column("rows", type: .int, .notNull)
                .column("imported_at", type: .bigint, .notNull)
                .column("imported_by", type: .text, .notNull)
                .column("joined", type: .int)
                .column("left_count", type: .int)
                .column("rejoined", type: .int)
                .column("changed", type: .int)
                .run()
            // Dates are YYYY-MM-DD text: they compare as text the same in every engine.
            try await db.create(table: "people")
                .column("join_key", type: .text, .primaryKey(autoIncrement: false))
                .column("kind", type: .text, .notNull)
                .column("forename", type: .text, .notNull)
                .column("surname", type: .text, .notNull)
                .column("email", type: .text)
                .column("role", type: .text)
                .column("start_date", type: .text)
                .column("leaving_date", type: .text)
                .column("status", type: .text, .notNull)
                .column("left_on", type: .text)
                .column("left_import", type: .int)
                .column("first_import", type: .int, .notNull)
                .column("last_import", type: .int, .notNull)
                .column("offboarding", type: .text)
                .column("offboarding_plan", type: .int)
                .column("updated_at", type: .bigint, .notNull)
                .run()
            try await db.create(index: "people_by_kind_status").on("people").column("kind").column("status").run()
            try await db.raw("CREATE INDEX people_by_email ON people (lower(email)) WHERE email IS NOT NULL").run()
            try await db.create(table: "people_history")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("join_key", type: .text, .notNull)
                .column("import_id", type: .int)
                .column("at", type: .bigint, .notNull)
                .column("event", type: .text, .notNull)
                .column("detail", type: .text, .notNull)
                .run()
            try await db.create(index: "people_history_by_person").on("people_history").column("join_key").run()
            try await db.create(index: "people_history_by_import").on("people_history").column("import_id").run()
            // Staging for the import in progress; empty between imports.
            try await db.create(table: "hr_import_rows")
                .column("join_key", type: .text, .notNull)
                .column("kind", type: .text, .notNull)
                .column("forename", type: .text, .notNull)
                .column("surname", type: .text, .notNull)
                .column("email", type: .text)
                .column("role", type: .text)
                .column("start_date", type: .text)
                .column("leaving_date", type: .text)
                .column("line", type: .int, .notNull)
                .column("key_column", type: .int, .notNull)
                .run()
            try await db.create(index: "hr_import_rows_by_key").on("hr_import_rows").column("join_key").run()

            try await db.create(table: "equipment")
                .column("asset_tag", type: .text, .primaryKey(autoIncrement: false))
                .column("serial", type: .text)
                .column("serial_key", type: .text)
                .column("make", type: .text)
                .column("model", type: .text)
                .column("type", type: .text)
                .column("purchase_date", type: .text)
                .column("cost_pence", type: .bigint)
                .column("location", type: .text)
                .column("assigned_to", type: .text)
                .column("state", type: .text, .notNull)
                .column("retired_at", type: .bigint)
                .column("retired_reason", type: .text)
                .column("disposed_at", type: .bigint)
                .column("disposal_agency", type: .text)
                .column("disposal_receipt", type: .text)
                .column("destruction_method", type: .text)
                .column("destruction_date", type: .text)
                .column("returned_at", type: .bigint)
                .column("returned_from", type: .text)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .run()
            try await db.raw("CREATE UNIQUE INDEX equipment_by_serial ON equipment (serial_key) WHERE serial_key IS NOT NULL").run()
            try await db.create(index: "equipment_by_person").on("equipment").column("assigned_to").run()
            // Every serial a device reported (DMI product and board, disks), normalised, for matching the register.
            try await db.create(table: "device_serials")
                .column("device_id", type: .text, .notNull)
                .column("source", type: .text, .notNull)
                .column("serial_key", type: .text, .notNull)
                .run()
            try await db.create(index: "device_serials_by_serial").on("device_serials").column("serial_key").run()
            try await db.create(index: "device_serials_by_device").on("device_serials").column("device_id").run()

            // Plans grow: joiners' accounts carry what to create, offboarding plans carry people and equipment.
            try await db.raw("ALTER TABLE plan_items ADD COLUMN payload TEXT").run()
            try await db.create(table: "plan_people")
                .column("plan_id", type: .int, .notNull)
                .column("join_key", type: .text, .notNull)
                .column("detail", type: .text, .notNull)
                .primaryKey("plan_id", "join_key")
                .run()
            try await db.create(table: "plan_equipment")
                .column("plan_id", type: .int, .notNull)
                .column("join_key", type: .text, .notNull)
                .column("asset_tag", type: .text, .notNull)
                .primaryKey("plan_id", "asset_tag")
                .run()
        },
        Migration(number: 7, name: "device posture, USB events, approved media and incidents") { db in
            // The latest posture facts per device, kept apart from the report bodies so a report judges thousands
            // of devices without decoding their inventories.
            try await db.create(table: "device_posture")
                .column("device_id", type: .text, .primaryKey(autoIncrement: false))
                .column("collected_at", type: .bigint, .notNull)
                .column("chassis_type", type: .int)
                .column("facts", type: .text, .notNull)
                .run()
            try await db.create(table: "usb_events")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("device_id", type: .text, .notNull)
                .column("action", type: .text, .notNull)
                .column("occurred_at", type: .bigint, .notNull)
                .column("received_at", type: .bigint, .notNull)
                .column("vendor_id", type: .text, .notNull)
                .column("product_id", type: .text, .notNull)
                .column("vendor", type: .text)
                .column("model", type: .text)
                .column("serial", type: .text)
                .column("capacity_bytes", type: .bigint)
                .column("volumes", type: .text, .notNull)
                .column("port", type: .text, .notNull)
                .column("console_users", type: .text, .notNull)
                // The controller's verdict at arrival, from its own list (the agent's copy may be older).
                .column("approved", type: .int, .notNull)
                .column("approved_by_rule", type: .int)
                .column("blocked", type: .int, .notNull)
                .column("block_error", type: .text)
                .column("body", type: .text, .notNull)
                .run()
            try await db.create(index: "usb_events_by_device").on("usb_events").column("device_id").column("occurred_at").run()
            try await db.create(index: "usb_events_by_time").on("usb_events").column("occurred_at").run()
            try await db.create(table: "approved_media")
                .column("id", type: .int, .primaryKey(autoIncrement: true))
                .column("vendor_id", type: .text, .notNull)
                .column("product_id", type: .text, .notNull)
                .column("serial", type: .text)
                .column("description", type: .text)
                .column("approved_by", type: .text, .notNull)
                .column("approved_at", type: .bigint, .notNull)
                .column("revoked_at", type: .bigint)
                .run()
            // The incident log: USB incidents open here; the fields are those of the schools' e-safety log.
            try await db.create(table: "incidents")
                .column("id", type: .int, .primaryKey(autoIncrement: true))
                .column("kind", type: .text, .notNull)
                .column("opened_at", type: .bigint, .notNull)
                .column("occurred_at", type: .bigint, .notNull)
                .column("reported_by", type: .text, .notNull)
                .column("location", type: .text)
                .column("involved", type: .text)
                .column("description", type: .text, .notNull)
                .column("device_id", type: .text)
                .column("usb_event_id", type: .text)
                .column("action_taken", type: .text)
                .column("outcome", type: .text)
                .column("status", type: .text, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .run()
            try await db.create(index: "incidents_by_device").on("incidents").column("device_id").run()
        },
        Migration(number: 8, name: "the licence register; packages' section and maintainer") { db in
            // Where dpkg files a package and who maintains it: how reconciliation spots commercial software that no
            // licence covers. Rows from older agents stay NULL.
            try await db.raw("ALTER TABLE device_packages ADD COLUMN section TEXT").run()
            try await db.raw("ALTER TABLE device_packages ADD COLUMN maintainer TEXT").run()
            try await db.create(table: "licences")
                .column("id", type: .int, .primaryKey(autoIncrement: true))
                .column("product", type: .text, .notNull)
                .column("vendor", type: .text)
                .column("kind", type: .text, .notNull)
                .column("seats", type: .int)
                .column("expires_on", type: .text)
                .column("reference", type: .text)
                .column("match", type: .text, .notNull)
                .column("versions", type: .text)
                .column("notes", type: .text)
                .column("line", type: .int, .notNull)
                .column("file", type: .text, .notNull)
                .column("imported_at", type: .bigint, .notNull)
                .run()
        },
        Migration(number: 9, name: "dashboard users, sessions, sign-in failures and the daily compliance history") { db in
            try await db.create(table: "dashboard_users")
                .column("name", type: .text, .primaryKey(autoIncrement: false))
                .column("role", type: .text, .notNull)
                .column("password_hash", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("password_changed_at", type: .bigint, .notNull)
                .run()
            // A session or an API token: only the SHA-256 of its secret is kept, so a copy of the store signs nobody in.
            try await db.create(table: "dashboard_sessions")
                .column("id_hash", type: .text, .primaryKey(autoIncrement: false))
                .column("user_name", type: .text, .notNull)
                .column("source", type: .text, .notNull)
                .column("role", type: .text, .notNull)
                .column("csrf", type: .text, .notNull)
                .column("label", type: .text)
                .column("created_at", type: .bigint, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .run()
            try await db.create(index: "dashboard_sessions_by_user").on("dashboard_sessions").column("user_name").run()
            try await db.create(table: "login_failures")
                .column("user_name", type: .text, .primaryKey(autoIncrement: false))
                .column("failures", type: .int, .notNull)
                .column("first_failure_at", type: .bigint, .notNull)
                .column("locked_until", type: .bigint)
                .run()
            // One row per day the controller looked: what "compliance over time" is drawn from.
            try await db.create(table: "compliance_history")
                .column("day", type: .text, .primaryKey(autoIncrement: false))
                .column("devices", type: .int, .notNull)
                .column("reporting", type: .int, .notNull)
                .column("screen_lock_pass", type: .int, .notNull)
                .column("encryption_pass", type: .int, .notNull)
                .column("accounts", type: .int, .notNull)
                .column("zombie_accounts", type: .int, .notNull)
                .column("overdue_passwords", type: .int, .notNull)
                .run()
            // An incident's history and a person's trail are asked of the audit log by target.
            try await db.create(index: "audit_by_target").on("audit_log").column("target").run()
        },
        Migration(number: 10, name: "figures the dashboard reads kept up to date as the data arrives") { db in
            // The triggers are SQLite's dialect; a PostgreSQL store will need them as trigger functions.
            // The estate's software by title and version, with how many enrolled devices have each installed: what
            // licence reconciliation starts from. Triggers keep it in step with every write to device_packages, so
            // reading it costs the number of titles, not the millions of installations behind them. A device counts
            // once per version however many architectures it has it for (multiarch).
            try await db.create(table: "package_catalogue")
                .column("source", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("version", type: .text, .notNull)
                .column("section", type: .text)
                .column("maintainer", type: .text)
                .column("devices", type: .int, .notNull)
                .primaryKey("source", "name", "version")
                .run()
            // The triggers ask "does this device have this title installed another time?": one seek with this index.
            try await db.drop(index: "device_packages_by_device").run()
            try await db.create(index: "device_packages_by_device_name").on("device_packages").column("device_id").column("name").run()
            try await db.raw("""
                INSERT INTO package_catalogue (source, name, version, section, maintainer, devices)
                SELECT p.source, p.name, p.version, max(p.section), max(p.maintainer), count(DISTINCT p.device_id)
                FROM device_packages p JOIN devices d ON d.id = p.device_id
                WHERE p.state = 'installed' AND d.revoked_at IS NULL
                GROUP BY p.source, p.name, p.version
                """).run()
            // Ingest writes the device row before its packages, and a revoked device never reports again.
            try await db.raw("""
                CREATE TRIGGER package_catalogue_add AFTER INSERT ON device_packages
                WHEN NEW.state = 'installed'
                    AND EXISTS (SELECT 1 FROM devices WHERE id = NEW.device_id AND revoked_at IS NULL)
                    AND NOT EXISTS (SELECT 1 FROM device_packages WHERE device_id = NEW.device_id AND name = NEW.name AND source = NEW.source
                                    AND version = NEW.version AND state = 'installed' AND rowid <> NEW.rowid)
                BEGIN
                    INSERT INTO package_catalogue (source, name, version, section, maintainer, devices)
                    VALUES (NEW.source, NEW.name, NEW.version, NEW.section, NEW.maintainer, 1)
                    ON CONFLICT (source, name, version) DO UPDATE SET devices = devices + 1,
                        section = coalesce(excluded.section, section), maintainer = coalesce(excluded.maintainer, maintainer);
                END
                """).run()
            try await db.raw("""
                CREATE TRIGGER package_catalogue_remove AFTER DELETE ON device_packages
                WHEN OLD.state = 'installed'
                    AND EXISTS (SELECT 1 FROM devices WHERE id = OLD.device_id AND revoked_at IS NULL)
                    AND NOT EXISTS (SELECT 1 FROM device_packages WHERE device_id = OLD.device_id AND name = OLD.name AND source = OLD.source
                                    AND version = OLD.version AND state = 'installed')
                BEGIN
                    UPDATE package_catalogue SET devices = devices - 1 WHERE source = OLD.source AND name = OLD.name AND version = OLD.version;
                    DELETE FROM package_catalogue WHERE source = OLD.source AND name = OLD.name AND version = OLD.version AND devices <= 0;
                END
                """).run()
            try await db.raw("""
                CREATE TRIGGER package_catalogue_change AFTER UPDATE OF device_id, source, name, version, state ON device_packages
                BEGIN
                    SELECT RAISE(ABORT, 'device_packages rows are replaced, never updated: package_catalogue counts them');
                END
                """).run()
            try await db.raw("""
                CREATE TRIGGER package_catalogue_revoke AFTER UPDATE OF revoked_at ON devices
                WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
                BEGIN
                    UPDATE package_catalogue SET devices = devices - 1 WHERE (source, name, version) IN
                        (SELECT source, name, version FROM device_packages WHERE device_id = NEW.id AND state = 'installed');
                    DELETE FROM package_catalogue WHERE devices <= 0;
                END
                """).run()
            try await db.raw("""
                CREATE TRIGGER package_catalogue_unrevoke AFTER UPDATE OF revoked_at ON devices
                WHEN OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS NULL
                BEGIN
                    INSERT INTO package_catalogue (source, name, version, section, maintainer, devices)
                    SELECT source, name, version, max(section), max(maintainer), 1 FROM device_packages
                    WHERE device_id = NEW.id AND state = 'installed' GROUP BY source, name, version
                    ON CONFLICT (source, name, version) DO UPDATE SET devices = devices + 1;
                END
                """).run()
            // Posture verdicts with the policy they were judged under, in their own narrow table (the facts are
            // kilobytes a row): judged once when new facts arrive or the policy changes, not on every look.
            try await db.create(table: "posture_verdicts")
                .column("device_id", type: .text, .primaryKey(autoIncrement: false))
                .column("judged_under", type: .text, .notNull)
                .column("screen_lock", type: .text, .notNull)
                .column("screen_lock_reason", type: .text, .notNull)
                .column("encryption", type: .text, .notNull)
                .column("encryption_reason", type: .text, .notNull)
                .run()
            try await db.create(index: "posture_verdicts_by_verdict").on("posture_verdicts").column("screen_lock").column("encryption").run()
            try await db.raw("""
                CREATE TRIGGER posture_verdicts_stale AFTER UPDATE ON device_posture
                BEGIN
                    DELETE FROM posture_verdicts WHERE device_id = OLD.device_id;
                END
                """).run()
            // The overview's USB tiles and monthly chart count insertions by time: answered from the index alone.
            try await db.drop(index: "usb_events_by_time").run()
            try await db.create(index: "usb_events_by_time").on("usb_events").column("occurred_at").column("action").column("approved")
                .column("blocked").run()
            try await db.create(index: "incidents_by_status").on("incidents").column("status").run()
            // The overview's device counts, and the few revoked devices its other counts leave out, from an index.
            try await db.create(index: "devices_by_revocation").on("devices").column("revoked_at").column("last_seen").column("last_report_id").run()
            // A counter per kind of input, raised by every write to its tables: a judgement made from those inputs
            // can be kept for as long as the counter has not moved.
            try await db.create(table: "store_revisions")
                .column("name", type: .text, .primaryKey(autoIncrement: false))
                .column("revision", type: .bigint, .notNull)
                .run()
            // `licence_matches` holds the `licences` revision its rows were matched under (0: never matched).
            try await db.raw("INSERT INTO store_revisions (name, revision) VALUES ('accounts', 1), ('licences', 1), ('licence_matches', 0)").run()
            let inputs = ["directory_accounts": "accounts", "directory_memberships": "accounts", "directory_syncs": "accounts", "people": "accounts",
                          "hr_imports": "accounts", "licences": "licences"]
            for (table, name) in inputs.sorted(by: { $0.key < $1.key }) {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    try await db.raw("""
                        CREATE TRIGGER \(unsafeRaw: table)_\(unsafeRaw: event.lowercased())_revision AFTER \(unsafeRaw: event) ON \(unsafeRaw: table)
                        BEGIN
                            UPDATE store_revisions SET revision = revision + 1 WHERE name = \(literal: name);
                        END
                        """).run()
                }
            }
            // Which enrolled devices each licensed product is installed on, and as which packages: kept by report
            // ingest for the reporting device and matched afresh for every device when the register changes, so
            // reconciling reads one row per installation the register cares about.
            try await db.create(table: "licence_matches")
                .column("product_key", type: .text, .notNull)
                .column("device_id", type: .text, .notNull)
                .column("packages", type: .text, .notNull)
                .primaryKey("product_key", "device_id")
                .run()
            try await db.create(index: "licence_matches_by_device").on("licence_matches").column("device_id").run()
        },
        Migration(number: 11, name: "account state any directory kind reports: disabled, password never expires, account expiry") { db in
            // What used to be read from OpenLDAP's pwdAccountLockedTime alone is now stored as the directory said it:
            // Active Directory's userAccountControl bits and accountExpires, OpenLDAP's lock and shadowExpire.
            try await db.raw("ALTER TABLE directory_accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0").run()
            try await db.raw("ALTER TABLE directory_accounts ADD COLUMN password_never_expires INTEGER NOT NULL DEFAULT 0").run()
            try await db.raw("ALTER TABLE directory_accounts ADD COLUMN expires_at BIGINT").run()
            try await db.raw("UPDATE directory_accounts SET disabled = 1 WHERE locked_time = '000001010000Z'").run()
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
