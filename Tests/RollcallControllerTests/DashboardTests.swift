import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import RollcallController
import RollcallProtocol
import Testing

/// A browser's cookies, as the tests carry them between requests.
struct CookieJar {
    var cookies: [String: String] = [:]

    mutating func take(_ response: TestResponse) {
        for header in response.headers[values: .setCookie] {
            guard let pair = header.split(separator: ";").first, let equals = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<equals]), value = String(pair[pair.index(after: equals)...])
            if value.isEmpty || header.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
    }

    var header: HTTPFields {
        cookies.isEmpty ? [:] : [.cookie: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
    }
}

/// The value of `name="field" value="..."` in a page.
func hiddenField(_ field: String, in html: String) -> String? {
    guard let range = html.range(of: "name=\"\(field)\" value=\"") else { return nil }
    return String(html[range.upperBound...].prefix { $0 != "\"" })
}

func formBody(_ fields: [(String, String)]) -> ByteBuffer {
    ByteBuffer(string: fields.map { "\(FormFields.encode($0.0))=\(FormFields.encode($0.1))" }.joined(separator: "&"))
}

let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

extension TestClientProtocol {
    /// Signs in through the sign-in form the way a browser does; returns the jar holding the session cookie.
    func signIn(_ name: String, _ password: String, next: String = "") async throws -> (jar: CookieJar, response: TestResponse) {
        var jar = CookieJar()
        let page = try await execute(uri: "/login", method: .get)
        jar.take(page)
        let token = try #require(hiddenField("csrf", in: String(buffer: page.body)))
        var headers = jar.header
        headers.append(contentsOf: formHeaders)
        let response = try await execute(uri: "/login", method: .post, headers: headers,
                                         body: formBody([("csrf", token), ("username", name), ("password", password), ("next", next)]))
        jar.take(response)
        return (jar, response)
    }
}

@Suite("Dashboard: sign-in, roles, forms and exports")
struct DashboardTests {
    static let passwords: [DashboardRole: String] = [
        .technician: "Tech-pass-2026", .esafetyOfficer: "Safe-pass-2026", .governor: "Gov-pass-2026!", .readOnly: "Read-pass-2026",
    ]

    static func withUsers(_ body: (ControllerFixture) async throws -> Void) async throws {
        let fixture = try await ControllerFixture.make()
        do {
            for (role, password) in passwords {
                try await fixture.store.addDashboardUser(name: role.rawValue, role: role, passwordHash: try PasswordHash.make(password))
            }
            try await body(fixture)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    @Test("Argon2id hashes verify the right password only, and weak dashboard passwords are named")
    func passwordHashes() throws {
        let hash = try PasswordHash.make("Correct-horse-1")
        #expect(hash.hasPrefix("$argon2id$v=19$m=65536,t=3,p=1$"))
        #expect(PasswordHash.verify("Correct-horse-1", against: hash))
        #expect(!PasswordHash.verify("correct-horse-1", against: hash))
        #expect(!PasswordHash.verify("Correct-horse-1", against: "$2b$10$notargon"))
        #expect(try PasswordHash.make("Correct-horse-1") != hash)
        #expect(PasswordHash.weakness(of: "short1A") != nil)
        #expect(PasswordHash.weakness(of: "alllowercaseletters") != nil)
        #expect(PasswordHash.weakness(of: "Mixed-case-9") == nil)
    }

    @Test("each role sees exactly what it may, on pages, exports and the JSON API; nobody signed in is sent to sign in")
    func rolesHoldEverywhere() async throws {
        try await Self.withUsers { fixture in
            try await fixture.app().test(.live) { client in
                let paths: [(String, DashboardPermission)] = [
                    ("/", .overview), ("/devices", .estate), ("/accounts", .estate), ("/licences", .estate), ("/audit", .audit),
                    ("/incidents", .incidents), ("/governors", .governorsReport), ("/report", .complianceReport),
                    ("/devices?format=csv", .estate), ("/incidents?format=json", .incidents), ("/api/v1/devices", .estate),
                ]
                for role in DashboardRole.allCases {
                    let (jar, signedIn) = try await client.signIn(role.rawValue, Self.passwords[role]!)  // safe: every role has a password above
                    #expect(signedIn.status == .seeOther)
                    #expect(signedIn.headers[.location] == role.home)
                    for (path, permission) in paths {
                        let response = try await client.execute(uri: path, method: .get, headers: jar.header)
                        let expected: HTTPResponse.Status = role.may(permission) ? .ok : .forbidden
                        #expect(response.status == expected, "\(role.rawValue) at \(path)")
                    }
                    let guess = try await client.execute(uri: "/devices", method: .get, headers: jar.header)
                    if role == .governor {
                        #expect(String(buffer: guess.body).contains("The governor role cannot see /devices."))
                    }
                    let home = try await client.execute(uri: role.home, method: .get, headers: jar.header)
                    let page = String(buffer: home.body)
                    for item in DashboardPage.navigation {
                        #expect(page.contains("<a href=\"\(item.href)\"") == role.may(item.permission), "\(role.rawValue) nav \(item.href)")
                    }
                }
                let back = try await client.signIn("technician", Self.passwords[.technician]!, next: "/licences?q=zoom")  // safe: set above
                #expect(back.response.headers[.location] == "/licences?q=zoom")
                let notTheirs = try await client.signIn("governor", Self.passwords[.governor]!, next: "/devices")  // safe: set above
                #expect(notTheirs.response.headers[.location] == "/governors")
                let elsewhere = try await client.signIn("read-only", Self.passwords[.readOnly]!, next: "//evil.example/")  // safe: set above
                #expect(elsewhere.response.headers[.location] == "/")
                let anonymous = try await client.execute(uri: "/devices?sort=hostname", method: .get, headers: [.accept: "text/html,*/*;q=0.8"])
                #expect(anonymous.status == .seeOther)
                #expect(anonymous.headers[.location] == "/login?next=%2Fdevices%3Fsort%3Dhostname")
                let curl = try await client.execute(uri: "/report", method: .get, headers: [.accept: "*/*"])
                #expect(curl.status == .unauthorized)
                let script = try await client.execute(uri: "/api/v1/devices", method: .get)
                #expect(script.status == .unauthorized)
                #expect(try decodeError(script.body).error.code == "sign_in_required")
                let forged = try await client.execute(uri: "/api/v1/devices", method: .get, headers: [.authorization: "Bearer not-a-token"])
                #expect(forged.status == .unauthorized)
            }
        }
    }

    @Test("wrong passwords are refused alike; the fifth within the window locks the name, audited, until unlocked")
    func lockout() async throws {
        try await Self.withUsers { fixture in
            let signIn = DashboardSignIn(store: fixture.store, configuration: fixture.configuration, logger: .init(label: "test"))
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))  // whole seconds: the store keeps milliseconds
            for attempt in 1...4 {
                await #expect(throws: SignInRefusal.wrongCredentials, "attempt \(attempt)") {
                    try await signIn.signIn(name: "technician", password: "Wrong-\(attempt)", remote: "127.0.0.9", now: now)
                }
            }
            await #expect(throws: SignInRefusal.wrongCredentials) { try await signIn.signIn(name: "nobody", password: "x", remote: "127.0.0.9", now: now) }
            await #expect(throws: SignInRefusal.lockedOut(until: now.addingTimeInterval(15 * 60))) {
                try await signIn.signIn(name: "technician", password: "Wrong-5", remote: "127.0.0.9", now: now)
            }
            // Locked: even the right password is refused, without telling whether it was right.
            await #expect(throws: SignInRefusal.lockedOut(until: now.addingTimeInterval(15 * 60))) {
                try await signIn.signIn(name: "technician", password: Self.passwords[.technician]!, remote: "127.0.0.9", now: now)  // safe: set above
            }
            let audit = try await fixture.store.auditEntries(target: "dashboard user technician")
            #expect(audit.contains { $0.action == "dashboard.lockout" && $0.detail.contains("127.0.0.9") })
            #expect(try await fixture.store.dashboardUsers(now: now).first { $0.name == "technician" }?.lockedUntil != nil)
            #expect(try await fixture.store.unlockDashboardUser("technician"))
            let issued = try await signIn.signIn(name: "technician", password: Self.passwords[.technician]!, remote: "127.0.0.9", now: now)  // safe: set above
            #expect(issued.session.role == .technician && issued.session.source == .local)
            // After the window the count starts again.
            _ = try? await signIn.signIn(name: "read-only", password: "Wrong", remote: "127.0.0.9", now: now)
            await #expect(throws: SignInRefusal.wrongCredentials) {
                try await signIn.signIn(name: "read-only", password: "Wrong", remote: "127.0.0.9", now: now.addingTimeInterval(16 * 60))
            }
        }
    }

    @Test("the incident form needs the session's token; with it the incident is recorded as the signed-in user and updated with an audit trail")
    func incidentForm() async throws {
        try await Self.withUsers { fixture in
            try await fixture.app().test(.live) { client in
                let (jar, _) = try await client.signIn("e-safety-officer", Self.passwords[.esafetyOfficer]!)  // safe: set above
                let page = String(buffer: try await client.execute(uri: "/incidents", method: .get, headers: jar.header).body)
                #expect(page.contains("id=\"incident-form\""))
                let token = try #require(hiddenField("csrf", in: page))
                var headers = jar.header
                headers.append(contentsOf: formHeaders)
                let fields: [(String, String)] = [
                    ("category", "cyberbullying"), ("when", "2026-11-20T10:30"), ("where", "ICT suite 2"), ("who", "Year 9 pupils"),
                    ("description", "Messages in a group chat during lesson"), ("action", "head-teacher"), ("action", "safeguarding"),
                ]
                let forged = try await client.execute(uri: "/incidents", method: .post, headers: headers, body: formBody(fields + [("csrf", "forged")]))
                #expect(forged.status == .forbidden)
                let missing = try await client.execute(uri: "/incidents", method: .post, headers: headers, body: formBody(fields))
                #expect(missing.status == .forbidden)
                #expect(try await fixture.store.incidents().isEmpty)
                let saved = try await client.execute(uri: "/incidents", method: .post, headers: headers, body: formBody(fields + [("csrf", token)]))
                #expect(saved.status == .seeOther)
                let incident = try #require(try await fixture.store.incidents().first)
                #expect(saved.headers[.location] == "/incidents/\(incident.id)?saved=1")
                #expect(incident.kind == "cyberbullying" && incident.reportedBy == "e-safety-officer" && incident.location == "ICT suite 2")
                #expect(incident.actions == [.headTeacher, .safeguarding])
                #expect(incident.occurredAt == Date(timeIntervalSince1970: 1_795_170_600))
                let closeWithout = try await client.execute(uri: "/incidents/\(incident.id)", method: .post, headers: headers,
                                                            body: formBody([("csrf", token), ("action", "head-teacher"), ("action", "safeguarding"), ("close", "1")]))
                #expect(closeWithout.status == .unprocessableContent)
                #expect(String(buffer: closeWithout.body).contains("has no outcome yet"))
                let closed = try await client.execute(uri: "/incidents/\(incident.id)", method: .post, headers: headers, body: formBody([
                    ("csrf", token), ("action", "head-teacher"), ("action", "safeguarding"), ("action", "policy-review"),
                    ("outcome", "Parents met; chat rules reviewed"), ("close", "1"),
                ]))
                #expect(closed.status == .seeOther)
                let history = try await fixture.store.incidentHistory(id: incident.id)
                #expect(history.map(\.action) == ["incident.open", "incident.action", "incident.outcome", "incident.close"])
                #expect(history.allSatisfy { $0.actor == "e-safety-officer" })
                // A read-only user sees the log but not the form, and cannot post to it.
                let (reader, _) = try await client.signIn("read-only", Self.passwords[.readOnly]!)  // safe: set above
                let readerPage = String(buffer: try await client.execute(uri: "/incidents/\(incident.id)", method: .get, headers: reader.header).body)
                #expect(readerPage.contains("Parents met") && !readerPage.contains("id=\"incident-update\""))
                var readerHeaders = reader.header
                readerHeaders.append(contentsOf: formHeaders)
                let refused = try await client.execute(uri: "/incidents", method: .post, headers: readerHeaders, body: formBody(fields))
                #expect(refused.status == .forbidden)
            }
        }
    }

    @Test("a table sorts, filters and exports the same rows as CSV and JSON")
    func sortFilterExport() async throws {
        try await Self.withUsers { fixture in
            for (index, category) in [IncidentCategory.cyberbullying, .misuse, .dataProtection].enumerated() {
                _ = try await fixture.store.addIncident(NewIncident(
                    category: category, occurredAt: Date(timeIntervalSince1970: 1_790_000_000 + Double(index) * 86400), reportedBy: "head",
                    location: "Room \(index)", involved: nil, description: "Case \(index)", deviceID: nil, actions: [], outcome: nil))
            }
            try await fixture.app().test(.live) { client in
                let auth = try await fixture.bearer()
                let csv = String(buffer: try await client.execute(uri: "/incidents?sort=id&dir=desc&format=csv", method: .get, headers: auth).body)
                let ids = csv.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",")[0] }
                #expect(ids == ["3", "2", "1"])
                let filtered = String(buffer: try await client.execute(uri: "/incidents?q=room+1&format=csv", method: .get, headers: auth).body)
                #expect(filtered.split(separator: "\r\n").count == 2 && filtered.contains("Case 1"))
                let json = try await client.execute(uri: "/incidents?sort=category&format=json", method: .get, headers: auth)
                let document = try JSONSerialization.jsonObject(with: Data(buffer: json.body)) as? [String: Any]
                let rows = document?["rows"] as? [[String: Any]]
                #expect(rows?.compactMap { $0["category"] as? String } == ["cyberbullying", "data protection", "misuse of equipment"])
                #expect(rows?.first?["id"] as? Int == 1)
                let (jar, _) = try await client.signIn("technician", Self.passwords[.technician]!)  // safe: set above
                let html = String(buffer: try await client.execute(uri: "/incidents?sort=occurred_at&dir=desc", method: .get, headers: jar.header).body)
                #expect(html.contains("aria-sort=\"descending\""))
                #expect(html.contains("id=\"export-csv\" href=\"/incidents?sort=occurred_at&amp;dir=desc&amp;format=csv\""))
                let caseTwo = try #require(html.range(of: "Case 2")), caseZero = try #require(html.range(of: "Case 0"))
                #expect(caseTwo.lowerBound < caseZero.lowerBound)
            }
        }
    }

    @Test("signing out ends the session, and a changed role or removed user holds from the next request")
    func sessionsEnd() async throws {
        try await Self.withUsers { fixture in
            try await fixture.app().test(.live) { client in
                let (jar, _) = try await client.signIn("technician", Self.passwords[.technician]!)  // safe: set above
                let page = String(buffer: try await client.execute(uri: "/", method: .get, headers: jar.header).body)
                let token = try #require(hiddenField("csrf", in: page))
                var headers = jar.header
                headers.append(contentsOf: formHeaders)
                let out = try await client.execute(uri: "/logout", method: .post, headers: headers, body: formBody([("csrf", token)]))
                #expect(out.status == .seeOther)
                var browser = jar.header
                browser[.accept] = "text/html"
                #expect(try await client.execute(uri: "/", method: .get, headers: browser).status == .seeOther)

                let (reader, _) = try await client.signIn("read-only", Self.passwords[.readOnly]!)  // safe: set above
                #expect(try await client.execute(uri: "/devices", method: .get, headers: reader.header).status == .ok)
                try await fixture.store.updateDashboardUser(name: "read-only", role: .governor)
                #expect(try await client.execute(uri: "/devices", method: .get, headers: reader.header).status == .unauthorized)
                let token2 = try await fixture.bearer(.readOnly)
                #expect(try await client.execute(uri: "/api/v1/devices", method: .get, headers: token2).status == .ok)
                try await fixture.store.removeDashboardUser(name: "test-read-only")
                #expect(try await client.execute(uri: "/api/v1/devices", method: .get, headers: token2).status == .unauthorized)
            }
            let actions = try await fixture.store.auditEntries().map(\.action)
            #expect(actions.contains("dashboard.sign-in") && actions.contains("dashboard.sign-out") && actions.contains("dashboard.user.role"))
        }
    }

    @Test("timestamps in exports are what Foundation's ISO 8601 style writes, across leap days, centuries and 1970")
    func timestamps() {
        var dates = [-86_400.5, -1, 0, 951_782_400, 951_868_799, 4_107_542_400, 1_795_478_399.999, 253_402_300_799]
            .map(Date.init(timeIntervalSince1970:))
        var generator = SystemRandomNumberGenerator()
        dates += (0..<2_000).map { _ in Date(timeIntervalSince1970: Double.random(in: -2_000_000_000...4_000_000_000, using: &generator)) }
        for date in dates {
            #expect(DashboardTable.Value.timestamp(date) == date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)), "\(date.timeIntervalSince1970)")
        }
    }

    @Test("the overview counts what the pages list and records the day for the compliance trend")
    func overview() async throws {
        try await Self.withUsers { fixture in
            _ = try await fixture.store.ingest(sampleReport(), body: "{}", deviceID: "d1")
            _ = try await fixture.store.addIncident(NewIncident(category: .misuse, occurredAt: Date(), reportedBy: nil, location: nil, involved: nil,
                                                                description: "Keyboard damaged", deviceID: nil, actions: [], outcome: nil))
            let overview = try await EstateOverview.gather(store: fixture.store, configuration: fixture.configuration)
            #expect(overview.devices == 1 && overview.openIncidents == 1 && overview.accounts == nil)
            #expect(overview.incidentsPerMonth.count == 12 && overview.incidentsPerMonth.last?.count == 1)
            #expect(overview.history.map(\.day) == [Day(Date()).iso])
            let html = OverviewPage(overview: overview, role: .technician).html()
            #expect(html.contains("<svg class=\"chart\"") && html.contains("Open incidents"))
        }
    }
}
