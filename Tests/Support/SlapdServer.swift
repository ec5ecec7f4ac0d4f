public import Foundation

/// A real OpenLDAP `slapd` started for a test, built by `scripts/slapd-school.sh` (the same script the demo and the
/// benchmark use): cn=config made offline with `slapadd`, the ppolicy overlay with the school's default policy,
/// last-bind tracking, the given LDIF, listening on a free loopback port and an `ldapi://` socket.
/// ``stop()`` ends it and removes its directory.
///
/// `@unchecked Sendable`: one test owns it; every stored property is immutable after `init`, and `Process` is
/// only touched again by ``stop()``.
public final class SlapdServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var suffix = "dc=school,dc=test"
        /// The frontend's `size.prtotal`: how many entries a paged search may return in all.
        public var pagedTotalLimit = "unlimited"
        /// `core` (olcLastBind, writes pwdLastSuccess), `overlay` (contrib lastbind, writes authTimestamp) or `off`.
        public var lastBind = "core"
        /// Load the syncprov overlay, which keeps the suffix's contextCSN.
        public var syncProvider = false
        /// PEM certificate and key for StartTLS and ldaps.
        public var tls: (certificate: String, key: String)?
        public init() {}
    }

    public static let adminPassword = "Admin-Secret-1"

    public let directory: URL
    public let port: Int
    public let ldapsPort: Int?
    public let suffix: String
    private let process: Process

    public var url: String { "ldap://127.0.0.1:\(port)" }
    public var adminDN: String { "cn=admin,\(suffix)" }
    /// A file holding the admin password (mode 0600), as the controller's configuration names it.
    public var adminPasswordFile: String { directory.appendingPathComponent("admin.secret").path }
    public var ldapiURL: String {
        "ldapi://" + (directory.appendingPathComponent("ldapi").path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
    }

    /// Starts slapd with `ldif` (which may use `@SUFFIX@` and `@DAYS_AGO_N@`) loaded under the suffix.
    public init(ldif: String, options: Options = Options()) throws {
        let fm = FileManager.default
        directory = fm.temporaryDirectory.appendingPathComponent("rollcall-slapd-\(UUID().uuidString.prefix(8))")
        suffix = options.suffix
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let data = directory.appendingPathComponent("data.ldif.in")
        try ldif.write(to: data, atomically: true, encoding: .utf8)
        var arguments = [Repository.path("scripts/slapd-school.sh"), "--dir", directory.path, "--suffix", suffix,
                         "--data", data.path, "--prtotal", options.pagedTotalLimit, "--lastbind", options.lastBind]
        if let tls = options.tls { arguments += ["--tls", tls.certificate, tls.key] }
        if options.syncProvider { arguments.append("--syncprov") }
        let setup = try runProgram("/bin/bash", arguments)
        guard setup.status == 0 else {
            try? fm.removeItem(at: directory)
            throw HarnessError(description: "slapd-school.sh failed: \(setup.output)")
        }
        port = try freePort()
        var listeners = "ldap://127.0.0.1:\(port)/ " + "ldapi://" + (directory.appendingPathComponent("ldapi").path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        if options.tls != nil {
            let secure = try freePort()
            ldapsPort = secure
            listeners += " ldaps://127.0.0.1:\(secure)/"
        } else {
            ldapsPort = nil
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/slapd")
        process.arguments = ["-d", "0", "-F", directory.appendingPathComponent("slapd.d").path, "-h", listeners]
        process.standardOutput = FileHandle.nullDevice
        let log = directory.appendingPathComponent("slapd.log")
        _ = fm.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if canConnect(port: port) { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        stop()
        throw HarnessError(description: "slapd did not start on port \(port): \(text)")
    }

    /// SIGTERM, then SIGKILL after 1 s: a child spawned from a dispatch worker thread inherits its blocked signal
    /// mask, so slapd may never see the SIGTERM (its throwaway MDB database needs no clean shutdown).
    public func stop() {
        terminate(process, grace: 1)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs an `ldap-utils` tool as the admin against this server, e.g. `ldapmodify` with LDIF on standard input.
    @discardableResult
    public func admin(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        let result = try runProgram("/usr/bin/\(tool)", ["-x", "-H", url, "-D", adminDN, "-y", adminPasswordFile] + arguments, input: input)
        guard result.status == 0 else { throw HarnessError(description: "\(tool) failed (\(result.status)): \(result.output)") }
        return result.output
    }
}

/// The sample school the demo loads (`controller/sample-school.ldif`), for tests that want the same story.
public enum SampleSchool {
    public static let suffix = "dc=oakfield,dc=test"
    public static var ldif: String {
        get throws { try String(contentsOfFile: Repository.path("controller/sample-school.ldif"), encoding: .utf8) }
    }
    public static var leaversFile: String { Repository.path("controller/sample-leavers.txt") }
}
