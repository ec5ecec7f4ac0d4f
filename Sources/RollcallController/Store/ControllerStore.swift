public import Foundation
@preconcurrency import AsyncKit
public import Logging
import NIOCore
import NIOPosix
public import RollcallProtocol
import SQLKit
import SQLiteKit
import Synchronization

/// The controller's database: devices, the reports they sent, and their latest package lists.
///
/// One set of SQLKit queries serves every engine (SQLite now, PostgreSQL at scale). SQLite runs behind a pool of
/// exactly one connection, which serialises writers the way SQLite wants; a transaction holds that connection for
/// its whole body. Timestamps are stored as integer milliseconds since 1970, which both engines compare the same.
///
/// `@unchecked Sendable` because AsyncKit has not annotated `EventLoopGroupConnectionPool`: the pool guards its
/// state with a lock and runs each per-loop pool on its own event loop, and it lends a connection to one caller
/// at a time, so sharing the store between tasks is safe. The other stored properties are immutable values or
/// Sendable.
public final class ControllerStore: @unchecked Sendable {
    private let pool: EventLoopGroupConnectionPool<SQLiteConnectionSource>
    private let logger: Logger
    public let path: String
    /// The overview's account figures between looks at an unchanged directory (one per store, shared by every request).
    let accountFigures = AccountFiguresMemo()
    /// The synced accounts as last read, with the `accounts` revision they were read at.
    let directoryAccountsKept = Mutex<(revision: Int64, accounts: [DirectoryAccount])?>(nil)

    /// Opens (creating if needed) the SQLite store at `path` and brings its schema up to date.
    public static func open(path: String, logger: Logger) async throws -> ControllerStore {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        let store = ControllerStore(path: path, logger: logger)
        do {
            try await store.withConnection { db in
                try await db.raw("PRAGMA journal_mode=WAL").run()
                try await db.raw("PRAGMA synchronous=FULL").run()
                try await db.raw("PRAGMA busy_timeout=5000").run()
            }
            try await Migrations.run(on: store)
        } catch {
            await store.close()
            throw StoreError(code: .unavailable, message: "cannot open the store at \(path): \(String(reflecting: error))")
        }
        return store
    }

    private init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
        let source = SQLiteConnectionSource(configuration: SQLiteConfiguration(storage: .file(path: path), enableForeignKeys: true))
        pool = EventLoopGroupConnectionPool(
            source: source, maxConnectionsPerEventLoop: 1, logger: logger, on: MultiThreadedEventLoopGroup.singleton.next())
    }

    public func close() async {
        try? await pool.shutdownAsync()
    }

    /// Runs `body` with one connection held for its whole duration.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await pool.withConnection(logger: logger) { connection in
            connection.eventLoop.makeFutureWithTask { try await body(connection.sql()) }
        }.get()
    }

    /// Runs `body` in a transaction: all of its writes or none. With `commit: false` the writes are rolled back even
    /// when `body` succeeds: a dry run that does everything a real run does and keeps nothing.
    func transaction<T: Sendable>(commit: Bool = true, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withConnection { db in
            try await db.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(db)
                if commit { try await db.raw("COMMIT").run() } else { try await db.raw("ROLLBACK").run() }
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    // MARK: Reports

    /// Stores a report and updates its device, once per report id.
    ///
    /// A second delivery of the same id (the agent retried after a lost acknowledgement) changes nothing and
    /// answers ``ReportReceipt/Outcome/duplicate``. The device's summary and package list follow the newest
    /// snapshot by collection time, so a late delivery of an old report does not roll the device back.
    /// `deviceID` is the enrolled device the request was signed by; a report id already stored for another device
    /// is a conflict and changes nothing.
    public func ingest(_ report: InventoryReport, body: String, deviceID: String, receivedAt: Date = Date()) async throws -> ReportReceipt {
        let reportID = report.reportID.uuidString
        return try await transaction { db in
            if let existing = try await db.select().column("device_id").from("reports").where("id", .equal, reportID)
                .first(decodingColumn: "device_id", as: String.self) {
                guard existing == deviceID else {
                    throw StoreError(code: .conflict, message: "report \(reportID) is already stored for another device")
                }
                return ReportReceipt(reportID: report.reportID, deviceID: existing, outcome: .duplicate)
            }
            let received = receivedAt.millisecondsSince1970
            let collected = report.collectedAt.millisecondsSince1970
            try await db.insert(into: "reports")
                .columns("id", "device_id", "received_at", "collected_at", "schema_version", "body")
                .values(SQLBind(reportID), SQLBind(deviceID), SQLBind(received), SQLBind(collected),
                        SQLBind(report.schemaVersion), SQLBind(body))
                .run()
            let latestCollected = try await db.select().column("last_collected_at").from("devices").where("id", .equal, deviceID)
                .first(decodingColumn: "last_collected_at", as: Int64.self)
            let hardware = report.hardware
            if latestCollected.map({ collected >= $0 }) ?? true {
                let row = DeviceRow(
                    id: deviceID, hostname: hardware.hostname, serial: hardware.system.serial, vendor: hardware.system.vendor,
                    model: hardware.system.product, os: hardware.os.prettyName, kernel: hardware.os.kernel,
                    virtualization: hardware.virtualization.summary, first_seen: received, last_seen: received,
                    last_collected_at: collected, package_count: report.software.installedCount, last_report_id: reportID)
                // The enrolment columns are not in the row, so the upsert leaves them as they are.
                try await db.insert(into: "devices").model(row)
                    .onConflict(with: ["id"]) { conflict in
                        try conflict.set(excludedContentOf: row) .set("first_seen", to: SQLColumn("first_seen", table: "devices"))
                    }
                    .run()
                try await Self.recordSerials(of: InventoryReportSerials(serials: [("product", hardware.system.serial), ("board", hardware.system.boardSerial)]
                    + hardware.disks.map { ("disk", $0.serial) }), deviceID: deviceID, db)
                try await Self.recordPosture(report, deviceID: deviceID, db)
                try await db.delete(from: "device_packages").where("device_id", .equal, deviceID).run()
                for chunk in report.software.packages.chunked(into: 500) {
                    var insert = db.insert(into: "device_packages")
                        .columns("device_id", "source", "name", "version", "architecture", "state", "section", "maintainer")
                    for package in chunk {
                        insert = insert.values(SQLBind(deviceID), SQLBind(package.source.rawValue), SQLBind(package.name),
                                               SQLBind(package.version), SQLBind(package.architecture), SQLBind(package.state.rawValue),
                                               SQLBind(package.section), SQLBind(package.maintainer))
                    }
                    try await insert.run()
                }
                try await Self.matchLicences(deviceID: deviceID, packages: report.software.packages, db)
            } else {
                try await db.update("devices").set("last_seen", to: SQLBind(received)).where("id", .equal, deviceID).run()
            }
            return ReportReceipt(reportID: report.reportID, deviceID: deviceID, outcome: .stored)
        }
    }

    // MARK: Devices

    public func devices() async throws -> [DeviceSummary] {
        try await withConnection { db in
            try await db.select().columns((DeviceRow.columns + DeviceEnrolmentColumns.columns).map { SQLColumn($0) }).from("devices")
                .orderBy("hostname").orderBy("id")
                .all().map { try DeviceRow.summary(of: $0).summary }
        }
    }

    public func device(id: String) async throws -> DeviceDetail? {
        try await withConnection { db in
            guard let found = try await db.select().columns((DeviceRow.columns + DeviceEnrolmentColumns.columns).map { SQLColumn($0) })
                .from("devices").where("id", .equal, id).first() else { return nil }
            let (row, summary) = try DeviceRow.summary(of: found)
            let reports = try await db.select().column("id").from("reports").where("device_id", .equal, id)
                .orderBy("collected_at").orderBy("received_at").all(decodingColumn: "id", as: String.self)
            guard !row.last_report_id.isEmpty else {
                return DeviceDetail(summary: summary, latestReport: nil, reportIDs: [])
            }
            guard let body = try await db.select().column("body").from("reports").where("id", .equal, row.last_report_id)
                .first(decodingColumn: "body", as: String.self) else {
                throw StoreError(code: .corrupt, message: "device \(id) names report \(row.last_report_id), which is not stored")
            }
            let latest = try RollcallJSON.decoder().decode(InventoryReport.self, from: Data(body.utf8))
            return DeviceDetail(summary: summary, latestReport: latest, reportIDs: reports.compactMap(UUID.init(uuidString:)))
        }
    }

    /// The counter a trigger raises on every write to the tables behind `name` (see migration 10): what a kept
    /// judgement checks to know its inputs are unchanged.
    func revision(_ name: String) async throws -> Int64 {
        try await withConnection { db in
            try await db.raw("SELECT revision FROM store_revisions WHERE name = \(bind: name)").first(decodingColumn: "revision", as: Int64.self) ?? 0
        }
    }

    /// How many reports are stored (all devices), for checks and the status page.
    public func reportCount() async throws -> Int {
        try await withConnection { db in
            try await db.select().column(SQLFunction("count", args: SQLLiteral.all), as: "n").from("reports")
                .first(decodingColumn: "n", as: Int.self) ?? 0
        }
    }

    /// Every stored report id with its device, oldest first.
    public func reportIDs() async throws -> [UUID] {
        try await withConnection { db in
            try await db.select().column("id").from("reports").orderBy("received_at").orderBy("id")
                .all(decodingColumn: "id", as: String.self).compactMap(UUID.init(uuidString:))
        }
    }
}

/// A store failure in words a technician can act on.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unavailable, corrupt, migration, conflict, notFound
    }

    public let code: Code
    public let message: String

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The `devices` table row as a report writes it; column names are the SQL names.
struct DeviceRow: Codable, Sendable {
    static let columns = [
        "id", "hostname", "serial", "vendor", "model", "os", "kernel", "virtualization", "first_seen", "last_seen",
        "last_collected_at", "package_count", "last_report_id",
    ]

    var id: String
    var hostname: String?
    var serial: String?
    var vendor: String?
    var model: String?
    var os: String?
    var kernel: String?
    var virtualization: String?
    var first_seen: Int64
    var last_seen: Int64
    var last_collected_at: Int64
    var package_count: Int
    /// '' until the device's first report.
    var last_report_id: String

    func summary(_ enrolment: DeviceEnrolmentColumns) -> DeviceSummary {
        DeviceSummary(
            id: id, hostname: hostname, serial: serial, vendor: vendor, model: model, os: os, kernel: kernel,
            virtualization: virtualization, firstSeen: Date(millisecondsSince1970: first_seen),
            lastSeen: Date(millisecondsSince1970: last_seen), packageCount: package_count,
            lastReportID: UUID(uuidString: last_report_id),
            enrolledAt: enrolment.enrolled_at.map(Date.init(millisecondsSince1970:)),
            revokedAt: enrolment.revoked_at.map(Date.init(millisecondsSince1970:)))
    }

    /// Reads a device and its enrolment state from one `devices` row.
    static func summary(of row: any SQLRow) throws -> (row: DeviceRow, summary: DeviceSummary) {
        let device = try row.decode(model: DeviceRow.self)
        return (device, device.summary(try row.decode(model: DeviceEnrolmentColumns.self)))
    }
}

/// The enrolment columns of `devices`. Apart from ``DeviceRow`` so that a report's upsert, which writes every
/// column of the row, can never touch a device's key or revocation.
struct DeviceEnrolmentColumns: Decodable {
    static let columns = ["enrolled_at", "revoked_at"]
    var enrolled_at: Int64?
    var revoked_at: Int64?
}

extension Virtualization {
    /// `physical`, `vm (firecracker)`, `container (docker on kvm)`.
    var summary: String {
        switch kind {
        case .physical, .unknown: kind.rawValue
        case .vm: "vm (\(hypervisor ?? "unknown"))"
        case .container: "container (\(container ?? "unknown")\(hypervisor.map { " on \($0)" } ?? ""))"
        }
    }
}

extension Date {
    var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

extension Array {
    func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
