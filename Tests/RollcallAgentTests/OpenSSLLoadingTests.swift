import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import RollcallAgent
import RollcallTestSupport
import Testing

/// libssl and libcrypto are loaded with dlopen the first time the agent needs TLS, Ed25519 or SHA-256, so commands
/// that need none of them never map them (they cost about 1.8 MB of resident memory). The agent-process tests run the
/// built `rollcall-agent`: this test process cannot show "not loaded before first use", since other tests load it.
@Suite("OpenSSL loaded on first use")
struct OpenSSLLoadingTests {
    /// The built `rollcall-agent`, next to this test bundle (as EndToEndTests' `Binaries` finds it).
    static var agent: String {
        let directory = ProcessInfo.processInfo.environment["ROLLCALL_BIN_DIR"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return directory.appendingPathComponent("rollcall-agent").path
    }

    /// Runs the agent with the dynamic loader's file log (LD_DEBUG=files) written to a file; the output and that log.
    static func runLogged(_ arguments: [String], in directory: URL, name: String, environment: [String: String] = [:])
        throws -> (status: Int32, output: String, loaderLog: String)
    {
        guard FileManager.default.isExecutableFile(atPath: agent) else {
            throw ProgramFailure(description: "no built agent at \(agent): run `swift build` first (or set ROLLCALL_BIN_DIR)")
        }
        let prefix = directory.appendingPathComponent("ld-\(name)").path
        let result = try RollcallTestSupport.runProgram(
            agent, arguments, environment: environment.merging(["LD_DEBUG": "files", "LD_DEBUG_OUTPUT": prefix]) { $1 })
        // ld.so writes PREFIX.PID, one per process.
        let logs = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("ld-\(name).") }
        let log = try logs.map { try String(contentsOfFile: directory.appendingPathComponent($0).path, encoding: .utf8) }.joined()
        return (result.status, result.output, log)
    }

    static func agentConfiguration(in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("agent.toml").path
        try """
            [agent]
            state_dir = "\(directory.appendingPathComponent("state").path)"
            root = "\(FixturePaths.root("firecracker-vm"))"
            [upload]
            timeout = "2s"
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `enrol` makes its Ed25519 key before it connects: against a closed port it loads OpenSSL, then fails to reach.
    static func enrolArguments(configuration: String) throws -> [String] {
        ["enrol", "https://127.0.0.1:\(try freePort())", "--token", "unused", "--fingerprint", String(repeating: "0", count: 64),
         "--config", configuration]
    }

    @Test("inventory and --version never map libssl or libcrypto; enrolling dlopens libssl, which brings libcrypto")
    func loadedOnFirstUse() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        for (name, arguments) in [("version", ["--version"]), ("inventory", ["inventory", "--compact", "--root", FixturePaths.root("firecracker-vm")])] {
            let run = try Self.runLogged(arguments, in: directory, name: name)
            #expect(run.status == 0, "\(arguments): \(run.output)")
            #expect(run.loaderLog.contains("file=libc.so.6"), "LD_DEBUG logged nothing for \(arguments)")
            #expect(!run.loaderLog.contains("libssl"), "\(arguments) loaded libssl")
            #expect(!run.loaderLog.contains("libcrypto"), "\(arguments) loaded libcrypto")
        }

        let enrol = try Self.runLogged(try Self.enrolArguments(configuration: try Self.agentConfiguration(in: directory)),
                                       in: directory, name: "enrol")
        #expect(enrol.status == 1)
        #expect(enrol.output.contains("Cannot reach the controller"), "enrol did not get as far as connecting: \(enrol.output)")
        // ld.so logs why it loads each file: "needed by X" (X's DT_NEEDED) or "dynamically loaded by X" (dlopen).
        let loads = enrol.loaderLog.split(separator: "\n").filter { $0.contains("needed by") || $0.contains("dynamically loaded by") }
        let ssl = loads.filter { $0.contains("file=libssl.so.3") }
        let crypto = loads.filter { $0.contains("file=libcrypto.so.3") }
        #expect(!ssl.isEmpty && ssl.allSatisfy { $0.contains("dynamically loaded by") }, "libssl: \(ssl)")
        #expect(!crypto.isEmpty && crypto.allSatisfy { $0.contains("needed by") && $0.contains("libssl.so.3") }, "libcrypto: \(crypto)")
    }

    @Test("with no usable libssl.so.3, inventory and --version still run and enrolling says what to install")
    func missingLibrary() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Empty files found first on LD_LIBRARY_PATH: dlopen stops at them ("file too short"), as a start-up link would.
        let broken = directory.appendingPathComponent("broken-lib")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        for name in ["libssl.so.3", "libcrypto.so.3"] {
            _ = FileManager.default.createFile(atPath: broken.appendingPathComponent(name).path, contents: Data())
        }
        let inherited = ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"].map { ":" + $0 } ?? ""
        let environment = ["LD_LIBRARY_PATH": broken.path + inherited]

        let version = try Self.runLogged(["--version"], in: directory, name: "version", environment: environment)
        #expect(version.status == 0, "\(version.output)")
        #expect(version.output == InventoryCollector.agentVersion + "\n")
        let inventory = try Self.runLogged(["inventory", "--compact", "--root", FixturePaths.root("firecracker-vm")], in: directory,
                                           name: "inventory", environment: environment)
        #expect(inventory.status == 0, "\(inventory.output)")
        #expect(inventory.output.hasPrefix("{"))

        let enrol = try Self.runLogged(try Self.enrolArguments(configuration: try Self.agentConfiguration(in: directory)),
                                       in: directory, name: "enrol", environment: environment)
        #expect(enrol.status == 1)
        #expect(enrol.output.contains("Ed25519: cannot load libssl.so.3 (install libssl3): "), "\(enrol.output)")
        #expect(enrol.output.contains("file too short"), "\(enrol.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("state/agent.key").path))
    }

    @Test("in this process: loading brings in libssl and libcrypto, and every thread gets the same table")
    func sameTableEverywhere() async throws {
        let addresses = try await withThrowingTaskGroup(of: [UInt].self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let api = try OpenSSL.load()
                    return [unsafeBitCast(api.SSL_new, to: UInt.self), unsafeBitCast(api.EVP_Digest, to: UInt.self)]
                }
            }
            return try await group.reduce(into: Set<[UInt]>()) { $0.insert($1) }
        }
        #expect(addresses.count == 1)
        #expect(addresses.first?.allSatisfy { $0 != 0 } == true)
        // The loader's own answer rather than /proc/self/maps (read while other tests map and unmap memory, that file
        // can come back without lines): both libraries are loaded now, and the table points into them.
        let api = try OpenSSL.load()
        #expect(Self.loadedAddress(of: "SSL_new", in: "libssl.so.3") == unsafeBitCast(api.SSL_new, to: UInt.self))
        #expect(Self.loadedAddress(of: "EVP_Digest", in: "libcrypto.so.3") == unsafeBitCast(api.EVP_Digest, to: UInt.self))
    }

    /// Where `symbol` is in `library` if the process has already loaded it (RTLD_NOLOAD: never loads it); nil if not.
    static func loadedAddress(of symbol: String, in library: String) -> UInt? {
        guard let handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD) else { return nil }
        defer { dlclose(handle) }
        return dlsym(handle, symbol).map { UInt(bitPattern: $0) }
    }

    @Test("the load failure names the library, the package and dlerror's reason")
    func unavailableMessage() {
        let error = OpenSSL.Unavailable(detail: "libssl.so.3: cannot open shared object file: No such file or directory")
        #expect(error.description == "cannot load libssl.so.3 (install libssl3): libssl.so.3: cannot open shared object file: No such file or directory")
        #expect(UploadError.unsupported(url: "https://controller:8443/", reason: error.description).description
            == "Cannot use controller URL https://controller:8443/: cannot load libssl.so.3 (install libssl3): libssl.so.3: cannot open shared object file: No such file or directory.")
    }
}
