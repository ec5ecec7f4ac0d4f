@testable import RollcallAgent
import Testing

@Suite("Agent command line")
struct AgentCommandLineTests {
    typealias Command = AgentCommandLine.Command

    @Test("commands and options parse, with defaults", arguments: [
        ([], Command.help(nil)),
        (["--help"], .help(nil)),
        (["run", "--help"], .help("run")),
        (["--version"], .version),
        (["run"], .run(config: "/etc/rollcall/agent.toml", once: false, deadlineSeconds: 30)),
        (["run", "--once", "--config", "/tmp/a.toml", "--deadline=5"], .run(config: "/tmp/a.toml", once: true, deadlineSeconds: 5)),
        (["inventory"], .inventory(root: "/", compact: false)),
        (["inventory", "--root", "Tests/Fixtures/x", "--compact"], .inventory(root: "Tests/Fixtures/x", compact: true)),
        (["status", "--format", "json"], .status(config: "/etc/rollcall/agent.toml", json: true)),
        (["enrol", "https://ctl:8443", "--token", "rct_abc", "--fingerprint", String(repeating: "ab", count: 32)],
         .enrol(url: "https://ctl:8443", token: "rct_abc", fingerprint: String(repeating: "ab", count: 32), caFile: nil,
                allowPlainHTTP: false, config: "/etc/rollcall/agent.toml")),
        (["enrol", "--token=t", "--allow-plain-http", "http://127.0.0.1:8080", "--ca-file", "/etc/ca.pem"],
         .enrol(url: "http://127.0.0.1:8080", token: "t", fingerprint: nil, caFile: "/etc/ca.pem", allowPlainHTTP: true, config: "/etc/rollcall/agent.toml")),
    ])
    func parses(arguments: [String], expected: Command) throws {
        #expect(try AgentCommandLine.parse(arguments) == expected)
    }

    @Test("mistakes are explained with the way to get help", arguments: [
        (["enroll"], "Unknown command 'enroll'. Commands: run, inventory, enrol, status. See 'rollcall-agent --help'."),
        (["enrol", "--token", "t"], "'rollcall-agent enrol' needs <url>. See 'rollcall-agent enrol --help'."),
        (["enrol", "https://a"], "'rollcall-agent enrol' needs --token (from `rollcall enrol-token create` on the controller)."),
        (["enrol", "https://a", "https://b", "--token", "t"], "Unexpected argument 'https://b' for 'rollcall-agent enrol'. See 'rollcall-agent enrol --help'."),
        (["enrol", "https://a", "--token", "t", "--fingerprint", "AB:CD"],
         "--fingerprint must be the SHA-256 fingerprint `rollcall serve` prints (64 hex digits, colons optional)."),
        (["run", "--onse"], "Unknown option '--onse' for 'rollcall-agent run'. See 'rollcall-agent run --help'."),
        (["inventory", "--root"], "Option '--root' needs a value (dir)."),
        (["run", "--once=yes"], "Flag '--once' takes no value."),
        (["run", "--deadline", "soon"], "--deadline must be a positive number of seconds, not 'soon'."),
        (["status", "--format", "xml"], "--format must be table or json, not 'xml'."),
        (["inventory", "/"], "Unexpected argument '/' for 'rollcall-agent inventory'. See 'rollcall-agent inventory --help'."),
        (["run", "--config", "a", "--config", "b"], "Option '--config' is given twice."),
    ])
    func mistakes(arguments: [String], message: String) {
        #expect(throws: AgentCommandLine.UsageError(message: message)) { try AgentCommandLine.parse(arguments) }
    }

    @Test("every command's help lists its options")
    func help() {
        #expect(AgentCommandLine.help(nil).contains("inventory   Print one inventory snapshot"))
        #expect(AgentCommandLine.help("run").contains("--deadline <seconds>"))
        #expect(AgentCommandLine.help("inventory").contains("USAGE: rollcall-agent inventory [--root <dir>] [--compact]"))
    }
}
