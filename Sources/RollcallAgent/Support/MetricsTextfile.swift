#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The agent's own state for Prometheus' node_exporter textfile collector (`[agent] metrics_textfile`): the
/// outbox depth and age, the last upload and the last error, rewritten after every delivery round.
///
/// A file rather than a listening port: the agent stays without a server, and node_exporter is what schools
/// that run Prometheus already have on their machines.
enum MetricsTextfile {
    static func render(_ status: Outbox.Status, now: Date = Date()) -> String {
        func seconds(_ date: Date?) -> String { date.map { String(Int64($0.timeIntervalSince1970)) } ?? "0" }
        let age = status.oldestPendingQueuedAt.map { max(0, Int64(now.timeIntervalSince($0))) } ?? 0
        return """
            # HELP rollcall_agent_outbox_pending Reports and USB events waiting in the agent's outbox.
            # TYPE rollcall_agent_outbox_pending gauge
            rollcall_agent_outbox_pending \(status.pending)
            # HELP rollcall_agent_outbox_oldest_age_seconds Age of the oldest waiting report (0: none).
            # TYPE rollcall_agent_outbox_oldest_age_seconds gauge
            rollcall_agent_outbox_oldest_age_seconds \(age)
            # HELP rollcall_agent_rejected_reports Reports the controller refused as invalid (kept for inspection).
            # TYPE rollcall_agent_rejected_reports gauge
            rollcall_agent_rejected_reports \(status.rejected)
            # HELP rollcall_agent_last_upload_timestamp_seconds When the controller last acknowledged a report (0: never).
            # TYPE rollcall_agent_last_upload_timestamp_seconds gauge
            rollcall_agent_last_upload_timestamp_seconds \(seconds(status.lastUploadAt))
            # HELP rollcall_agent_last_error_timestamp_seconds When delivery last failed (0: never).
            # TYPE rollcall_agent_last_error_timestamp_seconds gauge
            rollcall_agent_last_error_timestamp_seconds \(seconds(status.lastErrorAt))

            """
    }

    /// Written to a temporary file and renamed, so node_exporter never reads half a file.
    static func write(_ status: Outbox.Status, to path: String) throws(EnrolmentError) {
        try AgentEnrolment.writeAtomically(Array(render(status).utf8), to: path, mode: 0o644)
    }
}
