import Foundation
import RollcallProtocol

/// A licence reconciliation for people: a table at the terminal, CSV for the bursar's spreadsheet (one row per
/// product, or per machine with `detail`), JSON, and printable HTML with each product's machines.
public struct LicenceReport: Sendable {
    public var reconciliation: LicenceReconciliation

    public init(_ reconciliation: LicenceReconciliation) {
        self.reconciliation = reconciliation
    }

    public enum Format: String, Sendable, CaseIterable {
        case table, csv, json, html
    }

    public func render(_ format: Format, detail: Bool = false) throws -> String {
        switch format {
        case .table: table(detail: detail)
        case .csv: detail ? detailCSV() : csv()
        case .json: String(decoding: try RollcallJSON.encoder(pretty: true).encode(reconciliation), as: UTF8.self) + "\n"
        case .html: html()
        }
    }

    static let headers = ["product", "vendor", "type", "seats_in_force", "used", "devices", "status", "difference", "next_expiry",
                          "seats_expiring_soon", "seats_expired", "unassigned_devices", "references", "match"]

    /// Seats, use and verdict of one product, as the CSV and the table show them.
    static func row(_ product: LicenceReconciliation.Product) -> [String] {
        [product.product, product.vendor ?? "", product.kind.rawValue, product.seatsInForce.map(String.init) ?? "unlimited", String(product.used),
         String(product.devices), product.status.rawValue, String(product.difference), product.nextExpiry?.iso ?? "",
         String(product.seatsExpiringSoon), String(product.seatsExpired), String(product.unassignedDevices),
         product.references.joined(separator: "; "), product.match + (product.versions.map { " [\($0)]" } ?? "")]
    }

    /// What the technician should do about a product, in a few words.
    static func verdict(_ product: LicenceReconciliation.Product, warningDays: Int) -> String {
        var parts: [String] = []
        switch product.status {
        case .short: parts.append("SHORT by \(product.difference): buy \(product.difference) seat(s) or uninstall")
        case .spare: parts.append("\(product.difference) seat(s) spare")
        case .exact: parts.append("every seat used")
        case .site: parts.append("site licence")
        case .notJudged: parts.append("concurrent: installations cannot show a shortfall")
        }
        if product.seatsExpired > 0 { parts.append("\(product.seatsExpired) seat(s) expired, not counted") }
        if product.expiresSoon, let next = product.nextExpiry {
            parts.append((product.kind == .site ? "expires \(next.iso)" : "\(product.seatsExpiringSoon) seat(s) expire by \(next.iso)")
                + " (within \(warningDays) days)")
        }
        if product.unassignedDevices > 0 { parts.append("\(product.unassignedDevices) machine(s) issued to nobody, one user each") }
        return parts.joined(separator: "; ")
    }

    public func csv() -> String {
        var lines = [CSVWriter.row(Self.headers)]
        for product in reconciliation.products { lines.append(CSVWriter.row(Self.row(product))) }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// One row per product and machine: what an auditor asks for.
    public func detailCSV() -> String {
        var lines = [CSVWriter.row(["product", "type", "device_id", "hostname", "holder", "last_seen", "packages"])]
        for product in reconciliation.products {
            for machine in product.machines {
                lines.append(CSVWriter.row([product.product, product.kind.rawValue, machine.deviceID, machine.hostname ?? "", machine.holder ?? "",
                                            Self.iso(machine.lastSeen), machine.packages.joined(separator: "; ")]))
            }
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    public func table(detail: Bool) -> String {
        var out = ""
        if reconciliation.products.isEmpty {
            out += "No licences on the register: `rollcall licences import FILE` brings the school's in.\n"
        } else {
            let rows = reconciliation.products.map { product in
                [product.product, product.kind.rawValue, product.seatsInForce.map(String.init) ?? "unlimited", String(product.used),
                 Self.verdict(product, warningDays: reconciliation.expiryWarningDays)]
            }
            out += TextTable.render(headers: ["PRODUCT", "TYPE", "SEATS", "USED", "VERDICT"], rows: rows)
        }
        if detail {
            for product in reconciliation.products where !product.machines.isEmpty {
                out += "\n\(product.product):\n"
                for machine in product.machines {
                    out += "  \(machine.hostname ?? machine.deviceID)\(machine.holder.map { " (\($0))" } ?? ""): \(machine.packages.joined(separator: ", "))\n"
                }
            }
        }
        if !reconciliation.unlicensed.isEmpty {
            out += "\n\(reconciliation.unlicensed.count) package(s) no licence covers look commercial; review them:\n"
            out += TextTable.render(headers: ["PACKAGE", "SOURCE", "DEVICES", "VERSIONS", "WHY"], rows: reconciliation.unlicensed.map {
                [$0.name, $0.source, String($0.devices), $0.versions, $0.reason]
            })
        }
        out += "\nFrom the latest reports of \(reconciliation.devicesReporting) enrolled device(s).\n"
        return out
    }

    public func html() -> String {
        let e = HTML.escape
        let r = reconciliation
        var body = "<header><h1>Licence reconciliation</h1><p>\(e(Self.iso(r.generatedAt))): the licence register against the latest "
        body += "reports of \(r.devicesReporting) enrolled device(s). Expiry warnings look \(r.expiryWarningDays) days ahead.</p></header>\n"
        body += "<section><h2>Products</h2>"
        if r.products.isEmpty {
            body += "<p>No licences on the register yet (<code>rollcall licences import FILE</code>).</p>"
        } else {
            body += "<table><thead><tr><th>Product</th><th>Type</th><th>Seats in force</th><th>Used</th><th>Devices</th><th>Verdict</th>"
            body += "<th>References</th></tr></thead><tbody>"
            for product in r.products {
                let rowClass = product.status == .short || product.seatsExpired > 0 && product.seatsInForce == 0 ? " class=\"problem\"" : ""
                body += "<tr\(rowClass)><td>\(e(product.product))<br><small>\(e(product.vendor ?? ""))</small></td><td>\(e(product.kind.rawValue))</td>"
                body += "<td>\(e(product.seatsInForce.map(String.init) ?? "unlimited"))</td><td>\(product.used)</td><td>\(product.devices)</td>"
                body += "<td>\(e(Self.verdict(product, warningDays: r.expiryWarningDays)))</td><td>\(e(product.references.joined(separator: ", ")))</td></tr>"
            }
            body += "</tbody></table>"
        }
        body += "</section>\n"
        for product in r.products where !product.machines.isEmpty {
            body += "<section class=\"detail\"><h2>\(e(product.product)): \(product.devices) machine(s)</h2>"
            body += "<p>Matches <code>\(e(product.match))</code>\(product.versions.map { ", versions <code>\(e($0))</code>" } ?? "").</p>"
            body += "<table><thead><tr><th>Machine</th><th>Issued to</th><th>Last seen</th><th>Installed</th></tr></thead><tbody>"
            for machine in product.machines {
                body += "<tr><td>\(e(machine.hostname ?? machine.deviceID))</td><td>\(e(machine.holder ?? "-"))</td><td>\(e(Self.iso(machine.lastSeen)))</td>"
                body += "<td>\(machine.packages.map(e).joined(separator: "<br>"))</td></tr>"
            }
            body += "</tbody></table></section>\n"
        }
        body += "<section><h2>Commercial-looking software no licence covers</h2>"
        if r.unlicensed.isEmpty {
            body += "<p>None found.</p>"
        } else {
            body += "<table><thead><tr><th>Package</th><th>Source</th><th>Devices</th><th>Versions</th><th>Why it is listed</th></tr></thead><tbody>"
            for item in r.unlicensed {
                body += "<tr><td>\(e(item.name))</td><td>\(e(item.source))</td><td>\(item.devices)</td><td>\(e(item.versions))</td><td>\(e(item.reason))</td></tr>"
            }
            body += "</tbody></table>"
        }
        body += "</section>\n"
        return """
            <!doctype html>
            <html lang="en-GB"><head><meta charset="utf-8"><title>Licence reconciliation</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2rem;color:#111}table{border-collapse:collapse;width:100%;margin:.5rem 0}
            th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}tr.problem td{background:#fde2e2}
            section.detail{break-before:page;page-break-before:always}small{color:#555}
            </style></head><body>
            \(body)</body></html>

            """
    }

    static func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }
}
