import COpenSSL

/// Debian's libssl and libcrypto, loaded with dlopen the first time the agent needs TLS, Ed25519 or SHA-256.
///
/// Why not linked: as DT_NEEDED libraries they cost every agent process about 1.8 MB of resident memory from the
/// start, also `rollcall-agent inventory` and `--version`, which never use them (`inventory` went from 12.0 MB to
/// 14.1 MB peak against a 13 MB budget). Loaded on first use, a command that never needs them never maps them.
/// Once loaded they stay loaded for the life of the process.
///
/// The agent calls OpenSSL only through the table `load()` returns (`functions.SSL_new(...)`): it no longer links the
/// real symbols, so a direct call (`SSL_new(...)`) fails to link rather than quietly bringing libssl back at start.
enum OpenSSL {
    /// One pointer per OpenSSL function the agent calls, typed as OpenSSL declares it (COpenSSL.h lists them).
    /// Immutable plain function pointers: a copy is as good as the original, on any thread.
    typealias Functions = COpenSSLFunctions

    /// libssl.so.3 (or libcrypto.so.3, or one of the functions the agent calls) is missing.
    struct Unavailable: Error, Sendable, CustomStringConvertible {
        /// dlerror's text: which file is missing, or which symbol.
        let detail: String

        var description: String { "cannot load \(COPENSSL_LIBRARY) (install libssl3): \(detail)" }
    }

    /// The loaded functions. The first call in the process loads the library; every later call (from any thread)
    /// returns the same table, or the same error, at the cost of a pthread_once check.
    static func load() throws(Unavailable) -> Functions {
        guard let functions = copenssl_load() else {
            throw Unavailable(detail: String(cString: copenssl_load_error()))
        }
        return functions.pointee
    }
}
