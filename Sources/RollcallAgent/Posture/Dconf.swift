import RollcallProtocol

/// The dconf databases one user's desktop reads, in the order dconf consults them, and the effective value of a
/// key the way dconf's engine works it out.
///
/// The profile (`/etc/dconf/profile/user`, or just the user's own database when there is none) lists the
/// databases, highest priority first. A value comes from the first database that has it, except that a key locked
/// in a system database can only come from that database or those after it: the system lock wins over the user.
struct DconfProfile {
    struct Source {
        var label: String
        var database: GVDBFile?
        var isUserDatabase: Bool
    }

    var sources: [Source]
    var notes: [String]

    /// `home == nil`: the machine-wide view, the system databases alone (what a new user starts from).
    init(root: FileSystemRoot, home: String?, userLabel: String) {
        var notes: [String] = []
        var lines: [String]
        switch root.readText("/etc/dconf/profile/user") {
        case .success(let text):
            lines = text.split(whereSeparator: \.isNewline).map { String($0.trimmingCharacters(in: " \t")) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        case .failure:
            lines = ["user-db:user"]
        }
        if lines.isEmpty { lines = ["user-db:user"] }
        var sources: [Source] = []
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "user-db":
                guard let home else { continue }
                let path = "\(home)/.config/dconf/\(parts[1])"
                sources.append(Source(label: "\(userLabel)/.config/dconf/\(parts[1])", database: Self.open(root, path, &notes, missingIsNormal: true),
                                      isUserDatabase: true))
            case "system-db":
                let path = "/etc/dconf/db/\(parts[1])"
                sources.append(Source(label: path, database: Self.open(root, path, &notes, missingIsNormal: false), isUserDatabase: false))
                Self.checkCompiled(root, name: parts[1], &notes)
            case "file-db":
                sources.append(Source(label: parts[1], database: Self.open(root, parts[1], &notes, missingIsNormal: false), isUserDatabase: false))
            default:
                continue  // service-db: a network source the agent cannot read offline
            }
        }
        self.sources = sources
        self.notes = notes
    }

    private static func open(_ root: FileSystemRoot, _ path: String, _ notes: inout [String], missingIsNormal: Bool) -> GVDBFile? {
        switch root.readBytes(path, limit: 16 << 20) {
        case .success(let bytes):
            do {
                return try GVDBFile(bytes: bytes)
            } catch {
                notes.append("\(path) is \(error)")
                return nil
            }
        case .failure(let failure):
            if !(failure.isMissing && missingIsNormal) { notes.append("\(path): \(failure.reason)") }
            return nil
        }
    }

    /// Keyfiles edited after the last `dconf update` are not in force; say so, or the technician will think they are.
    private static func checkCompiled(_ root: FileSystemRoot, name: String, _ notes: inout [String]) {
        let directory = "/etc/dconf/db/\(name).d"
        guard let compiled = root.modificationTime("/etc/dconf/db/\(name)") else {
            if root.isDirectory(directory) { notes.append("\(directory) has keyfiles but /etc/dconf/db/\(name) was never compiled: run `dconf update`") }
            return
        }
        var newer: [String] = []
        for sub in [directory, directory + "/locks"] {
            for file in (try? root.listDirectory(sub).get()) ?? [] where !file.hasPrefix(".") {
                if let changed = root.modificationTime("\(sub)/\(file)"), changed > compiled, !root.isDirectory("\(sub)/\(file)") {
                    newer.append("\(sub)/\(file)")
                }
            }
        }
        if !newer.isEmpty { notes.append("\(newer.joined(separator: ", ")) changed after /etc/dconf/db/\(name) was compiled: not in force until `dconf update`") }
    }

    /// The value of `key` as the desktop sees it, with its source; nil when no database sets it (the schema's
    /// default applies).
    func effective(_ key: String) -> (value: GVDBFile.Value, source: String, locked: Bool)? {
        var start = 0
        var locked = false
        for index in sources.indices.reversed() where index > 0 || !sources[index].isUserDatabase {
            if sources[index].database?.isLocked(key) == true, !sources[index].isUserDatabase {
                start = index
                locked = true
                break
            }
        }
        for index in start..<sources.count {
            if let value = sources[index].database?.values[key] {
                return (value, sources[index].label + (locked ? " (locked)" : ""), locked)
            }
        }
        return nil
    }
}

/// A GSettings key's default: the schema's `<default>` in `/usr/share/glib-2.0/schemas`, changed by any vendor
/// override file there (Debian's desktop-base ships some), later files winning.
struct GSettingsDefaults {
    let root: FileSystemRoot
    static let directory = "/usr/share/glib-2.0/schemas"

    func value(schema: String, key: String) -> (value: GVDBFile.Value, source: String)? {
        var found: (GVDBFile.Value, String)?
        if case .success(let xml) = root.readText("\(Self.directory)/\(schema).gschema.xml"),
           let text = Self.schemaDefault(xml, schema: schema, key: key), let value = Self.parse(text) {
            found = (value, "schema default (\(schema))")
        }
        let overrides = ((try? root.listDirectory(Self.directory).get()) ?? []).filter { $0.hasSuffix(".gschema.override") }
        for file in overrides {
            guard case .success(let text) = root.readText("\(Self.directory)/\(file)") else { continue }
            var inSchema = false
            for raw in text.split(whereSeparator: \.isNewline) {
                let line = String(raw.trimmingCharacters(in: " \t"))
                if line.hasPrefix("[") {
                    inSchema = line == "[\(schema)]"
                } else if inSchema, let equals = line.firstIndex(of: "="),
                          line[..<equals].trimmingCharacters(in: " \t") == key,
                          let value = Self.parse(String(line[line.index(after: equals)...])) {
                    found = (value, "vendor default (\(Self.directory)/\(file))")
                }
            }
        }
        return found
    }

    /// The `<default>` text of one key of one schema in a gschema XML file.
    static func schemaDefault(_ xml: String, schema: String, key: String) -> String? {
        guard let schemaStart = xml.firstRange(of: "id=\"\(schema)\"") else { return nil }
        let rest = xml[schemaStart.upperBound...]
        let schemaEnd = rest.firstRange(of: "</schema>")?.lowerBound ?? rest.endIndex
        let body = rest[..<schemaEnd]
        guard let keyStart = body.firstRange(of: "name=\"\(key)\"") else { return nil }
        let keyBody = body[keyStart.upperBound...]
        guard let open = keyBody.firstRange(of: "<default>"), let close = keyBody.firstRange(of: "</default>"), open.upperBound <= close.lowerBound,
              keyBody.firstRange(of: "</key>").map({ close.lowerBound < $0.lowerBound }) ?? true else { return nil }
        return String(keyBody[open.upperBound..<close.lowerBound])
    }

    /// GVariant text for the simple types: `true`, `uint32 300`, `5`, `'text'`.
    static func parse(_ text: String) -> GVDBFile.Value? {
        var value = text.trimmingCharacters(in: " \t")
        for prefix in ["uint32 ", "int32 ", "uint64 ", "int64 ", "uint16 ", "int16 ", "byte "] where value.hasPrefix(prefix) {
            value = String(value.dropFirst(prefix.count)).trimmingCharacters(in: " ")
        }
        if value == "true" { return .bool(true) }
        if value == "false" { return .bool(false) }
        if let number = Int(value) { return .integer(number) }
        if value.count >= 2, let first = value.first, first == "'" || first == "\"", value.last == first {
            return .string(String(value.dropFirst().dropLast()))
        }
        return nil
    }
}

extension String {
    func trimmingCharacters(in characters: String) -> String {
        String(Substring(self).trimmingCharacters(in: characters))
    }
}
