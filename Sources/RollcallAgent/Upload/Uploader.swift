#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import RollcallProtocol

/// Sends the outbox to the controller, oldest first, and removes each report only on a receipt naming it.
struct Uploader {
    enum DrainOutcome: Equatable {
        /// Everything pending was delivered (or set aside as rejected).
        case empty(delivered: Int)
        /// Delivery stopped at a failure that may pass; try again after a backoff.
        case interrupted(delivered: Int, reason: String)
    }

    let client: HTTPClient
    let credentials: AgentCredentials
    let logger: Logger

    init(controller: ControllerURL, trust: ControllerTrust, credentials: AgentCredentials, timeoutSeconds: Int, logger: Logger) {
        self.client = HTTPClient(url: controller, timeoutSeconds: timeoutSeconds, trust: trust)
        self.credentials = credentials
        self.logger = logger
    }

    func drain(_ outbox: Outbox) throws(SQLiteError) -> DrainOutcome {
        var delivered = 0
        while let entry = try outbox.nextPending() {
            let response: HTTPResponse
            // USB events have their own endpoint: the controller files them (and opens incidents) apart from snapshots.
            let path = entry.kind == USBStorageEvent.outboxKind ? "/api/v1/usb-events" : "/api/v1/reports"
            do {
                // Signed afresh on every attempt: each carries its own time and nonce.
                let signature = credentials.signatureHeaders(method: "POST", path: client.url.basePath + path, body: entry.body)
                response = try client.send(
                    method: "POST", path: path,
                    headers: [("Content-Type", "application/json"), ("X-Rollcall-Report-ID", entry.reportID.uuidString)] + signature,
                    body: entry.body)
            } catch {
                try outbox.recordFailure(entry.reportID, error: error.description)
                return .interrupted(delivered: delivered, reason: error.description)
            }
            switch response.status {
            case 200...299:
                guard let receipt = try? RollcallJSON.decoder().decode(ReportReceipt.self, from: Data(response.body)),
                      receipt.reportID == entry.reportID else {
                    let reason = "controller answered \(response.status) without a receipt for report \(entry.reportID)"
                    try outbox.recordFailure(entry.reportID, error: reason)
                    return .interrupted(delivered: delivered, reason: reason)
                }
                try outbox.acknowledge(entry.reportID)
                delivered += 1
                logger.debug("Report delivered", metadata: [
                    "agent.report.id": "\(entry.reportID)", "agent.report.outcome": "\(receipt.outcome.rawValue)",
                ])
            case 401, 403, 404, 405, 408, 429, 500...599:
                // 401/403 say who we are is not accepted (clock, revocation, a new controller) and 404/405 that the
                // URL is not a Rollcall controller's API, not that the report is bad: it stays queued for when the
                // technician fixes that.
                let reason = "controller answered \(response.status): \(Self.errorMessage(response))"
                try outbox.recordFailure(entry.reportID, error: reason)
                return .interrupted(delivered: delivered, reason: reason)
            default:
                // The controller judged the report itself invalid: resending cannot help.
                let reason = "controller refused report (\(response.status)): \(Self.errorMessage(response))"
                try outbox.reject(entry.reportID, reason: reason)
                logger.error("Report refused by controller", metadata: ["agent.report.id": "\(entry.reportID)", "agent.reason": "\(reason)"])
            }
        }
        return .empty(delivered: delivered)
    }

    /// The controller's current policy (`GET /api/v1/policy`, signed like a report).
    func fetchPolicy() throws(UploadError) -> AgentPolicy {
        let path = "/api/v1/policy"
        let signature = credentials.signatureHeaders(method: "GET", path: client.url.basePath + path, body: [])
        let response = try client.send(method: "GET", path: path, headers: signature)
        guard response.status == 200 else {
            throw UploadError.policy("controller answered \(response.status) for \(client.url)\(path): \(Self.errorMessage(response))")
        }
        do {
            return try RollcallJSON.decoder().decode(AgentPolicy.self, from: Data(response.body))
        } catch {
            throw UploadError.policy("the policy from \(client.url)\(path) is not valid: \(error)")
        }
    }

    static func errorMessage(_ response: HTTPResponse) -> String {
        if let body = try? RollcallJSON.decoder().decode(APIErrorBody.self, from: Data(response.body)) {
            return "\(body.error.code): \(body.error.message)"
        }
        return String(decoding: response.body.prefix(300), as: UTF8.self)
    }
}

/// Exponential backoff with jitter: the n-th consecutive failure waits a random time between half and all of
/// `min(cap, base × 2ⁿ)`, so a room of thirty PCs that lost the controller together do not return in lockstep.
public struct Backoff: Sendable {
    public let baseSeconds: Double
    public let capSeconds: Double

    public init(baseSeconds: Double = 5, capSeconds: Double = 300) {
        self.baseSeconds = baseSeconds
        self.capSeconds = capSeconds
    }

    /// Upper bound of the delay after `failures` consecutive failures (1 = the first).
    public func ceiling(afterFailures failures: Int) -> Double {
        let exponent = Double(max(0, min(failures - 1, 30)))
        return min(capSeconds, baseSeconds * pow2(exponent))
    }

    public func delay(afterFailures failures: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let ceiling = ceiling(afterFailures: failures)
        return Double.random(in: (ceiling / 2)...ceiling, using: &generator)
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 2 }
        return result
    }
}
