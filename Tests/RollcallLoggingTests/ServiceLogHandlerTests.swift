import Foundation
import Logging
@testable import RollcallLogging
import RollcallTestSupport
import Testing

@Suite("Log lines: journald's native protocol and terminal lines")
struct ServiceLogHandlerTests {
    @Test("an entry reaches a real journald with its metadata as fields, its level as PRIORITY and a multi-line value intact",
          .enabled(if: JournalNamespace.unavailable == nil, "\(JournalNamespace.unavailable ?? "")"))
    func journalEntryFields() throws {
        let journal = try JournalNamespace()
        defer { journal.stop() }
        var logger = ServiceLogHandler.logger(label: "rollcall-test", destination: .journal(socketPath: journal.socketPath),
                                              environment: ["ROLLCALL_LOG_LEVEL": "debug"])
        logger[metadataKey: "ctl.device.id"] = "42"
        logger.warning("Report refused", metadata: ["ctl.reason": "line one\nline two", "agent.report.id": "r-7"])
        logger.trace("below the level, never sent")
        logger.debug("debug is sent")

        var entries: [[String: String]] = []
        #expect(eventually(10) { entries = (try? journal.entries(identifier: "rollcall-test")) ?? []; return entries.count >= 2 })
        let warning = try #require(entries.first { $0["MESSAGE"] == "Report refused" })
        #expect(warning["PRIORITY"] == "4")
        #expect(warning["SYSLOG_IDENTIFIER"] == "rollcall-test")
        #expect(warning["CTL_DEVICE_ID"] == "42")
        #expect(warning["AGENT_REPORT_ID"] == "r-7")
        #expect(warning["CTL_REASON"] == "line one\nline two")
        #expect(warning["CODE_FILE"]?.hasSuffix("ServiceLogHandlerTests.swift") == true)
        #expect(warning["_TRANSPORT"] == "journal")
        #expect(entries.contains { $0["MESSAGE"] == "debug is sent" && $0["PRIORITY"] == "7" })
        #expect(!entries.contains { $0["MESSAGE"] == "below the level, never sent" })
    }

    @Test("journal field names: upper case, underscores for anything else, never a leading underscore or digit")
    func fieldNames() {
        #expect(ServiceLogHandler.journalFieldName("ctl.device.id") == "CTL_DEVICE_ID")
        #expect(ServiceLogHandler.journalFieldName("_hostname") == "HOSTNAME")
        #expect(ServiceLogHandler.journalFieldName("9lives") == "ROLLCALL_9LIVES")
        #expect(ServiceLogHandler.journalFieldName("agent.usb.présent") == "AGENT_USB_PR_SENT")
    }

    @Test("a terminal line holds level, label, message and key=value metadata, quoted where needed, on one line")
    func terminalLine() throws {
        let line = ServiceLogHandler.line(level: .warning, label: "rollcall-agent", message: "Controller unreachable; reports stay queued",
                                          metadata: ["agent.url": "https://school:8443/api/v1/reports", "agent.reason": "connection refused\nretry",
                                                     "agent.pending": "3", "agent.note": "say \"hi\""], prefix: false)
        let time = try #require(line.split(separator: " ").first)
        #expect(time.count == 20 && time.hasSuffix("Z") && time.dropFirst(10).first == "T", "\(time)")
        #expect(line.dropFirst(21) == "warning rollcall-agent: Controller unreachable; reports stay queued agent.note=\"say \\\"hi\\\"\" agent.pending=3 "
            + "agent.reason=\"connection refused\\nretry\" agent.url=https://school:8443/api/v1/reports\n")
        let journalStreamLine = ServiceLogHandler.line(level: .error, label: "rollcall", message: "x", metadata: [:], prefix: true)
        #expect(journalStreamLine == "<3>error rollcall: x\n")
    }

    @Test("JOURNAL_STREAM counts only while it still names stderr; ROLLCALL_JOURNAL_SOCKET forces the journal")
    func destinationDetection() {
        #expect(LogDestination.detect(environment: [:]) == .standardError(syslogPriorityPrefix: false))
        #expect(LogDestination.detect(environment: ["JOURNAL_STREAM": "1:1"]) == .standardError(syslogPriorityPrefix: false))
        #expect(LogDestination.detect(environment: ["ROLLCALL_JOURNAL_SOCKET": "/tmp/x.socket"]) == .journal(socketPath: "/tmp/x.socket"))
        var status = stat()
        #expect(fstat(STDERR_FILENO, &status) == 0)
        #expect(LogDestination.stderrIs(journalStream: "\(status.st_dev):\(status.st_ino)"))
    }

    @Test("no journald at the socket: the entry goes to stderr instead of being lost")
    func missingJournalFallsBack() throws {
        let handler = ServiceLogHandler(label: "x", destination: .journal(socketPath: "/nonexistent/journal.socket"), level: .info)
        guard case .standardError = handler.sink else {
            Issue.record("expected stderr when no journal listens")
            return
        }
    }
}
