import Foundation
@testable import RollcallAgent
import RollcallProtocol
import RollcallTestSupport
import Testing

/// The agent's HTTPS client against a real `openssl s_server` with certificates made by the real `openssl` CLI.
@Suite("TLS client")
struct TLSClientTests {
    @Test("a pinned fingerprint that matches the controller's certificate gets the controller's answer")
    func pinnedMatch() throws {
        let certificates = try CertificateSet()
        defer { certificates.remove() }
        let server = try certificates.serve("selfsigned")
        defer { server.stop() }
        let pin = try certificates.fingerprint("selfsigned")
        let client = HTTPClient(url: try ControllerURL("https://127.0.0.1:\(server.port)"), timeoutSeconds: 5, trust: .pinned(pin))
        let response = try client.send(method: "GET", path: "/")
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self).contains("<HTML>"))
    }

    @Test("a pin that does not match is refused, naming the presented and the pinned fingerprints and what to do")
    func pinnedMismatch() throws {
        let certificates = try CertificateSet()
        defer { certificates.remove() }
        let server = try certificates.serve("selfsigned")
        defer { server.stop() }
        let presented = try certificates.fingerprint("selfsigned")
        let pinned = try certificates.fingerprint("server")
        let url = try ControllerURL("https://127.0.0.1:\(server.port)")
        let client = HTTPClient(url: url, timeoutSeconds: 5, trust: .pinned(pinned))
        let error = #expect(throws: UploadError.self) { try client.send(method: "GET", path: "/") }
        guard case .untrusted(let target, let reason)? = error else {
            Issue.record("expected .untrusted, got \(String(describing: error))")
            return
        }
        #expect(target == "https://127.0.0.1:\(server.port)/")
        #expect(reason.contains(CertificateFingerprint.format(presented)))
        #expect(reason.contains(CertificateFingerprint.format(pinned)))
        #expect(reason.contains("agent.toml's [controller] fingerprint"))
    }

    @Test("a CA file that signed the controller's certificate is trusted, by IP address and by host name",
          arguments: ["127.0.0.1", "localhost"])
    func caFileMatch(host: String) throws {
        let certificates = try CertificateSet()
        defer { certificates.remove() }
        let server = try certificates.serve("server")
        defer { server.stop() }
        let client = HTTPClient(url: try ControllerURL("https://\(host):\(server.port)"), timeoutSeconds: 5,
                                trust: .caFile(certificates.path("ca.pem")))
        #expect(try client.send(method: "GET", path: "/").status == 200)
    }

    @Test("a certificate the CA signed for another name is refused with OpenSSL's reason and the host",
          arguments: [("127.0.0.1", "IP address mismatch"), ("localhost", "hostname mismatch")])
    func caFileWrongName(host: String, why: String) throws {
        let certificates = try CertificateSet()
        defer { certificates.remove() }
        let server = try certificates.serve("othername")
        defer { server.stop() }
        let client = HTTPClient(url: try ControllerURL("https://\(host):\(server.port)"), timeoutSeconds: 5,
                                trust: .caFile(certificates.path("ca.pem")))
        let error = #expect(throws: UploadError.self) { try client.send(method: "GET", path: "/") }
        guard case .untrusted(_, let reason)? = error else {
            Issue.record("expected .untrusted, got \(String(describing: error))")
            return
        }
        #expect(reason.contains(why))
        #expect(reason.contains("for host \(host)"))
        #expect(reason.contains(certificates.path("ca.pem")))
    }

    @Test("a self-signed certificate is refused under the system trust store and under a CA file that did not sign it",
          arguments: [false, true])
    func selfSignedRefused(useCAFile: Bool) throws {
        let certificates = try CertificateSet()
        defer { certificates.remove() }
        let server = try certificates.serve("selfsigned")
        defer { server.stop() }
        let trust: ControllerTrust = useCAFile ? .caFile(certificates.path("ca.pem")) : .system
        let client = HTTPClient(url: try ControllerURL("https://127.0.0.1:\(server.port)"), timeoutSeconds: 5, trust: trust)
        let error = #expect(throws: UploadError.self) { try client.send(method: "GET", path: "/") }
        guard case .untrusted(_, let reason)? = error else {
            Issue.record("expected .untrusted, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("self-signed certificate") || reason.contains("self signed certificate"))
        #expect(error?.description.hasPrefix("The agent does not trust the server at https://127.0.0.1:\(server.port)/") == true)
    }

    @Test("a CA file that cannot be read is a trust problem naming the file, not a crash or a plain connection")
    func unreadableCAFile() throws {
        let listener = try LoopbackListener()
        defer { listener.close() }
        let client = HTTPClient(url: try ControllerURL("https://127.0.0.1:\(listener.port)"), timeoutSeconds: 2,
                                trust: .caFile("/nonexistent/rollcall-ca.pem"))
        let error = #expect(throws: UploadError.self) { try client.send(method: "GET", path: "/") }
        guard case .untrusted(_, let reason)? = error else {
            Issue.record("expected .untrusted, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("cannot load the CA file /nonexistent/rollcall-ca.pem"))
    }

    @Test("an https URL to a port that accepts but never answers the handshake times out instead of hanging")
    func handshakeNeverAnswered() throws {
        let listener = try LoopbackListener()
        defer { listener.close() }
        let client = HTTPClient(url: try ControllerURL("https://127.0.0.1:\(listener.port)"), timeoutSeconds: 1, trust: .system)
        let started = Date()
        let error = #expect(throws: UploadError.self) { try client.send(method: "GET", path: "/") }
        #expect(Date().timeIntervalSince(started) < 5)
        guard case .timedOut(_, let seconds)? = error else {
            Issue.record("expected .timedOut, got \(String(describing: error))")
            return
        }
        #expect(seconds == 1)
    }

    @Test("an https URL to a plain HTTP server says the TLS handshake failed and asks whether the port serves HTTPS")
    func plainHTTPServer() throws {
        let listener = try LoopbackListener()
        defer { listener.close() }
        listener.answerOnce(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        let client = HTTPClient(url: try ControllerURL("https://127.0.0.1:\(listener.port)"), timeoutSeconds: 5,
                                trust: .pinned([UInt8](repeating: 7, count: 32)))
        let error = #expect(throws: UploadError.self) { try client.send(method: "GET", path: "/") }
        guard case .badResponse(_, let reason)? = error else {
            Issue.record("expected .badResponse, got \(String(describing: error))")
            return
        }
        #expect(reason.hasPrefix("TLS handshake failed: "))
        #expect(reason.contains("wrong version number"))
        #expect(reason.hasSuffix("is the controller serving HTTPS on this port?"))
        #expect(error?.description.hasSuffix("on this port?") == true)
    }

    @Test("fingerprints parse as people paste them and only when they are exactly 32 bytes")
    func parsesFingerprints() {
        let bytes = (0..<32).map { UInt8($0 * 7 + 3) }
        let colons = CertificateFingerprint.format(bytes)
        #expect(colons.count == 95 && colons == colons.uppercased() && colons.hasPrefix("03:0A:11:"))
        let bare = colons.replacingOccurrences(of: ":", with: "")
        for pasted in [
            colons, "SHA256:\(colons)", "sha256 Fingerprint=\(colons)", "SHA256 Fingerprint=\(colons)", bare.lowercased(), bare,
            "  \(colons.lowercased())\n", colons.replacingOccurrences(of: ":", with: " "), "sha256:\(bare.lowercased())",
        ] {
            #expect(CertificateFingerprint.parse(pasted) == bytes, "\(pasted)")
        }
        let short = CertificateFingerprint.format(Array(bytes.dropLast()))
        let long = CertificateFingerprint.format(bytes + [0xAB])
        for refused in [short, long, "SHA256:\(short)", String(bare.dropLast()), bare + "0", bare.replacingOccurrences(of: "0", with: "g"), "", "SHA256:"] {
            #expect(CertificateFingerprint.parse(refused) == nil, "\(refused)")
        }
    }

    @Test("https controller URLs default to port 443, http ones to 80, and each prints its own scheme")
    func httpsURLs() throws {
        let secure = try ControllerURL("https://rollcall.school.lan/")
        #expect(secure.isTLS && secure.port == 443 && secure.description == "https://rollcall.school.lan:443")
        let plain = try ControllerURL("http://rollcall.school.lan")
        #expect(!plain.isTLS && plain.port == 80 && plain.description == "http://rollcall.school.lan:80")
        let address = try ControllerURL("https://[::1]:8443/rollcall")
        #expect(address.host == "::1" && address.port == 8443 && address.description == "https://[::1]:8443/rollcall")
    }
}

// MARK: - Real certificates and servers

/// Certificates made with the `openssl` CLI in a fresh directory: a CA; `server`, signed by it for
/// `DNS:localhost,IP:127.0.0.1`; `othername`, signed by it for `DNS:controller.school.test` only; and `selfsigned`,
/// self-signed for `DNS:localhost,IP:127.0.0.1`. EC P-256 keys, so making them takes milliseconds.
struct CertificateSet {
    let directory: URL

    init() throws {
        directory = try makeTemporaryDirectory()
        // Our own minimal configuration, so Debian's openssl.cnf default extensions cannot collide with -addext.
        try "[req]\ndistinguished_name = dn\n[dn]\n".write(to: directory.appendingPathComponent("req.cnf"), atomically: true, encoding: .utf8)
        let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc", "-config", path("req.cnf")]
        try Self.openssl(["req", "-x509"] + newKey + [
            "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=Rollcall Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        for (name, names) in [("server", "DNS:localhost,IP:127.0.0.1"), ("othername", "DNS:controller.school.test")] {
            try Self.openssl(["req", "-new"] + newKey + [
                "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=rollcall-controller",
            ])
            try "subjectAltName = \(names)\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
                .write(to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
            try Self.openssl([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-set_serial", name == "server" ? "1001" : "1002", "-days", "2", "-extfile", path("\(name).ext"), "-out", path("\(name).pem"),
            ])
        }
        try Self.openssl(["req", "-x509"] + newKey + [
            "-keyout", path("selfsigned.key"), "-out", path("selfsigned.pem"), "-days", "2", "-subj", "/CN=rollcall-controller",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// The certificate's SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it, parsed the agent's way.
    func fingerprint(_ name: String) throws -> [UInt8] {
        let printed = try Self.openssl(["x509", "-in", path("\(name).pem"), "-noout", "-fingerprint", "-sha256"])
        guard let bytes = CertificateFingerprint.parse(printed) else {
            throw HarnessError(description: "cannot parse openssl's fingerprint line '\(printed)'")
        }
        return bytes
    }

    /// `openssl s_server -www` serving `name`'s certificate on a free loopback port, once it accepts connections.
    func serve(_ name: String) throws -> TLSTestServer {
        let port = try freePort()
        let child = try Child("/usr/bin/openssl", [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", path("\(name).pem"), "-key", path("\(name).key"), "-www",
        ], in: directory, name: "s_server-\(name)")
        let server = TLSTestServer(child: child, port: port)
        guard eventually(10, { canConnect(port: port) }) else {
            server.stop()
            throw HarnessError(description: "openssl s_server did not listen on \(port): \(child.stderr)")
        }
        return server
    }

    @discardableResult
    static func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError(description: "openssl \(arguments.joined(separator: " ")) failed: \(String(decoding: complaint, as: UTF8.self))")
        }
        return String(decoding: printed, as: UTF8.self)
    }
}

struct TLSTestServer {
    let child: Child
    let port: Int

    /// SIGKILL: `openssl s_server` started by the test runner does not exit on SIGTERM.
    func stop() { child.kill(SIGKILL) }
}

/// A plain TCP listener on 127.0.0.1 that completes connections (the kernel's backlog does) but speaks no TLS.
///
/// `@unchecked Sendable`: its one mutable resource is the listening descriptor, which `answerOnce`'s thread only
/// reads from, and which `close` shuts down first so that thread's `accept` returns before the descriptor is closed.
final class LoopbackListener: @unchecked Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let descriptor = descriptor
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 && listen(descriptor, 8) == 0
            }
        }
        guard listening else {
            Glibc.close(descriptor)
            throw HarnessError(description: "cannot listen on 127.0.0.1")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts one connection, reads what the client sends first (its ClientHello), answers `bytes`, and waits for
    /// the client to close, so the client reads the answer rather than a reset.
    func answerOnce(_ bytes: [UInt8]) {
        let descriptor = descriptor
        Thread.detachNewThread {
            let client = accept(descriptor, nil, nil)
            guard client >= 0 else { return }
            defer { Glibc.close(client) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            _ = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(client, Int32(SHUT_WR))
            while buffer.withUnsafeMutableBytes({ recv(client, $0.baseAddress, $0.count, 0) }) > 0 {}
        }
    }

    func close() {
        shutdown(descriptor, Int32(SHUT_RDWR))
        Glibc.close(descriptor)
    }
}
