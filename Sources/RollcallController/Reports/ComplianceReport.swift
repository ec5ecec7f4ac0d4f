public import Foundation
import RollcallProtocol

/// The full compliance report: the overview, then every section of the estate (devices with their screen-lock and
/// encryption verdicts, USB storage, accounts, offboarding, equipment, licences, incidents), from the same tables the
/// dashboard shows.
///
/// HTML prints one section per page; CSV is every section one after another, each under a `# Title` line and its
/// own header row (`--section` gives one plain table); JSON carries the overview and every section's rows.
public struct ComplianceReport: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case html, csv, json
    }

    /// The sections in report order. The audit log is not one: it has its own export and `rollcall audit verify`.
    public static let defaultSections: [EstateSections.Section] = [.devices, .usb, .accounts, .offboarding, .equipment, .licences, .incidents]

    public let overview: EstateOverview
    public let sections: [DashboardTable]

    public init(overview: EstateOverview, sections: [DashboardTable]) {
        self.overview = overview
        self.sections = sections
    }

    public static func gather(from store: ControllerStore, configuration: ControllerConfiguration, now: Date = Date(),
                              sections: [EstateSections.Section] = defaultSections) async throws -> ComplianceReport {
        let estate = EstateSections(store: store, configuration: configuration, now: now)
        var tables: [DashboardTable] = []
        for section in sections { tables.append(try await estate.table(section)) }
        return ComplianceReport(overview: try await EstateOverview.gather(from: estate), sections: tables)
    }

    public func render(_ format: Format) throws -> String {
        switch format {
        case .csv: csv()
        case .json: try json()
        case .html: html()
        }
    }

    public func csv() -> String {
        if sections.count == 1 { return sections[0].csv() }
        return sections.map { "# \($0.title)\r\n" + $0.csv() }.joined(separator: "\r\n")
    }

    public func json() throws -> String {
        // Each section encodes itself as the dashboard's JSON export does; the document wraps them.
        var text = "{\n\"generatedAt\": \"\(DashboardTable.Value.timestamp(overview.generatedAt))\",\n\"overview\": "
        text += String(decoding: try RollcallJSON.encoder(pretty: true).encode(overview), as: UTF8.self)
        text += ",\n\"sections\": [\n" + (try sections.map { try $0.json() }).joined(separator: ",\n") + "]\n}\n"
        return text
    }

    /// `linkedStylesheet` for the page the dashboard serves; a file carries its stylesheet inline.
    public func html(linkedStylesheet: Bool = false) -> String {
        var body = "<p class=\"meta\">Generated \(HTML.escape(DashboardTable.Value.timestamp(overview.generatedAt))). One section per printed page.</p>\n"
        body += OverviewPage(overview: overview, role: nil).html()
        for table in sections { body += Self.htmlSection(table) }
        return DashboardTemplates.document(title: "Rollcall compliance report", body: body, linkedStylesheet: linkedStylesheet)
    }

    /// A whole table as HTML, written directly: a section of 25,000 devices is too big to go through a template's
    /// dictionaries row by row.
    static func htmlSection(_ table: DashboardTable) -> String {
        var html = "<section class=\"section\" id=\"\(table.name)\">\n<h2>\(HTML.escape(table.title))</h2>\n"
        for note in table.notes { html += "<p class=\"note\">\(HTML.escape(note))</p>\n" }
        html += "<table class=\"data\"><thead><tr>"
        for column in table.columns { html += "<th scope=\"col\"\(column.numeric ? " class=\"num\"" : "")>\(HTML.escape(column.label))</th>" }
        html += "</tr></thead>\n<tbody>\n"
        if table.rows.isEmpty { html += "<tr><td colspan=\"\(table.columns.count)\" class=\"empty\">\(HTML.escape(table.emptyMessage))</td></tr>\n" }
        for row in table.rows {
            html += row.tone.map { "<tr class=\"\($0)\">" } ?? "<tr>"
            for (column, value) in zip(table.columns, row.values) {
                html += (column.numeric ? "<td class=\"num\">" : "<td>") + HTML.escape(value.display) + "</td>"
            }
            html += "</tr>\n"
        }
        return html + "</tbody></table>\n</section>\n"
    }
}

enum HTML {
    static func escape(_ text: String) -> String {
        guard text.contains(where: { "&<>\"'".contains($0) }) else { return text }
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

    /// A cell as RFC 4180 wants it, and never a formula to a spreadsheet (a leading `=`, `+`, `-`, `@`, tab or CR
    /// gets a `'`). Read byte by byte: a report writes hundreds of thousands of cells.
    static func cell(_ value: String) -> String {
        var quoted = false, quotes = false
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): quoted = true; quotes = true
            case UInt8(ascii: ","), UInt8(ascii: "\n"), UInt8(ascii: "\r"): quoted = true
            default: break
            }
        }
        let formula = value.utf8.first.map { "=+-@\t\r".utf8.contains($0) } ?? false
        guard quoted || formula else { return value }
        let text = formula ? "'" + value : value
        guard quoted else { return text }
        return "\"" + (quotes ? text.replacingOccurrences(of: "\"", with: "\"\"") : text) + "\""
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
