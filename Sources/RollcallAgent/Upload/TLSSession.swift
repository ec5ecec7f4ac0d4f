import COpenSSL
#if canImport(Glibc)
import Glibc
#endif
import RollcallProtocol

/// How the agent decides the controller's certificate is the right one.
public enum ControllerTrust: Sendable, Equatable {
    /// SHA-256 of the controller certificate's DER encoding (32 bytes): the fingerprint `rollcall serve` prints.
    /// No CA and no host name check: a school's controller usually has a self-signed certificate and is reached by
    /// whatever name or address the network gives it, and the pin names exactly one certificate, which is stronger.
    case pinned([UInt8])
    /// A PEM CA bundle: the chain must verify and the URL's host name (or IP address) must match the certificate.
    case caFile(String)
    /// The system trust store (SSL_CTX_set_default_verify_paths) with host name verification.
    case system
}

/// One TLS client connection over a socket the caller connected and still owns (and closes, after this is gone).
///
/// Owns its `SSL_CTX`, its `SSL` (which owns the BIO over the socket) and that BIO's method, and frees them in `deinit`,
/// also when `init` throws half way. A context per connection rather than one per agent: the agent uploads once an hour,
/// and with `.system` trust the context holds the parsed system CA bundle (about 850 KB of heap on Debian), which is then
/// returned between uploads instead of staying resident.
///
/// The first session in the process loads libssl (``OpenSSL``); each session keeps the loaded function table, so
/// `deinit` frees through the same functions `init` allocated with.
///
/// Not `Sendable`: an `SSL` must not be used from two threads at once, and its single owner (one `HTTPClient.send`
/// call) uses it from one thread from handshake to close. OpenSSL's error queue is per thread, which is what lets the
/// messages here drain it safely.
final class TLSSession {
    private let api: OpenSSL.Functions
    private let context: OpaquePointer
    private let connection: OpaquePointer
    private let socketMethod: OpaquePointer
    private let target: String
    private let timeoutSeconds: Int

    /// Connects TLS over `socket` and checks the controller's certificate per `trust`; returns only when the peer is
    /// trusted, so the caller cannot write a request byte to an unverified server.
    init(socket: Int32, host: String, trust: ControllerTrust, target: String, timeoutSeconds: Int) throws(UploadError) {
        let api: OpenSSL.Functions
        do {
            api = try OpenSSL.load()
        } catch {
            // Not .unreachable: the controller may well be up; this machine cannot speak https:// until libssl3 is installed.
            throw UploadError.unsupported(url: target, reason: error.description)
        }
        api.ERR_clear_error()
        guard let context = api.SSL_CTX_new(api.TLS_client_method()) else {
            throw UploadError.unreachable(url: target, reason: "cannot set up TLS: \(Self.drainErrors(api))")
        }
        guard let socketMethod = copenssl_nosignal_socket_method() else {
            api.SSL_CTX_free(context)
            throw UploadError.unreachable(url: target, reason: "cannot set up TLS: \(Self.drainErrors(api))")
        }
        guard let connection = api.SSL_new(context) else {
            api.BIO_meth_free(socketMethod)
            api.SSL_CTX_free(context)
            throw UploadError.unreachable(url: target, reason: "cannot set up TLS: \(Self.drainErrors(api))")
        }
        self.api = api
        self.context = context
        self.connection = connection
        self.socketMethod = socketMethod
        self.target = target
        self.timeoutSeconds = timeoutSeconds
        // From here every throw releases self, and deinit frees all three.

        guard copenssl_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw UploadError.unreachable(url: target, reason: "cannot require TLS 1.2: \(Self.drainErrors(api))")
        }
        let isAddress = Self.isIPAddress(host)
        switch trust {
        case .pinned(let pin):
            guard pin.count == 32 else {
                throw UploadError.untrusted(url: target, reason: "the pinned fingerprint has \(pin.count) bytes; a SHA-256 fingerprint has 32")
            }
            // The chain is not checked: the comparison after the handshake is the whole decision.
            api.SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        case .caFile(let path):
            guard api.SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
                throw UploadError.untrusted(url: target, reason: "cannot load the CA file \(path): \(Self.drainErrors(api))")
            }
            try expectName(host, isAddress: isAddress)
        case .system:
            guard api.SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw UploadError.untrusted(url: target, reason: "cannot load the system's trusted CAs: \(Self.drainErrors(api))")
            }
            try expectName(host, isAddress: isAddress)
        }
        // SNI carries names only (RFC 6066); sending an address makes some servers refuse the handshake.
        if !isAddress {
            guard copenssl_set_tlsext_host_name(connection, host) == 1 else {
                throw UploadError.unsupported(url: target, reason: "'\(host)' cannot be sent as a TLS server name: \(Self.drainErrors(api))")
            }
        }
        guard let bio = api.BIO_new(socketMethod) else {
            throw UploadError.unreachable(url: target, reason: "cannot set up TLS: \(Self.drainErrors(api))")
        }
        _ = copenssl_bio_set_fd(bio, socket, BIO_NOCLOSE)
        api.SSL_set_bio(connection, bio, bio)

        try handshake(host: host, trust: trust)
        try checkPeer(host: host, trust: trust)
        // After the handshake a close without close_notify is an end of stream like plain TCP's: the HTTP parser
        // decides from Content-Length or chunking whether the response is whole. During the handshake it stays an error.
        _ = api.SSL_set_options(connection, copenssl_op_ignore_unexpected_eof())
    }

    deinit {
        api.SSL_free(connection)
        api.BIO_meth_free(socketMethod)
        api.SSL_CTX_free(context)
    }

    /// Writes all of `bytes`, or throws `.timedOut` when the socket's SO_SNDTIMEO passes.
    func write(_ bytes: [UInt8]) throws(UploadError) {
        var offset = 0
        while offset < bytes.count {
            api.ERR_clear_error()
            var written = 0
            let result = bytes.withUnsafeBytes { raw in
                api.SSL_write_ex(connection, raw.baseAddress.map { $0 + offset }, raw.count - offset, &written)
            }
            let savedErrno = errno
            if result == 1 {
                offset += written
                continue
            }
            switch classify(api.SSL_get_error(connection, result), errno: savedErrno) {
            case .interrupted: continue
            case .timedOut: throw UploadError.timedOut(url: target, seconds: timeoutSeconds)
            case .closed: throw UploadError.unreachable(url: target, reason: "sending failed: the controller closed the connection")
            case .failed(let reason): throw UploadError.unreachable(url: target, reason: "sending failed: \(reason)")
            }
        }
    }

    /// Reads what is available into `buffer`; 0 at the end of the stream. Throws `.timedOut` when SO_RCVTIMEO passes.
    func read(into buffer: inout [UInt8]) throws(UploadError) -> Int {
        while true {
            api.ERR_clear_error()
            var count = 0
            let result = buffer.withUnsafeMutableBytes { raw in api.SSL_read_ex(connection, raw.baseAddress, raw.count, &count) }
            let savedErrno = errno
            if result == 1 { return count }
            switch classify(api.SSL_get_error(connection, result), errno: savedErrno) {
            case .interrupted: continue
            case .timedOut: throw UploadError.timedOut(url: target, seconds: timeoutSeconds)
            case .closed: return 0
            case .failed(let reason): throw UploadError.unreachable(url: target, reason: "reading failed: \(reason)")
            }
        }
    }

    /// Sends close_notify, best effort: the controller's TLS stack then sees an orderly end rather than a truncation.
    /// Does not wait for the controller's own close_notify; the response is already read.
    func close() {
        api.ERR_clear_error()
        _ = api.SSL_shutdown(connection)
        api.ERR_clear_error()
    }

    // MARK: Handshake and verification

    private func expectName(_ host: String, isAddress: Bool) throws(UploadError) {
        api.SSL_set_verify(connection, SSL_VERIFY_PEER, nil)
        if isAddress {
            // SSL_set1_host in OpenSSL 3.0 compares names only; an address must be matched against iPAddress entries.
            guard api.X509_VERIFY_PARAM_set1_ip_asc(api.SSL_get0_param(connection), host) == 1 else {
                throw UploadError.unsupported(url: target, reason: "'\(host)' is not an IP address OpenSSL accepts: \(Self.drainErrors(api))")
            }
        } else {
            api.SSL_set_hostflags(connection, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            guard api.SSL_set1_host(connection, host) == 1 else {
                throw UploadError.unsupported(url: target, reason: "'\(host)' cannot be checked against a certificate: \(Self.drainErrors(api))")
            }
        }
    }

    private func handshake(host: String, trust: ControllerTrust) throws(UploadError) {
        let hint = " — is the controller serving HTTPS on this port?"
        while true {
            api.ERR_clear_error()
            let result = api.SSL_connect(connection)
            let savedErrno = errno
            if result == 1 { return }
            let code = api.SSL_get_error(connection, result)
            if code == SSL_ERROR_SSL, let failure = verificationFailure(host: host, trust: trust) {
                api.ERR_clear_error()
                throw UploadError.untrusted(url: target, reason: failure)
            }
            switch classify(code, errno: savedErrno) {
            case .interrupted: continue
            case .timedOut: throw UploadError.timedOut(url: target, seconds: timeoutSeconds)
            case .closed: throw UploadError.unreachable(url: target, reason: "TLS handshake failed: the controller closed the connection\(hint)")
            case .failed(let reason):
                // Protocol errors (e.g. "wrong version number": the port answered in plain HTTP) are a server speaking
                // something else; socket errors are the network.
                if code == SSL_ERROR_SSL {
                    throw UploadError.badResponse(url: target, reason: "TLS handshake failed: \(reason)\(hint)")
                }
                throw UploadError.unreachable(url: target, reason: "TLS handshake failed: \(reason)\(hint)")
            }
        }
    }

    /// Why chain or name verification rejected the peer, for the CA modes; nil when it did not (or is not used).
    private func verificationFailure(host: String, trust: ControllerTrust) -> String? {
        let result = api.SSL_get_verify_result(connection)
        guard result != Int(X509_V_OK) else { return nil }
        let why = api.X509_verify_cert_error_string(result).map { String(cString: $0) } ?? "verification error \(result)"
        switch trust {
        case .pinned:
            return nil
        case .caFile(let path):
            return "its certificate does not verify against the CA file \(path) for host \(host): \(why). Check that the file holds the CA that signed the controller's certificate and that the certificate names \(host)"
        case .system:
            return "its certificate does not verify against the system's trusted CAs for host \(host): \(why). For a self-signed controller certificate, put the fingerprint `rollcall serve` prints in agent.toml's [controller] fingerprint"
        }
    }

    private func checkPeer(host: String, trust: ControllerTrust) throws(UploadError) {
        guard let certificate = api.SSL_get1_peer_certificate(connection) else {
            throw UploadError.untrusted(url: target, reason: "the controller presented no certificate")
        }
        defer { api.X509_free(certificate) }
        switch trust {
        case .pinned(let pin):
            let presented = try Self.fingerprint(certificate, api: api, target: target)
            let same = presented.count == pin.count && presented.withUnsafeBytes { left in
                pin.withUnsafeBytes { right in api.CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0 }
            }
            guard same else {
                throw UploadError.untrusted(url: target, reason: """
                    the controller presented a certificate with fingerprint SHA256:\(CertificateFingerprint.format(presented)), \
                    but the agent is pinned to SHA256:\(CertificateFingerprint.format(pin)). If the controller's certificate was \
                    replaced on purpose, put the new fingerprint in agent.toml's [controller] fingerprint; if not, something \
                    else is answering at this address
                    """)
            }
        case .caFile, .system:
            // SSL_VERIFY_PEER already failed the handshake otherwise; this guards against that setting ever being lost.
            if let failure = verificationFailure(host: host, trust: trust) {
                throw UploadError.untrusted(url: target, reason: failure)
            }
        }
    }

    /// SHA-256 of the certificate's DER encoding: what `openssl x509 -fingerprint -sha256` and `rollcall serve` print.
    /// Uses libcrypto's digest, already loaded for TLS, rather than a second SHA-256 implementation.
    static func fingerprint(_ certificate: OpaquePointer, api: OpenSSL.Functions, target: String) throws(UploadError) -> [UInt8] {
        let length = api.i2d_X509(certificate, nil)
        guard length > 0 else {
            throw UploadError.badResponse(url: target, reason: "the controller's certificate cannot be encoded: \(drainErrors(api))")
        }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return api.i2d_X509(certificate, &cursor)
        }
        guard written == length else {
            throw UploadError.badResponse(url: target, reason: "the controller's certificate cannot be encoded: \(drainErrors(api))")
        }
        return SigningKey.sha256(der, api: api)
    }

    // MARK: Errors

    private enum Failure {
        case interrupted
        case timedOut
        case closed
        case failed(String)
    }

    /// Maps SSL_get_error's answer (and the errno saved right after the call) onto what the HTTP client reports.
    /// The socket is blocking with SO_RCVTIMEO/SO_SNDTIMEO, so a timeout arrives as "want read/write" with EAGAIN.
    private func classify(_ code: Int32, errno savedErrno: Int32) -> Failure {
        switch code {
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            if savedErrno == EINTR { return .interrupted }
            return .timedOut
        case SSL_ERROR_SYSCALL:
            if savedErrno == EINTR { return .interrupted }
            if savedErrno == EAGAIN || savedErrno == EWOULDBLOCK { return .timedOut }
            let queued = Self.drainErrors(api)
            if savedErrno == 0 { return queued == "no detail from OpenSSL" ? .closed : .failed(queued) }
            return .failed(String(cString: strerror(savedErrno)))
        default:
            return .failed(Self.drainErrors(api))
        }
    }

    /// Empties this thread's OpenSSL error queue into one line, so no stale error is blamed on a later call.
    static func drainErrors(_ api: OpenSSL.Functions) -> String {
        var messages: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while case let code = api.ERR_get_error(), code != 0 {
            buffer.withUnsafeMutableBufferPointer { api.ERR_error_string_n(code, $0.baseAddress, $0.count) }
            let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if !messages.contains(message) { messages.append(message) }
        }
        return messages.isEmpty ? "no detail from OpenSSL" : messages.joined(separator: "; ")
    }

    /// Whether `host` is a literal address: those get no SNI and are matched against the certificate's iPAddress names.
    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
