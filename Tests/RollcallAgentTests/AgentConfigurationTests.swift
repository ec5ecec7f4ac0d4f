import Foundation
@testable import RollcallAgent
import Testing

@Suite("Agent configuration")
struct AgentConfigurationTests {
    static let samplePath = FixturePaths.directory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("agent/agent.toml").path

    @Test("the shipped sample agent.toml parses to the documented settings")
    func sampleParses() throws {
        let text = try String(contentsOfFile: Self.samplePath, encoding: .utf8)
        let configuration = try AgentConfiguration.parse(text, source: Self.samplePath)
        #expect(configuration.controllerURL == nil && configuration.controllerFingerprint == nil && !configuration.allowPlainHTTP)
        #expect(configuration.intervalSeconds == 3600)
        #expect(configuration.uploadTimeoutSeconds == 15)
        #expect(configuration.maxBackoffSeconds == 300)
        #expect(configuration.maxPendingSnapshots == 500)
        #expect(configuration.watchUSB && configuration.policyRefreshSeconds == 900)
        #expect(configuration.outboxPath == "/var/lib/rollcall-agent/outbox.sqlite")
    }

    @Test("errors name the file, line and column", arguments: [
        ("[agent]\ninterval = 1h\n", "agent.toml:2:12: '1h' is not a string, integer or boolean"),
        ("[controller]\nurl = \"http://x\n", "agent.toml:2:16: unterminated string"),
        ("[agent]\ncolour = \"blue\"\n", "agent.toml:2:1: unknown setting 'agent.colour'"),
        ("[agent]\ninterval = \"soon\"\n", "agent.toml:2:1: 'agent.interval' must be a duration"),
        ("[upload]\ntimeout = \"5s\"\ntimeout = \"6s\"\n", "agent.toml:3:1: 'upload.timeout' is set twice"),
        ("[agent]\nroot = { a = 1 }\n", "agent.toml:2:8: inline tables are not supported"),
        ("[controller]\nfingerprint = \"AB:CD\"\n", "agent.toml:2:1: 'controller.fingerprint' must be the 64 hex digits"),
        ("[controller]\nallow_plain_http = \"yes\"\n", "agent.toml:2:1: 'controller.allow_plain_http' must be true or false"),
        ("[usb]\npolicy_refresh = \"2s\"\n", "agent.toml:2:1: 'usb.policy_refresh' must be at least 10s"),
    ])
    func errorsArePlaced(text: String, expected: String) {
        #expect {
            _ = try AgentConfiguration.parse(text, source: "agent.toml")
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
    }

    @Test("controller URLs are parsed and bad ones explained")
    func controllerURLs() throws {
        let url = try ControllerURL("http://[::1]:8080/rollcall/")
        #expect(url.host == "::1" && url.port == 8080 && url.basePath == "/rollcall")
        #expect(try ControllerURL("http://controller").port == 80)
        #expect(throws: UploadError.self) { try ControllerURL("ftp://controller") }
        #expect(throws: UploadError.self) { try ControllerURL("http://controller:99999") }
    }
}
