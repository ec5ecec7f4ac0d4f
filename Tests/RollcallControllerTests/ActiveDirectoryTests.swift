import Foundation
import LDAPKit
import Logging
@testable import RollcallController
import RollcallTestSupport
import SQLKit
import Testing

/// The sample school (controller/sample-school-ad.ldif) in a real Samba AD DC, a fresh store, and the configuration
/// a school would write: ldaps with the DC's CA, a bind as Administrator@SCHOOL.TEST.
struct ADSchoolFixture {
    let server: SambaADServer
    let store: ControllerStore
    let directory: URL
    var configuration: ControllerConfiguration

    static func make(extraLDIF: String = "", plainBinds: Bool = false) async throws -> ADSchoolFixture {
        let server = try await SambaADServer.start(ldif: try SampleADSchool.ldif + "\n" + extraLDIF, plainBinds: plainBinds)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-ad-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = ControllerConfiguration()
        configuration.storePath = directory.appendingPathComponent("controller.sqlite").path
        var ldap = DirectoryConfiguration(url: server.ldapsURL, kind: .activeDirectory)
        ldap.caFile = server.caFile
        ldap.bindDN = SambaADServer.adminBind
        ldap.passwordFile = server.adminPasswordFile
        ldap.staffBaseDNs = [SampleADSchool.staff]
        ldap.pupilBaseDNs = [SampleADSchool.pupils]
        ldap.groupBaseDNs = [SampleADSchool.groups]
        ldap.timeoutSeconds = 5
        configuration.directory = ldap
        configuration.accounts.protectedUIDs = ["svc-mis"]
        configuration.accounts.leaversFile = SampleADSchool.leaversFile
        configuration.accounts.leaversOU = SampleADSchool.leavers
        configuration.accounts.setAccountExpires = true
        let store = try await ControllerStore.open(path: configuration.storePath, logger: Logger(label: "test"))
        return ADSchoolFixture(server: server, store: store, directory: directory, configuration: configuration)
    }

    var ldap: DirectoryConfiguration { configuration.directory! }

    func sync(_ ldap: DirectoryConfiguration? = nil) async throws -> DirectorySyncSummary {
        try await DirectorySync(configuration: ldap ?? self.ldap, protectedGroups: configuration.accounts.protectedGroups, logger: Logger(label: "test"))
            .run(into: store)
    }

    func accountsPlan() async throws -> Plan {
        let accounts = try await store.directoryAccounts()
        let planner = AccountsPlanner(policy: configuration.accounts, leavers: try KeyListFile.load(SampleADSchool.leaversFile), roster: nil,
                                      lastBindTracked: try await store.lastDirectorySync()?.lastBindTracked ?? false)
        let (items, notes, _) = planner.plan(accounts)
        return try await store.createPlan(kind: .accounts, items: items, notes: notes, totalAccounts: accounts.count,
                                          threshold: configuration.accounts.massChangeThreshold(totalAccounts: accounts.count))
    }

    func apply(_ plan: Plan, acceptMassChange: Bool = true, passwords: PasswordsFile? = nil) async throws -> PlanApplier.Outcome {
        try await PlanApplier(directory: ldap, policy: configuration.accounts, acceptMassChange: acceptMassChange, passwords: passwords)
            .apply(plan, store: store)
    }

    func admin() async throws -> LDAPConnection {
        let connection = try LDAPConnection(url: server.ldapsURL, options: LDAPConnectionOptions(caFile: server.caFile, domainScope: true))
        try await connection.simpleBind(dn: SambaADServer.adminBind, password: SambaADServer.adminPassword)
        return connection
    }

    /// The bind error a person gets with `password`, or nil when the bind succeeds.
    func bindError(_ user: String, _ password: String) async throws -> LDAPError? {
        let connection = try LDAPConnection(url: server.ldapsURL, options: LDAPConnectionOptions(caFile: server.caFile))
        do {
            try await connection.simpleBind(dn: "\(user)@\(SambaADServer.realm)", password: password)
            return nil
        } catch {
            return error
        }
    }

    func entry(_ filter: String, _ attributes: [String]) async throws -> LDAPEntry? {
        try await admin().searchAll(base: SambaADServer.domain, filter: filter, attributes: attributes).first
    }

    func tearDown() async {
        await store.close()
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs `body` with a fresh AD school and stops samba and closes the store on every path.
func withADSchool(extraLDIF: String = "", plainBinds: Bool = false, _ body: (inout ADSchoolFixture) async throws -> Void) async throws {
    try await withFixture(try await ADSchoolFixture.make(extraLDIF: extraLDIF, plainBinds: plainBinds), body)
}

extension ADSchoolFixture: DirectoryFixture {}

@Suite("Active Directory: sync, plans and apply against a real Samba AD DC", .serialized)
struct ActiveDirectoryTests {
    @Test("sync reads userAccountControl, pwdLastSet, lastLogonTimestamp, accountExpires, whenCreated and nested Domain Admins; an unchanged DC is not read again")
    func syncState() async throws {
        try await withADSchool { school in
            let first = try await school.sync()
            #expect(first.accountsRead == 28 && first.added == 28 && first.lastBindTracked)
            let accounts = Dictionary(uniqueKeysWithValues: try await school.store.directoryAccounts().map { ($0.uid ?? "", $0) })
            let now = Date()
            func days(_ date: Date?) -> Double? { date.map { now.timeIntervalSince($0) / 86_400 } }
            let bob = try #require(accounts["bjones"])
            #expect(bob.joinKey == "S1003" && bob.kind == .staff && !bob.isDisabled && !bob.passwordReset)
            #expect(days(bob.passwordChangedAt).map { abs($0 - 200) < 0.01 } == true)
            #expect(days(bob.lastBindAt).map { abs($0 - 2) < 0.01 } == true)
            #expect(days(bob.createdAt).map { abs($0 - 1500) < 0.01 } == true)
            #expect(bob.expiresAt == nil)  // accountExpires 9223372036854775807: never
            #expect(try #require(accounts["dlee"]).isDisabled)
            let mark = try #require(accounts["mwilliams"])
            #expect(mark.passwordReset && mark.passwordChangedAt == nil && mark.lastBindAt == nil)
            let ruth = try #require(accounts["rmorris"])
            #expect(ruth.passwordNeverExpires && !ruth.isDisabled)
            #expect(accounts["supply1"]?.joinKey == "supply1")  // no employeeID: the sAMAccountName
            #expect(accounts["awalker24"]?.joinKey == "A820300000004" && accounts["awalker24"]?.kind == .pupils)
            #expect(accounts["svc-mis"] == nil)  // OU=Service Accounts is outside the configured bases
            let domainAdmins = "CN=Domain Admins,CN=Users,\(SambaADServer.domain)"
            #expect(accounts["kprice"]?.groups.contains(domainAdmins) == true)
            // itadmin is a Domain Admin only through IT Admins, nested in Domain Admins.
            #expect(accounts["itadmin"]?.groups.contains(domainAdmins) == true)
            #expect(accounts["itadmin"]?.groups.contains("CN=IT Admins,\(SampleADSchool.groups)") == true)
            #expect(accounts["jsmith"]?.groups == ["CN=Teachers,\(SampleADSchool.groups)"])

            let second = try await school.sync()
            #expect(second.skippedUnchanged && second.unchanged == 28)
            let admin = try await school.admin()
            try await admin.modify(dn: "CN=Jane Smith,\(SampleADSchool.staff)", [.replace("pwdLastSet", ["0"])])
            let third = try await school.sync()
            #expect(!third.skippedUnchanged && third.changed == 1)
            #expect(try await school.store.directoryAccounts().first { $0.uid == "jsmith" }?.passwordReset == true)
        }
    }

    @Test("FILETIME and userAccountControl as Samba writes them: pwdLastSet agrees with whenChanged, accountExpires round-trips, maxPwdAge is 180 days")
    func fileTimesReadBack() async throws {
        try await withADSchool { school in
            let admin = try await school.admin()
            let dn = "CN=Jane Smith,\(SampleADSchool.staff)"
            // A password set now: the DC stamps pwdLastSet (FILETIME) and whenChanged (GeneralizedTime) together.
            try await admin.modify(dn: dn, [.replaceBinary("unicodePwd", [ActiveDirectoryServer.unicodePassword("Fresh-Pass-42")])])
            let entry = try #require(try await admin.entry(dn: dn, attributes: ["pwdLastSet", "whenChanged", "userAccountControl"]))
            let ticks = try #require(entry.string("pwdLastSet"))
            let set = try #require(FileTime.date(ticks))
            let changed = try #require(entry.string("whenChanged").flatMap(GeneralizedTime.parse))
            #expect(abs(set.timeIntervalSince(changed)) < 1.5 && abs(set.timeIntervalSinceNow) < 60)
            // Back to ticks within a microsecond (a Date is a Double: 0.2 µs apart at today's seconds).
            #expect(abs(FileTime.ticks(set) - (Int64(ticks) ?? 0)) < 10)
            #expect(entry.string("userAccountControl") == "512")

            let leaving = Date(timeIntervalSince1970: 1_945_987_200)  // 2031-09-01T00:00:00Z
            try await admin.modify(dn: dn, [.replace("accountExpires", [String(FileTime.ticks(leaving))])])
            #expect(try await admin.entry(dn: dn, attributes: ["accountExpires"])?.string("accountExpires") == "135904608000000000")
            _ = try await school.sync()
            #expect(try await school.store.directoryAccounts().first { $0.uid == "jsmith" }?.expiresAt == leaving)

            let head = try #require(try await admin.entry(dn: SambaADServer.domain, attributes: ["maxPwdAge"]))
            #expect(head.string("maxPwdAge").flatMap(FileTime.intervalDays) == 180)
            #expect(FileTime.date("0") == nil && FileTime.date("9223372036854775807") == nil && FileTime.intervalDays("-9223372036854775808") == nil)
            // The bits as the DC reports them: 514 disabled, 66048 normal with a password that never expires.
            let dlee = try #require(try await school.entry("(sAMAccountName=dlee)", ["userAccountControl"]))
            let ruth = try #require(try await school.entry("(sAMAccountName=rmorris)", ["userAccountControl"]))
            #expect(dlee.string("userAccountControl") == "514" && ruth.string("userAccountControl") == "66048")
            let server = ActiveDirectoryServer(configuration: school.ldap)
            #expect(server.account(from: dlee, kind: .staff).isDisabled && !server.account(from: dlee, kind: .staff).passwordNeverExpires)
            #expect(!server.account(from: ruth, kind: .staff).isDisabled && server.account(from: ruth, kind: .staff).passwordNeverExpires)
        }
    }

    @Test("a leaver is disabled (their bind then fails with data 533), moved and expired, the old userAccountControl audited; a Domain Admin leaver is left alone")
    func leaversDisabled() async throws {
        try await withADSchool { school in
            _ = try await school.sync()
            let plan = try await school.accountsPlan()
            let reasons = Dictionary(uniqueKeysWithValues: plan.items.map { ($0.uid ?? "", $0.reason) })
            #expect(reasons == ["aokafor": .leaver, "awalker24": .leaver, "ahughes24": .leaver, "sharris24": .leaver, "ckhan": .stale, "nwright20": .stale])
            #expect(plan.notes.contains { $0.contains("kprice (member of Domain Admins)") && $0.contains("itadmin (member of Domain Admins)") })
            #expect(plan.notes.contains { $0.contains("1 account(s) already disabled") })
            #expect(plan.notes.contains { $0.hasPrefix("On the leavers list but protected, so left alone: kprice (S1020, member of Domain Admins)") })

            // The threshold refuses (6 changes among 28 accounts, threshold 1) and nothing changes.
            await #expect(throws: PlanError.massChange(plan: plan.id, items: 6, threshold: 1, total: 28)) {
                try await school.apply(plan, acceptMassChange: false)
            }
            #expect(try await school.entry("(sAMAccountName=aokafor)", ["userAccountControl"])?.string("userAccountControl") == "512")

            #expect(try await school.bindError("aokafor", "Staff-Pass-4") == nil)
            // Made an administrator after planning, through the group nested in Domain Admins: the DC is asked again.
            let admin = try await school.admin()
            try await admin.modify(dn: "CN=IT Admins,\(SampleADSchool.groups)", [.add("member", ["CN=Chloe Khan,\(SampleADSchool.staff)"])])
            let outcome = try await school.apply(plan)
            #expect(outcome.done == 5 && outcome.skipped == 1 && outcome.failed == 0)
            let skipped = try #require(try await school.store.plan(id: plan.id)?.items.first { $0.uid == "ckhan" })
            #expect(skipped.status == .skipped && skipped.outcome?.hasPrefix("protected now (member of Domain Admins)") == true, "\(skipped.outcome ?? "")")
            #expect(try await school.entry("(sAMAccountName=ckhan)", ["userAccountControl"])?.string("userAccountControl") == "512")
            let refused = try #require(try await school.bindError("aokafor", "Staff-Pass-4"))
            #expect(refused.code == 49 && refused.activeDirectorySubcode == "533" && refused.description.contains("the account is disabled"))
            let moved = try #require(try await school.entry("(sAMAccountName=aokafor)", ["userAccountControl", "accountExpires"]))
            #expect(moved.dn == "CN=Ada Okafor,\(SampleADSchool.leavers)" && moved.string("userAccountControl") == "514")
            #expect(moved.string("accountExpires").flatMap(FileTime.date).map { abs($0.timeIntervalSinceNow) < 120 } == true)
            // The Domain Admin on the leavers list can still log on.
            #expect(try await school.bindError("kprice", "Staff-Pass-13") == nil)

            let audit = try await school.store.auditEntries()
            let disable = try #require(audit.first { $0.action == "account.disable" && $0.target == "CN=Ada Okafor,\(SampleADSchool.leavers)" })
            #expect(disable.detail.contains("userAccountControl 512 → 514") && disable.detail.contains("moved to \(SampleADSchool.leavers)"))
            let stored = try #require(try await school.store.plan(id: plan.id))
            let again = try await school.apply(stored)
            #expect(again.previouslyDone == 6 && again.done == 0)
            #expect(try await school.store.verifyAuditLog().isIntact)

            // Offboarding from the HR side: the Domain Admin who left is reported, not planned.
            let person = Person(joinKey: "S1020", kind: .staff, forename: "Kevin", surname: "Price", status: .left,
                                leftOn: Day(Date().addingTimeInterval(-86_400 * 3)))
            let offboarding = OffboardingPlanner(policy: school.configuration.accounts)
                .plan(leavers: [person], accounts: try await school.store.directoryAccounts(), equipment: [])
            #expect(offboarding.items.isEmpty)
            #expect(offboarding.leavers.first?.accountNotes == ["kprice is protected (member of Domain Admins): left alone; check it by hand"])
        }
    }

    @Test("password audit: the domain policy and a fine-grained policy against the school's; overdue staff are forced to change (bind then fails with data 773)")
    func passwords() async throws {
        try await withADSchool { school in
            _ = try await school.sync()
            let admin = try await school.admin()
            let accounts = try await school.store.directoryAccounts()
            let protection = ProtectedAccounts(school.configuration.accounts)
            // The domain policy (180 days, 7 characters, complexity) meets the school's rule; rmorris's never-expiring password does not.
            let defaults = PasswordAudit(findings: try await school.ldap.passwordPolicyFindings(admin, school: school.configuration.passwords),
                                         accounts: accounts, school: school.configuration.passwords, protection: protection)
            #expect(defaults.findings.map(\.policy) == ["accounts"] && defaults.neverExpires == ["rmorris"])
            #expect(Set(defaults.overdue.compactMap(\.uid)) == ["bjones", "hbrown", "pwilson"] && defaults.awaitingChange == ["mwilliams"])

            try await admin.modify(dn: SambaADServer.domain, [
                .replace("maxPwdAge", ["-315360000000000"]), .replace("minPwdLength", ["4"]), .replace("pwdProperties", ["0"]),
            ])
            try school.server.admin("ldapadd", [], input: """
                dn: CN=Pupils PSO,CN=Password Settings Container,CN=System,\(SambaADServer.domain)
                objectClass: msDS-PasswordSettings
                msDS-PasswordSettingsPrecedence: 10
                msDS-PasswordReversibleEncryptionEnabled: FALSE
                msDS-PasswordHistoryLength: 0
                msDS-PasswordComplexityEnabled: FALSE
                msDS-MinimumPasswordLength: 6
                msDS-MinimumPasswordAge: 0
                msDS-MaximumPasswordAge: -9223372036854775808
                msDS-LockoutThreshold: 0
                msDS-LockoutObservationWindow: -18000000000
                msDS-LockoutDuration: -18000000000
                msDS-PSOAppliesTo: CN=Year 11,\(SampleADSchool.groups)

                """)
            let weak = try await school.ldap.passwordPolicyFindings(admin, school: school.configuration.passwords)
            let messages = weak.map { "\($0.policy): \($0.message)" }
            #expect(weak.count == 5, "\(messages)")
            #expect(messages.contains { $0.hasPrefix("domain policy (DC=school,DC=test): maximum password age is 365 days") })
            #expect(messages.contains { $0.contains("minimum password length is 4") } && messages.contains { $0.hasPrefix("domain policy") && $0.contains("complexity is off") })
            #expect(messages.contains { $0.hasPrefix("fine-grained policy Pupils PSO (precedence 10, applies to Year 11)") && $0.contains("never expire") })

            var items = defaults.planItems
            items.append(PlanItem(position: items.count + 1, dn: "CN=Ruth Morris,\(SampleADSchool.staff)", uid: "rmorris", kind: .staff,
                                  action: .forcePasswordChange, reason: .passwordOverdue, detail: "password set never to expire"))
            let plan = try await school.store.createPlan(kind: .passwords, items: items, notes: [], totalAccounts: 28, threshold: 5)
            let outcome = try await school.apply(plan)
            #expect(outcome.done == 4)
            let refused = try #require(try await school.bindError("bjones", "Staff-Pass-3"))
            #expect(refused.activeDirectorySubcode == "773" && refused.description.contains("must be changed"))
            let ruth = try #require(try await school.entry("(sAMAccountName=rmorris)", ["userAccountControl", "pwdLastSet"]))
            #expect(ruth.string("userAccountControl") == "512" && ruth.string("pwdLastSet") == "0")
            #expect(try await school.bindError("rmorris", "Staff-Pass-10")?.activeDirectorySubcode == "773")
            let again = try await school.apply(try #require(try await school.store.plan(id: plan.id)))
            #expect(again.previouslyDone == 4)
        }
    }

    @Test("a joiner is created over TLS with a temporary password that must be changed (bind fails with data 773); plain LDAP is refused before anything is written")
    func joiners() async throws {
        try await withADSchool { school in
            _ = try await school.sync()
            school.configuration.joiners.staffGroups = ["CN=Teachers,\(SampleADSchool.groups)"]
            let people = [
                Person(joinKey: "S2001", kind: .staff, forename: "Priya", surname: "Shah", email: "pshah@oakfield.example", role: "Teacher of Physics",
                       startDate: Day(Date()), status: .current),
                // A second Jane Smith: her CN is taken, so her entry carries her login name too.
                Person(joinKey: "S2002", kind: .staff, forename: "Jane", surname: "Smith", startDate: Day(Date()), status: .current),
            ]
            let planner = JoinersPlanner(policy: school.configuration.joiners, directory: school.ldap, protectedUIDs: [])
            let (items, _) = planner.plan(people: people, accounts: try await school.store.directoryAccounts())
            #expect(items.map(\.dn) == ["CN=Priya Shah,\(SampleADSchool.staff)", "CN=Jane Smith (jsmith2),\(SampleADSchool.staff)"])
            #expect(items.map(\.uid) == ["pshah", "jsmith2"])
            let plan = try await school.store.createPlan(kind: .joiners, items: items, notes: [], totalAccounts: 28, threshold: 5)

            var plain = school.ldap
            plain.url = school.server.ldapURL
            let passwordsPath = school.directory.appendingPathComponent("passwords.csv").path
            await #expect(throws: PlanError.passwordsNeedTLS(plan: plan.id, url: school.server.ldapURL)) {
                try await PlanApplier(directory: plain, policy: school.configuration.accounts, acceptMassChange: false,
                                      passwords: try PasswordsFile(path: passwordsPath + ".plain")).apply(plan, store: school.store)
            }
            #expect(try await school.entry("(employeeID=S2001)", ["1.1"]) == nil)

            // StartTLS on port 389 with the DC's CA.
            var startTLS = plain
            startTLS.tls = .starttls
            let passwords = try PasswordsFile(path: passwordsPath)
            let outcome = try await PlanApplier(directory: startTLS, policy: school.configuration.accounts, acceptMassChange: false, passwords: passwords)
                .apply(plan, store: school.store)
            #expect(outcome.done == 2 && outcome.failed == 0)
            let created = try #require(try await school.entry("(employeeID=S2001)",
                                                              ["userAccountControl", "pwdLastSet", "userPrincipalName", "memberOf", "title", "mail"]))
            #expect(created.string("userAccountControl") == "512" && created.string("pwdLastSet") == "0")
            #expect(created.string("userPrincipalName") == "pshah@school.test" && created.string("title") == "Teacher of Physics")
            #expect(created.strings("memberOf") == ["CN=Teachers,\(SampleADSchool.groups)"])
            let lines = try String(contentsOfFile: passwordsPath, encoding: .utf8).split(separator: "\r\n").map { $0.split(separator: ",").map(String.init) }
            let priya = try #require(lines.first { $0.first == "S2001" })
            let temporary = try #require(priya.last)
            let refused = try #require(try await school.bindError("pshah", temporary))
            #expect(refused.activeDirectorySubcode == "773")
            #expect(try await school.bindError("pshah", "not-the-password")?.activeDirectorySubcode == "52e")
            #expect(!(try await school.store.auditEntries()).contains { $0.detail.contains(temporary) })
        }
    }

    @Test("a plain-text bind is refused with what to change; wrong passwords and disabled accounts are told apart")
    func bindErrors() async throws {
        try await withADSchool { school in
            var plain = school.ldap
            plain.url = school.server.ldapURL
            let error = await #expect(throws: LDAPError.self) { try await school.sync(plain) }
            let text = error.map { "\($0)" } ?? ""
            #expect(text.hasPrefix("strongerAuthRequired (8) binding as Administrator@SCHOOL.TEST"), "\(text)")
            #expect(text.contains("directory.tls = \"starttls\"") && text.contains("ldaps://"))

            let wrong = school.directory.appendingPathComponent("wrong.secret").path
            try "Not-The-Password\n".write(toFile: wrong, atomically: true, encoding: .utf8)
            chmod(wrong, 0o600)
            var wrongPassword = school.ldap
            wrongPassword.passwordFile = wrong
            let refusal = await #expect(throws: LDAPError.self) { try await school.sync(wrongPassword) }
            #expect(refusal?.description.contains("invalidCredentials (49) binding as Administrator@SCHOOL.TEST") == true)
            #expect(refusal?.description.contains("(wrong password)") == true && refusal?.description.contains("Not-The-Password") == false)
            #expect(try await school.bindError("dlee", "Staff-Pass-7")?.description.contains("data 533") == true)
            #expect(try await school.store.directoryAccounts().isEmpty)

            // A DN binds as well as user@REALM.
            var byDN = school.ldap
            byDN.bindDN = "CN=Administrator,CN=Users,\(SambaADServer.domain)"
            #expect(try await school.sync(byDN).accountsRead == 28)
        }
    }

    @Test("dashboard sign-in with a directory password: found by sAMAccountName under the staff OUs, the role from memberOf")
    func dashboardSignIn() async throws {
        try await withADSchool { school in
            var policy = DashboardPolicy()
            policy.ldapSignIn = true
            policy.groupRoles = [
                .init(group: "CN=IT Admins,\(SampleADSchool.groups)", role: .technician),
                .init(group: "CN=Teachers,\(SampleADSchool.groups)", role: .readOnly),
            ]
            let signIn = DirectorySignIn(directory: school.ldap, policy: policy)
            let technician = try await signIn.role(of: "itadmin", password: "Staff-Pass-1")
            let reader = try await signIn.role(of: "jsmith", password: "Staff-Pass-2")
            #expect(technician == .technician && reader == .readOnly)
            await #expect(throws: SignInRefusal.wrongCredentials) { try await signIn.role(of: "jsmith", password: "Staff-Pass-1") }
            await #expect(throws: SignInRefusal.wrongCredentials) { try await signIn.role(of: "ataylor20", password: "Pupil-Pass-0") }
            await #expect(throws: SignInRefusal.noRole) { try await signIn.role(of: "supply1", password: "Staff-Pass-12") }
            await #expect(throws: SignInRefusal.wrongCredentials) { try await signIn.role(of: "*", password: "Staff-Pass-1") }
        }
    }

    @Test("a group larger than one range is read whole, range by range")
    func rangedMembers() async throws {
        var ldif = "dn: OU=Bulk,OU=Oakfield,@DOMAIN@\nobjectClass: organizationalUnit\n\n"
        var group = "dn: CN=Whole School,\(SampleADSchool.groups.replacingOccurrences(of: SambaADServer.domain, with: "@DOMAIN@"))\nobjectClass: group\n"
        for index in 0..<250 {
            ldif += "dn: CN=Bulk \(index),OU=Bulk,OU=Oakfield,@DOMAIN@\nobjectClass: user\nsAMAccountName: bulk\(index)\nuserAccountControl: 546\n\n"
            group += "member: CN=Bulk \(index),OU=Bulk,OU=Oakfield,@DOMAIN@\n"
        }
        try await withADSchool(extraLDIF: ldif + group) { school in
            school.configuration.directory?.memberRangeStep = 100
            let admin = try await school.admin()
            let first = try #require(try await admin.searchAll(base: SampleADSchool.groups, filter: "(cn=Whole School)", attributes: ["member;range=0-99"]).first)
            #expect(first.range(of: "member")?.values.count == 100 && first.range(of: "member")?.next == 100)
            let all = try await admin.rangedValues("member", of: first, step: 100)
            #expect(all.count == 250 && Set(all).count == 250)

            let summary = try await school.sync()
            let stored = try await school.store.withConnection { db in
                try await db.raw("SELECT count(*) AS n FROM directory_memberships WHERE group_cn = 'Whole School'").first(decodingColumn: "n", as: Int.self)
            }
            #expect(stored == 250 && summary.groups >= 5)
        }
    }
}
