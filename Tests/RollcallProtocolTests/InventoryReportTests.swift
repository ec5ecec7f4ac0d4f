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

@Suite("RFC 3339 dates")
struct RFC3339Tests {
    @Test("real date-times parse to the instant they name", arguments: [
        ("2026-11-24T00:04:44Z", 1_795_478_684.0), ("2026-11-24T01:04:44+01:00", 1_795_478_684.0),
        ("2026-11-23T23:04:44.5-01:00", 1_795_478_684.5), ("2024-02-29T00:00:00Z", 1_709_164_800.0),
        ("1970-01-01T00:00:00Z", 0.0), ("2026-11-24t00:04:44z", 1_795_478_684.0),
    ])
    func parses(text: String, seconds: Double) throws {
        #expect(try #require(RFC3339.date(from: text)).timeIntervalSince1970 == seconds)
    }

    @Test("impossible or padded date-times are refused", arguments: [
        "2026-11-24T00:04:44Z*", "2024-01-01T12:99:00Z", "2026-02-30T00:00:00Z", "2026-11-24T24:00:00Z", "2026-12-31T23:59:60Z",
        "2023-02-29T00:00:00Z", "2026-11-24T00:04:44+19:00", "2026-11-24T00:04:44", "2026-11-24", " 2026-11-24T00:04:44Z",
        "2026-11-24T00:04:44.Z", "2026-13-01T00:00:00Z", "2026-11-24T00:04:44+01:60", "",
    ])
    func refuses(text: String) {
        #expect(RFC3339.date(from: text) == nil)
    }

    @Test("the encoder's own dates decode again")
    func roundTrip() throws {
        let date = Date(timeIntervalSince1970: 1_795_478_684)
        let data = try RollcallJSON.encoder().encode(["at": date])
        #expect(try RollcallJSON.decoder().decode([String: Date].self, from: data)["at"] == date)
    }
}
