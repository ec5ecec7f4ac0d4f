public import Foundation

/// Compliance at a glance: the overview page's tiles and charts, and the first page of the compliance report.
public struct EstateOverview: Sendable, Codable {
    public struct VerdictCounts: Sendable, Codable, Equatable {
        public var pass = 0
        public var fail = 0
        public var unknown = 0
        /// The policy does not ask it of the machine (a desktop when only laptops must be encrypted).
        public var notRequired = 0

        /// Machines that meet the policy: passed, or not asked.
        public var compliant: Int { pass + notRequired }
    }

    public struct MonthCount: Sendable, Codable, Equatable {
        /// `2026-11`.
        public var month: String
        public var count: Int
    }

    public var generatedAt: Date
    public var devices: Int
    public var reporting: Int
    public var screenLock: VerdictCounts
    public var encryption: VerdictCounts
    public var usbWindowDays: Int
    public var usb: USBInsertionTotals
    /// Nil before the first directory sync.
    public var accounts: Int?
    public var zombieAccounts: Int?
    public var overduePasswords: Int?
    /// Leavers in the latest offboarding plan with something still to do; nil before the first plan.
    public var offboardingOutstanding: Int?
    public var licenceProducts: Int
    public var licenceShortfalls: Int
    public var licencesExpiringSoon: Int
    public var openIncidents: Int
    public var incidentsPerMonth: [MonthCount]
    public var usbInsertionsPerMonth: [MonthCount]
    /// Recorded daily since the controller first drew an overview.
    public var history: [ComplianceDay]

    /// Reads every figure and records today's row of the compliance history.
    public static func gather(store: ControllerStore, configuration: ControllerConfiguration, now: Date = Date()) async throws -> EstateOverview {
        try await gather(from: EstateSections(store: store, configuration: configuration, now: now))
    }

    /// The same, sharing the postures, account standing and licence reconciliation `sections` has made or will make.
    static func gather(from sections: EstateSections) async throws -> EstateOverview {
        let (store, now, usbWindowDays) = (sections.store, sections.now, sections.usbWindowDays)
        let (devices, reporting) = try await store.deviceCounts(reportingSince: now.addingTimeInterval(-sections.staleAfter))
        var screenLock = VerdictCounts(), encryption = VerdictCounts()
        for (lock, encrypted, machines) in try await store.postureCounts(policy: sections.configuration.posture) {
            count(lock, machines, into: &screenLock)
            count(encrypted, machines, into: &encryption)
        }
        let usb = try await store.usbInsertionTotals(from: now.addingTimeInterval(-Double(usbWindowDays) * 86400), to: now.addingTimeInterval(1))
        let standing = try await sections.facts.accountFigures()
        var outstanding: Int?
        if let id = try await store.latestOffboardingPlanID(),
           let view = try await store.offboarding(planID: id, equipmentPolicy: sections.configuration.equipment) {
            outstanding = view.leavers.filter { $0.outstanding > 0 }.count
        }
        let licences = try await sections.facts.licenceFigures()
        let months = Self.months(endingWith: now, count: 12)
        let incidentCounts = try await store.counts(in: "incidents", column: "occurred_at", periods: months.map(\.interval))
        let usbCounts = try await store.counts(in: "usb_events", column: "occurred_at", periods: months.map(\.interval), where: "action <> 'remove'")
        let today = ComplianceDay(day: Day(now).iso, devices: devices, reporting: reporting, screenLockPass: screenLock.compliant,
                                  encryptionPass: encryption.compliant, accounts: standing?.rotationChecked ?? 0,
                                  zombieAccounts: standing?.zombies ?? 0, overduePasswords: standing?.overduePasswords ?? 0)
        try await store.recordComplianceDay(today)
        return EstateOverview(
            generatedAt: now, devices: devices, reporting: reporting, screenLock: screenLock, encryption: encryption, usbWindowDays: usbWindowDays,
            usb: usb, accounts: standing?.accounts, zombieAccounts: standing?.zombies, overduePasswords: standing?.overduePasswords,
            offboardingOutstanding: outstanding, licenceProducts: licences.products.count,
            licenceShortfalls: licences.products.filter { !$0.inOrder }.count, licencesExpiringSoon: licences.products.filter(\.expiresSoon).count,
            openIncidents: try await store.incidentCount(status: .open),
            incidentsPerMonth: zip(months, incidentCounts).map { MonthCount(month: $0.label, count: $1) },
            usbInsertionsPerMonth: zip(months, usbCounts).map { MonthCount(month: $0.label, count: $1) },
            history: try await store.complianceHistory(since: Day(now.addingTimeInterval(-365 * 86400)).iso))
    }

    static func count(_ status: Verdict.Status, _ machines: Int, into counts: inout VerdictCounts) {
        switch status {
        case .pass: counts.pass += machines
        case .fail: counts.fail += machines
        case .notRequired: counts.notRequired += machines
        case .unknown: counts.unknown += machines
        }
    }

    /// The `count` calendar months (UTC) up to and including the one `now` falls in, oldest first.
    static func months(endingWith now: Date, count: Int) -> [(label: String, interval: DateInterval)] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!  // safe: UTC always exists
        let start = calendar.date(from: calendar.dateComponents([.year, .month], from: now)) ?? now
        return (0..<count).reversed().compactMap { back in
            guard let from = calendar.date(byAdding: .month, value: -back, to: start),
                  let to = calendar.date(byAdding: .month, value: 1, to: from) else { return nil }
            let parts = calendar.dateComponents([.year, .month], from: from)
            return (String(format: "%04d-%02d", parts.year ?? 0, parts.month ?? 0), DateInterval(start: from, end: to))
        }
    }
}
