#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A USB mass-storage device seen by the agent: plugged in, found already present when the agent started, or
/// removed. Sent on its own (`POST /api/v1/usb-events`) as soon as it happens, one event per request, so the
/// event id makes delivery exactly-once the way a report id does.
public struct USBStorageEvent: Codable, Sendable, Equatable {
    public static let currentSchemaVersion = 1

    public enum Action: String, Codable, Sendable {
        /// Plugged in while the agent was watching.
        case add
        /// Already plugged in when the agent started (or restarted).
        case present
        case remove
    }

    /// A filesystem on the stick: a partition, or the whole disk when it has no partition table.
    public struct Volume: Codable, Sendable, Equatable {
        public var name: String
        public var filesystem: String?
        public var label: String?
        public var uuid: String?
        public var sizeBytes: UInt64?

        public init(name: String, filesystem: String?, label: String?, uuid: String?, sizeBytes: UInt64?) {
            self.name = name
            self.filesystem = filesystem
            self.label = label
            self.uuid = uuid
            self.sizeBytes = sizeBytes
        }
    }

    public var schemaVersion: Int
    public var eventID: UUID
    public var machineID: String
    public var agentVersion: String
    public var action: Action
    /// When the kernel event reached the agent.
    public var occurredAt: Date
    /// Four lowercase hex digits each (`0781`, `5567`).
    public var vendorID: String
    public var productID: String
    public var vendor: String?
    public var model: String?
    public var serial: String?
    public var capacityBytes: UInt64?
    public var volumes: [Volume]
    /// Where it is plugged in: the USB device's kernel name (`2-1.4`) and udev's `ID_PATH`.
    public var port: String
    public var idPath: String?
    /// The block device (`sdb`).
    public var blockDevice: String?
    /// Who was logged in at the machine's own screen, from logind.
    public var consoleUsers: [String]
    /// The agent's view from its last policy: approved by the allow-list it holds.
    public var approvedByAgentPolicy: Bool
    /// The agent switched the device off (`authorized` = 0) under a blocking policy.
    public var blocked: Bool
    /// Why blocking was wanted but failed (permission denied, device gone).
    public var blockError: String?

    public init(
        schemaVersion: Int = USBStorageEvent.currentSchemaVersion, eventID: UUID = UUID(), machineID: String, agentVersion: String,
        action: Action, occurredAt: Date, vendorID: String, productID: String, vendor: String?, model: String?, serial: String?,
        capacityBytes: UInt64?, volumes: [Volume], port: String, idPath: String?, blockDevice: String?, consoleUsers: [String],
        approvedByAgentPolicy: Bool, blocked: Bool, blockError: String?
    ) {
        self.schemaVersion = schemaVersion
        self.eventID = eventID
        self.machineID = machineID
        self.agentVersion = agentVersion
        self.action = action
        self.occurredAt = occurredAt
        self.vendorID = vendorID
        self.productID = productID
        self.vendor = vendor
        self.model = model
        self.serial = serial
        self.capacityBytes = capacityBytes
        self.volumes = volumes
        self.port = port
        self.idPath = idPath
        self.blockDevice = blockDevice
        self.consoleUsers = consoleUsers
        self.approvedByAgentPolicy = approvedByAgentPolicy
        self.blocked = blocked
        self.blockError = blockError
    }
}

/// What the controller tells agents to enforce (`GET /api/v1/policy`). The agent keeps the last one on disk so it
/// enforces it offline and after a restart.
public struct AgentPolicy: Codable, Sendable, Equatable {
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    /// Changes whenever the policy does (a digest of its content), so the agent can log what it enforces.
    public var revision: String
    /// Switch unapproved USB storage off on insertion. Off by default: the school decides.
    public var blockUnapprovedUSBStorage: Bool
    public var approvedMedia: [ApprovedMedium]

    public init(schemaVersion: Int = AgentPolicy.currentSchemaVersion, revision: String, blockUnapprovedUSBStorage: Bool,
                approvedMedia: [ApprovedMedium]) {
        self.schemaVersion = schemaVersion
        self.revision = revision
        self.blockUnapprovedUSBStorage = blockUnapprovedUSBStorage
        self.approvedMedia = approvedMedia
    }

    /// Whether a device is on the allow-list. A rule without a serial approves every stick of that model.
    public func approves(vendorID: String, productID: String, serial: String?) -> Bool {
        approvedMedia.contains { $0.matches(vendorID: vendorID, productID: productID, serial: serial) }
    }
}

/// One allow-list entry: a model (`0781:5567`), or one particular stick when the serial is given.
public struct ApprovedMedium: Codable, Sendable, Equatable {
    public var vendorID: String
    public var productID: String
    public var serial: String?
    public var description: String?

    public init(vendorID: String, productID: String, serial: String?, description: String?) {
        self.vendorID = vendorID.lowercased()
        self.productID = productID.lowercased()
        self.serial = serial
        self.description = description
    }

    public func matches(vendorID: String, productID: String, serial: String?) -> Bool {
        guard self.vendorID == vendorID.lowercased(), self.productID == productID.lowercased() else { return false }
        guard let wanted = self.serial else { return true }
        return wanted == serial
    }
}
