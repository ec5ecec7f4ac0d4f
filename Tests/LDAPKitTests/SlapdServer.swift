import Foundation

/// A real OpenLDAP `slapd` started for a test: cn=config built offline with `slapadd`, the ppolicy overlay and
/// last-bind tracking on, a school suffix, listening on a free loopback port and an `ldapi://` socket.
/// Stopped with SIGTERM and its directory removed by ``stop()``.
final class SlapdServer: @unchecked Sendable {  // one test task owns it; fields are immutable after start
    static let suffix = "dc=school,dc=test"
    static let adminDN = "cn=admin,dc=school,dc=test"
    static let adminPassword = "Admin-Secret-1"

    let directory: URL
    let port: Int
    let process: Process
    var url: String { "ldap://127.0.0.1:\(port)" }
    var ldapiURL: String {
        "ldapi://" + (directory.appendingPathComponent("ldapi").path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
    }

    /// `data` is LDIF for the suffix, without the base entry (which is always added).
    init(data: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-slapd-\(UUID().uuidString.prefix(8))")
        let fm = FileManager.default
        try fm.createDirectory(at: directory.appendingPathComponent("slapd.d"), withIntermediateDirectories: true)
        try fm.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("config.ldif")
        try Self.configLDIF(directory: directory.path).write(to: config, atomically: true, encoding: .utf8)
        let school = directory.appendingPathComponent("school.ldif")
        try (Self.baseLDIF + data).write(to: school, atomically: true, encoding: .utf8)
        try Self.run("/usr/sbin/slapadd", ["-q", "-n0", "-F", directory.appendingPathComponent("slapd.d").path, "-l", config.path])
        try Self.run("/usr/sbin/slapadd", ["-q", "-n1", "-F", directory.appendingPathComponent("slapd.d").path, "-l", school.path])
        port = try Self.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/slapd")
        let ldapi = "ldapi://" + (directory.appendingPathComponent("ldapi").path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        process.arguments = ["-d", "0", "-F", directory.appendingPathComponent("slapd.d").path, "-h", "ldap://127.0.0.1:\(port)/ \(ldapi)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: { () -> URL in
            let log = directory.appendingPathComponent("slapd.log")
            _ = fm.createFile(atPath: log.path, contents: nil)
            return log
        }())
        try process.run()
        // Ready when the port accepts connections.
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if Self.canConnect(port: port) { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let log = (try? String(contentsOf: directory.appendingPathComponent("slapd.log"), encoding: .utf8)) ?? ""
        stop()
        throw HarnessError(description: "slapd did not start on port \(port): \(log)")
    }

    /// SIGTERM, then SIGKILL after 3 s: a child spawned from a dispatch worker thread inherits its blocked signal
    /// mask, so slapd may never see the SIGTERM.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    struct HarnessError: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError(description: "\(tool) \(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))")
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw HarnessError(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static let baseLDIF = """
        dn: dc=school,dc=test
        objectClass: dcObject
        objectClass: organization
        o: Test School
        dc: school

        dn: ou=policies,dc=school,dc=test
        objectClass: organizationalUnit
        ou: policies

        dn: cn=default,ou=policies,dc=school,dc=test
        objectClass: device
        objectClass: pwdPolicy
        cn: default
        pwdAttribute: userPassword
        pwdMaxAge: 15552000
        pwdMinLength: 6
        pwdCheckQuality: 2
        pwdMustChange: TRUE
        pwdLockout: TRUE


        """

    static func configLDIF(directory: String) -> String {
        """
        dn: cn=config
        objectClass: olcGlobal
        cn: config
        olcPidFile: \(directory)/slapd.pid

        dn: cn=module{0},cn=config
        objectClass: olcModuleList
        cn: module{0}
        olcModulePath: /usr/lib/ldap
        olcModuleLoad: back_mdb
        olcModuleLoad: ppolicy

        dn: cn=schema,cn=config
        objectClass: olcSchemaConfig
        cn: schema

        include: file:///etc/ldap/schema/core.ldif

        include: file:///etc/ldap/schema/cosine.ldif

        include: file:///etc/ldap/schema/nis.ldif

        include: file:///etc/ldap/schema/inetorgperson.ldif

        dn: olcDatabase={-1}frontend,cn=config
        objectClass: olcDatabaseConfig
        objectClass: olcFrontendConfig
        olcDatabase: {-1}frontend
        olcSizeLimit: size.soft=100 size.hard=100 size.prtotal=unlimited

        dn: olcDatabase={0}config,cn=config
        objectClass: olcDatabaseConfig
        olcDatabase: {0}config
        olcAccess: to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none

        dn: olcDatabase={1}mdb,cn=config
        objectClass: olcDatabaseConfig
        objectClass: olcMdbConfig
        olcDatabase: {1}mdb
        olcSuffix: \(suffix)
        olcRootDN: \(adminDN)
        olcRootPW: \(adminPassword)
        olcDbDirectory: \(directory)/data
        olcDbMaxSize: 104857600
        olcLastBind: TRUE
        olcAccess: to attrs=userPassword by self write by anonymous auth by * none
        olcAccess: to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by self read by users read by * none

        dn: olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config
        objectClass: olcOverlayConfig
        objectClass: olcPPolicyConfig
        olcOverlay: {0}ppolicy
        olcPPolicyDefault: cn=default,ou=policies,\(suffix)
        olcPPolicyHashCleartext: TRUE
        olcPPolicyUseLockout: TRUE

        """
    }
}
