#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// What `rollcall-agent enrol` sends to `POST /api/v1/enrol`: the one-time token the technician handed out and the
/// public half of the key the agent just made. The private half never leaves the workstation.
public struct EnrolmentRequest: Codable, Sendable, Equatable {
    public var token: String
    /// Standard base64 of the raw 32-byte Ed25519 public key.
    public var publicKey: String
    /// `/etc/machine-id`: every later report of this device must carry it.
    public var machineID: String
    public var hostname: String?
    public var agentVersion: String?

    public init(token: String, publicKey: String, machineID: String, hostname: String?, agentVersion: String?) {
        self.token = token
        self.publicKey = publicKey
        self.machineID = machineID
        self.hostname = hostname
        self.agentVersion = agentVersion
    }
}

/// The controller's answer to an enrolment: the id the agent signs every later request as.
public struct EnrolmentResponse: Codable, Sendable, Equatable {
    public var deviceID: String
    public var enrolledAt: Date

    public init(deviceID: String, enrolledAt: Date) {
        self.deviceID = deviceID
        self.enrolledAt = enrolledAt
    }
}

/// How an enrolled agent proves each request is its own, fresh and unaltered.
///
/// The agent signs, with its Ed25519 key, a canonical text naming the method, the path, its device id, the time,
/// a nonce used once, and the SHA-256 of the body. The controller refuses a signature that does not verify against
/// the key enrolled for that device, a timestamp outside ``maximumClockSkewSeconds``, and a nonce it has seen
/// before, so a captured request can be neither altered nor replayed. Why signatures and not mutual TLS: DESIGN.md.
public enum RequestSignature {
    public static let deviceHeader = "Rollcall-Device"
    public static let timestampHeader = "Rollcall-Timestamp"
    public static let nonceHeader = "Rollcall-Nonce"
    public static let signatureHeader = "Rollcall-Signature"
    /// Five minutes, as Kerberos allows: school PCs keep time by NTP, and one that has drifted further is told so.
    public static let maximumClockSkewSeconds: Int64 = 300

    /// The bytes that are signed. `path` is the request target as sent, query included; `bodyDigest` is the
    /// lower-case hex SHA-256 of the body (of nothing, for an empty body).
    public static func canonical(
        method: String, path: String, deviceID: String, timestamp: Int64, nonce: String, bodyDigest: String
    ) -> [UInt8] {
        Array("rollcall-request-v1\n\(method)\n\(path)\n\(deviceID)\n\(timestamp)\n\(nonce)\n\(bodyDigest)".utf8)
    }

    /// 32 lower-case hex digits: 128 random bits.
    public static func isValidNonce(_ nonce: String) -> Bool {
        nonce.utf8.count == 32 && nonce.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
