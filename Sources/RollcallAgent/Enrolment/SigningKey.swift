import COpenSSL

/// The agent's Ed25519 key, over Debian's libcrypto.
///
/// Why not swift-crypto, as the controller uses: the agent already loads libcrypto for TLS, and linking a second
/// copy (swift-crypto's BoringSSL) grew the agent's binary by 14 MB and its resident memory by about 2 MB
/// (measured on `rollcall-agent inventory`, release). The bytes are the same either way: a 32-byte seed and a
/// 32-byte public key (RFC 8032), so the controller verifies with swift-crypto what this signs.
///
/// `@unchecked Sendable`: the `EVP_PKEY` is never changed after `init`, OpenSSL documents a key as safe to use
/// from several threads for reading, and each signature makes (and frees) its own `EVP_MD_CTX`.
final class SigningKey: @unchecked Sendable {
    private let key: OpaquePointer

    /// A new random key (libcrypto's CSPRNG).
    init() throws(SigningKeyError) {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else { throw .failed("cannot make a key context", Self.drainErrors()) }
        defer { EVP_PKEY_CTX_free(context) }
        var made: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &made) == 1, let made else {
            throw .failed("cannot generate an Ed25519 key", Self.drainErrors())
        }
        key = made
    }

    /// The key kept in `agent.key`: its 32-byte seed.
    init(rawRepresentation seed: [UInt8]) throws(SigningKeyError) {
        guard seed.count == 32 else { throw .failed("an Ed25519 private key is 32 bytes, not \(seed.count)", "") }
        guard let loaded = seed.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count) }) else {
            throw .failed("not an Ed25519 private key", Self.drainErrors())
        }
        key = loaded
    }

    deinit {
        EVP_PKEY_free(key)
    }

    var rawRepresentation: [UInt8] { raw(EVP_PKEY_get_raw_private_key) }

    var publicKey: [UInt8] { raw(EVP_PKEY_get_raw_public_key) }

    func signature(for message: [UInt8]) throws(SigningKeyError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw .failed("cannot make a signing context", Self.drainErrors()) }
        defer { EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        let signed = message.withUnsafeBufferPointer { input in
            signature.withUnsafeMutableBufferPointer { output in
                EVP_DigestSignInit(context, nil, nil, nil, key) == 1
                    && EVP_DigestSign(context, output.baseAddress, &length, input.baseAddress, input.count) == 1
            }
        }
        guard signed, length == 64 else { throw .failed("cannot sign", Self.drainErrors()) }
        return signature
    }

    private func raw(_ read: (OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Int>?) -> Int32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        var length = bytes.count
        _ = bytes.withUnsafeMutableBufferPointer { read(key, $0.baseAddress, &length) }
        return Array(bytes.prefix(length))
    }

    /// SHA-256 of `bytes` (request bodies, the controller's certificate).
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let hashed = bytes.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { EVP_Digest(input.baseAddress, input.count, $0.baseAddress, &length, EVP_sha256(), nil) }
        }
        // EVP_Digest with SHA-256 over memory fails only if libcrypto itself is broken.
        precondition(hashed == 1 && length == 32, "libcrypto could not compute SHA-256")
        return digest
    }

    static func drainErrors() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.joined(separator: "; ")
    }
}

public struct SigningKeyError: Error, Sendable, CustomStringConvertible {
    let what: String
    let openSSL: String

    static func failed(_ what: String, _ openSSL: String) -> SigningKeyError { SigningKeyError(what: what, openSSL: openSSL) }

    public var description: String { "Ed25519: \(what)" + (openSSL.isEmpty ? "" : " (\(openSSL))") }
}
