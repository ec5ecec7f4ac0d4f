#if canImport(Glibc)
import Glibc
#endif
public import Logging

/// Where a Rollcall executable's log lines go, chosen once at start.
///
/// Under systemd the lines become journal entries with their metadata as fields of their own, so a technician can
/// ask `journalctl -u rollcall CTL_DEVICE_ID=42` or `journalctl -t rollcall CTL_PLAN_ID=7` instead of grepping text; at a terminal
/// they are one readable line each with the metadata as `key=value` pairs.
public enum LogDestination: Sendable, Equatable {
    /// journald's native protocol: one datagram per entry on this socket (`/run/systemd/journal/socket`).
    case journal(socketPath: String)
    /// Standard error, one line per entry; `syslogPriorityPrefix` adds journald's `<N>` level prefix for when stderr
    /// is a journal stream but the native socket cannot be reached.
    case standardError(syslogPriorityPrefix: Bool)

    /// systemd's own test (`sd_journal_stream_fd`'s counterpart): `JOURNAL_STREAM` names the device and inode of the
    /// stream it connected to stderr; when stderr is still that stream, the service runs under journald.
    /// `ROLLCALL_JOURNAL_SOCKET` forces the journal (the tests point it at a journald namespace of their own).
    public static func detect(environment: [String: String]) -> LogDestination {
        if let path = forcedSocket(environment) { return .journal(socketPath: path) }
        guard let stream = environment["JOURNAL_STREAM"], stderrIs(journalStream: stream) else {
            return .standardError(syslogPriorityPrefix: false)
        }
        return access(systemSocket, W_OK) == 0 ? .journal(socketPath: systemSocket) : .standardError(syslogPriorityPrefix: true)
    }

    static let systemSocket = "/run/systemd/journal/socket"

    static func forcedSocket(_ environment: [String: String]) -> String? {
        environment["ROLLCALL_JOURNAL_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The journal alone, for commands a technician runs at a terminal (`rollcall plan apply`): their terminal output
    /// is the progress they asked for, and the journal gets the same record the way `useradd` leaves one in syslog.
    /// Nil where no journald listens.
    public static func journalOnly(environment: [String: String]) -> LogDestination? {
        let socket = forcedSocket(environment) ?? systemSocket
        return JournalSocket.shared(path: socket) == nil ? nil : .journal(socketPath: socket)
    }

    static func stderrIs(journalStream: String) -> Bool {
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}

/// A swift-log handler for the controller and the agent, writing to a ``LogDestination``.
///
/// Metadata keys such as `ctl.device.id` become journal fields `CTL_DEVICE_ID`; the handler never adds values of its
/// own beyond the level, the label and the source location, so what is logged is only what the call site chose to
/// log (and no call site logs a token, key or password).
public struct ServiceLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let sink: LogSink

    /// A logger for `label` that writes to `destination` only, whatever the process-wide bootstrap chose.
    public static func logger(label: String, destination: LogDestination, environment: [String: String]) -> Logger {
        let level = level(environment)
        return Logger(label: label) { label in ServiceLogHandler(label: label, destination: destination, level: level) }
    }

    public init(label: String, destination: LogDestination, level: Logger.Level) {
        self.label = label
        self.logLevel = level
        switch destination {
        case .journal(let path): sink = JournalSocket.shared(path: path).map(LogSink.journal) ?? .standardError(prefix: Self.stderrIsJournal)
        case .standardError(let prefix): sink = .standardError(prefix: prefix)
        }
    }

    /// Bootstraps swift-log for a Rollcall executable: the destination detected from the environment, the level from
    /// `ROLLCALL_LOG_LEVEL` (trace, debug, info, notice, warning, error, critical), `info` by default.
    public static func bootstrap(environment: [String: String]) {
        let destination = LogDestination.detect(environment: environment)
        let level = level(environment)
        LoggingSystem.bootstrap { label in ServiceLogHandler(label: label, destination: destination, level: level) }
    }

    /// `ROLLCALL_LOG_LEVEL`, `info` when unset or not a level.
    static func level(_ environment: [String: String]) -> Logger.Level {
        environment["ROLLCALL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let (level, message, file, function, line) = (event.level, event.message, event.file, event.function, event.line)
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        if case .journal(let socket) = sink {
            var fields: [(String, String)] = [
                ("MESSAGE", message.description), ("PRIORITY", String(Self.syslogPriority(level))),
                ("SYSLOG_IDENTIFIER", label), ("CODE_FILE", file), ("CODE_LINE", String(line)), ("CODE_FUNC", function),
            ]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                fields.append((Self.journalFieldName(key), value.description))
            }
            if socket.send(JournalSocket.encode(fields)) { return }
        }
        // At a terminal, on a bare journal stream, or when journald refused the datagram: one line on stderr.
        let prefix = if case .standardError(let prefix) = sink { prefix } else { Self.stderrIsJournal }
        Self.writeStandardError(Self.line(level: level, label: label, message: message, metadata: merged, prefix: prefix))
    }

    /// Whether a line written to stderr lands in the journal, where the `<N>` prefix sets its priority.
    static let stderrIsJournal: Bool = getenv("JOURNAL_STREAM").map { LogDestination.stderrIs(journalStream: String(cString: $0)) } ?? false

    /// syslog(3) priorities, which journald keeps as `PRIORITY` and `journalctl -p` filters on.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// `ctl.device.id` → `CTL_DEVICE_ID`: journal field names are upper-case letters, digits and underscores, and
    /// may not start with an underscore (those are journald's own trusted fields) or a digit.
    static func journalFieldName(_ key: String) -> String {
        var name = String(key.uppercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" })
        while name.first == "_" { name.removeFirst() }
        if name.first?.isNumber ?? true { name = "ROLLCALL_" + name }
        return String(name.prefix(64))
    }

    /// `2026-11-24T09:15:02Z warning rollcall: Controller unreachable; reports stay queued agent.url=https://… agent.reason="…"`;
    /// on a journal stream the `<N>` priority replaces the time, which journald records itself.
    static func line(level: Logger.Level, label: String, message: Logger.Message, metadata: Logger.Metadata, prefix: Bool) -> String {
        var text = prefix ? "<\(syslogPriority(level))>" : timestamp() + " "
        text += "\(level) \(label): \(message)"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            text += " \(key)=\(logfmtValue(value.description))"
        }
        // One entry per line, always: a value with a newline would otherwise forge a second entry.
        return text.replacing("\n", with: "\\n") + "\n"
    }

    /// UTC, to the second, in the ISO 8601 form a technician can sort and paste into `journalctl --since`.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func logfmtValue(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }) else { return value }
        return "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)  // safe: non-empty
                if written <= 0 { if written < 0, errno == EINTR { continue }; return }
                offset += written
            }
        }
    }
}

enum LogSink: Sendable {
    case journal(JournalSocket)
    case standardError(prefix: Bool)
}
