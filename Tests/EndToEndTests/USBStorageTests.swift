import Foundation
import RollcallProtocol
import RollcallTestSupport
import Testing

/// The real agent under umockdev: recorded USB sticks are plugged in and out of a udev testbed by
/// scripts/umockdev-usb.py, and the agent's libudev monitor sees them as it would real ones.
///
/// `@unchecked Sendable`: used from one test task only; `Process` and `Pipe` are not annotated.
final class USBTestbed: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    let stdoutURL: URL
    let stderrURL: URL
    /// The testbed's root: its `sys/` is what the agent sees as `/sys`.
    private(set) var root = ""

    init(agent arguments: [String], coldplug: [String] = [], in directory: URL, name: String) throws {
        stdoutURL = directory.appendingPathComponent("\(name).out")
        stderrURL = directory.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/umockdev-wrapper")
        process.arguments = ["/usr/bin/python3", Repository.path("scripts/umockdev-usb.py")]
            + coldplug.flatMap { ["--coldplug", USBTestbed.stick($0)] } + ["--", Binaries.agent] + arguments
        process.currentDirectoryURL = directory
        process.standardInput = input
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
        guard eventually(20, { answers.contains { $0.hasPrefix("testbed ") } }) else {
            throw ProgramFailure(description: "umockdev driver did not start: \(log)")
        }
        root = String(answers.first { $0.hasPrefix("testbed ") }!.dropFirst(8))  // safe: checked just above
    }

    static func stick(_ name: String) -> String { Repository.path("Tests/Fixtures/usb/\(name).umockdev") }

    var answers: [String] { ((try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
    /// The driver's and the agent's standard error (the agent logs there).
    var log: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Sends one driver command and returns its answer's fields.
    @discardableResult
    func send(_ command: String, timeout: Double = 20) throws -> [String] {
        let before = answers.count
        input.fileHandleForWriting.write(Data((command + "\n").utf8))
        guard eventually(timeout, { answers.count > before }) else { throw ProgramFailure(description: "no answer to `\(command)`: \(log)") }
        let fields = answers[before].split(separator: " ").map(String.init)
        if fields.first == "error" { throw ProgramFailure(description: "`\(command)`: \(answers[before])") }
        return fields
    }

    /// Plugs a stick in; returns when its last uevent had been sent.
    func plug(_ name: String) throws -> Date {
        let fields = try send("add \(Self.stick(name))")
        return Date(timeIntervalSince1970: Double(fields[4])! / 1e9)  // safe: the driver always answers `added NAME T T T`
    }

    func unplug(_ name: String) throws { try send("remove \(Self.stick(name))") }

    /// The agent listens: its log says so (it enumerates present sticks after binding the monitor).
    func waitForAgent() throws {
        guard eventually(30, { log.contains("USB watcher listening") }) else { throw ProgramFailure(description: "agent never listened: \(log)") }
    }

    func quit() -> Int32 {
        try? input.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8))
        process.waitUntilExit()
        return process.terminationStatus
    }

    func authorized(_ port: String = "2-1") -> String? {
        (try? String(contentsOfFile: root + "/sys/bus/usb/devices/\(port)/authorized", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite("USB storage through udev (umockdev)", .serialized)
struct USBStorageTests {
    static func setup(block: Bool = false) throws -> Setup {
        let setup = try Setup(port: try freePort())
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: setup.controllerConfig))
        handle.seekToEndOfFile()
        handle.write(Data("\n[usb]\nblock_unapproved = \(block)\n".utf8))
        try handle.close()
        return setup
    }

    static func events(_ setup: Setup) throws -> [[String: Any]] {
        let listed = try run(Binaries.controller, ["usb", "events", "--format", "json", "--config", setup.controllerConfig])
        return try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]] ?? []
    }

    static func incidents(_ setup: Setup) throws -> [[String: Any]] {
        let listed = try run(Binaries.controller, ["incidents", "list", "--format", "json", "--config", setup.controllerConfig])
        return try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]] ?? []
    }

    static func date(_ value: Any?) -> Date? {
        (value as? String).flatMap { try? Date($0, strategy: .iso8601) }
    }

    @Test("a stick plugged in reaches the controller within 5 s with its identity and filesystem; unapproved opens an incident, approved does not")
    func insertionReachesController() throws {
        let setup = try Self.setup()
        defer { setup.cleanUp() }
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        try setup.enrol(controller: controller)
        _ = try run(Binaries.controller, ["media", "approve", "0951:1666", "--description", "Kingston (school stock)", "--config", setup.controllerConfig])

        let testbed = try USBTestbed(agent: ["run", "--config", setup.agentConfig], in: setup.directory, name: "usb")
        try testbed.waitForAgent()
        let plugged = try testbed.plug("sandisk-cruzer-blade")
        #expect(eventually(5) { ((try? Self.events(setup)) ?? []).count == 1 }, "agent log: \(testbed.log)")
        let event = try #require(try Self.events(setup).first)
        #expect(event["vendorID"] as? String == "0781" && event["productID"] as? String == "5567")
        #expect(event["serial"] as? String == "03036820061422205910" && event["port"] as? String == "2-1" && event["action"] as? String == "add")
        #expect(event["approved"] as? Bool == false)
        let volumes = event["volumes"] as? [[String: Any]] ?? []
        #expect(volumes.count == 1 && volumes.first?["name"] as? String == "sdb1" && volumes.first?["filesystem"] as? String == "vfat"
            && volumes.first?["label"] as? String == "STUDENT")
        let received = try #require(Self.date(event["receivedAt"]))
        #expect(received.timeIntervalSince(plugged) < 5)
        // occurredAt is stored to the second: the kernel event reached the agent within a second of the uevent.
        let occurred = try #require(Self.date(event["occurredAt"]))
        #expect(abs(occurred.timeIntervalSince(plugged)) < 1.5)
        let detail = try run(Binaries.controller, ["incidents", "list", "--format", "json", "--config", setup.controllerConfig]).output
        #expect(detail.contains("SanDisk") && detail.contains("Cruzer Blade") && detail.contains("(0781:5567, serial 03036820061422205910) plugged into port 2-1"))
        #expect(try Self.incidents(setup).count == 1)

        try testbed.unplug("sandisk-cruzer-blade")
        #expect(eventually(5) { ((try? Self.events(setup)) ?? []).contains { $0["action"] as? String == "remove" } })
        // The approved Kingston: stored, no incident.
        _ = try testbed.plug("kingston-datatraveler")
        #expect(eventually(5) { ((try? Self.events(setup)) ?? []).contains { $0["vendorID"] as? String == "0951" } })
        let kingston = try #require(try Self.events(setup).first { $0["vendorID"] as? String == "0951" })
        #expect(kingston["approved"] as? Bool == true)
        #expect(try Self.incidents(setup).count == 1)
        // The report's USB section lists both sticks.
        let html = try run(Binaries.controller, ["report", "--format", "html", "--config", setup.controllerConfig]).output
        #expect(html.contains("SanDisk Cruzer Blade (0781:5567)") && html.contains("(0951:1666)"))
        _ = testbed.quit()
    }

    @Test("under a blocking policy the agent writes 0 to an unapproved stick's authorized attribute; a stick approved later stays on")
    func blockingPolicy() throws {
        let setup = try Self.setup(block: true)
        defer { setup.cleanUp() }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: setup.agentConfig))
        handle.seekToEndOfFile()
        handle.write(Data("\n[usb]\npolicy_refresh = \"10s\"\n".utf8))
        try handle.close()
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        try setup.enrol(controller: controller)

        let testbed = try USBTestbed(agent: ["run", "--config", setup.agentConfig], in: setup.directory, name: "usb")
        try testbed.waitForAgent()
        // The agent fetches the policy after its first delivery; wait until it holds it.
        #expect(eventually(20) { testbed.log.contains("Policy updated") }, "agent log: \(testbed.log)")
        _ = try testbed.plug("toshiba-superfloppy")
        #expect(eventually(5) { testbed.authorized() == "0" }, "agent log: \(testbed.log)")
        #expect(eventually(5) { ((try? Self.events(setup)) ?? []).first?["blocked"] as? Bool == true })
        #expect((try Self.incidents(setup).first?["description"] as? String ?? "").contains("the agent switched it off"))
        try testbed.unplug("toshiba-superfloppy")

        // The technician approves that very stick; the agent's next policy refresh brings it, and plugged in again
        // it is left on.
        _ = try run(Binaries.controller, ["media", "approve", "0930:6545", "--serial", "C03FD5F76D5BE2C010004262", "--config", setup.controllerConfig])
        let refreshed = eventually(30) { testbed.log.components(separatedBy: "Policy updated").count == 3 }
        #expect(refreshed, "agent log: \(testbed.log)")
        let status = try run(Binaries.agent, ["status", "--config", setup.agentConfig]).output
        #expect(status.contains(": 1 approved, unapproved sticks switched off"), "\(status)")
        _ = try testbed.plug("toshiba-superfloppy")
        #expect(eventually(5) { ((try? Self.events(setup)) ?? []).filter { $0["action"] as? String == "add" }.count == 2 })
        #expect(testbed.authorized() == "1")
        let approved = try #require(try Self.events(setup).first { $0["action"] as? String == "add" && $0["approved"] as? Bool == true })
        #expect(approved["blocked"] as? Bool == false)
        #expect(try Self.incidents(setup).count == 1)
        // Another model is still switched off.
        try testbed.unplug("toshiba-superfloppy")
        _ = try testbed.plug("sandisk-cruzer-blade")
        #expect(eventually(5) { testbed.authorized() == "0" })
        _ = testbed.quit()
    }

    @Test("events while the controller is down are in the outbox within a second, survive SIGKILL and arrive exactly once")
    func offlineEventsSurvive() throws {
        let setup = try Self.setup()
        defer { setup.cleanUp() }
        let enrolling = try setup.startController()
        try setup.enrol(controller: enrolling)
        enrolling.kill(SIGTERM)

        let testbed = try USBTestbed(agent: ["run", "--config", setup.agentConfig], in: setup.directory, name: "usb-1")
        try testbed.waitForAgent()
        // The first inventory snapshot is queued at start; the stick's event must be a row of its own.
        #expect(eventually(10) { testbed.log.contains("Snapshot queued") })
        let queuedBefore = try setup.agentStatus().ids
        _ = try testbed.plug("sandisk-cruzer-blade")
        #expect(eventually(1) { ((try? setup.agentStatus().ids) ?? []).count > queuedBefore.count }, "agent log: \(testbed.log)")
        let queued = Set(try setup.agentStatus().ids).subtracting(queuedBefore)
        #expect(queued.count == 1)
        // SIGKILL the agent itself (the driver's child), then end the driver.
        let agentPID = try #require(try run("/usr/bin/pgrep", ["-f", "-n", "rollcall-agent run --config \(setup.agentConfig)"]).output
            .split(separator: "\n").first.flatMap { Int32($0) })
        kill(agentPID, SIGKILL)
        _ = testbed.quit()

        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        let agent = try Child(Binaries.agent, ["run", "--once", "--config", setup.agentConfig], in: setup.directory, name: "agent-2")
        #expect(agent.wait() == 0, "\(agent.stderr)")
        let events = try Self.events(setup)
        #expect(events.count == 1, "agent log: \(agent.stderr) first agent: \(testbed.log)")
        #expect(queued.contains(events.first?["id"] as? String ?? ""))
        #expect(try setup.agentStatus().pending == 0)
    }

    @Test("a stick already plugged in when the agent starts is reported as present")
    func presentAtStart() throws {
        let setup = try Self.setup()
        defer { setup.cleanUp() }
        let controller = try setup.startController()
        defer { controller.kill(SIGTERM) }
        try setup.enrol(controller: controller)
        let testbed = try USBTestbed(agent: ["run", "--config", setup.agentConfig], coldplug: ["toshiba-superfloppy"], in: setup.directory, name: "usb")
        #expect(eventually(10) { ((try? Self.events(setup)) ?? []).count == 1 }, "agent log: \(testbed.log)")
        let event = try #require(try Self.events(setup).first)
        #expect(event["action"] as? String == "present" && event["vendorID"] as? String == "0930")
        let body = try run(Binaries.controller, ["usb", "events", "--format", "json", "--config", setup.controllerConfig]).output
        #expect(body.contains("\"capacityBytes\" : 7759462400"))
        // No partition table: the filesystem is on the disk itself.
        let volumes = event["volumes"] as? [[String: Any]] ?? []
        #expect(volumes.first?["name"] as? String == "sdb" && volumes.first?["label"] as? String == "COURSEWORK")
        _ = testbed.quit()
    }
}
