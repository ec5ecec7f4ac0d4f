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

    private func metric(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rollcall", metricName: name, unitName: unit, helpText: help)
    }

    /// One report or USB event received: `kind` is `inventory` or `usb-event`, `outcome` `stored`, `duplicate`.
    func recordIngest(kind: String, outcome: String, duration: Duration) {
        registry.makeCounter(descriptor: metric("reports_received", "total", "Agent submissions received and acknowledged, by kind and outcome."),
                             labels: [("kind", kind), ("outcome", outcome)]).increment()
        registry.makeDurationHistogram(
            descriptor: metric("report_ingest_duration", "seconds", "Time from the request's arrival to the stored receipt (decode, verify, store)."),
            labels: [("kind", kind)],
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)]).record(duration)
    }

    /// What the agent said of its outbox in its latest snapshot.
    func recordOutbox(deviceID: String, _ summary: AgentOutboxSummary?) {
        guard let summary else { return }
        outboxes.withLock { $0[deviceID] = summary }
    }

    /// Every response's status, so refusals (401 bad signatures, 413, 429) show up on a dashboard.
    func recordResponse(status: Int) {
        registry.makeCounter(descriptor: metric("http_responses", "total", "HTTP responses sent, by status code."),
                             labels: [("code", String(status))]).increment()
    }

    /// Brings the store-derived gauges up to date and renders everything.
    public func scrape(store: ControllerStore, staleAfter: TimeInterval = 7 * 86400, now: Date = Date()) async throws -> [UInt8] {
        let states = try await store.deviceStateCounts(staleBefore: now.addingTimeInterval(-staleAfter))
        for state in ["reporting", "stale", "enrolled_no_report", "revoked"] {
            registry.makeGauge(descriptor: metric("devices", "", "Devices by state: reporting, stale (not seen for 7 days), "
                                                  + "enrolled with no report yet, revoked."), labels: [("state", state)])
                .set(Double(states[state] ?? 0))
        }
        let activity = try await store.activityCounts()
        registry.makeGauge(descriptor: metric("directory_syncs", "", "Directory syncs recorded in the store.")).set(Double(activity.directorySyncs))
        registry.makeGauge(descriptor: metric("directory_last_sync_timestamp", "seconds",
                                              "When the last directory sync finished, in seconds since 1970 (0: never)."))
            .set(activity.lastSync?.timeIntervalSince1970 ?? 0)
        for (kind, status, count) in activity.plans {
            registry.makeGauge(descriptor: metric("plans", "", "Plans in the store by kind and status."), labels: [("kind", kind), ("status", status)]).set(Double(count))
        }
        let reported = outboxes.withLock { $0 }
        registry.makeGauge(descriptor: metric("agent_outbox_pending", "", "Reports queued in agents' outboxes, as their latest snapshots said."))
            .set(Double(reported.values.reduce(0) { $0 + $1.pending }))
        let oldest = reported.values.compactMap(\.oldestQueuedAt).min()
        registry.makeGauge(descriptor: metric("agent_outbox_oldest_age", "seconds",
                                              "Age of the oldest report waiting in any agent's outbox when it last reported (0: none)."))
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
    func activityCounts() async throws -> (directorySyncs: Int, lastSync: Date?, plans: [(String, String, Int)]) {
        try await withConnection { db in
            let syncRow = try await db.raw("SELECT count(*) AS n, max(finished_at) AS last FROM directory_syncs").first()
            let syncs = try syncRow?.decode(column: "n", as: Int.self) ?? 0
            let lastSync = try syncRow?.decode(column: "last", as: Int64?.self).map(Date.init(millisecondsSince1970:))
            let plans = try await db.raw("SELECT kind, status, count(*) AS n FROM plans GROUP BY kind, status").all().map { row in
                (try row.decode(column: "kind", as: String.self), try row.decode(column: "status", as: String.self),
                 try row.decode(column: "n", as: Int.self))
            }
            return (syncs, lastSync, plans)
        }
    }
}
