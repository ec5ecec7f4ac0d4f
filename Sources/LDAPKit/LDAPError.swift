import CLDAP

/// An LDAP failure: the result code, the server's diagnostic message and the operation with its DN.
///
/// Printed the way a technician needs it:
/// `invalidCredentials (49) binding as cn=admin,dc=school,dc=test: the password is wrong or the account is locked`.
/// Passwords never appear in it.
public struct LDAPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case connect = "connecting to"
        case startTLS = "starting TLS with"
        case bind = "binding as"
        case search = "searching"
        case modify = "modifying"
        case add = "adding"
        case delete = "deleting"
        case rename = "renaming"
        case setPassword = "setting the password of"
        case whoAmI = "asking who am I on"
        case option = "setting an option on"
    }

    /// The LDAP result code (RFC 4511), or a negative libldap client code (-1 server down, -7 timeout ...).
    public let code: Int32
    public let operation: Operation
    /// The DN, base or URL the operation was about.
    public let target: String
    /// The server's (or libldap's) diagnostic message, if any.
    public let diagnostic: String?

    public init(code: Int32, operation: Operation, target: String, diagnostic: String? = nil) {
        self.code = code
        self.operation = operation
        self.target = target
        self.diagnostic = diagnostic.flatMap { $0.isEmpty ? nil : $0 }
    }

    public var name: String { Self.name(of: code) }

    /// A wrong DN or password (or a locked account, which servers report the same way).
    public var isInvalidCredentials: Bool { code == LDAP_INVALID_CREDENTIALS }

    public var description: String {
        var text = "\(name) (\(code)) \(operation.rawValue) \(target)"
        if let diagnostic { text += ": \(diagnostic)" }
        if let reason = activeDirectoryReason { text += " (\(reason))" }
        if let hint = Self.hint(code: code, operation: operation) { text += ". \(hint)" }
        return text
    }

    /// Active Directory's sub-code of a refused bind, from the `data 533` in its diagnostic
    /// (`80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 533, v4563`).
    public var activeDirectorySubcode: String? {
        guard code == LDAP_INVALID_CREDENTIALS, let diagnostic else { return nil }
        // LDAPKit stays off Foundation: a plain scan for "data ".
        let characters = Array(diagnostic)
        let marker = Array("data ")
        guard characters.count > marker.count else { return nil }
        for start in 0...(characters.count - marker.count) where Array(characters[start..<(start + marker.count)]) == marker {
            let code = characters[(start + marker.count)...].prefix { $0.isHexDigit }
            return code.isEmpty ? nil : String(code).lowercased()
        }
        return nil
    }

    /// What the sub-code means, in words (Microsoft's list; Samba uses the same codes).
    public var activeDirectoryReason: String? {
        switch activeDirectorySubcode {
        case "525": "no such user"
        case "52e": "wrong password"
        case "530": "not permitted to log on at this time"
        case "531": "not permitted to log on at this workstation"
        case "532": "the password has expired"
        case "533": "the account is disabled"
        case "568": "too many security IDs (group memberships)"
        case "701": "the account has expired"
        case "773": "the password must be changed before first log-on"
        case "775": "the account is locked out"
        default: nil
        }
    }

    static func hint(code: Int32, operation: Operation) -> String? {
        switch code {
        case LDAP_INVALID_CREDENTIALS where operation == .bind: "Check the bind DN and the password file, and whether the account is locked"
        case LDAP_SERVER_DOWN: "Is the directory server running and the URL (host, port, ldap:// or ldaps://) right?"
        case LDAP_TIMEOUT: "The server did not answer in time"
        case LDAP_STRONG_AUTH_REQUIRED:
            "The server refuses a password sent in clear text (Active Directory and Samba do by default): set directory.tls = \"starttls\" "
                + "with directory.ca_file naming the CA of the server's certificate, or use an ldaps:// URL (port 636). "
                + "Do not turn the check off on the server (Samba: 'ldap server require strong auth'; Windows: 'LDAP server signing requirements')"
        case LDAP_INSUFFICIENT_ACCESS: "The bind account lacks the rights for this"
        case LDAP_NO_SUCH_OBJECT where operation == .search: "Check the base DN in the configuration"
        case LDAP_CONNECT_ERROR: "TLS or connection setup failed; check the CA file and the server certificate's name"
        case LDAP_PROTOCOL_ERROR where operation == .startTLS: "The server does not offer StartTLS: give it a certificate (OpenLDAP: olcTLSCertificateFile) or use an ldaps:// URL"
        case LDAP_REFERRAL: "Rollcall does not follow referrals: point the base DN (or the URL) at the server that holds these entries"
        case LDAP_SIZELIMIT_EXCEEDED: "The server limits how many entries this account may read, even page by page: raise its size limit (OpenLDAP: olcSizeLimit size.prtotal for the bind DN; AD: MaxPageSize)"
        case LDAP_ADMINLIMIT_EXCEEDED: "The server refused the search size (administrative limit): raise the bind DN's limits or lower directory.page_size"
        default: nil
        }
    }

    /// RFC 4511 names for the codes a directory tool meets; libldap's text for the rest.
    public static func name(of code: Int32) -> String {
        switch code {
        case LDAP_SUCCESS: "success"
        case LDAP_OPERATIONS_ERROR: "operationsError"
        case LDAP_PROTOCOL_ERROR: "protocolError"
        case LDAP_TIMELIMIT_EXCEEDED: "timeLimitExceeded"
        case LDAP_SIZELIMIT_EXCEEDED: "sizeLimitExceeded"
        case LDAP_STRONG_AUTH_REQUIRED: "strongerAuthRequired"
        case LDAP_UNAVAILABLE_CRITICAL_EXTENSION: "unavailableCriticalExtension"
        case LDAP_NO_SUCH_ATTRIBUTE: "noSuchAttribute"
        case LDAP_UNDEFINED_TYPE: "undefinedAttributeType"
        case LDAP_CONSTRAINT_VIOLATION: "constraintViolation"
        case LDAP_TYPE_OR_VALUE_EXISTS: "attributeOrValueExists"
        case LDAP_INVALID_SYNTAX: "invalidAttributeSyntax"
        case LDAP_NO_SUCH_OBJECT: "noSuchObject"
        case LDAP_INVALID_DN_SYNTAX: "invalidDNSyntax"
        case LDAP_INAPPROPRIATE_AUTH: "inappropriateAuthentication"
        case LDAP_INVALID_CREDENTIALS: "invalidCredentials"
        case LDAP_INSUFFICIENT_ACCESS: "insufficientAccessRights"
        case LDAP_BUSY: "busy"
        case LDAP_UNAVAILABLE: "unavailable"
        case LDAP_UNWILLING_TO_PERFORM: "unwillingToPerform"
        case LDAP_NAMING_VIOLATION: "namingViolation"
        case LDAP_OBJECT_CLASS_VIOLATION: "objectClassViolation"
        case LDAP_NOT_ALLOWED_ON_NONLEAF: "notAllowedOnNonLeaf"
        case LDAP_ALREADY_EXISTS: "entryAlreadyExists"
        case LDAP_OTHER: "other"
        case LDAP_SERVER_DOWN: "serverDown"
        case LDAP_TIMEOUT: "timeout"
        case LDAP_CONNECT_ERROR: "connectError"
        case LDAP_FILTER_ERROR: "filterError"
        case LDAP_REFERRAL: "referral"
        case LDAP_ADMINLIMIT_EXCEEDED: "adminLimitExceeded"
        default: String(cString: ldap_err2string(code))
        }
    }
}
