import Foundation

/// What an HR export's columns mean: which header names hold the join key, names, email, role, and dates.
///
/// Each MIS names its columns its own way, and the same MIS differently for staff and pupils; a preset holds the
/// names those exports use, in order of preference (the legal forename before the preferred one). `generic` takes
/// them from `[hr.columns]` in controller.toml, which also overrides a preset's names field by field. Header names
/// match without regard to case, spaces or punctuation, so `Date of Leaving`, `date_of_leaving` and `DATE OF
/// LEAVING` are one column.
///
/// The preset names come from what is public: SIMS CommandReporter staff and student extracts as sync scripts read
/// them (`Preferred Forename`, `Legal Surname`, `Staff Code`, `Work Email`, `Employment Start Date`, `Adno`, `Year`),
/// Bromcom's import templates and partner field lists (`Payroll Number`, `First Name`, `Year Group`, `End Date`), and
/// Arbor's field names in its help pages. Schools rename report columns freely, so each field takes several names,
/// and `[hr.columns]` settles the rest.
public enum HRField: String, CaseIterable, Sendable, Codable, ImportField {
    case joinKey = "join_key"
    case forename, surname, email, role
    case startDate = "start_date"
    case leavingDate = "leaving_date"

    public var required: Bool { self == .joinKey || self == .forename || self == .surname }

    /// How a technician reads it in an error.
    public var label: String {
        switch self {
        case .joinKey: "join key"
        case .forename: "forename"
        case .surname: "surname"
        case .email: "email"
        case .role: "role / year group"
        case .startDate: "start date"
        case .leavingDate: "leaving date"
        }
    }
}

public enum HRPreset: String, CaseIterable, Sendable, Codable {
    case sims, arbor, bromcom, generic

    /// The header names this preset looks for, per field, best first.
    public func columnNames(for kind: AccountKind) -> [HRField: [String]] {
        switch (self, kind) {
        case (.generic, _):
            return [:]
        case (.sims, .staff):
            return [
                .joinKey: ["Employee Number", "Payroll Number", "Staff Code"],
                .forename: ["Legal Forename", "Forename", "Preferred Forename"],
                .surname: ["Legal Surname", "Surname", "Preferred Surname"],
                .email: ["Work Email", "Email", "Email Address"],
                .role: ["Post", "Role", "Role Text", "Job Title", "Staff Role"],
                .startDate: ["Employment Start Date", "Start Date", "Date of Arrival"],
                .leavingDate: ["Employment End Date", "Leaving Date", "Date of Leaving", "End Date"],
            ]
        case (.sims, .pupils):
            return [
                .joinKey: ["UPN", "Unique Pupil Number", "Adno", "Admission Number"],
                .forename: ["Legal Forename", "Forename", "Preferred Forename"],
                .surname: ["Legal Surname", "Surname", "Preferred Surname"],
                .email: ["Primary Email", "Email", "Email Address"],
                .role: ["Year", "Year Group", "Year taught in Code", "NC Year Actual"],
                .startDate: ["Date of Admission", "Admission Date", "Adm Date"],
                .leavingDate: ["Date of Leaving", "Leaving Date"],
            ]
        case (.arbor, .staff):
            return [
                .joinKey: ["Payroll Number", "Employee Number", "Staff ID"],
                .forename: ["Legal First Name", "First Name", "Preferred First Name"],
                .surname: ["Legal Last Name", "Last Name", "Preferred Last Name"],
                .email: ["Work Email Address", "Email Address", "Email"],
                .role: ["Job Title", "Role", "Staff Role"],
                .startDate: ["Employment Start Date", "Start Date"],
                .leavingDate: ["Employment End Date", "End Date", "Leaving Date"],
            ]
        case (.arbor, .pupils):
            return [
                .joinKey: ["UPN", "Admission Number"],
                .forename: ["Legal First Name", "First Name", "Preferred First Name"],
                .surname: ["Legal Last Name", "Last Name", "Preferred Last Name"],
                .email: ["Email Address", "Email"],
                .role: ["Year Group", "Year"],
                .startDate: ["Enrolment Start Date", "Date of Admission", "Start Date", "Admission Date"],
                .leavingDate: ["Enrolment End Date", "Leaving Date", "End Date"],
            ]
        case (.bromcom, .staff):
            return [
                .joinKey: ["Payroll Number", "Payroll No", "Employee Number", "Staff Code"],
                .forename: ["Legal First Name", "First Name", "Legal Forename", "Forename", "Preferred First Name"],
                .surname: ["Legal Last Name", "Last Name", "Legal Surname", "Surname", "Preferred Last Name"],
                .email: ["Work Email", "Email", "Email Address"],
                .role: ["Job Title", "Role", "Post"],
                .startDate: ["Start Date", "Date Started at the School", "Employment Start Date"],
                .leavingDate: ["Leaving Date", "End Date", "Employment End Date"],
            ]
        case (.bromcom, .pupils):
            return [
                .joinKey: ["UPN", "Admission Number"],
                .forename: ["Legal First Name", "First Name", "Legal Forename", "Forename"],
                .surname: ["Legal Last Name", "Last Name", "Legal Surname", "Surname"],
                .email: ["Email", "Email Address"],
                .role: ["Year Group", "Year", "Curriculum Year"],
                .startDate: ["Admission Date", "Date of Admission", "Start Date"],
                .leavingDate: ["Leaving Date", "Date of Leaving"],
            ]
        }
    }
}

extension HRPreset {
    /// What to do about a required column the header lacks.
    func missingColumnHint(_ field: HRField) -> String {
        self == .generic ? "name it in [hr.columns] \(field.rawValue) = \"...\" in controller.toml"
            : "choose the right --preset, or name it in [hr.columns] \(field.rawValue) = \"...\" in controller.toml"
    }
}
