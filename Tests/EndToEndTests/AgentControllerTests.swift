import Foundation
import RollcallProtocol
import RollcallTestSupport
import Testing

/// The built `rollcall` and `rollcall-agent` executables, next to this test bundle.
enum Binaries {
    static let directory: URL = {
        if let override = ProcessInfo.processInfo.environment["ROLLCALL_BIN_DIR"] { return URL(fileURLWithPath: override) }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }()

    static var controller: String { directory.appendingPathComponent("rollcall").path }
    static var agent: String { directory.appendingPathComponent("rollcall-agent").path }
}

/// Runs a program; its standard output only.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    try runProgram(executable, arguments, discardingStandardError: true)
}

/// GET through curl, the way a technician's script would fetch it; `caFile` verifies the controller's certificate,
/// `token` is an API token from `rollcall users token`.
func get(_ url: String, caFile: String? = nil, token: String? = nil) throws -> Data {
    let result = try run("/usr/bin/curl", ["-sS", "--fail", "--max-time", "10"] + (caFile.map { ["--cacert", $0] } ?? [])
                         + (token.map { ["-H", "Authorization: Bearer \($0)"] } ?? []) + [url])
    guard result.status == 0 else { throw ProgramFailure(description: "GET \(url) failed (curl exit \(result.status))") }
    return Data(result.output.utf8)
}

/// A scratch directory with a controller config and an agent config pointing at `port`.
struct Setup {
    let directory: URL
    let port: Int
    var controllerConfig: String { directory.appendingPathComponent("controller.toml").path }
    var agentConfig: String { directory.appendingPathComponent("agent.toml").path }
    var base: String { "https://127.0.0.1:\(port)" }
    /// The controller's self-signed certificate, made on its first start; curl trusts it for 127.0.0.1.
    var certificate: String { directory.appendingPathComponent("tls/controller.crt").path }
    var agentState: String { directory.appendingPathComponent("agent-state").path }

    init(port: Int, interval: String = "1h") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.port = port
        try """
            [server]
            host = "127.0.0.1"
            port = \(port)
            [store]
            path = "controller.sqlite"
            """.write(toFile: controllerConfig, atomically: true, encoding: .utf8)
        // No URL: the agent uses the one it enrolled with, and pins the fingerprint given at enrolment.
        try """
            [agent]
            interval = "\(interval)"
            state_dir = "\(directory.appendingPathComponent("agent-state").path)"
            metrics_textfile = "\(directory.appendingPathComponent("agent.prom").path)"
            [upload]
            timeout = "2s"
            max_backoff = "1s"
            """.write(toFile: agentConfig, atomically: true, encoding: .utf8)
    }

    /// A technician's API token, made with the real commands: `rollcall users add` (password on standard input) and
    /// `rollcall users token`.
    func apiToken() throws -> String {
        let added = try runProgram(Binaries.controller, ["users", "add", "e2e-tech", "--role", "technician", "--config", controllerConfig],
                                   input: "E2e-tech-pass-1\n", discardingStandardError: true)
        guard added.status == 0 else { throw ProgramFailure(description: "rollcall users add failed: \(added.output)") }
        let token = try run(Binaries.controller, ["users", "token", "e2e-tech", "--config", controllerConfig])
        guard token.status == 0 else { throw ProgramFailure(description: "rollcall users token failed") }
        return token.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func startController(environment: [String: String]? = nil) throws -> Child {
        let child = try Child(Binaries.controller, ["serve", "--config", controllerConfig], in: directory,
                              name: "controller-\(UUID().uuidString.prefix(4))", environment: environment)
        let up = eventually(20) { child.stdout.contains("rollcall listening on") }
        guard up else { throw ProgramFailure(description: "controller did not start: \(child.stderr)") }
        return child
    }

    /// The fingerprint line `rollcall serve` printed.
    func fingerprint(of controller: Child) throws -> String {
        guard let line = controller.stdout.split(separator: "\n").first(where: { $0.contains("fingerprint: ") }) else {
            throw ProgramFailure(description: "controller printed no fingerprint: \(controller.stdout)")
        }
        return String(line.split(separator: " ").last ?? "")
    }

    /// `rollcall enrol-token create` then `rollcall-agent enrol`, as the technician does; returns the device id.
    @discardableResult
    func enrol(controller: Child, environment: [String: String]? = nil) throws -> (deviceID: String, token: String, agentOutput: String) {
        let created = try runProgram(Binaries.controller, ["enrol-token", "create", "--format", "json", "--config", controllerConfig], discardingStandardError: true)
        guard created.status == 0, let json = try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any],
              let token = json["token"] as? String else { throw ProgramFailure(description: "enrol-token create failed: \(created.output)") }
        let agent = try Child(Binaries.agent, ["enrol", base, "--token", token, "--fingerprint", try fingerprint(of: controller), "--config", agentConfig],
                              in: directory, name: "enrol-\(UUID().uuidString.prefix(4))", environment: environment)
        guard agent.wait() == 0 else { throw ProgramFailure(description: "rollcall-agent enrol failed: \(agent.stderr)") }
        guard let range = agent.stdout.range(of: "as device ") else { throw ProgramFailure(description: "enrol printed: \(agent.stdout)") }
        let id = agent.stdout[range.upperBound...].prefix(while: { $0.isHexDigit })
        return (String(id), token, agent.stdout + agent.stderr)
    }

    func agentStatus() throws -> (pending: Int, ids: [String]) {
        let result = try run(Binaries.agent, ["status", "--config", agentConfig, "--format", "json"])
        guard result.status == 0 else { return (0, []) }
        let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
        return (json["pending"] as? Int ?? 0, json["pendingReportIDs"] as? [String] ?? [])
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }
}

struct ProgramFailure: Error, CustomStringConvertible {
    let description: String
}

@Suite("Agent and controller, as installed", .serialized)
struct AgentControllerTests {
    @Test("the real agent's report of this machine reaches the real controller, the API and the CSV report")
    func reportArrives() throws {
        let setup = try Setup(port: try freePort())
        defer { setup.cleanUp() }
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        let deviceID = try setup.enrol(controller: controller).deviceID
        let token = try setup.apiToken()

        let agent = try Child(Binaries.agent, ["run", "--once", "--config", setup.agentConfig], in: setup.directory, name: "agent")
        #expect(agent.wait() == 0, "\(agent.stderr)")

        let machineID = try String(contentsOfFile: "/etc/machine-id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let devices = try RollcallJSON.decoder().decode([DeviceSummary].self, from: try get("\(setup.base)/api/v1/devices", caFile: setup.certificate, token: token))
        let device = try #require(devices.first)
        #expect(devices.count == 1)
        #expect(device.id == deviceID)
        let hostname = try String(contentsOfFile: "/etc/hostname", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(device.hostname == hostname)
        let dpkgCount = try run("/usr/bin/dpkg-query", ["-W", "-f=${db:Status-Status}\n"]).output.split(separator: "\n").filter { $0 == "installed" }.count
        #expect(device.packageCount == dpkgCount)

        let detail = try RollcallJSON.decoder().decode(DeviceDetail.self, from: try get("\(setup.base)/api/v1/devices/\(deviceID)", caFile: setup.certificate, token: token))
        #expect(detail.latestReport?.agent.machineID == machineID)

        let csv = try run(Binaries.controller, ["report", "--format", "csv", "--config", setup.controllerConfig])
        #expect(csv.status == 0)
        #expect(csv.output.contains(deviceID))
        #expect(csv.output.contains("\(hostname),"))
        let list = try run(Binaries.controller, ["devices", "list", "--format", "json", "--config", setup.controllerConfig])
        #expect(try RollcallJSON.decoder().decode([DeviceSummary].self, from: Data(list.output.utf8)).map(\.id) == [deviceID])
        let status = try setup.agentStatus()
        #expect(status.pending == 0)
        // node_exporter's textfile: written by the run, every line a Prometheus sample or comment.
        let textfile = try String(contentsOfFile: setup.directory.appendingPathComponent("agent.prom").path, encoding: .utf8)
        #expect(textfile.contains("\nrollcall_agent_outbox_pending 0\n"))
        let upload = textfile.split(separator: "\n").first { $0.hasPrefix("rollcall_agent_last_upload_timestamp_seconds ") }
        #expect(upload.flatMap { Double($0.split(separator: " ")[1]) }.map { abs($0 - Date().timeIntervalSince1970) < 120 } == true)
    }

    @Test("reports queued while the controller is down survive SIGKILL and arrive exactly once")
    func outboxSurvivesKill() throws {
        let setup = try Setup(port: try freePort(), interval: "1s")
        defer { setup.cleanUp() }
        let enrolling = try setup.startController()
        let deviceID = try setup.enrol(controller: enrolling).deviceID
        let token = try setup.apiToken()
        enrolling.kill(SIGTERM)
        _ = enrolling.wait()

        // Controller down: the agent collects every second and queues.
        let first = try Child(Binaries.agent, ["run", "--config", setup.agentConfig], in: setup.directory, name: "agent-1")
        let queued = try eventually(30) { try setup.agentStatus().pending >= 3 }
        first.kill(SIGKILL)
        #expect(queued, "agent log: \(first.stderr)")
        let idsBeforeKill = try setup.agentStatus().ids
        #expect(idsBeforeKill.count >= 3)

        // Controller up, agent restarted: everything queued before the kill is delivered.
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        let second = try Child(Binaries.agent, ["run", "--config", setup.agentConfig], in: setup.directory, name: "agent-2")
        let drained = try eventually(30) { try setup.agentStatus().pending == 0 }
        second.kill(SIGTERM)
        #expect(drained, "agent log: \(second.stderr)")

        let detail = try RollcallJSON.decoder().decode(DeviceDetail.self, from: try get("\(setup.base)/api/v1/devices/\(deviceID)", caFile: setup.certificate, token: token))
        let stored = detail.reportIDs.map(\.uuidString)
        for id in idsBeforeKill {
            #expect(stored.filter { $0 == id }.count == 1, "report \(id) stored \(stored.filter { $0 == id }.count) times")
        }
        #expect(Set(stored).count == stored.count)
    }

    @Test("an agent whose controller is unreachable says so and keeps the report queued")
    func unreachableController() throws {
        let setup = try Setup(port: try freePort())
        defer { setup.cleanUp() }
        let controller = try setup.startController()
        try setup.enrol(controller: controller)
        controller.kill(SIGTERM)
        _ = controller.wait()
        let agent = try Child(Binaries.agent, ["run", "--once", "--deadline", "2", "--config", setup.agentConfig], in: setup.directory, name: "agent")
        #expect(agent.wait() != 0)
        #expect(agent.stderr.contains("Cannot reach the controller at https://127.0.0.1:\(setup.port)/api/v1/reports"))
        #expect(try setup.agentStatus().pending == 1)
    }

    @Test("a whole enrol-and-report cycle at trace level never logs the token or the agent's key")
    func secretsNeverLogged() throws {
        let setup = try Setup(port: try freePort())
        defer { setup.cleanUp() }
        let trace = ["ROLLCALL_LOG_LEVEL": "trace"]
        let controller = try setup.startController(environment: trace)
        let enrolment = try setup.enrol(controller: controller, environment: trace)
        let agent = try Child(Binaries.agent, ["run", "--once", "--config", setup.agentConfig], in: setup.directory, name: "agent", environment: trace)
        #expect(agent.wait() == 0, "\(agent.stderr)")
        let status = try run(Binaries.agent, ["status", "--config", setup.agentConfig, "--format", "json"])
        controller.kill(SIGTERM)
        _ = controller.wait()

        let key = try Data(contentsOf: URL(fileURLWithPath: setup.agentState + "/agent.key"))
        #expect(key.count == 32)
        let mode = try FileManager.default.attributesOfItem(atPath: setup.agentState + "/agent.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let secrets = [enrolment.token, String(enrolment.token.dropFirst(4)), key.base64EncodedString(),
                       key.map { String(format: "%02x", $0) }.joined(), key.map { String(format: "%02X", $0) }.joined()]
        let logs = [controller.stdout, controller.stderr, enrolment.agentOutput, agent.stdout, agent.stderr, status.output]
        #expect(controller.stderr.contains("Device enrolled") && controller.stderr.contains("Report received"), "trace logs were captured")
        for secret in secrets {
            #expect(!logs.contains { $0.contains(secret) }, "a secret (\(secret.prefix(6))…) appears in the logs")
        }
        let store = try String(contentsOfFile: setup.directory.appendingPathComponent("controller.sqlite").path, encoding: .isoLatin1)
        #expect(!store.contains(enrolment.token), "the store keeps only the token's hash")
    }

    @Test("under journald the controller's and the agent's entries carry device and report ids as fields, and no secret reaches the journal",
          .enabled(if: JournalNamespace.unavailable == nil, "\(JournalNamespace.unavailable ?? "")"))
    func journalEntries() throws {
        let journal = try JournalNamespace()
        defer { journal.stop() }
        let setup = try Setup(port: try freePort())
        defer { setup.cleanUp() }
        let environment = ["ROLLCALL_LOG_LEVEL": "trace", "ROLLCALL_JOURNAL_SOCKET": journal.socketPath]
        let controller = try setup.startController(environment: environment)
        let enrolment = try setup.enrol(controller: controller, environment: environment)
        let agent = try Child(Binaries.agent, ["run", "--once", "--config", setup.agentConfig], in: setup.directory, name: "agent",
                              environment: environment)
        #expect(agent.wait() == 0, "\(agent.stderr)")
        controller.kill(SIGTERM)
        _ = controller.wait()
        #expect(!controller.stderr.contains("Report received") && agent.stderr.isEmpty, "log lines went to the journal, not stderr")

        var entries: [[String: String]] = []
        #expect(eventually(10) {
            entries = (try? journal.entries()) ?? []
            return entries.contains { $0["MESSAGE"] == "Report received" } && entries.contains { $0["SYSLOG_IDENTIFIER"] == "rollcall-agent" }
        })
        let received = try #require(entries.first { $0["MESSAGE"] == "Report received" })
        #expect(received["SYSLOG_IDENTIFIER"] == "rollcall" && received["PRIORITY"] == "6")
        #expect(received["CTL_DEVICE_ID"] == enrolment.deviceID, "\(received)")
        let enrolled = try #require(entries.first { $0["MESSAGE"] == "Device enrolled" })
        #expect(enrolled["PRIORITY"] == "5")
        #expect(entries.contains { $0["SYSLOG_IDENTIFIER"] == "rollcall-agent" && $0["MESSAGE"] == "Agent started" })

        let key = try Data(contentsOf: URL(fileURLWithPath: setup.agentState + "/agent.key"))
        let secrets = [enrolment.token, String(enrolment.token.dropFirst(4)), key.base64EncodedString(),
                       key.map { String(format: "%02x", $0) }.joined()]
        let everything = entries.flatMap { $0.values }.joined(separator: "\n")
        for secret in secrets {
            #expect(!everything.contains(secret), "a secret (\(secret.prefix(6))…) appears in the journal")
        }
    }

    @Test("`rollcall devices revoke` stops the agent's reports at once; they stay queued on the workstation")
    func revokedAgent() throws {
        let setup = try Setup(port: try freePort())
        defer { setup.cleanUp() }
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        let deviceID = try setup.enrol(controller: controller).deviceID
        let revoke = try run(Binaries.controller, ["devices", "revoke", deviceID, "--config", setup.controllerConfig])
        #expect(revoke.status == 0 && revoke.output.contains("revoked"))
        let agent = try Child(Binaries.agent, ["run", "--once", "--deadline", "2", "--config", setup.agentConfig], in: setup.directory, name: "agent")
        #expect(agent.wait() != 0)
        #expect(agent.stderr.contains("device_revoked"), "\(agent.stderr)")
        #expect(try setup.agentStatus().pending == 1)
        let list = try run(Binaries.controller, ["devices", "list", "--config", setup.controllerConfig])
        #expect(list.output.contains("revoked"))
    }

    @Test("a controller URL with a wrong path (404) keeps the report queued rather than setting it aside")
    func wrongPathKeepsReport() throws {
        let setup = try Setup(port: try freePort())
        defer { setup.cleanUp() }
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        try setup.enrol(controller: controller)
        let config = try String(contentsOfFile: setup.agentConfig, encoding: .utf8)
        try ("[controller]\nurl = \"\(setup.base)/not-rollcall\"\n" + config).write(toFile: setup.agentConfig, atomically: true, encoding: .utf8)
        let agent = try Child(Binaries.agent, ["run", "--once", "--deadline", "2", "--config", setup.agentConfig], in: setup.directory, name: "agent")
        #expect(agent.wait() != 0)
        #expect(agent.stderr.contains("404"), "\(agent.stderr)")
        let status = try run(Binaries.agent, ["status", "--config", setup.agentConfig, "--format", "json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any] ?? [:]
        #expect(json["pending"] as? Int == 1 && json["rejected"] as? Int == 0, "\(status.output)")
    }

    @Test("enrolment refuses a controller whose certificate does not match the pin, and plain HTTP unless allowed; nothing is kept")
    func enrolmentTrust() throws {
        let setup = try Setup(port: try freePort())
        defer { setup.cleanUp() }
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        let wrongPin = String(repeating: "AB:", count: 31) + "AB"
        let pinned = try Child(Binaries.agent, ["enrol", setup.base, "--token", "rct_x", "--fingerprint", wrongPin, "--config", setup.agentConfig],
                               in: setup.directory, name: "pin")
        #expect(pinned.wait() == 1)
        #expect(pinned.stderr.contains(try setup.fingerprint(of: controller)), "names the fingerprint presented: \(pinned.stderr)")
        let plain = try Child(Binaries.agent, ["enrol", "http://127.0.0.1:\(setup.port)", "--token", "rct_x", "--config", setup.agentConfig],
                              in: setup.directory, name: "plain")
        #expect(plain.wait() == 1)
        #expect(plain.stderr.contains("plain HTTP"))
        #expect(!FileManager.default.fileExists(atPath: setup.agentState + "/agent.key"))
    }

    @Test("a usage mistake exits 64 with the message on standard error; a bad config names file and line")
    func usageErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let usage = try Child(Binaries.agent, ["run", "--onse"], in: directory, name: "usage")
        #expect(usage.wait() == 64)
        #expect(usage.stderr == "Error: Unknown option '--onse' for 'rollcall-agent run'. See 'rollcall-agent run --help'.\n")
        let config = directory.appendingPathComponent("agent.toml").path
        try "[controller]\nurl = http://x\n".write(toFile: config, atomically: true, encoding: .utf8)
        let bad = try Child(Binaries.agent, ["run", "--config", config], in: directory, name: "bad")
        #expect(bad.wait() == 1)
        #expect(bad.stderr.hasPrefix("Error: \(config):2:7: 'http://x' is not a string"))
    }

    @Test("rollcall-agent inventory --root prints the captured machine as versioned JSON")
    func inventoryCommand() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/dell-poweredge-r910").path
        let result = try run(Binaries.agent, ["inventory", "--root", fixture])
        #expect(result.status == 0)
        let report = try RollcallJSON.decoder().decode(InventoryReport.self, from: Data(result.output.utf8))
        #expect(report.schemaVersion == InventoryReport.currentSchemaVersion)
        #expect(report.hardware.system.product == "PowerEdge R910")
    }
}
