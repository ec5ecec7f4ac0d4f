#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The directory the agent treats as `/`.
///
/// Every file-system read of the agent goes through one of these, so a test (or a technician checking a captured
/// machine) can point the collectors at a fixture tree: `rollcall-agent inventory --root Tests/Fixtures/laptop`.
/// Reads use POSIX calls directly: the agent must stay small and fast, and a missing file is an answer
/// (``ReadFailure``), never a crash.
public struct FileSystemRoot: Sendable {
    /// Absolute or relative path of the root, without a trailing slash (`""` means the real `/`).
    public let path: String

    public init(_ path: String) {
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed == "/" ? "" : trimmed
    }

    /// The real root of this machine.
    public static let system = FileSystemRoot("/")

    /// `relative` must start with `/`: it is the path as seen on the workstation.
    public func hostPath(_ relative: String) -> String {
        path + relative
    }

    /// Reads a whole file. sysfs and procfs report a size of 4096 or 0 whatever the content, so this reads until EOF.
    public func readBytes(_ relative: String, limit: Int = 64 << 20) -> Result<[UInt8], ReadFailure> {
        let fd = open(hostPath(relative), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadFailure(errno: errno)) }
        defer { close(fd) }
        var statBuffer = stat()
        var capacity = 4096
        if fstat(fd, &statBuffer) == 0, statBuffer.st_size > 0 {
            capacity = min(Int(statBuffer.st_size) + 1, limit)
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(capacity)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(errno: errno))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { return .failure(ReadFailure(reason: "larger than \(limit) bytes")) }
        }
        return .success(bytes)
    }

    /// Reads a text file as UTF-8 (invalid bytes are repaired, not fatal).
    public func readText(_ relative: String) -> Result<String, ReadFailure> {
        readBytes(relative).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A sysfs-style one-value file: trimmed of whitespace and NULs; an empty value counts as absent.
    public func readValue(_ relative: String) -> Result<String, ReadFailure> {
        switch readText(relative) {
        case .failure(let failure):
            return .failure(failure)
        case .success(let text):
            let trimmed = text.trimmingSysfsPadding()
            return trimmed.isEmpty ? .failure(ReadFailure(reason: "empty")) : .success(trimmed)
        }
    }

    /// Names in a directory, sorted, without `.` and `..`.
    public func listDirectory(_ relative: String) -> Result<[String], ReadFailure> {
        guard let dir = opendir(hostPath(relative)) else { return .failure(ReadFailure(errno: errno)) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return .success(names.sorted())
    }

    /// The target of a symbolic link, as stored (sysfs driver links are relative).
    public func readLink(_ relative: String) -> Result<String, ReadFailure> {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(hostPath(relative), &buffer, buffer.count)
        guard count >= 0 else { return .failure(ReadFailure(errno: errno)) }
        return .success(String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Whether anything (file, directory, link) exists at the path; a dangling link counts.
    public func exists(_ relative: String) -> Bool {
        var statBuffer = stat()
        return lstat(hostPath(relative), &statBuffer) == 0
    }

    /// When the file was last changed (seconds since 1970), nil when it is not there.
    public func modificationTime(_ relative: String) -> Double? {
        var statBuffer = stat()
        guard stat(hostPath(relative), &statBuffer) == 0 else { return nil }
        return Double(statBuffer.st_mtim.tv_sec) + Double(statBuffer.st_mtim.tv_nsec) / 1e9
    }

    public func isDirectory(_ relative: String) -> Bool {
        var statBuffer = stat()
        return stat(hostPath(relative), &statBuffer) == 0 && (statBuffer.st_mode & S_IFMT) == S_IFDIR
    }
}

/// Why a file could not be read, in words a technician understands.
public struct ReadFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    /// True when the file simply is not there (as opposed to unreadable).
    public let isMissing: Bool

    public init(reason: String, isMissing: Bool = false) {
        self.reason = reason
        self.isMissing = isMissing
    }

    init(errno code: Int32) {
        switch code {
        case ENOENT, ENOTDIR:
            self.init(reason: "not present", isMissing: true)
        case EACCES, EPERM:
            self.init(reason: "permission denied (run the agent as root to read it)")
        case ENODEV, ENXIO, EINVAL:
            self.init(reason: "not provided by this device or firmware")
        default:
            self.init(reason: String(cString: strerror(code)))
        }
    }

    public var description: String { reason }
}

extension String {
    /// sysfs values end in a newline; DMI strings are often padded with spaces or NULs.
    func trimmingSysfsPadding() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last == "\n" || last == " " || last == "\0" || last == "\t" || last == "\r" {
            scalars.removeLast()
        }
        while let first = scalars.first, first == " " || first == "\t" || first == "\n" {
            scalars.removeFirst()
        }
        return String(scalars)
    }
}
