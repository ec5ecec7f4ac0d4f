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

/// GET through curl, the way a technician's script would fetch it.
func get(_ url: String) throws -> Data {
    let result = try run("/usr/bin/curl", ["-sS", "--fail", "--max-time", "10", url])
    guard result.status == 0 else { throw ProgramFailure(description: "GET \(url) failed (curl exit \(result.status))") }
    return Data(result.output.utf8)
}

/// A scratch directory with a controller config and an agent config pointing at `port`.
struct Setup {
    let directory: URL
    let port: Int
    var controllerConfig: String { directory.appendingPathComponent("controller.toml").path }
    var agentConfig: String { directory.appendingPathComponent("agent.toml").path }
    var base: String { "http://127.0.0.1:\(port)" }

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
        try """
            [controller]
            url = "http://127.0.0.1:\(port)"
            [agent]
            interval = "\(interval)"
            state_dir = "\(directory.appendingPathComponent("agent-state").path)"
            [upload]
            timeout = "2s"
            max_backoff = "1s"
            """.write(toFile: agentConfig, atomically: true, encoding: .utf8)
    }

    func startController() throws -> Child {
        let child = try Child(Binaries.controller, ["serve", "--config", controllerConfig], in: directory, name: "controller-\(UUID().uuidString.prefix(4))")
        let up = eventually(20) { child.stdout.contains("rollcall listening on") }
        guard up else { throw ProgramFailure(description: "controller did not start: \(child.stderr)") }
        return child
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

        let agent = try Child(Binaries.agent, ["run", "--once", "--config", setup.agentConfig], in: setup.directory, name: "agent")
        #expect(agent.wait() == 0, "\(agent.stderr)")

        let machineID = try String(contentsOfFile: "/etc/machine-id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let devices = try RollcallJSON.decoder().decode([DeviceSummary].self, from: try get("\(setup.base)/api/v1/devices"))
        let device = try #require(devices.first)
        #expect(devices.count == 1)
        #expect(device.id == machineID)
        let hostname = try String(contentsOfFile: "/etc/hostname", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(device.hostname == hostname)
        let dpkgCount = try run("/usr/bin/dpkg-query", ["-W", "-f=${db:Status-Status}\n"]).output.split(separator: "\n").filter { $0 == "installed" }.count
        #expect(device.packageCount == dpkgCount)

        let detail = try RollcallJSON.decoder().decode(DeviceDetail.self, from: try get("\(setup.base)/api/v1/devices/\(machineID)"))
        #expect(detail.latestReport.agent.machineID == machineID)

        let csv = try run(Binaries.controller, ["report", "--format", "csv", "--config", setup.controllerConfig])
        #expect(csv.status == 0)
        #expect(csv.output.contains(machineID))
        #expect(csv.output.contains("\(hostname),"))
        let list = try run(Binaries.controller, ["devices", "list", "--format", "json", "--config", setup.controllerConfig])
        #expect(try RollcallJSON.decoder().decode([DeviceSummary].self, from: Data(list.output.utf8)).map(\.id) == [machineID])
        let status = try setup.agentStatus()
        #expect(status.pending == 0)
    }

    @Test("reports queued while the controller is down survive SIGKILL and arrive exactly once")
    func outboxSurvivesKill() throws {
        let setup = try Setup(port: try freePort(), interval: "1s")
        defer { setup.cleanUp() }

        // Controller down: the agent collects every second and queues.
        let first = try Child(Binaries.agent, ["run", "--config", setup.agentConfig], in: setup.directory, name: "agent-1")
        let queued = try eventually(30) { try setup.agentStatus().pending >= 3 }
        first.kill(SIGKILL)
        #expect(queued)
        let idsBeforeKill = try setup.agentStatus().ids
        #expect(idsBeforeKill.count >= 3)

        // Controller up, agent restarted: everything queued before the kill is delivered.
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        let second = try Child(Binaries.agent, ["run", "--config", setup.agentConfig], in: setup.directory, name: "agent-2")
        let drained = try eventually(30) { try setup.agentStatus().pending == 0 }
        second.kill(SIGTERM)
        #expect(drained, "agent log: \(second.stderr)")

        let machineID = try String(contentsOfFile: "/etc/machine-id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let detail = try RollcallJSON.decoder().decode(DeviceDetail.self, from: try get("\(setup.base)/api/v1/devices/\(machineID)"))
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
        let agent = try Child(Binaries.agent, ["run", "--once", "--deadline", "2", "--config", setup.agentConfig], in: setup.directory, name: "agent")
        #expect(agent.wait() != 0)
        #expect(agent.stderr.contains("Cannot reach the controller at http://127.0.0.1:\(setup.port)/api/v1/reports"))
        #expect(try setup.agentStatus().pending == 1)
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
