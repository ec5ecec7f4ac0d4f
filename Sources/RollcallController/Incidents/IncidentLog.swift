public import Foundation

/// What an e-safety incident was about: the governors' report counts incidents by these.
public enum IncidentCategory: String, Sendable, Codable, CaseIterable {
    /// Opened by the controller for an unapproved USB stick.
    case usbStorage = "usb-unapproved"
    case inappropriateContent = "inappropriate-content"
    case cyberbullying
    case contact = "inappropriate-contact"
    case dataProtection = "data-protection"
    case unauthorisedAccess = "unauthorised-access"
    case misuse = "misuse-of-equipment"
    case other

    public var label: String {
        switch self {
        case .usbStorage: "unapproved USB storage"
        case .inappropriateContent: "inappropriate content"
        case .cyberbullying: "cyberbullying"
        case .contact: "inappropriate contact"
        case .dataProtection: "data protection"
        case .unauthorisedAccess: "unauthorised access"
        case .misuse: "misuse of equipment"
        case .other: "other"
        }
    }
}

/// The action-taken list of the schools' incident log; several may apply to one incident.
public enum IncidentAction: String, Sendable, Codable, CaseIterable {
    case headTeacher = "head-teacher"
    case safeguarding
    case referral
    case police
    case iwf
    case it
    case disciplinary
    case policyReview = "policy-review"
    case other

    public var label: String {
        switch self {
        case .headTeacher: "reported to head teacher"
        case .safeguarding: "advice from safeguarding"
        case .referral: "referral"
        case .police: "police"
        case .iwf: "Internet Watch Foundation"
        case .it: "IT"
        case .disciplinary: "disciplinary action"
        case .policyReview: "policy to be reviewed"
        case .other: "other"
        }
    }

    /// Stored as a comma-separated list of codes, in the list's order.
    static func decode(_ text: String?) -> [IncidentAction] {
        (text ?? "").split(separator: ",").compactMap { IncidentAction(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
    }

    static func encode(_ actions: [IncidentAction]) -> String? {
        let ordered = allCases.filter(actions.contains)
        return ordered.isEmpty ? nil : ordered.map(\.rawValue).joined(separator: ",")
    }
}

/// A new entry in the incident log, as a person reports it.
public struct NewIncident: Sendable {
    public var category: IncidentCategory
    public var occurredAt: Date
    /// Nil: the person running the command (the audit log's actor).
    public var reportedBy: String?
    public var location: String?
    public var involved: String?
    public var description: String
    public var deviceID: String?
    public var actions: [IncidentAction]
    public var outcome: String?

    public init(category: IncidentCategory, occurredAt: Date, reportedBy: String?, location: String?, involved: String?, description: String,
                deviceID: String? = nil, actions: [IncidentAction] = [], outcome: String? = nil) {
        self.category = category
        self.occurredAt = occurredAt
        self.reportedBy = reportedBy
        self.location = location
        self.involved = involved
        self.description = description
        self.deviceID = deviceID
        self.actions = actions
        self.outcome = outcome
    }
}

/// A change to an incident: only the fields set change.
public struct IncidentUpdate: Sendable {
    public var addActions: [IncidentAction] = []
    public var removeActions: [IncidentAction] = []
    public var outcome: String?
    public var location: String?
    public var involved: String?
    /// `closed` or `open`.
    public var status: Incident.Status?

    public init(addActions: [IncidentAction] = [], removeActions: [IncidentAction] = [], outcome: String? = nil, location: String? = nil,
                involved: String? = nil, status: Incident.Status? = nil) {
        self.addActions = addActions
        self.removeActions = removeActions
        self.outcome = outcome
        self.location = location
        self.involved = involved
        self.status = status
    }

    var isEmpty: Bool { addActions.isEmpty && removeActions.isEmpty && outcome == nil && location == nil && involved == nil && status == nil }
}

public enum IncidentError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknown(id: Int)
    case emptyDescription
    case nothingToChange(id: Int)
    case closeNeedsOutcome(id: Int)
    case unknownDevice(String)
    /// A dashboard form field that does not hold what it should: the field's name and what to give.
    case invalidField(String, String)

    public var description: String {
        switch self {
        case .unknown(let id): "No incident \(id); `rollcall incidents list` shows them."
        case .emptyDescription: "An incident needs a description: what happened, with the devices and user names involved."
        case .nothingToChange(let id): "Nothing to change on incident \(id): give --action, --outcome, --where, --who, --close or --reopen."
        case .closeNeedsOutcome(let id): "Incident \(id) has no outcome yet: close it with --outcome \"what came of it\"."
        case .unknownDevice(let id): "No enrolled device \(id); `rollcall devices list` shows them."
        case .invalidField(let field, let advice): "The \(field) field: \(advice)."
        }
    }
}
