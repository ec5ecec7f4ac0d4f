import RollcallProtocol

/// Disks from `/sys/block`: model, serial, size, rotational, removable.
///
/// Virtual block devices (loop, ram, zram, device-mapper, md RAID, nbd) are skipped: they are not equipment.
/// Serials live in different places per bus: NVMe and eMMC in `device/serial`, virtio in `serial`, SCSI/SATA in the
/// VPD page 0x80 (`device/vpd_pg80`, root only) or at the end of a `t10.ATA` world-wide id.
struct DiskCollector {
    static let skippedPrefixes = ["loop", "ram", "zram", "dm-", "md", "nbd"]

    func collect(_ reader: FactReader) -> [Disk] {
        guard case .success(let names) = reader.root.listDirectory("/sys/block") else {
            _ = reader.text("disks", at: "/sys/block")
            return []
        }
        return names.filter { name in !Self.skippedPrefixes.contains { name.hasPrefix($0) } }.map { disk($0, reader) }
    }

    private func disk(_ name: String, _ reader: FactReader) -> Disk {
        let base = "/sys/block/\(name)"
        let root = reader.root
        func attribute(_ path: String) -> String? {
            if case .success(let value) = root.readValue("\(base)/\(path)") { return value }
            return nil
        }
        var disk = Disk(name: name)
        disk.model = attribute("device/model") ?? attribute("device/name")
        disk.vendor = attribute("device/vendor").flatMap { $0 == "ATA" || $0.hasPrefix("0x") ? nil : $0 }
        disk.serial = attribute("device/serial") ?? attribute("serial") ?? vpdSerial(root, base) ?? ataWWIDSerial(attribute("device/wwid") ?? attribute("wwid"))
        if disk.serial == nil {
            reader.note("disks.\(name).serial", "\(base)/device/serial", "not exported by this disk's driver (or needs root for vpd_pg80)")
        }
        if let sectors = attribute("size").flatMap({ UInt64($0) }) {
            disk.sizeBytes = sectors * 512  // always 512-byte units, whatever the logical block size
        } else {
            reader.note("disks.\(name).sizeBytes", "\(base)/size", "unreadable")
        }
        disk.rotational = attribute("queue/rotational").map { $0 == "1" }
        disk.removable = attribute("removable").map { $0 == "1" }
        disk.transport = Self.transport(name)
        return disk
    }

    /// SCSI Unit Serial Number VPD page: byte 3 is the length, the serial follows the 4-byte header.
    private func vpdSerial(_ root: FileSystemRoot, _ base: String) -> String? {
        guard case .success(let bytes) = root.readBytes("\(base)/device/vpd_pg80"), bytes.count > 4, bytes[1] == 0x80 else { return nil }
        let length = min(Int(bytes[3]), bytes.count - 4)
        let serial = String(decoding: bytes[4..<(4 + length)], as: UTF8.self).trimmingSysfsPadding()
        return serial.isEmpty ? nil : serial
    }

    /// libata's wwid is `t10.ATA` + model + serial, space padded; the serial is the last word.
    private func ataWWIDSerial(_ wwid: String?) -> String? {
        guard let wwid, wwid.hasPrefix("t10.ATA"), let last = wwid.split(separator: " ").last, wwid.split(separator: " ").count > 2 else { return nil }
        return String(last)
    }

    static func transport(_ name: String) -> String? {
        switch true {
        case name.hasPrefix("nvme"): "nvme"
        case name.hasPrefix("sd"), name.hasPrefix("sr"): "scsi"
        case name.hasPrefix("vd"): "virtio"
        case name.hasPrefix("mmcblk"): "mmc"
        case name.hasPrefix("xvd"): "xen"
        case name.hasPrefix("hd"): "ide"
        default: nil
        }
    }
}

/// Network interfaces from `/sys/class/net` (loopback skipped).
struct NetworkCollector {
    func collect(_ reader: FactReader) -> [NetworkInterface] {
        guard case .success(let names) = reader.root.listDirectory("/sys/class/net") else {
            _ = reader.text("networkInterfaces", at: "/sys/class/net")
            return []
        }
        return names.filter { $0 != "lo" && $0 != "bonding_masters" }.map { name in
            let base = "/sys/class/net/\(name)"
            let root = reader.root
            func attribute(_ file: String) -> String? {
                if case .success(let value) = root.readValue("\(base)/\(file)") { return value }
                return nil
            }
            var interface = NetworkInterface(
                name: name,
                wireless: root.exists("\(base)/wireless") || root.exists("\(base)/phy80211"),
                virtual: !root.exists("\(base)/device"))
            interface.macAddress = attribute("address").flatMap { $0 == "00:00:00:00:00:00" ? nil : $0 }
            interface.operState = attribute("operstate")
            // speed is -1 or EINVAL while the link is down
            interface.speedMbps = attribute("speed").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            if case .success(let target) = root.readLink("\(base)/device/driver"),
               let driver = target.split(separator: "/").last {
                interface.driver = String(driver)
            }
            return interface
        }
    }
}
