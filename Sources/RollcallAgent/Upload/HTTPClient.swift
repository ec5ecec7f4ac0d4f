#if canImport(Glibc)
import Glibc
#endif

/// Where the controller listens, parsed from `agent.toml`'s `controller.url`.
public struct ControllerURL: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: UInt16
    /// Path prefix without a trailing slash (usually empty).
    public let basePath: String
    /// `https://`: the client speaks TLS and checks the controller's certificate before sending anything.
    public let isTLS: Bool

    /// Accepts `http://host[:port][/prefix]` and `https://…`; IPv6 literals in brackets.
    public init(_ text: String) throws(UploadError) {
        let scheme: String
        if text.hasPrefix("https://") {
            scheme = "https://"
            isTLS = true
        } else if text.hasPrefix("http://") {
            scheme = "http://"
            isTLS = false
        } else {
            throw UploadError.unsupported(url: text, reason: "the controller URL must start with https:// or http://")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        rest = rest[slash...]
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw UploadError.unsupported(url: text, reason: "unterminated IPv6 address")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                portText = authority[authority.index(after: colon)...]
                authority = authority[..<colon]
            }
            host = String(authority)
        }
        guard !host.isEmpty else { throw UploadError.unsupported(url: text, reason: "no host name") }
        if let portText {
            guard let port = UInt16(portText), port > 0 else {
                throw UploadError.unsupported(url: text, reason: "port '\(portText)' is not a number from 1 to 65535")
            }
            self.port = port
        } else {
            self.port = isTLS ? 443 : 80
        }
        var path = String(rest)
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
    }

    /// The host as it appears in a URL or a `Host` header: IPv6 literals in brackets.
    var authorityHost: String { host.contains(":") ? "[\(host)]" : host }

    public var description: String {
        "\(isTLS ? "https" : "http")://\(authorityHost):\(port)\(basePath)"
    }
}

public struct HTTPResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]
}

/// Why a report could not be delivered. Messages name the URL and say what to check.
public enum UploadError: Error, Sendable, CustomStringConvertible {
    case unsupported(url: String, reason: String)
    case unreachable(url: String, reason: String)
    case timedOut(url: String, seconds: Int)
    case badResponse(url: String, reason: String)
    /// The server at the URL is not the controller the agent was told to trust: nothing was sent to it.
    case untrusted(url: String, reason: String)
    /// The policy could not be fetched or read; the agent keeps enforcing the one it has.
    case policy(String)

    public var description: String {
        switch self {
        case .unsupported(let url, let reason): "Cannot use controller URL \(url): \(Self.sentence(reason))"
        case .unreachable(let url, let reason): "Cannot reach the controller at \(url): \(Self.sentence(reason)) Is `rollcall serve` running and the port open?"
        case .timedOut(let url, let seconds): "The controller at \(url) did not answer within \(seconds) s."
        case .badResponse(let url, let reason): "The controller at \(url) sent a response the agent cannot read: \(Self.sentence(reason))"
        case .untrusted(let url, let reason): "The agent does not trust the server at \(url) and sent it nothing: \(Self.sentence(reason))"
        case .policy(let reason): "Cannot update the policy: \(Self.sentence(reason)) The last policy received stays in force."
        }
    }

    /// Ends a reason with a full stop unless it already ends a sentence (some reasons end in a question).
    private static func sentence(_ reason: String) -> String {
        guard let last = reason.last, !".?!".contains(last) else { return reason }
        return reason + "."
    }
}

/// A minimal HTTP/1.1 client over a blocking POSIX socket: one request per connection (`Connection: close`).
///
/// Why our own: the agent talks to one server it knows, and URLSession (full Foundation, libcurl) or NIO would
/// triple the agent's memory. It handles `Content-Length`, chunked bodies and reading to EOF, and enforces a
/// connect timeout and a read/write timeout on every call.
///
/// For `https://` it speaks TLS through Debian's libssl (already on every machine, so no new package and little
/// memory) and checks the controller per ``ControllerTrust`` before the first request byte leaves the machine.
struct HTTPClient {
    let url: ControllerURL
    let timeoutSeconds: Int
    let trust: ControllerTrust
    let maxResponseBytes = 4 << 20

    init(url: ControllerURL, timeoutSeconds: Int, trust: ControllerTrust = .system) {
        self.url = url
        self.timeoutSeconds = timeoutSeconds
        self.trust = trust
    }

    func send(method: String, path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws(UploadError) -> HTTPResponse {
        let target = url.description + path
        let socket = try connect(target: target)
        defer { close(socket) }
        let stream: Stream
        if url.isTLS {
            stream = .tls(try TLSSession(socket: socket, host: url.host, trust: trust, target: target, timeoutSeconds: timeoutSeconds))
        } else {
            stream = .plain(socket)
        }
        var head = "\(method) \(url.basePath)\(path) HTTP/1.1\r\nHost: \(url.authorityHost):\(url.port)\r\n"
        head += "User-Agent: rollcall-agent/\(InventoryCollector.agentVersion)\r\nConnection: close\r\nAccept: application/json\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        try write(stream, Array(head.utf8) + body, target: target)
        let raw = try readAll(stream, target: target)
        if case .tls(let session) = stream { session.close() }
        return try Self.parse(raw, target: target)
    }

    /// The bytes under HTTP: the socket itself, or TLS over it. The socket stays owned by `send`, which closes it
    /// after the TLS session (if any) is done with it.
    private enum Stream {
        case plain(Int32)
        case tls(TLSSession)
    }

    private func connect(target: String) throws(UploadError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(url.host, String(url.port), &hints, &list)
        guard status == 0, let first = list else {
            throw UploadError.unreachable(url: target, reason: "cannot resolve \(url.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&poller, 1, Int32(timeoutSeconds * 1000))
                if ready == 1 {
                    var socketError: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
                    result = socketError == 0 ? 0 : -1
                    if socketError != 0 { lastError = String(cString: strerror(socketError)) }
                } else {
                    lastError = "connection attempt timed out after \(timeoutSeconds) s"
                    result = -1
                }
            } else if result != 0 {
                lastError = String(cString: strerror(errno))
            }
            if result == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return fd
            }
            close(fd)
        }
        throw UploadError.unreachable(url: target, reason: lastError)
    }

    private func write(_ stream: Stream, _ bytes: [UInt8], target: String) throws(UploadError) {
        switch stream {
        case .plain(let fd): try write(fd, bytes, target: target)
        case .tls(let session): try session.write(bytes)
        }
    }

    private func write(_ fd: Int32, _ bytes: [UInt8], target: String) throws(UploadError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw UploadError.timedOut(url: target, seconds: timeoutSeconds) }
                throw UploadError.unreachable(url: target, reason: "sending failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Reads what is available; 0 at the end of the stream.
    private func read(_ stream: Stream, into chunk: inout [UInt8], target: String) throws(UploadError) -> Int {
        switch stream {
        case .tls(let session):
            return try session.read(into: &chunk)
        case .plain(let fd):
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count >= 0 { return count }
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw UploadError.timedOut(url: target, seconds: timeoutSeconds) }
                throw UploadError.unreachable(url: target, reason: "reading failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func readAll(_ stream: Stream, target: String) throws(UploadError) -> [UInt8] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count: Int
            do {
                count = try read(stream, into: &chunk, target: target)
            } catch {
                // A reset after a complete response (server closed first) still leaves a usable answer.
                if case .unreachable = error, !data.isEmpty, (try? Self.parse(data, target: target)) != nil { return data }
                throw error
            }
            if count == 0 { return data }
            data.append(contentsOf: chunk[0..<count])
            if data.count > maxResponseBytes { throw UploadError.badResponse(url: target, reason: "response larger than \(maxResponseBytes) bytes") }
            // Stop as soon as a Content-Length response is complete; do not wait for the server to close.
            if (try? Self.parse(data, target: target, requireComplete: true)) != nil { return data }
        }
    }

    /// Parses a complete response. With `requireComplete`, a body shorter than announced is an error, so the reader
    /// knows to keep reading.
    static func parse(_ raw: [UInt8], target: String, requireComplete: Bool = false) throws(UploadError) -> HTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = raw.firstRange(of: separator) else {
            throw UploadError.badResponse(url: target, reason: "no complete header in \(raw.count) bytes")
        }
        let headText = String(decoding: raw[..<headEnd.lowerBound], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { throw UploadError.badResponse(url: target, reason: "empty status line") }
        let statusParts = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw UploadError.badResponse(url: target, reason: "status line is not HTTP/1.x")
        }
        var headers: [(name: String, value: String)] = []
        var contentLength: Int?
        var chunked = false
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...].trimmingCharacters(in: " \t"))
            headers.append((name, value))
            if name == "content-length" { contentLength = Int(value) }
            if name == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
        }
        var body = Array(raw[headEnd.upperBound...])
        if chunked {
            body = try decodeChunked(body, target: target)
        } else if let contentLength {
            if body.count < contentLength {
                throw UploadError.badResponse(url: target, reason: "body cut short: \(body.count) of \(contentLength) bytes")
            }
            body = Array(body.prefix(contentLength))
        } else if requireComplete {
            throw UploadError.badResponse(url: target, reason: "body length unknown until the server closes")
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    private static func decodeChunked(_ data: [UInt8], target: String) throws(UploadError) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = data[index...].firstRange(of: [13, 10]) else {
                throw UploadError.badResponse(url: target, reason: "chunked body cut short")
            }
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: " "), radix: 16) else {
                throw UploadError.badResponse(url: target, reason: "bad chunk size '\(sizeText)'")
            }
            index = lineEnd.upperBound
            if size == 0 { return output }
            guard index + size + 2 <= data.count else { throw UploadError.badResponse(url: target, reason: "chunked body cut short") }
            output.append(contentsOf: data[index..<(index + size)])
            index += size + 2
        }
    }
}
