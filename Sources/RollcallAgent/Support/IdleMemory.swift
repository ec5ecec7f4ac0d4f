#if canImport(Glibc)
import Glibc
#endif
import CAgentSystem

/// Gives memory back before the agent sleeps for a long time.
///
/// Between snapshots (an hour by default) the agent runs no code, yet the pages of code and libraries one cycle
/// touched stay resident. Before a long sleep it returns freed heap to the system (`malloc_trim`) and asks the
/// kernel to reclaim its clean, read-only file pages (`MADV_PAGEOUT`, Linux 5.4+; ignored on older kernels). The next
/// cycle faults the pages it needs back in from the page cache or disk, which costs a few milliseconds an hour.
/// Writable and anonymous mappings are never touched, so no state is lost.
enum IdleMemory {
    /// Sleeps shorter than this are not worth the page faults that follow.
    static let minimumIdleSeconds = 60

    static func release() {
        _ = cagent_malloc_trim()
        guard case .success(let maps) = FileSystemRoot.system.readText("/proc/self/maps") else { return }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // address perms offset dev inode path
            guard fields.count >= 6, fields[1].hasPrefix("r"), !fields[1].contains("w"), fields[5].hasPrefix("/"),
                  let dash = fields[0].firstIndex(of: "-"),
                  let start = UInt(fields[0][..<dash], radix: 16),
                  let end = UInt(fields[0][fields[0].index(after: dash)...], radix: 16),
                  end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            _ = cagent_madvise_pageout(address, Int(end - start))
        }
    }
}
