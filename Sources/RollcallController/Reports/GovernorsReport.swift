public import Foundation
import RollcallProtocol

/// The report the governing body receives: counts and trends per school term, never a name, user name, host name,
/// serial number or address, and no count small enough (1 to 4) to point at a child.
///
/// It is built from counts only: every query behind it returns numbers, so nothing identifying can reach it by
/// accident. Where hiding one small count would still let it be worked out from a total, the next smallest count in
/// that breakdown is hidden too.
public struct GovernorsReport: Sendable, Codable {
    /// What a count shows: the number, or "fewer than 5" when it is 1 to 4 (or hidden to protect such a count).
    public struct Count: Sendable, Codable, Equatable, CustomStringConvertible {
        public var value: Int?
        public var suppressed: Bool

        init(_ value: Int) {
            self.value = value
            suppressed = false
        }

        static let hidden = Count(value: nil, suppressed: true)

        private init(value: Int?, suppressed: Bool) {
            self.value = value
            self.suppressed = suppressed
        }

        public var description: String { value.map(String.init) ?? "fewer than 5" }
    }

    /// Rows of a breakdown (incidents by category, by action): label and count.
    public struct Breakdown: Sendable, Codable, Equatable {
        public var rows: [Row]

        public struct Row: Sendable, Codable, Equatable {
            public var label: String
            public var count: Count
        }

        /// Primary suppression of 1 to 4, then secondary: a single hidden cell would follow from the total, so the
        /// smallest other non-zero cell is hidden with it.
        init(_ counts: [(String, Int)]) {
            var rows = counts.map { Row(label: $0.0, count: GovernorsReport.suppress($0.1)) }
            if rows.filter(\.count.suppressed).count == 1,
               let next = counts.enumerated().filter({ $0.element.1 >= GovernorsReport.threshold }).min(by: { $0.element.1 < $1.element.1 }) {
                rows[next.offset].count = .hidden
            }
            self.rows = rows
        }
    }

    /// A share as a whole percentage, hidden when fewer than five are counted.
    public struct Share: Sendable, Codable, Equatable, CustomStringConvertible {
        public var percent: Int?
        public var of: Count

        init(_ part: Int, of whole: Int) {
            percent = whole >= GovernorsReport.threshold ? Int((Double(part) * 100 / Double(whole)).rounded()) : nil
            of = GovernorsReport.suppress(whole)
        }

        public var description: String {
            guard let percent else { return of.value == 0 ? "none to count" : "too few to show" }
            return "\(percent)% of \(of)"
        }
    }

    public struct Term: Sendable, Codable, Equatable {
        public var name: String
        public var from: String
        public var to: String
        public var incidents: Count
        public var incidentsByCategory: Breakdown
        public var incidentsByAction: Breakdown
        public var usbInsertions: Count
        public var usbApproved: Count
        public var usbUnapproved: Count
        public var usbBlocked: Count
        public var leavers: Count
        public var leaversDisabledOnTime: Share
        /// Compliance on the last day recorded in the term, when the controller recorded one.
        public var devicesReporting: Share?
        public var screenLockCompliant: Share?
        public var encryptionCompliant: Share?
        public var passwordsWithinPolicy: Share?
    }

    public static let threshold = 5
    public var generatedAt: Date
    public var terms: [Term]
    public var licenceProducts: Count
    public var licencesInOrder: Share

    static func suppress(_ value: Int) -> Count {
        (1..<threshold).contains(value) ? .hidden : Count(value)
    }

    /// The current term and the `terms - 1` before it. A leaver's account counts as disabled on time when the disable
    /// was applied by the end of the day after their leaving date.
    public static func gather(store: ControllerStore, configuration: ControllerConfiguration, now: Date = Date(), terms count: Int = 3) async throws -> GovernorsReport {
        var terms: [Term] = []
        let history = try await store.complianceHistory(since: "0000")
        let allIncidents = try await store.incidents()
        for term in SchoolTerm.recent(count, endingWith: now) {
            let end = min(term.interval.end, now.addingTimeInterval(1))
            let incidents = allIncidents.filter { term.interval.contains($0.occurredAt) }
            let byCategory = IncidentCategory.allCases.map { category in (category.label, incidents.filter { $0.kind == category.rawValue }.count) }
            let byAction = IncidentAction.allCases.map { action in (action.label, incidents.filter { $0.actions.contains(action) }.count) }
            let usb = try await store.usbInsertionTotals(from: term.interval.start, to: end)
            let leavers = try await store.leaverDisables(from: term.interval.start, to: end)
            let onTime = leavers.filter { leaver in leaver.disabledAt.map { $0 < leaver.leftOn.addingTimeInterval(2 * 86400) } ?? false }.count
            let last = history.last { $0.day >= Day(term.interval.start).iso && $0.day < Day(term.interval.end).iso }
            terms.append(Term(
                name: term.name, from: Day(term.interval.start).iso, to: Day(term.interval.end.addingTimeInterval(-1)).iso,
                incidents: suppress(incidents.count), incidentsByCategory: Breakdown(byCategory), incidentsByAction: Breakdown(byAction),
                usbInsertions: suppress(usb.total), usbApproved: suppress(usb.approved), usbUnapproved: suppress(usb.unapproved),
                usbBlocked: suppress(usb.blocked), leavers: suppress(leavers.count), leaversDisabledOnTime: Share(onTime, of: leavers.count),
                devicesReporting: last.map { Share($0.reporting, of: $0.devices) },
                screenLockCompliant: last.map { Share($0.screenLockPass, of: $0.devices) },
                encryptionCompliant: last.map { Share($0.encryptionPass, of: $0.devices) },
                passwordsWithinPolicy: last.map { Share($0.accounts - $0.overduePasswords, of: $0.accounts) }))
        }
        let licences = try await LicenceReconciliation.run(store: store, now: now)
        return GovernorsReport(generatedAt: now, terms: terms, licenceProducts: suppress(licences.products.count),
                               licencesInOrder: Share(licences.products.filter(\.inOrder).count, of: licences.products.count))
    }

    public enum Format: String, Sendable, CaseIterable {
        case html, csv, json
    }

    public func render(_ format: Format) throws -> String {
        switch format {
        case .json: String(decoding: try RollcallJSON.encoder(pretty: true).encode(self), as: UTF8.self) + "\n"
        case .csv: csv()
        case .html: DashboardTemplates.document(title: "E-safety report for governors", body: htmlBody())
        }
    }

    /// `term, measure, item, value`: one row per figure, for a spreadsheet.
    public func csv() -> String {
        var lines = [CSVWriter.row(["term", "from", "to", "measure", "item", "value"])]
        for term in terms {
            for (measure, item, value) in term.figures {
                lines.append(CSVWriter.row([term.name, term.from, term.to, measure, item, value]))
            }
        }
        lines.append(CSVWriter.row(["now", "", Day(generatedAt).iso, "licences", "products registered", licenceProducts.description]))
        lines.append(CSVWriter.row(["now", "", Day(generatedAt).iso, "licences", "products in order", licencesInOrder.description]))
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// The report's body, for the governor's dashboard page and the printable document.
    public func htmlBody() -> String {
        let escape = HTML.escape
        var html = "<p class=\"meta\">Generated \(escape(DashboardTable.Value.timestamp(generatedAt))). Counts from 1 to 4 are shown as "
            + "“fewer than 5” so that no pupil or member of staff can be identified; where one hidden count could be worked out from the "
            + "others, another is hidden too. Terms: autumn September–December, spring January–March, summer April–August.</p>\n"
        html += "<h2>Licences</h2><p>\(escape(licencesInOrder.description)) registered product(s) in order (enough seats, none expired).</p>\n"
        for term in terms {
            html += "<section class=\"term\"><h2>\(escape(term.name)) <small>\(term.from) to \(term.to)</small></h2>\n<table class=\"figures\"><tbody>\n"
            var measure = ""
            for (group, item, value) in term.figures {
                if group != measure {
                    html += "<tr><th colspan=\"2\" scope=\"rowgroup\">\(escape(group))</th></tr>\n"
                    measure = group
                }
                html += "<tr><td>\(escape(item))</td><td class=\"num\">\(escape(value))</td></tr>\n"
            }
            html += "</tbody></table></section>\n"
        }
        if terms.count > 1 { html += trendChart() }
        return html
    }

    func trendChart() -> String {
        let series = terms.reversed().map { ($0.name, $0.incidents.value ?? 0, $0.incidents.suppressed) }
        return "<h2>Incidents per term</h2>\n<figure class=\"trend\">"
            + TrendChart.bars(title: "Incidents per term", points: series.map { TrendChart.Point(label: $0.0, value: $0.1, hidden: $0.2) }) + "</figure>\n"
    }
}

extension GovernorsReport.Term {
    /// (measure, item, shown value) in the order the report lists them.
    var figures: [(String, String, String)] {
        var rows: [(String, String, String)] = [("E-safety incidents", "logged", incidents.description)]
        rows += incidentsByCategory.rows.filter { $0.count.value != 0 }.map { ("Incidents by type", $0.label, $0.count.description) }
        rows += incidentsByAction.rows.filter { $0.count.value != 0 }.map { ("Action taken", $0.label, $0.count.description) }
        rows += [
            ("USB storage", "insertions", usbInsertions.description), ("USB storage", "approved", usbApproved.description),
            ("USB storage", "not approved", usbUnapproved.description), ("USB storage", "blocked", usbBlocked.description),
            ("Leavers' accounts", "leavers", leavers.description), ("Leavers' accounts", "disabled on time", leaversDisabledOnTime.description),
        ]
        let compliance: [(String, GovernorsReport.Share?)] = [
            ("devices reporting", devicesReporting), ("screen lock as policy", screenLockCompliant),
            ("encryption as policy", encryptionCompliant), ("staff passwords within six months", passwordsWithinPolicy),
        ]
        for (item, share) in compliance {
            rows.append(("Compliance at the end of term", item, share?.description ?? "not recorded"))
        }
        return rows
    }
}

/// English school terms as governors' reports count them: autumn (September to December), spring (January to March)
/// and summer (April to August), in UTC.
struct SchoolTerm: Sendable {
    var name: String
    var interval: DateInterval

    static func containing(_ date: Date) -> SchoolTerm {
        let day = Day(date)
        let (name, startMonth, endMonth, startYear, endYear): (String, Int, Int, Int, Int) = switch day.month {
        case 9...12: ("Autumn \(day.year)", 9, 1, day.year, day.year + 1)
        case 1...3: ("Spring \(day.year)", 1, 4, day.year, day.year)
        default: ("Summer \(day.year)", 4, 9, day.year, day.year)
        }
        // safe: the first of a month between 1 and 12 always exists
        let start = Day(year: startYear, month: startMonth, day: 1)!.date
        let end = Day(year: endYear, month: endMonth, day: 1)!.date
        return SchoolTerm(name: name, interval: DateInterval(start: start, end: end))
    }

    /// The term `date` falls in and the `count - 1` before it, newest first.
    static func recent(_ count: Int, endingWith date: Date) -> [SchoolTerm] {
        var terms = [containing(date)]
        while terms.count < count, let first = terms.last {
            terms.append(containing(first.interval.start.addingTimeInterval(-86400)))
        }
        return terms
    }
}
