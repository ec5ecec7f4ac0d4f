public import Foundation
public import Prometheus
import RollcallProtocol
import SQLKit
import Synchronization

/// The controller's Prometheus metrics, served at `/metrics` in the text exposition format.
///
/// Counters and the ingest histogram live in this process and count what `rollcall serve` did since it started
/// (Prometheus handles restarts). What other commands change (directory syncs and plans run from the command line)
/// and the state of the estate (devices by state, what agents say of their outboxes) is read from the store at
/// each scrape, so the numbers are right whichever process did the work.
public final class ControllerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let outboxes = Mutex<[String: AgentOutboxSummary]>([:])

    public init() {}

    /// One report or USB event received: `kind` is `inventory` or `usb-event`, `outcome` `stored`, `duplicate`.
    func recordIngest(kind: String, outcome: String, duration: Duration) {
        registry.makeCounter(name: "rollcall_reports_received_total", labels: [("kind", kind), ("outcome", outcome)],
                             help: "Agent submissions received and acknowledged, by kind and outcome.").increment()
        registry.makeDurationHistogram(
            name: "rollcall_report_ingest_duration_seconds", labels: [("kind", kind)],
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)],
            help: "Time from the request's arrival to the stored receipt (decode, verify, store).").record(duration)
    }

    /// What the agent said of its outbox in its latest snapshot.
    func recordOutbox(deviceID: String, _ summary: AgentOutboxSummary?) {
        guard let summary else { return }
        outboxes.withLock { $0[deviceID] = summary }
    }

    /// Every response's status, so refusals (401 bad signatures, 413, 429) show up on a dashboard.
    func recordResponse(status: Int) {
        registry.makeCounter(name: "rollcall_http_responses_total", labels: [("code", String(status))],
                             help: "HTTP responses sent, by status code.").increment()
    }

    /// Brings the store-derived gauges up to date and renders everything.
    public func scrape(store: ControllerStore, staleAfter: TimeInterval = 7 * 86400, now: Date = Date()) async throws -> [UInt8] {
        let states = try await store.deviceStateCounts(staleBefore: now.addingTimeInterval(-staleAfter))
        for state in ["reporting", "stale", "enrolled_no_report", "revoked"] {
            registry.makeGauge(name: "rollcall_devices", labels: [("state", state)],
                               help: "Devices by state: reporting, stale (not seen for 7 days), enrolled with no report yet, revoked.")
                .set(Double(states[state] ?? 0))
        }
        let activity = try await store.activityCounts()
        registry.makeGauge(name: "rollcall_directory_syncs", help: "Directory syncs recorded in the store.").set(Double(activity.directorySyncs))
        for (kind, status, count) in activity.plans {
            registry.makeGauge(name: "rollcall_plans", labels: [("kind", kind), ("status", status)],
                               help: "Plans in the store by kind and status.").set(Double(count))
        }
        let reported = outboxes.withLock { $0 }
        registry.makeGauge(name: "rollcall_agent_outbox_pending", help: "Reports queued in agents' outboxes, as their latest snapshots said.")
            .set(Double(reported.values.reduce(0) { $0 + $1.pending }))
        let oldest = reported.values.compactMap(\.oldestQueuedAt).min()
        registry.makeGauge(name: "rollcall_agent_outbox_oldest_age_seconds",
                           help: "Age of the oldest report waiting in any agent's outbox when it last reported (0: none).")
            .set(oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        return registry.emitToBuffer()
    }
}

extension ControllerStore {
    /// Devices by state, counted in SQL: a scrape every few seconds must not load the device list.
    func deviceStateCounts(staleBefore: Date) async throws -> [String: Int] {
        try await withConnection { db in
            var counts: [String: Int] = [:]
            for row in try await db.raw("""
                SELECT CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN last_report_id = '' THEN 'enrolled_no_report'
                            WHEN last_seen < \(bind: staleBefore.millisecondsSince1970) THEN 'stale' ELSE 'reporting' END AS state,
                       count(*) AS n
                FROM devices GROUP BY state
                """).all() {
                counts[try row.decode(column: "state", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }

    /// Counts of what command-line runs leave in the store, for the metrics.
    func activityCounts() async throws -> (directorySyncs: Int, plans: [(String, String, Int)]) {
        try await withConnection { db in
            let syncs = try await db.raw("SELECT count(*) AS n FROM directory_syncs").first(decodingColumn: "n", as: Int.self) ?? 0
            let plans = try await db.raw("SELECT kind, status, count(*) AS n FROM plans GROUP BY kind, status").all().map { row in
                (try row.decode(column: "kind", as: String.self), try row.decode(column: "status", as: String.self),
                 try row.decode(column: "n", as: Int.self))
            }
            return (syncs, plans)
        }
    }
}
