#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import RollcallProtocol

/// Which controller enrolled this agent, as which device: `state_dir/enrolment.json`. Public facts only; the key
/// is in its own 0600 file.
public struct EnrolmentRecord: Codable, Sendable, Equatable {
    public var deviceID: String
    public var controllerURL: String
    /// The fingerprint given at enrolment, pinned for every later connection unless agent.toml says otherwise.
    public var fingerprint: String?
    public var enrolledAt: Date
}

/// The device id and the key that signs every request (``RequestSignature``).
public struct AgentCredentials: Sendable {
    public let deviceID: String
    let privateKey: SigningKey

    /// The four signature headers for one request. `path` is the request target as the controller sees it.
    func signatureHeaders(method: String, path: String, body: [UInt8], now: Date = Date()) -> [(String, String)] {
        var generator = SystemRandomNumberGenerator()
        let nonce = Self.hex((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let timestamp = Int64(now.timeIntervalSince1970)
        let canonical = RequestSignature.canonical(
            method: method, path: path, deviceID: deviceID, timestamp: timestamp, nonce: nonce,
            bodyDigest: Self.hex(privateKey.sha256(body)))
        // Signing with a loaded key over bytes in memory fails only if libcrypto is broken; the controller then
        // refuses the empty signature with a message, and the report stays queued.
        let signature = (try? privateKey.signature(for: canonical)) ?? []
        return [
            (RequestSignature.deviceHeader, deviceID), (RequestSignature.timestampHeader, String(timestamp)),
            (RequestSignature.nonceHeader, nonce), (RequestSignature.signatureHeader, Data(signature).base64EncodedString()),
        ]
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Why the agent cannot enrol, or cannot use its enrolment. Messages name the file or URL and what to do.
public enum EnrolmentError: Error, Sendable, CustomStringConvertible {
    case notEnrolled(stateDirectory: String)
    case unreadable(path: String, reason: String)
    case plainHTTPRefused(url: String)
    case unidentified
    case refused(url: String, status: Int, code: String, message: String)
    case unreachable(UploadError)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .notEnrolled(let directory):
            "This workstation is not enrolled (no \(directory)/enrolment.json). Run `rollcall-agent enrol https://CONTROLLER:PORT --token TOKEN --fingerprint FP` with a token from `rollcall enrol-token create`."
        case .unreadable(let path, let reason): "Cannot use \(path): \(reason)."
        case .plainHTTPRefused(let url):
            "Refusing to talk to \(url) over plain HTTP: enrolment tokens and reports would cross the network unencrypted. Use https://, or set allow_plain_http = true under [controller] in agent.toml (a loopback demo only)."
        case .unidentified:
            "Cannot identify this machine: /etc/machine-id is missing or malformed. Run systemd-machine-id-setup, then enrol."
        case .refused(let url, let status, let code, let message): "The controller at \(url) refused the enrolment (\(status) \(code)): \(message)"
        case .unreachable(let error): error.description
        case .cannotWrite(let path, let reason): "Cannot write \(path): \(reason)."
        }
    }
}

/// Enrols the workstation, and loads its enrolment for every later run.
public struct AgentEnrolment: Sendable {
    public let configuration: AgentConfiguration

    public init(configuration: AgentConfiguration) {
        self.configuration = configuration
    }

    /// The enrolment record alone (what `status` shows), or nil when the agent has never enrolled. Does not touch
    /// the key, so it does not load OpenSSL.
    public func loadRecord() throws(EnrolmentError) -> EnrolmentRecord? {
        let recordPath = configuration.enrolmentPath
        let recordBytes: [UInt8]
        switch FileSystemRoot.system.readBytes(recordPath) {
        case .success(let bytes): recordBytes = bytes
        case .failure(let failure) where failure.isMissing: return nil
        case .failure(let failure): throw .unreadable(path: recordPath, reason: failure.reason)
        }
        do {
            return try RollcallJSON.decoder().decode(EnrolmentRecord.self, from: Data(recordBytes))
        } catch {
            throw .unreadable(path: recordPath, reason: "not an enrolment record (\(error)); enrol again")
        }
    }

    /// The enrolment record and the signing key, or nil when the agent has never enrolled.
    public func load() throws(EnrolmentError) -> (record: EnrolmentRecord, credentials: AgentCredentials)? {
        guard let record = try loadRecord() else { return nil }
        let keyBytes: [UInt8]
        switch FileSystemRoot.system.readBytes(configuration.keyPath) {
        case .success(let bytes): keyBytes = bytes
        case .failure(let failure): throw .unreadable(path: configuration.keyPath, reason: "\(failure.reason); enrol again")
        }
        let key: SigningKey
        do {
            key = try SigningKey(rawRepresentation: keyBytes)
        } catch {
            // Either the file is damaged or libssl3 is missing; the message says which.
            throw .unreadable(path: configuration.keyPath, reason: "\(error); if the file is damaged, enrol again")
        }
        return (record, AgentCredentials(deviceID: record.deviceID, privateKey: key))
    }

    /// Makes a new key, sends its public half with the token, and on success keeps the key (0600) and the record.
    /// Nothing is kept when the controller refuses, so a failed attempt leaves the previous enrolment in place.
    public func enrol(url urlText: String, token: String, fingerprint: String?, caFile: String?, allowPlainHTTP: Bool,
                      identity: (machineID: String, hostname: String?)) throws(EnrolmentError) -> EnrolmentRecord {
        let url: ControllerURL
        do {
            url = try ControllerURL(urlText)
        } catch {
            throw .unreachable(error)
        }
        guard url.isTLS || allowPlainHTTP || configuration.allowPlainHTTP else { throw .plainHTTPRefused(url: url.description) }
        guard AgentIdentity.isValidMachineID(identity.machineID) else { throw .unidentified }
        let trust = Self.trust(fingerprint: fingerprint ?? configuration.controllerFingerprint, caFile: caFile ?? configuration.controllerCAFile)
        let key: SigningKey
        do {
            key = try SigningKey()
        } catch {
            throw .cannotWrite(path: configuration.keyPath, reason: error.description)
        }
        let request = EnrolmentRequest(
            token: token, publicKey: Data(key.publicKey).base64EncodedString(), machineID: identity.machineID,
            hostname: identity.hostname, agentVersion: InventoryCollector.agentVersion)
        let body: [UInt8]
        do {
            body = Array(try RollcallJSON.encoder().encode(request))
        } catch {
            throw .cannotWrite(path: "enrolment request", reason: "\(error)")
        }
        let response: HTTPResponse
        do {
            response = try HTTPClient(url: url, timeoutSeconds: configuration.uploadTimeoutSeconds, trust: trust)
                .send(method: "POST", path: "/api/v1/enrol", headers: [("Content-Type", "application/json")], body: body)
        } catch {
            throw .unreachable(error)
        }
        guard response.status == 201, let answer = try? RollcallJSON.decoder().decode(EnrolmentResponse.self, from: Data(response.body)) else {
            let error = try? RollcallJSON.decoder().decode(APIErrorBody.self, from: Data(response.body))
            throw .refused(url: url.description, status: response.status, code: error?.error.code ?? "unexpected_response",
                           message: error?.error.message ?? String(decoding: response.body.prefix(200), as: UTF8.self))
        }
        let record = EnrolmentRecord(
            deviceID: answer.deviceID, controllerURL: url.description,
            fingerprint: fingerprint.flatMap(CertificateFingerprint.parse).map(CertificateFingerprint.format),
            enrolledAt: answer.enrolledAt)
        try Self.makeDirectory(configuration.stateDirectory)
        try Self.writeAtomically(key.rawRepresentation, to: configuration.keyPath, mode: 0o600)
        let recordBytes: [UInt8]
        do {
            recordBytes = Array(try RollcallJSON.encoder(pretty: true).encode(record)) + [0x0A]
        } catch {
            throw .cannotWrite(path: configuration.enrolmentPath, reason: "\(error)")
        }
        try Self.writeAtomically(recordBytes, to: configuration.enrolmentPath, mode: 0o644)
        return record
    }

    /// agent.toml's pin or CA first, then the fingerprint given at enrolment, then the system's CAs.
    public static func trust(fingerprint: String?, caFile: String?) -> ControllerTrust {
        if let pin = fingerprint.flatMap(CertificateFingerprint.parse) { return .pinned(pin) }
        if let caFile { return .caFile(caFile) }
        return .system
    }

    static func makeDirectory(_ path: String) throws(EnrolmentError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/\(component)"
            if mkdir(current, 0o700) != 0, errno != EEXIST {
                throw .cannotWrite(path: current, reason: String(cString: strerror(errno)))
            }
        }
    }

    /// Write, fsync, rename, fsync the directory: after a power cut the file is either the old one or the new one.
    /// The temporary file is created with `mode` from the start, so a key is never readable by others.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(EnrolmentError) {
        let temporary = path + ".new"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .cannotWrite(path: temporary, reason: String(cString: strerror(errno))) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw .cannotWrite(path: temporary, reason: reason)
            }
            offset += written
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .cannotWrite(path: path, reason: reason)
        }
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}
