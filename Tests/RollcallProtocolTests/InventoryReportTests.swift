import Foundation
import RollcallProtocol
import Testing

@Suite("Wire protocol")
struct InventoryReportTests {
    static func sampleReport() -> InventoryReport {
        var system = SystemIdentity()
        system.vendor = "HP"
        system.serial = "5CG3281XYZ"
        system.chassisType = 10
        var disk = Disk(name: "nvme0n1")
        disk.sizeBytes = 512_110_190_592
        return InventoryReport(
            collectedAt: Date(timeIntervalSince1970: 1_795_000_000),
            agent: AgentIdentity(machineID: "3d1219c7c4c5404aaa1f6d2a48adfda4", agentVersion: "0.1.0"),
            hardware: HardwareInventory(
                hostname: "ict-suite-01", system: system, os: OperatingSystem(id: "debian", kernel: "6.1.0"),
                cpu: Processor(model: "Intel Core i5", architecture: "x86_64", threads: 8), memory: Memory(totalBytes: 16 << 30),
                disks: [disk], networkInterfaces: [NetworkInterface(name: "wlp0s20f3", wireless: true, virtual: false)],
                virtualization: Virtualization(kind: .physical, evidence: ["no hypervisor flag"])),
            software: SoftwareInventory(packages: [
                SoftwarePackage(name: "firefox-esr", version: "115.9.1esr-1~deb12u1", architecture: "amd64", source: .dpkg, state: .installed),
                SoftwarePackage(name: "old-tool", version: "1.0", architecture: "amd64", source: .dpkg, state: .configFiles),
            ]),
            absent: [AbsentFact(field: "system.uuid", path: "/sys/class/dmi/id/product_uuid", reason: "permission denied")])
    }

    @Test("a report survives a JSON round trip unchanged")
    func roundTrip() throws {
        let report = Self.sampleReport()
        let data = try RollcallJSON.encoder().encode(report)
        let decoded = try RollcallJSON.decoder().decode(InventoryReport.self, from: data)
        #expect(decoded == report)
    }

    @Test("the JSON carries the schema version and ISO 8601 dates")
    func versionedJSON() throws {
        let text = String(decoding: try RollcallJSON.encoder().encode(Self.sampleReport()), as: UTF8.self)
        #expect(text.contains("\"schemaVersion\":1"))
        #expect(text.contains("\"collectedAt\":\"2026-11-18T"))
    }

    @Test("config-files leftovers are not counted as installed")
    func installedCountSkipsConfigFiles() {
        #expect(Self.sampleReport().software.installedCount == 1)
    }
}
