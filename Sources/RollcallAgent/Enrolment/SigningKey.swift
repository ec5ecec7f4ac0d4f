import COpenSSL

/// The agent's Ed25519 key, over Debian's libcrypto.
///
/// Why not swift-crypto, as the controller uses: the agent already loads libcrypto for TLS, and linking a second
/// copy (swift-crypto's BoringSSL) grew the agent's binary by 14 MB and its resident memory by about 2 MB
/// (measured on `rollcall-agent inventory`, release). The bytes are the same either way: a 32-byte seed and a
/// 32-byte public key (RFC 8032), so the controller verifies with swift-crypto what this signs.
///
/// libcrypto is loaded (``OpenSSL``) by the first key the process makes, not at start: `inventory` and `--version`
/// never need it. Each key keeps the loaded function table, so `deinit` frees with the library that allocated.
///
/// `@unchecked Sendable`: the `EVP_PKEY` is never changed after `init`, OpenSSL documents a key as safe to use
/// from several threads for reading, and each signature makes (and frees) its own `EVP_MD_CTX`. The function table is
/// immutable plain function pointers.
final class SigningKey: @unchecked Sendable {
    private let api: OpenSSL.Functions
    private let key: OpaquePointer

    /// A new random key (libcrypto's CSPRNG).
    init() throws(SigningKeyError) {
        let api = try Self.loadOpenSSL()
        guard let context = api.EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else { throw .failed("cannot make a key context", Self.drainErrors(api)) }
        defer { api.EVP_PKEY_CTX_free(context) }
        var made: OpaquePointer?
        guard api.EVP_PKEY_keygen_init(context) == 1, api.EVP_PKEY_keygen(context, &made) == 1, let made else {
            throw .failed("cannot generate an Ed25519 key", Self.drainErrors(api))
        }
        self.api = api
        key = made
    }

    /// The key kept in `agent.key`: its 32-byte seed.
    init(rawRepresentation seed: [UInt8]) throws(SigningKeyError) {
        guard seed.count == 32 else { throw .failed("an Ed25519 private key is 32 bytes, not \(seed.count)", "") }
        let api = try Self.loadOpenSSL()
        guard let loaded = seed.withUnsafeBufferPointer({ api.EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count) }) else {
            throw .failed("not an Ed25519 private key", Self.drainErrors(api))
        }
        self.api = api
        key = loaded
    }

    deinit {
        api.EVP_PKEY_free(key)
    }

    var rawRepresentation: [UInt8] { raw(api.EVP_PKEY_get_raw_private_key) }

    var publicKey: [UInt8] { raw(api.EVP_PKEY_get_raw_public_key) }

    func signature(for message: [UInt8]) throws(SigningKeyError) -> [UInt8] {
        guard let context = api.EVP_MD_CTX_new() else { throw .failed("cannot make a signing context", Self.drainErrors(api)) }
        defer { api.EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        let signed = message.withUnsafeBufferPointer { input in
            signature.withUnsafeMutableBufferPointer { output in
                api.EVP_DigestSignInit(context, nil, nil, nil, key) == 1
                    && api.EVP_DigestSign(context, output.baseAddress, &length, input.baseAddress, input.count) == 1
            }
        }
        guard signed, length == 64 else { throw .failed("cannot sign", Self.drainErrors(api)) }
        return signature
    }

    private func raw(_ read: (OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Int>?) -> Int32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        var length = bytes.count
        _ = bytes.withUnsafeMutableBufferPointer { read(key, $0.baseAddress, &length) }
        return Array(bytes.prefix(length))
    }

    /// SHA-256 of a request body, with the libcrypto this key already loaded.
    func sha256(_ bytes: [UInt8]) -> [UInt8] {
        Self.sha256(bytes, api: api)
    }

    /// SHA-256 of `bytes` through a loaded table: whoever hashes (a key, a TLS session) has loaded libcrypto
    /// already, so hashing cannot fail for want of the library.
    static func sha256(_ bytes: [UInt8], api: OpenSSL.Functions) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let hashed = bytes.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { api.EVP_Digest(input.baseAddress, input.count, $0.baseAddress, &length, api.EVP_sha256(), nil) }
        }
        // safe: EVP_Digest with the built-in SHA-256 over bytes in memory has no failure path short of libcrypto
        // being unable to allocate a digest context, i.e. the process is out of memory.
        precondition(hashed == 1 && length == 32, "libcrypto could not compute SHA-256")
        return digest
    }

    /// The library, or the reason it cannot be loaded as this type's error: "Ed25519: cannot load libssl.so.3 …".
    private static func loadOpenSSL() throws(SigningKeyError) -> OpenSSL.Functions {
        do {
            return try OpenSSL.load()
        } catch {
            throw .failed(error.description, "")
        }
    }

    static func drainErrors(_ api: OpenSSL.Functions) -> String {
        var messages: [String] = []
        while case let code = api.ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            api.ERR_error_string_n(code, &buffer, buffer.count)
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
