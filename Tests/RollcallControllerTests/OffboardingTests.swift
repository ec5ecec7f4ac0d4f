import Foundation
import LDAPKit
@testable import RollcallController
import RollcallProtocol
import RollcallTestSupport
import SQLKit
import Testing

/// The sample school's staff export for these tests: Ada Okafor (S1004) left in the summer, Sam Patel (S1001, the
/// protected IT admin) is marked as leaving by mistake, and Siân Ó Briain (S1020) is new.
let offboardingExport = """
    Employee Number,Legal Forename,Legal Surname,Work Email,Post,Employment Start Date,Employment End Date
    S1001,Sam,Patel,itadmin@oakfield.example,ICT Technician,01/09/2015,31/08/2026
    S1002,Jane,Smith,jsmith@oakfield.example,Teacher of English,01/09/2014,
    S1003,Bob,Jones,bjones@oakfield.example,Teacher of Maths,01/09/2012,
    S1004,Ada,Okafor,aokafor@oakfield.example,Teacher of Science,01/09/2019,31/08/2026
    S1005,Mia,Williams,mwilliams@oakfield.example,Teacher,01/09/2020,
    S1006,Cara,Khan,ckhan@oakfield.example,Teacher,01/09/2020,
    S1008,Hal,Brown,hbrown@oakfield.example,Teacher,01/09/2020,
    S1009,Tom,Green,tgreen@oakfield.example,Teacher,01/09/2020,31/08/2031
    S1010,Rhian,Morris,rmorris@oakfield.example,Teacher,01/09/2020,
    S1011,Paul,Wilson,pwilson@oakfield.example,Teacher,01/09/2020,
    S1020,Siân,Ó Briain,sobriain@oakfield.example,Teacher of Welsh,01/09/2026,

    """

@Suite("Offboarding and joiners against a real slapd", .serialized)
struct OffboardingTests {
    /// Imports the export and a register with Ada's laptop, whose serial an agent then reports.
    static func prepare(_ school: SchoolFixture) async throws {
        let export = school.directory.appendingPathComponent("staff.csv").path
        try offboardingExport.write(toFile: export, atomically: true, encoding: .utf8)
        _ = try await HRImport(path: export, kind: .staff, preset: .sims, now: importDay).run(into: school.store)
        let register = school.directory.appendingPathComponent("register.csv").path
        try """
            Asset Tag,Serial Number,Make,Model,Type,Purchase Date,Cost,Location,Assigned To
            OAK-0042,5CG3281XYZ,HP,EliteBook 840 G10,Laptop,01/09/2023,"£1,049.00",Staff room,S1004
            OAK-0043,PF3ABCDE,Lenovo,ThinkPad T14,Laptop,01/09/2023,899.99,Staff room,jsmith@oakfield.example
            OAK-0100,,Epson,EB-W51,Projector,01/09/2022,450,Room 12,

            """.write(toFile: register, atomically: true, encoding: .utf8)
        _ = try await EquipmentImport(path: register).run(into: school.store)
        // Ada's laptop reports in: the DMI serial in sampleReport() is the one on the register.
        let report = sampleReport(hostname: "staff-laptop-17", collectedAt: Date())
        _ = try await school.store.ingest(report, body: String(decoding: try RollcallJSON.encoder().encode(report), as: UTF8.self), deviceID: "device-17")
    }

    @Test("a leaver's account is disabled on apply, a protected one is left alone and reported, and the laptop keeps them offboarding until it is back")
    func offboardLeaver() async throws {
        try await withSchool { school in
            _ = try await school.sync()
            try await Self.prepare(school)
            let register = try await school.store.equipment(policy: EquipmentPolicy())
            let laptop = try #require(register.first { $0.assetTag == "OAK-0042" })
            #expect(laptop.device?.id == "device-17" && laptop.device?.matchedBy == "product")
            #expect(laptop.lifecycle == .inUse && laptop.assignedName == "Ada Okafor" && laptop.costPence == 104_900)
            #expect(register.first { $0.assetTag == "OAK-0100" }?.lifecycle == .enrolled)

            let accounts = try await school.store.directoryAccounts()
            let result = OffboardingPlanner(policy: school.configuration.accounts, today: Day(importDay))
                .plan(leavers: try await school.store.people(status: .left), accounts: accounts,
                      equipment: try await school.store.equipment(policy: EquipmentPolicy()))
            let plan = try await school.store.createOffboardingPlan(result, totalAccounts: accounts.count, threshold: 25)
            #expect(plan.items.map(\.uid) == ["aokafor"])
            let view = try #require(try await school.store.offboarding(planID: plan.id, equipmentPolicy: EquipmentPolicy()))
            let sam = try #require(view.leavers.first { $0.person.joinKey == "S1001" })
            #expect(sam.accountNotes == ["itadmin is protected (member of it-admins): left alone; check it by hand"])
            let ada = try #require(view.leavers.first { $0.person.joinKey == "S1004" })
            #expect(ada.equipment.map(\.tag) == ["OAK-0042"])
            let html = OffboardingChecklist(view).html()
            #expect(html.contains("5CG3281XYZ") && html.contains("staff-laptop-17") && html.contains("Ada Okafor"))
            #expect(OffboardingChecklist(view).csv().contains(#"S1004,Ada Okafor,staff,"left on 31/08/2026 per the export of 24/11/2026 (staff.csv, import 1)",equipment,OAK-0042"#))

            let outcome = try await school.apply(plan)
            #expect(outcome.done == 1)
            let admin = try await school.admin()
            let disabled = try await admin.entry(dn: "uid=aokafor,ou=leavers,\(SchoolFixture.suffix)", attributes: ["pwdAccountLockedTime"])
            #expect(disabled?.string("pwdAccountLockedTime") == GeneralizedTime.administrativeLock)
            let itadmin = try await admin.entry(dn: "uid=itadmin,ou=staff,\(SchoolFixture.suffix)", attributes: ["pwdAccountLockedTime"])
            #expect(itadmin?.string("pwdAccountLockedTime") == nil)

            #expect(try await school.store.people(status: .left).first { $0.joinKey == "S1004" }?.offboarding == .offboarding)
            let returned = try await school.store.returnEquipment(tag: "oak-0042", note: "charger missing")
            #expect(returned.personOffboarded)
            #expect(try await school.store.people(status: .left).first { $0.joinKey == "S1004" }?.offboarding == .offboarded)
            #expect(try await school.store.history(of: "S1004").map(\.event) == ["left", "offboarding", "offboarded"])
            #expect(try await school.store.verifyAuditLog().isIntact)
        }
    }

    @Test("a joiner's account is created with a temporary password written only to a 0600 file; binding with it says change after reset")
    func joinerCanBindAndMustChange() async throws {
        try await withSchool { school in
            _ = try await school.sync()
            try await Self.prepare(school)
            var policy = JoinersPolicy()
            policy.staffGroups = ["cn=teachers,ou=groups,\(SchoolFixture.suffix)"]
            let (items, _) = JoinersPlanner(policy: policy, directory: school.ldap, protectedUIDs: [], today: Day(importDay))
                .plan(people: try await school.store.people(status: .current), accounts: try await school.store.directoryAccounts())
            #expect(items.map(\.uid) == ["sobriain"])
            #expect(items.first?.dn == "uid=sobriain,ou=staff,\(SchoolFixture.suffix)")
            let plan = try await school.store.createPlan(kind: .joiners, items: items, notes: [], totalAccounts: 40, threshold: 25)

            let passwordsPath = school.directory.appendingPathComponent("passwords.csv").path
            await #expect(throws: PlanError.passwordsFileNeeded(plan.id)) {
                try await PlanApplier(directory: school.ldap, policy: school.configuration.accounts, acceptMassChange: false).apply(plan, store: school.store)
            }
            let passwords = try PasswordsFile(path: passwordsPath)
            let outcome = try await PlanApplier(directory: school.ldap, policy: school.configuration.accounts, acceptMassChange: false,
                                                passwords: passwords).apply(plan, store: school.store)
            #expect(outcome.done == 1)
            let mode = try FileManager.default.attributesOfItem(atPath: passwordsPath)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let lines = try String(contentsOfFile: passwordsPath, encoding: .utf8).split(separator: "\r\n")
            #expect(lines.count == 2)
            let fields = lines[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(fields[0] == "S1020" && fields[4] == "sobriain")
            let password = fields[5]
            #expect(password.count == 12)

            let joiner = try LDAPConnection(url: school.server.url)
            let response = try await joiner.simpleBind(dn: "uid=sobriain,ou=staff,\(SchoolFixture.suffix)", password: password)
            #expect(response.mustChangePassword)
            let admin = try await school.admin()
            let entry = try await admin.entry(dn: "uid=sobriain,ou=staff,\(SchoolFixture.suffix)", attributes: ["userPassword", "pwdReset", "employeeNumber"])
            #expect(entry?.string("pwdReset") == "TRUE" && entry?.string("employeeNumber") == "S1020")
            #expect(entry?.string("userPassword")?.hasPrefix("{") == true)
            let group = try await admin.entry(dn: "cn=teachers,ou=groups,\(SchoolFixture.suffix)", attributes: ["member", "memberUid"])
            #expect((group?.strings("member") ?? []).contains("uid=sobriain,ou=staff,\(SchoolFixture.suffix)")
                    || (group?.strings("memberUid") ?? []).contains("sobriain"))
            // Never stored or audited in clear.
            #expect(try await school.store.auditEntries().allSatisfy { !$0.detail.contains(password) })
            let storeBytes = try Data(contentsOf: URL(fileURLWithPath: school.configuration.storePath))
            #expect(storeBytes.range(of: Data(password.utf8)) == nil)

            // A second plan finds the account and plans nothing; a uid taken by someone else gets a number.
            _ = try await school.sync()
            let again = JoinersPlanner(policy: policy, directory: school.ldap, protectedUIDs: [], today: Day(importDay))
                .plan(people: try await school.store.people(status: .current), accounts: try await school.store.directoryAccounts())
            #expect(again.items.isEmpty)
        }
    }

    @Test("uids drop accents and punctuation, and a taken uid gets the next free number")
    func uidPattern() {
        let person = Person(joinKey: "S9", kind: .staff, forename: "Seán", surname: "O'Neill-Ó Briain", status: .current)
        #expect(UIDPattern.fill("{f}{surname}", person: person, today: Day(importDay)) == "soneillobriain")
        let accounts = [DirectoryAccount(dn: "uid=jsmith,ou=staff,dc=x", uid: "jsmith", joinKey: "S1", kind: .staff, passwordReset: false, groups: []),
                        DirectoryAccount(dn: "uid=jsmith2,ou=staff,dc=x", uid: "jsmith2", joinKey: "S2", kind: .staff, passwordReset: false, groups: [])]
        var directory = DirectoryConfiguration(url: "ldap://127.0.0.1")
        directory.staffBaseDNs = ["ou=staff,dc=x"]
        let joiner = Person(joinKey: "S3", kind: .staff, forename: "Jo", surname: "Smith", status: .current)
        let (items, _) = JoinersPlanner(policy: JoinersPolicy(), directory: directory, protectedUIDs: ["jsmith3"], today: Day(importDay))
            .plan(people: [joiner], accounts: accounts)
        #expect(items.map(\.uid) == ["jsmith4"])
    }

    @Test("temporary passwords mix cases, digits and a symbol, and start with a letter")
    func temporaryPasswords() {
        for _ in 0..<200 {
            let password = TemporaryPassword.make(length: 12)
            #expect(password.count == 12 && password.first!.isLetter)
            #expect(password.contains(where: \.isUppercase) && password.contains(where: \.isLowercase) && password.contains(where: \.isNumber))
            #expect(password.contains(where: { "-+=!#%?".contains($0) }))
        }
    }
}
