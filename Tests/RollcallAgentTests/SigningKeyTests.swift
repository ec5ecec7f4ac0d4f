import Crypto
import Foundation
@testable import RollcallAgent
import Testing

@Suite("Agent signing key (libcrypto Ed25519)")
struct SigningKeyTests {
    static func bytes(_ hex: String) -> [UInt8] {
        stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
    }

    @Test("RFC 8032 test vector 1: the seed gives the published public key and signature")
    func rfc8032Vector() throws {
        let key = try SigningKey(rawRepresentation: Self.bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(key.publicKey == Self.bytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
        #expect(try key.signature(for: []) == Self.bytes(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"))
    }

    @Test("what the agent signs, the controller's swift-crypto verifies; a changed byte does not verify")
    func controllerVerifies() throws {
        let key = try SigningKey()
        let message = Array("rollcall-request-v1\nPOST\n/api/v1/reports\nd1\n1795478684\n00\nabc".utf8)
        let signature = try key.signature(for: message)
        let verifier = try Curve25519.Signing.PublicKey(rawRepresentation: key.publicKey)
        #expect(verifier.isValidSignature(signature, for: message))
        var changed = message
        changed[changed.count - 1] ^= 1
        #expect(!verifier.isValidSignature(signature, for: changed))
    }

    @Test("a key saved as its 32-byte seed loads back as the same key; swift-crypto seeds load too; 31 bytes do not")
    func seedRoundTrip() throws {
        let key = try SigningKey()
        #expect(key.rawRepresentation.count == 32)
        #expect(try SigningKey(rawRepresentation: key.rawRepresentation).publicKey == key.publicKey)
        let other = Curve25519.Signing.PrivateKey()
        #expect(try SigningKey(rawRepresentation: Array(other.rawRepresentation)).publicKey == Array(other.publicKey.rawRepresentation))
        #expect(throws: SigningKeyError.self) { try SigningKey(rawRepresentation: Array(repeating: 1, count: 31)) }
    }

    @Test("SHA-256 matches swift-crypto's")
    func sha256() throws {
        let key = try SigningKey()
        let body = Array("{\"schemaVersion\":1}".utf8)
        #expect(key.sha256(body) == Array(SHA256.hash(data: body)))
        #expect(key.sha256([]) == Array(SHA256.hash(data: [UInt8]())))
    }
}
