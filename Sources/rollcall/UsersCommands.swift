public import ArgumentParser
import Foundation
public import RollcallController

extension DashboardRole: ExpressibleByArgument {}

/// Reads a new password from standard input (one line): never from the command line, where `ps` and the shell's
/// history would keep it.
func readNewPassword() throws -> String {
    if isatty(STDIN_FILENO) != 0 { FileHandle.standardError.write(Data("New password: ".utf8)) }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("No password on standard input: type it, or pipe it in (`printf '%s\\n' \"$PASSWORD\" | rollcall users add ...`).")
    }
    if let weakness = PasswordHash.weakness(of: line) { throw ValidationError("Password refused: \(weakness).") }
    return line
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The dashboard's local accounts, roles and API tokens.",
        discussion: """
            Roles: technician (everything), e-safety-officer (incidents and reports), governor (the anonymised report only), \
            read-only (every page, no changes). Staff can also sign in with their directory password when [dashboard] \
            ldap_sign_in is on, their role coming from the *_groups settings.
            """,
        subcommands: [Add.self, List.self, SetRole.self, Password.self, Remove.self, Unlock.self, Token.self], defaultSubcommand: List.self)

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a local dashboard account; the password is read from standard input.")
        @OptionGroup var options: ControllerOptions
        @Argument(help: "The user name to sign in with.") var name: String
        @Option(help: "technician, e-safety-officer, governor or read-only.") var role: DashboardRole

        func validate() throws {
            guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) }) else {
                throw ValidationError("A user name is 1 to 64 letters, digits and . _ - @.")
            }
        }

        func run() async throws {
            let hash = try PasswordHash.make(try readNewPassword())
            try await options.withStore(try options.load()) { try await $0.addDashboardUser(name: name, role: role, passwordHash: hash) }
            print("Added \(name) (\(role.label)). They sign in at the dashboard's /login.")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the local dashboard accounts.")
        @OptionGroup var options: ControllerOptions
        @Option(help: "Output format: table, csv or json.") var format: ListFormat = .table

        func run() async throws {
            let users = try await options.withStore(try options.load()) { try await $0.dashboardUsers() }
            let rows = users.map { user in
                [user.name, user.role.rawValue, user.createdAt.formatted(Date.ISO8601FormatStyle()),
                 user.passwordChangedAt.formatted(Date.ISO8601FormatStyle()), user.lockedUntil.map { "until " + $0.formatted(Date.ISO8601FormatStyle()) } ?? "no"]
            }
            try emit(format, headers: ["NAME", "ROLE", "CREATED", "PASSWORD SET", "LOCKED"], rows: rows, json: users,
                     empty: "No local dashboard users: `rollcall users add NAME --role technician`.")
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "role", abstract: "Change a local user's role; their sessions end.")
        @OptionGroup var options: ControllerOptions
        @Argument var name: String
        @Option(help: "technician, e-safety-officer, governor or read-only.") var role: DashboardRole

        func run() async throws {
            try await options.withStore(try options.load()) { try await $0.updateDashboardUser(name: name, role: role) }
            print("\(name) is now \(role.label); their sessions and API tokens have ended.")
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a local user's password from standard input; their sessions end and any lockout lifts.")
        @OptionGroup var options: ControllerOptions
        @Argument var name: String

        func run() async throws {
            let hash = try PasswordHash.make(try readNewPassword())
            try await options.withStore(try options.load()) { try await $0.updateDashboardUser(name: name, passwordHash: hash) }
            print("Password set for \(name).")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a local user with their sessions and API tokens.")
        @OptionGroup var options: ControllerOptions
        @Argument var name: String

        func run() async throws {
            try await options.withStore(try options.load()) { try await $0.removeDashboardUser(name: name) }
            print("Removed \(name).")
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a lockout after repeated wrong passwords (local or directory name).")
        @OptionGroup var options: ControllerOptions
        @Argument var name: String

        func run() async throws {
            let lifted = try await options.withStore(try options.load()) { try await $0.unlockDashboardUser(name) }
            print(lifted ? "\(name) can sign in again." : "\(name) was not locked out.")
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an API token for a local user, for scripts: `Authorization: Bearer TOKEN`. It has the user's role and is shown once.")
        @OptionGroup var options: ControllerOptions
        @Argument var name: String
        @Option(help: "What the token is for, shown in the audit log.") var label: String = "script"
        @Option(help: "Days until it expires.") var days: Int = 90

        func validate() throws {
            guard (1...730).contains(days) else { throw ValidationError("--days must be between 1 and 730.") }
        }

        func run() async throws {
            let issued = try await options.withStore(try options.load()) { try await $0.createAPIToken(user: name, label: label, days: days) }
            print(issued.secret)
            FileHandle.standardError.write(Data("API token for \(name) (\(issued.session.role.label)), expires \(issued.session.expiresAt.formatted(Date.ISO8601FormatStyle())). It is not stored: keep it now.\n".utf8))
        }
    }
}
