public import Foundation
import SQLKit

/// The bursar's register of IT equipment: what the school owns, its serial number, and who has it.
///
/// Devices that agents report are matched to entries by serial number (the DMI product serial, then the board's,
/// then a disk's), so an entry shows when its machine was last seen, and a reported machine on no entry is flagged.
/// The lifecycle is **enrolled** (on the register, never reported), **in use** (reported within
/// `[equipment] stale_after_days`), **stale**, **retired**, **disposed** — the last with the record the school's
/// policy asks for: the authorised agency, its receipt, and how and when the data was destroyed.
public struct EquipmentEntry: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        case active, retired, disposed
    }

    public enum Lifecycle: String, Sendable, Codable {
        case enrolled
        case inUse = "in use"
        case stale, retired, disposed
    }

    public var assetTag: String
    public var serial: String?
    public var make: String?
    public var model: String?
    public var type: String?
    public var purchaseDate: Day?
    public var costPence: Int64?
    public var location: String?
    /// The join key of the person it is issued to.
    public var assignedTo: String?
    public var assignedName: String?
    public var state: State
    public var retiredAt: Date?
    public var retiredReason: String?
    public var disposal: Disposal?
    public var returnedAt: Date?
    public var returnedFrom: String?
    /// The enrolled device whose serial matches, with how it matched and when it last reported.
    public var device: MatchedDevice?
    public var lifecycle: Lifecycle

    public struct Disposal: Sendable, Codable, Equatable {
        public var at: Date
        /// The authorised (WEEE-licensed) company that took it.
        public var agency: String
        public var receipt: String
        /// e.g. "certified overwrite (3 passes)", "disk shredded".
        public var destructionMethod: String
        public var destructionDate: Day

        public init(at: Date, agency: String, receipt: String, destructionMethod: String, destructionDate: Day) {
            self.at = at
            self.agency = agency
            self.receipt = receipt
            self.destructionMethod = destructionMethod
            self.destructionDate = destructionDate
        }
    }

    public struct MatchedDevice: Sendable, Codable, Equatable {
        public var id: String
        public var hostname: String?
        /// Which reported serial matched: `product`, `board` or `disk`.
        public var matchedBy: String
        public var lastSeen: Date
    }

    /// `"Dell Latitude 5440"`.
    public var makeAndModel: String {
        [make, model].compactMap { $0 }.joined(separator: " ")
    }
}

/// `[equipment]` in controller.toml.
public struct EquipmentPolicy: Sendable, Equatable {
    static let keys = ["stale_after_days"]

    /// A matched device that has not reported for this many days is stale: lost, broken, or its agent has stopped.
    public var staleAfterDays = 30

    public init() {}

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        if let days = try reader.integer("equipment", "stale_after_days") {
            guard days >= 1 else { throw reader.fail("'equipment.stale_after_days' must be 1 or more") }
            staleAfterDays = days
        }
    }
}

/// Serial numbers as they compare: trimmed, upper case, and only when they name one machine. Firmware ships
/// placeholders ("To Be Filled By O.E.M.", "Default string", "0123456789") that many machines share; those match
/// nothing.
public enum SerialNumber {
    public static func key(_ serial: String?) -> String? {
        guard let trimmed = serial?.trimmingCharacters(in: .whitespacesAndNewlines), trimmed.count >= 4 else { return nil }
        let upper = trimmed.uppercased()
        let compact = upper.filter { $0.isLetter || $0.isNumber }
        guard !compact.isEmpty, Set(compact).count > 1 else { return nil }
        if placeholders.contains(compact) || placeholders.contains(where: { compact.hasPrefix($0) }) { return nil }
        return upper
    }

    static let placeholders: Set<String> = [
        "TOBEFILLEDBYOEM", "DEFAULTSTRING", "SYSTEMSERIALNUMBER", "CHASSISSERIALNUMBER", "BASEBOARDSERIALNUMBER", "0123456789",
        "123456789", "NONE", "NOTAPPLICABLE", "NOTSPECIFIED", "OEM", "OEMTOBEFILLEDBY", "XXXXXXXX", "INVALID", "UNKNOWN",
        "SERIALNUMBER", "NA",
    ]
}
