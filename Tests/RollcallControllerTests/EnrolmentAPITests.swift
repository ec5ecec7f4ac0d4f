import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import RollcallController
import RollcallProtocol
import RollcallTestSupport
import Testing

/// An enrolment request body for a fresh key.
func enrolmentBody(token: String, key: Curve25519.Signing.PrivateKey = .init(), machineID: String = "3d1219c7c4c5404aaa1f6d2a48adfda4") throws -> ByteBuffer {
    let request = EnrolmentRequest(token: token, publicKey: key.publicKey.rawRepresentation.base64EncodedString(),
                                   machineID: machineID, hostname: "ict-suite-07", agentVersion: "0.1.0")
    return ByteBuffer(bytes: try RollcallJSON.encoder().encode(request))
}

func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(response.status == status, sourceLocation: sourceLocation)
    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
    #expect(try decodeError(response.body).error.code == code, sourceLocation: sourceLocation)
}

@Suite("Enrolment and signed requests")
struct EnrolmentAPITests {
    @Test("a token enrols a device once: 201 with a device id, the device is listed, the token is spent")
    func enrolmentHappyPath() async throws {
        let fixture = try await ControllerFixture.make()
        let token = try await fixture.store.createEnrolmentToken(uses: 1, expiresAt: Date().addingTimeInterval(3600))
        try await fixture.app().test(.live) { client in
            try await client.execute(uri: "/api/v1/enrol", method: .post, body: try enrolmentBody(token: token.secret)) { response in
                #expect(response.status == .created)
                let answer = try RollcallJSON.decoder().decode(EnrolmentResponse.self, from: Data(buffer: response.body))
                let devices = try await fixture.store.devices()
                #expect(devices.map(\.id) == [answer.deviceID])
                #expect(devices.first?.hostname == "ict-suite-07")
                #expect(devices.first?.enrolledAt != nil && devices.first?.lastReportID == nil)
            }
            try await client.execute(uri: "/api/v1/enrol", method: .post, body: try enrolmentBody(token: token.secret)) { response in
                try expectError(response, .unauthorized, "token_used")
            }
        }
        #expect(try await fixture.store.enrolmentTokens().map(\.uses) == [1])
        // A key enrols once, even with a token that has uses left.
        let key = Curve25519.Signing.PrivateKey()
        let spare = try await fixture.store.createEnrolmentToken(uses: 5, expiresAt: Date().addingTimeInterval(3600))
        try await fixture.app().test(.live) { client in
            try await client.execute(uri: "/api/v1/enrol", method: .post, body: try enrolmentBody(token: spare.secret, key: key)) { #expect($0.status == .created) }
            try await client.execute(uri: "/api/v1/enrol", method: .post, body: try enrolmentBody(token: spare.secret, key: key)) { response in
                try expectError(response, .conflict, "key_already_enrolled")
            }
        }
        #expect(try await fixture.store.enrolmentTokens().map(\.uses) == [1, 1])
        #expect(try await fixture.store.devices().count == 2)
        await fixture.tearDown()
    }

    @Test("a multi-use token enrols exactly as many machines as it allows")
    func multiUseToken() async throws {
        let fixture = try await ControllerFixture.make()
        let token = try await fixture.store.createEnrolmentToken(uses: 3, expiresAt: Date().addingTimeInterval(3600))
        try await fixture.app().test(.live) { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<4 {
                statuses.append(try await client.execute(uri: "/api/v1/enrol", method: .post, body: try enrolmentBody(token: token.secret)) { $0.status })
            }
            #expect(statuses == [.created, .created, .created, .unauthorized])
        }
        #expect(try await fixture.store.devices().count == 3)
        await fixture.tearDown()
    }

    @Test("expired, revoked and unknown tokens are refused with their own codes and nothing is stored")
    func refusedTokens() async throws {
        let fixture = try await ControllerFixture.make()
        let expired = try await fixture.store.createEnrolmentToken(uses: 1, expiresAt: Date().addingTimeInterval(-1))
        let revoked = try await fixture.store.createEnrolmentToken(uses: 1, expiresAt: Date().addingTimeInterval(3600))
        #expect(try await fixture.store.revokeEnrolmentToken(id: revoked.token.id))
        try await fixture.app().test(.live) { client in
            try await client.execute(uri: "/api/v1/enrol", method: .post, body: try enrolmentBody(token: expired.secret)) { response in
                try expectError(response, .unauthorized, "token_expired")
            }
            try await client.execute(uri: "/api/v1/enrol", method: .post, body: try enrolmentBody(token: revoked.secret)) { response in
                try expectError(response, .unauthorized, "token_revoked")
            }
            // One character changed: the store holds only hashes, so a near miss is simply unknown.
            var wrong = Array(expired.secret)
            wrong[wrong.count - 1] = wrong.last == "A" ? "B" : "A"
            try await client.execute(uri: "/api/v1/enrol", method: .post, body: try enrolmentBody(token: String(wrong))) { response in
                try expectError(response, .unauthorized, "unknown_token")
            }
        }
        #expect(try await fixture.store.devices().isEmpty)
        #expect(try await fixture.store.enrolmentTokens().map(\.uses) == [0, 0])
        await fixture.tearDown()
    }

    @Test("a malformed enrolment names the field at fault", arguments: [
        ("{\"token\":\"x\"}", "missing field 'publicKey'"),
        ("{\"token\":\"x\",\"publicKey\":\"AAAA\",\"machineID\":\"3d1219c7c4c5404aaa1f6d2a48adfda4\"}", "publicKey"),
        ("{\"token\":\"x\",\"publicKey\":\"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=\",\"machineID\":\"nope\"}", "machineID"),
        ("{\"token\":", "line 1"),
    ])
    func malformedEnrolment(body: String, mentions: String) async throws {
        let fixture = try await ControllerFixture.make()
        try await fixture.app().test(.live) { client in
            try await client.execute(uri: "/api/v1/enrol", method: .post, body: ByteBuffer(string: body)) { response in
                try expectError(response, .badRequest, "malformed_enrolment")
                #expect(try decodeError(response.body).error.message.contains(mentions))
            }
        }
        #expect(try await fixture.store.devices().isEmpty)
        await fixture.tearDown()
    }

    @Test("unsigned, forged, tampered, stale and replayed reports are refused and nothing is stored")
    func refusedReports() async throws {
        let fixture = try await ControllerFixture.make()
        let agent = try await fixture.enrolledAgent()
        let other = try await fixture.enrolledAgent(machineID: "0123456789abcdef0123456789abcdef")
        let body = try encode(sampleReport())
        try await fixture.app().test(.live) { client in
            try await client.execute(uri: "/api/v1/reports", method: .post, body: body) { response in
                try expectError(response, .unauthorized, "unsigned_request")
            }
            // Device B's key, claiming to be device A.
            let forged = try TestAgent(deviceID: agent.deviceID, key: other.key).headers(for: body)
            try await client.execute(uri: "/api/v1/reports", method: .post, headers: forged, body: body) { response in
                try expectError(response, .unauthorized, "bad_signature")
            }
            // Device B, honestly signed, sending device A's machine.
            try await client.postReport(body, by: other) { response in
                try expectError(response, .forbidden, "wrong_device")
            }
            // Signed, then the body changed on the way.
            let tampered = try encode(sampleReport(hostname: "somebody-else"))
            try await client.execute(uri: "/api/v1/reports", method: .post, headers: try agent.headers(for: body), body: tampered) { response in
                try expectError(response, .unauthorized, "bad_signature")
            }
            let stale = try agent.headers(for: body, timestamp: Int64(Date().timeIntervalSince1970) - 600)
            try await client.execute(uri: "/api/v1/reports", method: .post, headers: stale, body: body) { response in
                try expectError(response, .unauthorized, "clock_skew")
            }
            let unknown = try agent.headers(for: body, deviceID: "ffffffffffffffff")
            try await client.execute(uri: "/api/v1/reports", method: .post, headers: unknown, body: body) { response in
                try expectError(response, .unauthorized, "unknown_device")
            }
            #expect(try await fixture.store.reportCount() == 0)

            let headers = try agent.headers(for: body)
            try await client.execute(uri: "/api/v1/reports", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/api/v1/reports", method: .post, headers: headers, body: body) { response in
                try expectError(response, .unauthorized, "replayed_request")
            }
        }
        #expect(try await fixture.store.reportCount() == 1)
        await fixture.tearDown()
    }

    @Test("a revoked device is refused at once; its history stays")
    func revokedDevice() async throws {
        let fixture = try await ControllerFixture.make()
        let agent = try await fixture.enrolledAgent()
        try await fixture.app().test(.live) { client in
            try await client.postReport(try encode(sampleReport()), by: agent) { #expect($0.status == .created) }
            #expect(try await fixture.store.revokeDevice(id: agent.deviceID) == .revoked)
            try await client.postReport(try encode(sampleReport()), by: agent) { response in
                try expectError(response, .forbidden, "device_revoked")
            }
        }
        #expect(try await fixture.store.reportCount() == 1)
        #expect(try await fixture.store.devices().first?.revokedAt != nil)
        #expect(try await fixture.store.revokeDevice(id: "ffffffffffffffff") == .unknown)
        await fixture.tearDown()
    }

    @Test("a device over its request rate gets 429 with Retry-After; the report can be sent later")
    func rateLimit() async throws {
        let fixture = try await ControllerFixture.make(requestsPerMinute: 2)
        let agent = try await fixture.enrolledAgent()
        try await fixture.app().test(.live) { client in
            for _ in 0..<2 {
                try await client.postReport(try encode(sampleReport()), by: agent) { #expect($0.status == .created) }
            }
            try await client.postReport(try encode(sampleReport()), by: agent) { response in
                try expectError(response, .tooManyRequests, "rate_limited")
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
        }
        #expect(try await fixture.store.reportCount() == 2)
        await fixture.tearDown()
    }

    @Test("the device list and report are served only to read_allowed_from; agents still enrol and report from anywhere")
    func readRoutesByAddress() async throws {
        var fixture = try await ControllerFixture.make()
        fixture.configuration.readAllowedFrom = [AddressRange("10.20.0.0/16")!]
        let agent = try await fixture.enrolledAgent()
        try await fixture.app().test(.live) { client in
            for uri in ["/api/v1/devices", "/api/v1/devices/\(agent.deviceID)", "/report?format=csv"] {
                try await client.execute(uri: uri, method: .get) { response in
                    try expectError(response, .forbidden, "address_not_allowed")
                    #expect(try decodeError(response.body).error.message.contains("127.0.0.1"))
                }
            }
            try await client.postReport(try encode(sampleReport()), by: agent) { #expect($0.status == .created) }
        }
        await fixture.tearDown()
    }

    @Test("address ranges match IPv4, IPv6 and IPv4-mapped peers by prefix", arguments: [
        ("127.0.0.0/8", "127.1.2.3", true), ("127.0.0.0/8", "128.0.0.1", false), ("10.20.0.0/16", "10.20.255.1", true),
        ("10.20.0.0/16", "10.21.0.1", false), ("10.20.30.40", "10.20.30.40", true), ("10.20.30.40", "10.20.30.41", false),
        ("::1/128", "::1", true), ("fd00::/8", "fd12:3456::1", true), ("fd00::/8", "fe80::1", false),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true), ("0.0.0.0/0", "192.0.2.1", true), ("10.0.0.0/8", "unknown", false),
    ])
    func addressRanges(range: String, address: String, inside: Bool) throws {
        #expect(try #require(AddressRange(range)).contains(address) == inside)
    }

    @Test("malformed address ranges are refused", arguments: ["10.0.0.0/33", "10.0.0/8", "::1/129", "school-lan", "10.0.0.0/"])
    func badRanges(text: String) {
        #expect(AddressRange(text) == nil)
    }

    @Test("unknown routes and wrong methods answer JSON errors too")
    func jsonErrorsEverywhere() async throws {
        let fixture = try await ControllerFixture.make()
        try await fixture.app().test(.live) { client in
            try await client.execute(uri: "/api/v1/nothing", method: .get) { response in
                try expectError(response, .notFound, "not_found")
            }
            try await client.execute(uri: "/api/v1/devices", method: .delete) { response in
                try expectError(response, .methodNotAllowed, "method_not_allowed")
                #expect(response.headers[.allow] == "GET, HEAD")
            }
            try await client.execute(uri: "/api/v1/reports", method: .get) { response in
                try expectError(response, .methodNotAllowed, "method_not_allowed")
                #expect(response.headers[.allow] == "POST")
            }
            try await client.execute(uri: "/healthz", method: .head) { #expect($0.status == .ok) }
        }
        await fixture.tearDown()
    }
}

@Suite("Controller TLS certificate")
struct ControllerCertificateTests {
    @Test("first start makes a self-signed pair (key 0600) whose fingerprint is the one openssl computes; later starts reuse it")
    func selfSignedCertificate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-tls-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = ControllerConfiguration()
        configuration.storePath = directory.appendingPathComponent("controller.sqlite").path
        let first = try ControllerCertificate.load(configuration)
        #expect(first.created)
        let mode = try FileManager.default.attributesOfItem(atPath: first.privateKeyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let openssl = try runProgram("/usr/bin/openssl", ["x509", "-in", first.certificatePath, "-noout", "-fingerprint", "-sha256", "-ext", "subjectAltName"])
        #expect(openssl.status == 0)
        #expect(openssl.output.contains("Fingerprint=\(first.fingerprint)"))
        #expect(openssl.output.contains("IP Address:127.0.0.1"))
        let again = try ControllerCertificate.load(configuration)
        #expect(!again.created && again.fingerprint == first.fingerprint)
        _ = try again.serverConfiguration()

        try FileManager.default.removeItem(atPath: first.privateKeyPath)
        #expect { try ControllerCertificate.load(configuration) } throws: { "\($0)".contains("only one of controller.crt and controller.key") }
    }
}

@Suite("OpenAPI description")
struct OpenAPIDescriptionTests {
    @Test("controller/openapi.yaml names exactly the routes and methods the router serves")
    func specMatchesRoutes() throws {
        let text = try String(contentsOfFile: Repository.path("controller/openapi.yaml"), encoding: .utf8)
        var described: [String: Set<String>] = [:]
        var current: String?
        var inPaths = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if let first = line.first, first != " " { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
                described[current!] = []
            } else if let path = current, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(method) { described[path]!.insert(method) }
            }
        }
        let served = Dictionary(uniqueKeysWithValues: APIRoutes.all.map { ($0.path, Set($0.methods).subtracting(["HEAD"])) })
        #expect(described == served)
    }
}
