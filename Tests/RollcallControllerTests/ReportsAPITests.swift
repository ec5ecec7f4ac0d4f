import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import RollcallController
import RollcallProtocol
import Testing

/// A controller app over a real SQLite file in a new directory, started live on a loopback port.
struct ControllerFixture {
    let directory: URL
    let store: ControllerStore
    var configuration: ControllerConfiguration

    static func make(maxReportBytes: Int = 8 << 20, requestsPerMinute: Int = 600) async throws -> ControllerFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-ctl-\(UUID().uuidString)")
        var configuration = ControllerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.storePath = directory.appendingPathComponent("controller.sqlite").path
        configuration.maxReportBytes = maxReportBytes
        configuration.requestsPerMinute = requestsPerMinute
        let store = try await ControllerStore.open(path: configuration.storePath, logger: Logger(label: "test"))
        return ControllerFixture(directory: directory, store: store, configuration: configuration)
    }

    /// Plain HTTP: these tests are about the API; TLS is tested with the real agent and curl.
    func app() throws -> some ApplicationProtocol {
        try buildApplication(configuration: configuration, store: store, tls: nil, logger: Logger(label: "test"))
    }

    /// `Authorization: Bearer` for a dashboard user of `role` (made on first use), as a script sends it.
    func bearer(_ role: DashboardRole = .technician) async throws -> HTTPFields {
        let name = "test-\(role.rawValue)"
        if try await !store.dashboardUsers().contains(where: { $0.name == name }) {
            // Never signed in with: the API token is what these tests use, so the hash need not be real.
            try await store.addDashboardUser(name: name, role: role, passwordHash: "$argon2id$unused")
        }
        let issued = try await store.createAPIToken(user: name, label: "test", days: 1)
        return [.authorization: "Bearer \(issued.secret)"]
    }

    /// A device enrolled through the store with a fresh key, as `rollcall-agent enrol` would leave it.
    func enrolledAgent(machineID: String = "3d1219c7c4c5404aaa1f6d2a48adfda4") async throws -> TestAgent {
        let token = try await store.createEnrolmentToken(uses: 1, expiresAt: Date().addingTimeInterval(600))
        let key = Curve25519.Signing.PrivateKey()
        let request = EnrolmentRequest(token: token.secret, publicKey: key.publicKey.rawRepresentation.base64EncodedString(),
                                       machineID: machineID, hostname: "test-pc", agentVersion: "test")
        let response = try await store.enrol(request, publicKey: Array(key.publicKey.rawRepresentation))
        return TestAgent(deviceID: response.deviceID, key: key)
    }

    func tearDown() async {
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

func sampleReport(machineID: String = "3d1219c7c4c5404aaa1f6d2a48adfda4", hostname: String = "ict-suite-01",
                  collectedAt: Date = Date(timeIntervalSince1970: 1_795_000_000)) -> InventoryReport {
    var system = SystemIdentity()
    system.vendor = "HP"
    system.product = "HP EliteBook 840 G10"
    system.serial = "5CG3281XYZ"
    return InventoryReport(
        collectedAt: collectedAt,
        agent: AgentIdentity(machineID: machineID, agentVersion: "0.1.0"),
        hardware: HardwareInventory(
            hostname: hostname, system: system, os: OperatingSystem(prettyName: "Debian GNU/Linux 12 (bookworm)", kernel: "6.1.0-18-amd64"),
            cpu: Processor(), memory: Memory(), disks: [], networkInterfaces: [],
            virtualization: Virtualization(kind: .physical, evidence: [])),
        software: SoftwareInventory(packages: [
            SoftwarePackage(name: "firefox-esr", version: "115.9.1esr-1", architecture: "amd64", source: .dpkg, state: .installed),
            SoftwarePackage(name: "libc6:i386", version: "2.36-9", architecture: "i386", source: .dpkg, state: .installed),
            SoftwarePackage(name: "gone", version: "1", architecture: "amd64", source: .dpkg, state: .configFiles),
        ]),
        absent: [])
}

/// Signs requests the way the agent does (``RequestSignature``), with knobs to get each part wrong.
struct TestAgent {
    let deviceID: String
    let key: Curve25519.Signing.PrivateKey

    func headers(for body: ByteBuffer, path: String = "/api/v1/reports", method: String = "POST", deviceID: String? = nil,
                 timestamp: Int64 = Int64(Date().timeIntervalSince1970), nonce: String = TestAgent.nonce()) throws -> HTTPFields {
        let device = deviceID ?? self.deviceID
        let digest = SHA256.hash(data: Array(body.readableBytesView)).map { String(format: "%02x", $0) }.joined()
        let canonical = RequestSignature.canonical(method: method, path: path, deviceID: device, timestamp: timestamp, nonce: nonce, bodyDigest: digest)
        var fields = HTTPFields()
        fields[HTTPField.Name(RequestSignature.deviceHeader)!] = device
        fields[HTTPField.Name(RequestSignature.timestampHeader)!] = String(timestamp)
        fields[HTTPField.Name(RequestSignature.nonceHeader)!] = nonce
        fields[HTTPField.Name(RequestSignature.signatureHeader)!] = try key.signature(for: canonical).base64EncodedString()
        return fields
    }

    static func nonce() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

extension TestClientProtocol {
    /// POSTs a report signed by `agent`.
    func postReport<Return>(_ body: ByteBuffer, by agent: TestAgent, testCallback: @escaping (TestResponse) async throws -> Return) async throws -> Return {
        try await execute(uri: "/api/v1/reports", method: .post, headers: try agent.headers(for: body), body: body, testCallback: testCallback)
    }
}

func encode(_ report: InventoryReport) throws -> ByteBuffer {
    ByteBuffer(bytes: try RollcallJSON.encoder().encode(report))
}

func decodeError(_ buffer: ByteBuffer) throws -> APIErrorBody {
    try RollcallJSON.decoder().decode(APIErrorBody.self, from: Data(buffer: buffer))
}

@Suite("Reports API")
struct ReportsAPITests {
    @Test("a report is stored once: the first post answers 201 stored, a retry 200 duplicate")
    func idempotentIngest() async throws {
        let fixture = try await ControllerFixture.make()
        let report = sampleReport()
        let agent = try await fixture.enrolledAgent()
        try await fixture.app().test(.live) { client in
            try await client.postReport(try encode(report), by: agent) { response in
                #expect(response.status == .created)
                let receipt = try RollcallJSON.decoder().decode(ReportReceipt.self, from: Data(buffer: response.body))
                #expect(receipt == ReportReceipt(reportID: report.reportID, deviceID: agent.deviceID, outcome: .stored))
            }
            try await client.postReport(try encode(report), by: agent) { response in
                #expect(response.status == .ok)
                let checked = try RollcallJSON.decoder().decode(ReportReceipt.self, from: Data(buffer: response.body)).outcome
                #expect(checked == .duplicate)
            }
            let auth = try await fixture.bearer()
            try await client.execute(uri: "/api/v1/devices", method: .get, headers: auth) { response in
                let devices = try RollcallJSON.decoder().decode([DeviceSummary].self, from: Data(buffer: response.body))
                #expect(devices.count == 1)
                #expect(devices.first?.serial == "5CG3281XYZ")
                #expect(devices.first?.packageCount == 2)
            }
            try await client.execute(uri: "/api/v1/devices/\(agent.deviceID)", method: .get, headers: auth) { response in
                let detail = try RollcallJSON.decoder().decode(DeviceDetail.self, from: Data(buffer: response.body))
                #expect(detail.latestReport == report)
                #expect(detail.reportIDs == [report.reportID])
            }
            try await client.execute(uri: "/api/v1/devices/ffffffffffffffffffffffffffffffff", method: .get, headers: auth) { response in
                #expect(response.status == .notFound)
                let checked = try decodeError(response.body).error.code
                #expect(checked == "unknown_device")
            }
        }
        #expect(try await fixture.store.reportCount() == 1)
        await fixture.tearDown()
    }

    @Test("an older snapshot delivered late is kept but does not roll the device back")
    func lateReportDoesNotRollBack() async throws {
        let fixture = try await ControllerFixture.make()
        let newer = sampleReport(hostname: "renamed-pc", collectedAt: Date(timeIntervalSince1970: 1_795_100_000))
        let older = sampleReport(hostname: "old-name", collectedAt: Date(timeIntervalSince1970: 1_795_000_000))
        _ = try await fixture.store.ingest(newer, body: "{}", deviceID: "d1")
        _ = try await fixture.store.ingest(older, body: "{}", deviceID: "d1")
        let devices = try await fixture.store.devices()
        #expect(devices.map(\.hostname) == ["renamed-pc"])
        #expect(try await fixture.store.reportCount() == 2)
        await fixture.tearDown()
    }

    static let badBodies: [(String, String, Int, String)] = [
        ("truncated JSON", "{\"schemaVersion\":1,\"reportID\":\"C305D220", 400, "malformed_report"),
        ("empty body", "", 400, "empty_report"),
        ("not an object", "[1,2,3]", 400, "malformed_report"),
        ("unknown schema version", "{\"schemaVersion\":2,\"anything\":true}", 422, "unsupported_schema_version"),
        ("no schema version", "{\"reportID\":\"C305D220-5549-493E-91BE-6BF1D3012213\"}", 400, "malformed_report"),
    ]

    @Test("bad bodies get a 4xx JSON error with a stable code and nothing is stored", arguments: badBodies)
    func badBodiesAreRefused(name: String, body: String, status: Int, code: String) async throws {
        let fixture = try await ControllerFixture.make()
        let agent = try await fixture.enrolledAgent()
        try await fixture.app().test(.live) { client in
            try await client.postReport(ByteBuffer(string: body), by: agent) { response in
                #expect(response.status.code == status, "\(name)")
                let checked = try decodeError(response.body).error.code
                #expect(checked == code, "\(name)")
            }
        }
        #expect(try await fixture.store.reportCount() == 0)
        #expect(try await fixture.store.devices().map(\.lastReportID) == [nil])
        await fixture.tearDown()
    }

    @Test("a wrong type is reported with the field path")
    func wrongTypeNamesTheField() async throws {
        let fixture = try await ControllerFixture.make()
        var json = try JSONSerialization.jsonObject(with: try RollcallJSON.encoder().encode(sampleReport())) as? [String: Any] ?? [:]
        var hardware = json["hardware"] as? [String: Any] ?? [:]
        hardware["hostname"] = 42
        json["hardware"] = hardware
        let body = try JSONSerialization.data(withJSONObject: json)
        let agent = try await fixture.enrolledAgent()
        try await fixture.app().test(.live) { client in
            try await client.postReport(ByteBuffer(bytes: body), by: agent) { response in
                #expect(response.status == .badRequest)
                let message = try decodeError(response.body).error.message
                #expect(message.contains("hardware.hostname"))
                #expect(message.contains("expected a string"))
            }
        }
        #expect(try await fixture.store.reportCount() == 0)
        await fixture.tearDown()
    }

    @Test("a report without a usable machine id is refused as unidentified")
    func unidentifiedDevice() async throws {
        let fixture = try await ControllerFixture.make()
        let agent = try await fixture.enrolledAgent()
        try await fixture.app().test(.live) { client in
            try await client.postReport(try encode(sampleReport(machineID: "")), by: agent) { response in
                #expect(response.status == .unprocessableContent)
                let checked = try decodeError(response.body).error.code
                #expect(checked == "unidentified_device")
            }
        }
        #expect(try await fixture.store.reportCount() == 0)
        await fixture.tearDown()
    }

    @Test("a body over the size limit is refused with 413 before it is read whole")
    func hugeBody() async throws {
        let fixture = try await ControllerFixture.make(maxReportBytes: 64 * 1024)
        let huge = ByteBuffer(repeating: UInt8(ascii: " "), count: 1 << 20)
        let agent = try await fixture.enrolledAgent()
        try await fixture.app().test(.live) { client in
            try await client.postReport(huge, by: agent) { response in
                #expect(response.status == .contentTooLarge)
                let error = try decodeError(response.body).error
                #expect(error.code == "request_too_large")
                #expect(error.message.contains("65536"))
            }
        }
        #expect(try await fixture.store.reportCount() == 0)
        await fixture.tearDown()
    }

    @Test("the report page serves HTML, CSV and JSON from the same rows, to a role that may read it")
    func reportFormats() async throws {
        let fixture = try await ControllerFixture.make()
        _ = try await fixture.store.ingest(sampleReport(), body: "{}", deviceID: "d1")
        try await fixture.app().test(.live) { client in
            let auth = try await fixture.bearer()
            try await client.execute(uri: "/report", method: .get, headers: auth) { response in
                #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                let html = String(buffer: response.body)
                #expect(html.contains("<td>5CG3281XYZ</td>"))
                for section in ComplianceReport.defaultSections { #expect(html.contains("<section class=\"section\" id=\"\(section.rawValue)\">")) }
            }
            try await client.execute(uri: "/report?format=csv", method: .get, headers: auth) { response in
                let lines = String(buffer: response.body).split(separator: "\r\n", omittingEmptySubsequences: false)
                #expect(lines[0] == "# Devices")
                #expect(lines[1].hasPrefix("hostname,serial,model,os,last_seen,reporting,screen_lock"))
                #expect(lines[2].hasPrefix("ict-suite-01,5CG3281XYZ,HP EliteBook 840 G10,"))
                #expect(lines.contains("# Licences"))
            }
            try await client.execute(uri: "/report?format=json", method: .get, headers: auth) { response in
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let overview = json?["overview"] as? [String: Any]
                #expect(overview?["devices"] as? Int == 1)
                #expect((json?["sections"] as? [[String: Any]])?.count == ComplianceReport.defaultSections.count)
            }
            try await client.execute(uri: "/report?format=pdf", method: .get, headers: auth) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/report", method: .get, headers: try await fixture.bearer(.governor)) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/report?format=csv", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"rollcall\"")
            }
        }
        await fixture.tearDown()
    }
}

@Suite("Compliance report rendering")
struct ComplianceReportTests {
    @Test("hostnames that look like spreadsheet formulas or HTML are neutralised")
    func hostileHostnames() async throws {
        let fixture = try await ControllerFixture.make()
        _ = try await fixture.store.ingest(sampleReport(machineID: "a1", hostname: "=HYPERLINK(\"http://x\",\"y\")"), body: "{}", deviceID: "d1")
        _ = try await fixture.store.ingest(sampleReport(machineID: "a2", hostname: "<script>alert(1)</script>"), body: "{}", deviceID: "d2")
        let report = try await ComplianceReport.gather(from: fixture.store, configuration: fixture.configuration, sections: [.devices])
        #expect(report.csv().contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""))
        let html = report.html()
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;"))
        await fixture.tearDown()
    }

    @Test("devices silent for over a week are flagged as not reporting")
    func staleDevices() async throws {
        let fixture = try await ControllerFixture.make()
        _ = try await fixture.store.ingest(sampleReport(), body: "{}", deviceID: "d1", receivedAt: Date(timeIntervalSince1970: 1_795_000_000))
        let later = EstateSections(store: fixture.store, configuration: fixture.configuration, now: Date(timeIntervalSince1970: 1_795_000_000 + 9 * 86400))
        let table = try await later.devices()
        #expect(table.rows.first?.values[5] == .text("no"))
        #expect(table.rows.first?.tone == "warn")
        let sameDay = try await EstateSections(store: fixture.store, configuration: fixture.configuration, now: Date(timeIntervalSince1970: 1_795_000_000)).devices()
        #expect(sameDay.rows.first?.values[5] == .text("yes"))
        await fixture.tearDown()
    }

    @Test("the sample controller.toml parses; errors name the file")
    func configuration() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("controller/controller.toml").path
        let configuration = try ControllerConfiguration.load(path: path)
        #expect(configuration.port == 8080 && configuration.maxReportBytes == 8 << 20)
        #expect { try ControllerConfiguration.parse("[server]\nport = \"eighty\"\n", source: "c.toml") } throws: {
            "\($0)" == "c.toml: 'server.port' must be an integer"
        }
        #expect { try ControllerConfiguration.parse("[server\n", source: "c.toml") } throws: { "\($0)".hasPrefix("c.toml:1:") }
    }
}
