/// Installed software from the package managers the agent knows.
public struct SoftwareInventory: Codable, Sendable, Equatable {
    public var packages: [SoftwarePackage]

    public init(packages: [SoftwarePackage]) {
        self.packages = packages
    }

    /// Packages that are actually installed (dpkg also lists removed packages whose configuration files remain).
    public var installedCount: Int {
        packages.reduce(0) { $0 + ($1.state == .installed ? 1 : 0) }
    }
}

public struct SoftwarePackage: Codable, Sendable, Equatable, Hashable {
    public enum Source: String, Codable, Sendable {
        case dpkg, snap, flatpak
    }

    /// dpkg's state from the `Status` field; snap and flatpak packages are always `installed`.
    public enum State: String, Codable, Sendable {
        case installed
        case configFiles = "config-files"
        case halfInstalled = "half-installed"
        case unpacked
        case halfConfigured = "half-configured"
        case triggersAwaited = "triggers-awaited"
        case triggersPending = "triggers-pending"
    }

    /// The name as `dpkg-query -W` prints it: arch-qualified (`libc6:i386`) for Multi-Arch: same and foreign packages.
    public var name: String
    public var version: String
    public var architecture: String?
    public var source: Source
    public var state: State

    public init(name: String, version: String, architecture: String?, source: Source, state: State) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.source = source
        self.state = state
    }
}
