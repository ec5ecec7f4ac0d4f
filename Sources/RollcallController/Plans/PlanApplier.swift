public import Foundation
import LDAPKit
public import Logging

/// Carries out a stored plan against the directory: `rollcall plan apply ID`.
///
/// Safe to run again at any point: each item's state is read back from the directory before anything is written, so
/// a step that already took effect (for instance just before the process was killed) is recorded as such and never
/// written twice; items already done are skipped. Protection is checked again against the current configuration, and
/// a plan larger than its mass-change threshold is refused unless the technician accepts it.
public struct PlanApplier: Sendable {
    public var directory: DirectoryConfiguration
    public var policy: AccountsPolicy
    public var acceptMassChange: Bool
    /// Where a joiners plan's temporary passwords go; required for a plan that creates accounts.
    public var passwords: PasswordsFile?
    public var passwordLength: Int
    public var now: Date
    /// Hears one entry per item with `ctl.plan.id` and the DN, so the journal holds the same story as the audit log.
    public var logger: Logger

    public init(directory: DirectoryConfiguration, policy: AccountsPolicy, acceptMassChange: Bool, passwords: PasswordsFile? = nil,
                passwordLength: Int = 12, now: Date = Date(), logger: Logger = Logger(label: "rollcall", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.directory = directory
        self.policy = policy
        self.acceptMassChange = acceptMassChange
        self.passwords = passwords
        self.passwordLength = passwordLength
        self.now = now
        self.logger = logger
        self.logger[metadataKey: "ctl.directory.url"] = "\(directory.url)"
    }

    public struct Outcome: Sendable, Equatable {
        public var done = 0
        public var alreadyInEffect = 0
        public var skipped = 0
        public var failed = 0
        public var previouslyDone = 0
    }

    /// Applies `plan`; `progress` hears one line per item as it completes.
    public func apply(_ plan: Plan, store: ControllerStore, progress: @Sendable (String) -> Void = { _ in }) async throws -> Outcome {
        var logger = logger
        logger[metadataKey: "ctl.plan.id"] = "\(plan.id)"
        logger[metadataKey: "ctl.plan.kind"] = "\(plan.kind.rawValue)"
        if plan.exceedsThreshold, !acceptMassChange {
            logger.warning("Plan refused: larger than the mass-change threshold", metadata: [
                "ctl.plan.items": "\(plan.items.count)", "ctl.plan.threshold": "\(plan.threshold)",
            ])
            try await store.setPlanStatus(plan.id, plan.status, audit: ("plan.apply.refused",
                "\(plan.items.count) changes exceed the mass-change threshold of \(plan.threshold) (of \(plan.totalAccounts) accounts)"))
            throw PlanError.massChange(plan: plan.id, items: plan.items.count, threshold: plan.threshold, total: plan.totalAccounts)
        }
        let creates = plan.items.contains(where: { $0.action == .create && $0.status != .done && $0.status != .skipped })
        if creates, passwords == nil {
            throw PlanError.passwordsFileNeeded(plan.id)
        }
        if creates, directory.kind == .activeDirectory, !directory.connectionOptions.encrypts(url: directory.url) {
            // Before anything is written: a joiner made without the password that should go with it helps nobody.
            throw PlanError.passwordsNeedTLS(plan: plan.id, url: directory.url)
        }
        let connection = try await DirectoryConnector(configuration: directory).connect()
        let server = directory.server
        let protection = ProtectedAccounts(policy)
        let protectedGroups = try await server.protectedGroups(policy.protectedGroups, on: connection)
        // Group memberships as last synced (groupOfNames, posixGroup); memberOf, where the server has it, is read live.
        var syncedGroups: [String: [String]] = [:]
        for account in try await store.directoryAccounts() { syncedGroups[ProtectedAccounts.normalise(account.dn)] = account.groups }
        try await store.setPlanStatus(plan.id, .applying, audit: ("plan.apply.start",
            "\(plan.items.filter { $0.status != .done }.count) of \(plan.items.count) item(s) to do" + (plan.exceedsThreshold ? "; mass change accepted" : "")))
        logger.notice("Plan apply started", metadata: ["ctl.plan.items": "\(plan.items.count)", "ctl.plan.mass_change_accepted": "\(plan.exceedsThreshold)"])
        var outcome = Outcome()
        for var item in plan.items {
            let counter = "[\(item.position)/\(plan.items.count)]"
            if item.status == .done || item.status == .skipped {
                outcome.previouslyDone += 1
                continue
            }
            do {
                let result = try await apply(&item, connection: connection, server: server, protection: protection, protectedGroups: protectedGroups,
                                             syncedGroups: syncedGroups[ProtectedAccounts.normalise(item.dn)] ?? [])
                item.appliedAt = now
                switch result {
                case .skipped(let why):
                    item.status = .skipped
                    item.outcome = why
                    outcome.skipped += 1
                case .done(let what):
                    item.status = .done
                    item.outcome = what
                    outcome.done += 1
                case .alreadyInEffect(let what):
                    item.status = .done
                    item.outcome = what
                    outcome.alreadyInEffect += 1
                case .failed(let why):
                    item.status = .failed
                    item.outcome = why
                    outcome.failed += 1
                }
                try await store.recordItem(planID: plan.id, item: item, audit: (auditAction(item), item.outcome ?? ""))
                logger.log(level: item.status == .failed ? .error : .info, "Plan item \(item.status.rawValue)", metadata: [
                    "ctl.plan.item": "\(item.position)", "ctl.action": "\(auditAction(item))", "ctl.dn": "\(item.currentDN ?? item.dn)",
                    "ctl.outcome": "\(item.outcome ?? "")",
                ])
                progress("\(counter) \(item.status == .failed ? "FAILED" : item.status == .skipped ? "skipped" : "done") \(item.currentDN ?? item.dn): \(item.outcome ?? "")")
            } catch let error as LDAPError {
                item.status = .failed
                item.outcome = error.description
                outcome.failed += 1
                try await store.recordItem(planID: plan.id, item: item, audit: (auditAction(item) + ".failed", error.description))
                logger.error("Plan item failed", metadata: [
                    "ctl.plan.item": "\(item.position)", "ctl.action": "\(auditAction(item))", "ctl.dn": "\(item.dn)", "ctl.outcome": "\(error.description)",
                ])
                progress("\(counter) FAILED \(item.dn): \(error.description)")
                if error.code < 0 { throw error }  // the connection is gone: stop, the rest stays pending for the next run
            }
        }
        let status: Plan.Status = outcome.failed > 0 ? .incomplete : .applied
        logger.notice("Plan apply finished", metadata: [
            "ctl.plan.status": "\(status.rawValue)", "ctl.plan.done": "\(outcome.done)", "ctl.plan.already": "\(outcome.alreadyInEffect)",
            "ctl.plan.skipped": "\(outcome.skipped)", "ctl.plan.failed": "\(outcome.failed)",
        ])
        try await store.setPlanStatus(plan.id, status, audit: ("plan.apply.finish",
            "\(outcome.done) done, \(outcome.alreadyInEffect) already in effect, \(outcome.skipped) skipped, \(outcome.failed) failed"
                + (passwords.map { "; \($0.written) temporary password(s) written to \($0.path)" } ?? "")))
        if plan.kind == .offboarding {
            _ = try await store.settleOffboarding(joinKeys: Array(Set(plan.items.compactMap(\.joinKey))))
        }
        return outcome
    }

    private func auditAction(_ item: PlanItem) -> String {
        switch item.action {
        case .disable: "account.disable"
        case .forcePasswordChange: "account.force-password-change"
        case .create: "account.create"
        }
    }

    enum StepResult {
        case done(String)
        case alreadyInEffect(String)
        case skipped(String)
        case failed(String)
    }

    /// Reads the entry as it is now and writes only what is missing.
    /// - Parameter protectedGroups: the protected groups as the server checks them (``DirectoryServer/protectedGroups(_:on:)``).
    private func apply(_ item: inout PlanItem, connection: LDAPConnection, server: any DirectoryServer, protection: ProtectedAccounts,
                       protectedGroups: [String], syncedGroups: [String]) async throws -> StepResult {
        if item.action == .create { return try await create(item, connection: connection, server: server) }
        let rdn = firstRDN(item.dn)
        let movedDN = policy.leaversOU.map { "\(rdn),\($0)" }
        var candidates = [item.currentDN, item.dn, movedDN].compactMap { $0 }
        candidates = candidates.reduce(into: []) { unique, dn in if !unique.contains(dn) { unique.append(dn) } }
        var found: LDAPEntry?
        for dn in candidates {
            if let entry = try await connection.entry(dn: dn, attributes: server.stateAttributes) {
                found = entry
                break
            }
        }
        guard let entry = found else {
            return .skipped("the account is no longer in the directory (looked at \(candidates.joined(separator: "; ")))")
        }
        item.currentDN = entry.dn
        let current = server.account(from: entry, kind: item.kind)
        let groups = try await server.currentGroups(of: entry, on: connection, protectedGroups: protectedGroups)
        let account = DirectoryAccount(dn: item.dn, uid: current.uid ?? item.uid, joinKey: item.joinKey, kind: item.kind,
                                       passwordReset: false, groups: syncedGroups + groups)
        if let rule = protection.rule(protecting: account) {
            return .skipped("protected now (\(rule)); the configuration or the directory changed since the plan was made")
        }
        let change: DirectoryChange
        switch item.action {
        case .create:
            preconditionFailure("handled by create(_:connection:server:)")  // safe: `apply` hands every create item to `create` first
        case .forcePasswordChange:
            change = try await server.forcePasswordChange(entry, on: connection)
        case .disable:
            change = try await server.disable(entry, on: connection, policy: policy, now: now)
            if change.isInEffect, let leaversOU = policy.leaversOU, let movedDN,
               ProtectedAccounts.normalise(entry.dn) != ProtectedAccounts.normalise(movedDN) {
                try await connection.rename(dn: entry.dn, newRDN: rdn, newParent: leaversOU)
                item.currentDN = movedDN
                return .done(change.text + ", moved to \(leaversOU)")
            }
        }
        switch change {
        case .done(let said): return .done(said)
        case .alreadyInEffect(let said): return .alreadyInEffect(said)
        case .failed(let why): return .failed(why)
        }
    }
}

extension PlanApplier {
    /// Adds a joiner's entry, sets a temporary password through the server (which hashes it), marks it to be changed
    /// at next log-on, joins the groups, and writes the password to the passwords file, flushed, before moving on.
    ///
    /// Run again after an interruption: an entry already there that carries this joiner's key was made by an earlier
    /// run whose password may never have reached the file, so it gets a new temporary password; an entry there for
    /// anyone else is a uid taken since planning, and that item fails without touching it.
    func create(_ item: PlanItem, connection: LDAPConnection, server: any DirectoryServer) async throws -> StepResult {
        guard let account = item.newAccount, let joinKey = item.joinKey, let uid = item.uid, let passwords else {
            return .failed("the plan item has no account to create")
        }
        if let rule = ProtectedAccounts(policy).rule(protecting: DirectoryAccount(dn: item.dn, uid: uid, joinKey: joinKey, kind: item.kind,
                                                                                  passwordReset: false, groups: account.groups)) {
            return .skipped("protected (\(rule)); the configuration changed since the plan was made")
        }
        var said: [String] = []
        let password = TemporaryPassword.make(length: passwordLength)
        if let existing = try await connection.entry(dn: item.dn, attributes: [directory.joinKey]) {
            guard existing.string(directory.joinKey) == joinKey else {
                return .failed("\(item.dn) was created since planning for someone else (\(directory.joinKey): \(existing.string(directory.joinKey) ?? "none")): "
                               + "make a new joiners plan, which picks a free uid")
            }
            try await server.setTemporaryPassword(dn: item.dn, password: password, on: connection)
            said.append("already there from an interrupted apply; given a new temporary password")
        } else {
            try await server.create(account, dn: item.dn, password: password, on: connection)
            said.append("created")
        }
        for group in account.groups {
            switch try await server.join(group: group, dn: item.dn, uid: uid, on: connection) {
            case nil: said.append("group \(group) not found: not joined")
            case true?: said.append("joined \(ProtectedAccounts.firstRDNValue(group) ?? group)")
            case false?: break
            }
        }
        do {
            try passwords.append(joinKey: joinKey, account: account, uid: uid, password: password)
        } catch {
            return .failed("\(said.joined(separator: ", ")), but the temporary password could not be written (\(error)); apply again to set a new one")
        }
        said.append("temporary password (must change at next log-on) written to \(passwords.path)")
        return .done(said.joined(separator: ", "))
    }
}

public enum PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(Int)
    case massChange(plan: Int, items: Int, threshold: Int, total: Int)
    case alreadyApplied(Int)
    case passwordsFileNeeded(Int)
    case passwordsNeedTLS(plan: Int, url: String)

    public var description: String {
        switch self {
        case .notFound(let id): "there is no plan \(id); `rollcall plan list` shows the plans"
        case .massChange(let id, let items, let threshold, let total):
            "plan \(id) changes \(items) accounts, more than the mass-change threshold of \(threshold) (of \(total) accounts). "
                + "Nothing was changed. Review it with `rollcall plan show \(id)`; if it is right, apply with --accept-mass-change"
        case .alreadyApplied(let id): "plan \(id) has been applied in full; make a new plan to catch later changes"
        case .passwordsFileNeeded(let id): "plan \(id) creates accounts: their temporary passwords need a file (--passwords-file)"
        case .passwordsNeedTLS(let id, let url):
            "plan \(id) creates Active Directory accounts, whose passwords (unicodePwd) go only over TLS, and \(url) is plain LDAP. Nothing was changed. "
                + "Set directory.tls = \"starttls\" with directory.ca_file, or use an ldaps:// URL"
        }
    }
}
