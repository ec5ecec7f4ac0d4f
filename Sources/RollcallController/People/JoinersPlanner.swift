public import Foundation

/// `[joiners]`: how a new starter's account is named, where it goes and what it joins.
///
/// ```toml
/// [joiners]
/// staff_uid_pattern = "{f}{surname}"        # {forename} {surname} {f} (initial) {yy} (start year) {key}
/// pupil_uid_pattern = "{f}{surname}{yy}"
/// staff_ou = "ou=staff,dc=school,dc=internal"   # default: the first of directory.staff_base_dns
/// staff_groups = ["cn=staff,ou=groups,dc=school,dc=internal"]
/// days_before_start = 14                    # make accounts this long before the start date
/// password_length = 12
/// ```
public struct JoinersPolicy: Sendable, Equatable {
    static let keys = [
        "staff_uid_pattern", "pupil_uid_pattern", "staff_ou", "pupil_ou", "staff_groups", "pupil_groups", "days_before_start",
        "password_length", "object_classes", "upn_suffix",
    ]

    public var staffUIDPattern = "{f}{surname}"
    public var pupilUIDPattern = "{f}{surname}{yy}"
    public var staffOU: String?
    public var pupilOU: String?
    public var staffGroups: [String] = []
    public var pupilGroups: [String] = []
    public var daysBeforeStart = 14
    public var passwordLength = 12
    public var objectClasses = ["inetOrgPerson"]
    /// Active Directory: the part after `@` of a new account's `userPrincipalName`; default the domain's DNS name.
    public var upnSuffix: String?

    public init() {}

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        for (key, keyPath) in [("staff_uid_pattern", \JoinersPolicy.staffUIDPattern), ("pupil_uid_pattern", \.pupilUIDPattern)] {
            if let pattern = try reader.string("joiners", key) {
                guard UIDPattern.problem(pattern) == nil else { throw reader.fail("'joiners.\(key)': \(UIDPattern.problem(pattern)!)") }
                self[keyPath: keyPath] = pattern
            }
        }
        staffOU = try reader.string("joiners", "staff_ou")
        pupilOU = try reader.string("joiners", "pupil_ou")
        staffGroups = try reader.strings("joiners", "staff_groups") ?? []
        pupilGroups = try reader.strings("joiners", "pupil_groups") ?? []
        if let days = try reader.integer("joiners", "days_before_start") {
            guard (0...365).contains(days) else { throw reader.fail("'joiners.days_before_start' must be between 0 and 365") }
            daysBeforeStart = days
        }
        if let length = try reader.integer("joiners", "password_length") {
            guard (8...64).contains(length) else { throw reader.fail("'joiners.password_length' must be between 8 and 64") }
            passwordLength = length
        }
        if let classes = try reader.strings("joiners", "object_classes") {
            guard classes.contains(where: { $0.lowercased() == "inetorgperson" }) else {
                throw reader.fail("'joiners.object_classes' must include inetOrgPerson (it carries uid, mail and employeeNumber)")
            }
            objectClasses = classes
        }
        upnSuffix = try reader.string("joiners", "upn_suffix")
    }
}

/// A uid pattern such as `{f}{surname}{yy}`, filled from a person.
enum UIDPattern {
    static let tokens = ["forename", "surname", "f", "yy", "key"]

    static func problem(_ pattern: String) -> String? {
        var rest = Substring(pattern)
        var hasName = false
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { return "a '{' is never closed" }
            let token = String(rest[rest.index(after: open)..<close])
            guard tokens.contains(token) else { return "unknown token {\(token)} (known: \(tokens.map { "{\($0)}" }.joined(separator: " ")))" }
            if token == "surname" || token == "key" { hasName = true }
            rest = rest[rest.index(after: close)...]
        }
        return hasName ? nil : "the pattern needs {surname} or {key}, or every joiner would get the same uid"
    }

    /// The uid for `person`: letters and digits only, accents dropped (Siân Llŷr Ó Briain → sian, llyr, obriain).
    static func fill(_ pattern: String, person: Person, today: Day) -> String {
        let year = person.startDate?.year ?? today.year
        var result = pattern
        let values = [
            "forename": clean(person.forename), "surname": clean(person.surname), "f": String(clean(person.forename).prefix(1)),
            "yy": String(String(year).suffix(2)), "key": clean(person.joinKey),
        ]
        for (token, value) in values { result = result.replacingOccurrences(of: "{\(token)}", with: value) }
        return result
    }

    static func clean(_ text: String) -> String {
        String(text.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: Locale(identifier: "en_GB")).lowercased()
            .unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) }.map(Character.init))
    }
}

/// Plans accounts for new starters: `rollcall accounts plan --joiners`.
///
/// A joiner is a current person in the HR imports, starting within `days_before_start` (or already started), whose
/// join key no directory account carries. Their uid comes from the pattern; a uid already taken (by any account, a
/// protected uid, or an earlier joiner in the same plan) gets 2, 3, ... appended.
public struct JoinersPlanner: Sendable {
    public var policy: JoinersPolicy
    public var directory: DirectoryConfiguration
    public var protectedUIDs: [String]
    public var today: Day

    public init(policy: JoinersPolicy, directory: DirectoryConfiguration, protectedUIDs: [String], today: Day = Day(Date())) {
        self.policy = policy
        self.directory = directory
        self.protectedUIDs = protectedUIDs
        self.today = today
    }

    public func plan(people: [Person], accounts: [DirectoryAccount]) -> (items: [PlanItem], notes: [String]) {
        let server = directory.server
        var taken = Set(accounts.compactMap { $0.uid?.lowercased() })
        var takenDNs = Set(accounts.map { ProtectedAccounts.normalise($0.dn) })
        taken.formUnion(protectedUIDs.map { $0.lowercased() })
        let withAccounts = Set(accounts.compactMap(\.joinKey))
        var items: [PlanItem] = []
        var notes: [String] = []
        var later: [String] = []
        var noOU: Set<AccountKind> = []
        let startBy = today.adding(days: policy.daysBeforeStart)
        for person in people where person.status == .current && !withAccounts.contains(person.joinKey) {
            if let start = person.startDate, start > startBy {
                later.append("\(person.joinKey) (starts \(start.uk))")
                continue
            }
            let staff = person.kind == .staff
            guard let ou = (staff ? policy.staffOU ?? directory.staffBaseDNs.first : policy.pupilOU ?? directory.pupilBaseDNs.first) else {
                noOU.insert(person.kind)
                continue
            }
            let base = String(UIDPattern.fill(staff ? policy.staffUIDPattern : policy.pupilUIDPattern, person: person, today: today)
                .prefix(server.maximumUIDLength))
            var uid = base
            var suffix = 2
            while uid.isEmpty || taken.contains(uid) {
                // A suffix that would pass the server's limit replaces the end of the name instead.
                uid = String(base.prefix(server.maximumUIDLength - String(suffix).count)) + String(suffix)
                suffix += 1
            }
            taken.insert(uid)
            let (dn, account) = server.newAccount(for: person, uid: uid, ou: ou, policy: policy, takenDNs: takenDNs)
            takenDNs.insert(ProtectedAccounts.normalise(dn))
            let detail = "new \(staff ? "staff" : "pupil") \(person.name)" + (person.startDate.map { ", starts \($0.uk)" } ?? "")
                + (uid == base ? "" : "; \(base) was taken")
            items.append(PlanItem(position: items.count + 1, dn: dn, uid: uid, joinKey: person.joinKey, kind: person.kind,
                                  action: .create, reason: .joiner, detail: detail, newAccount: account))
        }
        if !later.isEmpty {
            notes.append("Starting more than \(policy.daysBeforeStart) days from now, not yet planned: " + later.sorted().joined(separator: ", ") + ".")
        }
        for kind in noOU.sorted(by: { $0.rawValue < $1.rawValue }) {
            notes.append("No OU for new \(kind.rawValue) (joiners.\(kind == .staff ? "staff_ou" : "pupil_ou") or directory.\(kind == .staff ? "staff" : "pupil")_base_dns): none planned.")
        }
        notes.append("Each account gets a random temporary password of \(policy.passwordLength) characters when the plan is applied, "
                     + (directory.kind == .activeDirectory ? "to be changed at first log-on (pwdLastSet: 0)" : "with pwdReset: TRUE")
                     + "; the passwords are written once to a file only the applier can read.")
        return (items, notes)
    }
}

/// Temporary passwords: random, with upper and lower case, digits and a symbol, and none of the characters that
/// read alike on a printed slip (0 O o, 1 l I, 5 S).
public enum TemporaryPassword {
    static let upper = Array("ABCDEFGHJKLMNPQRTUVWXYZ")
    static let lower = Array("abcdefghijkmnpqrstuvwxyz")
    static let digits = Array("2346789")
    static let symbols = Array("-+=!#%?")

    public static func make(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let all = upper + lower + digits + symbols
        var characters = [upper.randomElement(using: &generator)!, lower.randomElement(using: &generator)!,
                          digits.randomElement(using: &generator)!, symbols.randomElement(using: &generator)!]
        while characters.count < max(length, 8) { characters.append(all.randomElement(using: &generator)!) }
        characters.shuffle(using: &generator)
        // A letter first: a spreadsheet reads a leading - + = as a formula, and CSVWriter would guard it with a quote
        // that then looks like part of the password.
        if let letter = characters.firstIndex(where: \.isLetter) { characters.swapAt(0, letter) }
        return String(characters)
    }
}

/// The file a joiners plan's temporary passwords go to: created new (never over an existing file) with mode 0600,
/// one CSV line per account, each flushed to disk before the next account is made, for a mail merge.
///
/// `@unchecked Sendable`: the descriptor is immutable and every write and the `written` count go through `lock`, so
/// the file is safe to share between tasks (`PlanApplier.apply` also writes one item at a time).
public final class PasswordsFile: @unchecked Sendable {
    private let descriptor: Int32
    private let lock = NSLock()
    public let path: String
    public private(set) var written = 0

    public init(path: String) throws(PasswordsFileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = errno == EEXIST ? "it already exists: move it away (after handing the passwords over) or name another with --passwords-file"
                : String(cString: strerror(errno))
            throw PasswordsFileError(path: path, message: reason)
        }
        fchmod(descriptor, 0o600)
        self.descriptor = descriptor
        self.path = path
        try write(["join_key", "forename", "surname", "email", "uid", "temporary_password"])
    }

    deinit { close(descriptor) }

    public func append(joinKey: String, account: NewAccount, uid: String, password: String) throws(PasswordsFileError) {
        try write([joinKey, account.forename, account.surname, account.email ?? "", uid, password])
        lock.withLock { written += 1 }
    }

    private func write(_ fields: [String]) throws(PasswordsFileError) {
        let bytes = Array((CSVWriter.row(fields) + "\r\n").utf8)
        lock.lock()
        defer { lock.unlock() }
        let result = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard result == bytes.count, fsync(descriptor) == 0 else {
            throw PasswordsFileError(path: path, message: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}

public struct PasswordsFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public var description: String { "\(path): \(message)" }
}
