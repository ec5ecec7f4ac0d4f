import RollcallProtocol

/// Finds every mounted filesystem and swap area that lives on a block device, and the chain of devices beneath
/// each (partition, RAID, LVM, dm-crypt, loop), from `/proc/self/mountinfo`, `/proc/swaps` and `/sys/block`.
///
/// The agent reports the graph, not a verdict: whether "encrypted" means root only or root, home and swap is the
/// school's policy, judged on the controller. Pseudo filesystems (proc, tmpfs, cgroup ...) and read-only images
/// (squashfs snaps, ISO images) never hold a user's files and are left out.
struct StorageCollector {
    static let imageFilesystems: Set<String> = ["squashfs", "iso9660", "udf", "erofs"]

    func collect(_ reader: FactReader) -> StorageFacts {
        let devices = BlockDeviceTable(root: reader.root)
        var volumes: [StorageFacts.Volume] = []
        var reached: [String] = []

        let mounts = (reader.text("posture.storage.mounts", at: "/proc/self/mountinfo")).map(MountInfo.parse) ?? []
        // The last mount on a mount point hides the earlier ones; a bind mount repeats a filesystem mounted elsewhere.
        var byMountPoint: [String: MountInfo] = [:]
        for mount in mounts { byMountPoint[mount.mountPoint] = mount }
        let wholeFilesystems = Set(mounts.filter { $0.root == "/" }.map(\.majorMinor))
        let visible = byMountPoint.values.sorted { $0.mountPoint < $1.mountPoint }
        for mount in visible {
            // FUSE mounts are userspace services (portals, gvfs); fuseblk (NTFS through ntfs-3g) is a real disk and stays.
            guard !Self.imageFilesystems.contains(mount.filesystem), mount.filesystem != "fuse", !mount.filesystem.hasPrefix("fuse.") else { continue }
            let resolved = devices.resolve(majorMinor: mount.majorMinor, source: mount.source)
            guard resolved != nil || mount.source.hasPrefix("/dev/") else { continue }  // proc, tmpfs, network shares
            if mount.root != "/", wholeFilesystems.contains(mount.majorMinor) { continue }
            if let name = resolved { reached.append(name) }
            volumes.append(StorageFacts.Volume(
                mountPoint: mount.mountPoint, isSwap: false, filesystem: mount.filesystem, source: mount.source, device: resolved,
                note: resolved == nil ? "block device \(mount.majorMinor) (\(mount.source)) is not under /sys/block" : nil))
        }

        if let swaps = reader.text("posture.storage.swaps", at: "/proc/swaps") {
            for line in swaps.split(separator: "\n").dropFirst() {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count >= 2 else { continue }
                let path = MountInfo.unescape(String(fields[0]))
                if fields[1] == "file" {
                    let container = visible.filter { path.hasPrefix($0.mountPoint == "/" ? "/" : $0.mountPoint + "/") }
                        .max { $0.mountPoint.count < $1.mountPoint.count }
                    let device = container.flatMap { devices.resolve(majorMinor: $0.majorMinor, source: $0.source) }
                    if let device { reached.append(device) }
                    volumes.append(StorageFacts.Volume(
                        mountPoint: "[swap]", isSwap: true, filesystem: "swap file", source: path, device: device,
                        insideMount: container?.mountPoint,
                        note: device == nil ? "the filesystem holding the swap file could not be resolved to a block device" : nil))
                } else {
                    let device = devices.resolve(majorMinor: nil, source: path)
                    if let device { reached.append(device) }
                    volumes.append(StorageFacts.Volume(
                        mountPoint: "[swap]", isSwap: true, filesystem: "swap", source: path, device: device,
                        note: device == nil ? "\(path) is not under /sys/block" : nil))
                }
            }
        }
        return StorageFacts(volumes: volumes, devices: devices.graph(from: reached))
    }
}

/// One line of `/proc/self/mountinfo` (proc(5)).
struct MountInfo: Equatable {
    var majorMinor: String
    var root: String
    var mountPoint: String
    var filesystem: String
    var source: String

    static func parse(_ text: String) -> [MountInfo] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator >= 6, separator + 2 < fields.count else {
                return nil
            }
            return MountInfo(majorMinor: String(fields[2]), root: unescape(String(fields[3])), mountPoint: unescape(String(fields[4])),
                             filesystem: String(fields[separator + 1]), source: unescape(String(fields[separator + 2])))
        }
    }

    /// The kernel writes space, tab, newline and backslash in paths as `\040`, `\011`, `\012`, `\134`.
    static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The machine's block devices by kernel name, read from `/sys/block` once per snapshot.
struct BlockDeviceTable {
    let root: FileSystemRoot
    /// `major:minor` → kernel name, for disks and their partitions.
    private var byNumber: [String: String] = [:]
    /// partition → its disk.
    private var diskOfPartition: [String: String] = [:]
    /// dm name (`vg-root`, `cryptroot`) → kernel name (`dm-1`).
    private var byMapperName: [String: String] = [:]

    init(root: FileSystemRoot) {
        self.root = root
        guard case .success(let disks) = root.listDirectory("/sys/block") else { return }
        for disk in disks {
            if case .success(let number) = root.readValue("/sys/block/\(disk)/dev") { byNumber[number] = disk }
            if case .success(let name) = root.readValue("/sys/block/\(disk)/dm/name") { byMapperName[name] = disk }
            guard case .success(let entries) = root.listDirectory("/sys/block/\(disk)") else { continue }
            // Partitions are the subdirectories named after the disk (sda2, nvme0n1p3, mmcblk0p1) that carry a number.
            for entry in entries where entry.hasPrefix(disk) && entry != disk {
                guard case .success(let number) = root.readValue("/sys/block/\(disk)/\(entry)/dev") else { continue }
                byNumber[number] = entry
                diskOfPartition[entry] = disk
            }
        }
    }

    /// The kernel name for a mount: by its device number, else by the path it was mounted from (btrfs and other
    /// filesystems report an anonymous `0:NN` number in mountinfo).
    func resolve(majorMinor: String?, source: String) -> String? {
        if let majorMinor, let name = byNumber[majorMinor] { return name }
        guard source.hasPrefix("/dev/") else { return nil }
        let path = source.dropFirst(5)
        if path.hasPrefix("mapper/") { return byMapperName[String(path.dropFirst(7))] }
        let name = String(path)
        if byNumber.values.contains(name) { return name }
        // /dev/VG/LV is a link to ../dm-N; its dm name is VG-LV with hyphens in either part doubled.
        let parts = name.split(separator: "/")
        if parts.count == 2 {
            let mapper = parts.map { $0.replacing("-", with: "--") }.joined(separator: "-")
            if let found = byMapperName[mapper] { return found }
        }
        return nil
    }

    /// Every device reached from `names` downwards, each once, in the order first reached.
    func graph(from names: [String]) -> [StorageFacts.BlockDevice] {
        var seen: Set<String> = []
        var queue = names
        var result: [StorageFacts.BlockDevice] = []
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard seen.insert(name).inserted else { continue }
            let device = describe(name)
            result.append(device)
            queue += device.lowers
        }
        return result
    }

    func describe(_ name: String) -> StorageFacts.BlockDevice {
        if let disk = diskOfPartition[name] {
            return StorageFacts.BlockDevice(name: name, kind: "partition", lowers: [disk])
        }
        let base = "/sys/block/\(name)"
        let lowers = (try? root.listDirectory(base + "/slaves").get()) ?? []
        if case .success(let uuid) = root.readValue(base + "/dm/uuid") {
            return StorageFacts.BlockDevice(name: name, kind: "dm", dmUUID: uuid, dmName: try? root.readValue(base + "/dm/name").get(), lowers: lowers)
        }
        if root.exists(base + "/dm") {
            // A dm device without a uuid (made by hand with dmsetup): no way to tell what it is; its name stays.
            return StorageFacts.BlockDevice(name: name, kind: "dm", dmName: try? root.readValue(base + "/dm/name").get(), lowers: lowers)
        }
        if root.exists(base + "/md") {
            return StorageFacts.BlockDevice(name: name, kind: "md", raidLevel: try? root.readValue(base + "/md/level").get(), lowers: lowers)
        }
        if name.hasPrefix("loop") {
            return StorageFacts.BlockDevice(name: name, kind: "loop", backingFile: try? root.readValue(base + "/loop/backing_file").get(), lowers: lowers)
        }
        if name.hasPrefix("zram") { return StorageFacts.BlockDevice(name: name, kind: "zram") }
        return StorageFacts.BlockDevice(name: name, kind: "disk", lowers: lowers)
    }
}
