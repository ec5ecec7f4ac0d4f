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
    /// Screen-lock and encryption verdicts by device id.
    public let postures: [String: DevicePosture]
    /// USB storage events in the report's window, newest first.
    public let usbEvents: [USBEventRecord]
    /// How far back ``usbEvents`` go.
    public let usbWindowDays: Int
    /// Insertions (add and present) per device, and how many of them unapproved: counted once, not per row.
    private let insertions: [String: (all: Int, unapproved: Int)]

    public init(devices: [DeviceSummary], postures: [String: DevicePosture] = [:], usbEvents: [USBEventRecord] = [], usbWindowDays: Int = 30,
                generatedAt: Date = Date(), staleAfter: TimeInterval = 7 * 86400) {
        self.devices = devices
        self.postures = postures
        self.usbEvents = usbEvents
        self.usbWindowDays = usbWindowDays
        var insertions: [String: (all: Int, unapproved: Int)] = [:]
        for event in usbEvents where event.action != "remove" {
            insertions[event.deviceID, default: (0, 0)].all += 1
            if !event.approved { insertions[event.deviceID, default: (0, 0)].unapproved += 1 }
        }
        self.insertions = insertions
        self.generatedAt = generatedAt
        self.staleAfter = staleAfter
    }

    /// Everything the report needs from the store, judged under the configured policy.
    public static func gather(from store: ControllerStore, configuration: ControllerConfiguration, now: Date = Date(),
                              usbWindowDays: Int = 30) async throws -> ComplianceReport {
        ComplianceReport(
            devices: try await store.devices(), postures: try await store.postures(policy: configuration.posture),
            usbEvents: try await store.usbEvents(since: now.addingTimeInterval(-Double(usbWindowDays) * 86400)), usbWindowDays: usbWindowDays,
            generatedAt: now)
    }

    static let headers = ["Hostname", "Serial", "Vendor", "Model", "OS", "Kernel", "Virtualization", "Last seen", "Packages", "Reporting",
                          "Screen lock", "Screen lock reason", "Encryption", "Encryption reason", "USB storage events", "Device id"]

    func cells(_ device: DeviceSummary) -> [String] {
        let posture = postures[device.id]
        let usb = insertions[device.id]
        return [
            device.hostname ?? "", device.serial ?? "", device.vendor ?? "", device.model ?? "", device.os ?? "",
            device.kernel ?? "", device.virtualization ?? "", Self.timestamp(device.lastSeen), String(device.packageCount),
            isStale(device) ? "no (last seen \(Self.age(generatedAt.timeIntervalSince(device.lastSeen))) ago)" : "yes",
            posture?.screenLock.status.rawValue ?? "unknown", posture?.screenLock.reason ?? "",
            posture?.encryption.status.rawValue ?? "unknown", posture?.encryption.reason ?? "",
            usb.map { "\($0.all) (\($0.unapproved) unapproved)" } ?? "none",
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
        let posture: [DevicePosture]
        let usbWindowDays: Int
        let usbEvents: [USBEventRecord]
    }

    public func json() throws -> String {
        let document = JSONDocument(
            generatedAt: generatedAt, deviceCount: devices.count, notReporting: devices.filter(isStale).count, devices: devices,
            posture: devices.compactMap { postures[$0.id] }, usbWindowDays: usbWindowDays, usbEvents: usbEvents)
        return String(decoding: try RollcallJSON.encoder(pretty: true).encode(document), as: UTF8.self) + "\n"
    }

    public func html() -> String {
        let stale = devices.filter(isStale).count
        var rows = ""
        // The two reason columns are shown under their verdicts rather than as columns of their own.
        let reasonColumns: Set<Int> = [11, 13]
        for device in devices {
            let values = cells(device)
            rows += "<tr\(isStale(device) ? " class=\"stale\"" : "")>"
            for (index, value) in values.enumerated() where !reasonColumns.contains(index) {
                if index == values.count - 1 {
                    rows += "<td><code>\(HTML.escape(value))</code></td>"
                } else if reasonColumns.contains(index + 1) {
                    rows += "<td class=\"verdict \(value.replacingOccurrences(of: " ", with: "-"))\"><strong>\(HTML.escape(value))</strong>"
                        + "<br><small>\(HTML.escape(values[index + 1]))</small></td>"
                } else {
                    rows += "<td>\(HTML.escape(value))</td>"
                }
            }
            rows += "</tr>\n"
        }
        let htmlHeaders = Self.headers.enumerated().filter { !reasonColumns.contains($0.offset) }.map(\.element)
        var usbRows = ""
        for event in usbEvents {
            let filesystems = event.volumes.map { [$0.filesystem, $0.label.map { "\"\($0)\"" }].compactMap { $0 }.joined(separator: " ") }
            let capacity = event.capacityBytes.map { String(format: "%.1f GB", Double($0) / 1e9) }
            let device = ([event.name, capacity].compactMap { $0 } + filesystems.filter { !$0.isEmpty }).joined(separator: ", ")
            let cells = [Self.timestamp(event.occurredAt), event.hostname ?? event.deviceID, event.action, device, event.serial ?? "",
                         event.port, event.consoleUsers.joined(separator: ", "), event.approved ? "yes" : "no",
                         event.blocked ? "yes" : (event.blockError.map { "failed: \($0)" } ?? "no"), event.incidentID.map { "#\($0)" } ?? ""]
            usbRows += "<tr\(event.approved ? "" : " class=\"unapproved\"")>" + cells.map { "<td>\(HTML.escape($0))</td>" }.joined() + "</tr>\n"
        }
        if usbEvents.isEmpty {
            usbRows = "<tr><td colspan=\"10\">No USB storage was plugged into a reporting machine in the last \(usbWindowDays) days.</td></tr>\n"
        }
        if devices.isEmpty {
            rows = "<tr><td colspan=\"\(htmlHeaders.count)\">No device has reported yet. Start rollcall-agent on a workstation.</td></tr>\n"
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
            td.verdict.fail strong { color: #a4000f; }
            td.verdict.pass strong { color: #1d6b2a; }
            td.verdict.unknown strong { color: #7a5b00; }
            tr.unapproved td { background: #fdecee; }
            h2 { font-size: 1.2rem; margin-top: 2rem; }
            @media print { h2 { break-before: page; } }
            code { font-size: .8rem; }
            @media print { body { margin: 0; } }
            </style>
            </head>
            <body>
            <h1>Rollcall compliance report</h1>
            <p class="meta">Generated \(HTML.escape(Self.timestamp(generatedAt))) · \(devices.count) device\(devices.count == 1 ? "" : "s") · \(stale) not reporting for over \(Int(staleAfter / 86400)) days</p>
            <table>
            <thead><tr>\(htmlHeaders.map { "<th scope=\"col\">\(HTML.escape($0))</th>" }.joined())</tr></thead>
            <tbody>
            \(rows)</tbody>
            </table>
            <h2>USB storage events, last \(usbWindowDays) days</h2>
            <table>
            <thead><tr>\(["When", "Machine", "Action", "Device", "Serial", "Port", "At the console", "Approved", "Blocked", "Incident"].map { "<th scope=\"col\">\($0)</th>" }.joined())</tr></thead>
            <tbody>
            \(usbRows)</tbody>
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
