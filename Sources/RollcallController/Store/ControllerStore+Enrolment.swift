import Crypto
public import Foundation
public import RollcallProtocol
import SQLKit

/// A one-time secret that lets a new workstation enrol. Only its SHA-256 is stored: the secret is shown once, by
/// `rollcall enrol-token create`, and cannot be read back from the store or the logs.
public struct EnrolmentToken: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case usable, usedUp = "used-up", expired, revoked
    }

    /// Short and public: names the token in lists, logs and the device it enrolled, never grants anything.
    public var id: String
    public var usesAllowed: Int
    public var uses: Int
    public var createdAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    public func state(at now: Date) -> State {
        if revokedAt != nil { return .revoked }
        if uses >= usesAllowed { return .usedUp }
        if expiresAt <= now { return .expired }
        return .usable
    }
}

/// A token as just created: the secret is here and nowhere else.
public struct IssuedEnrolmentToken: Sendable {
    public var token: EnrolmentToken
    public var secret: String
}

/// Why an enrolment was refused. Each says what the technician should do.
public enum EnrolmentRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownToken
    case usedUp(tokenID: String, uses: Int)
    case expired(tokenID: String, at: Date)
    case revoked(tokenID: String)
    case keyAlreadyEnrolled

    public var description: String {
        switch self {
        case .unknownToken:
            "This enrolment token is not known to the controller. Check it was copied whole, or create a new one with `rollcall enrol-token create`."
        case .usedUp(let id, let uses):
            "Enrolment token \(id) has already been used (\(uses) of \(uses) uses). Create a new one with `rollcall enrol-token create`."
        case .expired(let id, let at):
            "Enrolment token \(id) expired at \(at.formatted(.iso8601)). Create a new one with `rollcall enrol-token create`."
        case .revoked(let id):
            "Enrolment token \(id) was revoked. Create a new one with `rollcall enrol-token create`."
        case .keyAlreadyEnrolled: "This public key is already enrolled; an agent makes a new key for each enrolment."
        }
    }
}

/// What the request authenticator needs of a device: its key and whether it may still report.
public struct EnrolledDevice: Sendable, Equatable {
    public var id: String
    public var machineID: String
    /// Raw 32-byte Ed25519 public key.
    public var publicKey: [UInt8]
    public var revokedAt: Date?
}

extension ControllerStore {
    /// Creates a token usable `uses` times until `expiresAt`.
    public func createEnrolmentToken(uses: Int, expiresAt: Date, now: Date = Date()) async throws -> IssuedEnrolmentToken {
        let secret = "rct_" + Self.randomBase64URL(bytes: 32)
        let token = EnrolmentToken(id: Self.randomHex(bytes: 4), usesAllowed: uses, uses: 0, createdAt: now, expiresAt: expiresAt, revokedAt: nil)
        try await transaction { db in
            try await db.insert(into: "enrolment_tokens")
                .columns("id", "secret_hash", "uses_allowed", "uses", "created_at", "expires_at")
                .values(SQLBind(token.id), SQLBind(SHA256.hexDigest(of: secret)), SQLBind(uses), SQLBind(0),
                        SQLBind(now.millisecondsSince1970), SQLBind(expiresAt.millisecondsSince1970))
                .run()
        }
        return IssuedEnrolmentToken(token: token, secret: secret)
    }

    public func enrolmentTokens() async throws -> [EnrolmentToken] {
        try await withConnection { db in
            try await db.select().columns("id", "uses_allowed", "uses", "created_at", "expires_at", "revoked_at").from("enrolment_tokens")
                .orderBy("created_at").orderBy("id")
                .all(decoding: TokenRow.self).map(\.token)
        }
    }

    /// Stops a token from enrolling anything more; devices it already enrolled are unaffected. False if unknown.
    public func revokeEnrolmentToken(id: String, now: Date = Date()) async throws -> Bool {
        try await transaction { db in
            guard try await db.select().column("id").from("enrolment_tokens").where("id", .equal, id)
                .first(decodingColumn: "id", as: String.self) != nil else { return false }
            try await db.update("enrolment_tokens").set("revoked_at", to: SQLBind(now.millisecondsSince1970))
                .where("id", .equal, id).where("revoked_at", .is, SQLLiteral.null).run()
            return true
        }
    }

    /// Spends one use of the token and records the new device with its key, in one transaction: two agents racing
    /// for the last use of a token cannot both win.
    public func enrol(_ request: EnrolmentRequest, publicKey: [UInt8], now: Date = Date()) async throws -> EnrolmentResponse {
        let secretHash = SHA256.hexDigest(of: request.token)
        let deviceID = Self.randomHex(bytes: 8)
        let refusal: EnrolmentRefusal? = try await transaction { db in
            guard let row = try await db.select().columns("id", "uses_allowed", "uses", "created_at", "expires_at", "revoked_at")
                .from("enrolment_tokens").where("secret_hash", .equal, secretHash).first(decoding: TokenRow.self) else {
                return .unknownToken
            }
            let token = row.token
            switch token.state(at: now) {
            case .revoked: return .revoked(tokenID: token.id)
            case .usedUp: return .usedUp(tokenID: token.id, uses: token.usesAllowed)
            case .expired: return .expired(tokenID: token.id, at: token.expiresAt)
            case .usable: break
            }
            let keyText = Data(publicKey).base64EncodedString()
            if try await db.select().column("id").from("devices").where("public_key", .equal, keyText)
                .first(decodingColumn: "id", as: String.self) != nil {
                return .keyAlreadyEnrolled
            }
            try await db.update("enrolment_tokens").set("uses", to: SQLBind(token.uses + 1)).where("id", .equal, token.id).run()
            let enrolled = now.millisecondsSince1970
            try await db.insert(into: "devices")
                .columns("id", "hostname", "first_seen", "last_seen", "last_collected_at", "package_count", "last_report_id",
                         "machine_id", "public_key", "enrolled_at", "enrolment_token")
                .values(SQLBind(deviceID), SQLBind(request.hostname), SQLBind(enrolled), SQLBind(enrolled), SQLBind(Int64(0)),
                        SQLBind(0), SQLBind(""), SQLBind(request.machineID), SQLBind(keyText), SQLBind(enrolled), SQLBind(token.id))
                .run()
            return nil
        }
        if let refusal { throw refusal }
        return EnrolmentResponse(deviceID: deviceID, enrolledAt: Date(millisecondsSince1970: now.millisecondsSince1970))
    }

    /// The key and state of an enrolled device; nil for an unknown id or a device from before enrolment.
    public func enrolledDevice(id: String) async throws -> EnrolledDevice? {
        try await withConnection { db in
            guard let row = try await db.select().columns("id", "machine_id", "public_key", "revoked_at").from("devices")
                .where("id", .equal, id).where("public_key", .isNot, SQLLiteral.null)
                .first(decoding: EnrolledRow.self),
                  let key = Data(base64Encoded: row.public_key) else { return nil }
            return EnrolledDevice(id: row.id, machineID: row.machine_id, publicKey: Array(key),
                                  revokedAt: row.revoked_at.map(Date.init(millisecondsSince1970:)))
        }
    }

    /// Records that `nonce` was used by `deviceID`; false if it was used before (a replay). Nonces are kept until
    /// `expiresAt`, after which the timestamp check alone refuses the request, so the table stays small.
    public func recordNonce(_ nonce: String, deviceID: String, expiresAt: Date, now: Date = Date()) async throws -> Bool {
        try await transaction { db in
            try await db.delete(from: "request_nonces").where("expires_at", .lessThan, SQLBind(now.millisecondsSince1970)).run()
            let seen = try await db.select().column("nonce").from("request_nonces")
                .where("device_id", .equal, deviceID).where("nonce", .equal, nonce)
                .first(decodingColumn: "nonce", as: String.self)
            guard seen == nil else { return false }
            try await db.insert(into: "request_nonces").columns("device_id", "nonce", "expires_at")
                .values(SQLBind(deviceID), SQLBind(nonce), SQLBind(expiresAt.millisecondsSince1970)).run()
            return true
        }
    }

    public enum RevocationOutcome: Sendable, Equatable {
        case revoked, alreadyRevoked(Date), unknown
    }

    /// Stops a device's reports from the next request on; its history stays. Undo by enrolling the machine again.
    public func revokeDevice(id: String, now: Date = Date()) async throws -> RevocationOutcome {
        try await transaction { db in
            guard let row = try await db.select().columns("id", "machine_id", "public_key", "revoked_at").from("devices")
                .where("id", .equal, id).where("public_key", .isNot, SQLLiteral.null).first(decoding: EnrolledRow.self) else {
                return .unknown
            }
            if let revoked = row.revoked_at { return .alreadyRevoked(Date(millisecondsSince1970: revoked)) }
            try await db.update("devices").set("revoked_at", to: SQLBind(now.millisecondsSince1970)).where("id", .equal, id).run()
            return .revoked
        }
    }

    static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return SHA256.hex((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    static func randomBase64URL(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let raw = Data((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        return raw.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

private struct TokenRow: Decodable {
    var id: String
    var uses_allowed: Int
    var uses: Int
    var created_at: Int64
    var expires_at: Int64
    var revoked_at: Int64?

    var token: EnrolmentToken {
        EnrolmentToken(id: id, usesAllowed: uses_allowed, uses: uses, createdAt: Date(millisecondsSince1970: created_at),
                       expiresAt: Date(millisecondsSince1970: expires_at), revokedAt: revoked_at.map(Date.init(millisecondsSince1970:)))
    }
}

private struct EnrolledRow: Decodable {
    var id: String
    var machine_id: String
    var public_key: String
    var revoked_at: Int64?
}
