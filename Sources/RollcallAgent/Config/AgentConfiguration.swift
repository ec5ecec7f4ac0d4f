/// Settings from `/etc/rollcall/agent.toml`. Every key has a default except the controller URL.
///
/// ```toml
/// [controller]
/// url = "http://rollcall.school.lan:8080"
///
/// [agent]
/// interval = "1h"            # how often to take an inventory snapshot
/// state_dir = "/var/lib/rollcall"
/// root = "/"                 # read the machine from here (tests and captured trees)
///
/// [upload]
/// timeout = "15s"
/// max_backoff = "5m"
///
/// [outbox]
/// max_pending_snapshots = 500
/// ```
public struct AgentConfiguration: Sendable, Equatable {
    public var controllerURL: String?
    public var intervalSeconds: Int = 3600
    public var stateDirectory: String = "/var/lib/rollcall"
    public var root: String = "/"
    public var uploadTimeoutSeconds: Int = 15
    public var maxBackoffSeconds: Int = 300
    public var maxPendingSnapshots: Int = 500

    public init() {}

    public var outboxPath: String { stateDirectory + "/outbox.sqlite" }

    /// Parses the file's text; `source` names the file in error messages.
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> AgentConfiguration {
        let document = try TOMLDocument(parsing: text, source: source)
        var configuration = AgentConfiguration()
        let known: Set<String> = [
            "controller.url", "agent.interval", "agent.state_dir", "agent.root", "upload.timeout", "upload.max_backoff",
            "outbox.max_pending_snapshots",
        ]
        for (key, entry) in document.values where !known.contains(key) {
            throw ConfigurationError(source: source, line: entry.line, column: entry.column,
                                     message: "unknown setting '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        configuration.controllerURL = try document.string("controller.url")
        if let value = try document.duration("agent.interval") { configuration.intervalSeconds = value }
        if let value = try document.string("agent.state_dir") { configuration.stateDirectory = value }
        if let value = try document.string("agent.root") { configuration.root = value }
        if let value = try document.duration("upload.timeout") { configuration.uploadTimeoutSeconds = value }
        if let value = try document.duration("upload.max_backoff") { configuration.maxBackoffSeconds = value }
        if let value = try document.integer("outbox.max_pending_snapshots") { configuration.maxPendingSnapshots = value }
        if configuration.intervalSeconds < 1 {
            throw document.error(at: "agent.interval", "must be at least 1 second")
        }
        return configuration
    }
}
