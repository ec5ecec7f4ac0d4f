import Foundation
public import LDAPKit

/// Opens an authenticated connection to the configured directory: simple bind with the password from
/// `password_file`, or SASL EXTERNAL over `ldapi://` when no bind DN is configured.
public struct DirectoryConnector: Sendable {
    public let configuration: DirectoryConfiguration

    public init(configuration: DirectoryConfiguration) {
        self.configuration = configuration
    }

    public func connect() async throws -> LDAPConnection {
        let connection = try LDAPConnection(url: configuration.url, options: configuration.connectionOptions)
        if configuration.bindDN.isEmpty {
            try await connection.externalBind()
        } else {
            let password = try Self.readPassword(configuration.passwordFile ?? "")
            try await connection.simpleBind(dn: configuration.bindDN, password: password)
        }
        return connection
    }

    /// The bind password: the file's first line. A file others can read is refused, since it unlocks every account.
    static func readPassword(_ path: String) throws(DirectoryError) -> String {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw DirectoryError.passwordFile(path, "cannot read it (\(String(cString: strerror(errno))))")
        }
        guard status.st_mode & 0o007 == 0 else {
            throw DirectoryError.passwordFile(path, "other users can read it; run: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DirectoryError.passwordFile(path, "cannot read it")
        }
        let text = String(decoding: data, as: UTF8.self)
        let password = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard !password.isEmpty else { throw DirectoryError.passwordFile(path, "it is empty") }
        return password.hasSuffix("\r") ? String(password.dropLast()) : password
    }
}

/// Directory problems that are not LDAP result codes.
public enum DirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    case notConfigured(String)
    case passwordFile(String, String)
    case neverSynced

    public var description: String {
        switch self {
        case .notConfigured(let path): "no [directory] section in \(path): add the directory's url, bind_dn, password_file and base DNs"
        case .passwordFile(let path, let problem): "directory password file \(path): \(problem)"
        case .neverSynced: "the store holds no directory accounts yet: run `rollcall directory sync` first"
        }
    }
}
