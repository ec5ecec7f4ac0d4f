public import ArgumentParser
import Foundation
import RollcallController
import RollcallProtocol

extension AccountKind: ExpressibleByArgument {}
extension HRPreset: ExpressibleByArgument {}
extension TextEncoding: ExpressibleByArgument {}
extension Person.Status: ExpressibleByArgument {}
extension OffboardingChecklist.Format: ExpressibleByArgument {}

/// Runs an import; its refusal (every bad row, or the guard's numbers) goes to standard error and exits 1.
func runImport<Summary: Sendable>(_ options: ControllerOptions, _ configuration: ControllerConfiguration,
                                  _ body: @escaping (ControllerStore) async throws -> Summary) async throws -> Summary {
    do {
        return try await options.withStore(configuration, body)
    } catch let error as ImportError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(1)
    }
}

/// Writes `text` to `output`, or to standard output.
func write(_ text: String, to output: String?, what: String) throws {
    guard let output else {
        print(text, terminator: "")
        return
    }
    do {
        try text.write(toFile: output, atomically: true, encoding: .utf8)
    } catch {
        throw ValidationError("Cannot write \(output): \(error.localizedDescription)")
    }
    FileHandle.standardError.write(Data("Wrote \(what) to \(output)\n".utf8))
}

struct HR: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hr", abstract: "The school office's MIS exports: who is here, who joined, who left.",
        subcommands: [Import.self, People.self, History.self, Imports.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a staff or pupil export (CSV); all rows or none, every bad row listed as FILE:LINE:COLUMN.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The export, as the MIS wrote it (UTF-8 with or without BOM, Windows-1252 or UTF-16).")
        var file: String

        @Option(help: "Whose export it is: staff or pupils.")
        var kind: AccountKind

        @Option(help: "Column names of this MIS: sims, arbor, bromcom, or generic ([hr.columns] in the config).")
        var preset: HRPreset = .generic

        @Option(help: "Read as this encoding instead of detecting it: utf-8, windows-1252, utf-16le, utf-16be.")
        var encoding: TextEncoding?

        @Option(help: "Accept this many leavers at once, over the truncation guard (the number the refusal gives).")
        var acceptLeavers: Int?

        @Flag(help: "Show what would change, and change nothing.")
        var dryRun = false

        @Option(help: "Output format: table or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            let job = HRImport(path: file, kind: kind, preset: preset, encoding: encoding, columnOverrides: configuration.hr.columns,
                               guardPolicy: configuration.hr, acceptLeavers: acceptLeavers, dryRun: dryRun)
            let summary = try await runImport(options, configuration) { try await job.run(into: $0) }
            if format == .json {
                print(String(decoding: try RollcallJSON.encoder(pretty: true).encode(summary), as: UTF8.self))
                return
            }
            print((dryRun ? "Dry run (nothing kept): " : "Imported ") + "\(summary.rows) \(kind.rawValue) row(s) from \(file) "
                  + "(\(summary.encoding.rawValue)\(summary.byteOrderMark ? " with BOM" : ""), preset \(preset.rawValue))"
                  + (dryRun ? "" : " as import \(summary.importID)") + ": \(summary.counts).")
            for (title, changes) in [("Joined", summary.joined), ("Left", summary.left), ("Rejoined", summary.rejoined), ("Changed", summary.changed)]
            where changes.count > 0 {
                print("\(title) (\(changes.count)):")
                for change in changes.first { print("  \(change.joinKey)  \(change.name): \(change.detail)") }
                if changes.count > changes.first.count { print("  ... and \(changes.count - changes.first.count) more (--format json, or `rollcall hr people`)") }
            }
            if summary.left.count > 0, !dryRun { print("\n`rollcall offboard plan` plans the leavers' accounts, equipment and licences.") }
        }
    }

    struct People: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everyone the HR imports know, current and left.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Only staff or pupils.")
        var kind: AccountKind?

        @Option(help: "Only current or left.")
        var status: Person.Status?

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let people = try await options.withStore(try options.load()) { try await $0.people(kind: kind, status: status) }
            let rows = people.map { person in
                [person.joinKey, person.name, person.kind.rawValue, person.role ?? "-", person.email ?? "-", person.startDate?.uk ?? "-",
                 person.leavingPhrase, person.offboarding?.rawValue ?? "-"]
            }
            try emit(format, headers: ["JOIN KEY", "NAME", "KIND", "ROLE", "EMAIL", "START", "STATUS", "OFFBOARDING"], rows: rows, json: people,
                     empty: "Nobody yet: `rollcall hr import FILE --kind staff` brings the school office's export in.")
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One person's history: joined, changed, left, offboarded, and which import said so.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The join key (payroll number, UPN).")
        var key: String

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let events = try await options.withStore(try options.load()) { try await $0.history(of: key) }
            let rows = events.map { [$0.at.formatted(Date.ISO8601FormatStyle()), $0.event, $0.detail, $0.importID.map { "import \($0)" } ?? "-", $0.file ?? "-"] }
            try emit(format, headers: ["AT", "EVENT", "DETAIL", "IMPORT", "FILE"], rows: rows, json: events, empty: "No history for \(key).")
        }
    }

    struct Imports: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every HR import, newest first.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let imports = try await options.withStore(try options.load()) { try await $0.hrImports() }
            let rows = imports.map {
                [String($0.id), $0.importedAt.formatted(Date.ISO8601FormatStyle()), $0.importedBy, $0.kind.rawValue, $0.file, $0.encoding, String($0.rows),
                 String($0.joined), String($0.left), String($0.rejoined), String($0.changed), String($0.sha256.prefix(16))]
            }
            try emit(format, headers: ["ID", "AT", "BY", "KIND", "FILE", "ENCODING", "ROWS", "JOINED", "LEFT", "REJOINED", "CHANGED", "SHA-256"],
                     rows: rows, json: imports, empty: "No HR import yet.")
        }
    }
}

struct Equipment: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The register of IT equipment: serial numbers, who has what, retirement and disposal.",
        subcommands: [Import.self, List.self, Return.self, Retire.self, Dispose.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or update entries from the bursar's register (CSV), matched by asset tag.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The register: asset tag, serial, make, model, type, purchase date, cost, location, assigned to.")
        var file: String

        @Option(help: "Read as this encoding instead of detecting it.")
        var encoding: TextEncoding?

        func run() async throws {
            let configuration = try options.load()
            let job = EquipmentImport(path: file, encoding: encoding)
            let summary = try await runImport(options, configuration) { try await job.run(into: $0) }
            print("Imported \(summary.rows) entr\(summary.rows == 1 ? "y" : "ies") from \(file) (\(summary.encoding.rawValue)): \(summary.added) added, "
                  + "\(summary.changed) changed, \(summary.unchanged) unchanged"
                  + (summary.notInFile > 0 ? "; \(summary.notInFile) on the register but not in this file, kept as they were" : "") + ".")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The register with who has each item, the device an agent reported for it, and its lifecycle stage.")

        @OptionGroup var options: ControllerOptions

        @Flag(help: "List the devices agents report that are on no register entry instead.")
        var unregistered = false

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            if unregistered {
                let devices = try await options.withStore(configuration) { try await $0.unregisteredDevices() }
                let rows = devices.map { [$0.hostname ?? "-", $0.serial ?? "-", [$0.vendor, $0.model].compactMap { $0 }.joined(separator: " "), $0.id,
                                          $0.lastSeen.formatted(Date.ISO8601FormatStyle())] }
                try emit(format, headers: ["HOSTNAME", "SERIAL", "MODEL", "DEVICE ID", "LAST SEEN"], rows: rows, json: devices,
                         empty: "Every reporting device matches a register entry.")
                return
            }
            let (entries, unknown) = try await options.withStore(configuration) { store in
                (try await store.equipment(policy: configuration.equipment), try await store.unregisteredDevices())
            }
            let rows = entries.map { entry in
                [entry.assetTag, entry.serial ?? "-", entry.makeAndModel.isEmpty ? "-" : entry.makeAndModel, entry.type ?? "-", entry.location ?? "-",
                 entry.assignedTo.map { "\($0)\(entry.assignedName.map { " (\($0))" } ?? "")" } ?? "-", entry.lifecycle.rawValue,
                 entry.device.map { "\($0.hostname ?? $0.id) by \($0.matchedBy) serial, \(day($0.lastSeen))" } ?? "-"]
            }
            try emit(format, headers: ["ASSET TAG", "SERIAL", "MAKE AND MODEL", "TYPE", "LOCATION", "ISSUED TO", "STAGE", "REPORTED AS"], rows: rows,
                     json: entries, empty: "The register is empty: `rollcall equipment import FILE` brings the bursar's in.")
            if format == .table, !unknown.isEmpty {
                print("\n\(unknown.count) reporting device(s) on no register entry (`rollcall equipment list --unregistered`): "
                      + unknown.map { "\($0.hostname ?? $0.id) (serial \($0.serial ?? "none"))" }.joined(separator: ", "))
            }
        }
    }

    struct Return: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that an item came back (a leaver's laptop); it is then issued to nobody.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The asset tag.")
        var tag: String

        @Option(help: "A note for the audit log, e.g. the condition it came back in.")
        var note: String?

        func run() async throws {
            let change = try await options.withStore(try options.load()) { try await $0.returnEquipment(tag: tag, note: note) }
            print("Asset \(change.tag) returned by \(change.person ?? "-")."
                  + (change.personOffboarded ? " \(change.person ?? "") has nothing else outstanding: offboarded." : ""))
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take an item out of use (broken, replaced); dispose of it later.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The asset tag.")
        var tag: String

        @Option(help: "Why, for the register and the audit log.")
        var reason: String

        func run() async throws {
            let change = try await options.withStore(try options.load()) { try await $0.retireEquipment(tag: tag, reason: reason) }
            print("Asset \(change.tag) retired: \(reason).")
        }
    }

    struct Dispose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a retired item's disposal: the authorised agency, its receipt, and how and when the data was destroyed.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The asset tag.")
        var tag: String

        @Option(help: "The authorised (WEEE-licensed) company that took it.")
        var agency: String

        @Option(help: "Their receipt or certificate reference.")
        var receipt: String

        @Option(help: "How the data was destroyed, e.g. \"certified overwrite\" or \"disk shredded\".")
        var destructionMethod: String

        @Option(help: "When the data was destroyed (dd/mm/yyyy).")
        var destructionDate: String

        func run() async throws {
            guard let date = Day(uk: destructionDate) else {
                throw ValidationError("--destruction-date '\(destructionDate)' is not a date (dd/mm/yyyy or yyyy-mm-dd)")
            }
            let disposal = EquipmentEntry.Disposal(at: Date(), agency: agency, receipt: receipt, destructionMethod: destructionMethod, destructionDate: date)
            let change = try await options.withStore(try options.load()) { try await $0.disposeEquipment(tag: tag, disposal: disposal) }
            print("Asset \(change.tag) disposed of by \(agency) (receipt \(receipt)); data destroyed \(date.uk) by \(destructionMethod).")
        }
    }
}

struct Offboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leavers: accounts to disable, equipment to get back, licences to reclaim.", subcommands: [PlanOffboarding.self, Show.self])

    struct PlanOffboarding: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan", abstract: "Store one plan for every leaver whose leaving date has passed, and show it.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv, json, or html (the printable per-leaver checklist).")
        var format: OffboardingChecklist.Format = .table

        @Option(help: "Write to this file instead of standard output.")
        var output: String?

        func run() async throws {
            let configuration = try options.load()
            let text = try await options.withStore(configuration) { store -> String in
                guard try await !store.hrImports().isEmpty else {
                    throw ValidationError("No HR import yet: `rollcall hr import FILE --kind staff` brings the school office's export in.")
                }
                let accounts = try await store.directoryAccounts()
                let leavers = try await store.people(status: .left)
                let result = OffboardingPlanner(policy: configuration.accounts)
                    .plan(leavers: leavers, accounts: accounts, equipment: try await store.equipment(policy: configuration.equipment),
                          licences: try await LicenceReconciliation.run(store: store))
                guard !result.leavers.isEmpty else { return "No leavers to offboard: everyone who has left is offboarded.\n" }
                var notes = result.notes
                if try await store.lastDirectorySync() == nil {
                    notes.append("The directory has never been synced (`rollcall directory sync`): no accounts could be planned.")
                }
                let plan = try await store.createOffboardingPlan(.init(items: result.items, leavers: result.leavers, notes: notes),
                                                                 totalAccounts: accounts.count,
                                                                 threshold: configuration.accounts.massChangeThreshold(totalAccounts: accounts.count))
                guard let view = try await store.offboarding(planID: plan.id, equipmentPolicy: configuration.equipment) else { throw PlanError.notFound(plan.id) }
                var text = try OffboardingChecklist(view).render(format)
                if format == .table {
                    text += "\nStored as plan \(plan.id). `rollcall plan apply \(plan.id)` disables the accounts; "
                        + "`rollcall equipment return TAG` records each item handed back; `rollcall offboard show \(plan.id) --format html` prints the checklists.\n"
                }
                return text
            }
            try write(text, to: output, what: "the offboarding plan")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An offboarding plan as it stands now: what is done and what is still outstanding.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The plan's id (default: the newest offboarding plan).")
        var id: Int?

        @Option(help: "Output format: table, csv, json, or html (the printable per-leaver checklist).")
        var format: OffboardingChecklist.Format = .table

        @Option(help: "Write to this file instead of standard output.")
        var output: String?

        func run() async throws {
            let configuration = try options.load()
            let text = try await options.withStore(configuration) { store -> String in
                var planID = id
                if planID == nil { planID = try await store.latestOffboardingPlanID() }
                guard let planID else {
                    throw ValidationError("No offboarding plan yet: `rollcall offboard plan` makes one.")
                }
                guard let view = try await store.offboarding(planID: planID, equipmentPolicy: configuration.equipment) else {
                    throw ValidationError("Plan \(planID) is not an offboarding plan; `rollcall plan list` shows the plans.")
                }
                return try OffboardingChecklist(view).render(format)
            }
            try write(text, to: output, what: "the offboarding checklist")
        }
    }
}
