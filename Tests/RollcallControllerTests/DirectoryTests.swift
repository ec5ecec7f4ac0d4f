import Foundation
import LDAPKit
import Logging
@testable import RollcallController
import RollcallTestSupport
import SQLKit
import Testing

/// The sample school (controller/sample-school.ldif) in a real slapd, a fresh store, and the configuration the
/// demo uses.
struct SchoolFixture {
    let server: SlapdServer
    let store: ControllerStore
    let directory: URL
    var configuration: ControllerConfiguration

    static let suffix = SampleSchool.suffix

    static func make(extraLDIF: String = "", options: SlapdServer.Options = SlapdServer.Options()) async throws -> SchoolFixture {
        var options = options
        options.suffix = suffix
        let server = try SlapdServer(ldif: try SampleSchool.ldif + "\n" + extraLDIF, options: options)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-dir-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = ControllerConfiguration()
        configuration.storePath = directory.appendingPathComponent("controller.sqlite").path
        var ldap = DirectoryConfiguration(url: server.url)
        ldap.bindDN = server.adminDN
        ldap.passwordFile = server.adminPasswordFile
        ldap.staffBaseDNs = ["ou=staff,\(suffix)"]
        ldap.pupilBaseDNs = ["ou=pupils,\(suffix)"]
        ldap.groupBaseDNs = ["ou=groups,\(suffix)"]
        ldap.timeoutSeconds = 3
        configuration.directory = ldap
        configuration.accounts.protectedUIDs = ["svc-mis"]
        configuration.accounts.protectedGroups = ["it-admins"]
        configuration.accounts.leaversFile = SampleSchool.leaversFile
        configuration.accounts.leaversOU = "ou=leavers,\(suffix)"
        configuration.accounts.setShadowExpire = true
        let store = try await ControllerStore.open(path: configuration.storePath, logger: Logger(label: "test"))
        return SchoolFixture(server: server, store: store, directory: directory, configuration: configuration)
    }

    var ldap: DirectoryConfiguration { configuration.directory! }

    func sync() async throws -> DirectorySyncSummary {
        try await DirectorySync(configuration: ldap, logger: Logger(label: "test")).run(into: store)
    }

    func accountsPlan() async throws -> Plan {
        let accounts = try await store.directoryAccounts()
        let planner = AccountsPlanner(policy: configuration.accounts, leavers: try KeyListFile.load(SampleSchool.leaversFile), roster: nil,
                                      lastBindTracked: try await store.lastDirectorySync()?.lastBindTracked ?? false)
        let (items, notes, _) = planner.plan(accounts)
        return try await store.createPlan(kind: .accounts, items: items, notes: notes, totalAccounts: accounts.count,
                                          threshold: configuration.accounts.massChangeThreshold(totalAccounts: accounts.count))
    }

    func apply(_ plan: Plan, acceptMassChange: Bool = true) async throws -> PlanApplier.Outcome {
        try await PlanApplier(directory: ldap, policy: configuration.accounts, acceptMassChange: acceptMassChange).apply(plan, store: store)
    }

    func admin() async throws -> LDAPConnection {
        let connection = try LDAPConnection(url: server.url)
        try await connection.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        return connection
    }

    func tearDown() async {
        await store.close()
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A directory, a store and their files, made for one test and torn down after it.
protocol DirectoryFixture {
    func tearDown() async
}

extension SchoolFixture: DirectoryFixture {}

/// Runs `body` with `fixture` and tears it down on every path.
func withFixture<Fixture: DirectoryFixture>(_ fixture: Fixture, _ body: (inout Fixture) async throws -> Void) async throws {
    var fixture = fixture
    do {
        try await body(&fixture)
    } catch {
        await fixture.tearDown()
        throw error
    }
    await fixture.tearDown()
}

/// Runs `body` with a fresh school and stops slapd and closes the store on every path.
func withSchool(extraLDIF: String = "", options: SlapdServer.Options = SlapdServer.Options(), _ body: (inout SchoolFixture) async throws -> Void) async throws {
    try await withFixture(try await SchoolFixture.make(extraLDIF: extraLDIF, options: options), body)
}

@Suite("Directory sync, plans and apply against a real slapd", .serialized)
struct DirectoryTests {
    @Test("sync stores each account's policy state and groups; a second sync rewrites nothing; removals and changes are seen")
    func syncState() async throws {
        try await withSchool { school in
            let first = try await school.sync()
            #expect(first.accountsRead == 37 && first.added == 37 && first.removed == 0)
            #expect(first.groups == 7 && first.lastBindTracked)
            let accounts = Dictionary(uniqueKeysWithValues: try await school.store.directoryAccounts().map { ($0.uid ?? "", $0) })
            let mark = try #require(accounts["mwilliams"])
            #expect(mark.passwordReset && mark.joinKey == "S1005" && mark.kind == .staff && mark.lastBindAt == nil)
            #expect(try #require(accounts["dlee"]).isDisabled)
            #expect(accounts["pwilson"]?.passwordChangedAt == nil && accounts["pwilson"]?.lastBindAt != nil)
            #expect(accounts["itadmin"]?.groups == ["cn=it-admins,ou=groups,\(SchoolFixture.suffix)"])
            #expect(accounts["awalker24"]?.groups.contains("cn=year11,ou=groups,\(SchoolFixture.suffix)") == true)
            #expect(accounts["backup"] == nil)  // ou=system is outside the configured bases
            let created = try #require(accounts["jsmith"]?.createdAt)
            #expect(abs(Date().timeIntervalSince(created) - 1200 * 86_400) < 86_400)

            let second = try await school.sync()
            #expect(second.unchanged == 37 && second.added == 0 && second.changed == 0)

            let admin = try await school.admin()
            try await admin.delete(dn: "uid=supply1,ou=staff,\(SchoolFixture.suffix)")
            try await admin.modify(dn: "uid=jsmith,ou=staff,\(SchoolFixture.suffix)", [.replace("pwdReset", ["TRUE"])])
            let third = try await school.sync()
            #expect(third.removed == 1 && third.changed == 1 && third.accountsRead == 36)
            #expect(try await school.store.directoryAccounts().first { $0.uid == "jsmith" }?.passwordReset == true)
        }
    }

    @Test("the accounts plan lists leavers and stale accounts, never protected, disabled or future leavers; a roster adds orphans")
    func accountsPlan() async throws {
        try await withSchool { school in
            _ = try await school.sync()
            let plan = try await school.accountsPlan()
            let reasons = Dictionary(uniqueKeysWithValues: plan.items.map { ($0.uid ?? "", $0.reason) })
            #expect(reasons == ["aokafor": .leaver, "awalker24": .leaver, "ahughes24": .leaver, "sharris24": .leaver, "ckhan": .stale, "nwright20": .stale])
            #expect(plan.threshold == 1 && plan.exceedsThreshold)
            #expect(plan.notes.contains { $0.contains("itadmin (member of it-admins)") && $0.contains("svc-mis (protected uid)") })
            #expect(plan.notes.contains { $0.contains("S1009 leaves on 2031-08-31") })

            let accounts = try await school.store.directoryAccounts()
            let roster = try KeyListFile.parse(accounts.compactMap(\.joinKey).filter { $0 != "S1004" }.joined(separator: "\n"), path: "roster.txt")
            let withRoster = AccountsPlanner(policy: school.configuration.accounts, leavers: nil, roster: roster, lastBindTracked: true).plan(accounts)
            let orphans = withRoster.items.filter { $0.reason == .orphan }.compactMap(\.uid).sorted()
            #expect(orphans == ["aokafor", "supply1"])
            #expect(withRoster.items.contains { $0.uid == "svc-mis" } == false)
        }
    }

    @Test("apply locks for real: the user's bind fails, the entry moves to the leavers OU; applying again changes nothing; the audit chain verifies")
    func applyLocks() async throws {
        try await withSchool { school in
            _ = try await school.sync()
            let plan = try await school.accountsPlan()
            let outcome = try await school.apply(plan)
            #expect(outcome.done == 6 && outcome.failed == 0)

            let user = try LDAPConnection(url: school.server.url)
            await #expect { try await user.simpleBind(dn: "uid=aokafor,ou=leavers,\(SchoolFixture.suffix)", password: "Staff-Pass-4") } throws: { error in
                (error as? LDAPError)?.code == 49 && (error as? LDAPError)?.description.contains("account locked") == true
            }
            let admin = try await school.admin()
            let moved = try #require(try await admin.entry(dn: "uid=aokafor,ou=leavers,\(SchoolFixture.suffix)", attributes: ["pwdAccountLockedTime", "shadowExpire"]))
            #expect(moved.string("pwdAccountLockedTime") == "000001010000Z" && moved.string("shadowExpire") == "1")
            #expect(try await admin.entry(dn: "uid=aokafor,ou=staff,\(SchoolFixture.suffix)") == nil)
            // Protected accounts untouched.
            let itadmin = try LDAPConnection(url: school.server.url)
            try await itadmin.simpleBind(dn: "uid=itadmin,ou=staff,\(SchoolFixture.suffix)", password: "Staff-Pass-1")

            let stored = try #require(try await school.store.plan(id: plan.id))
            #expect(stored.status == .applied && stored.items.allSatisfy { $0.status == .done })
            let again = try await school.apply(stored)
            #expect(again.previouslyDone == 6 && again.done == 0)
            let verification = try await school.store.verifyAuditLog()
            #expect(verification.isIntact && verification.rows == 11)
        }
    }

    @Test("a plan over the mass-change threshold is refused and changes nothing; a group protection added after planning is honoured")
    func safetyNets() async throws {
        try await withSchool { school in
            _ = try await school.sync()
            let plan = try await school.accountsPlan()
            await #expect(throws: PlanError.massChange(plan: plan.id, items: 6, threshold: 1, total: 37)) {
                try await school.apply(plan, acceptMassChange: false)
            }
            let admin = try await school.admin()
            #expect(try await admin.entry(dn: "uid=aokafor,ou=staff,\(SchoolFixture.suffix)", attributes: ["pwdAccountLockedTime"])?.string("pwdAccountLockedTime") == nil)
            #expect(try await school.store.auditEntries().last?.action == "plan.apply.refused")

            // Protection by a groupOfNames membership (no memberOf on this server), added after planning.
            school.configuration.accounts.protectedGroups.append("cn=teachers,ou=groups,\(SchoolFixture.suffix)")
            let outcome = try await school.apply(plan)
            #expect(outcome.skipped == 1 && outcome.done == 5)
            #expect(try await admin.entry(dn: "uid=ckhan,ou=staff,\(SchoolFixture.suffix)", attributes: ["pwdAccountLockedTime"])?.string("pwdAccountLockedTime") == nil)
        }
    }

    @Test("a changed or removed audit row is found by verify")
    func auditTamper() async throws {
        try await withSchool { school in
            _ = try await school.sync()
            _ = try await school.apply(try await school.accountsPlan())
            #expect(try await school.store.verifyAuditLog().isIntact)
            // The engine refuses changes; a tamperer drops the trigger first.
            await #expect(throws: (any Error).self) {
                try await school.store.withConnection { db in try await db.raw("UPDATE audit_log SET detail = 'nothing' WHERE seq = 4").run() }
            }
            try await school.store.withConnection { db in
                try await db.raw("DROP TRIGGER audit_log_no_update").run()
                try await db.raw("UPDATE audit_log SET target = 'uid=someone-else' WHERE seq = 4").run()
            }
            let broken = try await school.store.verifyAuditLog()
            #expect(broken.firstBreak?.seq == 4 && broken.firstBreak?.problem.contains("changed") == true)
            try await school.store.withConnection { db in
                try await db.raw("UPDATE audit_log SET target = (SELECT target FROM audit_log WHERE seq = 5) WHERE seq = 4").run()
                try await db.raw("DROP TRIGGER audit_log_no_delete").run()
                try await db.raw("DELETE FROM audit_log WHERE seq = 6").run()
            }
            #expect(try await school.store.verifyAuditLog().firstBreak?.seq == 4)
        }
    }

    @Test("password audit: shortfalls of a weak policy, overdue and never-changed staff; the plan forces a change at next log-on")
    func passwords() async throws {
        try await withSchool { school in
            let admin = try await school.admin()
            try await admin.modify(dn: "cn=default,ou=policies,\(SchoolFixture.suffix)", [
                .replace("pwdMaxAge", ["31536000"]), .replace("pwdMinLength", ["4"]), .replace("pwdMustChange", ["FALSE"]), .delete("pwdCheckQuality"),
            ])
            _ = try await school.sync()
            let audit = PasswordAudit(policies: try await PasswordPolicyEntry.read(from: admin), accounts: try await school.store.directoryAccounts(),
                                      school: school.configuration.passwords, protection: ProtectedAccounts(school.configuration.accounts))
            let shortfalls = audit.findings.filter { $0.severity == .shortfall }.map(\.message)
            #expect(shortfalls.count == 4)
            #expect(shortfalls.contains { $0.hasPrefix("pwdMaxAge is 365 days") })
            #expect(Set(audit.overdue.compactMap(\.uid)) == ["bjones", "hbrown", "pwilson"])
            #expect(audit.awaitingChange == ["mwilliams"])

            try await admin.modify(dn: "cn=default,ou=policies,\(SchoolFixture.suffix)", [.replace("pwdMustChange", ["TRUE"])])
            let plan = try await school.store.createPlan(kind: .passwords, items: audit.planItems, notes: [], totalAccounts: 37, threshold: 5)
            let outcome = try await school.apply(plan)
            #expect(outcome.done == 3)
            let user = try LDAPConnection(url: school.server.url)
            #expect(try await user.simpleBind(dn: "uid=pwilson,ou=staff,\(SchoolFixture.suffix)", password: "Staff-Pass-11").mustChangePassword)
        }
    }

    @Test("a wrong bind password, an unreachable server, a referral and a size limit each fail clearly and leave the store as it was")
    func failures() async throws {
        let referral = """
            dn: ou=sixthform,ou=groups,@SUFFIX@
            objectClass: referral
            objectClass: extensibleObject
            ou: sixthform
            ref: ldap://sixthform.example/ou=pupils,dc=sixthform,dc=example

            """
        var options = SlapdServer.Options()
        options.pagedTotalLimit = "20"
        try await withSchool(extraLDIF: referral, options: options) { school in
            var configuration = school.ldap
            configuration.pupilBaseDNs = []
            configuration.groupBaseDNs = []
            #expect(try await DirectorySync(configuration: configuration, logger: Logger(label: "test")).run(into: school.store).accountsRead == 13)

            func failure(_ change: (inout DirectoryConfiguration) -> Void) async -> String {
                var broken = configuration
                change(&broken)
                do {
                    _ = try await DirectorySync(configuration: broken, logger: Logger(label: "test")).run(into: school.store)
                    return "no error"
                } catch {
                    return "\(error)"
                }
            }
            let wrongPassword = school.directory.appendingPathComponent("wrong.secret").path
            try "not-the-password\n".write(toFile: wrongPassword, atomically: true, encoding: .utf8)
            chmod(wrongPassword, 0o600)
            let bind = await failure { $0.passwordFile = wrongPassword }
            #expect(bind.hasPrefix("invalidCredentials (49) binding as cn=admin,\(SchoolFixture.suffix)") && !bind.contains("not-the-password"))

            let port = try freePort()
            let down = await failure { $0.url = "ldap://127.0.0.1:\(port)" }
            #expect(down.contains("serverDown (-1)") && down.contains("Is the directory server running"))

            let referred = await failure { $0.groupBaseDNs = ["ou=groups,\(SchoolFixture.suffix)"] }
            #expect(referred.contains("referral") && referred.contains("ldap://sixthform.example/"))

            // The rootdn is exempt from limits; an ordinary reader account is not.
            let reader = school.directory.appendingPathComponent("reader.secret").path
            try "Staff-Pass-2\n".write(toFile: reader, atomically: true, encoding: .utf8)
            chmod(reader, 0o600)
            let limited = await failure {
                $0.pupilBaseDNs = ["ou=pupils,\(SchoolFixture.suffix)"]
                $0.pageSize = 10
                $0.bindDN = "uid=jsmith,ou=staff,\(SchoolFixture.suffix)"
                $0.passwordFile = reader
            }
            #expect(limited.contains("sizeLimitExceeded (4)") && limited.contains("size.prtotal"))

            let readable = school.directory.appendingPathComponent("open.secret").path
            try "x\n".write(toFile: readable, atomically: true, encoding: .utf8)
            chmod(readable, 0o644)
            let loose = await failure { $0.passwordFile = readable }
            #expect(loose.contains("chmod 600"))

            // Every failure left the first sync's accounts in place.
            #expect(try await school.store.directoryAccounts().count == 13)
            #expect(try await school.store.plans().isEmpty)
        }
    }
}

@Suite("Incremental directory sync", .serialized)
struct IncrementalSyncTests {
    @Test("with syncprov's contextCSN an unchanged directory is not read again; a log-on moves it and the next sync sees the new last bind")
    func contextCSN() async throws {
        var options = SlapdServer.Options()
        options.syncProvider = true
        try await withSchool(options: options) { school in
            let first = try await school.sync()
            #expect(first.contextCSN != nil && !first.skippedUnchanged && first.accountsRead == 37)
            let second = try await school.sync()
            #expect(second.skippedUnchanged && second.unchanged == 37)

            let user = try LDAPConnection(url: school.server.url)
            try await user.simpleBind(dn: "uid=ckhan,ou=staff,\(SchoolFixture.suffix)", password: "Staff-Pass-6")
            let third = try await school.sync()
            #expect(!third.skippedUnchanged && third.changed == 1)
            let ckhan = try #require(try await school.store.directoryAccounts().first { $0.uid == "ckhan" })
            #expect(Date().timeIntervalSince(try #require(ckhan.lastBindAt)) < 120)

            let full = try await DirectorySync(configuration: school.ldap, logger: Logger(label: "test")).run(into: school.store, full: true)
            #expect(!full.skippedUnchanged && full.unchanged == 37)
        }
    }
}
