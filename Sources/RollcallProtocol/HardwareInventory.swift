#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the machine is: firmware identity, CPU, memory, disks, network, OS and whether it is virtual.
public struct HardwareInventory: Codable, Sendable, Equatable {
    public var hostname: String?
    public var system: SystemIdentity
    public var os: OperatingSystem
    public var cpu: Processor
    public var memory: Memory
    public var disks: [Disk]
    public var networkInterfaces: [NetworkInterface]
    public var virtualization: Virtualization

    public init(
        hostname: String?, system: SystemIdentity, os: OperatingSystem, cpu: Processor, memory: Memory,
        disks: [Disk], networkInterfaces: [NetworkInterface], virtualization: Virtualization
    ) {
        self.hostname = hostname
        self.system = system
        self.os = os
        self.cpu = cpu
        self.memory = memory
        self.disks = disks
        self.networkInterfaces = networkInterfaces
        self.virtualization = virtualization
    }
}

/// The SMBIOS/DMI identity the equipment register keys on (serial numbers, asset tags).
public struct SystemIdentity: Codable, Sendable, Equatable {
    public var vendor: String?
    public var product: String?
    public var version: String?
    public var serial: String?
    public var uuid: String?
    public var family: String?
    public var sku: String?
    public var boardVendor: String?
    public var boardName: String?
    public var boardSerial: String?
    /// SMBIOS chassis type code (3 desktop, 9/10 laptop/notebook, 1 other, ...), with its name.
    public var chassisType: Int?
    public var chassisTypeName: String?
    public var chassisSerial: String?
    public var assetTag: String?
    public var biosVendor: String?
    public var biosVersion: String?
    public var biosDate: String?

    public init() {}
}

public struct OperatingSystem: Codable, Sendable, Equatable {
    /// `ID` from os-release, e.g. `debian`.
    public var id: String?
    public var name: String?
    public var prettyName: String?
    public var versionID: String?
    public var kernel: String?

    public init(id: String? = nil, name: String? = nil, prettyName: String? = nil, versionID: String? = nil, kernel: String? = nil) {
        self.id = id
        self.name = name
        self.prettyName = prettyName
        self.versionID = versionID
        self.kernel = kernel
    }
}

public struct Processor: Codable, Sendable, Equatable {
    public var model: String?
    public var vendor: String?
    /// Instruction set as the CPU reports it (`x86_64` when the long-mode flag is set, `i686` without it, `aarch64`, ...).
    public var architecture: String?
    public var sockets: Int?
    public var cores: Int?
    /// Logical CPUs (hardware threads) the kernel sees.
    public var threads: Int?

    public init(model: String? = nil, vendor: String? = nil, architecture: String? = nil, sockets: Int? = nil, cores: Int? = nil, threads: Int? = nil) {
        self.model = model
        self.vendor = vendor
        self.architecture = architecture
        self.sockets = sockets
        self.cores = cores
        self.threads = threads
    }
}

public struct Memory: Codable, Sendable, Equatable {
    public var totalBytes: UInt64?
    public var swapTotalBytes: UInt64?

    public init(totalBytes: UInt64? = nil, swapTotalBytes: UInt64? = nil) {
        self.totalBytes = totalBytes
        self.swapTotalBytes = swapTotalBytes
    }
}

public struct Disk: Codable, Sendable, Equatable {
    /// Kernel name, e.g. `nvme0n1`, `sda`, `vda`.
    public var name: String
    public var model: String?
    public var vendor: String?
    public var serial: String?
    public var sizeBytes: UInt64?
    public var rotational: Bool?
    public var removable: Bool?
    /// How it is attached: `nvme`, `scsi` (SATA/SAS/USB bridges), `virtio`, `mmc`, `xen`.
    public var transport: String?

    public init(name: String) {
        self.name = name
    }
}

public struct NetworkInterface: Codable, Sendable, Equatable {
    public var name: String
    public var macAddress: String?
    public var driver: String?
    /// `up`, `down`, `dormant`, `unknown` (the kernel's operstate).
    public var operState: String?
    public var wireless: Bool
    /// Interfaces with no backing device (bridges, tunnels, ifb) are virtual.
    public var virtual: Bool
    public var speedMbps: Int?

    public init(name: String, wireless: Bool, virtual: Bool) {
        self.name = name
        self.wireless = wireless
        self.virtual = virtual
    }
}

/// Physical machine, virtual machine or container, and the evidence for the verdict.
public struct Virtualization: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case physical, vm, container, unknown
    }

    public var kind: Kind
    /// `kvm`, `qemu`, `firecracker`, `vmware`, `virtualbox`, `hyper-v`, `xen`, ... when `kind` is `vm`.
    public var hypervisor: String?
    /// `docker`, `podman`, `lxc`, `systemd-nspawn`, `wsl`, ... when `kind` is `container`.
    public var container: String?
    /// Each marker that was found, e.g. `acpi oem id FIRECK`, `cpuinfo flag hypervisor`.
    public var evidence: [String]

    public init(kind: Kind, hypervisor: String? = nil, container: String? = nil, evidence: [String]) {
        self.kind = kind
        self.hypervisor = hypervisor
        self.container = container
        self.evidence = evidence
    }
}
