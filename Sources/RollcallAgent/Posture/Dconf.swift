import RollcallProtocol

/// The machine's side of dconf, read once per snapshot: the profile (`/etc/dconf/profile/user`, or just the
/// user's own database when there is none) and the system databases it names, highest priority first. Each user's
/// ``DconfProfile`` adds their own database where the profile puts it.
struct DconfSystem {
    enum Entry {
        /// `user-db:NAME`: `~/.config/dconf/NAME`, per user.
        case user(String)
        case system(DconfProfile.Source)
    }

    let root: FileSystemRoot
    let entries: [Entry]
    /// What the machine's databases gave to note (unreadable, damaged, keyfiles not compiled).
    let notes: [String]

    init(root: FileSystemRoot) {
        self.root = root
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
        var entries: [Entry] = []
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "user-db":
                entries.append(.user(parts[1]))
            case "system-db":
                let path = "/etc/dconf/db/\(parts[1])"
                entries.append(.system(.init(label: path, database: DconfProfile.open(root, path, &notes, missingIsNormal: false), isUserDatabase: false)))
                DconfProfile.checkCompiled(root, name: parts[1], &notes)
            case "file-db":
                entries.append(.system(.init(label: parts[1], database: DconfProfile.open(root, parts[1], &notes, missingIsNormal: false), isUserDatabase: false)))
            default:
                continue  // service-db: a network source the agent cannot read offline
            }
        }
        self.entries = entries
        self.notes = notes
    }
}

/// The dconf databases one user's desktop reads, in the order dconf consults them, and the effective value of a
/// key the way dconf's engine works it out.
///
/// A value comes from the first database that has it, except that a key locked in a system database can only
/// come from that database or those after it: the system lock wins over the user.
struct DconfProfile {
    struct Source {
        var label: String
        var database: GVDBFile?
        var isUserDatabase: Bool
    }

    var sources: [Source]
    var notes: [String]

    /// `home == nil`: the machine-wide view, the system databases alone (what a new user starts from).
    init(system: DconfSystem, home: String?, userLabel: String) {
        var notes = system.notes
        sources = system.entries.compactMap { entry in
            switch entry {
            case .system(let source): return source
            case .user(let name):
                guard let home else { return nil }
                return Source(label: "\(userLabel)/.config/dconf/\(name)",
                              database: Self.open(system.root, "\(home)/.config/dconf/\(name)", &notes, missingIsNormal: true), isUserDatabase: true)
            }
        }
        self.notes = notes
    }

    static func open(_ root: FileSystemRoot, _ path: String, _ notes: inout [String], missingIsNormal: Bool) -> GVDBFile? {
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
    static func checkCompiled(_ root: FileSystemRoot, name: String, _ notes: inout [String]) {
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
///
/// One per snapshot: the override files are read once, and each schema file the first time it is asked for, not
/// again for every user and key. A class only for that cache; it never leaves the collecting thread.
final class GSettingsDefaults {
    let root: FileSystemRoot
    static let directory = "/usr/share/glib-2.0/schemas"
    /// schema → key → (value, file), in file order so later files win.
    private let overrides: [String: [String: (GVDBFile.Value, String)]]
    private var schemas: [String: String?] = [:]

    init(root: FileSystemRoot) {
        self.root = root
        var overrides: [String: [String: (GVDBFile.Value, String)]] = [:]
        for file in ((try? root.listDirectory(Self.directory).get()) ?? []) where file.hasSuffix(".gschema.override") {
            guard case .success(let text) = root.readText("\(Self.directory)/\(file)") else { continue }
            var schema: String?
            for raw in text.split(whereSeparator: \.isNewline) {
                let line = String(raw.trimmingCharacters(in: " \t"))
                if line.hasPrefix("[") {
                    schema = line.hasSuffix("]") ? String(line.dropFirst().dropLast()) : nil
                } else if let schema, let equals = line.firstIndex(of: "="),
                          let value = Self.parse(String(line[line.index(after: equals)...])) {
                    overrides[schema, default: [:]][String(line[..<equals].trimmingCharacters(in: " \t"))] = (value, file)
                }
            }
        }
        self.overrides = overrides
    }

    func value(schema: String, key: String) -> (value: GVDBFile.Value, source: String)? {
        if let (value, file) = overrides[schema]?[key] { return (value, "vendor default (\(Self.directory)/\(file))") }
        if schemas[schema] == nil { schemas[schema] = try? root.readText("\(Self.directory)/\(schema).gschema.xml").get() }
        guard let xml = schemas[schema] ?? nil, let text = Self.schemaDefault(xml, schema: schema, key: key), let value = Self.parse(text) else {
            return nil
        }
        return (value, "schema default (\(schema))")
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
