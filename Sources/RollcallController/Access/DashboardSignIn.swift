public import Foundation
import LDAPKit
public import Logging
import NIOPosix

/// Why a sign-in was refused, in words for the sign-in page. A wrong name and a wrong password read the same, so the
/// page does not tell a guesser which names exist.
public enum SignInRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongCredentials
    case lockedOut(until: Date)
    /// The directory password was right but none of the person's groups is mapped to a role.
    case noRole
    /// The directory could not be asked (down, wrong bind account): not the person's fault, so not counted against them.
    case directoryUnavailable(String)

    public var description: String {
        switch self {
        case .wrongCredentials: "Wrong user name or password."
        case .lockedOut(let until):
            "Too many wrong passwords: this name is locked until \(DashboardTable.Value.timestamp(until)). The technician can lift it with `rollcall users unlock`."
        case .noRole: "Your directory account is not in a group that may use Rollcall; ask the technician to add you to one."
        case .directoryUnavailable(let reason): "The school directory could not be asked (\(reason)); try again, or use a local account."
        }
    }
}

/// Checks a name and password: a local dashboard user first, then (with `[dashboard] ldap_sign_in`) a bind to the
/// school directory with the role from the person's groups. Every failure counts toward the lockout.
public struct DashboardSignIn: Sendable {
    let store: ControllerStore
    let policy: DashboardPolicy
    let directory: DirectoryConfiguration?
    let logger: Logger

    public init(store: ControllerStore, configuration: ControllerConfiguration, logger: Logger) {
        self.store = store
        policy = configuration.dashboard
        directory = configuration.directory
        self.logger = logger
    }

    public func signIn(name: String, password: String, remote: String, now: Date = Date()) async throws -> IssuedSession {
        let name = name.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.count <= 256, !password.isEmpty, password.utf8.count <= 1024 else { throw SignInRefusal.wrongCredentials }
        if let until = try await store.lockedUntil(name, now: now) { throw SignInRefusal.lockedOut(until: until) }
        let role: DashboardRole
        let source: DashboardSession.Source
        do {
            if let local = try await store.localCredentials(name: name) {
                // Argon2 holds a core for a tenth of a second: off the event loops, on NIO's blocking pool.
                let matches = try await NIOThreadPool.singleton.runIfActive { PasswordHash.verify(password, against: local.hash) }
                guard matches else { throw SignInRefusal.wrongCredentials }
                (role, source) = (local.role, .local)
            } else if policy.ldapSignIn, let directory {
                role = try await DirectorySignIn(directory: directory, policy: policy).role(of: name, password: password)
                source = .ldap
            } else {
                throw SignInRefusal.wrongCredentials
            }
        } catch let refusal as SignInRefusal {
            if case .directoryUnavailable = refusal { throw refusal }
            logger.notice("Sign-in refused", metadata: ["ctl.user": "\(name)", "ctl.remote": "\(remote)", "ctl.refusal": "\(refusal)"])
            if let until = try await store.recordSignInFailure(name, policy: policy, remote: remote, now: now) {
                logger.warning("Dashboard user locked out", metadata: ["ctl.user": "\(name)", "ctl.remote": "\(remote)"])
                throw SignInRefusal.lockedOut(until: until)
            }
            throw refusal
        }
        let issued = try await store.createSession(user: name, role: role, source: source, lifetime: TimeInterval(policy.sessionHours) * 3600,
                                                   remote: remote, now: now)
        logger.notice("Signed in", metadata: ["ctl.user": "\(name)", "ctl.role": "\(role.rawValue)", "ctl.remote": "\(remote)"])
        return issued
    }
}

/// A dashboard sign-in with a directory password: find the person under the staff bases with the service account,
/// bind as them with the password given, then map their groups to a role.
struct DirectorySignIn: Sendable {
    let directory: DirectoryConfiguration
    let policy: DashboardPolicy

    func role(of name: String, password: String) async throws -> DashboardRole {
        let service: LDAPConnection
        do {
            service = try await DirectoryConnector(configuration: directory).connect()
        } catch {
            throw SignInRefusal.directoryUnavailable("\(error)")
        }
        let attribute = policy.ldapSignInAttribute ?? (directory.kind == .activeDirectory ? "sAMAccountName" : "uid")
        let filter = "(&\(directory.userFilter)(\(attribute)=\(LDAPFilter.escape(name))))"
        var matches: [LDAPEntry] = []
        do {
            // Staff only: a pupil's account never opens the dashboard, whatever group it is put in.
            for base in directory.staffBaseDNs {
                matches += try await service.searchAll(base: base, filter: filter, attributes: ["memberOf"])
            }
        } catch {
            throw SignInRefusal.directoryUnavailable("\(error)")
        }
        guard matches.count == 1, let person = matches.first else { throw SignInRefusal.wrongCredentials }
        do {
            let own = try LDAPConnection(url: directory.url, options: directory.connectionOptions)
            _ = try await own.simpleBind(dn: person.dn, password: password)
        } catch {
            throw error.isInvalidCredentials ? SignInRefusal.wrongCredentials : SignInRefusal.directoryUnavailable("\(error)")
        }
        var groups = Set(person.strings("memberOf").map(ProtectedAccounts.normalise))
        let membership = "(|(member=\(LDAPFilter.escape(person.dn)))(uniqueMember=\(LDAPFilter.escape(person.dn)))(memberUid=\(LDAPFilter.escape(name))))"
        do {
            for base in directory.groupBaseDNs {
                for group in try await service.searchAll(base: base, filter: membership, attributes: ["1.1"]) { groups.insert(ProtectedAccounts.normalise(group.dn)) }
            }
        } catch {
            throw SignInRefusal.directoryUnavailable("\(error)")
        }
        guard let mapped = policy.groupRoles.first(where: { groups.contains(ProtectedAccounts.normalise($0.group)) }) else { throw SignInRefusal.noRole }
        return mapped.role
    }
}
