import ArgumentParser
import Foundation
import RollcallController
import RollcallProtocol

/// "90s", "15m", "24h", "7d": how long an enrolment token stays usable.
struct TokenLifetime: ExpressibleByArgument {
    let seconds: Int

    init?(argument: String) {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = argument.last.flatMap({ units[$0] }), let count = Int(argument.dropLast()), count > 0,
              count <= 365 * 86400 / unit else { return nil }
        seconds = count * unit
    }

    var defaultValueDescription: String { "24h" }
}

struct EnrolToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enrol-token", abstract: "One-time secrets that let new workstations enrol.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new enrolment token. It is shown once: the store keeps only its hash.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "How many workstations may enrol with it (a whole ICT suite: the number of PCs).")
        var uses = 1

        @Option(help: "How long it stays usable: 90m, 24h, 7d.")
        var expires = TokenLifetime(argument: "24h")!

        @Option(help: "Output format: table or json.")
        var format: ListFormat = .table

        func validate() throws {
            guard (1...10_000).contains(uses) else { throw ValidationError("--uses must be from 1 to 10000.") }
        }

        func run() async throws {
            let configuration = try options.load()
            let now = Date()
            let issued = try await options.withStore(configuration) { store in
                try await store.createEnrolmentToken(uses: uses, expiresAt: now.addingTimeInterval(TimeInterval(expires.seconds)), now: now)
            }
            let fingerprint = configuration.tls.plainHTTP ? nil : (try? ControllerCertificate.load(configuration))?.fingerprint
            switch format {
            case .json:
                struct Output: Encodable {
                    var id: String, token: String, uses: Int, expiresAt: Date, fingerprint: String?
                }
                let output = Output(id: issued.token.id, token: issued.secret, uses: uses, expiresAt: issued.token.expiresAt, fingerprint: fingerprint)
                print(String(decoding: try RollcallJSON.encoder(pretty: true).encode(output), as: UTF8.self))
            case .table, .csv:
                print(issued.secret)
                var note = "Token \(issued.token.id): \(uses) use\(uses == 1 ? "" : "s"), expires \(issued.token.expiresAt.formatted(.iso8601)). "
                note += "It is shown only now; the controller keeps its hash.\n"
                let scheme = configuration.tls.plainHTTP ? "http" : "https"
                note += "Enrol a workstation with:\n  rollcall-agent enrol \(scheme)://CONTROLLER:\(configuration.port) --token \(issued.secret)"
                if let fingerprint { note += " --fingerprint \(fingerprint)" }
                FileHandle.standardError.write(Data((note + "\n").utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List enrolment tokens (never their secrets).")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let tokens = try await options.withStore(try options.load()) { try await $0.enrolmentTokens() }
            let now = Date()
            let rows = tokens.map { token in
                [token.id, token.state(at: now).rawValue, "\(token.uses)/\(token.usesAllowed)",
                 token.createdAt.formatted(Date.ISO8601FormatStyle()), token.expiresAt.formatted(Date.ISO8601FormatStyle())]
            }
            try emit(format, headers: ["ID", "STATE", "USED", "CREATED", "EXPIRES"], rows: rows, json: tokens, empty: "No enrolment tokens.")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a token enrolling anything more (devices it enrolled stay).")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The token's id, from `rollcall enrol-token list`.")
        var id: String

        func run() async throws {
            let found = try await options.withStore(try options.load()) { try await $0.revokeEnrolmentToken(id: id) }
            guard found else { throw ValidationError("No enrolment token \(id); `rollcall enrol-token list` shows them.") }
            print("Enrolment token \(id) revoked.")
        }
    }
}
