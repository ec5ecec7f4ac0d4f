import RollcallProtocol

/// Works out, for each desktop installed or in use, whether the screen locks by itself and how soon: the
/// machine-wide defaults and locks, then each person's effective settings.
///
/// Every value carries its source (a dconf database, an xfconf or KDE file, a schema default), so a verdict on
/// the controller can say what to change. What cannot be settled is a note, never a guess.
struct ScreenLockCollector {
    func collect(_ reader: FactReader, sessions: [LoginSession]) -> [ScreenLockSettings] {
        let root = reader.root
        let users = LocalUsers.read(root, sessions: sessions)
        var desktops = Set(Self.installedDesktops(root))
        for session in sessions { if let desktop = session.desktop.flatMap(Self.desktop(named:)) { desktops.insert(desktop) } }
        if root.exists("/usr/bin/xscreensaver") || users.contains(where: { root.exists($0.home + "/.xscreensaver") }) {
            desktops.insert("xscreensaver")
        }
        var result: [ScreenLockSettings] = []
        // The machine's dconf databases and schema defaults, read once for every user of every dconf desktop.
        var dconf: (system: DconfSystem, defaults: GSettingsDefaults)?
        for desktop in desktops.sorted() {
            let people: [LocalUsers.User?] = [nil] + users.map { Optional($0) }
            for user in people {
                switch desktop {
                case "gnome", "cinnamon", "mate":
                    guard let spec = DconfDesktop.all[desktop] else { continue }
                    let machine = dconf ?? (DconfSystem(root: root), GSettingsDefaults(root: root))
                    dconf = machine
                    result.append(spec.settings(machine.system, defaults: machine.defaults, user: user))
                case "xfce": result.append(XfceScreensaver.settings(root, user: user))
                case "kde": result.append(KDEScreenLocker.settings(root, user: user))
                case "xscreensaver":
                    if let settings = XScreenSaver.settings(root, user: user) { result.append(settings) }
                default: continue
                }
            }
        }
        return result
    }

    /// Session files in `/usr/share/xsessions` and `/usr/share/wayland-sessions` name the desktops a user can pick
    /// at the login screen.
    static func installedDesktops(_ root: FileSystemRoot) -> [String] {
        var found: [String] = []
        for directory in ["/usr/share/xsessions", "/usr/share/wayland-sessions"] {
            for file in (try? root.listDirectory(directory).get()) ?? [] where file.hasSuffix(".desktop") {
                var names = [String(file.dropLast(8))]
                if case .success(let text) = root.readText("\(directory)/\(file)") {
                    for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("DesktopNames=") {
                        names += line.dropFirst(13).split(separator: ";").map(String.init)
                    }
                }
                if let desktop = names.lazy.compactMap(desktop(named:)).first { found.append(desktop) }
            }
        }
        return found
    }

    /// `GNOME`, `ubuntu:GNOME`, `gnome-xorg`, `X-Cinnamon`, `MATE`, `XFCE`, `xfce`, `KDE`, `plasma`, `plasmawayland`.
    static func desktop(named name: String) -> String? {
        for part in name.lowercased().split(separator: ":").reversed() {
            if part.contains("cinnamon") { return "cinnamon" }
            if part.contains("gnome") || part == "ubuntu" || part == "unity" || part == "budgie" { return "gnome" }
            if part.contains("mate") { return "mate" }
            if part.contains("xfce") { return "xfce" }
            if part.contains("plasma") || part.contains("kde") { return "kde" }
        }
        return nil
    }
}

/// The human accounts on the machine: `/etc/passwd` entries from UID_MIN (login.defs, 1000 on Debian) with a login
/// shell and a home directory, plus directory (LDAP) users with a session, whose home is `/home/NAME`.
enum LocalUsers {
    struct User: Equatable {
        var name: String
        var home: String
    }

    static func read(_ root: FileSystemRoot, sessions: [LoginSession]) -> [User] {
        var minimum = 1000, maximum = 60000
        if case .success(let defs) = root.readText("/etc/login.defs") {
            for line in defs.split(whereSeparator: \.isNewline) {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count == 2, let number = Int(fields[1]) else { continue }
                if fields[0] == "UID_MIN" { minimum = number }
                if fields[0] == "UID_MAX" { maximum = number }
            }
        }
        var users: [User] = []
        if case .success(let passwd) = root.readText("/etc/passwd") {
            for line in passwd.split(whereSeparator: \.isNewline) {
                let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard fields.count >= 7, let uid = Int(fields[2]), uid >= minimum, uid <= maximum,
                      !fields[6].hasSuffix("nologin"), !fields[6].hasSuffix("/false"), root.isDirectory(fields[5]) else { continue }
                users.append(User(name: fields[0], home: fields[5]))
            }
        }
        for session in sessions where !session.user.isEmpty && !users.contains(where: { $0.name == session.user }) {
            if root.isDirectory("/home/\(session.user)") { users.append(User(name: session.user, home: "/home/\(session.user)")) }
        }
        return users
    }
}

/// GNOME, Cinnamon and MATE keep their screen-lock settings in GSettings, stored by dconf.
struct DconfDesktop {
    struct Key {
        var schema: String
        var name: String
        /// Seconds per unit of the stored value (MATE stores minutes).
        var seconds: Int = 1
        var path: String { "/" + schema.split(separator: ".").joined(separator: "/") + "/" + name }
    }

    var id: String
    var lockEnabled: Key
    var idleDelay: Key
    var lockDelay: Key
    /// MATE can switch the screensaver off altogether; then it never starts, whatever the delay.
    var idleActivation: Key?

    static let all: [String: DconfDesktop] = [
        "gnome": DconfDesktop(
            id: "gnome", lockEnabled: Key(schema: "org.gnome.desktop.screensaver", name: "lock-enabled"),
            idleDelay: Key(schema: "org.gnome.desktop.session", name: "idle-delay"),
            lockDelay: Key(schema: "org.gnome.desktop.screensaver", name: "lock-delay")),
        "cinnamon": DconfDesktop(
            id: "cinnamon", lockEnabled: Key(schema: "org.cinnamon.desktop.screensaver", name: "lock-enabled"),
            idleDelay: Key(schema: "org.cinnamon.desktop.session", name: "idle-delay"),
            lockDelay: Key(schema: "org.cinnamon.desktop.screensaver", name: "lock-delay")),
        "mate": DconfDesktop(
            id: "mate", lockEnabled: Key(schema: "org.mate.screensaver", name: "lock-enabled"),
            idleDelay: Key(schema: "org.mate.session", name: "idle-delay", seconds: 60),
            lockDelay: Key(schema: "org.mate.screensaver", name: "lock-delay", seconds: 60),
            idleActivation: Key(schema: "org.mate.screensaver", name: "idle-activation-enabled")),
    ]

    func settings(_ system: DconfSystem, defaults: GSettingsDefaults, user: LocalUsers.User?) -> ScreenLockSettings {
        let profile = DconfProfile(system: system, home: user?.home, userLabel: user.map { "~\($0.name)" } ?? "~")
        var notes = profile.notes
        func lookup(_ key: Key) -> (GVDBFile.Value, String, Bool)? {
            if let found = profile.effective(key.path) { return (found.value, found.source, found.locked) }
            if let fallback = defaults.value(schema: key.schema, key: key.name) { return (fallback.value, fallback.source, false) }
            return nil
        }
        func boolean(_ key: Key) -> SourcedValue<Bool>? {
            guard let (value, source, locked) = lookup(key) else {
                notes.append("\(key.schema) \(key.name): no database sets it and the schema is not installed")
                return nil
            }
            guard case .bool(let flag) = value else {
                notes.append("\(key.path) in \(source) is not a boolean")
                return nil
            }
            return SourcedValue(flag, source: source, locked: locked)
        }
        func seconds(_ key: Key) -> SourcedValue<Int>? {
            guard let (value, source, locked) = lookup(key) else {
                notes.append("\(key.schema) \(key.name): no database sets it and the schema is not installed")
                return nil
            }
            guard case .integer(let number) = value else {
                notes.append("\(key.path) in \(source) is not a number")
                return nil
            }
            return SourcedValue(number * key.seconds, source: source, locked: locked)
        }
        var idle = seconds(idleDelay)
        if let activation = idleActivation, let enabled = boolean(activation), !enabled.value {
            idle = SourcedValue(0, source: enabled.source + " (\(activation.name) false)", locked: enabled.locked)
        }
        return ScreenLockSettings(desktop: id, user: user?.name, lockEnabled: boolean(lockEnabled), idleDelaySeconds: idle,
                                  lockDelaySeconds: seconds(lockDelay), notes: notes)
    }
}

/// XFCE's xfce4-screensaver, configured through xfconf: the channel file in the user's config, over the
/// system-wide one in `/etc/xdg` (whose `locked="*"` properties the user cannot change).
enum XfceScreensaver {
    static let channel = "xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml"

    static func settings(_ root: FileSystemRoot, user: LocalUsers.User?) -> ScreenLockSettings {
        var notes: [String] = []
        let systemPath = "/etc/xdg/" + channel
        let system = XfconfChannel.read(root, systemPath, &notes)
        let personal = user.flatMap { XfconfChannel.read(root, "\($0.home)/.config/" + channel, &notes) }
        let installed = root.exists("/usr/bin/xfce4-screensaver")
        if !installed {
            notes.append("xfce4-screensaver is not installed: XFCE does not lock on idle by itself (light-locker, if used, is not checked)")
        }
        // xfce4-screensaver's own defaults, used when no channel file sets a property.
        let builtIn: [String: XfconfChannel.Value] = ["/saver/enabled": .bool(true), "/saver/idle-activation/enabled": .bool(true),
                                                       "/saver/idle-activation/delay": .integer(5), "/lock/enabled": .bool(true),
                                                       "/lock/saver-activation/enabled": .bool(true), "/lock/saver-activation/delay": .integer(0)]
        func lookup(_ property: String) -> (XfconfChannel.Value, String, Bool)? {
            if let entry = system?.properties[property], entry.locked { return (entry.value, systemPath + " (locked)", true) }
            if let user, let entry = personal?.properties[property] { return (entry.value, "~\(user.name)/.config/" + channel, false) }
            if let entry = system?.properties[property] { return (entry.value, systemPath, false) }
            if installed, let value = builtIn[property] { return (value, "xfce4-screensaver default", false) }
            return nil
        }
        func flag(_ property: String) -> SourcedValue<Bool>? {
            guard let (value, source, locked) = lookup(property), case .bool(let flag) = value else { return nil }
            return SourcedValue(flag, source: source, locked: locked)
        }
        func minutes(_ property: String) -> SourcedValue<Int>? {
            guard let (value, source, locked) = lookup(property), case .integer(let number) = value else { return nil }
            return SourcedValue(number * 60, source: source, locked: locked)
        }
        var idle = minutes("/saver/idle-activation/delay")
        for switchName in ["/saver/enabled", "/saver/idle-activation/enabled"] {
            if let enabled = flag(switchName), !enabled.value { idle = SourcedValue(0, source: enabled.source + " (\(switchName) false)", locked: enabled.locked) }
        }
        var lock = flag("/lock/enabled")
        if lock?.value == true, let onSaver = flag("/lock/saver-activation/enabled"), !onSaver.value { lock = onSaver }
        return ScreenLockSettings(desktop: "xfce", user: user?.name, lockEnabled: lock, idleDelaySeconds: idle,
                                  lockDelaySeconds: minutes("/lock/saver-activation/delay"), notes: notes)
    }
}

/// An xfconf channel file: nested `<property name=… type=… value=…>` elements; a property's key is its path.
struct XfconfChannel {
    enum Value: Equatable {
        case bool(Bool)
        case integer(Int)
        case string(String)
    }

    var properties: [String: (value: Value, locked: Bool)] = [:]

    static func read(_ root: FileSystemRoot, _ path: String, _ notes: inout [String]) -> XfconfChannel? {
        root.optionalText(path, &notes).map(parse)
    }

    static func parse(_ xml: String) -> XfconfChannel {
        var channel = XfconfChannel()
        var stack: [String] = []
        var rest = Substring(xml)
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { break }
            let tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("/property") {
                _ = stack.popLast()
                continue
            }
            guard tag.hasPrefix("property ") else { continue }
            let attributes = XMLAttributes.parse(tag)
            let name = attributes["name"] ?? ""
            let path = "/" + (stack + [name]).joined(separator: "/")
            if !tag.hasSuffix("/") { stack.append(name) }
            guard let raw = attributes["value"] else { continue }
            let locked = attributes["locked"].map { $0.split(separator: ";").contains("*") } ?? false
            switch attributes["type"] {
            case "bool": channel.properties[path] = (.bool(raw == "true"), locked)
            case "int", "uint", "int64", "uint64": if let number = Int(raw) { channel.properties[path] = (.integer(number), locked) }
            default: channel.properties[path] = (.string(raw), locked)
            }
        }
        return channel
    }
}

enum XMLAttributes {
    /// `name="value"` pairs of one tag, with the five predefined entities decoded.
    static func parse(_ tag: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var rest = tag
        while let equals = rest.firstIndex(of: "=") {
            let name = rest[..<equals].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).last.map(String.init) ?? ""
            let afterEquals = rest[rest.index(after: equals)...]
            guard let quote = afterEquals.first, quote == "\"" || quote == "'",
                  let end = afterEquals.dropFirst().firstIndex(of: quote) else { break }
            let value = afterEquals[afterEquals.index(after: afterEquals.startIndex)..<end]
            result[name] = String(value).replacing("&quot;", with: "\"").replacing("&apos;", with: "'")
                .replacing("&lt;", with: "<").replacing("&gt;", with: ">").replacing("&amp;", with: "&")
            rest = afterEquals[afterEquals.index(after: end)...]
        }
        return result
    }
}

/// KDE Plasma's screen locker: `[Daemon]` in `kscreenlockerrc`, the user's over `/etc/xdg`'s, where `[$i]` on the
/// group or key makes it immutable (KDE's kiosk lock); defaults from the installed kcfg.
enum KDEScreenLocker {
    static func settings(_ root: FileSystemRoot, user: LocalUsers.User?) -> ScreenLockSettings {
        var notes: [String] = []
        let systemPath = "/etc/xdg/kscreenlockerrc"
        let system = INIFile.read(root, systemPath, &notes)
        let personalPath = user.map { "\($0.home)/.config/kscreenlockerrc" }
        let personal = personalPath.flatMap { INIFile.read(root, $0, &notes) }
        let kcfgPath = "/usr/share/config.kcfg/kscreenlockersettings.kcfg"
        let kcfg = try? root.readText(kcfgPath).get()
        func lookup(_ key: String) -> (String, String, Bool)? {
            if let entry = system?.value(group: "Daemon", key: key), entry.immutable { return (entry.value, systemPath + " (immutable)", true) }
            if let user, let entry = personal?.value(group: "Daemon", key: key) { return (entry.value, "~\(user.name)/.config/kscreenlockerrc", false) }
            if let entry = system?.value(group: "Daemon", key: key) { return (entry.value, systemPath, false) }
            if let kcfg, let value = Self.kcfgDefault(kcfg, name: key) { return (value, "KDE default (\(kcfgPath))", false) }
            return nil
        }
        func flag(_ key: String) -> SourcedValue<Bool>? {
            guard let (value, source, locked) = lookup(key) else { return nil }
            return SourcedValue(value.lowercased() == "true", source: source, locked: locked)
        }
        func number(_ key: String, seconds: Int) -> SourcedValue<Int>? {
            guard let (value, source, locked) = lookup(key), let number = Int(value) else { return nil }
            return SourcedValue(number * seconds, source: source, locked: locked)
        }
        if kcfg == nil, system == nil, personal == nil { notes.append("KDE's screen locker settings are not installed (\(kcfgPath))") }
        return ScreenLockSettings(desktop: "kde", user: user?.name, lockEnabled: flag("Autolock"), idleDelaySeconds: number("Timeout", seconds: 60),
                                  lockDelaySeconds: number("LockGrace", seconds: 1), notes: notes)
    }

    /// A kcfg `<entry name="Timeout" type="Int"><default>5</default>` default.
    static func kcfgDefault(_ xml: String, name: String) -> String? {
        guard let start = xml.firstRange(of: "name=\"\(name)\"") else { return nil }
        let rest = xml[start.upperBound...]
        guard let entryEnd = rest.firstRange(of: "</entry>"), let open = rest.firstRange(of: "<default>"), let close = rest.firstRange(of: "</default>"),
              close.upperBound <= entryEnd.upperBound, open.upperBound <= close.lowerBound else { return nil }
        return String(rest[open.upperBound..<close.lowerBound])
    }
}

/// KDE-style INI: `[Group]`, `key=value`, and the kiosk marker `[$i]` after a group or key name.
struct INIFile {
    private var entries: [String: [String: (value: String, immutable: Bool)]] = [:]
    private var immutableGroups: Set<String> = []

    static func read(_ root: FileSystemRoot, _ path: String, _ notes: inout [String]) -> INIFile? {
        root.optionalText(path, &notes).map(parse)
    }

    static func parse(_ text: String) -> INIFile {
        var file = INIFile()
        var group = ""
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = String(raw.trimmingCharacters(in: " \t"))
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                let immutable = line.hasSuffix("[$i]")
                let name = immutable ? String(line.dropLast(4)) : line
                group = String(name.dropFirst().dropLast())
                if immutable { file.immutableGroups.insert(group) }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { continue }
            var key = String(line[..<equals].trimmingCharacters(in: " \t"))
            let immutable = key.hasSuffix("[$i]")
            if immutable { key = String(key.dropLast(4)) }
            file.entries[group, default: [:]][key] = (String(line[line.index(after: equals)...].trimmingCharacters(in: " \t")), immutable)
        }
        return file
    }

    func value(group: String, key: String) -> (value: String, immutable: Bool)? {
        guard let entry = entries[group]?[key] else { return nil }
        return (entry.value, entry.immutable || immutableGroups.contains(group))
    }
}

/// jwz's xscreensaver: `~/.xscreensaver` over the system defaults in `/etc/X11/app-defaults/XScreenSaver`.
enum XScreenSaver {
    static let systemPath = "/etc/X11/app-defaults/XScreenSaver"

    static func settings(_ root: FileSystemRoot, user: LocalUsers.User?) -> ScreenLockSettings? {
        var notes: [String] = []
        let system = resources(root, systemPath, prefix: "*", &notes)
        let personal = user.flatMap { resources(root, "\($0.home)/.xscreensaver", prefix: "", &notes) }
        // A user without ~/.xscreensaver and without a system file: nothing to report for them.
        if user != nil, personal == nil { return nil }
        if user == nil, system == nil, !root.exists("/usr/bin/xscreensaver") { return nil }
        func lookup(_ key: String) -> (String, String)? {
            if let user, let value = personal?[key] { return (value, "~\(user.name)/.xscreensaver") }
            if let value = system?[key] { return (value, systemPath) }
            return nil
        }
        func flag(_ key: String) -> SourcedValue<Bool>? {
            lookup(key).map { SourcedValue($0.0.lowercased() == "true", source: $0.1) }
        }
        func duration(_ key: String) -> SourcedValue<Int>? {
            guard let (value, source) = lookup(key), let seconds = Self.seconds(value) else { return nil }
            return SourcedValue(seconds, source: source)
        }
        var idle = duration("timeout")
        if let mode = lookup("mode"), mode.0.lowercased() == "off" { idle = SourcedValue(0, source: mode.1 + " (mode off)") }
        return ScreenLockSettings(desktop: "xscreensaver", user: user?.name, lockEnabled: flag("lock"), idleDelaySeconds: idle,
                                  lockDelaySeconds: duration("lockTimeout"), notes: notes)
    }

    static func resources(_ root: FileSystemRoot, _ path: String, prefix: String, _ notes: inout [String]) -> [String: String]? {
        guard case .success(let text) = root.readText(path) else { return nil }
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: " \t")
            guard !line.hasPrefix("!"), !line.hasPrefix("#"), let colon = line.firstIndex(of: ":") else { continue }
            var key = String(line[..<colon])
            if key.hasPrefix(prefix) { key = String(key.dropFirst(prefix.count)) }
            if key.hasPrefix("XScreenSaver.") { key = String(key.dropFirst(13)) }
            guard !key.contains("*"), !key.contains(".") else { continue }
            values[key] = String(line[line.index(after: colon)...].trimmingCharacters(in: " \t"))
        }
        return values
    }

    /// `0:10:00`, `10:00` or `10` (minutes).
    static func seconds(_ text: String) -> Int? {
        let parts = text.split(separator: ":").map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        let numbers = parts.compactMap { $0 }
        switch numbers.count {
        case 1: return numbers[0] * 60
        case 2: return numbers[0] * 60 + numbers[1]
        case 3: return numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
        default: return nil
        }
    }
}

/// logind's session files, `/run/systemd/sessions/ID` (key=value lines).
struct SessionCollector {
    func collect(_ reader: FactReader) -> [LoginSession] {
        let directory = "/run/systemd/sessions"
        guard case .success(let names) = reader.root.listDirectory(directory) else { return [] }
        return names.filter { !$0.contains(".") }.compactMap { name in
            guard case .success(let text) = reader.root.readText("\(directory)/\(name)") else { return nil }
            var fields: [String: String] = [:]
            for line in text.split(whereSeparator: \.isNewline) {
                guard let equals = line.firstIndex(of: "=") else { continue }
                fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            guard let user = fields["USER"] else { return nil }
            return LoginSession(
                id: name, user: user, uid: fields["UID"].flatMap { Int($0) }, type: fields["TYPE"], sessionClass: fields["CLASS"],
                desktop: fields["DESKTOP"], seat: fields["SEAT"], tty: fields["TTY"], remote: fields["REMOTE"] == "1",
                active: fields["ACTIVE"] == "1" || fields["STATE"] == "active")
        }
    }
}

extension FileSystemRoot {
    /// A settings file that may well not exist: its text, or nil; a file that exists but cannot be read is a note.
    func optionalText(_ path: String, _ notes: inout [String]) -> String? {
        switch readText(path) {
        case .success(let text): return text
        case .failure(let failure):
            if !failure.isMissing { notes.append("\(path): \(failure.reason)") }
            return nil
        }
    }
}

/// Screen lock and storage, for the inventory report.
struct PostureCollector {
    func collect(_ reader: FactReader) -> PostureFacts {
        let sessions = SessionCollector().collect(reader)
        return PostureFacts(sessions: sessions, screenLock: ScreenLockCollector().collect(reader, sessions: sessions),
                            storage: StorageCollector().collect(reader))
    }
}
