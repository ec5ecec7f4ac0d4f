public import Foundation
public import RollcallProtocol

/// A pass or fail with the reason a technician acts on.
public struct Verdict: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case pass
        case fail
        /// The agent could not tell (an old agent, no facts, an unresolvable device).
        case unknown
        /// The policy does not ask it of this machine (a desktop PC when only laptops must be encrypted, a
        /// machine with no desktop installed).
        case notRequired = "not required"
    }

    public var status: Status
    public var reason: String

    public init(_ status: Status, _ reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// One device's screen-lock and encryption verdicts.
public struct DevicePosture: Codable, Sendable, Equatable {
    public var deviceID: String
    public var screenLock: Verdict
    public var encryption: Verdict
    /// When the facts were collected.
    public var collectedAt: Date?
}

/// Judges an agent's posture facts against the school's policy. The agent reports facts only, so a policy change
/// here re-judges every machine at once, with no agent update.
public struct PostureJudge: Sendable {
    public let policy: PosturePolicy

    public init(policy: PosturePolicy) {
        self.policy = policy
    }

    /// What a stored verdict was judged under: the policy, and the judge's own revision (raise it when a release
    /// changes how facts are judged, and every stored verdict is judged again).
    var key: String {
        ["judge 1", "lock \(policy.requireScreenLock)", "idle \(policy.maxIdleMinutes)", "encrypt \(policy.encryptionRequiredFor.rawValue)",
         "mounts " + policy.encryptedMounts.joined(separator: ",")].joined(separator: "; ")
    }

    /// SMBIOS chassis types that leave the building: portable, laptop, notebook, sub-notebook, tablet, convertible,
    /// detachable.
    static let portableChassis: Set<Int> = [8, 9, 10, 14, 30, 31, 32]

    public func judge(deviceID: String, facts: PostureFacts?, chassisType: Int?, collectedAt: Date?) -> DevicePosture {
        guard let facts else {
            let reason = "no posture facts yet: the device has not reported since its agent gained the checks"
            return DevicePosture(deviceID: deviceID, screenLock: Verdict(.unknown, reason), encryption: Verdict(.unknown, reason), collectedAt: collectedAt)
        }
        return DevicePosture(deviceID: deviceID, screenLock: screenLock(facts), encryption: encryption(facts.storage, chassisType: chassisType),
                             collectedAt: collectedAt)
    }

    // MARK: Screen lock

    func screenLock(_ facts: PostureFacts) -> Verdict {
        guard policy.requireScreenLock else { return Verdict(.notRequired, "the policy does not require a screen lock") }
        guard !facts.screenLock.isEmpty else {
            return Verdict(.notRequired, "no desktop is installed or in use (no X11 or Wayland session types, no logged-in desktop)")
        }
        // Each person's effective settings are what counts; the machine-wide ones stand for people yet to log in.
        var failures: [String] = []
        var unknowns: [String] = []
        var passes: [String] = []
        for settings in facts.screenLock {
            let who = settings.user.map { "\(settings.desktop) for \($0)" } ?? "\(settings.desktop) machine-wide"
            switch check(settings) {
            case .pass(let text): passes.append("\(who): \(text)")
            case .fail(let text): failures.append("\(who): \(text)")
            case .unknown(let text): unknowns.append("\(who): \(text)")
            }
        }
        if !failures.isEmpty { return Verdict(.fail, (failures + unknowns).joined(separator: "; ")) }
        if !unknowns.isEmpty { return Verdict(.unknown, unknowns.joined(separator: "; ")) }
        return Verdict(.pass, passes.count == 1 ? passes[0] : "\(passes.count) settings checked; " + passes[0])
    }

    enum Check {
        case pass(String), fail(String), unknown(String)
    }

    func check(_ settings: ScreenLockSettings) -> Check {
        let limit = policy.maxIdleMinutes * 60
        guard let lock = settings.lockEnabled else {
            return .unknown("whether it locks is not known" + (settings.notes.first.map { " (\($0))" } ?? ""))
        }
        guard lock.value else { return .fail("locking is off (\(lock.source))") }
        guard let idle = settings.idleDelaySeconds else { return .unknown("the idle delay is not known") }
        guard idle.value > 0 else { return .fail("the screen never blanks on idle (\(idle.source))") }
        let delay = settings.lockDelaySeconds?.value ?? 0
        let total = idle.value + delay
        guard total <= limit else {
            var text = "locks after \(Self.minutes(total)) of inactivity, over the policy's \(policy.maxIdleMinutes) min (idle \(Self.minutes(idle.value)) from \(idle.source)"
            if delay > 0, let source = settings.lockDelaySeconds?.source { text += ", lock delay \(Self.minutes(delay)) from \(source)" }
            return .fail(text + ")")
        }
        let lockedNote = lock.locked && idle.locked ? ", locked by the system" : ""
        return .pass("locks after \(Self.minutes(total))\(lockedNote)")
    }

    static func minutes(_ seconds: Int) -> String {
        seconds % 60 == 0 ? "\(seconds / 60) min" : String(format: "%.1f min", Double(seconds) / 60)
    }

    // MARK: Encryption

    func encryption(_ storage: StorageFacts, chassisType: Int?) -> Verdict {
        switch policy.encryptionRequiredFor {
        case .none: return Verdict(.notRequired, "the policy does not require disk encryption")
        case .laptops:
            guard let chassisType, Self.portableChassis.contains(chassisType) else {
                return Verdict(.notRequired, chassisType == nil ? "not known to be a laptop (no SMBIOS chassis type); only laptops must be encrypted"
                                                                : "not a laptop (chassis type \(chassisType.map(String.init) ?? "?")); only laptops must be encrypted")
            }
        case .all: break
        }
        let devices = Dictionary(storage.devices.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let everything = policy.encryptedMounts.contains("*")
        let required = storage.volumes.filter { volume in
            everything || (volume.isSwap ? policy.encryptedMounts.contains("swap") : policy.encryptedMounts.contains(volume.mountPoint))
        }
        guard storage.volumes.contains(where: { $0.mountPoint == "/" }) || !required.isEmpty else {
            return Verdict(.unknown, "the agent found no mounted root filesystem")
        }
        var failures: [String] = []
        var unknowns: [String] = []
        var passes: [String] = []
        for volume in required {
            let name = volume.isSwap ? "swap \(volume.source)" : "\(volume.mountPoint) (\(volume.filesystem ?? "?"))"
            guard let device = volume.device else {
                unknowns.append("\(name): \(volume.note ?? "its block device is not known")")
                continue
            }
            switch Self.protection(of: device, devices, depth: 0) {
            case .encrypted(let how): passes.append("\(name) on \(how)")
            case .inMemory: passes.append("\(name) in memory (zram)")
            case .plain: failures.append("\(name) is not encrypted (\(Self.chain(from: device, devices)), no dm-crypt layer)")
            case .unknown(let why): unknowns.append("\(name): \(why)")
            }
        }
        if !failures.isEmpty { return Verdict(.fail, (failures + unknowns).joined(separator: "; ")) }
        if !unknowns.isEmpty { return Verdict(.unknown, unknowns.joined(separator: "; ")) }
        return Verdict(.pass, passes.joined(separator: "; "))
    }

    enum Protection: Equatable {
        case encrypted(String), inMemory, plain(String), unknown(String)
    }

    /// Encrypted when dm-crypt sits on every path from the volume down to the disks: LVM or RAID over several
    /// devices counts only if all of them are encrypted.
    static func protection(of name: String, _ devices: [String: StorageFacts.BlockDevice], depth: Int) -> Protection {
        guard depth < 32, let device = devices[name] else { return .unknown("device \(name) was not reported") }
        if let encryption = device.encryption { return .encrypted("\(encryption) (\(device.dmName ?? name))") }
        if device.kind == "zram" { return .inMemory }
        if device.kind == "loop" { return .unknown("\(name) is a loop device over \(device.backingFile ?? "an unknown file")") }
        guard !device.lowers.isEmpty else { return .plain(name) }
        let below = device.lowers.map { protection(of: $0, devices, depth: depth + 1) }
        if let plain = below.first(where: { if case .plain = $0 { true } else { false } }) { return plain }
        if let unknown = below.first(where: { if case .unknown = $0 { true } else { false } }) { return unknown }
        guard case .encrypted(let how) = below[0] else { return below[0] }
        return .encrypted(how)
    }

    /// `dm-1 (vg-root) → dm-0 → nvme0n1p3 → nvme0n1`: the first path down, for the reason text.
    static func chain(from name: String, _ devices: [String: StorageFacts.BlockDevice]) -> String {
        var parts: [String] = []
        var current: String? = name
        while let name = current, parts.count < 16 {
            let device = devices[name]
            parts.append(device?.dmName.map { "\(name) (\($0))" } ?? device?.raidLevel.map { "\(name) (\($0))" } ?? name)
            current = device?.lowers.first
        }
        return parts.joined(separator: " → ")
    }
}
