public import Foundation
public import RollcallProtocol

/// The first compliance report: one row per device with what the equipment register and the technician need.
///
/// The same rows render as HTML (for the browser and for printing), CSV (for the spreadsheet the school keeps)
/// and JSON (for scripts), so every format always agrees.
public struct ComplianceReport: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case html, csv, json
    }

    public let generatedAt: Date
    public let devices: [DeviceSummary]
    /// Devices not seen for longer than this are flagged as not reporting.
    public let staleAfter: TimeInterval

    public init(devices: [DeviceSummary], generatedAt: Date = Date(), staleAfter: TimeInterval = 7 * 86400) {
        self.devices = devices
        self.generatedAt = generatedAt
        self.staleAfter = staleAfter
    }

    static let headers = ["Hostname", "Serial", "Vendor", "Model", "OS", "Kernel", "Virtualization", "Last seen", "Packages", "Reporting", "Device id"]

    func cells(_ device: DeviceSummary) -> [String] {
        [
            device.hostname ?? "", device.serial ?? "", device.vendor ?? "", device.model ?? "", device.os ?? "",
            device.kernel ?? "", device.virtualization ?? "", Self.timestamp(device.lastSeen), String(device.packageCount),
            isStale(device) ? "no (last seen \(Self.age(generatedAt.timeIntervalSince(device.lastSeen))) ago)" : "yes",
            device.id,
        ]
    }

    func isStale(_ device: DeviceSummary) -> Bool {
        generatedAt.timeIntervalSince(device.lastSeen) > staleAfter
    }

    public func render(_ format: Format) throws -> String {
        switch format {
        case .csv: csv()
        case .json: try json()
        case .html: html()
        }
    }

    public func csv() -> String {
        var lines = [CSVWriter.row(Self.headers)]
        for device in devices { lines.append(CSVWriter.row(cells(device))) }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    struct JSONDocument: Encodable {
        let generatedAt: Date
        let deviceCount: Int
        let notReporting: Int
        let devices: [DeviceSummary]
    }

    public func json() throws -> String {
        let document = JSONDocument(
            generatedAt: generatedAt, deviceCount: devices.count, notReporting: devices.filter(isStale).count, devices: devices)
        return String(decoding: try RollcallJSON.encoder(pretty: true).encode(document), as: UTF8.self) + "\n"
    }

    public func html() -> String {
        let stale = devices.filter(isStale).count
        var rows = ""
        for device in devices {
            let values = cells(device)
            rows += "<tr\(isStale(device) ? " class=\"stale\"" : "")>"
            for (index, value) in values.enumerated() {
                rows += index == values.count - 1 ? "<td><code>\(HTML.escape(value))</code></td>" : "<td>\(HTML.escape(value))</td>"
            }
            rows += "</tr>\n"
        }
        if devices.isEmpty {
            rows = "<tr><td colspan=\"\(Self.headers.count)\">No device has reported yet. Start rollcall-agent on a workstation.</td></tr>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en-GB">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Rollcall compliance report</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }
            h1 { font-size: 1.5rem; margin-bottom: .25rem; }
            p.meta { color: #555; margin-top: 0; }
            table { border-collapse: collapse; width: 100%; font-size: .9rem; }
            th, td { border: 1px solid #ccc; padding: .35rem .5rem; text-align: left; vertical-align: top; }
            th { background: #f0f0f0; }
            tr.stale td { background: #fff4e5; }
            code { font-size: .8rem; }
            @media print { body { margin: 0; } }
            </style>
            </head>
            <body>
            <h1>Rollcall compliance report</h1>
            <p class="meta">Generated \(HTML.escape(Self.timestamp(generatedAt))) · \(devices.count) device\(devices.count == 1 ? "" : "s") · \(stale) not reporting for over \(Int(staleAfter / 86400)) days</p>
            <table>
            <thead><tr>\(Self.headers.map { "<th scope=\"col\">\(HTML.escape($0))</th>" }.joined())</tr></thead>
            <tbody>
            \(rows)</tbody>
            </table>
            </body>
            </html>

            """
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    static func age(_ seconds: TimeInterval) -> String {
        let days = Int(seconds / 86400)
        return days >= 1 ? "\(days) day\(days == 1 ? "" : "s")" : "\(Int(seconds / 3600)) h"
    }
}

enum HTML {
    static func escape(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            default: output.append(character)
            }
        }
        return output
    }
}

/// RFC 4180 rows. A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) is prefixed with
/// `'`: a hostname or package name comes from a workstation, which a pupil may control.
public enum CSVWriter {
    public static func row(_ cells: [String]) -> String {
        cells.map(cell).joined(separator: ",")
    }

    static func cell(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@\t\r".contains(first) { text = "'" + text }
        if text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return text
    }
}

/// Fixed-width text table for terminals.
public enum TextTable {
    public static func render(headers: [String], rows: [[String]]) -> String {
        var widths = headers.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var output = [line(headers), line(widths.map { String(repeating: "-", count: $0) })]
        output += rows.map(line)
        return output.joined(separator: "\n") + "\n"
    }
}
