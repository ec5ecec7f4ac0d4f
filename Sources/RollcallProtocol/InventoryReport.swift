#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// One snapshot of a workstation as the agent saw it: facts only, never verdicts.
///
/// The controller judges a snapshot against the school's policy, so a policy change never needs a new agent
/// (DESIGN.md, "Snapshot, then judge"). The report id makes delivery idempotent: the agent may send the same
/// report twice after a crash, and the controller stores it once.
///
/// For example:
/// ```swift
/// let report = try JSONDecoder.rollcall.decode(InventoryReport.self, from: body)
/// guard report.schemaVersion == InventoryReport.currentSchemaVersion else { ... }
/// ```
public struct InventoryReport: Codable, Sendable, Equatable {
    /// The version this build writes and accepts. A controller refuses versions it does not know rather than
    /// guess at their meaning; bump it when a field changes meaning, not when an optional field is added.
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    /// Unique per snapshot; the controller de-duplicates on it.
    public var reportID: UUID
    public var collectedAt: Date
    public var agent: AgentIdentity
    public var hardware: HardwareInventory
    public var software: SoftwareInventory
    /// Facts the agent looked for and could not read, with the reason, so that "unknown" is never mistaken for "no".
    public var absent: [AbsentFact]
    /// Screen locking and disk encryption; nil from agents older than the posture checks.
    public var posture: PostureFacts?
    /// The agent's outbox when the snapshot was taken; nil from older agents.
    public var outbox: AgentOutboxSummary?

    public init(
        schemaVersion: Int = InventoryReport.currentSchemaVersion,
        reportID: UUID = UUID(),
        collectedAt: Date,
        agent: AgentIdentity,
        hardware: HardwareInventory,
        software: SoftwareInventory,
        absent: [AbsentFact],
        posture: PostureFacts? = nil,
        outbox: AgentOutboxSummary? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.reportID = reportID
        self.collectedAt = collectedAt
        self.agent = agent
        self.hardware = hardware
        self.software = software
        self.absent = absent
        self.posture = posture
        self.outbox = outbox
    }
}

/// Which agent wrote a report and for which machine.
public struct AgentIdentity: Codable, Sendable, Equatable {
    /// The device key: `/etc/machine-id` where present, else the DMI product UUID. Until enrolment assigns
    /// device ids, the controller files reports under this key.
    public var machineID: String
    public var agentVersion: String

    public init(machineID: String, agentVersion: String) {
        self.machineID = machineID
        self.agentVersion = agentVersion
    }

    /// A machine id is 32 lowercase hex digits (machine-id(5)); both ends check it, so an agent that cannot
    /// identify its machine never files reports under an empty or junk key.
    public static func isValidMachineID(_ value: String) -> Bool {
        value.utf8.count == 32 && value.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// A fact the agent could not establish, e.g. `dmi.productSerial` at `/sys/class/dmi/id/product_serial`:
/// "permission denied (the agent must run as root to read serial numbers)".
public struct AbsentFact: Codable, Sendable, Equatable, Hashable {
    /// Dotted name of the report field that stays empty.
    public var field: String
    /// The path read, as seen on the workstation (without the agent's test root).
    public var path: String
    public var reason: String

    public init(field: String, path: String, reason: String) {
        self.field = field
        self.path = path
        self.reason = reason
    }
}

/// What the agent's outbox held when it took a snapshot: the controller turns it into a metric, so a school sees
/// machines that cannot deliver before their reports go stale.
public struct AgentOutboxSummary: Codable, Sendable, Equatable {
    /// Reports and events waiting, this snapshot not counted.
    public var pending: Int
    public var oldestQueuedAt: Date?

    public init(pending: Int, oldestQueuedAt: Date?) {
        self.pending = pending
        self.oldestQueuedAt = oldestQueuedAt
    }
}
