import Foundation
import Hummingbird

/// One section's page: the query string's filter, sort and page applied to the section's table, then HTML (a page of
/// rows), CSV or JSON (every matching row, in the same order).
struct TablePage {
    var table: DashboardTable
    let fields: FormFields
    let path: String

    init(table: DashboardTable, request: Request) {
        self.table = table
        fields = FormFields(request.uri.query)
        path = request.uri.path
    }

    func respond(session: DashboardSession, before: String = "", after: String = "", flash: String? = nil,
                 status: HTTPResponse.Status = .ok) throws -> Response {
        let query = fields["q"] ?? ""
        let sortKey = fields["sort"]
        let descending = fields["dir"] == "desc"
        let total = table.rows.count
        let shown = table.filtered(query).sorted(by: sortKey, descending: descending)
        switch fields["format"] ?? "html" {
        case "csv": return DashboardPage.export(shown.csv(), csv: true, name: table.name)
        case "json": return DashboardPage.export(try shown.json(), csv: false, name: table.name)
        default: break
        }
        let pages = max(1, (shown.rows.count + DashboardRoutes.pageSize - 1) / DashboardRoutes.pageSize)
        let page = min(max(1, Int(fields["page"] ?? "1") ?? 1), pages)
        let slice = shown.rows.dropFirst((page - 1) * DashboardRoutes.pageSize).prefix(DashboardRoutes.pageSize)
        func link(sort: String? = sortKey, descending: Bool = descending, page: Int? = nil, format: String? = nil) -> String {
            var parts: [String] = []
            if !query.isEmpty { parts.append("q=" + FormFields.encode(query)) }
            if let sort { parts.append("sort=" + FormFields.encode(sort)); parts.append("dir=" + (descending ? "desc" : "asc")) }
            if let page, page > 1 { parts.append("page=\(page)") }
            if let format { parts.append("format=" + format) }
            return path + (parts.isEmpty ? "" : "?" + parts.joined(separator: "&"))
        }
        let columns = table.columns.map { column -> [String: Any] in
            let current = column.key == sortKey
            var entry: [String: Any] = [
                "label": column.label, "numeric": column.numeric,
                // A second click on the sorted column turns it round.
                "href": link(sort: column.key, descending: current ? !descending : false),
            ]
            if current {
                entry["arrow"] = descending ? "▼" : "▲"
                entry["ariaSort"] = descending ? "descending" : "ascending"
            }
            return entry
        }
        let rows = slice.map { row -> [String: Any] in
            var cells: [[String: Any]] = []
            for (index, value) in row.values.enumerated() {
                var cell: [String: Any] = ["text": value.display, "numeric": table.columns[index].numeric]
                if case .date = value { cell["date"] = true }
                if index == 0, let href = row.link { cell["href"] = href }
                cells.append(cell)
            }
            var entry: [String: Any] = ["cells": cells]
            if let tone = row.tone { entry["tone"] = tone }
            return entry
        }
        var context: [String: Any] = [
            "title": table.title, "notes": table.notes, "path": path, "query": query, "hasQuery": !query.isEmpty, "columns": columns, "rows": rows,
            "columnCount": table.columns.count, "empty": query.isEmpty ? table.emptyMessage : "No row matches “\(query)”.",
            "shown": slice.count, "matching": shown.rows.count, "total": total, "filteredOut": shown.rows.count != total,
            "csvHref": link(format: "csv"), "jsonHref": link(format: "json"), "name": table.name, "before": before, "after": after,
        ]
        if let sortKey { context["sort"] = ["key": sortKey, "dir": descending ? "desc" : "asc"] }
        if pages > 1 {
            var paging: [String: Any] = ["page": page, "pages": pages]
            if page > 1 { paging["previous"] = link(page: page - 1) }
            if page < pages { paging["next"] = link(page: page + 1) }
            context["paging"] = paging
        }
        return DashboardPage.response(title: table.title, session: session, current: path, content: DashboardTemplates.render("table", context),
                                      flash: flash, status: status)
    }
}

/// The overview's tiles and charts.
struct OverviewPage {
    let overview: EstateOverview
    /// Tiles link to the pages this role may open; nil (a printed report) links nowhere.
    let role: DashboardRole?

    func html() -> String {
        func link(_ path: String, _ permission: DashboardPermission) -> String? { role?.may(permission) == true ? path : nil }
        func tile(_ title: String, _ value: String, _ detail: String, tone: String, _ href: String?) -> [String: Any] {
            var tile: [String: Any] = ["title": title, "value": value, "detail": detail, "tone": tone]
            if let href { tile["href"] = href }
            return tile
        }
        let o = overview
        var tiles: [[String: Any]] = [
            tile("Devices reporting", "\(o.reporting) / \(o.devices)", "\(o.devices - o.reporting) not seen for over a week",
                 tone: o.reporting == o.devices ? "good" : "warn", link("/devices", .estate)),
            tile("Screen lock", "\(o.screenLock.compliant) / \(o.devices)", "\(o.screenLock.fail) fail, \(o.screenLock.unknown) unknown",
                 tone: o.screenLock.fail > 0 ? "bad" : (o.screenLock.unknown > 0 ? "warn" : "good"), link("/devices?sort=screen_lock", .estate)),
            tile("Encryption", "\(o.encryption.compliant) / \(o.devices)", "\(o.encryption.fail) fail, \(o.encryption.unknown) unknown",
                 tone: o.encryption.fail > 0 ? "bad" : (o.encryption.unknown > 0 ? "warn" : "good"), link("/devices?sort=encryption", .estate)),
            tile("USB storage, \(o.usbWindowDays) days", "\(o.usb.total)", "\(o.usb.unapproved) unapproved, \(o.usb.blocked) blocked",
                 tone: o.usb.unapproved > 0 ? "warn" : "good", link("/usb", .estate)),
        ]
        if let zombies = o.zombieAccounts, let overdue = o.overduePasswords, let accounts = o.accounts {
            tiles.append(tile("Zombie accounts", "\(zombies)", "leavers', orphan or stale accounts still enabled, of \(accounts)",
                              tone: zombies > 0 ? "bad" : "good", link("/accounts?sort=finding&dir=desc", .estate)))
            tiles.append(tile("Passwords overdue", "\(overdue)", "older than the six-month rule", tone: overdue > 0 ? "warn" : "good",
                              link("/accounts?sort=password_age_days&dir=desc", .estate)))
        } else {
            tiles.append(tile("Accounts", "not synced", "run `rollcall directory sync`", tone: "warn", nil))
        }
        tiles.append(tile("Offboarding", o.offboardingOutstanding.map(String.init) ?? "no plan", "leavers with accounts or equipment outstanding",
                          tone: (o.offboardingOutstanding ?? 0) > 0 ? "warn" : "good", link("/offboarding", .estate)))
        tiles.append(tile("Licence shortfalls", "\(o.licenceShortfalls)", "of \(o.licenceProducts) products; \(o.licencesExpiringSoon) expiring soon",
                          tone: o.licenceShortfalls > 0 ? "bad" : (o.licencesExpiringSoon > 0 ? "warn" : "good"), link("/licences", .estate)))
        tiles.append(tile("Open incidents", "\(o.openIncidents)", "in the e-safety incident log", tone: o.openIncidents > 0 ? "warn" : "good",
                          link("/incidents", .incidents)))
        let history = o.history
        func percent(_ part: Int, _ whole: Int) -> Double? { whole > 0 ? Double(part) * 100 / Double(whole) : nil }
        let compliance = TrendChart.lines(title: "Compliance over time", labels: history.map(\.day), series: [
            .init(name: "reporting", values: history.map { percent($0.reporting, $0.devices) }, css: "s1"),
            .init(name: "screen lock", values: history.map { percent($0.screenLockPass, $0.devices) }, css: "s2"),
            .init(name: "encryption", values: history.map { percent($0.encryptionPass, $0.devices) }, css: "s3"),
        ])
        return DashboardTemplates.render("overview", [
            "generatedAt": DashboardTable.Value.timestamp(o.generatedAt), "tiles": tiles,
            "incidentsChart": TrendChart.bars(title: "Incidents per month", points: o.incidentsPerMonth.map { .init(label: $0.month, value: $0.count) }),
            "usbChart": TrendChart.bars(title: "USB insertions per month", points: o.usbInsertionsPerMonth.map { .init(label: $0.month, value: $0.count) }),
            "complianceChart": compliance,
        ])
    }
}

/// The incident form, the incident page and what their fields mean.
enum IncidentPages {
    static func form(session: DashboardSession, error: String? = nil, now: Date = Date()) -> String {
        var context: [String: Any] = [
            "csrf": session.csrfToken, "reporter": session.user,
            "now": String(DashboardTable.Value.timestamp(now).prefix(16)),
            "categories": IncidentCategory.allCases.filter { $0 != .usbStorage }.map { ["value": $0.rawValue, "label": $0.label] },
            "actions": IncidentAction.allCases.map { ["value": $0.rawValue, "label": $0.label] },
        ]
        if let error { context["error"] = error }
        return DashboardTemplates.render("incidentForm", context)
    }

    static func newIncident(_ fields: FormFields, session: DashboardSession) throws -> NewIncident {
        guard let category = fields["category"].flatMap(IncidentCategory.init(rawValue:)), category != .usbStorage else {
            throw IncidentError.invalidField("category", "choose one of the listed categories")
        }
        guard let when = fields["when"].flatMap(parseLocalTime) else {
            throw IncidentError.invalidField("when", "give the date and time it happened")
        }
        return NewIncident(category: category, occurredAt: when, reportedBy: nonEmpty(fields["reported_by"]) ?? session.user,
                           location: nonEmpty(fields["where"]), involved: nonEmpty(fields["who"]), description: fields["description"] ?? "",
                           deviceID: nil, actions: try actions(fields), outcome: nonEmpty(fields["outcome"]))
    }

    static func update(_ fields: FormFields, current: Incident) throws -> IncidentUpdate {
        let chosen = Set(try actions(fields))
        var update = IncidentUpdate()
        update.addActions = IncidentAction.allCases.filter { chosen.contains($0) && !current.actions.contains($0) }
        update.removeActions = current.actions.filter { !chosen.contains($0) }
        let outcome = fields["outcome"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if outcome != (current.outcome ?? "") { update.outcome = outcome }
        let closed = fields["close"] != nil
        if closed != (current.status == .closed) { update.status = closed ? .closed : .open }
        return update
    }

    static func actions(_ fields: FormFields) throws -> [IncidentAction] {
        try fields.all("action").map { value in
            guard let action = IncidentAction(rawValue: value) else { throw IncidentError.invalidField("action", "'\(value)' is not on the list") }
            return action
        }
    }

    static func detail(_ incident: Incident, history: [AuditEntry], session: DashboardSession, error: String? = nil) -> String {
        var context: [String: Any] = [
            "id": incident.id, "category": incident.category?.label ?? incident.kind, "status": incident.status.rawValue,
            "occurredAt": DashboardTable.Value.timestamp(incident.occurredAt), "reportedBy": incident.reportedBy,
            "location": incident.location ?? "", "involved": incident.involved ?? "", "description": incident.description,
            "actionsTaken": incident.actions.map(\.label), "outcome": incident.outcome ?? "", "closed": incident.status == .closed,
            "canRecord": session.role.may(.recordIncidents), "csrf": session.csrfToken,
            "actions": IncidentAction.allCases.map { ["value": $0.rawValue, "label": $0.label, "checked": incident.actions.contains($0)] },
            "history": history.map { ["at": DashboardTable.Value.timestamp($0.at), "actor": $0.actor, "action": $0.action, "detail": $0.detail] },
        ]
        if let error { context["error"] = error }
        return DashboardTemplates.render("incident", context)
    }

    /// `2026-11-24T09:30` from a datetime-local input, read as UTC.
    static func parseLocalTime(_ text: String) -> Date? {
        let parts = text.split(separator: "T")
        guard parts.count == 2, let day = Day(iso: String(parts[0])) else { return nil }
        let time = parts[1].split(separator: ":").compactMap { Int($0) }
        guard time.count >= 2, (0..<24).contains(time[0]), (0..<60).contains(time[1]) else { return nil }
        return day.date.addingTimeInterval(Double(time[0] * 3600 + time[1] * 60))
    }

    static func nonEmpty(_ text: String?) -> String? {
        guard let trimmed = text?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else { return nil }
        return trimmed
    }
}
