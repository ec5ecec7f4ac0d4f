import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import RollcallController
import RollcallProtocol
import Testing

/// The Prometheus text exposition format, parsed strictly enough to catch a malformed line: `# HELP`/`# TYPE`
/// comments, then `name{label="value",...} number` samples.
struct PrometheusText {
    var samples: [String: Double] = [:]
    var types: [String: String] = [:]

    init(_ text: String) throws {
        let sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                    throw HarnessFailure("bad TYPE line: \(line)")
                }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("# HELP ") { continue }
            guard let match = line.wholeMatch(of: sample) else { throw HarnessFailure("not a Prometheus sample: \(line)") }
            let key = String(match.1) + (match.2.map(String.init) ?? "")
            samples[key] = Double(String(match.3)) ?? .nan
        }
    }

    subscript(_ key: String) -> Double? { samples[key] }
}

struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Prometheus metrics")
struct MetricsTests {
    @Test("/metrics parses as Prometheus text, and the counters, histogram and gauges move when a report arrives")
    func countersMove() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        let agent = try await fixture.enrolledAgent()
        var withOutbox = sampleReport()
        withOutbox.outbox = AgentOutboxSummary(pending: 3, oldestQueuedAt: Date().addingTimeInterval(-7200))
        let report = withOutbox
        try await fixture.app().test(.live) { client in
            func scrape() async throws -> PrometheusText {
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                    return try PrometheusText(String(buffer: response.body))
                }
            }
            let before = try await scrape()
            #expect(before["rollcall_directory_syncs"] == 0 && before["rollcall_directory_last_sync_timestamp_seconds"] == 0)
            _ = try await fixture.store.createPlan(kind: .passwords, items: [], notes: [], totalAccounts: 40, threshold: 2)
            try await fixture.store.withConnection { db in
                try await db.raw("INSERT INTO directory_syncs (url, finished_at, summary) VALUES ('ldap://127.0.0.1', 1795500000000, '{}')").run()
            }
            #expect(before["rollcall_reports_received_total{kind=\"inventory\",outcome=\"stored\"}"] == nil)
            #expect(before["rollcall_devices{state=\"enrolled_no_report\"}"] == 1)

            try await client.postReport(try encode(report), by: agent) { #expect($0.status == .created) }
            try await client.postReport(try encode(report), by: agent) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/reports", method: .post, body: try encode(report)) { #expect($0.status == .unauthorized) }

            let after = try await scrape()
            #expect(after["rollcall_reports_received_total{kind=\"inventory\",outcome=\"stored\"}"] == 1)
            #expect(after["rollcall_reports_received_total{kind=\"inventory\",outcome=\"duplicate\"}"] == 1)
            #expect(after.types["rollcall_report_ingest_duration_seconds"] == "histogram")
            #expect(after["rollcall_report_ingest_duration_seconds_count{kind=\"inventory\"}"] == 2)
            #expect(after["rollcall_http_responses_total{code=\"401\"}"] == 1)
            #expect(after["rollcall_http_responses_total{code=\"201\"}"] == 1)
            // sampleReport was collected in 2026-11, so by the device's last-seen it is reporting (seen now).
            #expect(after["rollcall_devices{state=\"reporting\"}"] == 1 && after["rollcall_devices{state=\"enrolled_no_report\"}"] == 0)
            #expect(after["rollcall_agent_outbox_pending"] == 3)
            #expect(after["rollcall_directory_syncs"] == 1 && after["rollcall_directory_last_sync_timestamp_seconds"] == 1_795_500_000)
            #expect(after["rollcall_plans{kind=\"passwords\",status=\"planned\"}"] == 1)
            #expect((after["rollcall_agent_outbox_oldest_age_seconds"] ?? 0) >= 7200)
        }
    }

    @Test("/metrics is served only to the networks allowed to read")
    func metricsNeedReadAccess() async throws {
        var restricted = try await ControllerFixture.make()
        restricted.configuration.readAllowedFrom = [AddressRange("10.99.0.0/16")!]  // safe: a literal network
        let fixture = restricted
        defer { Task { await fixture.tearDown() } }
        try await fixture.app().test(.live) { client in
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .forbidden) }
        }
    }
}
