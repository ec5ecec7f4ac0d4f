#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A datagram socket connected to journald's native protocol socket, one per path for the life of the process.
///
/// Sendable as it is: the descriptor never changes and is never closed (a log sink lives as long as the process), and
/// `send(2)` of whole datagrams on one socket from several threads is atomic per datagram.
final class JournalSocket: Sendable {
    let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    private static let sockets = Mutex<[String: JournalSocket]>([:])

    /// The socket for `path`, connected on first use; nil when there is no journal listening there.
    static func shared(path: String) -> JournalSocket? {
        sockets.withLock { sockets in
            if let socket = sockets[path] { return socket }
            guard let socket = connect(path) else { return nil }
            sockets[path] = socket
            return socket
        }
    }

    private static func connect(_ path: String) -> JournalSocket? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return JournalSocket(descriptor: descriptor)
    }

    /// Sends one entry; false when journald refused it or is gone, so the caller can fall back to stderr.
    func send(_ datagram: [UInt8]) -> Bool {
        while true {
            let sent = datagram.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent == datagram.count { return true }
            if sent < 0, errno == EINTR { continue }
            return false
        }
    }

    /// journald's native format: `NAME=value\n` per field, or, for a value holding a newline, `NAME\n`, its length as
    /// a little-endian 64-bit integer, the value and `\n` (systemd's "Native Journal Protocol").
    static func encode(_ fields: [(name: String, value: String)]) -> [UInt8] {
        var datagram: [UInt8] = []
        for field in fields {
            datagram += Array(field.name.utf8)
            let value = Array(field.value.utf8)
            if value.contains(0x0A) {
                datagram.append(0x0A)
                withUnsafeBytes(of: UInt64(value.count).littleEndian) { datagram += $0 }
            } else {
                datagram.append(UInt8(ascii: "="))
            }
            datagram += value
            datagram.append(0x0A)
        }
        return datagram
    }
}
