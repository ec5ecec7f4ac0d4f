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
    /// dpkg's `Section` (`web`, `non-free/video`, `multiverse/net`): where the archive files it, which says whether it
    /// came from a free archive area. Nil for snaps and flatpaks, and from older agents.
    public var section: String?
    /// dpkg's `Maintainer`: a package from a vendor's own repository (Google, Microsoft, Zoom) names the vendor here,
    /// which is how licence reconciliation spots commercial software nobody has recorded a licence for.
    public var maintainer: String?

    public init(name: String, version: String, architecture: String?, source: Source, state: State,
                section: String? = nil, maintainer: String? = nil) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.source = source
        self.state = state
        self.section = section
        self.maintainer = maintainer
    }
}
