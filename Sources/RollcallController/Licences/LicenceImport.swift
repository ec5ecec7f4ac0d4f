public import Foundation

/// How a licence is counted against what is installed.
public enum LicenceKind: String, Sendable, Codable, CaseIterable {
    /// One seat per machine that has it installed.
    case perDevice = "per-device"
    /// One seat per person: the people the equipment register issues those machines to.
    case perUser = "per-user"
    /// Any number of installations on the school's machines.
    case site
    /// A number of simultaneous users; installations alone cannot show a shortfall.
    case concurrent

    /// The words bursars' spreadsheets use.
    static func parse(_ text: String) -> LicenceKind? {
        switch ImportHeader<LicenceField>.normalise(text) {
        case "perdevice", "device", "permachine", "machine", "computer", "percomputer", "perseat", "seat", "perinstall", "install":
            .perDevice
        case "peruser", "user", "nameduser", "named", "perperson", "person", "perstaff", "subscription":
            .perUser
        case "site", "sitelicence", "sitelicense", "unlimited", "campus", "school", "schoolwide", "wholeschool":
            .site
        case "concurrent", "floating", "network", "concurrentuser", "concurrentusers":
            .concurrent
        default:
            nil
        }
    }
}

/// One purchase in the licence register: several rows may name one product (30 seats bought in 2024, 20 more in
/// 2025), and their seats add up while each is in force.
public struct Licence: Sendable, Codable, Equatable {
    public var product: String
    public var vendor: String?
    public var kind: LicenceKind
    /// Nil for a site licence.
    public var seats: Int?
    public var expires: Day?
    public var reference: String?
    /// The `Match` cell as written; see ``LicenceRule``.
    public var match: String
    public var versions: String?
    public var notes: String?
    /// Where it came from, for errors and the audit log.
    public var line: Int

    /// Purchases with the same key are one product, whatever the spelling (`Zoom Education`, `zoom education`).
    var productKey: String { ImportHeader<LicenceField>.normalise(product) }

    /// One purchase of a product: the register's identity of a row across imports.
    static func purchaseKey(product: String, reference: String?) -> String {
        ImportHeader<LicenceField>.normalise(product) + "\u{1F}" + (reference.map(ImportHeader<LicenceField>.normalise) ?? "")
    }
}

/// The columns of the licence register.
enum LicenceField: String, CaseIterable, ImportField {
    case product, vendor, type, seats, expiry, reference, match, versions, notes

    var required: Bool { self == .product || self == .type || self == .match }

    var label: String {
        switch self {
        case .type: "licence type"
        case .match: "package match"
        default: rawValue
        }
    }

    static let names: [LicenceField: [String]] = [
        .product: ["Product", "Software", "Title", "Application", "Name"],
        .vendor: ["Vendor", "Publisher", "Supplier", "Manufacturer"],
        .type: ["Licence Type", "License Type", "Type", "Licence", "License", "Licensing"],
        .seats: ["Seats", "Seats Purchased", "Licences Purchased", "Licenses Purchased", "Quantity", "Qty", "Number"],
        .expiry: ["Expiry", "Expires", "Expiry Date", "Renewal Date", "Renewal", "End Date", "Valid Until"],
        .reference: ["Reference", "Order Number", "PO Number", "PO", "Agreement", "Agreement Number", "Licence Key Reference"],
        .match: ["Match", "Packages", "Package", "Package Match", "Installations"],
        .versions: ["Versions", "Version", "Version Range"],
        .notes: ["Notes", "Comments"],
    ]
}

/// `rollcall licences import FILE`: the school's licence register, a CSV kept by the bursar or the technician.
///
/// The file is the register: after an import the store holds exactly its rows (licences no longer in it are
/// removed, each change audited), all or nothing. Every row's rule is checked before anything is written, so a
/// typing mistake in a regular expression names its line and column instead of silently matching nothing.
public struct LicenceImport: Sendable {
    public var path: String
    public var encoding: TextEncoding?
    public var dryRun: Bool
    public var now: Date

    public init(path: String, encoding: TextEncoding? = nil, dryRun: Bool = false, now: Date = Date()) {
        self.path = path
        self.encoding = encoding
        self.dryRun = dryRun
        self.now = now
    }

    public struct Summary: Sendable, Codable, Equatable {
        public var rows: Int
        public var products: Int
        public var added: Int
        public var changed: Int
        public var unchanged: Int
        public var removed: Int
        public var encoding: TextEncoding
        public var dryRun: Bool
    }

    public func run(into store: ControllerStore) async throws -> Summary {
        let (records, chosen) = try CSVReader.registerRecords(path, forced: encoding, what: "licences")
        let header = try ImportHeader<LicenceField>.resolve(records[0], names: LicenceField.names, missing: { field in
            switch field {
            case .match: "add a 'Match' column with the packages each licence covers (e.g. google-chrome-*; snap:zoom-client)"
            case .type: "add a 'Licence Type' column: per device, per user, site or concurrent"
            default: "rename the column to 'Product'"
            }
        }, file: path)

        var problems = ImportProblems()
        var licences: [Licence] = []
        var firstOfProduct: [String: Licence] = [:]
        var keys: [String: Int] = [:]
        let today = Day(now)
        for record in records.dropFirst() {
            var row = ImportRow(record, header: header, problem: { problems.add($0, $1, $2) })
            guard let product = row.required(.product), let match = row.required(.match), let typeText = row.required(.type) else { continue }
            let kind = LicenceKind.parse(typeText)
            if kind == nil, let place = row.field(.type) {
                row.fail(place, "'\(typeText)' is not a licence type: per device, per user, site or concurrent")
            }
            var seats: Int?
            if let text = row.text(.seats), let place = row.field(.seats) {
                seats = Int(text.replacingOccurrences(of: ",", with: "")).flatMap { $0 >= 0 ? $0 : nil }
                if seats == nil { row.fail(place, "'\(text)' is not a number of seats (a whole number, 0 or more)") }
            } else if let kind, kind != .site, let place = row.field(.type) {
                row.fail(place, "a \(kind.rawValue) licence needs its number of seats (the Seats column is empty)")
            }
            let versions = row.text(.versions)
            do {
                _ = try LicenceRule(match: match, versions: versions)
            } catch {
                let column: LicenceField = if case .versions = error { .versions } else { .match }
                if let place = row.field(column) { row.fail(place, "\(error)") }
            }
            let expires = row.date(.expiry, today: today)
            let reference = row.text(.reference)
            let key = Licence.purchaseKey(product: product, reference: reference)
            if let first = keys[key], let place = row.field(reference == nil ? .product : .reference) {
                row.fail(place, "\(product)\(reference.map { " (\($0))" } ?? "") is on line \(first) too: give each purchase its own reference")
            }
            keys[key] = record.line
            guard row.faults == 0, let kind else { continue }
            let licence = Licence(product: product, vendor: row.text(.vendor), kind: kind, seats: kind == .site ? nil : seats,
                                  expires: expires, reference: reference, match: match, versions: versions,
                                  notes: row.text(.notes), line: record.line)
            if let first = firstOfProduct[licence.productKey] {
                // Purchases of one product are counted together, so they must agree on what they count.
                if first.kind != kind, let place = row.field(.type) {
                    row.fail(place, "\(product) is \(first.kind.rawValue) on line \(first.line) but \(kind.rawValue) here: one product, one way of counting")
                }
                if first.match != match || first.versions != versions, let place = row.field(.match) {
                    row.fail(place, "\(product) matches '\(first.match)'\(first.versions.map { " \($0)" } ?? "") on line \(first.line) but "
                        + "'\(match)'\(versions.map { " \($0)" } ?? "") here: list a different version as a product of its own (e.g. '\(product) 8')")
                }
            } else {
                firstOfProduct[licence.productKey] = licence
            }
            if row.faults == 0 { licences.append(licence) }
        }
        if problems.count > 0 { throw ImportError.rows(file: path, problems: problems.sorted, total: problems.count) }
        let counts = try await store.replaceLicences(licences, file: path, at: now, dryRun: dryRun)
        // Matched now, so the first look at the dashboard after an import does not wait for it.
        if !dryRun { try await store.refreshLicenceMatches() }
        return Summary(rows: licences.count, products: firstOfProduct.count, added: counts.added, changed: counts.changed,
                       unchanged: counts.unchanged, removed: counts.removed, encoding: chosen, dryRun: dryRun)
    }
}
