import Foundation
import Logging
@testable import RollcallController
import RollcallTestSupport
import SQLKit
import Testing

/// A fresh store in a temporary directory.
struct StoreFixture {
    let store: ControllerStore
    let directory: URL

    static func make() async throws -> StoreFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-hr-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try await ControllerStore.open(path: directory.appendingPathComponent("controller.sqlite").path, logger: Logger(label: "test"))
        return StoreFixture(store: store, directory: directory)
    }

    func tearDown() async {
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

func withStore(_ body: (StoreFixture) async throws -> Void) async throws {
    let fixture = try await StoreFixture.make()
    do {
        try await body(fixture)
    } catch {
        await fixture.tearDown()
        throw error
    }
    await fixture.tearDown()
}

func hrFixture(_ name: String) -> String { Repository.path("Tests/Fixtures/hr/\(name)") }

/// 24 November 2026: after the summer leavers' dates, before the 2031 one.
let importDay = Day(year: 2026, month: 11, day: 24)!.date.addingTimeInterval(10 * 3600)

func importHR(_ path: String, kind: AccountKind = .staff, preset: HRPreset, into store: ControllerStore, accept: Int? = nil,
              columns: [HRField: String] = [:], dryRun: Bool = false) async throws -> HRImportSummary {
    try await HRImport(path: path, kind: kind, preset: preset, columnOverrides: columns, acceptLeavers: accept, dryRun: dryRun, now: importDay)
        .run(into: store)
}

@Suite("HR import")
struct HRImportTests {
    @Test("a SIMS staff export saved as Windows-1252 with CRLF keeps Welsh and Irish names, quoted commas and line breaks, and dated times")
    func simsWindows1252() async throws {
        try await withStore { fixture async throws in
            let summary = try await importHR(hrFixture("sims-staff-cp1252.csv"), preset: .sims, into: fixture.store)
            #expect(summary.encoding == .windows1252)
            #expect(summary.rows == 6)
            #expect(summary.joined.count == 5)
            #expect(summary.left.count == 1)
            let people = Dictionary(uniqueKeysWithValues: try await fixture.store.people().map { ($0.joinKey, $0) })
            #expect(people["S1012"]?.name == "Siân Ó Briain")
            #expect(people["S1013"]?.name == "Máire O'Sullivan")
            #expect(people["S1013"]?.role == "Cover Supervisor\r\n(mornings)")
            #expect(people["S1013"]?.startDate == Day(year: 2026, month: 9, day: 1))
            #expect(people["S1014"]?.surname == "ap Siôn")
            #expect(people["S1002"]?.role == "Teacher of English, Head of Year 9")
            let leaver = try #require(people["S1004"])
            #expect(leaver.status == .left)
            #expect(leaver.leftOn == Day(year: 2026, month: 8, day: 31))
            #expect(leaver.leavingPhrase == "left on 31/08/2026 per the export of 24/11/2026 (sims-staff-cp1252.csv, import 1)")
        }
    }

    @Test("an Arbor pupil export in UTF-8 with a BOM, ISO dates and blank trailing rows; a Bromcom export with LF line ends")
    func arborAndBromcom() async throws {
        try await withStore { fixture async throws in
            let pupils = try await importHR(hrFixture("arbor-pupils-bom.csv"), kind: .pupils, preset: .arbor, into: fixture.store)
            #expect(pupils.encoding == .utf8 && pupils.byteOrderMark)
            #expect(pupils.rows == 4)
            #expect(try await fixture.store.people(kind: .pupils).map(\.name).contains("Llŷr Ní Dhomhnaill"))
            let staff = try await importHR(hrFixture("bromcom-staff.csv"), preset: .bromcom, into: fixture.store)
            #expect(staff.rows == 3)
            #expect(staff.joined.count == 2 && staff.left.count == 1)
        }
    }

    @Test("a generic export is read through [hr.columns]; without the mapping it is refused naming the columns it has")
    func genericColumns() async throws {
        try await withStore { fixture async throws in
            await #expect {
                try await importHR(hrFixture("generic-staff.csv"), preset: .generic, into: fixture.store)
            } throws: { error in
                let text = String(describing: error)
                return text.contains("generic-staff.csv:1:1: no column holds the join key") && text.contains("'Payroll No', 'Given Name'")
            }
            let columns: [HRField: String] = [.joinKey: "Payroll No", .forename: "Given Name", .surname: "Family Name", .email: "E-mail",
                                              .role: "Job", .startDate: "Joined", .leavingDate: "Left"]
            let summary = try await importHR(hrFixture("generic-staff.csv"), preset: .generic, into: fixture.store, columns: columns)
            #expect(summary.joined.count == 2)
        }
    }

    @Test("a bad date on line 37 is reported with its line and column, and nothing is imported")
    func badDateNamesLineAndColumn() async throws {
        try await withStore { fixture async throws in
            await #expect {
                try await importHR(hrFixture("bad-date-line37.csv"), preset: .bromcom, into: fixture.store)
            } throws: { error in
                guard case .rows(_, let problems, let total) = error as? ImportError else { return false }
                return total == 1 && problems[0].line == 37 && problems[0].column == 62 && problems[0].message.contains("'31/02/2020' is not a date")
            }
            #expect(try await fixture.store.people().isEmpty)
            #expect(try await fixture.store.hrImports().isEmpty)
        }
    }

    @Test("every bad row is listed, not just the first")
    func everyProblemListed() async throws {
        try await withStore { fixture async throws in
            let path = try fixture.write("bad.csv", """
                Payroll Number,First Name,Last Name,Work Email,Start Date,End Date
                S1,Ann,Able,ann@school.example,01/09/2020,
                ,Bob,Baker,bob@school.example,01/09/2020,
                S3,Cat,,not-an-email,31/13/2020,
                S4,Dan,Dyer,dan@school.example,01/09/2020,01/09/2019
                S5,Eve,Ellis,eve@school.example,01/09/2020,,surplus

                """)
            await #expect {
                try await importHR(path, preset: .bromcom, into: fixture.store)
            } throws: { error in
                guard case .rows(_, let problems, let total) = error as? ImportError else { return false }
                let places = problems.map { "\($0.line):\($0.column)" }
                return total == 6 && places == ["3:1", "4:8", "4:9", "4:22", "5:43", "6:45"]
            }
            #expect(try await fixture.store.people().isEmpty)
        }
    }

    @Test("a file with duplicate keys is refused, naming both lines")
    func duplicateKeys() async throws {
        try await withStore { fixture async throws in
            await #expect {
                try await importHR(hrFixture("duplicate-keys.csv"), preset: .bromcom, into: fixture.store)
            } throws: { error in
                guard case .rows(_, let problems, _) = error as? ImportError else { return false }
                return problems.count == 1 && problems[0].line == 22 && problems[0].message.contains("S2004 is in the file 2 times (first on line 5)")
            }
        }
    }

    @Test("a file cut short inside a quoted field is refused at the place the field opened")
    func truncatedFile() async throws {
        try await withStore { fixture async throws in
            await #expect {
                try await importHR(hrFixture("truncated.csv"), preset: .sims, into: fixture.store)
            } throws: { error in
                guard case .syntax(_, let problem) = error as? ImportError else { return false }
                return problem.line == 6 && problem.message.contains("never closed")
            }
            #expect(try await fixture.store.people().isEmpty)
        }
    }

    @Test("an export missing half the staff is refused with the numbers; --accept-leavers with that number imports it")
    func truncationGuard() async throws {
        try await withStore { fixture async throws in
            _ = try await importHR(hrFixture("staff-40.csv"), preset: .bromcom, into: fixture.store)
            await #expect {
                try await importHR(hrFixture("half-missing.csv"), preset: .bromcom, into: fixture.store)
            } throws: { error in
                guard case .tooManyLeavers(_, _, let leaving, let absent, _, let current, let limit) = error as? ImportError else { return false }
                return leaving == 20 && absent == 20 && current == 40 && limit == 5 && error.localizedDescription.isEmpty == false
                    && String(describing: error).contains("--accept-leavers 20")
            }
            #expect(try await fixture.store.people(status: .current).count == 40)
            #expect(try await fixture.store.hrImports().count == 1)
            #expect(try await fixture.store.auditEntries().contains { $0.action == "hr.import.refused" })
            // A different number is not the number the technician checked.
            await #expect(throws: ImportError.self) {
                try await importHR(hrFixture("half-missing.csv"), preset: .bromcom, into: fixture.store, accept: 19)
            }
            let accepted = try await importHR(hrFixture("half-missing.csv"), preset: .bromcom, into: fixture.store, accept: 20)
            #expect(accepted.left.count == 20)
            #expect(try await fixture.store.people(status: .current).count == 20)
            let history = try await fixture.store.history(of: "S2040")
            #expect(history.map(\.event) == ["joined", "left"])
            #expect(history.last?.importID == 2)
            #expect(history.last?.detail == "no longer in the export; left on 24/11/2026")
        }
    }

    @Test("a dry run reports the changes and keeps none of them")
    func dryRun() async throws {
        try await withStore { fixture async throws in
            let summary = try await importHR(hrFixture("staff-40.csv"), preset: .bromcom, into: fixture.store, dryRun: true)
            #expect(summary.joined.count == 40)
            #expect(try await fixture.store.people().isEmpty)
            #expect(try await fixture.store.auditEntries().isEmpty)
        }
    }

    @Test("a leaver back in a later export rejoins; changed details are recorded field by field")
    func rejoinAndChanges() async throws {
        try await withStore { fixture async throws in
            _ = try await importHR(hrFixture("bromcom-staff.csv"), preset: .bromcom, into: fixture.store)
            let back = try fixture.write("back.csv", """
                Payroll Number,First Name,Last Name,Job Title,Start Date,End Date
                S1002,Jane,Smith-Evans,Teacher of English,01/09/2014,
                S1003,Robert,Jones,Teacher of Maths,01/09/2012,
                S1004,Ada,Okafor,Teacher of Science,01/09/2026,

                """)
            let summary = try await importHR(back, preset: .bromcom, into: fixture.store)
            #expect(summary.rejoined.count == 1)
            #expect(summary.changed.first.first { $0.joinKey == "S1002" }?.detail.contains("surname: Smith -> Smith-Evans") == true)
            #expect(try await fixture.store.people(status: .current).count == 3)
            #expect(try await fixture.store.history(of: "S1004").map(\.event) == ["left", "rejoined", "changed"])
        }
    }
}

@Suite("UK dates")
struct DayTests {
    @Test("the forms school exports use, day first", arguments: [
        ("31/08/2026", "2026-08-31"), ("1/9/26", "2026-09-01"), ("31/08/2026 00:00:00", "2026-08-31"), ("31-08-2026", "2026-08-31"),
        ("2026-08-31", "2026-08-31"), ("2026-08-31T00:00:00", "2026-08-31"), ("01/09/98", "1998-09-01"), ("29/02/2028", "2028-02-29"),
    ])
    func parses(text: String, iso: String) {
        #expect(Day(uk: text, today: Day(year: 2026, month: 11, day: 24)!)?.iso == iso)
    }

    @Test("impossible and American dates are refused", arguments: ["31/02/2020", "08/31/2026", "2026/08/31", "31/08", "tomorrow", "29/02/2027", ""])
    func refuses(text: String) {
        #expect(Day(uk: text) == nil)
    }
}
