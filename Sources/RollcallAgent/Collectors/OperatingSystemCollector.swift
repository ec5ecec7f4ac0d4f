import RollcallProtocol

/// Distribution from os-release (`/etc/os-release`, falling back to `/usr/lib/os-release` as the spec says),
/// kernel release, host name and machine id.
struct OperatingSystemCollector {
    func collect(_ reader: FactReader) -> OperatingSystem {
        var os = OperatingSystem()
        let text: String?
        if case .success(let etc) = reader.root.readText("/etc/os-release") {
            text = etc
        } else {
            text = reader.text("os", at: "/usr/lib/os-release")
        }
        if let text {
            let fields = Self.parse(osRelease: text)
            os.id = fields["ID"]
            os.name = fields["NAME"]
            os.prettyName = fields["PRETTY_NAME"]
            os.versionID = fields["VERSION_ID"]
        }
        os.kernel = reader.value("os.kernel", at: "/proc/sys/kernel/osrelease")
        return os
    }

    func hostname(_ reader: FactReader) -> String? {
        if case .success(let text) = reader.root.readText("/etc/hostname") {
            let name = text.split(separator: "\n").map { $0.trimmingCharacters(in: " \t") }
                .first { !$0.isEmpty && !$0.hasPrefix("#") }
            if let name { return String(name) }
        }
        return reader.value("hostname", at: "/proc/sys/kernel/hostname")
    }

    /// `/etc/machine-id` (systemd), then D-Bus's copy; nil when neither holds a 32-digit hex id.
    func machineID(_ reader: FactReader) -> String? {
        for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
            if case .success(let value) = reader.root.readValue(path), AgentIdentity.isValidMachineID(value) { return value }
        }
        reader.note("agent.machineID", "/etc/machine-id", "missing or not a 32-digit hex id (run systemd-machine-id-setup)")
        return nil
    }

    /// os-release is shell-compatible `KEY=value` with optional single or double quotes and backslash escapes.
    static func parse(osRelease text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: " \t\r")
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals])
            var value = Substring(line[line.index(after: equals)...])
            var unquoted = ""
            if let quote = value.first, quote == "\"" || quote == "'" {
                value.removeFirst()
                var escaped = false
                for character in value {
                    if escaped {
                        unquoted.append(character)
                        escaped = false
                    } else if character == "\\" && quote == "\"" {
                        escaped = true
                    } else if character == quote {
                        break
                    } else {
                        unquoted.append(character)
                    }
                }
            } else {
                unquoted = String(value)
            }
            fields[key] = unquoted
        }
        return fields
    }
}
