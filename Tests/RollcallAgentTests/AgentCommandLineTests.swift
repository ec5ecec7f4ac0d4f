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
    ])
    func parses(arguments: [String], expected: Command) throws {
        #expect(try AgentCommandLine.parse(arguments) == expected)
    }

    @Test("mistakes are explained with the way to get help", arguments: [
        (["enroll"], "Unknown command 'enroll'. Commands: run, inventory, status. See 'rollcall-agent --help'."),
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
