import Foundation

/// A real systemd-journald of the tests' own, in a journal namespace (`systemd-journald NAMESPACE`), so log entries
/// can be read back with `journalctl --namespace` without touching the machine's journal.
///
/// Needs root and systemd's journald binary; `unavailable` says why not, for the test to skip with.
///
/// `@unchecked Sendable`: one test task owns it from start to `stop()`; `Process` is not annotated.
public final class JournalNamespace: @unchecked Sendable {
    public static let daemon = "/lib/systemd/systemd-journald"

    public static var unavailable: String? {
        if getuid() != 0 { return "journald namespaces need root" }
        if !FileManager.default.isExecutableFile(atPath: daemon) { return "\(daemon) is not installed (package systemd)" }
        return nil
    }

    public let name: String
    public var socketPath: String { "/run/systemd/journal.\(name)/socket" }
    private let process = Process()
    private let scratch: URL

    public init() throws {
        name = "rollcalltest\(getpid())x\(UInt32.random(in: 0 ... .max))"
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: Self.daemon)
        process.arguments = [name]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: {
            let url = scratch.appendingPathComponent("journald.log")
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            return url
        }())
        try process.run()
        let socketPath = socketPath
        guard eventually(10, { FileManager.default.fileExists(atPath: socketPath) }) else {
            let log = (try? String(contentsOf: scratch.appendingPathComponent("journald.log"), encoding: .utf8)) ?? ""
            stop()
            throw HarnessError(description: "systemd-journald \(name) never opened \(socketPath): \(log)")
        }
    }

    /// Every entry so far, as journald stores it (`journalctl -o json`), flushed first.
    public func entries(identifier: String? = nil) throws -> [[String: String]] {
        _ = try runProgram("/usr/bin/journalctl", ["--namespace=\(name)", "--flush"], discardingStandardError: true)
        let output = try runProgram("/usr/bin/journalctl", ["--namespace=\(name)", "-o", "json", "--no-pager", "--all"]
            + (identifier.map { ["SYSLOG_IDENTIFIER=\($0)"] } ?? []), discardingStandardError: true).output
        return output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            // journald gives binary-unsafe values (a newline, say) as arrays of bytes.
            return object.compactMapValues { value in
                if let text = value as? String { return text }
                if let bytes = value as? [Int] { return String(decoding: bytes.map(UInt8.init), as: UTF8.self) }
                return nil
            }
        }
    }

    /// Stops journald and removes its files (volatile under /run, persistent under /var/log/journal).
    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        for base in ["/run/log/journal", "/var/log/journal"] {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where entry.hasSuffix(".\(name)") {
                try? FileManager.default.removeItem(atPath: "\(base)/\(entry)")
            }
        }
        try? FileManager.default.removeItem(atPath: "/run/systemd/journal.\(name)")
        try? FileManager.default.removeItem(at: scratch)
    }
}
