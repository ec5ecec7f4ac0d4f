public import Foundation

/// A real Samba Active Directory domain controller (SCHOOL.TEST) started for a test by `scripts/samba-school.sh`: the
/// domain provisioned once per machine into a template under `.build/`, copied for each server, the given LDIF loaded
/// offline through Samba's own modules, then `samba` run in the foreground as this process's child.
///
/// A DC listens on the fixed ports 389 and 636, so one runs at a time on a machine: ``start(ldif:plainBinds:)``
/// waits for an exclusive lock on `/tmp/rollcall-samba-ad.lock` (other test processes included) and fails, saying
/// what holds the port, when something else listens on 389. ``stop()`` ends samba, removes its directory and
/// releases the lock.
///
/// `@unchecked Sendable`: one test owns it; every stored property is immutable after `start`, and `Process` is only
/// touched again by ``stop()``.
public final class SambaADServer: @unchecked Sendable {
    public static let domain = "DC=school,DC=test"
    public static let realm = "SCHOOL.TEST"
    public static let adminPassword = "Admin-Secret-1"
    /// The Administrator, as a technician would bind: `user@REALM`.
    public static let adminBind = "Administrator@SCHOOL.TEST"
    static let lockPath = "/tmp/rollcall-samba-ad.lock"
    /// Provisioned once per machine (and per Samba version): copying it takes a tenth of a second, provisioning eight.
    static var templatePath: String {
        let version = (try? runProgram("/usr/sbin/samba", ["--version"]).output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "unknown"
        return Repository.path(".build/samba-ad-template-" + version.filter { $0.isLetter || $0.isNumber || $0 == "." })
    }

    public let directory: URL
    private let process: Process
    private let lock: Int32

    /// TLS from the first byte, checked against ``caFile``.
    public var ldapsURL: String { "ldaps://127.0.0.1" }
    /// Plain LDAP: a simple bind needs StartTLS here unless the server was started with `plainBinds`.
    public var ldapURL: String { "ldap://127.0.0.1" }
    /// The CA that signed the DC's certificate (for 127.0.0.1 and localhost).
    public var caFile: String { directory.appendingPathComponent("tls/ca.pem").path }
    /// A file holding the Administrator's password (mode 0600), as the controller's configuration names it.
    public var adminPasswordFile: String { directory.appendingPathComponent("admin.secret").path }

    private init(directory: URL, process: Process, lock: Int32) {
        self.directory = directory
        self.process = process
        self.lock = lock
    }

    /// Starts a DC with `ldif` (which may use @DOMAIN@, @DAYS_AGO_N@, @FILETIME_DAYS_AGO_N@ and @PASSWORD(...)@) loaded.
    /// - Parameter plainBinds: allow simple binds without TLS (`ldap server require strong auth = no`).
    public static func start(ldif: String, plainBinds: Bool = false) async throws -> SambaADServer {
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        guard lock >= 0 else { throw HarnessError(description: "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(600)
        while flock(lock, LOCK_EX | LOCK_NB) != 0 {
            guard Date() < deadline else {
                close(lock)
                throw HarnessError(description: "another test held the Samba AD DC for 10 minutes (\(lockPath))")
            }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        do {
            return try launch(ldif: ldif, plainBinds: plainBinds, lock: lock)
        } catch {
            flock(lock, LOCK_UN)
            close(lock)
            throw error
        }
    }

    private static func launch(ldif: String, plainBinds: Bool, lock: Int32) throws -> SambaADServer {
        if canConnect(port: 389) {
            let holder = (try? runProgram("/usr/bin/ss", ["-Hltnp", "sport = :389"]).output) ?? ""
            throw HarnessError(description: "port 389 is taken, and a Samba AD DC can listen nowhere else; the Active Directory tests "
                               + "cannot run until it is free. Held by: \(holder.isEmpty ? "unknown" : holder)")
        }
        let fm = FileManager.default
        let directory = fm.temporaryDirectory.appendingPathComponent("rollcall-samba-\(UUID().uuidString.prefix(8))")
        let data = fm.temporaryDirectory.appendingPathComponent("rollcall-samba-\(UUID().uuidString.prefix(8)).ldif")
        try ldif.write(to: data, atomically: true, encoding: .utf8)
        defer { try? fm.removeItem(at: data) }
        var arguments = [Repository.path("scripts/samba-school.sh"), "--template", templatePath, "--dir", directory.path, "--data", data.path]
        if plainBinds { arguments.append("--plain-binds") }
        let setup = try runProgram("/bin/bash", arguments)
        guard setup.status == 0 else {
            try? fm.removeItem(at: directory)
            throw HarnessError(description: "samba-school.sh failed: \(setup.output)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/samba")
        process.arguments = ["-i", "-M", "single", "-s", directory.appendingPathComponent("etc/smb.conf").path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let log = directory.appendingPathComponent("samba.log")
        _ = fm.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let server = SambaADServer(directory: directory, process: process, lock: lock)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard process.isRunning else { break }
            if canConnect(port: 389), canConnect(port: 636) { return server }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        server.stop(releasing: false)
        throw HarnessError(description: "samba did not answer on 127.0.0.1:389 within 30 s: \(text)")
    }

    /// SIGTERM, then SIGKILL after 2 s (a child spawned from a dispatch worker thread may have SIGTERM blocked).
    public func stop() {
        stop(releasing: true)
    }

    private func stop(releasing: Bool) {
        terminate(process, grace: 2)
        try? FileManager.default.removeItem(at: directory)
        if releasing {
            flock(lock, LOCK_UN)
            close(lock)
        }
    }

    /// Runs an `ldap-utils` tool as the Administrator over ldaps, e.g. `ldapmodify` with LDIF on standard input.
    @discardableResult
    public func admin(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        let result = try runProgram("/usr/bin/\(tool)", ["-x", "-H", ldapsURL, "-D", Self.adminBind, "-y", adminPasswordFile] + arguments, input: input,
                                    environment: ["LDAPTLS_CACERT": caFile])
        guard result.status == 0 else { throw HarnessError(description: "\(tool) failed (\(result.status)): \(result.output)") }
        return result.output
    }
}

/// The sample school in Active Directory (`controller/sample-school-ad.ldif`), as the demo and benchmark load it.
public enum SampleADSchool {
    public static let ou = "OU=Oakfield,DC=school,DC=test"
    public static let staff = "OU=Staff,\(ou)"
    public static let pupils = "OU=Pupils,\(ou)"
    public static let groups = "OU=Groups,\(ou)"
    public static let leavers = "OU=Leavers,\(ou)"
    public static var ldif: String {
        get throws { try String(contentsOfFile: Repository.path("controller/sample-school-ad.ldif"), encoding: .utf8) }
    }
    public static var leaversFile: String { Repository.path("controller/sample-leavers-ad.txt") }
}
