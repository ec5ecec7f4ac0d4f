import Foundation
import LDAPKit
@testable import RollcallController
import RollcallProtocol
import Testing

@Suite("Governors' report and directory sign-in against a real slapd", .serialized)
struct GovernorsReportTests {
    @Test("no name, user name, host name, serial, asset tag or address reaches any format of the governors' report")
    func anonymous() async throws {
        try await withSchool { school in
            _ = try await school.sync()
            try await OffboardingTests.prepare(school)
            let store = school.store
            let now = Date()
            for index in 0..<6 {
                _ = try await store.addIncident(NewIncident(
                    category: .cyberbullying, occurredAt: now.addingTimeInterval(-Double(index) * 3600), reportedBy: "Ada Okafor",
                    location: "Room 12", involved: "aokafor, jsmith", description: "Messages from staff-laptop-17 (10.20.30.40) to Ben Jones",
                    deviceID: "device-17", actions: [.headTeacher, .safeguarding], outcome: nil))
            }
            for _ in 0..<2 {
                _ = try await store.addIncident(NewIncident(
                    category: .misuse, occurredAt: now, reportedBy: "bjones", location: nil, involved: "Ada Okafor",
                    description: "Serial 5CG3281XYZ keyboard damaged by aokafor", deviceID: nil, actions: [.it], outcome: nil))
            }
            for _ in 0..<5 {
                var event = USBEventStoreTests.event(.add, at: now)
                event.consoleUsers = ["zz-ada-okafor"]
                _ = try await store.ingestUSBEvent(event, body: "{}", deviceID: "device-17")
            }
            let report = try await GovernorsReport.gather(store: store, configuration: school.configuration, now: now)
            let identifiers = [
                "Ada", "Okafor", "aokafor", "jsmith", "Jones", "bjones", "staff-laptop-17", "device-17", "5CG3281XYZ", "PF3ABCDE", "OAK-0042",
                "S1004", "10.20.30.40", "zz-ada-okafor", "4C530001220528110093", "uid=", "dc=", "Room 12", "oakfield.example",
            ]
            for format in GovernorsReport.Format.allCases {
                let text = try report.render(format)
                for identifier in identifiers {
                    #expect(!text.contains(identifier), "\(format.rawValue) carries \(identifier)")
                }
            }
            let term = try #require(report.terms.first)
            #expect(term.incidents.value == 13)
            let categories = Dictionary(uniqueKeysWithValues: term.incidentsByCategory.rows.map { ($0.label, $0.count) })
            // 2 misuse is hidden; 5 USB, the smallest other count, is hidden too so 13 - 6 cannot reveal it; 6 stays.
            #expect(categories["misuse of equipment"]?.suppressed == true)
            #expect(categories["unapproved USB storage"]?.suppressed == true)
            #expect(categories["cyberbullying"]?.value == 6)
            #expect(categories["police"] == nil && categories["other"]?.value == 0)
            #expect(term.usbInsertions.value == 5 && term.usbUnapproved.value == 5 && term.usbApproved.value == 0)
            let actions = Dictionary(uniqueKeysWithValues: term.incidentsByAction.rows.map { ($0.label, $0.count) })
            // IT (2) is hidden, and with it one of the two sixes; the other six stays.
            #expect(actions["IT"]?.suppressed == true)
            #expect(actions["reported to head teacher"]?.suppressed == true && actions["advice from safeguarding"]?.value == 6)
            let csv = report.csv()
            #expect(csv.contains("Incidents by type,misuse of equipment,fewer than 5"))
            let html = report.htmlBody()
            #expect(html.contains("fewer than 5") && html.contains("<svg class=\"chart\""))
        }
    }

    @Test("terms run autumn September–December, spring January–March, summer April–August")
    func terms() {
        let day = { (text: String) in Day(iso: text)!.date }  // safe: literal dates
        #expect(SchoolTerm.containing(day("2026-11-24")).name == "Autumn 2026")
        #expect(SchoolTerm.containing(day("2027-03-31")).name == "Spring 2027")
        #expect(SchoolTerm.containing(day("2027-04-01")).name == "Summer 2027")
        let recent = SchoolTerm.recent(4, endingWith: day("2026-11-24"))
        #expect(recent.map(\.name) == ["Autumn 2026", "Summer 2026", "Spring 2026", "Autumn 2025"])
        #expect(recent[0].interval.end == day("2027-01-01") && recent[1].interval.start == day("2026-04-01"))
    }

    @Test("staff sign in with their directory password and get the role of their group; pupils, strangers and wildcards do not")
    func directorySignIn() async throws {
        try await withSchool { school in
            var configuration = school.configuration
            configuration.dashboard.ldapSignIn = true
            configuration.dashboard.groupRoles = [
                .init(group: "cn=it-admins,ou=groups,\(SchoolFixture.suffix)", role: .technician),
                .init(group: "cn=teachers, ou=groups,\(SchoolFixture.suffix)", role: .readOnly),
            ]
            let signIn = DashboardSignIn(store: school.store, configuration: configuration, logger: .init(label: "test"))
            let admin = try await signIn.signIn(name: "itadmin", password: "Staff-Pass-1", remote: "127.0.0.1")
            #expect(admin.session.role == .technician && admin.session.source == .ldap)
            let teacher = try await signIn.signIn(name: "jsmith", password: "Staff-Pass-2", remote: "127.0.0.1")
            #expect(teacher.session.role == .readOnly)
            #expect(try await school.store.session(secret: teacher.secret)?.role == .readOnly)
            await #expect(throws: SignInRefusal.wrongCredentials) { try await signIn.signIn(name: "jsmith", password: "Staff-Pass-3", remote: "127.0.0.1") }
            await #expect(throws: SignInRefusal.wrongCredentials) { try await signIn.signIn(name: "ataylor20", password: "Pupil-Pass-1", remote: "127.0.0.1") }
            await #expect(throws: SignInRefusal.noRole) { try await signIn.signIn(name: "supply1", password: "Staff-Pass-12", remote: "127.0.0.1") }
            await #expect(throws: SignInRefusal.wrongCredentials) { try await signIn.signIn(name: "*", password: "Staff-Pass-1", remote: "127.0.0.1") }
            await #expect(throws: SignInRefusal.wrongCredentials) { try await signIn.signIn(name: "itadmin)(uid=*", password: "Staff-Pass-1", remote: "127.0.0.1") }
            #expect(LDAPFilter.escape("a*b(c)\\d") == "a\\2ab\\28c\\29\\5cd")

            configuration.directory?.url = "ldap://127.0.0.1:1"
            let down = DashboardSignIn(store: school.store, configuration: configuration, logger: .init(label: "test"))
            await #expect { try await down.signIn(name: "itadmin", password: "Staff-Pass-1", remote: "127.0.0.1") } throws: { error in
                guard case .directoryUnavailable = error as? SignInRefusal else { return false }
                return true
            }
        }
    }
}
