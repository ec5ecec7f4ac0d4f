import Foundation
import TOMLKit

/// Settings from `/etc/rollcall/controller.toml`. Every key has a default.
///
/// ```toml
/// [server]
/// host = "127.0.0.1"
/// port = 8080
///
/// [store]
/// path = "/var/lib/rollcall/controller.sqlite"
///
/// [limits]
/// max_report_bytes = 8388608
/// ```
public struct ControllerConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var storePath = "/var/lib/rollcall/controller.sqlite"
    /// An inventory of a desktop with 3,000 packages is ~400 KB; 8 MB leaves room and stops abuse.
    public var maxReportBytes = 8 << 20

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
        let known = ["server": ["host", "port"], "store": ["path"], "limits": ["max_report_bytes"]]
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
        func string(_ section: String, _ key: String) throws(ConfigurationError) -> String? {
            guard let value = table[section]?.table?[key] else { return nil }
            guard let text = value.string else {
                throw ConfigurationError(source: source, line: nil, message: "'\(section).\(key)' must be a string")
            }
            return text
        }
        func integer(_ section: String, _ key: String) throws(ConfigurationError) -> Int? {
            guard let value = table[section]?.table?[key] else { return nil }
            guard let number = value.int else {
                throw ConfigurationError(source: source, line: nil, message: "'\(section).\(key)' must be an integer")
            }
            return number
        }
        if let host = try string("server", "host") { configuration.host = host }
        if let port = try integer("server", "port") {
            guard (0...65535).contains(port) else {
                throw ConfigurationError(source: source, line: nil, message: "'server.port' must be between 0 and 65535, not \(port)")
            }
            configuration.port = port
        }
        if let path = try string("store", "path") {
            // A relative store path is relative to the config file, so a sample config works from any directory.
            configuration.storePath = path.hasPrefix("/") ? path
                : URL(fileURLWithPath: source).deletingLastPathComponent().appendingPathComponent(path).path
        }
        if let bytes = try integer("limits", "max_report_bytes") {
            guard bytes >= 1024 else {
                throw ConfigurationError(source: source, line: nil, message: "'limits.max_report_bytes' must be at least 1024")
            }
            configuration.maxReportBytes = bytes
        }
        return configuration
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
