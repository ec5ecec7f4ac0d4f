import ArgumentParser
import Foundation
import Hummingbird
import NIOSSL
import Logging
import RollcallLogging
import RollcallController
import RollcallProtocol

@main
struct RollcallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollcall",
        abstract: "Rollcall controller: receives agent reports and produces the school's compliance reports.",
        version: "0.1.0",
        subcommands: [
            Serve.self, EnrolToken.self, Devices.self, Directory.self, HR.self, Accounts.self, Passwords.self, Offboard.self, PlanCommand.self,
            Equipment.self, Licences.self, Media.self, USB.self, Posture.self, Incidents.self, Audit.self, Report.self, Users.self,
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

    /// Opens the store, runs `body`, and closes the store on every path.
    func withStore<T>(_ configuration: ControllerConfiguration, _ body: (ControllerStore) async throws -> T) async throws -> T {
        let store = try await openStore(configuration, logger: Logger(label: "rollcall", factory: { _ in SwiftLogNoOpLogHandler() }))
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
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
    ServiceLogHandler.bootstrap(environment: ProcessInfo.processInfo.environment)
    return Logger(label: label)
}

/// The journal, where there is one, and nowhere else: for what a command changes in the directory, next to the
/// progress it prints.
func journalLogger() -> Logger {
    let environment = ProcessInfo.processInfo.environment
    guard let journal = LogDestination.journalOnly(environment: environment) else {
        return Logger(label: "rollcall", factory: { _ in SwiftLogNoOpLogHandler() })
    }
    return ServiceLogHandler.logger(label: "rollcall", destination: journal, environment: environment)
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
        var tls: TLSConfiguration?
        var notice = ""
        if configuration.tls.plainHTTP {
            logger.warning("Serving plain HTTP because [tls] plain_http = true: reports and enrolment tokens cross the network unencrypted. Use this only on loopback for a demo.")
        } else {
            let certificate: ControllerCertificate
            do {
                certificate = try ControllerCertificate.load(configuration)
                tls = try certificate.serverConfiguration()
            } catch {
                throw ValidationError(error.description)
            }
            if certificate.created {
                notice += "rollcall created a self-signed TLS certificate: \(certificate.certificatePath)\n"
            }
            notice += "rollcall TLS certificate SHA-256 fingerprint: \(certificate.fingerprint)\n"
        }
        let store = try await options.openStore(configuration, logger: logger)
        let host = configuration.host
        let scheme = tls == nil ? "http" : "https"
        let app = try buildApplication(configuration: configuration, store: store, tls: tls, logger: logger) { [notice] channel in
            // Parseable lines so scripts and tests learn the port (when it was 0) and the fingerprint agents pin.
            let line = notice + "rollcall listening on \(scheme)://\(host):\(channel.localAddress?.port ?? 0)\n"
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
    static let configuration = CommandConfiguration(
        abstract: "Enrolled workstations and what they reported.", subcommands: [List.self, Revoke.self], defaultSubcommand: List.self)

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse every further request from a device (a lost or stolen laptop, a rebuilt PC).")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The device id, from `rollcall devices list`.")
        var id: String

        func run() async throws {
            let outcome = try await options.withStore(try options.load()) { try await $0.revokeDevice(id: id) }
            switch outcome {
            case .revoked: print("Device \(id) revoked: its requests are refused from now on. Its history stays; enrol the machine again to restore it.")
            case .alreadyRevoked(let at): print("Device \(id) was already revoked at \(at.formatted(.iso8601)).")
            case .unknown: throw ValidationError("No enrolled device \(id); `rollcall devices list` shows them.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every device with its latest facts.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            let (devices, table) = try await options.withStore(configuration) { store in
                (try await store.devices(), try await EstateSections(store: store, configuration: configuration).devices())
            }
            switch format {
            case .json:
                print(String(decoding: try RollcallJSON.encoder(pretty: true).encode(devices), as: UTF8.self))
            case .csv:
                print(table.csv(), terminator: "")
            case .table:
                let rows = devices.map { device in
                    [device.hostname ?? "-", device.serial ?? "-", [device.vendor, device.model].compactMap { $0 }.joined(separator: " "),
                     device.os ?? "-", device.virtualization ?? "-", device.lastSeen.formatted(Date.ISO8601FormatStyle()),
                     String(device.packageCount), Self.enrolment(device), device.id]
                }
                print(TextTable.render(headers: ["HOSTNAME", "SERIAL", "MODEL", "OS", "VIRTUALIZATION", "LAST SEEN", "PACKAGES", "ENROLMENT", "DEVICE ID"], rows: rows), terminator: "")
                if devices.isEmpty { print("No device has enrolled yet.") }
            }
        }

        static func enrolment(_ device: DeviceSummary) -> String {
            if let revoked = device.revokedAt { return "revoked " + String(revoked.formatted(Date.ISO8601FormatStyle()).prefix(10)) }
            if device.enrolledAt != nil { return device.lastReportID == nil ? "enrolled, no report yet" : "enrolled" }
            return "not enrolled"
        }
    }
}

