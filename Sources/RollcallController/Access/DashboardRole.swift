/// Who may see and do what on the dashboard and its API. The four roles the school's e-safety policy has in mind:
/// the technician runs everything, the e-safety officer keeps the incident log and reads the reports, a governor
/// sees only the anonymised summary, and read-only is for a deputy head or an auditor who looks but never changes.
public enum DashboardRole: String, Sendable, Codable, CaseIterable {
    case technician
    case esafetyOfficer = "e-safety-officer"
    case governor
    case readOnly = "read-only"

    public var label: String {
        switch self {
        case .technician: "Technician"
        case .esafetyOfficer: "E-safety officer"
        case .governor: "Governor"
        case .readOnly: "Read-only"
        }
    }

    /// A role's limits, checked by the same table for pages, exports and the JSON API.
    public func may(_ permission: DashboardPermission) -> Bool {
        switch self {
        case .technician: true
        case .esafetyOfficer: [.overview, .incidents, .recordIncidents, .complianceReport, .governorsReport].contains(permission)
        case .governor: permission == .governorsReport
        case .readOnly: permission != .recordIncidents
        }
    }

    /// Where a role lands after signing in: the first page it may see.
    public var home: String {
        may(.overview) ? "/" : "/governors"
    }
}

/// What a page or an API route needs.
public enum DashboardPermission: String, Sendable, CaseIterable {
    /// The at-a-glance overview: counts only.
    case overview
    /// Devices, accounts, offboarding, equipment, licences, USB events: names, hostnames and serials.
    case estate
    /// The audit log.
    case audit
    /// Reading the incident log (it names pupils and staff).
    case incidents
    /// Opening incidents and recording actions and outcomes.
    case recordIncidents
    /// The full compliance report.
    case complianceReport
    /// The governors' anonymised report.
    case governorsReport
}
