import Foundation
@testable import RollcallAgent
import RollcallProtocol
import Testing

@Suite("Software inventory")
struct SoftwareCollectorTests {
    @Test("the dpkg list of this machine equals dpkg-query -W, names arch-qualified as dpkg-query prints them")
    func matchesDpkgQueryOnThisMachine() throws {
        let report = InventoryCollector(root: .system).collect()
        let mine = report.software.packages.filter { $0.source == .dpkg }.map { "\($0.name)\t\($0.version)" }.sorted()
        // `dpkg-query -W`'s default format is ${binary:Package}\t${Version}: arch-qualified for Multi-Arch: same.
        let qualified = try runProgram("/usr/bin/dpkg-query", ["-W", "-f=${binary:Package}\t${Version}\n"])
            .split(separator: "\n").map(String.init).sorted()
        #expect(mine.count > 100)
        #expect(mine == qualified)
        // ${Package} is the same list without the qualifiers.
        let plain = try runProgram("/usr/bin/dpkg-query", ["-W", "-f=${Package}\t${Version}\n"]).split(separator: "\n").map(String.init).sorted()
        let unqualified = report.software.packages.filter { $0.source == .dpkg }
            .map { "\($0.name.split(separator: ":").first.map(String.init) ?? $0.name)\t\($0.version)" }.sorted()
        #expect(unqualified == plain)
        // Section and Maintainer, which licence reconciliation reads to spot vendors' packages.
        let described = try runProgram("/usr/bin/dpkg-query", ["-W", "-f=${binary:Package}\t${Section}\t${Maintainer}\n"])
            .split(separator: "\n").map(String.init).sorted()
        let ours = report.software.packages.filter { $0.source == .dpkg }.map { "\($0.name)\t\($0.section ?? "")\t\($0.maintainer ?? "")" }.sorted()
        #expect(ours == described)
    }

    @Test("the captured firecracker VM's dpkg database parses to the dpkg-query output captured with it")
    func matchesCapturedDpkgQuery() throws {
        let root = FixturePaths.root("firecracker-vm")
        let expected = try String(contentsOfFile: FixturePaths.root("firecracker-vm.dpkg-query-binary.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).sorted()
        let packages = InventoryCollector(root: FileSystemRoot(root)).collect().software.packages
        #expect(packages.map { "\($0.name)\t\($0.version)" }.sorted() == expected)
    }

    @Test("Multi-Arch: same and foreign packages are qualified; arch:all and not-installed are not listed as such")
    func multiArchQualification() {
        let status = """
            Package: dpkg
            Status: install ok installed
            Architecture: amd64
            Version: 1.21.22

            Package: libc6
            Status: install ok installed
            Multi-Arch: same
            Architecture: i386
            Version: 2.36-9+deb12u4
            Description: GNU C Library
             continuation line: Package: not-a-package

            Package: steam-libs-i386
            Status: install ok installed
            Architecture: i386
            Version: 1:1.0.0.78

            Package: tzdata
            Status: install ok installed
            Architecture: all
            Multi-Arch: foreign
            Version: 2024a-0+deb12u1

            Package: removed-tool
            Status: deinstall ok config-files
            Architecture: amd64
            Version: 0.9

            Package: purged-tool
            Status: purge ok not-installed
            Architecture: amd64

            """
        let packages = DpkgStatusParser.parse(Array(status.utf8))
        #expect(packages.map(\.name) == ["dpkg", "libc6:i386", "removed-tool", "steam-libs-i386:i386", "tzdata"])
        #expect(packages.first { $0.name == "removed-tool" }?.state == .configFiles)
        #expect(SoftwareInventory(packages: packages).installedCount == 4)
    }

    @Test("a CRLF status file and a file without a final blank line still parse")
    func tolerantOfLineEndings() {
        let status = "Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\nPackage: b\nStatus: install ok installed\nVersion: 2"
        #expect(DpkgStatusParser.parse(Array(status.utf8)).map(\.version) == ["1", "2"])
    }

    @Test("snaps and flatpaks are read from their directories")
    func snapAndFlatpak() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        let snapMeta = root.appendingPathComponent("snap/firefox/4173/meta")
        try fm.createDirectory(at: snapMeta, withIntermediateDirectories: true)
        try "name: firefox\nversion: '125.0.2-1'\narchitectures:\n  - amd64\n".write(to: snapMeta.appendingPathComponent("snap.yaml"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("snap/firefox/current").path, withDestinationPath: "4173")
        let app = root.appendingPathComponent("var/lib/flatpak/app/org.gimp.GIMP")
        let metainfo = app.appendingPathComponent("x86_64/stable/abc123/files/share/metainfo")
        try fm.createDirectory(at: metainfo, withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: app.appendingPathComponent("x86_64/stable/active").path, withDestinationPath: "abc123")
        try fm.createSymbolicLink(atPath: app.appendingPathComponent("current").path, withDestinationPath: "x86_64/stable")
        try "<component><releases><release version=\"2.10.38\" date=\"2024-05-02\"/></releases></component>"
            .write(to: metainfo.appendingPathComponent("org.gimp.GIMP.metainfo.xml"), atomically: true, encoding: .utf8)

        let packages = InventoryCollector(root: FileSystemRoot(root.path)).collect().software.packages
        #expect(packages.contains(SoftwarePackage(name: "firefox", version: "125.0.2-1", architecture: nil, source: .snap, state: .installed)))
        #expect(packages.contains(SoftwarePackage(name: "org.gimp.GIMP", version: "2.10.38", architecture: "x86_64", source: .flatpak, state: .installed)))
    }
}
