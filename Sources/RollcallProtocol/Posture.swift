#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// What the agent saw of the machine's security posture: screen locking per desktop and user, and how each mounted
/// filesystem and swap area is stored. Facts only; the controller judges them against the school's policy.
public struct PostureFacts: Codable, Sendable, Equatable {
    /// Login sessions at the time of the snapshot (logind), so the report can say who uses which desktop.
    public var sessions: [LoginSession]
    /// One entry per desktop that is installed or in use: the machine-wide values, then one per user with settings.
    public var screenLock: [ScreenLockSettings]
    /// Every mounted block-backed filesystem and active swap area, with the block devices under it.
    public var storage: StorageFacts

    public init(sessions: [LoginSession], screenLock: [ScreenLockSettings], storage: StorageFacts) {
        self.sessions = sessions
        self.screenLock = screenLock
        self.storage = storage
    }
}

/// A logind session (`/run/systemd/sessions/ID`).
public struct LoginSession: Codable, Sendable, Equatable {
    public var id: String
    public var user: String
    public var uid: Int?
    /// `x11`, `wayland`, `tty`, `mir`, `unspecified`.
    public var type: String?
    /// `user`, `greeter`, `lock-screen`, `background`.
    public var sessionClass: String?
    /// `XDG_CURRENT_DESKTOP` of the session (`GNOME`, `XFCE`, `KDE`, ...).
    public var desktop: String?
    public var seat: String?
    public var tty: String?
    public var remote: Bool
    public var active: Bool

    public init(id: String, user: String, uid: Int?, type: String?, sessionClass: String?, desktop: String?, seat: String?,
                tty: String?, remote: Bool, active: Bool) {
        self.id = id
        self.user = user
        self.uid = uid
        self.type = type
        self.sessionClass = sessionClass
        self.desktop = desktop
        self.seat = seat
        self.tty = tty
        self.remote = remote
        self.active = active
    }

    /// A person at the machine's own screen and keyboard, rather than over SSH or a display manager's greeter.
    public var isConsole: Bool { !remote && (sessionClass ?? "user") == "user" && (seat != nil || type == "x11" || type == "wayland") }
}

/// A setting's value and where it came from, so the technician knows what to change.
public struct SourcedValue<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var value: Value
    /// For example `/etc/dconf/db/local (locked)`, `~ada/.config/dconf/user`, `schema default (org.gnome.desktop.session)`.
    public var source: String
    /// A system lock: the user cannot change it.
    public var locked: Bool

    public init(_ value: Value, source: String, locked: Bool = false) {
        self.value = value
        self.source = source
        self.locked = locked
    }
}

/// The effective screen-lock settings of one desktop for one user (or machine-wide, `user == nil`).
public struct ScreenLockSettings: Codable, Sendable, Equatable {
    /// `gnome`, `cinnamon`, `mate`, `xfce`, `kde`, `xscreensaver`.
    public var desktop: String
    /// nil: the machine-wide defaults and locks every user starts from.
    public var user: String?
    /// Whether the screensaver/idle action locks the screen.
    public var lockEnabled: SourcedValue<Bool>?
    /// Seconds of inactivity before the screen blanks or the screensaver starts; 0 means never.
    public var idleDelaySeconds: SourcedValue<Int>?
    /// Seconds after the screensaver starts before it locks (a grace period); 0 means at once.
    public var lockDelaySeconds: SourcedValue<Int>?
    /// What the agent noticed and could not settle (keyfiles newer than their compiled database, unreadable files).
    public var notes: [String]

    public init(desktop: String, user: String?, lockEnabled: SourcedValue<Bool>? = nil, idleDelaySeconds: SourcedValue<Int>? = nil,
                lockDelaySeconds: SourcedValue<Int>? = nil, notes: [String] = []) {
        self.desktop = desktop
        self.user = user
        self.lockEnabled = lockEnabled
        self.idleDelaySeconds = idleDelaySeconds
        self.lockDelaySeconds = lockDelaySeconds
        self.notes = notes
    }
}

/// Mounted filesystems and swap with the block-device graph beneath them.
public struct StorageFacts: Codable, Sendable, Equatable {
    public var volumes: [Volume]
    /// Every block device reached from a volume, by kernel name (`dm-0`, `nvme0n1p3`, `md127`).
    public var devices: [BlockDevice]

    public init(volumes: [Volume], devices: [BlockDevice]) {
        self.volumes = volumes
        self.devices = devices
    }

    public struct Volume: Codable, Sendable, Equatable {
        /// The mount point, or `[swap]` with the swap path in `source`.
        public var mountPoint: String
        public var isSwap: Bool
        public var filesystem: String?
        /// As mountinfo or /proc/swaps gives it (`/dev/mapper/vg-root`, `/swapfile`).
        public var source: String
        /// The kernel name of the block device holding it; nil when it could not be resolved (reason in `note`).
        public var device: String?
        /// A swap file or a loop-mounted image lives inside another filesystem: its mount point.
        public var insideMount: String?
        public var note: String?

        public init(mountPoint: String, isSwap: Bool, filesystem: String?, source: String, device: String?,
                    insideMount: String? = nil, note: String? = nil) {
            self.mountPoint = mountPoint
            self.isSwap = isSwap
            self.filesystem = filesystem
            self.source = source
            self.device = device
            self.insideMount = insideMount
            self.note = note
        }
    }

    public struct BlockDevice: Codable, Sendable, Equatable {
        public var name: String
        /// `disk`, `partition`, `dm`, `md`, `loop`.
        public var kind: String
        /// device-mapper: `/sys/block/NAME/dm/uuid` (`CRYPT-LUKS2-…`, `LVM-…`) and `dm/name`.
        public var dmUUID: String?
        public var dmName: String?
        /// md: the RAID level (`raid1`).
        public var raidLevel: String?
        /// loop: the backing file.
        public var backingFile: String?
        /// The devices this one is built on (`slaves/`, or the disk of a partition).
        public var lowers: [String]

        public init(name: String, kind: String, dmUUID: String? = nil, dmName: String? = nil, raidLevel: String? = nil,
                    backingFile: String? = nil, lowers: [String] = []) {
            self.name = name
            self.kind = kind
            self.dmUUID = dmUUID
            self.dmName = dmName
            self.raidLevel = raidLevel
            self.backingFile = backingFile
            self.lowers = lowers
        }

        /// The dm-crypt flavour named by the device-mapper uuid, or nil when this layer does not encrypt.
        /// `CRYPT-VERITY` and `CRYPT-INTEGRITY` come from cryptsetup too but only check data; they do not hide it.
        public var encryption: String? {
            guard let uuid = dmUUID, uuid.hasPrefix("CRYPT-") else { return nil }
            let type = uuid.dropFirst(6).prefix { $0 != "-" }
            switch type {
            case "LUKS1": return "LUKS1"
            case "LUKS2": return "LUKS2"
            case "PLAIN": return "plain dm-crypt"
            case "BITLK": return "BitLocker"
            case "TCRYPT": return "TrueCrypt/VeraCrypt"
            case "LOOPAES": return "loop-AES"
            case "FVAULT2": return "FileVault2"
            default: return nil
            }
        }
    }
}
