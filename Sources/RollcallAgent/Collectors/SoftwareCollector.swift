import RollcallProtocol

/// Installed software: dpkg's database, snaps and system-wide flatpaks.
struct SoftwareCollector {
    func collect(_ reader: FactReader) -> SoftwareInventory {
        var packages: [SoftwarePackage] = []
        switch reader.root.readBytes("/var/lib/dpkg/status") {
        case .success(let bytes):
            packages = DpkgStatusParser.parse(bytes)
        case .failure(let failure):
            reader.note("software.dpkg", "/var/lib/dpkg/status", failure.reason)
        }
        packages += SnapCollector().collect(reader.root)
        packages += FlatpakCollector().collect(reader.root)
        return SoftwareInventory(packages: packages)
    }
}

/// Reads `/var/lib/dpkg/status` the way `dpkg-query -W` lists it.
///
/// Every package whose state is not `not-installed` is listed (dpkg-query includes `config-files` leftovers;
/// ``SoftwarePackage/state`` tells them apart), named as `${binary:Package}` names it: arch-qualified when the
/// package is `Multi-Arch: same` or of a foreign architecture. The native architecture is dpkg's own.
/// The parser works on bytes and only makes strings of the five fields it needs: the file is ~1-3 MB on a desktop.
enum DpkgStatusParser {
    struct Stanza {
        var package: String?
        var version: String?
        var architecture: String?
        var multiArchSame = false
        var state: String?
        var section: String?
        var maintainer: String?
    }

    static func parse(_ bytes: [UInt8]) -> [SoftwarePackage] {
        var stanzas: [Stanza] = []
        var current = Stanza()
        var hasFields = false
        bytes.withUnsafeBufferPointer { buffer in
            var lineStart = 0
            let count = buffer.count
            while lineStart < count {
                var lineEnd = lineStart
                while lineEnd < count, buffer[lineEnd] != 0x0A { lineEnd += 1 }
                let length = lineEnd - lineStart
                if length == 0 || (length == 1 && buffer[lineStart] == 0x0D) {
                    if hasFields { stanzas.append(current) }
                    current = Stanza()
                    hasFields = false
                } else if buffer[lineStart] != 0x20, buffer[lineStart] != 0x09 {
                    hasFields = true
                    let line = UnsafeBufferPointer(rebasing: buffer[lineStart..<lineEnd])
                    if let value = fieldValue(line, "Package") {
                        current.package = value
                    } else if let value = fieldValue(line, "Version") {
                        current.version = value
                    } else if let value = fieldValue(line, "Architecture") {
                        current.architecture = value
                    } else if let value = fieldValue(line, "Multi-Arch") {
                        current.multiArchSame = value == "same"
                    } else if let value = fieldValue(line, "Status") {
                        current.state = value.split(separator: " ").last.map(String.init)
                    } else if let value = fieldValue(line, "Section") {
                        current.section = value
                    } else if let value = fieldValue(line, "Maintainer") {
                        current.maintainer = value
                    }
                }
                lineStart = lineEnd + 1
            }
        }
        if hasFields { stanzas.append(current) }

        let native = stanzas.first { $0.package == "dpkg" }?.architecture ?? mostCommonArchitecture(stanzas)
        var packages: [SoftwarePackage] = []
        packages.reserveCapacity(stanzas.count)
        for stanza in stanzas {
            guard let name = stanza.package, let stateName = stanza.state, stateName != "not-installed" else { continue }
            guard let state = SoftwarePackage.State(rawValue: stateName) else { continue }
            var displayName = name
            // dpkg never qualifies arch:all packages, whatever their Multi-Arch.
            if let arch = stanza.architecture, !arch.isEmpty, arch != "all", stanza.multiArchSame || arch != native {
                displayName += ":" + arch
            }
            packages.append(SoftwarePackage(
                name: displayName, version: stanza.version ?? "", architecture: stanza.architecture,
                source: .dpkg, state: state, section: stanza.section, maintainer: stanza.maintainer))
        }
        packages.sort { ($0.name, $0.architecture ?? "") < ($1.name, $1.architecture ?? "") }
        return packages
    }

    /// "Field: value" where the field name matches exactly (dpkg field names are case-insensitive).
    private static func fieldValue(_ line: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> String? {
        let nameLength = name.utf8CodeUnitCount
        guard line.count > nameLength, line[nameLength] == 0x3A else { return nil }
        let nameBytes = UnsafeBufferPointer(start: name.utf8Start, count: nameLength)
        for index in 0..<nameLength where line[index] | 0x20 != nameBytes[index] | 0x20 { return nil }
        var start = nameLength + 1
        while start < line.count, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        var end = line.count
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x0D || line[end - 1] == 0x09 { end -= 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: line[start..<end]), as: UTF8.self)
    }

    private static func mostCommonArchitecture(_ stanzas: [Stanza]) -> String? {
        var counts: [String: Int] = [:]
        for stanza in stanzas { if let arch = stanza.architecture, arch != "all" { counts[arch, default: 0] += 1 } }
        return counts.max { $0.value < $1.value }?.key
    }
}

/// Snaps mounted under `/snap/NAME/current`, version from their `meta/snap.yaml`.
struct SnapCollector {
    func collect(_ root: FileSystemRoot) -> [SoftwarePackage] {
        guard case .success(let names) = root.listDirectory("/snap") else { return [] }
        return names.compactMap { name in
            guard name != "bin", name != "README",
                  case .success(let yaml) = root.readText("/snap/\(name)/current/meta/snap.yaml") else { return nil }
            let version = Self.topLevelValue("version", in: yaml) ?? ""
            let arch = Self.topLevelValue("architectures", in: yaml)
            return SoftwarePackage(name: name, version: version, architecture: arch, source: .snap, state: .installed)
        }
    }

    /// A top-level scalar of a snap.yaml (`version: 1.2`, `version: '1.2'`).
    static func topLevelValue(_ key: String, in yaml: String) -> String? {
        for line in yaml.split(separator: "\n") where line.hasPrefix(key + ":") {
            var value = line.dropFirst(key.count + 1).trimmingCharacters(in: " \t")
            if let first = value.first, first == "'" || first == "\"", value.count >= 2, value.last == first {
                value = value.dropFirst().dropLast()
            }
            return value.isEmpty ? nil : String(value)
        }
        return nil
    }
}

/// System-wide flatpak applications under `/var/lib/flatpak/app/ID/current` (a link to `ARCH/BRANCH`).
struct FlatpakCollector {
    static let base = "/var/lib/flatpak/app"

    func collect(_ root: FileSystemRoot) -> [SoftwarePackage] {
        guard case .success(let ids) = root.listDirectory(Self.base) else { return [] }
        return ids.compactMap { id in
            guard case .success(let target) = root.readLink("\(Self.base)/\(id)/current") else { return nil }
            let parts = target.split(separator: "/")
            let arch = parts.first.map(String.init)
            let branch = parts.count > 1 ? String(parts[1]) : ""
            let version = releaseVersion(root, id: id) ?? branch
            return SoftwarePackage(name: id, version: version, architecture: arch, source: .flatpak, state: .installed)
        }
    }

    /// The newest `<release version="...">` of the app's AppStream metainfo, when the app ships one.
    private func releaseVersion(_ root: FileSystemRoot, id: String) -> String? {
        let share = "\(Self.base)/\(id)/current/active/files/share"
        for path in ["\(share)/metainfo/\(id).metainfo.xml", "\(share)/appdata/\(id).appdata.xml"] {
            guard case .success(let xml) = root.readText(path), let release = xml.firstRange(of: "<release ") else { continue }
            let tail = xml[release.upperBound...]
            guard let attribute = tail.firstRange(of: "version=\"") else { continue }
            let value = tail[attribute.upperBound...].prefix { $0 != "\"" }
            if !value.isEmpty { return String(value) }
        }
        return nil
    }
}
