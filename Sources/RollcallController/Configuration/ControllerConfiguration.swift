import Foundation
import TOMLKit

/// Settings from `/etc/rollcall/controller.toml`. Every key has a default.
///
/// ```toml
/// [server]
/// host = "127.0.0.1"
/// port = 8080
/// read_allowed_from = ["127.0.0.0/8", "10.20.30.0/24"]
///
/// [store]
/// path = "/var/lib/rollcall/controller.sqlite"
///
/// [limits]
/// max_report_bytes = 8388608
/// requests_per_minute = 60
/// idle_timeout_seconds = 30
///
/// [tls]
/// certificate = "/etc/rollcall/tls/controller.crt"   # both absent: a self-signed pair made on first start
/// private_key = "/etc/rollcall/tls/controller.key"
/// plain_http = false                                 # true serves HTTP: only for a demo on loopback
/// ```
public struct ControllerConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Who may read the device list and the report (`/api/v1/devices`, `/report`). They name machines, serial
    /// numbers and software, so by default only this server; widen it to the technicians' network, never to pupils'.
    /// Agents' enrolment and reports are not affected.
    public var readAllowedFrom = [AddressRange("127.0.0.0/8")!, AddressRange("::1/128")!]
    public var storePath = "/var/lib/rollcall/controller.sqlite"
    /// An inventory of a desktop with 3,000 packages is ~400 KB; 8 MB leaves room and stops abuse.
    public var maxReportBytes = 8 << 20
    /// Per enrolled device, and per address for requests that are not yet authenticated. An agent sends a report an
    /// hour; 60 a minute lets one drain a week of queued snapshots in minutes and stops one from flooding the store.
    public var requestsPerMinute = 60
    /// A connection that sends nothing for this long is closed, so half-open connections cannot pile up.
    public var idleTimeoutSeconds = 30
    /// `[tls]`: the certificate the controller serves, or plain HTTP.
    public var tls = TLSSettings()
    /// `[directory]`: where the school's accounts live; nil when the section is absent (no directory features).
    public var directory: DirectoryConfiguration?
    /// `[accounts]`: who is never touched, when an account is stale, how big a change may be.
    public var accounts = AccountsPolicy()
    /// `[passwords]`: the school's rotation policy.
    public var passwords = PasswordRotationPolicy()
    /// `[hr]`: the import's truncation guard and a generic export's columns.
    public var hr = HRPolicy()
    /// `[joiners]`: how new starters' accounts are named and where they go.
    public var joiners = JoinersPolicy()
    /// `[equipment]`: when a device counts as stale.
    public var equipment = EquipmentPolicy()
    /// `[posture]`: the screen lock and encryption a workstation must have.
    public var posture = PosturePolicy()
    /// `[usb]`: whether unapproved USB storage is switched off.
    public var usb = USBPolicy()
    /// `[dashboard]`: sign-in, sessions, lockout, and which directory groups get which role.
    public var dashboard = DashboardPolicy()

    public init() {}

    public static func load(path: String) throws(ConfigurationError) -> ControllerConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(source: path, line: nil, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> ControllerConfiguration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(source: source, line: error.source.begin.line, column: error.source.begin.column, message: error.description)
        } catch {
            throw ConfigurationError(source: source, line: nil, message: "\(error)")
        }
        var configuration = ControllerConfiguration()
        let known = [
            "server": ["host", "port", "read_allowed_from"], "store": ["path"], "limits": ["max_report_bytes", "requests_per_minute", "idle_timeout_seconds"],
            "tls": ["certificate", "private_key", "plain_http"],
            "directory": DirectoryConfiguration.keys, "accounts": AccountsPolicy.keys, "passwords": PasswordRotationPolicy.keys,
            "hr": HRPolicy.keys, "joiners": JoinersPolicy.keys, "equipment": EquipmentPolicy.keys,
            "posture": PosturePolicy.keys, "usb": USBPolicy.keys, "dashboard": DashboardPolicy.keys,
        ]
        for (section, value) in table {
            guard let keys = known[section] else {
                throw ConfigurationError(source: source, line: nil, message: "unknown section [\(section)] (known: \(known.keys.sorted().joined(separator: ", ")))")
            }
            guard let subtable = value.table else {
                throw ConfigurationError(source: source, line: nil, message: "'\(section)' must be a [\(section)] table")
            }
            for (key, _) in subtable where !keys.contains(key) {
                throw ConfigurationError(source: source, line: nil, message: "unknown setting '\(section).\(key)' (known: \(keys.joined(separator: ", ")))")
            }
        }
        let reader = SettingsReader(table: table, source: source)
        let string = reader.string, integer = reader.integer
        if let host = try string("server", "host") { configuration.host = host }
        if let port = try integer("server", "port") {
            guard (0...65535).contains(port) else {
                throw ConfigurationError(source: source, line: nil, message: "'server.port' must be between 0 and 65535, not \(port)")
            }
            configuration.port = port
        }
        if let ranges = try reader.strings("server", "read_allowed_from") {
            configuration.readAllowedFrom = try ranges.map { text throws(ConfigurationError) in
                guard let range = AddressRange(text) else {
                    throw reader.fail("'server.read_allowed_from' holds '\(text)', which is not an address or network like \"10.20.0.0/16\"")
                }
                return range
            }
        }
        // A relative store path is relative to the config file, so a sample config works from any directory.
        if let path = try reader.path("store", "path") { configuration.storePath = path }
        if let bytes = try integer("limits", "max_report_bytes") {
            guard bytes >= 1024 else {
                throw ConfigurationError(source: source, line: nil, message: "'limits.max_report_bytes' must be at least 1024")
            }
            configuration.maxReportBytes = bytes
        }
        if let rate = try integer("limits", "requests_per_minute") {
            guard rate >= 1 else { throw reader.fail("'limits.requests_per_minute' must be at least 1") }
            configuration.requestsPerMinute = rate
        }
        if let seconds = try integer("limits", "idle_timeout_seconds") {
            guard seconds >= 1 else { throw reader.fail("'limits.idle_timeout_seconds' must be at least 1") }
            configuration.idleTimeoutSeconds = seconds
        }
        configuration.tls.certificatePath = try reader.path("tls", "certificate")
        configuration.tls.privateKeyPath = try reader.path("tls", "private_key")
        configuration.tls.plainHTTP = try reader.boolean("tls", "plain_http") ?? false
        if (configuration.tls.certificatePath == nil) != (configuration.tls.privateKeyPath == nil) {
            throw reader.fail("'tls.certificate' and 'tls.private_key' go together: set both, or neither for a self-signed pair")
        }
        if table["directory"] != nil {
            configuration.directory = try DirectoryConfiguration(reader)
        }
        configuration.accounts = try AccountsPolicy(reader)
        configuration.passwords = try PasswordRotationPolicy(reader)
        configuration.hr = try HRPolicy(reader)
        configuration.joiners = try JoinersPolicy(reader)
        configuration.equipment = try EquipmentPolicy(reader)
        configuration.posture = try PosturePolicy(reader)
        configuration.usb = try USBPolicy(reader)
        configuration.dashboard = try DashboardPolicy(reader)
        if configuration.dashboard.ldapSignIn, configuration.directory == nil {
            throw reader.fail("'dashboard.ldap_sign_in' is true but there is no [directory] section to sign in against")
        }
        return configuration
    }
}

/// `[tls]`: which certificate `rollcall serve` presents.
public struct TLSSettings: Sendable, Equatable {
    /// PEM certificate (chain) and key; both nil means the self-signed pair next to the store.
    public var certificatePath: String?
    public var privateKeyPath: String?
    /// Serve plain HTTP. Agents refuse it unless their own config allows it too.
    public var plainHTTP = false

    public init() {}
}

/// Typed access to `[section] key` values, with errors that name the setting.
struct SettingsReader {
    let table: TOMLTable
    let source: String

    func fail(_ message: String) -> ConfigurationError {
        ConfigurationError(source: source, line: nil, message: message)
    }

    func string(_ section: String, _ key: String) throws(ConfigurationError) -> String? {
        guard let value = table[section]?.table?[key] else { return nil }
        guard let text = value.string else { throw fail("'\(section).\(key)' must be a string") }
        return text
    }

    func integer(_ section: String, _ key: String) throws(ConfigurationError) -> Int? {
        guard let value = table[section]?.table?[key] else { return nil }
        guard let number = value.int else { throw fail("'\(section).\(key)' must be an integer") }
        return number
    }

    func boolean(_ section: String, _ key: String) throws(ConfigurationError) -> Bool? {
        guard let value = table[section]?.table?[key] else { return nil }
        guard let flag = value.bool else { throw fail("'\(section).\(key)' must be true or false") }
        return flag
    }

    func strings(_ section: String, _ key: String) throws(ConfigurationError) -> [String]? {
        guard let value = table[section]?.table?[key] else { return nil }
        guard let array = value.array else { throw fail("'\(section).\(key)' must be a list of strings, like [\"a\", \"b\"]") }
        var result: [String] = []
        for item in array {
            guard let text = item.string else { throw fail("'\(section).\(key)' must be a list of strings, like [\"a\", \"b\"]") }
            result.append(text)
        }
        return result
    }

    /// `[section.name]`: a table of strings, e.g. `[hr.columns]`.
    func stringTable(_ section: String, _ key: String) throws(ConfigurationError) -> [String: String]? {
        guard let value = table[section]?.table?[key] else { return nil }
        guard let inner = value.table else { throw fail("'\(section).\(key)' must be a table: [\(section).\(key)] with name = \"value\" lines") }
        var result: [String: String] = [:]
        for (name, item) in inner {
            guard let text = item.string else { throw fail("'\(section).\(key).\(name)' must be a string") }
            result[name] = text
        }
        return result
    }

    /// A path setting; relative paths are relative to the configuration file.
    func path(_ section: String, _ key: String) throws(ConfigurationError) -> String? {
        guard let path = try string(section, key) else { return nil }
        return path.hasPrefix("/") ? path : URL(fileURLWithPath: source).deletingLastPathComponent().appendingPathComponent(path).path
    }
}

/// A configuration problem, with the file and, where the parser knows it, the line and column.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let line: Int?
    public var column: Int? = nil
    public let message: String

    public var description: String {
        var place = source
        if let line { place += ":\(line)" + (column.map { ":\($0)" } ?? "") }
        return "\(place): \(message)"
    }
}
