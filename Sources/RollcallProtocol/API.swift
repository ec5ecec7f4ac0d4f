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

    /// Dates must be RFC 3339 date-times with a real calendar date and time: Foundation's `.iso8601` alone takes
    /// "12:99:00" or trailing junk and silently stores something else.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.date(from: text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(text.prefix(40))' is not an RFC 3339 date-time like 2026-11-24T09:30:00Z")
            }
            return date
        }
        return decoder
    }
}

/// A strict RFC 3339 `date-time` reader: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, every field in range (no
/// 30 February, no 24:00, no leap second, offsets within ±18:00), nothing before or after.
public enum RFC3339 {
    public static func date(from text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + digits)] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2), expect("Tt"),
              let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour < 24, minute < 60, second < 60 else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else {
            guard index < bytes.count else { return nil }
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard expect("+-"), let offsetHours = number(2), expect(":"), let offsetMinutes = number(2),
                  offsetMinutes < 60, offsetHours * 60 + offsetMinutes <= 18 * 60 else { return nil }
            offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard index == bytes.count else { return nil }
        let seconds = daysSince1970(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Howard Hinnant's days-from-civil: proleptic Gregorian, exact for every year we can be sent.
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }
}
