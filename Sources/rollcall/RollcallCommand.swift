import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RollcallController
import RollcallProtocol

@main
struct RollcallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollcall",
        abstract: "Rollcall controller: receives agent reports and produces the school's compliance reports.",
        version: "0.1.0",
        subcommands: [
            Serve.self, Devices.self, Directory.self, Accounts.self, Passwords.self, PlanCommand.self, Audit.self, Report.self,
        ])
}

/// `--config`, shared by every command that opens the store.
struct ControllerOptions: ParsableArguments {
    @Option(help: "Path of the controller configuration.")
    var config: String = "/etc/rollcall/controller.toml"

    func load() throws -> ControllerConfiguration {
        do {
            return try ControllerConfiguration.load(path: config)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func openStore(_ configuration: ControllerConfiguration, logger: Logger) async throws -> ControllerStore {
        do {
            return try await ControllerStore.open(path: configuration.storePath, logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

func makeLogger(_ label: String) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = ProcessInfo.processInfo.environment["ROLLCALL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return handler
    }
    return Logger(label: label)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the agent API and the report; SIGTERM stops it gracefully.")

    @OptionGroup var options: ControllerOptions

    @Option(help: "Listen on this port instead of the configured one (0 picks a free port).")
    var port: Int?

    func run() async throws {
        var configuration = try options.load()
        if let port { configuration.port = port }
        let logger = makeLogger("rollcall")
        let store = try await options.openStore(configuration, logger: logger)
        let host = configuration.host
        let app = buildApplication(configuration: configuration, store: store, logger: logger) { channel in
            // One parseable line so scripts and tests learn the port when it was 0.
            let line = "rollcall listening on http://\(host):\(channel.localAddress?.port ?? 0)\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        try await app.runService()
        await store.close()
    }
}

enum ListFormat: String, ExpressibleByArgument, CaseIterable {
    case table, csv, json
}

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Devices that have reported.", subcommands: [List.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every device with its latest facts.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            let store = try await options.openStore(configuration, logger: Logger(label: "rollcall", factory: { _ in SwiftLogNoOpLogHandler() }))
            let devices = try await store.devices()
            await store.close()
            let report = ComplianceReport(devices: devices)
            switch format {
            case .json:
                print(String(decoding: try RollcallJSON.encoder(pretty: true).encode(devices), as: UTF8.self))
            case .csv:
                print(report.csv(), terminator: "")
            case .table:
                let rows = devices.map { device in
                    [device.hostname ?? "-", device.serial ?? "-", [device.vendor, device.model].compactMap { $0 }.joined(separator: " "),
                     device.os ?? "-", device.virtualization ?? "-", device.lastSeen.formatted(Date.ISO8601FormatStyle()),
                     String(device.packageCount), device.id]
                }
                print(TextTable.render(headers: ["HOSTNAME", "SERIAL", "MODEL", "OS", "VIRTUALIZATION", "LAST SEEN", "PACKAGES", "DEVICE ID"], rows: rows), terminator: "")
                if devices.isEmpty { print("No device has reported yet.") }
            }
        }
    }
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the compliance report (one row per device).")

    @OptionGroup var options: ControllerOptions

    @Option(help: "Output format: html, csv or json.")
    var format: ReportFormat = .html

    @Option(help: "Write to this file instead of standard output.")
    var output: String?

    enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
        case html, csv, json
    }

    func run() async throws {
        let configuration = try options.load()
        let store = try await options.openStore(configuration, logger: Logger(label: "rollcall", factory: { _ in SwiftLogNoOpLogHandler() }))
        let devices = try await store.devices()
        await store.close()
        let text = try ComplianceReport(devices: devices).render(ComplianceReport.Format(rawValue: format.rawValue) ?? .html)
        if let output {
            do {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("Cannot write \(output): \(error.localizedDescription)")
            }
            FileHandle.standardError.write(Data("Wrote \(format.rawValue) report of \(devices.count) device(s) to \(output)\n".utf8))
        } else {
            print(text, terminator: "")
        }
    }
}
