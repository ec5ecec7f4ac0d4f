import ArgumentParser
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
import RollcallAgent
import RollcallProtocol

@main
struct RollcallAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollcall-agent",
        abstract: "Reports this workstation's inventory to the Rollcall controller.",
        version: InventoryCollector.agentVersion,
        subcommands: [Run.self, Inventory.self, Status.self])
}

/// Options every command that reads the configuration shares.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Path of the agent configuration.")
    var config: String = "/etc/rollcall/agent.toml"

    func load() throws -> AgentConfiguration {
        let text: String
        switch FileSystemRoot.system.readText(config) {
        case .success(let contents): text = contents
        case .failure(let failure): throw ValidationError("Cannot read \(config): \(failure.reason).")
        }
        do {
            return try AgentConfiguration.parse(text, source: config)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

func makeLogger() -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = ProcessInfo.processInfo.environment["ROLLCALL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return handler
    }
    return Logger(label: "rollcall-agent")
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the agent: snapshot on the configured interval, queue, deliver; SIGTERM stops it.")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Take one snapshot, deliver everything queued, then exit (non-zero if anything is still queued).")
    var once = false

    @Option(help: "With --once: give up delivering after this many seconds.")
    var deadline: Double = 30

    func run() async throws {
        let configuration = try options.load()
        let logger = makeLogger()
        let service = AgentService(configuration: configuration, logger: logger)
        let task = Task { try await service.run(once: once, onceDeadlineSeconds: deadline) }
        // SIGTERM/SIGINT cancel the run loop; the outbox is durable so there is nothing to flush.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { signalNumber in
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try await task.value
        } catch let error as AgentService.RunError {
            throw ValidationError(error.description)
        } catch let error as UploadError {
            throw ValidationError(error.description)
        }
    }
}

struct Inventory: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one inventory snapshot of this machine as JSON.",
        discussion: "With --root, read a captured tree (sys/, proc/, etc/, var/lib/dpkg/) instead of this machine's /.")

    @Option(help: "Read the machine from this directory instead of /.")
    var root: String = "/"

    @Flag(help: "Print compact JSON on one line.")
    var compact = false

    func run() throws {
        let report = InventoryCollector(root: FileSystemRoot(root)).collect()
        var data = try RollcallJSON.encoder(pretty: !compact).encode(report)
        data.append(0x0A)
        writeToStandardOutput(data)
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the outbox depth and the last successful upload.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Output format: table or json.")
    var format: OutputFormat = .table

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    func run() throws {
        let configuration = try options.load()
        let status: Outbox.Status
        do {
            status = try Outbox(path: configuration.outboxPath).status()
        } catch {
            throw ValidationError("Cannot open the outbox \(configuration.outboxPath): \(error)")
        }
        switch format {
        case .json:
            var data = try RollcallJSON.encoder(pretty: true).encode(status)
            data.append(0x0A)
            writeToStandardOutput(data)
        case .table:
            func show(_ date: Date?) -> String { date.map { $0.formatted(.iso8601) } ?? "never" }
            print("Controller:        \(configuration.controllerURL ?? "(not configured)")")
            print("Outbox:            \(configuration.outboxPath)")
            print("Queued reports:    \(status.pending)" + (status.oldestPendingQueuedAt.map { " (oldest queued \(show($0)))" } ?? ""))
            print("Rejected reports:  \(status.rejected)")
            print("Last upload:       \(show(status.lastUploadAt))" + (status.lastUploadReportID.map { " (report \($0))" } ?? ""))
            if let error = status.lastError {
                print("Last error:        \(error) at \(show(status.lastErrorAt))")
            }
        }
    }
}

/// Writes all of `data` to fd 1 (print() would copy a multi-megabyte report into a String first).
func writeToStandardOutput(_ data: Data) {
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
