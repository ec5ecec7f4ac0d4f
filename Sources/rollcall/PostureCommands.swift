public import ArgumentParser
import Foundation
public import RollcallController
import RollcallProtocol

struct Media: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The approved removable media: USB sticks the school allows. Agents receive the list with their policy.",
        subcommands: [Approve.self, List.self, Revoke.self], defaultSubcommand: List.self)

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a model of stick, or one stick by its serial number.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "VENDOR:PRODUCT in hex, as lsusb and `rollcall usb events` show it (e.g. 0781:5567).")
        var id: String

        @Option(help: "Approve only the stick with this serial number (as `rollcall usb events` shows it).")
        var serial: String?

        @Option(help: "What it is and why it is approved, for the list and the audit log.")
        var description: String?

        func run() async throws {
            let configuration = try options.load()
            let entry: ApprovedMediaEntry
            do {
                entry = try await options.withStore(configuration) { try await $0.approveMedia(id, serial: serial, description: description) }
            } catch let error as MediaError {
                throw ValidationError(error.description)
            }
            print("Approved \(entry.vendorID):\(entry.productID)\(entry.serial.map { " serial \($0)" } ?? " (every stick of this model)") as entry \(entry.id). "
                  + "Agents pick it up at their next policy refresh ([usb] policy_refresh in agent.toml, 15 minutes by default).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the approved media.")

        @OptionGroup var options: ControllerOptions

        @Flag(help: "Include revoked entries.")
        var all = false

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            let entries = try await options.withStore(configuration) { try await $0.approvedMedia(includeRevoked: all) }
            let rows = entries.map {
                [String($0.id), "\($0.vendorID):\($0.productID)", $0.serial ?? "any", $0.description ?? "-", $0.approvedBy,
                 $0.approvedAt.formatted(Date.ISO8601FormatStyle()), $0.revokedAt.map { "revoked " + $0.formatted(Date.ISO8601FormatStyle()) } ?? "active"]
            }
            try emit(format, headers: ["ID", "USB ID", "SERIAL", "DESCRIPTION", "APPROVED BY", "APPROVED AT", "STATE"], rows: rows, json: entries,
                     empty: "No media approved: every USB stick counts as unapproved. `rollcall media approve VENDOR:PRODUCT` adds one.")
            if format == .table {
                print(configuration.usb.blockUnapproved ? "Policy: unapproved USB storage is switched off by the agents ([usb] block_unapproved = true)."
                                                        : "Policy: unapproved USB storage is reported and opens an incident, but is not blocked ([usb] block_unapproved = false).")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw an approval.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The entry's id, from `rollcall media list`.")
        var id: Int

        func run() async throws {
            do {
                try await options.withStore(try options.load()) { try await $0.revokeMedia(id: id) }
            } catch let error as MediaError {
                throw ValidationError(error.description)
            }
            print("Approval \(id) revoked.")
        }
    }
}

struct USB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usb", abstract: "USB storage plugged into the school's machines.", subcommands: [Events.self], defaultSubcommand: Events.self)

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List USB storage events, newest first.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Only events of the last N days.")
        var days = 30

        @Option(help: "Only this device (its id, from `rollcall devices list`).")
        var device: String?

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            let since = Date().addingTimeInterval(-Double(days) * 86400)
            let events = try await options.withStore(configuration) { try await $0.usbEvents(since: since, deviceID: device) }
            let rows = events.map { event in
                [event.occurredAt.formatted(Date.ISO8601FormatStyle()), event.hostname ?? event.deviceID, event.action, event.name, event.serial ?? "-",
                 event.port, event.consoleUsers.isEmpty ? "-" : event.consoleUsers.joined(separator: ","), event.approved ? "yes" : "no",
                 event.blocked ? "yes" : (event.blockError == nil ? "no" : "failed"), event.incidentID.map { "#\($0)" } ?? "-"]
            }
            try emit(format, headers: ["WHEN", "MACHINE", "ACTION", "DEVICE", "SERIAL", "PORT", "CONSOLE", "APPROVED", "BLOCKED", "INCIDENT"],
                     rows: rows, json: events, empty: "No USB storage events in the last \(days) days.")
        }
    }
}

struct Posture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Each device's screen-lock and disk-encryption verdicts under the [posture] policy, with the reason.")

    @OptionGroup var options: ControllerOptions

    @Flag(help: "Only devices that fail or cannot be judged.")
    var failing = false

    @Option(help: "Output format: table, csv or json.")
    var format: ListFormat = .table

    func run() async throws {
        let configuration = try options.load()
        let (devices, postures) = try await options.withStore(configuration) { store in
            (try await store.devices(), try await store.postures(policy: configuration.posture))
        }
        let passing: Set<Verdict.Status> = [.pass, .notRequired]
        var judged: [(device: DeviceSummary, posture: DevicePosture)] = []
        for device in devices {
            guard let posture = postures[device.id] else { continue }
            if failing, passing.contains(posture.screenLock.status), passing.contains(posture.encryption.status) { continue }
            judged.append((device, posture))
        }
        let rows: [[String]] = judged.map { entry in
            let lock = entry.posture.screenLock, encryption = entry.posture.encryption
            return [entry.device.hostname ?? entry.device.id, lock.status.rawValue, lock.reason, encryption.status.rawValue, encryption.reason]
        }
        try emit(format, headers: ["MACHINE", "SCREEN LOCK", "WHY", "ENCRYPTION", "WHY"], rows: rows, json: judged.map { $0.posture },
                 empty: failing ? "Every device passes." : "No device has reported yet.")
    }
}

extension IncidentCategory: ExpressibleByArgument {}
extension IncidentAction: ExpressibleByArgument {}

struct Incidents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The e-safety incident log: unapproved USB storage opens incidents by itself; people log the rest.",
        subcommands: [List.self, Show.self, Add.self, Update.self], defaultSubcommand: List.self)

    static func row(_ incident: Incident) -> [String] {
        [String(incident.id), incident.occurredAt.formatted(Date.ISO8601FormatStyle()), incident.category?.label ?? incident.kind, incident.location ?? "-",
         incident.involved ?? "-", incident.description, incident.actions.isEmpty ? "-" : incident.actions.map(\.label).joined(separator: "; "),
         incident.outcome ?? "-", incident.status.rawValue]
    }

    static let headers = ["ID", "WHEN", "CATEGORY", "WHERE", "WHO", "WHAT", "ACTION TAKEN", "OUTCOME", "STATUS"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List incidents, oldest first.")

        @OptionGroup var options: ControllerOptions

        @Flag(help: "Only those still open.")
        var open = false

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let incidents = try await options.withStore(try options.load()) { try await $0.incidents(status: open ? .open : nil) }
            try emit(format, headers: Incidents.headers, rows: incidents.map(Incidents.row), json: incidents, empty: "No incidents logged.")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One incident with its history from the audit log.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The incident's number.")
        var id: Int

        func run() async throws {
            let (incident, history) = try await options.withStore(try options.load()) { store in
                (try await store.incident(id: id), try await store.incidentHistory(id: id))
            }
            guard let incident else { throw ValidationError(IncidentError.unknown(id: id).description) }
            for (name, value) in zip(Incidents.headers, Incidents.row(incident)) { print("\(name.lowercased()): \(value)") }
            print("reported by: \(incident.reportedBy)\nlogged: \(incident.openedAt.formatted(Date.ISO8601FormatStyle()))")
            if let device = incident.deviceID { print("device: \(device)") }
            print("history:")
            for entry in history { print("  \(entry.at.formatted(Date.ISO8601FormatStyle())) \(entry.actor) \(entry.action): \(entry.detail)") }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Log an incident someone reported.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "What it was about: \(IncidentCategory.allCases.filter { $0 != .usbStorage }.map(\.rawValue).joined(separator: ", ")).")
        var category: IncidentCategory

        @Option(help: "What happened, with the devices and user names involved.")
        var description: String

        @Option(help: "Who reported it (default: you).")
        var reportedBy: String?

        @Option(help: "When it happened: yyyy-mm-dd or yyyy-mm-ddThh:mm (UTC); default now.")
        var when: String?

        @Option(name: .customLong("where"), help: "Where it happened (room, site, online service).")
        var location: String?

        @Option(help: "Who was involved.")
        var who: String?

        @Option(help: "An enrolled device involved (its id from `rollcall devices list`).")
        var device: String?

        @Option(help: "Action taken, repeatable: \(IncidentAction.allCases.map(\.rawValue).joined(separator: ", ")).")
        var action: [IncidentAction] = []

        @Option(help: "The outcome, if known already.")
        var outcome: String?

        func run() async throws {
            guard category != .usbStorage else { throw ValidationError("usb-unapproved incidents are opened by the controller from agents' events.") }
            let occurred = try when.map(Incidents.parseTime) ?? Date()
            let new = NewIncident(category: category, occurredAt: occurred, reportedBy: reportedBy, location: location, involved: who,
                                  description: description, deviceID: device, actions: action, outcome: outcome)
            let incident = try await options.withStore(try options.load()) { try await $0.addIncident(new) }
            print("Logged incident \(incident.id) (\(category.label)).")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record actions taken and the outcome; close or reopen. Every change is audited.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The incident's number.")
        var id: Int

        @Option(help: "Add an action taken, repeatable: \(IncidentAction.allCases.map(\.rawValue).joined(separator: ", ")).")
        var action: [IncidentAction] = []

        @Option(help: "Remove an action recorded by mistake, repeatable.")
        var removeAction: [IncidentAction] = []

        @Option(help: "The outcome.")
        var outcome: String?

        @Option(name: .customLong("where"), help: "Where it happened.")
        var location: String?

        @Option(help: "Who was involved.")
        var who: String?

        @Flag(help: "Close it (needs an outcome).")
        var close = false

        @Flag(help: "Reopen it.")
        var reopen = false

        func run() async throws {
            guard !(close && reopen) else { throw ValidationError("--close and --reopen together: choose one.") }
            let update = IncidentUpdate(addActions: action, removeActions: removeAction, outcome: outcome, location: location, involved: who,
                                        status: close ? .closed : reopen ? .open : nil)
            let incident = try await options.withStore(try options.load()) { try await $0.updateIncident(id: id, update) }
            print("Incident \(incident.id): \(incident.status.rawValue); action taken: "
                  + (incident.actions.isEmpty ? "none yet" : incident.actions.map(\.label).joined(separator: "; ")) + "; outcome: \(incident.outcome ?? "not yet").")
        }
    }

    /// `2026-11-20` or `2026-11-20T10:15` (UTC).
    static func parseTime(_ text: String) throws -> Date {
        for format in ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_GB_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        throw ValidationError("'\(text)' is not a time: yyyy-mm-dd or yyyy-mm-ddThh:mm")
    }
}
