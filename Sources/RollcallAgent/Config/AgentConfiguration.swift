import RollcallProtocol

/// Settings from `/etc/rollcall/agent.toml`. Every key has a default except the controller URL.
///
/// ```toml
/// [controller]
/// url = "https://rollcall.school.lan:8443"   # default: the URL the agent enrolled with
/// fingerprint = "AB:CD:…"                    # pin the controller's certificate (default: the one given at enrolment)
/// ca_file = "/etc/rollcall/school-ca.pem"    # or trust a CA instead
/// allow_plain_http = false                   # an http:// URL is refused unless this is true
///
/// [agent]
/// interval = "1h"            # how often to take an inventory snapshot
/// state_dir = "/var/lib/rollcall-agent"
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
    /// SHA-256 of the controller's certificate, as `rollcall serve` prints it.
    public var controllerFingerprint: String?
    /// PEM CA bundle that signed the controller's certificate.
    public var controllerCAFile: String?
    public var allowPlainHTTP = false
    public var intervalSeconds: Int = 3600
    public var stateDirectory: String = "/var/lib/rollcall-agent"
    public var root: String = "/"
    public var uploadTimeoutSeconds: Int = 15
    public var maxBackoffSeconds: Int = 300
    public var maxPendingSnapshots: Int = 500
    /// Where to write the agent's metrics for node_exporter's textfile collector; nil writes none.
    public var metricsTextfile: String?
    /// Watch USB storage through udev while the daemon runs.
    public var watchUSB = true
    /// How often to ask the controller for its policy (approved media, blocking): how soon an approval reaches the
    /// machine, against one small request per machine per period at the controller.
    public var policyRefreshSeconds = 900

    public init() {}

    public var outboxPath: String { stateDirectory + "/outbox.sqlite" }
    /// The agent's Ed25519 private key, mode 0600.
    public var keyPath: String { stateDirectory + "/agent.key" }
    /// Which controller enrolled the agent, as which device.
    public var enrolmentPath: String { stateDirectory + "/enrolment.json" }

    /// Parses the file's text; `source` names the file in error messages.
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> AgentConfiguration {
        let document = try TOMLDocument(parsing: text, source: source)
        var configuration = AgentConfiguration()
        let known: Set<String> = [
            "controller.url", "controller.fingerprint", "controller.ca_file", "controller.allow_plain_http", "agent.interval", "agent.state_dir", "agent.root", "upload.timeout", "upload.max_backoff",
            "outbox.max_pending_snapshots", "usb.watch", "usb.policy_refresh", "agent.metrics_textfile",
        ]
        for (key, entry) in document.values where !known.contains(key) {
            throw ConfigurationError(source: source, line: entry.line, column: entry.column,
                                     message: "unknown setting '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        configuration.controllerURL = try document.string("controller.url")
        configuration.controllerFingerprint = try document.string("controller.fingerprint")
        configuration.controllerCAFile = try document.string("controller.ca_file")
        configuration.allowPlainHTTP = try document.boolean("controller.allow_plain_http") ?? false
        if let fingerprint = configuration.controllerFingerprint, CertificateFingerprint.parse(fingerprint) == nil {
            throw document.error(at: "controller.fingerprint", "must be the 64 hex digits of a SHA-256 fingerprint, like the line `rollcall serve` prints")
        }
        if configuration.controllerFingerprint != nil, configuration.controllerCAFile != nil {
            throw document.error(at: "controller.ca_file", "and controller.fingerprint are two ways to trust the controller; set one")
        }
        if let value = try document.duration("agent.interval") { configuration.intervalSeconds = value }
        if let value = try document.string("agent.state_dir") { configuration.stateDirectory = value }
        if let value = try document.string("agent.root") { configuration.root = value }
        if let value = try document.string("agent.metrics_textfile") {
            guard value.hasPrefix("/"), value.hasSuffix(".prom") else {
                throw document.error(at: "agent.metrics_textfile", "must be an absolute path ending in .prom (node_exporter reads only those)")
            }
            configuration.metricsTextfile = value
        }
        if let value = try document.duration("upload.timeout") { configuration.uploadTimeoutSeconds = value }
        if let value = try document.duration("upload.max_backoff") { configuration.maxBackoffSeconds = value }
        if let value = try document.integer("outbox.max_pending_snapshots") { configuration.maxPendingSnapshots = value }
        if let value = try document.boolean("usb.watch") { configuration.watchUSB = value }
        if let value = try document.duration("usb.policy_refresh") {
            guard value >= 10 else { throw document.error(at: "usb.policy_refresh", "must be at least 10s: every agent asks the controller that often") }
            configuration.policyRefreshSeconds = value
        }
        if configuration.intervalSeconds < 1 {
            throw document.error(at: "agent.interval", "must be at least 1 second")
        }
        return configuration
    }
}
