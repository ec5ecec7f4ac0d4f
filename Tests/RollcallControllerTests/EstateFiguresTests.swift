import Foundation
import Logging
@testable import RollcallController
import RollcallProtocol
import SQLKit
import Testing

/// The figures the store keeps up to date as data arrives (migration 10) so the overview and the reports need not
/// recount the estate: the package catalogue, the posture verdicts and the account figures.
@Suite("Figures kept up to date as the data arrives")
struct EstateFiguresTests {
    static func package(_ name: String, _ version: String, _ source: SoftwarePackage.Source = .dpkg, architecture: String? = "amd64",
                        state: SoftwarePackage.State = .installed, maintainer: String? = nil) -> SoftwarePackage {
        SoftwarePackage(name: name, version: version, architecture: source == .dpkg ? architecture : nil, source: source, state: state,
                        section: nil, maintainer: maintainer)
    }

    static func report(_ device: String, at collected: Date, _ packages: [SoftwarePackage], posture: PostureFacts? = nil) -> InventoryReport {
        var report = sampleReport(machineID: "m-\(device)", hostname: device, collectedAt: collected)
        report.software = SoftwareInventory(packages: packages)
        report.posture = posture
        return report
    }

    /// The catalogue as it must be: the titles counted straight from every installation, as before it existed.
    static func counted(_ store: ControllerStore) async throws -> [String] {
        try await store.withConnection { db in
            try await db.raw("""
                SELECT p.source || ' ' || p.name || ' ' || p.version || ' ' || count(DISTINCT p.device_id) AS line
                FROM device_packages p JOIN devices d ON d.id = p.device_id
                WHERE p.state = 'installed' AND d.revoked_at IS NULL GROUP BY p.source, p.name, p.version ORDER BY 1
                """).all(decodingColumn: "line", as: String.self)
        }
    }

    /// As `rollcall devices revoke` does it (these test devices were never enrolled with a key, which it asks for).
    static func revoke(_ device: String, _ store: ControllerStore) async throws {
        try await store.withConnection { db in
            try await db.update("devices").set("revoked_at", to: SQLBind(Int64(1_795_000_000_000))).where("id", .equal, device).run()
        }
    }

    static func catalogue(_ store: ControllerStore) async throws -> [String] {
        try await store.withConnection { db in
            try await db.raw("SELECT source || ' ' || name || ' ' || version || ' ' || devices AS line FROM package_catalogue ORDER BY 1")
                .all(decodingColumn: "line", as: String.self)
        }
    }

    @Test("the package catalogue follows every report, multiarch, a late old report and a revocation, and matches a full count")
    func packageCatalogue() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        let store = fixture.store
        let day = Date(timeIntervalSince1970: 1_795_000_000)
        // ict-01 has libc6 for two architectures (multiarch): one device, counted once.
        _ = try await store.ingest(Self.report("ict-01", at: day, [
            Self.package("libc6", "2.36-9", architecture: "amd64"), Self.package("libc6", "2.36-9", architecture: "i386"),
            Self.package("google-chrome-stable", "131.0-1"), Self.package("zoom-client", "6.2.11", .snap),
            Self.package("old-tool", "1.0", state: .configFiles),
        ]), body: "{}", deviceID: "ict-01")
        _ = try await store.ingest(Self.report("ict-02", at: day, [
            Self.package("libc6", "2.36-9"), Self.package("google-chrome-stable", "130.0-1"),
        ]), body: "{}", deviceID: "ict-02")
        #expect(try await Self.catalogue(store) == [
            "dpkg google-chrome-stable 130.0-1 1", "dpkg google-chrome-stable 131.0-1 1", "dpkg libc6 2.36-9 2", "snap zoom-client 6.2.11 1",
        ])
        let chrome = try #require(try await store.packageTitles().first { $0.key.name == "google-chrome-stable" })
        #expect(chrome.devices == 2 && chrome.lowestVersion == "130.0-1" && chrome.highestVersion == "131.0-1")

        // ict-02 upgrades Chrome and drops libc6 for i386 only; then a report collected earlier arrives late and
        // must change nothing.
        _ = try await store.ingest(Self.report("ict-02", at: day.addingTimeInterval(3600), [
            Self.package("libc6", "2.36-9"), Self.package("google-chrome-stable", "131.0-1"),
        ]), body: "{}", deviceID: "ict-02")
        _ = try await store.ingest(Self.report("ict-01", at: day.addingTimeInterval(7200), [
            Self.package("libc6", "2.36-9", architecture: "amd64"), Self.package("google-chrome-stable", "131.0-1"),
        ]), body: "{}", deviceID: "ict-01")
        _ = try await store.ingest(Self.report("ict-01", at: day.addingTimeInterval(60), [Self.package("something-else", "1")]),
                                   body: "{}", deviceID: "ict-01")
        #expect(try await Self.catalogue(store) == ["dpkg google-chrome-stable 131.0-1 2", "dpkg libc6 2.36-9 2"])

        // A revoked machine's software no longer counts.
        try await Self.revoke("ict-02", store)
        #expect(try await Self.catalogue(store) == ["dpkg google-chrome-stable 131.0-1 1", "dpkg libc6 2.36-9 1"])
        #expect(try await Self.catalogue(store) == (try await Self.counted(store)))
        // Should a revocation ever be undone, the machine's software counts again.
        try await store.withConnection { db in
            try await db.update("devices").set("revoked_at", to: SQLLiteral.null).where("id", .equal, "ict-02").run()
        }
        #expect(try await Self.catalogue(store) == ["dpkg google-chrome-stable 131.0-1 2", "dpkg libc6 2.36-9 2"])

        // Rows are replaced, never edited in place: an edit would bypass the counts, so the store refuses it.
        await #expect(throws: (any Error).self) {
            try await store.withConnection { db in try await db.raw("UPDATE device_packages SET version = '9'").run() }
        }
    }

    @Test("posture verdicts are judged once and stored, then again only for new facts or a new policy")
    func postureVerdicts() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        let store = fixture.store
        let day = Date(timeIntervalSince1970: 1_795_000_000)
        _ = try await store.ingest(Self.report("ict-01", at: day, [], posture: PostureJudgeTests.lock(true, idle: 300)), body: "{}", deviceID: "ict-01")
        _ = try await store.ingest(Self.report("ict-02", at: day, [], posture: PostureJudgeTests.lock(false, idle: 300)), body: "{}", deviceID: "ict-02")
        func stored() async throws -> [String] {
            try await store.withConnection { db in
                try await db.raw("SELECT device_id || ' ' || screen_lock || ' ' || judged_under AS line FROM posture_verdicts ORDER BY 1")
                    .all(decodingColumn: "line", as: String.self)
            }
        }
        #expect(try await stored().isEmpty)
        let policy = PosturePolicy()
        let key = PostureJudge(policy: policy).key
        #expect(try await store.postures(policy: policy).mapValues(\.screenLock.status) == ["ict-01": .pass, "ict-02": .fail])
        #expect(try await stored() == ["ict-01 pass \(key)", "ict-02 fail \(key)"])

        // ict-02's user turns the lock on: its verdict is dropped with the old facts and judged again.
        _ = try await store.ingest(Self.report("ict-02", at: day.addingTimeInterval(60), [], posture: PostureJudgeTests.lock(true, idle: 300)),
                                   body: "{}", deviceID: "ict-02")
        #expect(try await stored() == ["ict-01 pass \(key)"])
        let counts = try await store.postureCounts(policy: policy)
        #expect(counts.count == 1 && counts[0].screenLock == .pass && counts[0].devices == 2)

        // A stricter policy (lock within 4 minutes) re-judges both under its own key.
        var strict = PosturePolicy()
        strict.maxIdleMinutes = 4
        let strictKey = PostureJudge(policy: strict).key
        #expect(strictKey != key)
        #expect(try await store.postures(policy: strict).mapValues(\.screenLock.status) == ["ict-01": .fail, "ict-02": .fail])
        #expect(try await stored() == ["ict-01 fail \(strictKey)", "ict-02 fail \(strictKey)"])
    }

    /// An account row as a directory sync writes it.
    static func addAccount(_ store: ControllerStore, uid: String, passwordChanged: Date, lastBind: Date) async throws {
        try await store.withConnection { db in
            try await db.raw("""
                INSERT INTO directory_accounts (dn, uid, join_key, kind, created_at, password_changed_at, password_reset, last_bind_at, digest,
                                                synced_at, changed_at)
                VALUES (\(bind: "uid=\(uid),ou=staff,dc=oakfield,dc=example"), \(bind: uid), \(bind: uid.uppercased()), 'staff',
                        \(bind: passwordChanged.millisecondsSince1970), \(bind: passwordChanged.millisecondsSince1970), 0,
                        \(bind: lastBind.millisecondsSince1970), 'digest', 1, 1)
                """).run()
        }
    }

    @Test("the overview's account figures are kept while nothing changes, and follow a write to the directory and the clock")
    func accountFigures() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        let store = fixture.store
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        var summary = DirectorySyncSummary(url: "ldap://127.0.0.1:3890")
        summary.lastBindTracked = true
        let json = String(decoding: try JSONEncoder().encode(summary), as: UTF8.self)
        try await store.withConnection { db in
            try await db.raw("INSERT INTO directory_syncs (url, finished_at, summary) VALUES ('ldap://127.0.0.1:3890', 1, \(bind: json))").run()
        }
        // Policy: passwords at most 180 days old, stale after 120 days without a log-on (the defaults).
        #expect(fixture.configuration.passwords.maxAgeDays == 180 && fixture.configuration.accounts.staleAfterDays == 120)
        let day = 86_400.0
        try await Self.addAccount(store, uid: "fresh", passwordChanged: now.addingTimeInterval(-10 * day), lastBind: now.addingTimeInterval(-day))
        try await Self.addAccount(store, uid: "due-soon", passwordChanged: now.addingTimeInterval(-180.5 * day), lastBind: now.addingTimeInterval(-day))
        try await Self.addAccount(store, uid: "overdue", passwordChanged: now.addingTimeInterval(-300 * day), lastBind: now.addingTimeInterval(-day))

        func figures(at moment: Date) async throws -> (zombies: Int?, overdue: Int?) {
            let overview = try await EstateOverview.gather(store: store, configuration: fixture.configuration, now: moment)
            return (overview.zombieAccounts, overview.overduePasswords)
        }
        #expect(try await figures(at: now) == (0, 1))
        // Kept under the store's revision, until the first password comes due.
        let key = try await AccountFiguresMemo.key(store: store, configuration: fixture.configuration)
        #expect(store.accountFigures.figures(for: key, at: now)?.overduePasswords == 1)

        // Half a day on, due-soon's password is 181 days old: overdue, with nothing written.
        #expect(store.accountFigures.figures(for: key, at: now.addingTimeInterval(day / 2)) == nil)
        #expect(try await figures(at: now.addingTimeInterval(day / 2)) == (0, 2))

        // A new account (a directory sync writes it) moves the store's revision: the figures are judged again.
        try await Self.addAccount(store, uid: "gone-quiet", passwordChanged: now.addingTimeInterval(-5 * day), lastBind: now.addingTimeInterval(-200 * day))
        #expect(try await store.revision("accounts") > key.revision)
        #expect(try await figures(at: now.addingTimeInterval(day / 2)) == (1, 2))
        // And the accounts page agrees with the overview.
        let page = try await EstateSections(store: store, configuration: fixture.configuration, now: now.addingTimeInterval(day / 2)).accounts()
        #expect(page.rows.filter { $0.tone == "bad" }.count == 1 && page.rows.filter { $0.tone == "warn" }.count == 2)
    }

    @Test("upgrading a store that has data fills the catalogue, and the counts then follow new reports")
    func upgradeFillsCatalogue() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        let day = Date(timeIntervalSince1970: 1_795_000_000)
        for device in ["ict-01", "ict-02", "ict-03"] {
            _ = try await fixture.store.ingest(Self.report(device, at: day, [
                Self.package("libc6", "2.36-9"), Self.package("firefox-esr", device == "ict-03" ? "128.5" : "115.9"),
            ], posture: PostureJudgeTests.lock(true, idle: 300)), body: "{}", deviceID: device)
        }
        try await Self.revoke("ict-03", fixture.store)
        // The store as migration 9 left it, with the same data.
        try await fixture.store.withConnection { db in
            for trigger in try await db.raw("SELECT name FROM sqlite_master WHERE type = 'trigger'").all(decodingColumn: "name", as: String.self) {
                try await db.raw("DROP TRIGGER \(ident: trigger)").run()
            }
            for statement in [
                "DROP TABLE package_catalogue", "DROP TABLE posture_verdicts", "DROP TABLE store_revisions", "DROP TABLE licence_matches",
                "DROP INDEX device_packages_by_device_name", "CREATE INDEX device_packages_by_device ON device_packages (device_id)",
                "DROP INDEX usb_events_by_time", "CREATE INDEX usb_events_by_time ON usb_events (occurred_at)", "DROP INDEX incidents_by_status",
                "DROP INDEX devices_by_revocation",
                "DELETE FROM schema_migrations WHERE number = 10",
            ] {
                try await db.raw(SQLQueryString(statement)).run()
            }
        }
        await fixture.store.close()
        let store = try await ControllerStore.open(path: fixture.configuration.storePath, logger: Logger(label: "test"))
        #expect(try await Self.catalogue(store) == ["dpkg firefox-esr 115.9 2", "dpkg libc6 2.36-9 2"])
        _ = try await store.ingest(Self.report("ict-01", at: day.addingTimeInterval(60), [Self.package("libc6", "2.36-9")]), body: "{}", deviceID: "ict-01")
        #expect(try await Self.catalogue(store) == ["dpkg firefox-esr 115.9 1", "dpkg libc6 2.36-9 2"])
        #expect(try await Self.catalogue(store) == (try await Self.counted(store)))
        #expect(try await store.postureCounts(policy: PosturePolicy()).map(\.devices) == [2])
        await store.close()
    }
}
