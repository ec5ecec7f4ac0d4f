public import Foundation
import RollcallProtocol

/// Every section of the estate as a ``DashboardTable``, read from the store and judged under the school's policy:
/// the dashboard's pages, their CSV and JSON exports and the compliance report all come from these functions, so
/// they can never disagree.
public struct EstateSections: Sendable {
    public let store: ControllerStore
    public let configuration: ControllerConfiguration
    public let now: Date
    /// Devices not seen for longer than this are flagged as not reporting.
    public var staleAfter: TimeInterval = 7 * 86400
    public var usbWindowDays = 30
    /// The judgements more than one section and the overview need, made once for this look at the estate.
    let facts: EstateFacts

    public init(store: ControllerStore, configuration: ControllerConfiguration, now: Date = Date()) {
        self.store = store
        self.configuration = configuration
        self.now = now
        facts = EstateFacts(store: store, configuration: configuration, now: now)
    }

    public enum Section: String, Sendable, CaseIterable {
        case devices, usb, accounts, offboarding, equipment, licences, incidents, audit

        public var title: String {
            switch self {
            case .devices: "Devices"
            case .usb: "USB storage"
            case .accounts: "Accounts"
            case .offboarding: "Offboarding"
            case .equipment: "Equipment"
            case .licences: "Licences"
            case .incidents: "Incidents"
            case .audit: "Audit log"
            }
        }

        /// What a role needs to see the section.
        public var permission: DashboardPermission {
            switch self {
            case .incidents: .incidents
            case .audit: .audit
            default: .estate
            }
        }
    }

    /// One section's table; the functions below are the same per section, for callers that know which they want.
    public func table(_ section: Section) async throws -> DashboardTable {
        switch section {
        case .devices: try await devices()
        case .usb: try await usb()
        case .accounts: try await accounts()
        case .offboarding: try await offboarding()
        case .equipment: try await equipment()
        case .licences: try await licences()
        case .incidents: try await incidents()
        case .audit: try await audit()
        }
    }

    func isStale(_ device: DeviceSummary) -> Bool {
        now.timeIntervalSince(device.lastSeen) > staleAfter
    }

    public func devices() async throws -> DashboardTable {
        let devices = try await store.devices()
        let postures = try await facts.postures()
        var insertions: [String: (all: Int, unapproved: Int)] = [:]
        for (device, counts) in try await store.usbInsertionCounts(since: now.addingTimeInterval(-Double(usbWindowDays) * 86400)) {
            insertions[device] = counts
        }
        let rows = devices.map { device in
            let posture = postures[device.id]
            let usb = insertions[device.id]
            let stale = isStale(device)
            let failing = posture?.screenLock.status == .fail || posture?.encryption.status == .fail
            return DashboardTable.Row([
                .text(device.hostname), .text(device.serial), .text(Self.makeAndModel(device)),
                .text(device.os), .date(device.lastSeen), .text(stale ? "no" : "yes"),
                .text(posture?.screenLock.status.rawValue ?? "unknown"), .text(posture?.screenLock.reason),
                .text(posture?.encryption.status.rawValue ?? "unknown"), .text(posture?.encryption.reason),
                .number(usb?.all ?? 0), .number(usb?.unapproved ?? 0), .number(device.packageCount), .text(device.id),
            ], tone: failing ? "bad" : (stale ? "warn" : nil))
        }
        return DashboardTable(
            name: "devices", title: "Devices",
            columns: [
                .init("hostname", "Hostname"), .init("serial", "Serial"), .init("model", "Make and model"), .init("os", "OS"),
                .init("last_seen", "Last seen"), .init("reporting", "Reporting"), .init("screen_lock", "Screen lock"),
                .init("screen_lock_reason", "Why"), .init("encryption", "Encryption"), .init("encryption_reason", "Why"),
                .init("usb_insertions", "USB insertions", numeric: true), .init("usb_unapproved", "Unapproved", numeric: true),
                .init("packages", "Packages", numeric: true), .init("device_id", "Device id"),
            ],
            rows: rows, emptyMessage: "No device has reported yet. Start rollcall-agent on a workstation.",
            notes: ["Not reporting: not seen for over \(Int(staleAfter / 86400)) days. USB counts cover the last \(usbWindowDays) days."])
    }

    /// "HP EliteBook 840 G10", not "HP HP EliteBook 840 G10": firmware often repeats the vendor in the model.
    static func makeAndModel(_ device: DeviceSummary) -> String {
        guard let model = device.model else { return device.vendor ?? "" }
        guard let vendor = device.vendor, !model.lowercased().hasPrefix(vendor.lowercased()) else { return model }
        return vendor + " " + model
    }

    public func usb() async throws -> DashboardTable {
        let events = try await store.usbEvents(since: now.addingTimeInterval(-Double(usbWindowDays) * 86400), limit: 100_000)
        let rows = events.map { event in
            let capacity = event.capacityBytes.map { String(format: "%.1f GB", Double($0) / 1e9) }
            let volumes = event.volumes.map { [$0.filesystem, $0.label.map { "\"\($0)\"" }].compactMap { $0 }.joined(separator: " ") }
            return DashboardTable.Row([
                .date(event.occurredAt), .text(event.hostname ?? event.deviceID), .text(event.action),
                .text(([event.name, capacity].compactMap { $0 } + volumes.filter { !$0.isEmpty }).joined(separator: ", ")),
                .text(event.serial), .text(event.port), .text(event.consoleUsers.joined(separator: ", ")), .text(event.approved ? "yes" : "no"),
                .text(event.blocked ? "yes" : (event.blockError.map { "failed: \($0)" } ?? "no")), .number(event.incidentID),
            ], tone: event.approved ? nil : "bad", link: event.incidentID.map { "/incidents/\($0)" })
        }
        return DashboardTable(
            name: "usb", title: "USB storage, last \(usbWindowDays) days",
            columns: [
                .init("occurred_at", "When"), .init("machine", "Machine"), .init("action", "Action"), .init("device", "Device"),
                .init("serial", "Serial"), .init("port", "Port"), .init("console_users", "At the console"), .init("approved", "Approved"),
                .init("blocked", "Blocked"), .init("incident", "Incident", numeric: true),
            ],
            rows: rows, emptyMessage: "No USB storage was plugged into a reporting machine in the last \(usbWindowDays) days.")
    }

    public func accounts() async throws -> DashboardTable {
        guard let standing = try await facts.accountStanding() else {
            return DashboardTable(name: "accounts", title: "Accounts", columns: AccountStanding.columns, rows: [],
                                  emptyMessage: "The directory has not been synced yet: run `rollcall directory sync`.")
        }
        return DashboardTable(name: "accounts", title: "Accounts", columns: AccountStanding.columns, rows: standing.rows,
                              emptyMessage: "The last directory sync found no accounts under the configured bases.", notes: standing.notes)
    }

    public func offboarding() async throws -> DashboardTable {
        let columns = OffboardingChecklist.taskHeaders.map { DashboardTable.Column($0, $0.replacingOccurrences(of: "_", with: " ").capitalized) }
        guard let id = try await store.latestOffboardingPlanID(), let view = try await store.offboarding(planID: id, equipmentPolicy: configuration.equipment) else {
            return DashboardTable(name: "offboarding", title: "Offboarding", columns: columns, rows: [],
                                  emptyMessage: "No offboarding plan yet: `rollcall hr import` then `rollcall offboard plan`.")
        }
        let rows = OffboardingChecklist(view, generatedAt: now).taskRows.map { cells in
            DashboardTable.Row(cells.map { .text($0) }, tone: ["pending", "outstanding", "failed"].contains(cells.last ?? "") ? "warn" : nil)
        }
        return DashboardTable(name: "offboarding", title: "Offboarding", columns: columns, rows: rows,
                              emptyMessage: "Plan \(id) has no leavers with anything outstanding.",
                              notes: ["Plan \(id) (\(view.plan.status.rawValue)), made \(DashboardTable.Value.timestamp(view.plan.createdAt)): \(view.leavers.count) leaver(s)."])
    }

    public func equipment() async throws -> DashboardTable {
        let entries = try await store.equipment(policy: configuration.equipment, now: now)
        let rows = entries.map { entry in
            DashboardTable.Row([
                .text(entry.assetTag), .text(entry.serial), .text(entry.makeAndModel), .text(entry.type), .text(entry.location),
                .text([entry.assignedName, entry.assignedTo.map { "(\($0))" }].compactMap { $0 }.joined(separator: " ")),
                .text(entry.lifecycle.rawValue), .text(entry.state.rawValue), .text(entry.device?.hostname), .date(entry.device?.lastSeen),
            ], tone: entry.lifecycle == .stale ? "warn" : nil)
        }
        return DashboardTable(
            name: "equipment", title: "Equipment register",
            columns: [
                .init("asset_tag", "Asset tag"), .init("serial", "Serial"), .init("model", "Make and model"), .init("type", "Type"),
                .init("location", "Location"), .init("issued_to", "Issued to"), .init("stage", "Stage"), .init("state", "State"),
                .init("reported_as", "Reported as"), .init("last_seen", "Last seen"),
            ],
            rows: rows, emptyMessage: "The equipment register is empty: `rollcall equipment import FILE`.")
    }

    public func licences() async throws -> DashboardTable {
        let reconciliation = try await facts.licenceFigures(unlicensed: true)
        let rows = reconciliation.products.map { product in
            DashboardTable.Row([
                .text(product.product), .text(product.vendor), .text(product.kind.rawValue), .number(product.seatsInForce), .number(product.used),
                .number(product.devices), .text(product.status.rawValue), .number(product.difference), .text(product.nextExpiry?.iso),
                .text(LicenceReport.verdict(product, warningDays: reconciliation.expiryWarningDays)),
            ], tone: product.inOrder ? (product.expiresSoon ? "warn" : nil) : "bad")
        }
        var notes = ["\(reconciliation.devicesReporting) device(s) reporting software."]
        if !reconciliation.unlicensed.isEmpty {
            notes.append("\(reconciliation.unlicensed.count) commercial-looking package(s) match no licence: "
                         + reconciliation.unlicensed.prefix(10).map { "\($0.name) (\($0.devices))" }.joined(separator: ", ")
                         + (reconciliation.unlicensed.count > 10 ? ", …; `rollcall licences reconcile` lists them all." : "."))
        }
        return DashboardTable(
            name: "licences", title: "Licences",
            columns: [
                .init("product", "Product"), .init("vendor", "Vendor"), .init("type", "Type"), .init("seats", "Seats", numeric: true),
                .init("used", "Used", numeric: true), .init("devices", "Devices", numeric: true), .init("status", "Status"),
                .init("difference", "Over/under", numeric: true), .init("next_expiry", "Next expiry"), .init("verdict", "Verdict"),
            ],
            rows: rows, emptyMessage: "No licences registered: `rollcall licences import FILE`.", notes: notes)
    }

    public func incidents() async throws -> DashboardTable {
        let rows = try await store.incidents().map { incident in
            DashboardTable.Row([
                .number(incident.id), .date(incident.occurredAt), .text(incident.category?.label ?? incident.kind), .text(incident.location),
                .text(incident.involved), .text(incident.description), .text(incident.actions.map(\.label).joined(separator: "; ")),
                .text(incident.outcome), .text(incident.status.rawValue), .text(incident.reportedBy),
            ], tone: incident.status == .open ? "warn" : nil, link: "/incidents/\(incident.id)")
        }
        return DashboardTable(
            name: "incidents", title: "Incident log",
            columns: [
                .init("id", "#", numeric: true), .init("occurred_at", "When"), .init("category", "Category"), .init("where", "Where"),
                .init("who", "Who was involved"), .init("description", "What happened"), .init("actions", "Action taken"),
                .init("outcome", "Outcome"), .init("status", "Status"), .init("reported_by", "Reported by"),
            ],
            rows: rows, emptyMessage: "No incidents logged.")
    }

    public func audit() async throws -> DashboardTable {
        let rows = try await store.auditEntries().reversed().map { entry in
            DashboardTable.Row([.number(Int(entry.seq)), .date(entry.at), .text(entry.actor), .text(entry.action), .text(entry.target), .text(entry.detail)])
        }
        return DashboardTable(
            name: "audit", title: "Audit log",
            columns: [
                .init("seq", "#", numeric: true), .init("at", "When"), .init("actor", "Who"), .init("action", "Action"),
                .init("target", "Target"), .init("detail", "Detail"),
            ],
            rows: rows, emptyMessage: "The audit log is empty.", notes: ["Newest first. `rollcall audit verify` checks the hash chain."])
    }
}

/// Postures, account standing and the licence figures, each computed on first use and kept for one
/// ``EstateSections``: the compliance report asks for them in its sections and again in its overview, and each is
/// seconds of work at a local authority's scale.
actor EstateFacts {
    let store: ControllerStore
    let configuration: ControllerConfiguration
    let now: Date
    private var postureVerdicts: [String: DevicePosture]?
    private var standing: AccountStanding??
    private var reconciliation: (figures: LicenceReconciliation, listsUnlicensed: Bool)?

    init(store: ControllerStore, configuration: ControllerConfiguration, now: Date) {
        self.store = store
        self.configuration = configuration
        self.now = now
    }

    func postures() async throws -> [String: DevicePosture] {
        if let postureVerdicts { return postureVerdicts }
        let judged = try await store.postures(policy: configuration.posture)
        postureVerdicts = judged
        return judged
    }

    /// Nil before the first directory sync.
    func accountStanding() async throws -> AccountStanding? {
        try await accountStanding(key: nil)
    }

    /// `key`: what the figures depend on, when the caller has just read it.
    private func accountStanding(key known: AccountFiguresMemo.Key?) async throws -> AccountStanding? {
        if let standing { return standing }
        var key = known
        if key == nil { key = try await AccountFiguresMemo.key(store: store, configuration: configuration) }
        let judged = try await AccountStanding.judge(store: store, configuration: configuration, now: now)
        standing = .some(judged)
        if let judged, let key { store.accountFigures.remember(judged, key: key, judgedAt: now) }
        return judged
    }

    /// The standing's figures: this look's standing when it has one, else the store's remembered figures while
    /// they hold, else a fresh judgement. Nil before the first directory sync.
    func accountFigures() async throws -> AccountStanding.Figures? {
        if let standing { return standing?.figures }
        let key = try await AccountFiguresMemo.key(store: store, configuration: configuration)
        if let figures = store.accountFigures.figures(for: key, at: now) { return figures }
        return try await accountStanding(key: key)?.figures
    }

    /// The licence figures without the machines behind them (the pages show counts), with the unlicensed packages
    /// when asked; made once for this look.
    func licenceFigures(unlicensed: Bool = false) async throws -> LicenceReconciliation {
        if let reconciliation, !unlicensed || reconciliation.listsUnlicensed { return reconciliation.figures }
        let result = try await LicenceReconciliation.figures(store: store, now: now, unlicensed: unlicensed)
        reconciliation = (result, unlicensed)
        return result
    }
}
