import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import RollcallLogging
import RollcallAgent
import RollcallProtocol

/// `rollcall-agent`: parses the command line and hands the work to the RollcallAgent library.
@main
enum RollcallAgentMain {
    static func main() async {
        do {
            switch try AgentCommandLine.parse(Array(CommandLine.arguments.dropFirst())) {
            case .help(let command):
                writeOut(AgentCommandLine.help(command))
            case .version:
                writeOut(InventoryCollector.agentVersion + "\n")
            case .inventory(let root, let compact):
                try inventory(root: root, compact: compact)
            case .enrol(let url, let token, let fingerprint, let caFile, let allowPlainHTTP, let config):
                try enrol(url: url, token: token, fingerprint: fingerprint, caFile: caFile, allowPlainHTTP: allowPlainHTTP,
                          configuration: try loadConfiguration(config, missingIsDefault: true))
            case .status(let config, let json):
                try status(configuration: try loadConfiguration(config), json: json)
            case .run(let config, let once, let deadline):
                try await run(configuration: try loadConfiguration(config), once: once, deadline: deadline)
            }
        } catch let error as AgentCommandLine.UsageError {
            fail("Error: \(error)", status: 64)
        } catch {
            fail("Error: \(error)", status: 1)
        }
    }

    /// `missingIsDefault`: enrolment may come before anyone writes agent.toml; the defaults then apply.
    static func loadConfiguration(_ path: String, missingIsDefault: Bool = false) throws -> AgentConfiguration {
        switch FileSystemRoot.system.readText(path) {
        case .success(let text): return try AgentConfiguration.parse(text, source: path)
        case .failure(let failure) where failure.isMissing && missingIsDefault: return AgentConfiguration()
        case .failure(let failure): throw AgentCommandLine.UsageError(message: "Cannot read \(path): \(failure.reason).")
        }
    }

    static func inventory(root: String, compact: Bool) throws {
        let report = InventoryCollector(root: FileSystemRoot(root)).collect()
        var data = try RollcallJSON.encoder(pretty: !compact).encode(report)
        data.append(0x0A)
        writeOut(data)
    }

    static func run(configuration: AgentConfiguration, once: Bool, deadline: Double) async throws {
        ServiceLogHandler.bootstrap(environment: ProcessInfo.processInfo.environment)
        let service = AgentService(configuration: configuration, logger: Logger(label: "rollcall-agent"))
        let task = Task { try await service.run(once: once, onceDeadlineSeconds: deadline) }
        // SIGTERM/SIGINT cancel the run loop; the outbox is durable, so there is nothing to flush.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { signalNumber in
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        try await task.value
    }

    static func enrol(url: String, token: String, fingerprint: String?, caFile: String?, allowPlainHTTP: Bool,
                      configuration: AgentConfiguration) throws {
        let identity = InventoryCollector(root: FileSystemRoot(configuration.root)).identity()
        let record = try AgentEnrolment(configuration: configuration).enrol(
            url: url, token: token, fingerprint: fingerprint, caFile: caFile, allowPlainHTTP: allowPlainHTTP, identity: identity)
        var text = "Enrolled with \(record.controllerURL) as device \(record.deviceID).\n"
        text += "Private key: \(configuration.keyPath) (mode 0600); enrolment: \(configuration.enrolmentPath).\n"
        if record.fingerprint == nil, caFile == nil, configuration.controllerCAFile == nil, configuration.controllerFingerprint == nil, url.hasPrefix("https") {
            text += "The controller's certificate was checked against the system's CAs.\n"
        }
        writeOut(text)
    }

    static func status(configuration: AgentConfiguration, json: Bool) throws {
        let status: Outbox.Status
        do {
            status = try Outbox(path: configuration.outboxPath).status()
        } catch {
            throw AgentCommandLine.UsageError(message: "Cannot open the outbox \(configuration.outboxPath): \(error)")
        }
        let enrolment = try? AgentEnrolment(configuration: configuration).loadRecord()
        let policy = PolicyCache(stateDirectory: configuration.stateDirectory).current
        if json {
            struct Output: Encodable {
                var status: Outbox.Status
                var enrolment: EnrolmentRecord?
                var policy: AgentPolicy
                func encode(to encoder: any Encoder) throws {
                    try status.encode(to: encoder)
                    var container = encoder.container(keyedBy: Key.self)
                    try container.encodeIfPresent(enrolment, forKey: Key(stringValue: "enrolment")!)  // safe: init?(stringValue:) never fails
                    try container.encode(policy, forKey: Key(stringValue: "policy")!)  // safe: as above
                }
                struct Key: CodingKey {
                    var stringValue: String
                    var intValue: Int? { nil }
                    init?(stringValue: String) { self.stringValue = stringValue }
                    init?(intValue: Int) { nil }
                }
            }
            var data = try RollcallJSON.encoder(pretty: true).encode(Output(status: status, enrolment: enrolment, policy: policy))
            data.append(0x0A)
            writeOut(data)
            return
        }
        func show(_ date: Date?) -> String { date.map { $0.formatted(.iso8601) } ?? "never" }
        var text = "Controller:        \(configuration.controllerURL ?? enrolment?.controllerURL ?? "(not configured)")\n"
        if let enrolment {
            text += "Enrolment:         device \(enrolment.deviceID) since \(show(enrolment.enrolledAt))"
            text += (enrolment.fingerprint.map { ", pinned certificate \($0)" } ?? "") + "\n"
        } else {
            text += "Enrolment:         not enrolled (rollcall-agent enrol URL --token TOKEN)\n"
        }
        text += "Outbox:            \(configuration.outboxPath)\n"
        text += "Queued reports:    \(status.pending)" + (status.oldestPendingQueuedAt.map { " (oldest queued \(show($0)))" } ?? "") + "\n"
        text += "Rejected reports:  \(status.rejected)\n"
        text += "Last upload:       \(show(status.lastUploadAt))" + (status.lastUploadReportID.map { " (report \($0))" } ?? "") + "\n"
        if let error = status.lastError { text += "Last error:        \(error) at \(show(status.lastErrorAt))\n" }
        text += "USB policy:        " + (policy.revision == PolicyCache.initial.revision ? "none received yet (nothing blocked, nothing approved)"
            : "revision \(policy.revision): \(policy.approvedMedia.count) approved, unapproved sticks \(policy.blockUnapprovedUSBStorage ? "switched off" : "reported only")") + "\n"
        writeOut(text)
    }

    static func fail(_ message: String, status: Int32) -> Never {
        var line = message + "\n"
        line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
        exit(status)
    }
}

func writeOut(_ text: String) {
    writeOut(Data(text.utf8))
}

/// Writes all of `data` to fd 1 (print() would copy a multi-megabyte report into a String first).
func writeOut(_ data: Data) {
    data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = write(STDOUT_FILENO, raw.baseAddress.map { $0 + offset }, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}
