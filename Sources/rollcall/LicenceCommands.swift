public import ArgumentParser
import Foundation
public import RollcallController

extension LicenceReport.Format: ExpressibleByArgument {}

struct Licences: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The licence register, reconciled against the software agents report.",
        subcommands: [Import.self, List.self, Reconcile.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the register exactly this CSV: product, vendor, licence type, seats, expiry, reference, match, versions.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The register. Match: package globs or /regex/, ';'-separated, with snap: or flatpak: for those sources.")
        var file: String

        @Option(help: "Read as this encoding instead of detecting it.")
        var encoding: TextEncoding?

        @Flag(help: "Check the file and say what would change, without changing anything.")
        var dryRun = false

        func run() async throws {
            let configuration = try options.load()
            let job = LicenceImport(path: file, encoding: encoding, dryRun: dryRun)
            let summary = try await runImport(options, configuration) { try await job.run(into: $0) }
            print((dryRun ? "Would import" : "Imported") + " \(summary.rows) licence(s) for \(summary.products) product(s) from \(file) "
                  + "(\(summary.encoding.rawValue)): \(summary.added) added, \(summary.changed) changed, \(summary.unchanged) unchanged, "
                  + "\(summary.removed) removed (no longer in the file)." + (dryRun ? " Nothing was changed." : ""))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The register as imported.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let licences = try await options.withStore(try options.load()) { try await $0.licences() }
            let rows = licences.map {
                [$0.product, $0.vendor ?? "-", $0.kind.rawValue, $0.seats.map(String.init) ?? "unlimited", $0.expires?.iso ?? "-",
                 $0.reference ?? "-", $0.match + ($0.versions.map { " [\($0)]" } ?? "")]
            }
            try emit(format, headers: ["PRODUCT", "VENDOR", "TYPE", "SEATS", "EXPIRES", "REFERENCE", "MATCH"], rows: rows, json: licences,
                     empty: "No licences on the register: `rollcall licences import FILE` brings the school's in.")
        }
    }

    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per product: seats in force, installations (or users), short or spare, expiring soon; unlicensed commercial software.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv, json or html.")
        var format: LicenceReport.Format = .table

        @Flag(help: "List every machine behind each number (CSV: one row per product and machine).")
        var detail = false

        @Option(help: "Warn of purchases expiring within this many days.")
        var expiringWithin = 60

        @Option(help: "Write to this file instead of standard output.")
        var output: String?

        @Flag(help: "Exit with status 3 when a product is short of seats or has only expired seats (for a monitoring check).")
        var failOnShortfall = false

        func run() async throws {
            guard expiringWithin >= 0 else { throw ValidationError("--expiring-within takes a number of days, 0 or more") }
            let reconciliation = try await options.withStore(try options.load()) { store in
                try await LicenceReconciliation.run(store: store, expiryWarningDays: expiringWithin)
            }
            try write(try LicenceReport(reconciliation).render(format, detail: detail), to: output, what: "the licence reconciliation")
            if failOnShortfall, reconciliation.products.contains(where: { !$0.inOrder }) { throw ExitCode(3) }
        }
    }
}
