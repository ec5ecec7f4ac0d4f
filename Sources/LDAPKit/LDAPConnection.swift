import CLDAP
#if canImport(Glibc)
import Glibc
#endif

/// Owns one `LDAP *` and unbinds it exactly once.
///
/// The handle lives inside the ``LDAPConnection`` actor rather than relying on libldap's own locking for a shared
/// handle: one connection, one owner, calls in order.
final class LDAPHandle {
    let raw: OpaquePointer

    init(takingOwnership raw: OpaquePointer) {
        self.raw = raw
    }

    deinit {
        ldap_unbind_ext_s(raw, nil, nil)
    }
}

@available(*, unavailable, message: "An LDAP handle belongs to one LDAPConnection actor.")
extension LDAPHandle: Sendable {}

/// How to reach and trust the directory.
public struct LDAPConnectionOptions: Sendable, Equatable {
    public enum Security: Sendable, Equatable {
        /// `ldap://` as is, or `ldapi://` (a local socket), or `ldaps://` (TLS from the first byte, from the URL).
        case asInURL
        /// `ldap://` upgraded with the StartTLS extended operation before any bind.
        case startTLS
    }

    public var security: Security = .asInURL
    /// PEM file of the CA that signed the server's certificate; nil uses the system's trust store.
    public var caFile: String?
    /// Seconds to wait for a connection and for each operation.
    public var timeoutSeconds: Int = 10
    /// Active Directory: send the domain-scope control (1.2.840.113556.1.4.1339) with every search, so a search from
    /// the domain's root is not answered with continuation references to the Configuration and DNS partitions,
    /// which hold no people. Without it those references are errors (a sync must not look complete when it is not).
    public var domainScope = false

    public init(security: Security = .asInURL, caFile: String? = nil, timeoutSeconds: Int = 10, domainScope: Bool = false) {
        self.security = security
        self.caFile = caFile
        self.timeoutSeconds = timeoutSeconds
        self.domainScope = domainScope
    }

    /// Whether a connection to `url` with these options is protected by TLS: an `ldaps://` URL, or StartTLS.
    public func encrypts(url: String) -> Bool {
        security == .startTLS || url.lowercased().hasPrefix("ldaps://")
    }
}

/// A connection to an LDAP directory (OpenLDAP or Active Directory) through Debian's libldap.
///
/// Calls block the actor's current thread for at most the configured timeout; a directory sync is a sequence of
/// dependent calls, so there is nothing to interleave. The one overlap is a paged search's: the next page is requested
/// as soon as the current one arrives, so the server prepares it while the caller works. For example:
/// ```swift
/// let directory = try LDAPConnection(url: "ldap://127.0.0.1:3890", options: .init(security: .startTLS))
/// try await directory.simpleBind(dn: "cn=admin,dc=school,dc=test", password: password)
/// for try await entry in await directory.search(base: "ou=staff,dc=school,dc=test", filter: "(objectClass=person)") {
///     print(entry.dn)
/// }
/// ```
public actor LDAPConnection {
    private let handle: LDAPHandle
    public nonisolated let url: String
    /// Whether the connection is protected by TLS (an `ldaps://` URL, or StartTLS done at connect), as Active
    /// Directory demands before it takes a password (`unicodePwd`).
    public nonisolated let isEncrypted: Bool
    private let timeoutSeconds: Int
    private let domainScope: Bool

    /// Connects (lazily: libldap opens the socket on the first operation, or now with StartTLS).
    /// - Throws: ``LDAPError`` with operation `.connect` for a malformed URL or bad TLS settings.
    public init(url: String, options: LDAPConnectionOptions = LDAPConnectionOptions()) throws(LDAPError) {
        var raw: OpaquePointer?
        let code = ldap_initialize(&raw, url)
        guard code == LDAP_SUCCESS, let raw else {
            throw LDAPError(code: code, operation: .connect, target: url, diagnostic: "not a valid LDAP URL (ldap://, ldaps://, ldapi://)")
        }
        let handle = LDAPHandle(takingOwnership: raw)
        self.handle = handle
        self.url = url
        self.timeoutSeconds = options.timeoutSeconds
        self.isEncrypted = options.encrypts(url: url)
        self.domainScope = options.domainScope
        var version: Int32 = LDAP_VERSION3
        try Self.set(handle, LDAP_OPT_PROTOCOL_VERSION, &version, url)
        try Self.set(handle, LDAP_OPT_REFERRALS, cldap_opt_off(), url)
        var network = timeval(tv_sec: options.timeoutSeconds, tv_usec: 0)
        try Self.set(handle, LDAP_OPT_NETWORK_TIMEOUT, &network, url)
        var operation = timeval(tv_sec: options.timeoutSeconds, tv_usec: 0)
        try Self.set(handle, LDAP_OPT_TIMEOUT, &operation, url)
        if let caFile = options.caFile {
            let code = caFile.withCString { path in ldap_set_option(raw, LDAP_OPT_X_TLS_CACERTFILE, path) }
            guard code == LDAP_OPT_SUCCESS else {
                throw LDAPError(code: code, operation: .option, target: url, diagnostic: "cannot use CA file \(caFile)")
            }
            var demand: Int32 = LDAP_OPT_X_TLS_DEMAND
            try Self.set(handle, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand, url)
            var newContext: Int32 = 0
            try Self.set(handle, LDAP_OPT_X_TLS_NEWCTX, &newContext, url)
        }
        if options.security == .startTLS {
            let code = ldap_start_tls_s(raw, nil, nil)
            guard code == LDAP_SUCCESS else {
                throw LDAPError(code: code, operation: .startTLS, target: url, diagnostic: Self.diagnostic(handle))
            }
        }
    }

    private static func set(_ handle: LDAPHandle, _ option: Int32, _ value: UnsafeRawPointer?, _ url: String) throws(LDAPError) {
        let code = ldap_set_option(handle.raw, option, value)
        guard code == LDAP_OPT_SUCCESS else {
            throw LDAPError(code: code, operation: .option, target: url, diagnostic: "option 0x\(String(option, radix: 16)) refused")
        }
    }

    /// The diagnostic message libldap kept from the last operation.
    private static func diagnostic(_ handle: LDAPHandle) -> String? {
        var message: UnsafeMutablePointer<CChar>?
        guard ldap_get_option(handle.raw, LDAP_OPT_DIAGNOSTIC_MESSAGE, &message) == LDAP_OPT_SUCCESS, let message else { return nil }
        defer { ldap_memfree(message) }
        return String(cString: message)
    }

    /// With ldaps://, a failed TLS handshake reaches the caller as "server down"; say so.
    private func contactDiagnostic(_ code: Int32) -> String? {
        let diagnostic = Self.diagnostic(handle)
        guard code == LDAP_SERVER_DOWN, url.lowercased().hasPrefix("ldaps://") else { return diagnostic }
        let tls = "with ldaps:// this is also how a failed TLS handshake shows: check ca_file and that the certificate names this host"
        return [diagnostic, tls].compactMap { $0 }.joined(separator: "; ")
    }

    private var operationTimeout: timeval { timeval(tv_sec: timeoutSeconds, tv_usec: 0) }

    // MARK: Binding

    /// Simple bind with a DN (or, for Active Directory, `user@REALM`) and password, asking for the password policy.
    ///
    /// - Returns: what the password policy said (a bind can succeed and still require a password change).
    /// - Throws: ``LDAPError`` with the result code, e.g. `invalidCredentials (49) binding as uid=...`.
    @discardableResult
    public func simpleBind(dn: String, password: String) throws(LDAPError) -> PasswordPolicyResponse {
        var policyRequest: UnsafeMutablePointer<LDAPControl>?
        guard ldap_create_passwordpolicy_control(handle.raw, &policyRequest) == LDAP_SUCCESS, let policyRequest else {
            throw LDAPError(code: LDAP_NO_MEMORY, operation: .bind, target: dn)
        }
        defer { ldap_control_free(policyRequest) }
        var serverControls: [UnsafeMutablePointer<LDAPControl>?] = [policyRequest, nil]
        var passwordBytes = Array(password.utf8)
        defer { for index in passwordBytes.indices { passwordBytes[index] = 0 } }
        var messageID: Int32 = 0
        let sent = passwordBytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var credentials = berval(bv_len: ber_len_t(buffer.count), bv_val: UnsafeMutableRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self))
            return ldap_sasl_bind(handle.raw, dn, nil, &credentials, &serverControls, nil, &messageID)
        }
        guard sent == LDAP_SUCCESS else {
            throw LDAPError(code: sent, operation: .bind, target: dn, diagnostic: contactDiagnostic(sent))
        }
        var timeout = operationTimeout
        var result: OpaquePointer?
        let kind = ldap_result(handle.raw, messageID, LDAP_MSG_ALL, &timeout, &result)
        guard kind > 0, let result else {
            if let result { ldap_msgfree(result) }
            let code = kind == 0 ? LDAP_TIMEOUT : LDAP_SERVER_DOWN
            throw LDAPError(code: code, operation: .bind, target: dn, diagnostic: contactDiagnostic(code))
        }
        var resultCode: Int32 = 0
        var diagnosticMessage: UnsafeMutablePointer<CChar>?
        var responseControls: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
        let parsed = ldap_parse_result(handle.raw, result, &resultCode, nil, &diagnosticMessage, nil, &responseControls, 1)
        defer {
            if let diagnosticMessage { ldap_memfree(diagnosticMessage) }
            if let responseControls { ldap_controls_free(responseControls) }
        }
        guard parsed == LDAP_SUCCESS else {
            throw LDAPError(code: parsed, operation: .bind, target: dn, diagnostic: Self.diagnostic(handle))
        }
        let policy = Self.passwordPolicy(handle, responseControls)
        guard resultCode == LDAP_SUCCESS else {
            var message = diagnosticMessage.map { String(cString: $0) } ?? ""
            if policy.error == .accountLocked { message = message.isEmpty ? "account locked" : message + " (account locked)" }
            throw LDAPError(code: resultCode, operation: .bind, target: dn, diagnostic: message)
        }
        return policy
    }

    private static func passwordPolicy(_ handle: LDAPHandle, _ controls: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?) -> PasswordPolicyResponse {
        var response = PasswordPolicyResponse()
        guard let controls, let control = ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE, controls, nil) else { return response }
        var expire: ber_int_t = -1
        var grace: ber_int_t = -1
        var error = PP_noError
        guard ldap_parse_passwordpolicy_control(handle.raw, control, &expire, &grace, &error) == LDAP_SUCCESS else { return response }
        if expire >= 0 { response.secondsUntilExpiry = Int(expire) }
        if grace >= 0 { response.graceLoginsRemaining = Int(grace) }
        if error != PP_noError { response.error = PasswordPolicyResponse.PolicyError(rawValue: Int32(error.rawValue)) }
        return response
    }

    /// SASL EXTERNAL: over `ldapi://`, the server maps the connecting process's uid/gid to an identity
    /// (root becomes `gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth`).
    public func externalBind() throws(LDAPError) {
        let code = cldap_sasl_external_bind(handle.raw)
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .bind, target: "SASL EXTERNAL on \(url)", diagnostic: Self.diagnostic(handle))
        }
    }

    /// The authorization identity of this connection (RFC 4532), e.g. `dn:cn=admin,dc=school,dc=test`.
    public func whoAmI() throws(LDAPError) -> String {
        var identity: UnsafeMutablePointer<berval>?
        let code = ldap_whoami_s(handle.raw, &identity, nil, nil)
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .whoAmI, target: url, diagnostic: Self.diagnostic(handle))
        }
        guard let identity else { return "" }
        defer { ber_bvfree(identity) }
        return Self.string(identity.pointee)
    }

    // MARK: Searching

    /// A paged search (RFC 2696) as an async sequence of entries: one page of `pageSize` entries is held at a time,
    /// so reading 50,000 pupils does not hold 50,000 entries in memory.
    public nonisolated func search(
        base: String, scope: LDAPScope = .subtree, filter: String = "(objectClass=*)", attributes: [String] = [],
        pageSize: Int = 500
    ) -> LDAPSearch {
        LDAPSearch(connection: self, request: LDAPSearch.Request(base: base, scope: scope, filter: filter, attributes: attributes, pageSize: pageSize))
    }

    /// All entries of a search, for results known to be small.
    public func searchAll(base: String, scope: LDAPScope = .subtree, filter: String = "(objectClass=*)", attributes: [String] = []) async throws -> [LDAPEntry] {
        var entries: [LDAPEntry] = []
        for try await entry in search(base: base, scope: scope, filter: filter, attributes: attributes) { entries.append(entry) }
        return entries
    }

    /// Message ids of page requests sent and not yet received. A caller that stops iterating leaves its prefetched
    /// page here; it is abandoned when the next search starts, so the server stops working on it and libldap does not
    /// hold its answer until the connection closes.
    private var pagesInFlight: Set<Int32> = []
    private var readingAhead = false

    private static func sockbuf(_ handle: LDAPHandle) -> OpaquePointer? {
        var sockbuf: OpaquePointer?
        guard ldap_get_option(handle.raw, LDAP_OPT_SOCKBUF, &sockbuf) == LDAP_OPT_SUCCESS else { return nil }
        return sockbuf
    }

    /// Sends one page request (RFC 2696) without waiting for the answer; returns its message id.
    func sendPage(_ request: LDAPSearch.Request, cookie: [UInt8]?) throws(LDAPError) -> Int32 {
        if cookie == nil { abandonPagesInFlight() }
        if !readingAhead, let sockbuf = Self.sockbuf(handle) {
            _ = cldap_read_ahead(sockbuf)
            readingAhead = true
        }
        // C-owned scratch memory for the call, freed on every path (no Swift closures capture the out-parameters).
        let cookieBytes = cookie ?? []
        let cookieBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(cookieBytes.count, 1))
        defer { cookieBuffer.deallocate() }
        for (index, byte) in cookieBytes.enumerated() { cookieBuffer[index] = CChar(bitPattern: byte) }
        let cookieValue = UnsafeMutablePointer<berval>.allocate(capacity: 1)
        defer { cookieValue.deallocate() }
        cookieValue.initialize(to: berval(bv_len: ber_len_t(cookieBytes.count), bv_val: cookieBuffer))
        var pageControl: UnsafeMutablePointer<LDAPControl>?
        let created = ldap_create_page_control(handle.raw, ber_int_t(request.pageSize), cookie == nil ? nil : cookieValue, 0, &pageControl)
        guard created == LDAP_SUCCESS, let pageControl else {
            throw LDAPError(code: created, operation: .search, target: request.base, diagnostic: "cannot build the paged-results control")
        }
        defer { ldap_control_free(pageControl) }
        var scopeControl: UnsafeMutablePointer<LDAPControl>?
        if domainScope {
            let created = ldap_control_create("1.2.840.113556.1.4.1339", 0, nil, 0, &scopeControl)
            guard created == LDAP_SUCCESS else {
                throw LDAPError(code: created, operation: .search, target: request.base, diagnostic: "cannot build the domain-scope control")
            }
        }
        defer { if let scopeControl { ldap_control_free(scopeControl) } }
        let serverControls = UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>.allocate(capacity: 3)
        defer { serverControls.deallocate() }
        serverControls[0] = pageControl
        serverControls[1] = scopeControl
        serverControls[2] = nil

        let attributeNames = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: request.attributes.count + 1)
        defer {
            for index in 0..<request.attributes.count { free(attributeNames[index]) }
            attributeNames.deallocate()
        }
        for (index, name) in request.attributes.enumerated() { attributeNames[index] = strdup(name) }
        attributeNames[request.attributes.count] = nil
        let scope: Int32 = switch request.scope {
        case .base: LDAP_SCOPE_BASE
        case .oneLevel: LDAP_SCOPE_ONELEVEL
        case .subtree: LDAP_SCOPE_SUBTREE
        }
        var timeout = operationTimeout
        var messageID: Int32 = 0
        let code = ldap_search_ext(handle.raw, request.base, scope, request.filter, request.attributes.isEmpty ? nil : attributeNames,
                                   0, serverControls, nil, &timeout, LDAP_NO_LIMIT, &messageID)
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .search, target: request.target, diagnostic: contactDiagnostic(code))
        }
        pagesInFlight.insert(messageID)
        return messageID
    }

    /// Waits for the page sent as `messageID`; when the server says there is more, sends the next request before
    /// turning this page into entries, so the server prepares page n + 1 while the caller works through page n.
    func receivePage(_ request: LDAPSearch.Request, messageID: Int32) throws(LDAPError) -> (entries: [LDAPEntry], next: Int32?) {
        var timeout = operationTimeout
        var result: OpaquePointer?
        let received = ldap_result(handle.raw, messageID, LDAP_MSG_ALL, &timeout, &result)
        defer { if let result { ldap_msgfree(result) } }
        pagesInFlight.remove(messageID)
        guard received > 0, let result else {
            if received == 0 { ldap_abandon_ext(handle.raw, messageID, nil, nil) }
            var code: Int32 = LDAP_TIMEOUT
            if received < 0 { ldap_get_option(handle.raw, LDAP_OPT_RESULT_CODE, &code) }
            throw LDAPError(code: code, operation: .search, target: request.target,
                            diagnostic: received == 0 ? "no answer within \(timeoutSeconds) s" : contactDiagnostic(code))
        }
        var code: Int32 = LDAP_OTHER
        var serverMessage: UnsafeMutablePointer<CChar>?
        var referrals: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let parsed = ldap_parse_result(handle.raw, result, &code, nil, &serverMessage, &referrals, nil, 0)
        defer {
            if let serverMessage { ldap_memfree(serverMessage) }
            if let referrals { ldap_memvfree(UnsafeMutablePointer(OpaquePointer(referrals))) }
        }
        guard parsed == LDAP_SUCCESS else {
            throw LDAPError(code: parsed, operation: .search, target: request.target, diagnostic: "cannot parse the server's answer")
        }
        if code == LDAP_REFERRAL {
            throw LDAPError(code: code, operation: .search, target: request.target, diagnostic: Self.referralText(referrals.map(Self.strings) ?? []))
        }
        guard code == LDAP_SUCCESS else {
            let text = serverMessage.map { String(cString: $0) }
            throw LDAPError(code: code, operation: .search, target: request.target, diagnostic: text?.isEmpty == false ? text : nil)
        }
        // A continuation reference means part of the subtree lives on another server; skipping it silently would make
        // a sync look complete when it is not, so it is an error naming where the rest is.
        var references: [String] = []
        var message = ldap_first_message(handle.raw, result)
        while let current = message {
            if ldap_msgtype(current) == LDAP_RES_SEARCH_REFERENCE {
                var urls: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
                if ldap_parse_reference(handle.raw, current, &urls, nil, 0) == LDAP_SUCCESS, let urls {
                    references += Self.strings(urls)
                    ldap_memvfree(UnsafeMutablePointer(OpaquePointer(urls)))
                }
            }
            message = ldap_next_message(handle.raw, current)
        }
        guard references.isEmpty else {
            throw LDAPError(code: LDAP_REFERRAL, operation: .search, target: request.target, diagnostic: Self.referralText(references))
        }
        let next = try Self.nextCookie(handle, result).map { cookie throws(LDAPError) in try sendPage(request, cookie: cookie) }
        var entries: [LDAPEntry] = []
        entries.reserveCapacity(Int(ldap_count_entries(handle.raw, result)))
        var entry = ldap_first_entry(handle.raw, result)
        while let current = entry {
            entries.append(Self.entry(handle, current, requested: request.attributes))
            entry = ldap_next_entry(handle.raw, current)
        }
        return (entries, next)
    }

    private func abandonPagesInFlight() {
        for messageID in pagesInFlight { ldap_abandon_ext(handle.raw, messageID, nil, nil) }
        pagesInFlight.removeAll()
    }

    private static func referralText(_ urls: [String]) -> String {
        urls.isEmpty ? "the server answered with a referral" : "the server refers this to " + urls.joined(separator: ", ")
    }

    private static func strings(_ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> [String] {
        var result: [String] = []
        var index = 0
        while let item = list[index] {
            result.append(String(cString: item))
            index += 1
        }
        return result
    }

    /// One entry by DN, or nil when there is none (a base-scope search; `noSuchObject` is not an error here).
    public func entry(dn: String, attributes: [String] = []) throws(LDAPError) -> LDAPEntry? {
        do {
            let request = LDAPSearch.Request(base: dn, scope: .base, filter: "(objectClass=*)", attributes: attributes, pageSize: 1)
            return try receivePage(request, messageID: sendPage(request, cookie: nil)).entries.first
        } catch where error.code == LDAP_NO_SUCH_OBJECT {
            return nil
        }
    }

    /// Attribute names take the spelling the caller asked for when they match it, so its lookups hit exactly.
    ///
    /// One pass over the entry's BER, as ldapsearch reads it: `ldap_get_values_len` per attribute would scan the entry
    /// from its start each time.
    private static func entry(_ handle: LDAPHandle, _ message: OpaquePointer, requested: [String]) -> LDAPEntry {
        var ber: OpaquePointer?
        var dnValue = berval()
        defer { if let ber { ber_free(ber, 0) } }
        guard ldap_get_dn_ber(handle.raw, message, &ber, &dnValue) == LDAP_SUCCESS else { return LDAPEntry(dn: "", attributes: []) }
        var attributes: [LDAPEntry.Attribute] = []
        attributes.reserveCapacity(requested.isEmpty ? 16 : requested.count)
        var name = berval()
        var values: UnsafeMutablePointer<berval>?
        while ldap_get_attribute_ber(handle.raw, message, ber, &name, &values) == LDAP_SUCCESS, name.bv_val != nil {
            let returned = string(name)
            let attribute = requested.contains(returned) ? returned : requested.first { LDAPEntry.sameName($0, returned) } ?? returned
            var list: [[UInt8]] = []
            if let values {
                var index = 0
                while values[index].bv_val != nil {
                    list.append(bytes(values[index]))
                    index += 1
                }
                ber_memfree(values)
            }
            values = nil
            attributes.append(LDAPEntry.Attribute(name: attribute, values: list))
        }
        return LDAPEntry(dn: string(dnValue), attributes: attributes)
    }

    /// The cookie of the server's paged-results response; nil when this was the last page.
    private static func nextCookie(_ handle: LDAPHandle, _ result: OpaquePointer) -> [UInt8]? {
        var controls: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
        var resultCode: Int32 = 0
        guard ldap_parse_result(handle.raw, result, &resultCode, nil, nil, nil, &controls, 0) == LDAP_SUCCESS, let controls else { return nil }
        defer { ldap_controls_free(controls) }
        guard let control = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, controls, nil) else { return nil }
        var count: ber_int_t = 0
        var cookie = berval(bv_len: 0, bv_val: nil)
        guard ldap_parse_pageresponse_control(handle.raw, control, &count, &cookie) == LDAP_SUCCESS else { return nil }
        defer { if let value = cookie.bv_val { ber_memfree(value) } }
        let bytes = bytes(cookie)
        return bytes.isEmpty ? nil : bytes
    }

    static func bytes(_ value: berval) -> [UInt8] {
        guard let pointer = value.bv_val, value.bv_len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: Int(value.bv_len)))
    }

    static func string(_ value: berval) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    // MARK: Changing

    /// Applies all `modifications` to one entry atomically (the server applies all or none).
    public func modify(dn: String, _ modifications: [LDAPModification]) throws(LDAPError) {
        let code = Self.withMods(modifications) { mods in ldap_modify_ext_s(handle.raw, dn, mods, nil, nil) }
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .modify, target: dn, diagnostic: Self.diagnostic(handle))
        }
    }

    /// Adds an entry with the given attributes (each a list of text values).
    public func add(dn: String, attributes: [(String, [String])]) throws(LDAPError) {
        let modifications = attributes.map { LDAPModification.add($0.0, $0.1) }
        let code = Self.withMods(modifications) { mods in ldap_add_ext_s(handle.raw, dn, mods, nil, nil) }
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .add, target: dn, diagnostic: Self.diagnostic(handle))
        }
    }

    /// Adds an entry whose values may be binary, e.g. Active Directory's `unicodePwd` (the quoted password in UTF-16LE).
    /// Every value buffer is zeroed before it is freed, so a password given here does not linger in freed memory.
    public func add(dn: String, entry attributes: [LDAPEntry.Attribute]) throws(LDAPError) {
        let modifications = attributes.map { LDAPModification.addBinary($0.name, $0.values) }
        let code = Self.withMods(modifications) { mods in ldap_add_ext_s(handle.raw, dn, mods, nil, nil) }
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .add, target: dn, diagnostic: Self.diagnostic(handle))
        }
    }

    /// Every value of a multi-valued attribute that Active Directory hands out in ranges (`member;range=0-1499`,
    /// then `member;range=1500-*` ...; AD's MaxValRange, 1,500 by default): the values `entry` already carries, then
    /// the rest asked for `step` at a time until the server answers with a range ending in `*`.
    /// An entry whose attribute came whole (no range) is returned as it is.
    ///
    /// For example, the members of a group of 4,000 pupils:
    /// ```swift
    /// let members = try await directory.rangedValues("member", of: group, step: 1500)
    /// ```
    public func rangedValues(_ attribute: String, of entry: LDAPEntry, step: Int = 1500) throws(LDAPError) -> [[UInt8]] {
        guard var range = entry.range(of: attribute) else { return entry.values(attribute) }
        var values = range.values
        while let next = range.next {
            let asked = "\(attribute);range=\(next)-\(next + max(step, 1) - 1)"
            guard let page = try self.entry(dn: entry.dn, attributes: [asked]), let following = page.range(of: attribute), following.first == next else {
                throw LDAPError(code: LDAP_OTHER, operation: .search, target: entry.dn,
                                diagnostic: "the server stopped answering \(asked) before the last range (\(values.count) values read)")
            }
            values += following.values
            range = following
        }
        return values
    }

    /// Sets an entry's password with the Password Modify extended operation (RFC 3062), so the server hashes it with
    /// its own scheme and applies its password policy: the clear text never lands in the directory, whatever
    /// `olcPPolicyHashCleartext` says. The bytes of the password are zeroed after the call.
    public func setPassword(dn: String, newPassword: String) throws(LDAPError) {
        var user = Array(dn.utf8)
        var password = Array(newPassword.utf8)
        defer { for index in password.indices { password[index] = 0 } }
        let code = user.withUnsafeMutableBufferPointer { userBuffer in
            password.withUnsafeMutableBufferPointer { passwordBuffer -> Int32 in
                var userValue = berval(bv_len: ber_len_t(userBuffer.count),
                                       bv_val: UnsafeMutableRawPointer(userBuffer.baseAddress)?.assumingMemoryBound(to: CChar.self))
                var passwordValue = berval(bv_len: ber_len_t(passwordBuffer.count),
                                           bv_val: UnsafeMutableRawPointer(passwordBuffer.baseAddress)?.assumingMemoryBound(to: CChar.self))
                var generated = berval(bv_len: 0, bv_val: nil)
                let result = ldap_passwd_s(handle.raw, &userValue, nil, &passwordValue, &generated, nil, nil)
                if generated.bv_val != nil { ber_memfree(generated.bv_val) }
                return result
            }
        }
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .setPassword, target: dn, diagnostic: Self.diagnostic(handle))
        }
    }

    public func delete(dn: String) throws(LDAPError) {
        let code = ldap_delete_ext_s(handle.raw, dn, nil, nil)
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .delete, target: dn, diagnostic: Self.diagnostic(handle))
        }
    }

    /// Moves and/or renames an entry: `newRDN` like `uid=jsmith`, `newParent` like `ou=leavers,dc=school,dc=test`.
    public func rename(dn: String, newRDN: String, newParent: String?, deleteOldRDN: Bool = true) throws(LDAPError) {
        let code = ldap_rename_s(handle.raw, dn, newRDN, newParent, deleteOldRDN ? 1 : 0, nil, nil)
        guard code == LDAP_SUCCESS else {
            throw LDAPError(code: code, operation: .rename, target: dn, diagnostic: Self.diagnostic(handle))
        }
    }

    /// Builds a NULL-terminated `LDAPMod *[]` for the C call and frees every piece afterwards, on every path.
    private static func withMods(_ modifications: [LDAPModification], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<LDAPMod>?>) -> Int32) -> Int32 {
        var allocations: [UnsafeMutableRawPointer] = []
        var copies: [(UnsafeMutableRawPointer, Int)] = []
        defer {
            // Values may be passwords: zeroed before they go back to the allocator.
            for (pointer, count) in copies { memset(pointer, 0, count) }
            for pointer in allocations { free(pointer) }
        }
        func copy(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
            let pointer = malloc(max(bytes.count, 1)).assumingMemoryBound(to: CChar.self)
            bytes.withUnsafeBytes { raw in if let base = raw.baseAddress { memcpy(pointer, base, raw.count) } }
            allocations.append(UnsafeMutableRawPointer(pointer))
            copies.append((UnsafeMutableRawPointer(pointer), bytes.count))
            return pointer
        }
        let mods = UnsafeMutablePointer<UnsafeMutablePointer<LDAPMod>?>.allocate(capacity: modifications.count + 1)
        defer { mods.deallocate() }
        for (index, modification) in modifications.enumerated() {
            let values = modification.values
            let list = UnsafeMutablePointer<UnsafeMutablePointer<berval>?>.allocate(capacity: values.count + 1)
            allocations.append(UnsafeMutableRawPointer(list))
            for (valueIndex, value) in values.enumerated() {
                let item = UnsafeMutablePointer<berval>.allocate(capacity: 1)
                allocations.append(UnsafeMutableRawPointer(item))
                item.initialize(to: berval(bv_len: ber_len_t(value.count), bv_val: copy(value)))
                list[valueIndex] = item
            }
            list[values.count] = nil
            let operation: Int32 = switch modification {
            case .add, .addBinary: LDAP_MOD_ADD
            case .replace, .replaceBinary: LDAP_MOD_REPLACE
            case .delete: LDAP_MOD_DELETE
            }
            let mod = UnsafeMutablePointer<LDAPMod>.allocate(capacity: 1)
            allocations.append(UnsafeMutableRawPointer(mod))
            mod.initialize(to: LDAPMod())
            mod.pointee.mod_op = operation | LDAP_MOD_BVALUES
            mod.pointee.mod_type = copy(Array(modification.attribute.utf8) + [0])
            mod.pointee.mod_vals.modv_bvals = values.isEmpty && operation == LDAP_MOD_DELETE ? nil : list
            mods[index] = mod
        }
        mods[modifications.count] = nil
        return body(mods)
    }
}

/// The entries of a paged search, fetched a page at a time as the caller iterates.
public struct LDAPSearch: AsyncSequence, Sendable {
    public typealias Element = LDAPEntry

    struct Request: Sendable {
        let base: String
        let scope: LDAPScope
        let filter: String
        let attributes: [String]
        let pageSize: Int

        var target: String { "\(base) with filter \(filter)" }
    }

    let connection: LDAPConnection
    let request: Request

    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        typealias Page = (entries: [LDAPEntry], next: Int32?)

        enum State: Sendable {
            case notStarted
            /// The connection is receiving and decoding a page in its own task while the caller works on the one before.
            case receiving(Task<Page, any Error>)
            case finished
        }

        let connection: LDAPConnection
        let request: Request
        var buffer: [LDAPEntry] = []
        var state = State.notStarted

        public mutating func next() async throws -> LDAPEntry? {
            while buffer.isEmpty {
                switch state {
                case .finished:
                    return nil
                case .notStarted:
                    let messageID = try await connection.sendPage(request, cookie: nil)
                    state = .receiving(receive(messageID))
                case .receiving(let task):
                    state = .finished
                    let page = try await task.value
                    if let next = page.next { state = .receiving(receive(next)) }
                    buffer = page.entries.reversed()
                }
            }
            return buffer.popLast()
        }

        private func receive(_ messageID: Int32) -> Task<Page, any Error> {
            Task { [connection, request] in try await connection.receivePage(request, messageID: messageID) }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(connection: connection, request: request)
    }
}
