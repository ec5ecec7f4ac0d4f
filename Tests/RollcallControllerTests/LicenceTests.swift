import Foundation
@testable import RollcallController
import RollcallProtocol
import RollcallTestSupport
import SQLKit
import Testing

/// 24 November 2026: Microsoft's site licence (15 December) is within the 60-day warning; last year's Zoom seat
/// (1 January 2026) has expired.
private let reconcileDay = Date(timeIntervalSince1970: 1_795_478_400)

private func package(_ name: String, _ version: String, _ source: SoftwarePackage.Source = .dpkg, section: String? = nil,
                     maintainer: String? = nil) -> SoftwarePackage {
    SoftwarePackage(name: name, version: version, architecture: source == .dpkg ? "amd64" : nil, source: source, state: .installed,
                    section: section, maintainer: maintainer)
}

private let chromeTeam = "Chrome Linux Team <chromium-dev@chromium.org>"
private let debianLibreOffice = "Debian LibreOffice Maintainers <debian-openoffice@lists.debian.org>"

@Suite("Licence register and reconciliation")
struct LicenceTests {
    /// Seven machines: three ICT suite PCs, three staff laptops (two issued to Jane Smith in the register, one to
    /// nobody) and a revoked PC whose Chrome must not count.
    static func estate(_ fixture: ControllerFixture) async throws {
        let export = fixture.directory.appendingPathComponent("staff.csv").path
        try offboardingExport.write(toFile: export, atomically: true, encoding: .utf8)
        _ = try await HRImport(path: export, kind: .staff, preset: .sims, now: importDay).run(into: fixture.store)
        let register = fixture.directory.appendingPathComponent("register.csv").path
        try """
            Asset Tag,Serial Number,Make,Model,Type,Assigned To
            OAK-0201,LAP-0004,Lenovo,ThinkPad E14,Laptop,S1002
            OAK-0202,LAP-0005,Lenovo,ThinkPad E14,Laptop,jsmith@oakfield.example
            OAK-0203,LAP-0006,Lenovo,ThinkPad E14,Laptop,

            """.write(toFile: register, atomically: true, encoding: .utf8)
        _ = try await EquipmentImport(path: register).run(into: fixture.store)

        let machines: [(String, String, [SoftwarePackage])] = [
            ("ict-01", "PC-0001", [package("google-chrome-stable", "131.0.6778.85-1", section: "web", maintainer: chromeTeam),
                                   package("libreoffice-core", "4:7.6.4-1", section: "editors", maintainer: debianLibreOffice),
                                   package("zoom-client", "6.2.11", .snap),
                                   package("firmware-misc-nonfree", "20230210-5", section: "non-free-firmware/kernel",
                                           maintainer: "Debian Kernel Team <debian-kernel@lists.debian.org>")]),
            ("ict-02", "PC-0002", [package("google-chrome-stable", "130.0.6723.116-1", section: "web", maintainer: chromeTeam),
                                   package("libreoffice-core", "4:24.2.0-1", section: "editors", maintainer: debianLibreOffice),
                                   package("us.zoom.Zoom", "6.1.5", .flatpak)]),
            ("ict-03", "PC-0003", [package("google-chrome-stable", "131.0.6778.85-1", section: "web", maintainer: chromeTeam),
                                   package("code", "1.95.3-1731513102", section: "devel", maintainer: "Microsoft Corporation <vscode-linux@microsoft.com>"),
                                   package("teamviewer", "15.59.3", section: "net", maintainer: "TeamViewer GmbH <support@teamviewer.com>"),
                                   package("unrar", "1:6.2.6-1", section: "non-free/utils", maintainer: "Debian med team <x@lists.debian.org>"),
                                   package("com.spotify.Client", "1.2.48", .flatpak)]),
            ("staff-04", "LAP-0004", [package("zoom-client", "6.2.11", .snap),
                                      package("libutempter0", "1.2.1-3", section: "libs", maintainer: "Christian Göttsche <cgzones@googlemail.com>")]),
            ("staff-05", "LAP-0005", [package("us.zoom.Zoom", "6.2.0", .flatpak)]),
            ("staff-06", "LAP-0006", [package("zoom-client", "6.2.11", .snap), package("libreoffice-core:i386", "4:7.5.9-1", section: "editors")]),
            ("old-07", "PC-0007", [package("google-chrome-stable", "120.0.1-1", section: "web", maintainer: chromeTeam)]),
        ]
        for (hostname, serial, packages) in machines {
            var report = sampleReport(machineID: "m-\(hostname)", hostname: hostname, collectedAt: reconcileDay)
            report.hardware.system.serial = serial
            report.software = SoftwareInventory(packages: packages)
            _ = try await fixture.store.ingest(report, body: "{}", deviceID: hostname)
        }
        try await fixture.store.withConnection { db in
            try await db.update("devices").set("revoked_at", to: SQLBind(reconcileDay.millisecondsSince1970)).where("id", .equal, "old-07").run()
        }
    }

    @Test("reconciliation: per-device over and under, a version range, per-user through the register, snap and flatpak ids, expiry")
    func reconcileEstate() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        try await Self.estate(fixture)
        let summary = try await LicenceImport(path: Repository.path("Tests/Fixtures/licences/register.csv"), now: reconcileDay).run(into: fixture.store)
        #expect(summary.rows == 6 && summary.products == 5 && summary.added == 6 && summary.removed == 0)

        let result = try await LicenceReconciliation.run(store: fixture.store, now: reconcileDay)
        #expect(result.devicesReporting == 6, "the revoked PC is not counted")
        func product(_ name: String) throws -> LicenceReconciliation.Product { try #require(result.products.first { $0.product == name }) }

        // Chrome on ict-01, -02, -03 (old-07 is revoked): 3 machines, 2 seats.
        let chrome = try product("Google Chrome Enterprise")
        #expect(chrome.devices == 3 && chrome.used == 3 && chrome.seatsInForce == 2)
        #expect(chrome.status == .short && chrome.difference == 1 && !chrome.inOrder)
        #expect(chrome.machines.map(\.hostname) == ["ict-01", "ict-02", "ict-03"])

        // LibreOffice 7.x only: ict-01 (7.6.4) and staff-06 (7.5.9, i386-qualified); ict-02's 24.2 is outside.
        let office = try product("LibreOffice 7 LTS support")
        #expect(office.machines.map(\.hostname) == ["ict-01", "staff-06"])
        #expect(office.used == 2 && office.status == .spare && office.difference == 3 && office.inOrder)

        // Zoom, per user: ict-01 (snap), ict-02 (flatpak), staff-06 (issued to nobody) count one each; staff-04 and
        // staff-05 are both Jane Smith's: 4 users. One seat in force; last year's has expired.
        let zoom = try product("Zoom Education")
        #expect(zoom.devices == 5 && zoom.used == 4 && zoom.unassignedDevices == 3)
        #expect(zoom.seatsInForce == 1 && zoom.seatsExpired == 1 && zoom.status == .short && zoom.difference == 3)
        #expect(zoom.machines.first { $0.hostname == "staff-05" }?.holder == "S1002")
        #expect(zoom.references == ["ZM-2026", "ZM-2025"] && zoom.nextExpiry == Day(year: 2027, month: 9, day: 30) && !zoom.expiresSoon)

        let microsoft = try product("Microsoft 365 A3")
        #expect(microsoft.status == .site && microsoft.seatsInForce == nil && microsoft.devices == 0 && microsoft.expiresSoon && microsoft.inOrder)
        let smart = try product("Smart Notebook")
        #expect(smart.status == .notJudged && smart.devices == 0)

        // Commercial-looking packages no licence covers: by maintainer, by archive area, by name; not firmware.
        let flagged = Dictionary(uniqueKeysWithValues: result.unlicensed.map { ($0.name, $0) })
        #expect(Set(flagged.keys) == ["code", "teamviewer", "unrar", "com.spotify.Client"], "\(flagged.keys)")
        #expect(flagged["code"]?.reason.contains("Microsoft") == true)
        #expect(flagged["teamviewer"]?.reason.contains("TeamViewer GmbH") == true)
        #expect(flagged["unrar"]?.reason.contains("non-free") == true)

        // Offboarding Jane Smith would list the Zoom seat her two laptops hold.
        let jane = try #require(try await fixture.store.people().first { $0.joinKey == "S1002" })
        #expect(OffboardingPlanner.licenceNotes(for: jane, result) == [
            "Zoom Education (per user, ZM-2026, ZM-2025): installed on staff-04, staff-05 issued to them; release their seat with Zoom once the machines are back",
        ])
        let bob = try #require(try await fixture.store.people().first { $0.joinKey == "S1003" })
        #expect(OffboardingPlanner.licenceNotes(for: bob, result) == ["None of the 1 per-user licence(s) on the register is installed on equipment issued to Bob."])

        let report = LicenceReport(result)
        let csv = report.csv().split(separator: "\r\n")
        #expect(csv.count == 6 && csv[0].hasPrefix("product,vendor,type,seats_in_force,used"))
        #expect(csv.contains("Google Chrome Enterprise,Google,per-device,2,3,3,short,1,2027-08-31,0,0,0,PO-1001,google-chrome-*"))
        let detail = report.detailCSV()
        #expect(detail.contains("Zoom Education,per-user,staff-05,staff-05,S1002,"))
        let detailLines = detail.split(separator: "\r\n").count
        #expect(detailLines == 11, "a header, then Chrome's 3 machines, LibreOffice's 2 and Zoom's 5")
        let html = report.html()
        #expect(html.contains("SHORT by 1: buy 1 seat(s) or uninstall") && html.contains("expires 2026-12-15 (within 60 days)"))
        #expect(html.contains("<td>teamviewer</td>"))
        let json = try JSONSerialization.jsonObject(with: Data(try report.render(.json).utf8)) as? [String: Any]
        #expect((json?["products"] as? [Any])?.count == 5 && (json?["unlicensed"] as? [Any])?.count == 4)

        // A machine reporting after the import is matched as its report is stored; the overview's counts (from
        // the store) agree with the full reconciliation.
        var report8 = sampleReport(machineID: "m-ict-08", hostname: "ict-08", collectedAt: reconcileDay)
        report8.software = SoftwareInventory(packages: [package("google-chrome-stable", "131.0.6778.85-1", section: "web", maintainer: chromeTeam)])
        _ = try await fixture.store.ingest(report8, body: "{}", deviceID: "ict-08")
        let again = try await LicenceReconciliation.run(store: fixture.store, now: reconcileDay)
        #expect(again.products.first { $0.product == "Google Chrome Enterprise" }?.machines.map(\.hostname) == ["ict-01", "ict-02", "ict-03", "ict-08"])
        let figures = try await LicenceReconciliation.figures(store: fixture.store, now: reconcileDay)
        #expect(figures.products.map(\.used) == again.products.map(\.used) && figures.products.map(\.status) == again.products.map(\.status))
        #expect(figures.products.map(\.unassignedDevices) == again.products.map(\.unassignedDevices))
    }

    @Test("import is all or nothing: every bad row named by line and column, and nothing stored")
    func malformedRegister() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        let path = Repository.path("Tests/Fixtures/licences/malformed.csv")
        let error = await #expect(throws: ImportError.self) { try await LicenceImport(path: path, now: reconcileDay).run(into: fixture.store) }
        let text = error?.description ?? ""
        #expect(text.contains("\(path):3:19: 'ten' is not a number of seats"), "\(text)")
        #expect(text.contains("\(path):4:6: 'per gadget' is not a licence type"))
        #expect(text.contains("\(path):5:17: '/^(teams$/' is not a regular expression (expected ')')"))
        #expect(text.contains("\(path):6:26: '>= seven' is not a version range"))
        #expect(text.contains("\(path):7:1: Chrome is on line 2 too"))
        #expect(text.contains("5 problem(s)") && text.contains("Nothing was imported"))
        #expect(try await fixture.store.licences().isEmpty)
    }

    @Test("re-import: the file is the register; changes and removals are audited, a dry run changes nothing")
    func reimport() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        _ = try await LicenceImport(path: Repository.path("Tests/Fixtures/licences/register.csv"), now: reconcileDay).run(into: fixture.store)
        let smaller = fixture.directory.appendingPathComponent("licences.csv").path
        try """
            Product,Licence Type,Seats,Expiry,Reference,Match
            Google Chrome Enterprise,per device,30,31/08/2027,PO-1001,google-chrome-*
            Zoom Education,per user,1,30/09/2027,ZM-2026,snap:zoom-client; flatpak:us.zoom.Zoom

            """.write(toFile: smaller, atomically: true, encoding: .utf8)
        let dry = try await LicenceImport(path: smaller, dryRun: true, now: reconcileDay).run(into: fixture.store)
        #expect(dry.changed == 2 && dry.removed == 4 && dry.dryRun)
        #expect(try await fixture.store.licences().count == 6)
        let real = try await LicenceImport(path: smaller, now: reconcileDay).run(into: fixture.store)
        #expect(real.changed == 2 && real.removed == 4 && real.added == 0)
        let stored = try await fixture.store.licences()
        #expect(stored.map(\.product) == ["Google Chrome Enterprise", "Zoom Education"] && stored[0].seats == 30)
        let audit = try await fixture.store.auditEntries()
        #expect(audit.filter { $0.action == "licence.add" }.count == 6)
        #expect(audit.contains { $0.action == "licence.update" && $0.target == "Google Chrome Enterprise (PO-1001)" && $0.detail.contains("seats 2 → 30") })
        #expect(audit.filter { $0.action == "licence.remove" }.count == 4)
        #expect(try await fixture.store.verifyAuditLog().isIntact)
    }

    @Test("dpkg's version order, checked against dpkg --compare-versions itself", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg")))
    func versionOrderMatchesDpkg() throws {
        let pairs = [("1.0", "1.0.1"), ("1.0~rc1", "1.0"), ("1:0.1", "9.9"), ("2.10", "2.9"), ("7.6.4-1", "7.6.4-1+deb12u1"), ("1.0a", "1.0"),
                     ("1.0+b1", "1.0"), ("0:1.2", "1.2"), ("1.2-3", "1.2-10"), ("131.0.6778.85-1", "131.0.6778.108-1"), ("6.2.11", "6.2.11"),
                     ("1.0~~", "1.0~"), ("4:24.2.0-1", "4:7.6.4-1")]
        for (left, right) in pairs {
            let ours = DebianVersion.compare(DebianVersion(left), DebianVersion(right))
            let lessThan = try runProgram("/usr/bin/dpkg", ["--compare-versions", left, "lt", right]).status == 0
            let equal = try runProgram("/usr/bin/dpkg", ["--compare-versions", left, "eq", right]).status == 0
            #expect(ours == (lessThan ? -1 : equal ? 0 : 1), "\(left) vs \(right): ours \(ours), dpkg lt=\(lessThan) eq=\(equal)")
        }
    }

    @Test("match rules: globs, regular expressions, sources, version ranges and wildcards")
    func rules() throws {
        let chrome = try LicenceRule(match: "google-chrome-*; flatpak:com.google.Chrome", versions: nil)
        #expect(chrome.matches(source: "dpkg", name: "google-chrome-stable", version: "1"))
        #expect(chrome.matches(source: "flatpak", name: "com.google.Chrome", version: "1"))
        #expect(!chrome.matches(source: "snap", name: "com.google.Chrome", version: "1"))
        let office = try LicenceRule(match: "/libreoffice[0-9.]*-core/", versions: "7.*")
        #expect(office.matches(source: "dpkg", name: "libreoffice7.6-core:amd64", version: "4:7.6.4-1"))
        #expect(!office.matches(source: "dpkg", name: "libreoffice-core", version: "4:24.2.0-1"))
        #expect(!office.matches(source: "dpkg", name: "libreoffice-core-nogui", version: "4:7.6.4-1"))
        let ranged = try LicenceRule(match: "code", versions: ">=1.90 <2, != 1.92.0")
        #expect(ranged.matches(source: "dpkg", name: "code", version: "1.95.3-1731513102"))
        #expect(!ranged.matches(source: "dpkg", name: "code", version: "1.92.0"))
        #expect(!ranged.matches(source: "dpkg", name: "code", version: "1.89.1"))
        #expect(throws: LicenceRule.RuleError.self) { try LicenceRule(match: "chrome stable", versions: nil) }
        #expect(throws: LicenceRule.RuleError.self) { try LicenceRule(match: "code", versions: ">= 1.*") }
        #expect(throws: LicenceRule.RuleError.self) { try LicenceRule(match: " ; ", versions: nil) }
    }
}
