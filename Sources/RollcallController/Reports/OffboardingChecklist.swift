public import Foundation
import RollcallProtocol

/// An offboarding plan as the technician works through it: a CSV of tasks, JSON, and an HTML checklist with one
/// printable page per leaver (accounts, each item of equipment with its serial and when the agent last saw it,
/// licences, and lines to sign when everything is back).
public struct OffboardingChecklist: Sendable {
    public var view: OffboardingView
    public var generatedAt: Date

    public init(_ view: OffboardingView, generatedAt: Date = Date()) {
        self.view = view
        self.generatedAt = generatedAt
    }

    public enum Format: String, Sendable, CaseIterable {
        case table, csv, json, html
    }

    public func render(_ format: Format) throws -> String {
        switch format {
        case .table: table()
        case .csv: csv()
        case .json: String(decoding: try RollcallJSON.encoder(pretty: true).encode(view), as: UTF8.self) + "\n"
        case .html: html()
        }
    }

    /// One row per task: a leaver's account to disable, item to get back, licence note.
    public var taskRows: [[String]] {
        var rows: [[String]] = []
        for leaver in view.leavers {
            let person = [leaver.person.joinKey, leaver.person.name, leaver.person.kind.rawValue, leaver.person.leavingPhrase]
            for item in leaver.accounts {
                rows.append(person + ["account", item.uid ?? item.dn, "disable \(item.currentDN ?? item.dn)", item.status.rawValue + (item.outcome.map { ": \($0)" } ?? "")])
            }
            for note in leaver.accountNotes { rows.append(person + ["account", "-", note, "note"]) }
            for item in leaver.equipment {
                rows.append(person + ["equipment", item.tag, Self.describe(item), item.returned ? "returned" : "outstanding"])
            }
            for note in leaver.licenceNotes { rows.append(person + ["licences", "-", note, "note"]) }
        }
        return rows
    }

    static let taskHeaders = ["join_key", "name", "kind", "leaving", "task", "target", "detail", "status"]

    static func describe(_ item: OffboardingView.Item) -> String {
        guard let entry = item.entry else { return "no longer on the register" }
        var parts = [entry.makeAndModel.isEmpty ? (entry.type ?? "equipment") : entry.makeAndModel]
        if let serial = entry.serial { parts.append("serial \(serial)") }
        if let device = entry.device {
            parts.append("last seen by the agent \(Self.timestamp(device.lastSeen))" + (device.hostname.map { " as \($0)" } ?? ""))
        } else {
            parts.append("never seen by an agent")
        }
        return parts.joined(separator: ", ")
    }

    public func csv() -> String {
        ([Self.taskHeaders] + taskRows).map(CSVWriter.row).joined(separator: "\r\n") + "\r\n"
    }

    public func table() -> String {
        var lines = ["Offboarding plan \(view.plan.id), made \(Self.timestamp(view.plan.createdAt)) by \(view.plan.createdBy): "
                     + "\(view.leavers.count) leaver(s), \(view.plan.items.count) account(s) to disable"
                     + (view.plan.exceedsThreshold ? " (mass-change threshold \(view.plan.threshold) EXCEEDED: applying needs --accept-mass-change)" : "")]
        lines += view.plan.notes.map { "  - \($0)" }
        for leaver in view.leavers {
            lines.append("")
            let state = leaver.outstanding == 0 ? "nothing outstanding" : "\(leaver.outstanding) outstanding"
            lines.append("\(leaver.person.name) (\(leaver.person.joinKey), \(leaver.person.kind.rawValue)\(leaver.person.role.map { ", \($0)" } ?? "")): "
                         + "\(leaver.person.leavingPhrase) — \(state)")
            for item in leaver.accounts {
                lines.append("  [\(item.status == .done ? "x" : " ")] disable \(item.uid ?? item.dn) (\(item.currentDN ?? item.dn))"
                             + (item.outcome.map { ": \($0)" } ?? ""))
            }
            for note in leaver.accountNotes { lines.append("  -   \(note)") }
            for item in leaver.equipment {
                lines.append("  [\(item.returned ? "x" : " ")] get back \(item.tag): \(Self.describe(item))")
            }
            for note in leaver.licenceNotes { lines.append("  -   \(note)") }
        }
        if view.leavers.isEmpty { lines.append("No leavers to offboard.") }
        return lines.joined(separator: "\n") + "\n"
    }

    public func html() -> String {
        let e = HTML.escape
        var body = ""
        body += "<header><h1>Offboarding plan \(view.plan.id)</h1><p>Made \(e(Self.timestamp(view.plan.createdAt))) by \(e(view.plan.createdBy)); "
        body += "printed \(e(Self.timestamp(generatedAt))). \(view.leavers.count) leaver(s), \(view.plan.items.count) account(s) to disable.</p>"
        if !view.plan.notes.isEmpty { body += "<ul>" + view.plan.notes.map { "<li>\(e($0))</li>" }.joined() + "</ul>" }
        body += "</header>\n"
        for leaver in view.leavers {
            let person = leaver.person
            body += "<section class=\"leaver\"><h2>\(e(person.name)) <small>\(e(person.joinKey)) · \(e(person.kind.rawValue))"
            body += (person.role.map { " · \(e($0))" } ?? "") + "</small></h2>\n<p>\(e(person.leavingPhrase)).</p>\n"
            body += "<h3>Accounts</h3><table><thead><tr><th>Done</th><th>Account</th><th>Action</th><th>Status</th></tr></thead><tbody>"
            for item in leaver.accounts {
                body += "<tr><td class=\"box\">\(item.status == .done ? "&#x2611;" : "&#x2610;")</td><td>\(e(item.uid ?? "-"))<br><small>\(e(item.currentDN ?? item.dn))</small></td>"
                body += "<td>disable</td><td>\(e(item.status.rawValue + (item.outcome.map { ": \($0)" } ?? "")))</td></tr>"
            }
            for note in leaver.accountNotes { body += "<tr><td class=\"box\">&#x2610;</td><td colspan=\"3\">\(e(note))</td></tr>" }
            body += "</tbody></table>\n"
            body += "<h3>Equipment to get back</h3>"
            if leaver.equipment.isEmpty {
                body += "<p>Nothing on the register is issued to \(e(person.forename)).</p>"
            } else {
                body += "<table><thead><tr><th>Back</th><th>Asset tag</th><th>Make and model</th><th>Serial</th><th>Last seen by the agent</th></tr></thead><tbody>"
                for item in leaver.equipment {
                    let entry = item.entry
                    let seen = entry?.device.map { Self.timestamp($0.lastSeen) + ($0.hostname.map { " (\($0))" } ?? "") } ?? "never"
                    body += "<tr><td class=\"box\">\(item.returned ? "&#x2611;" : "&#x2610;")</td><td>\(e(item.tag))</td>"
                    body += "<td>\(e(entry?.makeAndModel ?? "-"))</td><td>\(e(entry?.serial ?? "-"))</td><td>\(e(seen))</td></tr>"
                }
                body += "</tbody></table>"
            }
            body += "\n<h3>Licences</h3><ul>" + leaver.licenceNotes.map { "<li>\(e($0))</li>" }.joined() + "</ul>\n"
            body += "<p class=\"sign\">Everything returned and accounts closed. Technician: ____________________ Date: __________ "
            body += "&nbsp; Leaver: ____________________</p></section>\n"
        }
        if view.leavers.isEmpty { body += "<p>No leavers to offboard.</p>" }
        return """
            <!doctype html>
            <html lang="en-GB"><head><meta charset="utf-8"><title>Offboarding plan \(view.plan.id)</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2rem;color:#111}table{border-collapse:collapse;width:100%;margin:.5rem 0}
            th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}td.box{font-size:1.3rem;width:3rem;text-align:center}
            section.leaver{break-before:page;page-break-before:always}h2 small{font-weight:normal;color:#555}.sign{margin-top:2rem}
            @media screen{section.leaver{border-top:2px solid #333;margin-top:2rem;padding-top:1rem}}
            </style></head><body>
            \(body)</body></html>

            """
    }

    static func timestamp(_ date: Date) -> String {
        let day = Day(date)
        let seconds = Int(date.timeIntervalSince1970) % 86_400
        return "\(day.uk) \(String(format: "%02d:%02d", seconds / 3600, seconds % 3600 / 60)) UTC"
    }
}
