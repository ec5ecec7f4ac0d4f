import Foundation
import RollcallAgent
@testable import RollcallController
import RollcallProtocol
import RollcallTestSupport
import Testing

/// Encryption verdicts on the storage the agent collects from captured machines (Tests/Fixtures/encryption), and
/// screen-lock verdicts against the school's limit.
@Suite("Posture verdicts")
struct PostureJudgeTests {
    static func storage(_ scenario: String) throws -> PostureFacts {
        let root = Repository.path("Tests/Fixtures/encryption/\(scenario)")
        return try #require(InventoryCollector(root: FileSystemRoot(root)).collect().posture)
    }

    static var everyMachine: PosturePolicy {
        var policy = PosturePolicy()
        policy.encryptionRequiredFor = .all
        return policy
    }

    static func encryption(_ scenario: String, policy: PosturePolicy = everyMachine, chassis: Int? = 10) throws -> Verdict {
        PostureJudge(policy: policy).judge(deviceID: "d", facts: try storage(scenario), chassisType: chassis, collectedAt: nil).encryption
    }

    @Test("LUKS2 straight on the partition: root and home (btrfs subvolumes) pass, zram swap is in memory")
    func luks2Root() throws {
        let verdict = try Self.encryption("luks2-root")
        #expect(verdict.status == .pass)
        #expect(verdict.reason.contains("/ (btrfs) on LUKS2 (luks-f41579a2-9f6e-4436-91fd-73007962705f)"))
        #expect(verdict.reason.contains("swap /dev/zram0 in memory (zram)"))
    }

    @Test("LVM on LUKS, the Debian installer's encrypted LVM: root passes through the volume group")
    func lvmOnLUKS() throws {
        let verdict = try Self.encryption("lvm-on-luks")
        #expect(verdict.status == .pass)
        #expect(verdict.reason == "/ (ext4) on LUKS2 (dm_crypt-1)")
    }

    @Test("LVM on LUKS1 with the swap logical volume: swap is encrypted too")
    func lvmOnLUKS1WithSwap() throws {
        let verdict = try Self.encryption("lvm-on-luks1-swap-lv")
        #expect(verdict.status == .pass)
        #expect(verdict.reason == "/ (ext4) on LUKS1 (nvme0n1p3_crypt); swap /dev/dm-2 on LUKS1 (nvme0n1p3_crypt)")
    }

    @Test("an unencrypted machine fails on root and on a separate /home, naming the chain")
    func unencrypted() throws {
        let verdict = try Self.encryption("unencrypted")
        #expect(verdict.status == .fail)
        #expect(verdict.reason == "/ (ext4) is not encrypted (sda4 → sda, no dm-crypt layer); /home (ext4) is not encrypted (nvme0n1p2 → nvme0n1, no dm-crypt layer)")
    }

    @Test("encrypted home only: /home passes but root and the swap partition fail")
    func encryptedHomeOnly() throws {
        let verdict = try Self.encryption("encrypted-home-only")
        #expect(verdict.status == .fail)
        #expect(verdict.reason.contains("/ (ext4) is not encrypted"))
        #expect(verdict.reason.contains("swap /dev/sda6 is not encrypted"))
        #expect(!verdict.reason.contains("/home (ext4) is not encrypted"))
        var homeOnly = Self.everyMachine
        homeOnly.encryptedMounts = ["/home"]
        #expect(try Self.encryption("encrypted-home-only", policy: homeOnly).status == .pass)
    }

    @Test("only laptops need encryption by default: a desktop chassis is not required, a notebook is")
    func laptopsOnly() throws {
        let policy = PosturePolicy()
        #expect(try Self.encryption("unencrypted", policy: policy, chassis: 3).status == .notRequired)
        #expect(try Self.encryption("unencrypted", policy: policy, chassis: nil).status == .notRequired)
        #expect(try Self.encryption("unencrypted", policy: policy, chassis: 10).status == .fail)
    }

    @Test("a plain dm-crypt layer counts; a dm-verity layer does not encrypt")
    func dmCryptFlavours() {
        #expect(StorageFacts.BlockDevice(name: "dm-3", kind: "dm", dmUUID: "CRYPT-PLAIN-swap_crypt").encryption == "plain dm-crypt")
        #expect(StorageFacts.BlockDevice(name: "dm-4", kind: "dm", dmUUID: "CRYPT-VERITY-8d3e...-root").encryption == nil)
        // RAID over one encrypted and one plain member is not encrypted.
        let devices = [
            StorageFacts.BlockDevice(name: "md0", kind: "md", raidLevel: "raid1", lowers: ["dm-0", "sdb1"]),
            StorageFacts.BlockDevice(name: "dm-0", kind: "dm", dmUUID: "CRYPT-LUKS2-aa-a", lowers: ["sda1"]),
            StorageFacts.BlockDevice(name: "sda1", kind: "partition"), StorageFacts.BlockDevice(name: "sdb1", kind: "partition"),
        ]
        let table = Dictionary(uniqueKeysWithValues: devices.map { ($0.name, $0) })
        #expect(PostureJudge.protection(of: "md0", table, depth: 0) == .plain("sdb1"))
    }

    static func lock(_ enabled: Bool, idle: Int, delay: Int = 0, user: String? = "ada") -> PostureFacts {
        PostureFacts(sessions: [], screenLock: [
            ScreenLockSettings(desktop: "gnome", user: user, lockEnabled: SourcedValue(enabled, source: "/etc/dconf/db/local (locked)", locked: true),
                               idleDelaySeconds: SourcedValue(idle, source: "~ada/.config/dconf/user"), lockDelaySeconds: SourcedValue(delay, source: "schema default")),
        ], storage: StorageFacts(volumes: [], devices: []))
    }

    @Test("screen lock: on and locking within the limit passes; off, never, or too late fails with the source")
    func screenLockVerdicts() {
        let judge = PostureJudge(policy: PosturePolicy())
        func verdict(_ facts: PostureFacts) -> Verdict { judge.judge(deviceID: "d", facts: facts, chassisType: nil, collectedAt: nil).screenLock }
        #expect(verdict(Self.lock(true, idle: 300, delay: 60)) == Verdict(.pass, "gnome for ada: locks after 6 min"))
        #expect(verdict(Self.lock(false, idle: 300)) == Verdict(.fail, "gnome for ada: locking is off (/etc/dconf/db/local (locked))"))
        #expect(verdict(Self.lock(true, idle: 0)) == Verdict(.fail, "gnome for ada: the screen never blanks on idle (~ada/.config/dconf/user)"))
        #expect(verdict(Self.lock(true, idle: 900)).reason
            == "gnome for ada: locks after 15 min of inactivity, over the policy's 10 min (idle 15 min from ~ada/.config/dconf/user)")
        let none = PostureFacts(sessions: [], screenLock: [], storage: StorageFacts(volumes: [], devices: []))
        #expect(verdict(none).status == .notRequired)
    }

    /// Whether this machine can map a dm-crypt device (root, and a kernel with device-mapper; many VMs and
    /// containers have none: `dmsetup version` then fails with "Failure to communicate with kernel device-mapper").
    static let canMapDMCrypt: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/cryptsetup"),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/dmsetup") else { return false }
        return (try? runProgram("/usr/sbin/dmsetup", ["version"], discardingStandardError: true).status) == 0
    }()

    @Test("a real LUKS2 volume made with cryptsetup on a loop file and mounted is seen as encrypted, end to end",
          .enabled(if: canMapDMCrypt, "needs root and a kernel with device-mapper (dm_crypt); this machine has none"))
    func realDMCrypt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-luks-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = directory.appendingPathComponent("disk.img").path, key = directory.appendingPathComponent("key").path
        let mountPoint = directory.appendingPathComponent("mnt").path, name = "rollcall-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try Data(repeating: 0x5a, count: 32).write(to: URL(fileURLWithPath: key))
        func must(_ program: String, _ arguments: [String]) throws -> String {
            let result = try runProgram(program, arguments)
            guard result.status == 0 else { throw HarnessError(description: "\(program) \(arguments.joined(separator: " ")): \(result.output)") }
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try must("/usr/bin/truncate", ["-s", "64M", image])
        let loop = try must("/usr/sbin/losetup", ["--find", "--show", image])
        defer { _ = try? runProgram("/usr/sbin/losetup", ["-d", loop]) }
        _ = try must("/usr/sbin/cryptsetup", ["luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                                              "--key-file", key, loop])
        _ = try must("/usr/sbin/cryptsetup", ["open", "--key-file", key, loop, name])
        defer { _ = try? runProgram("/usr/sbin/cryptsetup", ["close", name]) }
        _ = try must("/usr/sbin/mkfs.ext4", ["-q", "/dev/mapper/\(name)"])
        _ = try must("/usr/bin/mount", ["/dev/mapper/\(name)", mountPoint])
        defer { _ = try? runProgram("/usr/bin/umount", [mountPoint]) }

        let facts = try #require(InventoryCollector(root: FileSystemRoot("/")).collect().posture)
        let volume = try #require(facts.storage.volumes.first { $0.mountPoint == mountPoint })
        var policy = Self.everyMachine
        policy.encryptedMounts = [mountPoint]
        let verdict = PostureJudge(policy: policy).judge(deviceID: "d", facts: facts, chassisType: nil, collectedAt: nil).encryption
        #expect(verdict.status == .pass, "\(volume) \(facts.storage.devices)")
        #expect(verdict.reason.contains("on LUKS2 (\(name))"))
    }
}
