import Crypto
import Foundation
public import NIOSSL
import RollcallProtocol
import SwiftASN1
import X509

/// The certificate `rollcall serve` presents, and its SHA-256 fingerprint, which agents pin.
///
/// A school rarely has a CA of its own, so with no `[tls]` certificate configured the controller makes a
/// self-signed one on first start (P-256, ten years: agents pin it, so it is never checked against a CA or a date)
/// and keeps it next to the store. The technician copies the fingerprint into `rollcall-agent enrol --fingerprint`
/// or agent.toml; a school that has a CA configures its own certificate and agents name the CA file instead.
public struct ControllerCertificate: Sendable {
    public let certificatePath: String
    public let privateKeyPath: String
    /// "AB:CD:…": SHA-256 of the leaf certificate's DER, as `openssl x509 -fingerprint -sha256` prints it.
    public let fingerprint: String
    /// True when this start created the self-signed pair.
    public let created: Bool

    /// The pair `[tls]` names, or the self-signed pair next to the store, created if it is not there yet.
    public static func load(_ configuration: ControllerConfiguration) throws(CertificateError) -> ControllerCertificate {
        if let certificatePath = configuration.tls.certificatePath, let privateKeyPath = configuration.tls.privateKeyPath {
            return ControllerCertificate(certificatePath: certificatePath, privateKeyPath: privateKeyPath,
                                         fingerprint: try fingerprint(ofPEMFile: certificatePath), created: false)
        }
        let directory = URL(fileURLWithPath: configuration.storePath).deletingLastPathComponent().appendingPathComponent("tls").path
        let certificatePath = directory + "/controller.crt", privateKeyPath = directory + "/controller.key"
        let manager = FileManager.default
        var created = false
        switch (manager.fileExists(atPath: certificatePath), manager.fileExists(atPath: privateKeyPath)) {
        case (true, true): break
        case (false, false):
            try makeSelfSigned(certificatePath: certificatePath, privateKeyPath: privateKeyPath, host: configuration.host)
            created = true
        case (true, false), (false, true):
            throw CertificateError(path: directory, message: "holds only one of controller.crt and controller.key; restore the other from backup, or remove both to make a new pair (every agent will then need the new fingerprint)")
        }
        return ControllerCertificate(certificatePath: certificatePath, privateKeyPath: privateKeyPath,
                                     fingerprint: try fingerprint(ofPEMFile: certificatePath), created: created)
    }

    /// The server side of TLS: TLS 1.2 at least, the configured chain and key.
    public func serverConfiguration() throws(CertificateError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw CertificateError(path: certificatePath, message: "is not a PEM certificate: \(error)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw CertificateError(path: privateKeyPath, message: "is not a PEM private key (or is encrypted): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    static func fingerprint(ofPEMFile path: String) throws(CertificateError) -> String {
        let certificate: NIOSSLCertificate
        do {
            guard let first = try NIOSSLCertificate.fromPEMFile(path).first else {
                throw CertificateError(path: path, message: "holds no certificate")
            }
            certificate = first
        } catch let error as CertificateError {
            throw error
        } catch {
            throw CertificateError(path: path, message: "cannot be read as a PEM certificate: \(error)")
        }
        let der: [UInt8]
        do {
            der = try certificate.toDERBytes()
        } catch {
            throw CertificateError(path: path, message: "cannot be encoded as DER: \(error)")
        }
        return CertificateFingerprint.format(Array(SHA256.hash(data: der)))
    }

    private static func makeSelfSigned(certificatePath: String, privateKeyPath: String, host: String) throws(CertificateError) {
        let directory = URL(fileURLWithPath: certificatePath).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw CertificateError(path: directory, message: "cannot be created: \(error.localizedDescription)")
        }
        let key = P256.Signing.PrivateKey()
        let pem: String
        do {
            let machine = ProcessInfo.processInfo.hostName
            var names: [GeneralName] = [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                                        .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))]
            for name in Set([machine, host]) where !name.isEmpty && name != "localhost" && name != "0.0.0.0" && name != "::" {
                if let address = IPv4Address(name) {
                    names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address.bytes))))
                } else if !name.contains(":") {
                    names.append(.dnsName(name))
                }
            }
            let subject = try DistinguishedName {
                CommonName("Rollcall controller \(machine)")
                OrganizationName("Rollcall (self-signed)")
            }
            let now = Date()
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
                issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames(names)
                },
                issuerPrivateKey: .init(key))
            pem = try certificate.serializeAsPEM().pemString
        } catch {
            throw CertificateError(path: certificatePath, message: "could not be made: \(error)")
        }
        // The key first, created 0600 from the start, so it is never readable by others even for a moment.
        try write(key.pemRepresentation + "\n", to: privateKeyPath, mode: 0o600)
        try write(pem + "\n", to: certificatePath, mode: 0o644)
    }

    private static func write(_ text: String, to path: String, mode: mode_t) throws(CertificateError) {
        let temporary = path + ".new"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CertificateError(path: temporary, message: "cannot be created: \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CertificateError(path: path, message: "cannot be written: \(String(cString: strerror(errno)))")
        }
    }
}

/// A certificate or key the controller cannot use; names the file.
public struct CertificateError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String

    public var description: String { "TLS: \(path) \(message)" }
}

/// Just enough IPv4 parsing to put a configured listen address into the certificate.
private struct IPv4Address {
    let bytes: [UInt8]

    init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        self.bytes = bytes
    }
}
