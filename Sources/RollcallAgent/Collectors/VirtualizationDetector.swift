import RollcallProtocol

/// Decides physical / VM / container from evidence a file read can see, and records each marker it used.
///
/// The order matters and is where peers go wrong. A container shares its host's kernel, so VM markers (cpuinfo's
/// `hypervisor` flag, ACPI tables) describe the host and cannot rule a container out; container markers are checked
/// on their own. But `/.dockerenv` is only a file: an image built with Docker and booted as a Firecracker microVM
/// still has it. It counts as Docker only when the root file system is an overlay or PID 1's cgroup names a
/// container runtime; otherwise it is listed as evidence and ignored.
struct VirtualizationDetector {
    func detect(_ reader: FactReader, system: SystemIdentity, cpuinfo: String?) -> Virtualization {
        let root = reader.root
        var evidence: [String] = []
        let container = containerRuntime(root, &evidence)
        let hypervisor = hypervisor(root, system: system, cpuinfo: cpuinfo, &evidence)
        if let container {
            return Virtualization(kind: .container, hypervisor: hypervisor, container: container, evidence: evidence)
        }
        if let hypervisor {
            return Virtualization(kind: .vm, hypervisor: hypervisor, evidence: evidence)
        }
        // No marker at all: physical, provided we could look (cpuinfo read and DMI present).
        if cpuinfo != nil, system.vendor != nil || root.isDirectory(SystemIdentityCollector.directory) {
            evidence.append("no hypervisor flag in /proc/cpuinfo; DMI vendor \(system.vendor ?? "unset")")
            return Virtualization(kind: .physical, evidence: evidence)
        }
        evidence.append("neither /proc/cpuinfo nor DMI readable")
        return Virtualization(kind: .unknown, evidence: evidence)
    }

    // MARK: Containers

    private func containerRuntime(_ root: FileSystemRoot, _ evidence: inout [String]) -> String? {
        // systemd-nspawn, LXC, podman and docker-with-systemd write the manager's name here.
        if case .success(let name) = root.readValue("/run/systemd/container") {
            evidence.append("/run/systemd/container says \(name)")
            return name
        }
        if root.exists("/run/.containerenv") {
            evidence.append("/run/.containerenv present")
            return "podman"
        }
        if case .success(let environ) = root.readBytes("/proc/1/environ") {
            for variable in environ.split(separator: 0) where variable.starts(with: Array("container=".utf8)) {
                let name = String(decoding: variable.dropFirst("container=".utf8.count), as: UTF8.self)
                evidence.append("PID 1 environment container=\(name)")
                return name
            }
        }
        var cgroupRuntime: String?
        if case .success(let cgroup) = root.readText("/proc/1/cgroup") {
            let markers = [("/docker", "docker"), ("/libpod-", "podman"), ("/lxc", "lxc"), ("kubepods", "kubernetes"), ("/machine.slice/systemd-nspawn", "systemd-nspawn")]
            cgroupRuntime = markers.first { cgroup.contains($0.0) }?.1
            if let cgroupRuntime {
                evidence.append("PID 1 cgroup names \(cgroupRuntime)")
                return cgroupRuntime
            }
        }
        if case .success(let release) = root.readValue("/proc/sys/kernel/osrelease"), release.lowercased().contains("microsoft") {
            evidence.append("kernel release \(release) is a WSL kernel")
            return "wsl"
        }
        if root.exists("/proc/vz"), !root.exists("/proc/bc") {
            evidence.append("/proc/vz without /proc/bc")
            return "openvz"
        }
        if root.exists("/.dockerenv") {
            if rootIsOverlay(root) {
                evidence.append("/.dockerenv present and / is an overlay mount")
                return "docker"
            }
            evidence.append("/.dockerenv present but / is not an overlay and PID 1's cgroup names no runtime: an image leftover, not a container")
        }
        return nil
    }

    private func rootIsOverlay(_ root: FileSystemRoot) -> Bool {
        guard case .success(let mountinfo) = root.readText("/proc/self/mountinfo") else { return false }
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            // mount id, parent, major:minor, root, mount point, ... " - " fstype
            guard fields.count > 5, fields[4] == "/", let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            return fields[dash + 1] == "overlay" || fields[dash + 1] == "aufs"
        }
        return false
    }

    // MARK: Hypervisors

    private func hypervisor(_ root: FileSystemRoot, system: SystemIdentity, cpuinfo: String?, _ evidence: inout [String]) -> String? {
        var named: String?
        if let oem = acpiOEMID(root) {
            if let name = Self.acpiOEMHypervisors.first(where: { oem.hasPrefix($0.0) })?.1 {
                evidence.append("ACPI OEM id \(oem)")
                named = name
            }
        }
        let dmiText = [system.vendor, system.product, system.biosVendor, system.boardVendor].compactMap { $0 }.joined(separator: " ")
        if named == nil, let name = Self.dmiHypervisors.first(where: { dmiText.contains($0.0) })?.1 {
            evidence.append("DMI identifies \(dmiText)")
            named = name
        }
        if named == nil, case .success(let type) = root.readValue("/sys/hypervisor/type") {
            evidence.append("/sys/hypervisor/type is \(type)")
            named = type
        }
        var flagged = false
        if let cpuinfo, let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
           flags.split(separator: " ").contains("hypervisor") {
            evidence.append("cpuinfo flag hypervisor")
            flagged = true
        }
        var clock: String?
        if case .success(let sources) = root.readValue("/sys/devices/system/clocksource/clocksource0/available_clocksource") {
            let known = [("kvm-clock", "kvm"), ("hyperv_clocksource", "hyper-v"), ("xen", "xen"), ("vmware", "vmware")]
            clock = known.first { sources.contains($0.0) }?.1
            if let clock { evidence.append("clocksource \(clock == "kvm" ? "kvm-clock" : sources)") }
        }
        if named == "qemu", clock == "kvm" { return "kvm" }  // QEMU with KVM acceleration
        if let named { return named }
        if let clock { return clock }
        return flagged ? "unknown" : nil
    }

    /// OEM id of the FACP table header (bytes 10..<16), which each hypervisor stamps with its own name.
    private func acpiOEMID(_ root: FileSystemRoot) -> String? {
        for table in ["FACP", "DSDT", "APIC"] {
            guard case .success(let bytes) = root.readBytes("/sys/firmware/acpi/tables/\(table)", limit: 1 << 20), bytes.count >= 16 else { continue }
            let oem = String(decoding: bytes[10..<16], as: UTF8.self).trimmingSysfsPadding()
            if !oem.isEmpty { return oem }
        }
        return nil
    }

    static let acpiOEMHypervisors: [(String, String)] = [
        ("FIRECK", "firecracker"), ("BOCHS", "qemu"), ("VBOX", "virtualbox"), ("VMWARE", "vmware"),
        ("VRTUAL", "hyper-v"), ("Xen", "xen"), ("PRLS", "parallels"), ("PARALL", "parallels"), ("BHYVE", "bhyve"),
        ("CLOUDH", "cloud-hypervisor"), ("AMAZON", "amazon"), ("Google", "google"),
    ]

    static let dmiHypervisors: [(String, String)] = [
        ("QEMU", "qemu"), ("KVM", "kvm"), ("VMware", "vmware"), ("innotek", "virtualbox"), ("VirtualBox", "virtualbox"),
        ("Virtual Machine", "hyper-v"), ("Xen", "xen"), ("Amazon EC2", "amazon"), ("Google Compute Engine", "google"),
        ("Parallels", "parallels"), ("BHYVE", "bhyve"), ("KubeVirt", "kubevirt"), ("OpenStack", "openstack"), ("Bochs", "bochs"),
    ]
}
