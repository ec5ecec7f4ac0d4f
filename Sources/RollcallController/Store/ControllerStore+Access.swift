public import Foundation
import Crypto
import SQLKit

/// A dashboard account kept in the store (not in the school directory).
public struct DashboardUser: Sendable, Codable, Equatable {
    public var name: String
    public var role: DashboardRole
    public var createdAt: Date
    public var passwordChangedAt: Date
    /// Set while repeated failures keep the account locked.
    public var lockedUntil: Date?
}

/// A signed-in browser or an API token, as the authenticator sees it on each request.
public struct DashboardSession: Sendable, Equatable {
    public enum Source: String, Sendable, Codable {
        /// A local user's password.
        case local
        /// A bind to the school directory, the role from its groups.
        case ldap
        /// An API token made with `rollcall users token`.
        case token
    }

    public var user: String
    public var role: DashboardRole
    public var source: Source
    /// The form token this session's pages carry; a POST without it is refused.
    public var csrfToken: String
    public var expiresAt: Date
    /// SHA-256 of the secret: what the store keys the session by, and what sign-out deletes.
    public var key: String
}

/// A session just made: the secret goes into the cookie (or to the technician, for a token) and is never stored.
public struct IssuedSession: Sendable {
    public let secret: String
    public let session: DashboardSession
}

/// The store's half of sign-in: local users, sessions and API tokens, and the lockout after repeated failures.
extension ControllerStore {
    /// Adds a local dashboard account; audited (without the password, of course).
    public func addDashboardUser(name: String, role: DashboardRole, passwordHash: String, actor: String? = nil, at: Date = Date()) async throws {
        let actor = actor ?? AuditLog.actor
        try await transaction { db in
            if try await db.select().column("name").from("dashboard_users").where("name", .equal, name).first() != nil {
                throw StoreError(code: .conflict, message: "There is already a dashboard user '\(name)'; `rollcall users password \(name)` sets a new password.")
            }
            try await db.insert(into: "dashboard_users").columns("name", "role", "password_hash", "created_at", "password_changed_at")
                .values(SQLBind(name), SQLBind(role.rawValue), SQLBind(passwordHash), SQLBind(at.millisecondsSince1970), SQLBind(at.millisecondsSince1970))
                .run()
            try await AuditLog.append(db, actor: actor, action: "dashboard.user.add", target: "dashboard user \(name)", detail: "role \(role.rawValue)", at: at)
        }
    }

    public func dashboardUsers(now: Date = Date()) async throws -> [DashboardUser] {
        try await withConnection { db in
            try await db.raw("""
                SELECT u.name, u.role, u.created_at, u.password_changed_at, f.locked_until FROM dashboard_users u
                LEFT JOIN login_failures f ON f.user_name = u.name ORDER BY u.name
                """).all().map { row in
                let locked = try row.decode(column: "locked_until", as: Int64?.self).map(Date.init(millisecondsSince1970:))
                return DashboardUser(
                    name: try row.decode(column: "name", as: String.self),
                    role: DashboardRole(rawValue: try row.decode(column: "role", as: String.self)) ?? .readOnly,
                    createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
                    passwordChangedAt: Date(millisecondsSince1970: try row.decode(column: "password_changed_at", as: Int64.self)),
                    lockedUntil: locked.flatMap { $0 > now ? $0 : nil })
            }
        }
    }

    /// A local user's role and password hash, for sign-in.
    func localCredentials(name: String) async throws -> (role: DashboardRole, hash: String)? {
        try await withConnection { db in
            guard let row = try await db.select().columns("role", "password_hash").from("dashboard_users").where("name", .equal, name).first() else {
                return nil
            }
            return (DashboardRole(rawValue: try row.decode(column: "role", as: String.self)) ?? .readOnly,
                    try row.decode(column: "password_hash", as: String.self))
        }
    }

    /// Changes a local user's password or role; ends their sessions so the change holds at once. Audited.
    public func updateDashboardUser(name: String, role: DashboardRole? = nil, passwordHash: String? = nil, actor: String? = nil,
                                    at: Date = Date()) async throws {
        let actor = actor ?? AuditLog.actor
        try await transaction { db in
            try await Self.requireDashboardUser(name, db)
            if let role {
                try await db.update("dashboard_users").set("role", to: SQLBind(role.rawValue)).where("name", .equal, name).run()
                try await AuditLog.append(db, actor: actor, action: "dashboard.user.role", target: "dashboard user \(name)", detail: "role \(role.rawValue)", at: at)
            }
            if let passwordHash {
                try await db.update("dashboard_users").set("password_hash", to: SQLBind(passwordHash))
                    .set("password_changed_at", to: SQLBind(at.millisecondsSince1970)).where("name", .equal, name).run()
                try await db.delete(from: "login_failures").where("user_name", .equal, name).run()
                try await AuditLog.append(db, actor: actor, action: "dashboard.user.password", target: "dashboard user \(name)", detail: "password set", at: at)
            }
            try await db.delete(from: "dashboard_sessions").where("user_name", .equal, name).where("source", .notEqual, DashboardSession.Source.ldap.rawValue).run()
        }
    }

    /// Removes a local user with their sessions and tokens. Audited.
    public func removeDashboardUser(name: String, actor: String? = nil, at: Date = Date()) async throws {
        let actor = actor ?? AuditLog.actor
        try await transaction { db in
            try await Self.requireDashboardUser(name, db)
            try await db.delete(from: "dashboard_users").where("name", .equal, name).run()
            try await db.delete(from: "dashboard_sessions").where("user_name", .equal, name).run()
            try await db.delete(from: "login_failures").where("user_name", .equal, name).run()
            try await AuditLog.append(db, actor: actor, action: "dashboard.user.remove", target: "dashboard user \(name)", detail: "", at: at)
        }
    }

    private static func requireDashboardUser(_ name: String, _ db: any SQLDatabase) async throws {
        guard try await db.select().column("name").from("dashboard_users").where("name", .equal, name).first() != nil else {
            throw StoreError(code: .notFound, message: "No dashboard user '\(name)'; `rollcall users list` shows them.")
        }
    }

    // MARK: Lockout

    /// Until when `name` is locked out, if it is.
    func lockedUntil(_ name: String, now: Date) async throws -> Date? {
        try await withConnection { db in
            guard let until = try await db.select().column("locked_until").from("login_failures").where("user_name", .equal, name).first()?
                .decode(column: "locked_until", as: Int64?.self) else { return nil }
            let date = Date(millisecondsSince1970: until)
            return date > now ? date : nil
        }
    }

    /// Counts a failed sign-in; the `policy.failures`-th within the window locks the name for `policy.lockout`. The lock
    /// is audited: a run of guesses at one account is something the technician wants to see. Returns the lock's end.
    func recordSignInFailure(_ name: String, policy: DashboardPolicy, remote: String, now: Date) async throws -> Date? {
        try await transaction { db in
            let nowMS = now.millisecondsSince1970
            let row = try await db.select().columns("failures", "first_failure_at").from("login_failures").where("user_name", .equal, name).first()
            var failures = 1
            var first = nowMS
            if let row, try row.decode(column: "first_failure_at", as: Int64.self) > nowMS - Int64(policy.lockoutMinutes) * 60_000 {
                failures = try row.decode(column: "failures", as: Int.self) + 1
                first = try row.decode(column: "first_failure_at", as: Int64.self)
            }
            let lockedUntil: Int64? = failures >= policy.lockoutFailures ? nowMS + Int64(policy.lockoutMinutes) * 60_000 : nil
            try await db.delete(from: "login_failures").where("user_name", .equal, name).run()
            try await db.insert(into: "login_failures").columns("user_name", "failures", "first_failure_at", "locked_until")
                .values(SQLBind(name), SQLBind(lockedUntil == nil ? failures : 0), SQLBind(first), SQLBind(lockedUntil)).run()
            if let lockedUntil {
                try await AuditLog.append(db, actor: "rollcall serve", action: "dashboard.lockout", target: "dashboard user \(name)",
                                          detail: "\(failures) failed sign-ins, the last from \(remote); locked for \(policy.lockoutMinutes) minutes",
                                          at: now)
                return Date(millisecondsSince1970: lockedUntil)
            }
            return nil
        }
    }

    /// Lifts a lockout early (`rollcall users unlock`). Audited.
    public func unlockDashboardUser(_ name: String, actor: String? = nil, at: Date = Date()) async throws -> Bool {
        let actor = actor ?? AuditLog.actor
        return try await transaction { db in
            guard try await db.select().column("user_name").from("login_failures").where("user_name", .equal, name).first() != nil else { return false }
            try await db.delete(from: "login_failures").where("user_name", .equal, name).run()
            try await AuditLog.append(db, actor: actor, action: "dashboard.unlock", target: "dashboard user \(name)", detail: "", at: at)
            return true
        }
    }

    // MARK: Sessions

    /// Starts a session (or, with `source: .token`, an API token): audited as a sign-in, failures cleared.
    func createSession(user: String, role: DashboardRole, source: DashboardSession.Source, lifetime: TimeInterval, label: String? = nil,
                       remote: String, actor: String? = nil, now: Date = Date()) async throws -> IssuedSession {
        let secret = Self.randomToken()
        let session = DashboardSession(user: user, role: role, source: source, csrfToken: Self.randomToken(),
                                       expiresAt: now.addingTimeInterval(lifetime), key: SHA256.hexDigest(of: secret))
        try await transaction { db in
            try await db.delete(from: "dashboard_sessions").where("expires_at", .lessThan, now.millisecondsSince1970).run()
            try await db.insert(into: "dashboard_sessions").columns("id_hash", "user_name", "source", "role", "csrf", "label", "created_at", "expires_at")
                .values(SQLBind(session.key), SQLBind(user), SQLBind(source.rawValue), SQLBind(role.rawValue), SQLBind(session.csrfToken),
                        SQLBind(label), SQLBind(now.millisecondsSince1970), SQLBind(session.expiresAt.millisecondsSince1970))
                .run()
            if source == .token {
                try await AuditLog.append(db, actor: actor ?? AuditLog.actor, action: "dashboard.token", target: "dashboard user \(user)",
                                          detail: "API token \(label ?? "") (\(role.rawValue)) until \(session.expiresAt.formatted(Date.ISO8601FormatStyle()))", at: now)
            } else {
                try await db.delete(from: "login_failures").where("user_name", .equal, user).run()
                try await AuditLog.append(db, actor: user, action: "dashboard.sign-in", target: "dashboard user \(user)",
                                          detail: "\(source.rawValue) sign-in as \(role.rawValue) from \(remote)", at: now)
            }
        }
        return IssuedSession(secret: secret, session: session)
    }

    /// An API token for a local user's scripts; it carries the user's role as it is on each request.
    public func createAPIToken(user: String, label: String, days: Int, now: Date = Date()) async throws -> IssuedSession {
        guard let local = try await localCredentials(name: user) else {
            throw StoreError(code: .notFound, message: "No dashboard user '\(user)'; API tokens belong to local users (`rollcall users list`).")
        }
        return try await createSession(user: user, role: local.role, source: .token, lifetime: TimeInterval(days) * 86400, label: label,
                                       remote: "-", now: now)
    }

    /// The live session behind a cookie or token. A local user's role is read afresh, so a changed role or a removed
    /// user takes effect on their next request.
    func session(secret: String, now: Date = Date()) async throws -> DashboardSession? {
        let key = SHA256.hexDigest(of: secret)
        return try await withConnection { db in
            guard let row = try await db.raw("""
                SELECT s.user_name, s.source, s.role, s.csrf, s.expires_at, u.role AS current_role FROM dashboard_sessions s
                LEFT JOIN dashboard_users u ON u.name = s.user_name WHERE s.id_hash = \(bind: key) AND s.expires_at > \(bind: now.millisecondsSince1970)
                """).first() else { return nil }
            let source = DashboardSession.Source(rawValue: try row.decode(column: "source", as: String.self)) ?? .local
            let current = try row.decode(column: "current_role", as: String?.self)
            if source != .ldap, current == nil { return nil }
            guard let role = DashboardRole(rawValue: source == .ldap ? try row.decode(column: "role", as: String.self) : current ?? "") else { return nil }
            return DashboardSession(
                user: try row.decode(column: "user_name", as: String.self), role: role, source: source,
                csrfToken: try row.decode(column: "csrf", as: String.self),
                expiresAt: Date(millisecondsSince1970: try row.decode(column: "expires_at", as: Int64.self)), key: key)
        }
    }

    /// Signs a session out. Audited.
    func endSession(_ session: DashboardSession, now: Date = Date()) async throws {
        try await transaction { db in
            try await db.delete(from: "dashboard_sessions").where("id_hash", .equal, session.key).run()
            try await AuditLog.append(db, actor: session.user, action: "dashboard.sign-out", target: "dashboard user \(session.user)", detail: "", at: now)
        }
    }

    /// 32 random bytes, base64url without padding: a session secret or a form token.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
