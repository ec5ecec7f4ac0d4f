import Crypto
public import Foundation
import SQLKit

/// `rollcall hr import FILE --kind staff|pupils`: brings the school office's MIS export into the store's people.
///
/// The file is read once as a stream (any size, constant memory): each row is checked and staged, every bad row is
/// listed as `FILE:LINE:COLUMN: what is wrong`, and only a file with no errors is compared with the people already
/// known. The comparison and the changes (joiners, leavers, rejoiners, changed details, each a history event naming
/// this import) run in the same transaction as the staging, so an import applies in full or not at all. An export
/// that would make too many current people leavers at once — a half-written file, a filtered report, the wrong year
/// group — is refused with the numbers and the exact flag that accepts them.
public struct HRImport: Sendable {
    public var path: String
    public var kind: AccountKind
    public var preset: HRPreset
    /// Read with this encoding instead of detecting it.
    public var encoding: TextEncoding?
    /// `[hr.columns]`: header names tried before the preset's.
    public var columnOverrides: [HRField: String]
    public var guardPolicy: HRPolicy
    /// The number of leavers the technician accepts (from the refusal message); nil accepts none beyond the guard.
    public var acceptLeavers: Int?
    /// Compare and report, then roll everything back.
    public var dryRun: Bool
    public var now: Date

    public init(path: String, kind: AccountKind, preset: HRPreset, encoding: TextEncoding? = nil, columnOverrides: [HRField: String] = [:],
                guardPolicy: HRPolicy = HRPolicy(), acceptLeavers: Int? = nil, dryRun: Bool = false, now: Date = Date()) {
        self.path = path
        self.kind = kind
        self.preset = preset
        self.encoding = encoding
        self.columnOverrides = columnOverrides
        self.guardPolicy = guardPolicy
        self.acceptLeavers = acceptLeavers
        self.dryRun = dryRun
        self.now = now
    }

    static let batchSize = 1000
    static let samplesKept = 50

    public func run(into store: ControllerStore) async throws -> HRImportSummary {
        let digest = try Self.sha256(of: path)
        let today = Day(now)
        let actor = AuditLog.actor
        let job = self
        do {
            return try await store.transaction(commit: !dryRun) { db in
                try await job.stageAndApply(db, digest: digest, today: today, actor: actor)
            }
        } catch let error as ImportError {
            if case .tooManyLeavers = error, !dryRun {
                try? await store.transaction { db in
                    try await AuditLog.append(db, actor: actor, action: "hr.import.refused", target: path, detail: error.description)
                }
            }
            throw error
        }
    }

    private func stageAndApply(_ db: any SQLDatabase, digest: String, today: Day, actor: String) async throws -> HRImportSummary {
        try await db.raw("DELETE FROM hr_import_rows").run()
        var (reader, chosen, bom) = try CSVReader.open(path, forced: encoding)
        var problems = ImportProblems()
        let header: ImportHeader<HRField>
        do {
            var first: CSVReader.Record?
            repeat { first = try reader.next() } while first?.isBlank == true
            guard let first else { throw ImportError.empty(file: path, message: "the file is empty: no header row, no people") }
            var names = preset.columnNames(for: kind)
            // Names from [hr.columns] are tried first; a preset's still follow, so one config serves several exports.
            for (field, name) in columnOverrides { names[field] = [name] + (names[field] ?? []) }
            header = try ImportHeader<HRField>.resolve(first, names: names, missing: preset.missingColumnHint, file: path)
        } catch let problem as CSVReader.Problem {
            throw ImportError.syntax(file: path, problem: ImportProblem(problem))
        }
        var batch = JSONRows(columns: Self.stagingColumns, capacity: Self.batchSize)
        var rows = 0
        while true {
            let record: CSVReader.Record?
            do { record = try reader.next() } catch { throw ImportError.syntax(file: path, problem: ImportProblem(error)) }
            guard let record else { break }
            if record.isBlank { continue }
            rows += 1
            guard let row = HRRow(record, header: header, today: today, problem: { problems.add($0, $1, $2) }) else { continue }
            batch.append(row.staged(kind: kind))
            if batch.count == Self.batchSize {
                try await db.insert(into: "hr_import_rows", rows: batch)
                batch.removeAll()
            }
        }
        try await db.insert(into: "hr_import_rows", rows: batch)
        guard rows > 0 else { throw ImportError.empty(file: path, message: "the file has a header row but no people") }

        // Keys twice in the file, and keys that belong to the other kind of person.
        for duplicate in try await db.raw("""
            SELECT join_key, MIN(line) AS first, MAX(line) AS last, COUNT(*) AS n, MIN(key_column) AS key_column
            FROM hr_import_rows GROUP BY join_key HAVING COUNT(*) > 1 ORDER BY MIN(line)
            """).all() {
            let key = try duplicate.decode(column: "join_key", as: String.self)
            let count = try duplicate.decode(column: "n", as: Int.self)
            problems.add(try duplicate.decode(column: "last", as: Int.self), try duplicate.decode(column: "key_column", as: Int.self),
                    "\(key) is in the file \(count) times (first on line \(try duplicate.decode(column: "first", as: Int.self))): a join key names one person")
        }
        for clash in try await db.raw("""
            SELECT s.join_key, s.line, s.key_column, p.kind FROM hr_import_rows s JOIN people p ON p.join_key = s.join_key
            WHERE p.kind <> \(bind: kind.rawValue) ORDER BY s.line
            """).all() {
            let key = try clash.decode(column: "join_key", as: String.self)
            let other = try clash.decode(column: "kind", as: String.self)
            problems.add(try clash.decode(column: "line", as: Int.self), try clash.decode(column: "key_column", as: Int.self),
                    "\(key) is already one of the \(other), not the \(kind.rawValue): is this the right file for --kind \(kind.rawValue)?")
        }
        if problems.count > 0 {
            throw ImportError.rows(file: path, problems: problems.sorted, total: problems.count)
        }
        return try await compareAndApply(db, rows: rows, digest: digest, chosen: chosen, bom: bom, today: today, actor: actor)
    }

    static let stagingColumns = [
        "join_key", "kind", "forename", "surname", "email", "role", "start_date", "leaving_date", "line", "key_column",
    ]

    private func compareAndApply(_ db: any SQLDatabase, rows: Int, digest: String, chosen: TextEncoding, bom: Bool, today: Day,
                                 actor: String) async throws -> HRImportSummary {
        let day = today.iso
        let kindValue = kind.rawValue
        func count(_ sql: SQLQueryString) async throws -> Int { try await db.raw(sql).first(decodingColumn: "n", as: Int.self) ?? 0 }
        let current = try await count("SELECT COUNT(*) AS n FROM people WHERE kind = \(bind: kindValue) AND status = 'current'")
        let absent = try await count("""
            SELECT COUNT(*) AS n FROM people p WHERE p.kind = \(bind: kindValue) AND p.status = 'current'
            AND NOT EXISTS (SELECT 1 FROM hr_import_rows s WHERE s.join_key = p.join_key)
            """)
        let leftByDate = try await count("""
            SELECT COUNT(*) AS n FROM hr_import_rows s JOIN people p ON p.join_key = s.join_key
            WHERE p.status = 'current' AND s.leaving_date <= \(bind: day)
            """)
        let leaving = absent + leftByDate
        let limit = guardPolicy.leaverLimit(current: current)
        if leaving > limit, acceptLeavers != leaving {
            throw ImportError.tooManyLeavers(file: path, kind: kind, leaving: leaving, absent: absent, byDate: leftByDate,
                                               current: current, limit: limit)
        }

        try await db.raw("""
            INSERT INTO hr_imports (kind, file, sha256, encoding, preset, rows, imported_at, imported_by)
            VALUES (\(bind: kindValue), \(bind: path), \(bind: digest), \(bind: chosen.rawValue), \(bind: preset.rawValue), \(bind: rows),
            \(bind: now.millisecondsSince1970), \(bind: actor))
            """).run()
        guard let importID = try await db.raw("SELECT MAX(id) AS n FROM hr_imports").first(decodingColumn: "n", as: Int.self) else {
            throw StoreError(code: .corrupt, message: "the new import has no id")
        }
        let at = now.millisecondsSince1970

        // History first, while `people` still says what was true before this export.
        try await db.raw("""
            INSERT INTO people_history (join_key, import_id, at, event, detail)
            SELECT s.join_key, \(bind: importID), \(bind: at),
                   CASE WHEN s.leaving_date IS NOT NULL AND s.leaving_date <= \(bind: day) THEN 'left' ELSE 'joined' END,
                   CASE WHEN s.leaving_date IS NOT NULL AND s.leaving_date <= \(bind: day) THEN 'first listed already gone: left on ' || \(unsafeRaw: Self.uk("s.leaving_date"))
                        ELSE 'joined' || COALESCE(' (starts ' || \(unsafeRaw: Self.uk("s.start_date")) || ')', '') END
            FROM hr_import_rows s WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.join_key = s.join_key)
            """).run()
        try await db.raw("""
            INSERT INTO people_history (join_key, import_id, at, event, detail)
            SELECT s.join_key, \(bind: importID), \(bind: at), 'left', 'left on ' || \(unsafeRaw: Self.uk("s.leaving_date"))
            FROM hr_import_rows s JOIN people p ON p.join_key = s.join_key
            WHERE p.status = 'current' AND s.leaving_date <= \(bind: day)
            """).run()
        try await db.raw("""
            INSERT INTO people_history (join_key, import_id, at, event, detail)
            SELECT p.join_key, \(bind: importID), \(bind: at), 'left',
                   'no longer in the export; left on ' || \(unsafeRaw: Self.uk("CASE WHEN p.leaving_date IS NOT NULL AND p.leaving_date <= '\(day)' THEN p.leaving_date ELSE '\(day)' END"))
            FROM people p WHERE p.kind = \(bind: kindValue) AND p.status = 'current'
            AND NOT EXISTS (SELECT 1 FROM hr_import_rows s WHERE s.join_key = p.join_key)
            """).run()
        try await db.raw("""
            INSERT INTO people_history (join_key, import_id, at, event, detail)
            SELECT s.join_key, \(bind: importID), \(bind: at), 'rejoined', 'back in the export after leaving on ' || COALESCE(\(unsafeRaw: Self.uk("p.left_on")), '?')
            FROM hr_import_rows s JOIN people p ON p.join_key = s.join_key
            WHERE p.status = 'left' AND (s.leaving_date IS NULL OR s.leaving_date > \(bind: day))
            """).run()
        var changes: [String] = []
        for (column, label) in [("forename", "forename"), ("surname", "surname"), ("email", "email"), ("role", "role"),
                                ("start_date", "start date"), ("leaving_date", "leaving date")] {
            changes.append("CASE WHEN s.\(column) IS DISTINCT FROM p.\(column) THEN '\(label): ' || COALESCE(p.\(column), '-') || ' -> ' || COALESCE(s.\(column), '-') || '; ' ELSE '' END")
        }
        try await db.raw("""
            INSERT INTO people_history (join_key, import_id, at, event, detail)
            SELECT join_key, \(bind: importID), \(bind: at), 'changed', RTRIM(detail, '; ') FROM (
                SELECT s.join_key, \(unsafeRaw: changes.joined(separator: " || ")) AS detail
                FROM hr_import_rows s JOIN people p ON p.join_key = s.join_key
            ) AS changed WHERE detail <> ''
            """).run()

        // Then the people themselves.
        try await db.raw("""
            UPDATE people SET status = 'left', left_import = \(bind: importID), updated_at = \(bind: at),
                left_on = CASE WHEN leaving_date IS NOT NULL AND leaving_date <= \(bind: day) THEN leaving_date ELSE \(bind: day) END
            WHERE kind = \(bind: kindValue) AND status = 'current'
            AND NOT EXISTS (SELECT 1 FROM hr_import_rows s WHERE s.join_key = people.join_key)
            """).run()
        try await db.raw("""
            INSERT INTO people (join_key, kind, forename, surname, email, role, start_date, leaving_date, status, left_on, left_import,
                                first_import, last_import, updated_at)
            SELECT s.join_key, s.kind, s.forename, s.surname, s.email, s.role, s.start_date, s.leaving_date,
                   CASE WHEN s.leaving_date <= \(bind: day) THEN 'left' ELSE 'current' END,
                   CASE WHEN s.leaving_date <= \(bind: day) THEN s.leaving_date END,
                   CASE WHEN s.leaving_date <= \(bind: day) THEN \(bind: importID) END,
                   \(bind: importID), \(bind: importID), \(bind: at)
            FROM hr_import_rows s WHERE true
            ON CONFLICT (join_key) DO UPDATE SET
                forename = excluded.forename, surname = excluded.surname, email = excluded.email, role = excluded.role,
                start_date = excluded.start_date, leaving_date = excluded.leaving_date, last_import = excluded.last_import,
                updated_at = excluded.updated_at,
                left_on = CASE WHEN excluded.status = 'current' THEN NULL WHEN people.status = 'left' THEN people.left_on ELSE excluded.left_on END,
                left_import = CASE WHEN excluded.status = 'current' THEN NULL WHEN people.status = 'left' THEN people.left_import ELSE excluded.left_import END,
                offboarding = CASE WHEN excluded.status = 'current' THEN NULL ELSE people.offboarding END,
                status = excluded.status
            """).run()

        var summary = HRImportSummary(importID: importID, file: path, kind: kind, preset: preset, encoding: chosen, byteOrderMark: bom,
                                      rows: rows, currentBefore: current, dryRun: dryRun)
        // Counts, and the first few of each for the technician to eyeball: never every event in memory at once.
        for (event, keyPath) in [("joined", \HRImportSummary.joined), ("left", \.left), ("rejoined", \.rejoined), ("changed", \.changed)] {
            summary[keyPath: keyPath].count = try await count(
                "SELECT COUNT(*) AS n FROM people_history WHERE import_id = \(bind: importID) AND event = \(bind: event)")
            summary[keyPath: keyPath].first = try await db.raw("""
                SELECT h.join_key, h.detail, p.forename, p.surname FROM people_history h JOIN people p ON p.join_key = h.join_key
                WHERE h.import_id = \(bind: importID) AND h.event = \(bind: event) ORDER BY h.id LIMIT \(unsafeRaw: String(Self.samplesKept))
                """).all().map { row in
                HRImportSummary.Change(joinKey: try row.decode(column: "join_key", as: String.self),
                                       name: "\(try row.decode(column: "forename", as: String.self)) \(try row.decode(column: "surname", as: String.self))",
                                       detail: try row.decode(column: "detail", as: String.self))
            }
        }
        summary.leavingLater = try await count("SELECT COUNT(*) AS n FROM hr_import_rows WHERE leaving_date > \(bind: day)")
        try await db.raw("""
            UPDATE hr_imports SET joined = \(bind: summary.joined.count), left_count = \(bind: summary.left.count),
                rejoined = \(bind: summary.rejoined.count), changed = \(bind: summary.changed.count) WHERE id = \(bind: importID)
            """).run()
        try await AuditLog.append(db, actor: actor, action: "hr.import", target: path,
                                  detail: "import \(importID), \(kind.rawValue), \(rows) row(s), sha256 \(digest.prefix(16))…: \(summary.counts)"
                                      + (leaving > limit ? "; \(leaving) leavers accepted over the guard of \(limit)" : ""))
        try await db.raw("DELETE FROM hr_import_rows").run()
        return summary
    }

    /// SQL turning a stored `YYYY-MM-DD` expression into the UK `DD/MM/YYYY` the history reads in.
    static func uk(_ expression: String) -> String {
        "(substr(\(expression), 9, 2) || '/' || substr(\(expression), 6, 2) || '/' || substr(\(expression), 1, 4))"
    }

    static func sha256(of path: String) throws(ImportError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .file(ImportFileError(path: path, message: FileManager.default.fileExists(atPath: path) ? "cannot read the file (permissions?)" : "no such file"))
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty { hasher.update(data: chunk) }
        return SHA256.hex(hasher.finalize())
    }
}

/// `[hr]`: the truncation guard and the column names of a `generic` export.
public struct HRPolicy: Sendable, Equatable {
    static let keys = ["max_leavers_percent", "max_leavers_minimum", "columns"]

    /// An export may make at most this share of the current people of its kind leavers at once...
    public var maxLeaversPercent = 10
    /// ...but always at least this many, so a small school's two leavers in a term are not refused.
    public var maxLeaversMinimum = 5
    /// `[hr.columns]`: header names per field, e.g. `join_key = "Payroll No"`.
    public var columns: [HRField: String] = [:]

    public init() {}

    init(_ reader: SettingsReader) throws(ConfigurationError) {
        if let percent = try reader.integer("hr", "max_leavers_percent") {
            guard (0...100).contains(percent) else { throw reader.fail("'hr.max_leavers_percent' must be between 0 and 100") }
            maxLeaversPercent = percent
        }
        if let minimum = try reader.integer("hr", "max_leavers_minimum") {
            guard minimum >= 0 else { throw reader.fail("'hr.max_leavers_minimum' must be 0 or more") }
            maxLeaversMinimum = minimum
        }
        for (name, header) in try reader.stringTable("hr", "columns") ?? [:] {
            guard let field = HRField(rawValue: name) else {
                throw reader.fail("unknown field 'hr.columns.\(name)' (known: \(HRField.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            columns[field] = header
        }
    }

    public func leaverLimit(current: Int) -> Int {
        max(maxLeaversMinimum, current * maxLeaversPercent / 100)
    }
}

/// One data row of an export, checked.
struct HRRow {
    var joinKey: String
    var keyColumn: Int
    var forename: String
    var surname: String
    var email: String?
    var role: String?
    var startDate: Day?
    var leavingDate: Day?
    var line: Int

    /// Checks every field of `record`, telling `problem` about each fault; nil when there was one.
    init?(_ record: CSVReader.Record, header: ImportHeader<HRField>, today: Day, problem: @escaping (Int, Int, String) -> Void) {
        var row = ImportRow(record, header: header, problem: problem)
        line = record.line
        let keyField = row.field(.joinKey)
        keyColumn = keyField?.column ?? 1
        joinKey = row.required(.joinKey) ?? ""
        if let keyField, !joinKey.isEmpty, joinKey.contains(where: \.isWhitespace) || joinKey.count > 64 {
            row.fail(keyField, "'\(joinKey)' is not a join key (no spaces, at most 64 characters)")
        }
        forename = row.required(.forename) ?? ""
        surname = row.required(.surname) ?? ""
        email = row.text(.email)
        if let email, let place = row.field(.email) {
            let parts = email.split(separator: "@", omittingEmptySubsequences: false)
            if parts.count != 2 || parts[0].isEmpty || !parts[1].contains(".") || email.contains(where: \.isWhitespace) {
                row.fail(place, "'\(email)' is not an email address")
            }
        }
        role = row.text(.role)
        startDate = row.date(.startDate, today: today)
        leavingDate = row.date(.leavingDate, today: today)
        if let startDate, let leavingDate, leavingDate < startDate, let place = row.field(.leavingDate) {
            row.fail(place, "leaving date \(leavingDate.uk) is before the start date \(startDate.uk)")
        }
        if row.faults > 0 { return nil }
    }

    func staged(kind: AccountKind) -> [JSONRows.Value] {
        func optional(_ value: String?) -> JSONRows.Value { value.map(JSONRows.Value.text) ?? .null }
        return [.text(joinKey), .text(kind.rawValue), .text(forename), .text(surname), optional(email), optional(role),
                optional(startDate?.iso), optional(leavingDate?.iso), .integer(Int64(line)), .integer(Int64(keyColumn))]
    }
}

/// What an import did (or, in a dry run, would do).
public struct HRImportSummary: Sendable, Codable, Equatable {
    public struct Change: Sendable, Codable, Equatable {
        public var joinKey: String
        public var name: String
        public var detail: String
    }

    /// A count and the first few, for the technician to eyeball.
    public struct Changes: Sendable, Codable, Equatable {
        public var count = 0
        /// The first ``HRImport/samplesKept``, in file order.
        public var first: [Change] = []
    }

    public var importID: Int
    public var file: String
    public var kind: AccountKind
    public var preset: HRPreset
    public var encoding: TextEncoding
    public var byteOrderMark: Bool
    public var rows: Int
    public var currentBefore: Int
    public var dryRun: Bool
    public var joined = Changes()
    public var left = Changes()
    public var rejoined = Changes()
    public var changed = Changes()
    /// Listed with a leaving date still to come: current until then.
    public var leavingLater = 0

    public var counts: String {
        "\(joined.count) joined, \(left.count) left, \(rejoined.count) rejoined, \(changed.count) changed, \(leavingLater) leaving later"
    }
}

public enum ImportError: Error, Sendable, Equatable, CustomStringConvertible {
    case file(ImportFileError)
    case syntax(file: String, problem: ImportProblem)
    case empty(file: String, message: String)
    /// Every bad row (the first ``ImportProblems/limit``) and how many there were.
    case rows(file: String, problems: [ImportProblem], total: Int)
    case tooManyLeavers(file: String, kind: AccountKind, leaving: Int, absent: Int, byDate: Int, current: Int, limit: Int)

    public var description: String {
        switch self {
        case .file(let error): return error.description
        case .syntax(let file, let problem): return "\(file):\(problem.line):\(problem.column): \(problem.message). Nothing was imported."
        case .empty(let file, let message): return "\(file): \(message). Nothing was imported."
        case .rows(let file, let problems, let total):
            var lines = problems.map { "\(file):\($0.line):\($0.column): \($0.message)" }
            if total > problems.count { lines.append("... and \(total - problems.count) more") }
            lines.append("\(total) problem(s) in \(file). Nothing was imported; correct the export and import it again.")
            return lines.joined(separator: "\n")
        case .tooManyLeavers(let file, let kind, let leaving, let absent, let byDate, let current, let limit):
            return """
                \(file): this export would make \(leaving) of the \(current) current \(kind.rawValue) leavers at once \
                (\(absent) no longer in the file, \(byDate) with a leaving date that has passed); the guard allows \(limit) \
                ([hr] max_leavers_percent, max_leavers_minimum). A half-written file, a filtered report or the wrong year group \
                looks like this. Nothing was imported. If the export is complete and right (e.g. Year 11 left in the summer), \
                import it again with --accept-leavers \(leaving).
                """
        }
    }
}
