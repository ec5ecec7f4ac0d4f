import Foundation
import LDAPKit
import RollcallTestSupport
import Testing

/// `rollcall directory sync`, `accounts plan`, `passwords audit` and `plan apply` as a technician runs them, against a
/// real Samba AD DC configured with `kind = "active-directory"`.
@Suite("rollcall directory commands against a real Samba AD DC", .serialized)
struct ActiveDirectoryCommandTests {
    @Test("apply on AD killed with SIGKILL half-way finishes on the next run; each leaver is disabled once, moved, and audited")
    func resumeAfterKill() async throws {
        let leavers = 120
        var ldif = ""
        var keys = ""
        for index in 0..<leavers {
            // No password (PASSWD_NOTREQD, 544): loading 120 hashed passwords would only slow the test down.
            ldif += """
                dn: CN=Year Eleven \(index),\(SampleADSchool.pupils.replacingOccurrences(of: SambaADServer.domain, with: "@DOMAIN@"))
                objectClass: user
                sAMAccountName: y11-\(index)
                employeeID: L\(100_000 + index)
                userAccountControl: 544


                """
            keys += "L\(100_000 + index)\n"
        }
        let server = try await SambaADServer.start(ldif: try SampleADSchool.ldif + "\n" + ldif)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-e2e-ad-\(UUID().uuidString.prefix(8))")
        defer { server.stop(); try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let leaversFile = directory.appendingPathComponent("leavers.txt").path
        try keys.write(toFile: leaversFile, atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("controller.toml").path
        try """
            [store]
            path = "controller.sqlite"

            [directory]
            kind = "active-directory"
            url = "\(server.ldapsURL)"
            ca_file = "\(server.caFile)"
            bind_dn = "\(SambaADServer.adminBind)"
            password_file = "\(server.adminPasswordFile)"
            staff_base_dns = ["\(SampleADSchool.staff)"]
            pupil_base_dns = ["\(SampleADSchool.pupils)"]
            group_base_dns = ["\(SampleADSchool.groups)"]

            [accounts]
            protected_uids = ["svc-mis"]
            leavers_ou = "\(SampleADSchool.leavers)"
            set_account_expires = true
            stale_after_days = 0
            """.write(toFile: config, atomically: true, encoding: .utf8)

        let sync = try runProgram(Binaries.controller, ["directory", "sync", "--config", config])
        #expect(sync.status == 0 && sync.output.contains("Synced 148 account(s)"), "\(sync.output)")
        let audit = try runProgram(Binaries.controller, ["passwords", "audit", "--config", config])
        #expect(audit.status == 0 && audit.output.contains("The domain's policy and every fine-grained policy meet it") == false, "\(audit.output)")
        #expect(audit.output.contains("rmorris") && audit.output.contains("never to expire") && audit.output.contains("bjones"), "\(audit.output)")

        let planned = try runProgram(Binaries.controller, ["accounts", "plan", "--leavers", leaversFile, "--format", "json", "--config", config],
                                     discardingStandardError: true)
        let plan = try JSONSerialization.jsonObject(with: Data(planned.output.utf8)) as? [String: Any]
        let id = try #require(plan?["id"] as? Int)
        #expect((plan?["items"] as? [Any])?.count == leavers)

        let refused = try runProgram(Binaries.controller, ["plan", "apply", String(id), "--config", config])
        #expect(refused.status != 0 && refused.output.contains("more than the mass-change threshold of 7 (of 148 accounts)"), "\(refused.output)")

        let first = try Child(Binaries.controller, ["plan", "apply", String(id), "--accept-mass-change", "--config", config], in: directory, name: "apply-1")
        #expect(eventually(60) { first.stdout.contains("[20/\(leavers)]") })
        first.kill(SIGKILL)
        let doneBeforeKill = first.stdout.components(separatedBy: "\n").filter { $0.contains("] done ") }.count
        #expect(doneBeforeKill >= 20 && doneBeforeKill < leavers, "killed too late to test resuming: \(doneBeforeKill) done")

        let second = try runProgram(Binaries.controller, ["plan", "apply", String(id), "--accept-mass-change", "--config", config])
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("done by an earlier run"))

        let admin = try LDAPConnection(url: server.ldapsURL, options: LDAPConnectionOptions(caFile: server.caFile, domainScope: true))
        try await admin.simpleBind(dn: SambaADServer.adminBind, password: SambaADServer.adminPassword)
        let moved = try await admin.searchAll(base: SampleADSchool.leavers, scope: .oneLevel, filter: "(objectClass=user)", attributes: ["userAccountControl"])
        #expect(moved.count == leavers && moved.allSatisfy { $0.string("userAccountControl") == "546" })
        let rows = try runProgram(Binaries.controller, ["audit", "list", "--format", "json", "--config", config], discardingStandardError: true)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(rows.output.utf8)) as? [[String: Any]])
        let disables = entries.filter { $0["action"] as? String == "account.disable" }
        #expect(disables.count == leavers && Set(disables.compactMap { $0["target"] as? String }).count == leavers)
        // An item the kill cut short between its write and its record is found already in effect, never written twice.
        #expect(disables.allSatisfy { ($0["detail"] as? String).map { $0.contains("544 → 546") || $0.contains("already disabled (userAccountControl 546)") } == true })
        let verify = try runProgram(Binaries.controller, ["audit", "verify", "--config", config])
        #expect(verify.status == 0 && verify.output.contains("Audit log intact"))
    }
}
