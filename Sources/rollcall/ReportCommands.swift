public import ArgumentParser
import Foundation
public import RollcallController

extension EstateSections.Section: ExpressibleByArgument {}
extension ComplianceReport.Format: ExpressibleByArgument {}
extension GovernorsReport.Format: ExpressibleByArgument {}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The compliance report (every section) and the governors' anonymised report.",
        subcommands: [Compliance.self, Governors.self], defaultSubcommand: Compliance.self)

    struct Compliance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the compliance report: the overview, then devices, USB storage, accounts, offboarding, equipment, licences and incidents.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: html (printable, a section per page), csv or json.")
        var format: ComplianceReport.Format = .html

        @Option(name: .customLong("section"), help: "Only these sections (repeat the option): \(EstateSections.Section.allCases.map(\.rawValue).joined(separator: ", ")).")
        var sections: [EstateSections.Section] = []

        @Option(help: "Write to this file instead of standard output.")
        var output: String?

        func run() async throws {
            let configuration = try options.load()
            let wanted = sections.isEmpty ? ComplianceReport.defaultSections : sections
            let report = try await options.withStore(configuration) {
                try await ComplianceReport.gather(from: $0, configuration: configuration, sections: wanted)
            }
            let devices = report.overview.devices
            try write(try report.render(format), to: output,
                      what: "the \(format.rawValue) compliance report (\(report.sections.count) section(s), \(devices) device(s))")
        }
    }

    struct Governors: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the governors' report: counts and trends per term, no names, and no count under 5.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: html, csv or json.")
        var format: GovernorsReport.Format = .html

        @Option(help: "How many terms, the current one first (3 is a school year).")
        var terms: Int = 3

        @Option(help: "Write to this file instead of standard output.")
        var output: String?

        func validate() throws {
            guard (1...15).contains(terms) else { throw ValidationError("--terms must be between 1 and 15.") }
        }

        func run() async throws {
            let configuration = try options.load()
            let report = try await options.withStore(configuration) {
                try await GovernorsReport.gather(store: $0, configuration: configuration, terms: terms)
            }
            try write(try report.render(format), to: output, what: "the \(format.rawValue) governors' report (\(report.terms.count) term(s))")
        }
    }
}
