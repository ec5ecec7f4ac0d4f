public import Foundation

/// `rollcall licences reconcile`: per product, seats in force against installations, from the devices' latest
/// reports, with the machines behind every number.
///
/// Purchases of one product add up while each is in force; an expired purchase's seats no longer count, and one
/// expiring within the warning window is flagged with the seats it takes with it. Devices a technician has revoked
/// do not count. Per-user licences count the people the equipment register issues the machines to; a machine issued
/// to nobody counts as one user of its own, so a gap in the register can only overstate the need, never hide it.
public struct LicenceReconciliation: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// More installations (or users) than seats in force: buy seats or uninstall.
        case short
        /// Seats nobody uses: a renewal could be smaller.
        case spare
        case exact
        /// A site licence: any number of installations.
        case site
        /// Concurrent use cannot be seen from installations.
        case notJudged = "not judged"
    }

    public struct Machine: Sendable, Codable, Equatable {
        public var deviceID: String
        public var hostname: String?
        public var lastSeen: Date
        /// `dpkg google-chrome-stable 131.0.6778.85-1`, one per matching package on the machine.
        public var packages: [String]
        /// The person the equipment register issues it to (per-user licences).
        public var holder: String?
    }

    public struct Product: Sendable, Codable, Equatable {
        public var product: String
        public var vendor: String?
        public var kind: LicenceKind
        public var match: String
        public var versions: String?
        public var references: [String]
        /// Seats of purchases in force today (nil: site licence).
        public var seatsInForce: Int?
        /// Seats of purchases that have expired: not counted.
        public var seatsExpired: Int
        /// The earliest expiry among purchases in force, and the seats that go with purchases expiring within the window.
        public var nextExpiry: Day?
        public var seatsExpiringSoon: Int
        /// A purchase in force expires within the warning window (for a site licence, the only sign of it).
        public var expiresSoon: Bool
        /// Machines with a matching installation.
        public var devices: Int
        /// What is counted against the seats: machines, or people for per-user licences.
        public var used: Int
        /// For per-user licences: machines with no one issued them in the register, each counted as a user.
        public var unassignedDevices: Int
        public var status: Status
        /// `used - seatsInForce` when short, `seatsInForce - used` when spare, else 0.
        public var difference: Int
        public var machines: [Machine]

        /// Whether a governor would call this licence in order: no shortfall and nothing expired unreplaced.
        public var inOrder: Bool { status != .short && !(seatsInForce == 0 && seatsExpired > 0) }
    }

    /// A package no licence covers that looks like commercial software, for the technician to decide about.
    public struct Unlicensed: Sendable, Codable, Equatable {
        public var source: String
        public var name: String
        public var versions: String
        public var devices: Int
        public var maintainer: String?
        public var section: String?
        public var reason: String
    }

    public var generatedAt: Date
    public var expiryWarningDays: Int
    public var products: [Product]
    public var unlicensed: [Unlicensed]
    /// Enrolled devices with a report, of which the figures are drawn.
    public var devicesReporting: Int

    /// Reconciles the register in the store against the latest reports, with the machines behind every number and
    /// the commercial-looking packages no licence covers. Installations come from the store's licence matches (kept
    /// as reports arrive, matched afresh when the register changes); titles from its package catalogue.
    public static func run(store: ControllerStore, now: Date = Date(), expiryWarningDays: Int = 60) async throws -> LicenceReconciliation {
        try await store.refreshLicenceMatches()
        let licences = try await store.licences()
        var machines: [String: [Machine]] = [:]
        for (productKey, machine) in try await store.licenceMatches() { machines[productKey, default: []].append(machine) }
        let purchases = byProduct(licences)
        let products = purchases.map { purchases in
            let found = (machines[purchases[0].productKey] ?? [])
                .sorted { ($0.hostname ?? $0.deviceID, $0.deviceID) < ($1.hostname ?? $1.deviceID, $1.deviceID) }
            let unassigned = found.filter { $0.holder == nil }.count
            return product(purchases, devices: found.count, users: Set(found.compactMap(\.holder)).count + unassigned, unassigned: unassigned,
                           machines: found, now: now, expiryWarningDays: expiryWarningDays)
        }
        return LicenceReconciliation(generatedAt: now, expiryWarningDays: expiryWarningDays, products: products,
                                     unlicensed: try await unlicensed(store: store, purchases: purchases),
                                     devicesReporting: try await store.reportingDeviceCount())
    }

    /// The package titles in the catalogue that no licence names and that look commercial, most installed first.
    static func unlicensed(store: ControllerStore, purchases: [[Licence]]) async throws -> [Unlicensed] {
        // Rules were checked at import; one that fails now (a newer, stricter parser) matches nothing, visibly.
        let rules = purchases.compactMap { try? LicenceRule(match: $0[0].match, versions: $0[0].versions) }
        return try await store.packageTitles().compactMap { title -> Unlicensed? in
            guard !rules.contains(where: { $0.matches(source: title.key.source, name: title.key.name, version: nil) }),
                  let reason = CommercialSoftware.reason(source: title.key.source, name: title.key.name, section: title.section,
                                                         maintainer: title.maintainer) else {
                return nil
            }
            let versions = title.lowestVersion == title.highestVersion ? title.lowestVersion : "\(title.lowestVersion) … \(title.highestVersion)"
            return Unlicensed(source: title.key.source, name: title.key.name, versions: versions, devices: title.devices,
                              maintainer: title.maintainer, section: title.section, reason: reason)
        }.sorted { ($1.devices, $0.name) < ($0.devices, $1.name) }
    }

    /// The same per-product figures, counted by the store without listing the machines (`machines` is empty), and
    /// with the unlicensed packages only when asked: what the overview and the licences page show.
    public static func figures(store: ControllerStore, now: Date = Date(), expiryWarningDays: Int = 60,
                               unlicensed listUnlicensed: Bool = false) async throws -> LicenceReconciliation {
        try await store.refreshLicenceMatches()
        let purchases = byProduct(try await store.licences())
        let counts = try await store.licenceMatchCounts(perUser: Set(purchases.filter { $0[0].kind == .perUser }.map { $0[0].productKey }))
        let products = purchases.map { purchases in
            let count = counts[purchases[0].productKey] ?? (0, 0, 0)
            return product(purchases, devices: count.devices, users: count.users, unassigned: count.unassigned, machines: [], now: now,
                           expiryWarningDays: expiryWarningDays)
        }
        return LicenceReconciliation(generatedAt: now, expiryWarningDays: expiryWarningDays, products: products,
                                     unlicensed: listUnlicensed ? try await unlicensed(store: store, purchases: purchases) : [],
                                     devicesReporting: try await store.reportingDeviceCount())
    }

    /// The register's purchases grouped by product, in register order.
    static func byProduct(_ licences: [Licence]) -> [[Licence]] {
        var groups: [String: [Licence]] = [:]
        var order: [String] = []
        for licence in licences {
            if groups[licence.productKey] == nil { order.append(licence.productKey) }
            groups[licence.productKey, default: []].append(licence)
        }
        return order.compactMap { groups[$0] }
    }

    /// One product's seats against its use: `devices` with an installation, `users` (people, a machine issued to
    /// nobody counting as one) and `unassigned` machines.
    static func product(_ purchases: [Licence], devices: Int, users: Int, unassigned: Int, machines: [Machine], now: Date,
                        expiryWarningDays: Int) -> Product {
        let today = Day(now)
        let warnBefore = today.adding(days: expiryWarningDays)
        let first = purchases[0]
        let inForce = purchases.filter { $0.expires.map { $0 >= today } ?? true }
        let seatsInForce: Int? = first.kind == .site ? nil : inForce.reduce(0) { $0 + ($1.seats ?? 0) }
        let seatsExpired = purchases.filter { $0.expires.map { $0 < today } ?? false }.reduce(0) { $0 + ($1.seats ?? 0) }
        let expiringSoon = inForce.filter { $0.expires.map { $0 <= warnBefore } ?? false }
        let used = first.kind == .perUser ? users : devices
        var status = Status.exact
        var difference = 0
        switch first.kind {
        case .site: status = .site
        case .concurrent: status = .notJudged
        case .perDevice, .perUser:
            let seats = seatsInForce ?? 0
            if used > seats { status = .short; difference = used - seats } else if used < seats { status = .spare; difference = seats - used }
        }
        return Product(
            product: first.product, vendor: purchases.compactMap(\.vendor).first, kind: first.kind, match: first.match, versions: first.versions,
            references: purchases.compactMap(\.reference), seatsInForce: seatsInForce, seatsExpired: seatsExpired,
            nextExpiry: inForce.compactMap(\.expires).min(), seatsExpiringSoon: expiringSoon.reduce(0) { $0 + ($1.seats ?? 0) },
            expiresSoon: !expiringSoon.isEmpty, devices: devices, used: used, unassignedDevices: first.kind == .perUser ? unassigned : 0,
            status: status, difference: difference, machines: machines)
    }
}

/// The signs that a package is commercial software: who packaged it and where the archive files it.
enum CommercialSoftware {
    /// Vendors whose Linux software is sold, or free only under terms a school must track.
    static let vendors = ["google", "microsoft", "zoom", "adobe", "oracle", "vmware", "broadcom", "citrix", "teamviewer", "anydesk",
                          "dropbox", "slack", "spotify", "smart technologies", "promethean", "jetbrains", "sublime", "mathworks",
                          "wolfram", "autodesk", "parallels", "sophos", "eset", "kaspersky", "bitdefender", "crowdstrike", "cisco",
                          "fortinet", "palo alto", "rm education", "securly", "smoothwall", "impero", "netsupport", "faronics", "lightspeed"]
    /// Snap and flatpak names (no maintainer field) of well-known commercial applications.
    static let applications = ["zoom", "zoom-client", "us.zoom.zoom", "spotify", "com.spotify.client", "slack", "com.slack.slack", "skype",
                               "com.skype.client", "teams", "code", "com.visualstudio.code", "sublime-text", "com.sublimetext.three",
                               "com.google.chrome", "google-chrome", "anydesk", "com.anydesk.anydesk", "teamviewer", "com.teamviewer.teamviewer",
                               "pycharm-professional", "intellij-idea-ultimate", "webstorm", "phpstorm", "clion", "datagrip", "rider",
                               "com.jetbrains.intellij-idea-ultimate", "com.jetbrains.pycharm-professional", "mathematica", "matlab"]
    /// Distribution domains: a package maintained there is the distribution's own, whatever its licence.
    static let distributionDomains = ["debian.org", "lists.debian.org", "alioth-lists.debian.net", "lists.alioth.debian.org",
                                      "ubuntu.com", "lists.ubuntu.com", "canonical.com", "raspberrypi.com", "raspberrypi.org",
                                      "linuxmint.com", "kali.org", "devuan.org", "pop-os.org", "system76.com"]
    /// Rollcall's own packages, never flagged.
    static let own = ["rollcall-agent", "rollcall-controller"]

    static func reason(source: String, name: String, section: String?, maintainer: String?) -> String? {
        let bare = LicenceRule.bareName(source: source, name: name).lowercased()
        if own.contains(bare) { return nil }
        if let maintainer {
            let lower = maintainer.lowercased()
            // `Name <address>`: the vendor is a word of the name or the address's domain (microsoft.com), never a
            // fragment of it (a Debian developer at googlemail.com is not Google).
            let name = String(lower.prefix { $0 != "<" })
            let domain = lower.contains("@") ? String(lower.split(separator: "@").last?.prefix { $0 != ">" } ?? "") : ""
            let domainLabels = domain.split(separator: ".").map(String.init)
            let distribution = distributionDomains.contains { domain == $0 || domain.hasSuffix("." + $0) }
            let named = { (vendor: String) in
                name.range(of: "\\b\(NSRegularExpression.escapedPattern(for: vendor))\\b", options: .regularExpression) != nil
                    || (domainLabels.count >= 2 && domainLabels[domainLabels.count - 2] == vendor)
            }
            if !distribution, let vendor = vendors.first(where: named) {
                return "packaged by \(vendor.capitalized)'s own repository (Maintainer: \(maintainer))"
            }
            if !distribution, lower.range(of: #"\b(inc\.?|ltd\.?|limited|llc|gmbh|corporation|corp\.?|plc|s\.a\.|b\.v\.)(\s|<|,|$)"#,
                                          options: .regularExpression) != nil {
                return "packaged by a company (Maintainer: \(maintainer))"
            }
        }
        if let section {
            let area = section.split(separator: "/").first.map(String.init) ?? ""
            if ["non-free", "restricted", "multiverse", "partner"].contains(area) {
                return "in the \(area) archive area (Section \(section)): its licence restricts use or redistribution"
            }
        }
        if source != "dpkg", applications.contains(bare) { return "a commercial application (\(source))" }
        return nil
    }
}
