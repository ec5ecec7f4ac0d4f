import Foundation
@testable import RollcallAgent
import RollcallProtocol
import Testing

/// Each fixture is a tree captured from a real machine (see Tests/Fixtures/README.md for where each came from);
/// the expected values are the ones in the captured files.
@Suite("Hardware inventory from captured machines")
struct HardwareCollectorTests {
    func collect(_ fixture: String) -> InventoryReport {
        InventoryCollector(root: FileSystemRoot(FixturePaths.root(fixture))).collect()
    }

    @Test("Firecracker microVM: no DMI, identified by its ACPI OEM id, and a leftover /.dockerenv is not a container")
    func firecracker() throws {
        let report = collect("firecracker-vm")
        let hardware = report.hardware
        #expect(hardware.virtualization.kind == .vm)
        #expect(hardware.virtualization.hypervisor == "firecracker")
        #expect(hardware.virtualization.container == nil)
        #expect(hardware.virtualization.evidence.contains { $0.contains("/.dockerenv present but") })
        #expect(hardware.system == SystemIdentity())
        #expect(report.absent.contains { $0.field == "system" && $0.reason.contains("no DMI") })
        #expect(hardware.cpu.architecture == "x86_64")
        #expect(hardware.cpu.model == "AMD EPYC")
        #expect(hardware.cpu.threads == 2)
        #expect(hardware.memory.totalBytes == 24_683_656 * 1024)
        let disk = try #require(hardware.disks.first)
        #expect(hardware.disks.map(\.name) == ["vda"])  // loop* and zram0 skipped
        #expect(disk.sizeBytes == UInt64(536_870_912) * 512)
        #expect(disk.serial == "1996647543978007")
        #expect(disk.vendor == nil)  // virtio's 0x1af4 is an id, not a name
        #expect(disk.transport == "virtio")
        let nic = try #require(hardware.networkInterfaces.first { $0.name == "eth0" })
        #expect(nic.driver == "virtio_net" && nic.macAddress == "02:fc:00:00:00:01" && !nic.virtual && !nic.wireless)
        #expect(hardware.os.prettyName == "Debian GNU/Linux 12 (bookworm)")
        #expect(hardware.os.kernel == "6.18.44-fc-v782")
        #expect(hardware.hostname == "vm")
        #expect(AgentIdentity.isValidMachineID(report.agent.machineID))
    }

    @Test("CloudStack KVM guest: DMI names the hypervisor, virtio disk serial, optical drive kept")
    func kvmGuest() {
        let hardware = collect("kvm-cloudstack-vm").hardware
        #expect(hardware.virtualization.kind == .vm)
        #expect(hardware.virtualization.hypervisor == "kvm")
        #expect(hardware.system.vendor == "Apache Software Foundation")
        #expect(hardware.system.product == "CloudStack KVM Hypervisor")
        #expect(hardware.system.biosVendor == "Seabios")
        #expect(hardware.cpu.sockets == 2 && hardware.cpu.threads == 2)
        #expect(hardware.memory.totalBytes == 2_052_540 * 1024)
        #expect(hardware.disks.map(\.name) == ["sr0", "vda"])
        #expect(hardware.disks.first { $0.name == "vda" }?.serial == "f9e021d3fbfe4b3c9256")
        #expect(hardware.disks.first { $0.name == "vda" }?.sizeBytes == 20 << 30)
        #expect(hardware.disks.first { $0.name == "sr0" }?.removable == true)
        #expect(hardware.networkInterfaces.map(\.macAddress) == ["06:7a:4c:00:00:22"])
    }

    @Test("Dell PowerEdge R910: physical, rack chassis, 4 sockets of 10 cores, padded SCSI model trimmed")
    func rackServer() {
        let report = collect("dell-poweredge-r910")
        let hardware = report.hardware
        #expect(hardware.virtualization.kind == .physical)
        #expect(hardware.system.vendor == "Dell Inc.")
        #expect(hardware.system.product == "PowerEdge R910")
        #expect(hardware.system.chassisType == 23 && hardware.system.chassisTypeName == "Rack Mount Chassis")
        #expect(hardware.system.biosVersion == "2.5.0")
        #expect(hardware.cpu.model == "Intel(R) Xeon(R) CPU E7- 4870  @ 2.40GHz")
        #expect(hardware.cpu.sockets == 4 && hardware.cpu.cores == 40 && hardware.cpu.threads == 40)
        #expect(hardware.memory.totalBytes == 529_428_392 * 1024)
        let sda = hardware.disks.first { $0.name == "sda" }
        #expect(sda?.model == "PERC H700")
        #expect(sda?.sizeBytes == 1_798_651_772_928)
        #expect(sda?.rotational == true)
        #expect(sda?.serial == nil)
        #expect(report.absent.contains { $0.field == "disks.sda.serial" })
        #expect(hardware.networkInterfaces.filter { $0.driver == "bnx2" }.map(\.name) == ["eth0", "eth1", "eth2", "eth3"])
        // Unreadable DMI serials (captured without root) are absent with a reason, never empty strings.
        #expect(hardware.system.serial == nil)
    }

    @Test("HP EliteBook 840 G10: a notebook with a hybrid CPU of 14 cores and 20 threads")
    func hybridLaptop() {
        let hardware = collect("hp-elitebook-840-g10").hardware
        #expect(hardware.virtualization.kind == .physical)
        #expect(hardware.system.vendor == "HP")
        #expect(hardware.system.product == "HP EliteBook 840 14 inch G10 Notebook PC")
        #expect(hardware.system.chassisType == 10 && hardware.system.chassisTypeName == "Notebook")
        #expect(hardware.cpu.model == "13th Gen Intel(R) Core(TM) i7-1370P")
        #expect(hardware.cpu.cores == 14 && hardware.cpu.threads == 20)
        #expect(hardware.memory.totalBytes == 32_489_496 * 1024)
    }

    @Test("NVMe and SATA serials: padded NVMe fields trimmed, SATA serials read from VPD page 0x80 (util-linux capture)")
    func nvmeAndSataSerials() {
        let disks = collect("nvme-desktop-kingston-kc1000-util-linux").hardware.disks
        #expect(disks.map(\.name) == ["nvme0n1", "sda", "sdb"])
        let nvme = disks[0], ssd = disks[1], hdd = disks[2]
        #expect(nvme.model == "KINGSTON SKC1000240G" && nvme.serial == "50026B728203601D" && nvme.transport == "nvme")
        #expect(nvme.sizeBytes == 240_057_409_536 && nvme.rotational == false && nvme.removable == false)
        #expect(ssd.model == "KINGSTON SH103S3" && ssd.vendor == nil && ssd.serial == "50026B724B09A1FF")
        #expect(hdd.model == "WDC WD800JD-00MS" && hdd.serial == "WD-WMAM9XE78956" && hdd.rotational == true)
        #expect(hdd.sizeBytes == 80_026_361_856)
    }

    @Test("ThinkPad X1 Carbon Gen 10 (ghw snapshot): device-mapper and zram skipped, 1 TB NVMe, 12 cores / 16 threads")
    func thinkpadSnapshot() {
        let report = collect("nvme-laptop-thinkpad-x1c10-ghw")
        #expect(report.hardware.disks.map(\.name) == ["nvme0n1"])
        #expect(report.hardware.disks.first?.sizeBytes == 1_024_209_543_168)
        #expect(report.hardware.cpu.model == "12th Gen Intel(R) Core(TM) i7-1270P")
        #expect(report.hardware.cpu.cores == 12 && report.hardware.cpu.threads == 16)
        #expect(report.hardware.memory.totalBytes == 32_542_668 * 1024)
        #expect(report.absent.contains { $0.field == "disks.nvme0n1.serial" })
    }

    @Test("HP EliteBook 835 G10 (from a udev database dump): Wi-Fi, USB Ethernet and NVMe told apart")
    func wifiLaptop() {
        let hardware = collect("wifi-nvme-laptop-hp-elitebook-835-g10-checkbox").hardware
        #expect(hardware.system.product == "HP EliteBook 835 13 inch G10 Notebook PC")
        #expect(hardware.system.chassisTypeName == "Notebook")
        let wifi = hardware.networkInterfaces.first { $0.name == "wlp1s0" }
        #expect(wifi?.wireless == true && wifi?.driver == "rtw89_8852ce" && wifi?.macAddress == "60:e9:aa:f9:67:67")
        let usbEthernet = hardware.networkInterfaces.first { $0.name == "enx54af978e007e" }
        #expect(usbEthernet?.wireless == false && usbEthernet?.driver == "r8152")
        #expect(hardware.disks.first?.model == "WD PC SN740 SDDQNQD-256G-1006")
        #expect(hardware.disks.first?.serial == "225051442012")
    }

    @Test("an empty root gives a report of absent facts with reasons, not a crash")
    func emptyRoot() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = InventoryCollector(root: FileSystemRoot(directory.path)).collect()
        #expect(report.hardware.virtualization.kind == .unknown)
        #expect(report.agent.machineID == "")
        let fields = Set(report.absent.map(\.field))
        #expect(fields.isSuperset(of: ["system", "cpu", "memory", "os.kernel", "software.dpkg", "agent.machineID"]))
        #expect(report.absent.allSatisfy { !$0.reason.isEmpty && $0.path.hasPrefix("/") })
    }

    @Test("a file the agent may not read is reported as permission denied")
    func unreadableFile() throws {
        guard getuid() != 0 else { return }  // root reads everything; covered by the reason mapping below
        #expect(ReadFailure(errno: EACCES).reason.contains("permission denied"))
    }

    @Test("read failures map to reasons a technician understands")
    func readFailureReasons() {
        #expect(ReadFailure(errno: ENOENT).isMissing)
        #expect(ReadFailure(errno: EACCES).reason == "permission denied (run the agent as root to read it)")
        #expect(ReadFailure(errno: EINVAL).reason == "not provided by this device or firmware")
    }

    @Test("manufacturer placeholders are not serial numbers", arguments: [
        "To Be Filled By O.E.M.", "Default string", "System Serial Number", "0123456789", "        ", "Not Specified",
    ])
    func placeholders(value: String) {
        #expect(SystemIdentityCollector.isPlaceholder(value))
    }

    @Test("real serials are kept", arguments: ["5CG3281XYZ", "PF2ABCDE", "S3TNNF0K896399", "CZC1234567"])
    func realSerials(value: String) {
        #expect(!SystemIdentityCollector.isPlaceholder(value))
    }

    @Test("an x86 CPU without long mode is i686, an ARMv8 one aarch64")
    func architectures() {
        #expect(ProcessorCollector.parse(cpuinfo: "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme pae\n").architecture == "i686")
        #expect(ProcessorCollector.parse(cpuinfo: "processor\t: 0\nCPU implementer\t: 0x41\nCPU architecture: 8\n\nprocessor\t: 1\nCPU architecture: 8\n").architecture == "aarch64")
    }
}
