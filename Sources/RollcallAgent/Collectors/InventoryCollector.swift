#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import RollcallProtocol

/// Takes one complete snapshot of a machine: hardware, software and what could not be read.
///
/// For example:
/// ```swift
/// let report = InventoryCollector(root: FileSystemRoot("Tests/Fixtures/laptop")).collect()
/// print(report.hardware.system.serial ?? "no serial")
/// ```
public struct InventoryCollector: Sendable {
    public static let agentVersion = "0.1.0"

    public let root: FileSystemRoot

    public init(root: FileSystemRoot) {
        self.root = root
    }

    /// Never throws: every unreadable fact is listed in ``InventoryReport/absent`` instead.
    /// Just what enrolment needs: the machine id every report will carry, and the host name to show the technician.
    public func identity() -> (machineID: String, hostname: String?) {
        let reader = FactReader(root: root)
        let osCollector = OperatingSystemCollector()
        let machineID = osCollector.machineID(reader)
            ?? SystemIdentityCollector().collect(reader).uuid.map { String($0.lowercased().filter { $0 != "-" }) } ?? ""
        return (machineID, osCollector.hostname(reader))
    }

    public func collect(now: Date = Date()) -> InventoryReport {
        let reader = FactReader(root: root)
        let osCollector = OperatingSystemCollector()
        let system = SystemIdentityCollector().collect(reader)
        let cpuinfo = reader.text("cpu", at: "/proc/cpuinfo")
        let hardware = HardwareInventory(
            hostname: osCollector.hostname(reader),
            system: system,
            os: osCollector.collect(reader),
            cpu: ProcessorCollector().collect(cpuinfo: cpuinfo),
            memory: MemoryCollector().collect(reader),
            disks: DiskCollector().collect(reader),
            networkInterfaces: NetworkCollector().collect(reader),
            virtualization: VirtualizationDetector().detect(reader, system: system, cpuinfo: cpuinfo))
        let software = SoftwareCollector().collect(reader)
        let posture = PostureCollector().collect(reader)
        let machineID = osCollector.machineID(reader) ?? system.uuid.map { String($0.lowercased().filter { $0 != "-" }) } ?? ""
        return InventoryReport(
            collectedAt: now,
            agent: AgentIdentity(machineID: machineID, agentVersion: Self.agentVersion),
            hardware: hardware,
            software: software,
            absent: reader.absent,
            posture: posture)
    }
}
