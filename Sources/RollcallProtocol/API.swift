#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The controller's answer to `POST /api/v1/reports`. The agent deletes a report from its outbox only on a receipt
/// that names the report's id.
public struct ReportReceipt: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        /// Stored now.
        case stored
        /// Stored before (a retry after a lost acknowledgement); nothing changed.
        case duplicate
    }

    public var reportID: UUID
    public var deviceID: String
    public var outcome: Outcome

    public init(reportID: UUID, deviceID: String, outcome: Outcome) {
        self.reportID = reportID
        self.deviceID = deviceID
        self.outcome = outcome
    }
}

/// One row of the device list: what the technician needs to find a machine and see whether it reports.
public struct DeviceSummary: Codable, Sendable, Equatable {
    public var id: String
    public var hostname: String?
    public var serial: String?
    public var vendor: String?
    public var model: String?
    public var os: String?
    public var kernel: String?
    /// `physical`, `vm (firecracker)`, `container (docker)`, ...
    public var virtualization: String?
    public var firstSeen: Date
    public var lastSeen: Date
    /// Installed packages in the latest report.
    public var packageCount: Int
    /// nil until the device's first report (it is listed from enrolment on).
    public var lastReportID: UUID?
    /// nil for a device that reported before agents enrolled; it can no longer report.
    public var enrolledAt: Date?
    /// Set by `rollcall devices revoke`: the device's requests are refused from then on.
    public var revokedAt: Date?

    public init(
        id: String, hostname: String?, serial: String?, vendor: String?, model: String?, os: String?, kernel: String?,
        virtualization: String?, firstSeen: Date, lastSeen: Date, packageCount: Int, lastReportID: UUID?,
        enrolledAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.hostname = hostname
        self.serial = serial
        self.vendor = vendor
        self.model = model
        self.os = os
        self.kernel = kernel
        self.virtualization = virtualization
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.packageCount = packageCount
        self.lastReportID = lastReportID
        self.enrolledAt = enrolledAt
        self.revokedAt = revokedAt
    }
}

/// A device with its latest full snapshot.
public struct DeviceDetail: Codable, Sendable, Equatable {
    public var summary: DeviceSummary
    /// nil until the device's first report.
    public var latestReport: InventoryReport?
    /// Ids of every report stored for this device, oldest first.
    public var reportIDs: [UUID]

    public init(summary: DeviceSummary, latestReport: InventoryReport?, reportIDs: [UUID]) {
        self.summary = summary
        self.latestReport = latestReport
        self.reportIDs = reportIDs
    }
}

/// Every API error has this shape: a stable machine-readable code and a message a technician can act on.
///
/// ```json
/// {"error": {"code": "malformed_report", "message": "Report is not valid JSON: unexpected end of data at byte 812"}}
/// ```
public struct APIErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(code: String, message: String) {
        self.error = Detail(code: code, message: message)
    }
}

/// The JSON settings both ends use, so dates and key order agree.
public enum RollcallJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
