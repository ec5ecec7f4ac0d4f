import ArgumentParser
import Foundation
import Logging
import RollcallController
import RollcallProtocol

extension ControllerOptions {
    func directory(_ configuration: ControllerConfiguration) throws -> DirectoryConfiguration {
        guard let directory = configuration.directory else { throw DirectoryError.notConfigured(config) }
        return directory
    }
}

/// Writes a line to standard output at once, so progress is visible (and a watcher sees it) as it happens.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Prints rows in the chosen format; `json` is the full value for scripts.
func emit<Value: Encodable>(_ format: ListFormat, headers: [String], rows: [[String]], json: Value, empty: String) throws {
    switch format {
    case .json:
        print(String(decoding: try RollcallJSON.encoder(pretty: true).encode(json), as: UTF8.self))
    case .csv:
        print(CSVWriter.row(headers.map { $0.lowercased().replacingOccurrences(of: " ", with: "_") }), terminator: "\r\n")
        for row in rows { print(CSVWriter.row(row), terminator: "\r\n") }
    case .table:
        if rows.isEmpty { print(empty) } else { print(TextTable.render(headers: headers, rows: rows), terminator: "") }
    }
}

func day(_ date: Date?) -> String {
    date.map { String($0.formatted(Date.ISO8601FormatStyle()).prefix(10)) } ?? "-"
}

struct Directory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The school's LDAP directory.", subcommands: [Sync.self])

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read staff, pupils and groups from the directory into the store.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table or json.")
        var format: ListFormat = .table

        @Flag(help: "Read everything even when the directory says nothing changed since the last sync.")
        var full = false

        func run() async throws {
            let configuration = try options.load()
            let directory = try options.directory(configuration)
            let summary = try await options.withStore(configuration) { store in
                try await DirectorySync(configuration: directory, protectedGroups: configuration.accounts.protectedGroups, logger: makeLogger("rollcall"))
                    .run(into: store, full: full)
            }
            if format == .json {
                print(String(decoding: try RollcallJSON.encoder(pretty: true).encode(summary), as: UTF8.self))
                return
            }
            if summary.skippedUnchanged {
                print("The directory at \(summary.url) has not changed since the last sync (\(directory.kind == .activeDirectory ? "highestCommittedUSN" : "contextCSN")); "
                      + "\(summary.accountsRead) account(s) as before. --full reads it anyway.")
                return
            }
            print("Synced \(summary.accountsRead) account(s) from \(summary.url) in \(String(format: "%.2f", summary.seconds)) s: "
                  + "\(summary.added) new, \(summary.changed) changed, \(summary.unchanged) unchanged, \(summary.removed) removed; "
                  + "\(summary.groups) group(s), \(summary.memberships) membership(s).")
            if !summary.lastBindTracked {
                print("Note: no account has a last log-on time; stale accounts cannot be found until the directory records binds.")
            }
        }
    }
}

struct Accounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Zombie, orphan and stale accounts.", subcommands: [PlanAccounts.self])

    struct PlanAccounts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan", abstract: "Store a plan that disables leavers', orphan and stale accounts, and show it.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Leavers' join keys, one per line (overrides accounts.leavers_file).")
        var leavers: String?

        @Option(help: "Everyone current, one join key per line (overrides accounts.roster_file).")
        var roster: String?

        @Flag(help: "Plan accounts for new starters in the HR imports instead (random temporary passwords, changed at next log-on).")
        var joiners = false

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            let directory = try options.directory(configuration)
            if joiners {
                try await options.withStore(configuration) { store in
                    guard try await store.lastDirectorySync() != nil else { throw DirectoryError.neverSynced }
                    guard try await !store.hrImports().isEmpty else {
                        throw ValidationError("No HR import yet: joiners come from `rollcall hr import FILE --kind staff|pupils`.")
                    }
                    let accounts = try await store.directoryAccounts()
                    let planner = JoinersPlanner(policy: configuration.joiners, directory: directory, protectedUIDs: configuration.accounts.protectedUIDs)
                    let (items, notes) = planner.plan(people: try await store.people(status: .current), accounts: accounts)
                    try await storeAndShow(kind: .joiners, items: items, notes: notes, accounts: accounts.count, configuration: configuration,
                                           store: store, format: format)
                }
                return
            }
            let leaversFile = try leavers.map(KeyListFile.load)
            let rosterFile = try roster.map(KeyListFile.load)
            try await options.withStore(configuration) { store in
                guard let sync = try await store.lastDirectorySync() else { throw DirectoryError.neverSynced }
                let accounts = try await store.directoryAccounts()
                let sources = try await store.leaverSources(policy: configuration.accounts, leavers: leaversFile, roster: rosterFile)
                let notes = sources.notes
                let planner = sources.planner(policy: configuration.accounts, lastBindTracked: sync.lastBindTracked)
                let (items, planNotes, _) = planner.plan(accounts)
                try await storeAndShow(kind: .accounts, items: items, notes: notes + planNotes, accounts: accounts.count, configuration: configuration,
                                       store: store, format: format)
            }
        }
    }
}

/// Stores a plan with items (an empty one is only reported) and prints it.
func storeAndShow(kind: Plan.Kind, items: [PlanItem], notes: [String], accounts: Int, configuration: ControllerConfiguration,
                  store: ControllerStore, format: ListFormat) async throws {
    let threshold = configuration.accounts.massChangeThreshold(totalAccounts: accounts)
    guard !items.isEmpty else {
        if format == .json {
            print("{\"items\": [], \"notes\": \(String(decoding: try JSONEncoder().encode(notes), as: UTF8.self))}")
        } else {
            print("Nothing to change among \(accounts) account(s); no plan stored.")
            for note in notes { print("  - \(note)") }
        }
        return
    }
    let plan = try await store.createPlan(kind: kind, items: items, notes: notes, totalAccounts: accounts, threshold: threshold)
    try show(plan, format: format)
    if format == .table {
        print("")
        print("Stored as plan \(plan.id). Nothing has changed in the directory yet: apply it with `rollcall plan apply \(plan.id)`.")
    }
}

func show(_ plan: Plan, format: ListFormat) throws {
    let rows = plan.items.map { item in
        [String(item.position), item.action.rawValue, item.uid ?? "-", item.kind.rawValue, item.reason.rawValue, item.detail,
         item.status.rawValue + (item.outcome.map { ": \($0)" } ?? ""), item.currentDN ?? item.dn]
    }
    if format == .table {
        print("Plan \(plan.id) (\(plan.kind.rawValue)), made \(plan.createdAt.formatted(Date.ISO8601FormatStyle())) by \(plan.createdBy): \(plan.status.rawValue)")
        print("\(plan.items.count) change(s) among \(plan.totalAccounts) account(s); mass-change threshold \(plan.threshold)"
              + (plan.exceedsThreshold ? " — EXCEEDED: applying needs --accept-mass-change" : ""))
        for note in plan.notes { print("  - \(note)") }
        print("")
    }
    try emit(format, headers: ["#", "ACTION", "UID", "KIND", "REASON", "DETAIL", "STATUS", "DN"], rows: rows, json: plan, empty: "No items.")
}

struct Passwords: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Six-month password rotation.", subcommands: [AuditPasswords.self, PlanPasswords.self])

    struct AuditPasswords: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit", abstract: "Check the directory's password policy against the school's and list overdue passwords.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            let directory = try options.directory(configuration)
            let connection = try await DirectoryConnector(configuration: directory).connect()
            let policyFindings = try await directory.passwordPolicyFindings(connection, school: configuration.passwords)
            try await options.withStore(configuration) { store in
                guard try await store.lastDirectorySync() != nil else { throw DirectoryError.neverSynced }
                let audit = PasswordAudit(findings: policyFindings, accounts: try await store.directoryAccounts(), school: configuration.passwords,
                                          protection: ProtectedAccounts(configuration.accounts))
                switch format {
                case .json:
                    print(String(decoding: try RollcallJSON.encoder(pretty: true).encode(audit), as: UTF8.self))
                case .csv:
                    print(CSVWriter.row(["section", "subject", "severity_or_reason", "detail"]), terminator: "\r\n")
                    for finding in audit.findings { print(CSVWriter.row(["policy", finding.policy, finding.severity.rawValue, finding.message]), terminator: "\r\n") }
                    for account in audit.overdue {
                        print(CSVWriter.row(["account", account.dn, account.reason.rawValue, account.ageDays.map { "\($0) days" } ?? "never changed"]), terminator: "\r\n")
                    }
                case .table:
                    print("Password policy (school: changed at least every \(configuration.passwords.maxAgeDays) days, at least \(configuration.passwords.minLength) characters, checked, changed after reset):")
                    if audit.findings.isEmpty {
                        print(directory.kind == .activeDirectory ? "  The domain's policy and every fine-grained policy meet it." : "  Every pwdPolicy entry meets it.")
                    } else {
                        print(TextTable.render(headers: ["POLICY", "SEVERITY", "FINDING"], rows: audit.findings.map { [$0.policy, $0.severity.rawValue, $0.message] }), terminator: "")
                    }
                    print("")
                    let scope = configuration.passwords.appliesTo.map(\.rawValue).joined(separator: " and ")
                    print("Passwords due (\(scope), \(audit.checkedAccounts) account(s) checked; protected and disabled accounts left out): \(audit.overdue.count)")
                    if !audit.overdue.isEmpty {
                        print(TextTable.render(headers: ["UID", "KIND", "REASON", "LAST CHANGED", "AGE (DAYS)", "DN"], rows: audit.overdue.map {
                            [$0.uid ?? "-", $0.kind.rawValue, $0.reason.rawValue, day($0.passwordChangedAt), $0.ageDays.map(String.init) ?? "-", $0.dn]
                        }), terminator: "")
                    }
                    if !audit.awaitingChange.isEmpty {
                        print("Already told to change at next log-on: " + audit.awaitingChange.joined(separator: ", "))
                    }
                    if !audit.overdue.isEmpty { print("\n`rollcall passwords plan` stores a plan forcing these to change at next log-on.") }
                }
            }
        }
    }

    struct PlanPasswords: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan", abstract: "Store a plan forcing a password change at next log-on for overdue accounts.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            _ = try options.directory(configuration)
            try await options.withStore(configuration) { store in
                guard try await store.lastDirectorySync() != nil else { throw DirectoryError.neverSynced }
                let accounts = try await store.directoryAccounts()
                let audit = PasswordAudit(policies: [], accounts: accounts, school: configuration.passwords, protection: ProtectedAccounts(configuration.accounts))
                let notes = ["Scope: \(configuration.passwords.appliesTo.map(\.rawValue).joined(separator: " and ")) accounts not protected or disabled; "
                             + "password older than \(configuration.passwords.maxAgeDays) days or never changed."]
                    + (audit.awaitingChange.isEmpty ? [] : ["Already told to change at next log-on: " + audit.awaitingChange.joined(separator: ", ") + "."])
                try await storeAndShow(kind: .passwords, items: audit.planItems, notes: notes, accounts: accounts.count,
                                       configuration: configuration, store: store, format: format)
            }
        }
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Review and apply stored plans: every directory change goes through one.",
        subcommands: [List.self, Show.self, Apply.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every plan, newest first.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            try await options.withStore(configuration) { store in
                let plans = try await store.plans()
                let rows = plans.map { plan in
                    [String(plan.id), plan.kind.rawValue, plan.createdAt.formatted(Date.ISO8601FormatStyle()), plan.createdBy, plan.status.rawValue,
                     String(plan.items.count), String(plan.threshold), String(plan.items.filter { $0.status == .done }.count),
                     String(plan.items.filter { $0.status == .failed }.count)]
                }
                try emit(format, headers: ["ID", "KIND", "CREATED", "BY", "STATUS", "ITEMS", "THRESHOLD", "DONE", "FAILED"], rows: rows, json: plans,
                         empty: "No plans yet: `rollcall accounts plan` or `rollcall passwords plan` makes one.")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One plan with every item, its reason and its outcome.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The plan's id.")
        var id: Int

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            try await options.withStore(configuration) { store in
                guard let plan = try await store.plan(id: id) else { throw PlanError.notFound(id) }
                try show(plan, format: format)
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Carry out a plan against the directory; safe to run again after an interruption.")

        @OptionGroup var options: ControllerOptions

        @Argument(help: "The plan's id.")
        var id: Int

        @Flag(help: "Apply even though the plan changes more accounts than the mass-change threshold.")
        var acceptMassChange = false

        @Option(help: "For a joiners plan: the new file (mode 0600) the temporary passwords are written to, as CSV for a mail merge. Default: joiners-plan-ID-passwords.csv here.")
        var passwordsFile: String?

        func run() async throws {
            let configuration = try options.load()
            let directory = try options.directory(configuration)
            try await options.withStore(configuration) { store in
                guard let plan = try await store.plan(id: id) else { throw PlanError.notFound(id) }
                guard plan.status != .applied else { throw PlanError.alreadyApplied(id) }
                var passwords: PasswordsFile?
                if plan.items.contains(where: { $0.action == .create && $0.status != .done && $0.status != .skipped }) {
                    do {
                        passwords = try PasswordsFile(path: passwordsFile ?? "joiners-plan-\(id)-passwords.csv")
                    } catch {
                        throw ValidationError("Nothing was changed: the temporary passwords cannot go to \(error)")
                    }
                }
                let applier = PlanApplier(directory: directory, policy: configuration.accounts, acceptMassChange: acceptMassChange,
                                          passwords: passwords, passwordLength: max(configuration.joiners.passwordLength, configuration.passwords.minLength),
                                          logger: journalLogger())
                say("Applying plan \(id) (\(plan.kind.rawValue), \(plan.items.count) item(s)) to \(directory.url)")
                let outcome = try await applier.apply(plan, store: store, progress: say)
                say("Plan \(id): \(outcome.done) done, \(outcome.alreadyInEffect) already in effect, \(outcome.skipped) skipped, "
                    + "\(outcome.failed) failed" + (outcome.previouslyDone > 0 ? ", \(outcome.previouslyDone) done by an earlier run" : "") + ".")
                if let passwords, passwords.written > 0 {
                    say("\(passwords.written) temporary password(s) are in \(passwords.path) (mode 0600; nowhere else). Hand them over, then delete the file.")
                }
                if outcome.failed > 0 { throw ExitCode(2) }
            }
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The append-only, hash-chained audit log.", subcommands: [Verify.self, List.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check every row's hash and link; exit 1 at the first break.")

        @OptionGroup var options: ControllerOptions

        func run() async throws {
            let configuration = try options.load()
            try await options.withStore(configuration) { store in
                let result = try await store.verifyAuditLog()
                if let problem = result.firstBreak {
                    print("Audit log BROKEN at row \(problem.seq) of \(result.rows): \(problem.problem).")
                    throw ExitCode(1)
                }
                print("Audit log intact: \(result.rows) row(s), every hash and link verified.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every audit row, oldest first.")

        @OptionGroup var options: ControllerOptions

        @Option(help: "Output format: table, csv or json.")
        var format: ListFormat = .table

        func run() async throws {
            let configuration = try options.load()
            try await options.withStore(configuration) { store in
                let entries = try await store.auditEntries()
                let rows = entries.map { [String($0.seq), $0.at.formatted(Date.ISO8601FormatStyle()), $0.actor, $0.action, $0.target, $0.detail] }
                try emit(format, headers: ["SEQ", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL"], rows: rows, json: entries, empty: "The audit log is empty.")
            }
        }
    }
}
