import Foundation

/// `[posture]`: what the school's policy asks of a workstation's screen lock and disk encryption.
///
/// ```toml
/// [posture]
/// require_screen_lock = true
/// max_idle_minutes = 10              # idle time plus lock delay, at most
/// encryption_required_for = "laptops" # "laptops", "all" or "none"
/// encrypted_mounts = ["/", "/home", "swap"]
/// ```
public struct PosturePolicy: Sendable, Equatable {
    static let keys = ["require_screen_lock", "max_idle_minutes", "encryption_required_for", "encrypted_mounts"]

    public enum EncryptionScope: String, Sendable, CaseIterable {
        /// Machines whose SMBIOS chassis says portable: they leave the building.
        case laptops
        case all
        case none
    }

    public var requireScreenLock = true
    /// "a time locking screensaver": the screen must be locked within this long of the last keypress.
    public var maxIdleMinutes = 10
    public var encryptionRequiredFor = EncryptionScope.laptops
    /// Mount points that must sit on dm-crypt where mounted separately, plus `swap` for every swap area and `*` for
    /// every block-backed filesystem.
    public var encryptedMounts = ["/", "/home", "swap"]

    public init() {}

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        if let flag = try reader.boolean("posture", "require_screen_lock") { requireScreenLock = flag }
        if let minutes = try reader.integer("posture", "max_idle_minutes") {
            guard minutes >= 1 else { throw reader.fail("'posture.max_idle_minutes' must be 1 or more") }
            maxIdleMinutes = minutes
        }
        if let scope = try reader.string("posture", "encryption_required_for") {
            guard let value = EncryptionScope(rawValue: scope) else {
                throw reader.fail("'posture.encryption_required_for' must be \"laptops\", \"all\" or \"none\", not \"\(scope)\"")
            }
            encryptionRequiredFor = value
        }
        if let mounts = try reader.strings("posture", "encrypted_mounts") {
            for mount in mounts where !(mount.hasPrefix("/") || mount == "swap" || mount == "*") {
                throw reader.fail("'posture.encrypted_mounts' holds \"\(mount)\": use mount points like \"/home\", \"swap\" or \"*\"")
            }
            encryptedMounts = mounts
        }
    }
}

/// `[usb]`: whether agents switch off USB storage that is not on the approved list.
public struct USBPolicy: Sendable, Equatable {
    static let keys = ["block_unapproved"]

    /// Off by default: an unapproved stick is then reported and opens an incident, but still works.
    public var blockUnapproved = false

    public init() {}

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        if let flag = try reader.boolean("usb", "block_unapproved") { blockUnapproved = flag }
    }
}
