import Foundation
import LDAPKit
import RollcallTestSupport
import Testing

/// `rollcall directory sync`, `accounts plan` and `plan apply` as a technician runs them, against a real slapd.
@Suite("rollcall directory commands against a real slapd", .serialized)
struct DirectoryCommandTests {
    /// The sample school plus `leavers` generated Year 11 pupils who have all left.
    func school(leavers: Int) throws -> (server: SlapdServer, directory: URL, config: String, leaversFile: String) {
        var ldif = try SampleSchool.ldif + "\n"
        var keys = ""
        for index in 0..<leavers {
            ldif += """
                dn: uid=y11-\(index),ou=pupils,@SUFFIX@
                objectClass: inetOrgPerson
                uid: y11-\(index)
                cn: Year Eleven \(index)
                sn: Eleven
                employeeNumber: L\(100_000 + index)
                userPassword: Leaver-Pass-\(index)


                """
            keys += "L\(100_000 + index)\n"
        }
        var options = SlapdServer.Options()
        options.suffix = SampleSchool.suffix
        let server = try SlapdServer(ldif: ldif, options: options)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-e2e-dir-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let leaversFile = directory.appendingPathComponent("leavers.txt").path
        try keys.write(toFile: leaversFile, atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("controller.toml").path
        try """
            [store]
            path = "controller.sqlite"

            [directory]
            url = "\(server.url)"
            bind_dn = "\(server.adminDN)"
            password_file = "\(server.adminPasswordFile)"
            staff_base_dns = ["ou=staff,\(SampleSchool.suffix)"]
            pupil_base_dns = ["ou=pupils,\(SampleSchool.suffix)"]
            group_base_dns = ["ou=groups,\(SampleSchool.suffix)"]

            [accounts]
            protected_uids = ["svc-mis"]
            protected_groups = ["it-admins"]
            leavers_ou = "ou=leavers,\(SampleSchool.suffix)"
            stale_after_days = 0
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return (server, directory, config, leaversFile)
    }

    @Test("apply killed with SIGKILL half-way finishes on the next run, and no account is changed twice")
    func resumeAfterKill() async throws {
        let (server, directory, config, leaversFile) = try school(leavers: 300)
        defer { server.stop(); try? FileManager.default.removeItem(at: directory) }
        let sync = try runProgram(Binaries.controller, ["directory", "sync", "--config", config])
        #expect(sync.status == 0 && sync.output.contains("Synced 337 account(s)"), "\(sync.output)")
        let planned = try runProgram(Binaries.controller, ["accounts", "plan", "--leavers", leaversFile, "--format", "json", "--config", config],
                                     discardingStandardError: true)
        let plan = try JSONSerialization.jsonObject(with: Data(planned.output.utf8)) as? [String: Any]
        let id = try #require(plan?["id"] as? Int)
        #expect((plan?["items"] as? [Any])?.count == 300)

        let refused = try runProgram(Binaries.controller, ["plan", "apply", String(id), "--config", config])
        #expect(refused.status != 0 && refused.output.contains("more than the mass-change threshold of 16 (of 337 accounts)"))

        let first = try Child(Binaries.controller, ["plan", "apply", String(id), "--accept-mass-change", "--config", config], in: directory, name: "apply-1")
        #expect(eventually(60) { first.stdout.contains("[40/300]") })
        first.kill(SIGKILL)
        let doneBeforeKill = first.stdout.components(separatedBy: "\n").filter { $0.contains("] done ") }.count
        #expect(doneBeforeKill >= 40 && doneBeforeKill < 300, "killed too late to test resuming: \(doneBeforeKill) done")

        let second = try runProgram(Binaries.controller, ["plan", "apply", String(id), "--accept-mass-change", "--config", config])
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("done by an earlier run"))

        // Every leaver is locked and moved; every account has exactly one disable in the audit log.
        let admin = try LDAPConnection(url: server.url)
        try await admin.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        let moved = try await admin.searchAll(base: "ou=leavers,\(SampleSchool.suffix)", scope: .oneLevel, attributes: ["pwdAccountLockedTime"])
        #expect(moved.count == 300 && moved.allSatisfy { $0.string("pwdAccountLockedTime") == "000001010000Z" })
        let audit = try runProgram(Binaries.controller, ["audit", "list", "--format", "json", "--config", config], discardingStandardError: true)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(audit.output.utf8)) as? [[String: Any]])
        let disables = rows.filter { $0["action"] as? String == "account.disable" }.compactMap { $0["target"] as? String }
        #expect(disables.count == 300 && Set(disables).count == 300)
        let verify = try runProgram(Binaries.controller, ["audit", "verify", "--config", config])
        #expect(verify.status == 0 && verify.output.contains("Audit log intact"))
        let again = try runProgram(Binaries.controller, ["plan", "apply", String(id), "--config", config])
        #expect(again.status != 0 && again.output.contains("has been applied in full"))
    }

    @Test("plan apply leaves one journal entry per item with the plan id and DN, and its terminal shows only the progress",
          .enabled(if: JournalNamespace.unavailable == nil, "\(JournalNamespace.unavailable ?? "")"))
    func planApplyJournal() throws {
        let (server, directory, config, leaversFile) = try school(leavers: 3)
        let journal = try JournalNamespace()
        defer { journal.stop(); server.stop(); try? FileManager.default.removeItem(at: directory) }
        let environment = ["ROLLCALL_JOURNAL_SOCKET": journal.socketPath]
        #expect(try runProgram(Binaries.controller, ["directory", "sync", "--config", config]).status == 0)
        let planned = try runProgram(Binaries.controller, ["accounts", "plan", "--leavers", leaversFile, "--format", "json", "--config", config],
                                     discardingStandardError: true)
        let id = try #require((try JSONSerialization.jsonObject(with: Data(planned.output.utf8)) as? [String: Any])?["id"] as? Int)
        let refused = try runProgram(Binaries.controller, ["plan", "apply", String(id), "--config", config], environment: environment)
        #expect(refused.status != 0 && refused.output.contains("mass-change threshold of 2"), "\(refused.output)")
        let apply = try runProgram(Binaries.controller, ["plan", "apply", String(id), "--accept-mass-change", "--config", config],
                                   environment: environment)
        #expect(apply.status == 0, "\(apply.output)")
        #expect(apply.output.contains("[3/3] done") && !apply.output.contains("ctl.plan.id"), "\(apply.output)")

        var entries: [[String: String]] = []
        #expect(eventually(10) { entries = ((try? journal.entries(identifier: "rollcall")) ?? []); return entries.count >= 6 })
        let ofPlan = entries.filter { $0["CTL_PLAN_ID"] == String(id) }
        #expect(ofPlan.first?["MESSAGE"] == "Plan refused: larger than the mass-change threshold" && ofPlan.first?["PRIORITY"] == "4")
        #expect(ofPlan.dropFirst().first?["MESSAGE"] == "Plan apply started" && ofPlan.dropFirst().first?["PRIORITY"] == "5")
        let items = ofPlan.filter { $0["MESSAGE"] == "Plan item done" }
        #expect(Set(items.compactMap { $0["CTL_DN"] }) == Set((0..<3).map { "uid=y11-\($0),ou=leavers,\(SampleSchool.suffix)" }), "\(items)")
        #expect(items.allSatisfy { $0["CTL_ACTION"] == "account.disable" && $0["CTL_DIRECTORY_URL"] == server.url && $0["CTL_PLAN_KIND"] == "accounts" })
        let finished = try #require(ofPlan.last)
        #expect(finished["MESSAGE"] == "Plan apply finished" && finished["CTL_PLAN_DONE"] == "3" && finished["CTL_PLAN_STATUS"] == "applied")
        let everything = entries.flatMap { $0.values }.joined(separator: "\n")
        #expect(!everything.contains(SlapdServer.adminPassword), "the directory's password reached the journal")
    }

    @Test("a wrong directory password stops the sync with the DN to check, and a malformed leavers file names its line")
    func clearErrors() async throws {
        let (server, directory, config, _) = try school(leavers: 0)
        defer { server.stop(); try? FileManager.default.removeItem(at: directory) }
        let secret = directory.appendingPathComponent("wrong.secret").path
        try "Not-The-Password\n".write(toFile: secret, atomically: true, encoding: .utf8)
        chmod(secret, 0o600)
        let wrongConfig = directory.appendingPathComponent("wrong.toml").path
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: server.adminPasswordFile, with: secret)
            .write(toFile: wrongConfig, atomically: true, encoding: .utf8)
        let wrong = try runProgram(Binaries.controller, ["directory", "sync", "--config", wrongConfig])
        #expect(wrong.status != 0)
        #expect(wrong.output.contains("invalidCredentials (49) binding as cn=admin,\(SampleSchool.suffix)"))
        #expect(!wrong.output.contains("Not-The-Password"))

        #expect(try runProgram(Binaries.controller, ["directory", "sync", "--config", config]).status == 0)
        let badLeavers = directory.appendingPathComponent("bad-leavers.txt").path
        try "S1004\nS1007,31/02/2026\n".write(toFile: badLeavers, atomically: true, encoding: .utf8)
        let bad = try runProgram(Binaries.controller, ["accounts", "plan", "--leavers", badLeavers, "--config", config])
        #expect(bad.status != 0 && bad.output.contains("\(badLeavers):2:7: '31/02/2026' is not a date"), "\(bad.output)")
        let plans = try runProgram(Binaries.controller, ["plan", "list", "--format", "json", "--config", config], discardingStandardError: true)
        #expect(plans.output.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || plans.output.contains("[]"))
    }
}
