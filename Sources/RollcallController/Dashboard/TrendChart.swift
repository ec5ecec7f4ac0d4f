import Foundation

/// Trends drawn on the server as inline SVG: no script, no chart library, nothing fetched from a CDN, and the same
/// picture prints on paper.
enum TrendChart {
    struct Point {
        var label: String
        var value: Int
        /// A suppressed count in the governors' report: drawn as a short grey bar labelled "<5", never at its value.
        var hidden = false
    }

    static let width = 640.0, height = 220.0, left = 40.0, bottom = 36.0, top = 16.0

    /// A bar per point, labelled under the bar and with its value above it.
    static func bars(title: String, points: [Point]) -> String {
        let maximum = max(1, points.map(\.value).max() ?? 1)
        let plotHeight = height - bottom - top
        let slot = (width - left) / Double(max(points.count, 1))
        var svg = header(title)
        svg += axis(maximum: maximum)
        for (index, point) in points.enumerated() {
            let x = left + Double(index) * slot + slot * 0.15
            let barHeight = point.hidden ? 6 : plotHeight * Double(point.value) / Double(maximum)
            let y = top + plotHeight - barHeight
            svg += "<rect class=\"\(point.hidden ? "bar hidden" : "bar")\" x=\(q(x)) y=\(q(y)) width=\(q(slot * 0.7)) height=\(q(barHeight))>"
                + "<title>\(HTML.escape(point.label)): \(point.hidden ? "fewer than 5" : String(point.value))</title></rect>"
            svg += "<text class=\"value\" x=\(q(x + slot * 0.35)) y=\(q(y - 3)) text-anchor=\"middle\">\(point.hidden ? "&lt;5" : String(point.value))</text>"
            svg += "<text class=\"label\" x=\(q(x + slot * 0.35)) y=\(q(height - bottom + 14)) text-anchor=\"middle\">\(HTML.escape(shortLabel(point.label)))</text>"
        }
        return svg + "</svg>\n"
    }

    struct Series {
        var name: String
        /// Percentages, one per label.
        var values: [Double?]
        var css: String
    }

    /// Percentages over time as lines, 0 to 100 %.
    static func lines(title: String, labels: [String], series: [Series]) -> String {
        guard labels.count >= 1 else { return "" }
        let plotHeight = height - bottom - top
        let step = labels.count > 1 ? (width - left - 10) / Double(labels.count - 1) : 0
        var svg = header(title)
        for percent in [0, 50, 100] {
            let y = top + plotHeight * (1 - Double(percent) / 100)
            svg += "<line class=\"grid\" x1=\(q(left)) y1=\(q(y)) x2=\(q(width)) y2=\(q(y))/><text class=\"label\" x=\(q(left - 4)) y=\(q(y + 4)) text-anchor=\"end\">\(percent)%</text>"
        }
        for item in series {
            let points = item.values.enumerated().compactMap { index, value in
                value.map { "\(q(left + Double(index) * step, quoted: false)),\(q(top + plotHeight * (1 - $0 / 100), quoted: false))" }
            }
            svg += "<polyline class=\"line \(item.css)\" points=\"\(points.joined(separator: " "))\"><title>\(HTML.escape(item.name))</title></polyline>"
            // A dot per day, so a history of one day (the first look) still shows.
            for point in points {
                let xy = point.split(separator: ",")
                svg += "<circle class=\"key \(item.css)\" cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"2.5\"/>"
            }
        }
        let every = max(1, labels.count / 6)
        for (index, label) in labels.enumerated() where index % every == 0 || index == labels.count - 1 {
            svg += "<text class=\"label\" x=\(q(left + Double(index) * step)) y=\(q(height - bottom + 14)) text-anchor=\"middle\">\(HTML.escape(label))</text>"
        }
        var legendX = left
        for item in series {
            svg += "<rect class=\"key \(item.css)\" x=\(q(legendX)) y=\(q(height - 12)) width=\"10\" height=\"10\"/>"
                + "<text class=\"label\" x=\(q(legendX + 14)) y=\(q(height - 3))>\(HTML.escape(item.name))</text>"
            legendX += 14 + Double(item.name.count) * 6.5 + 16
        }
        return svg + "</svg>\n"
    }

    static func header(_ title: String) -> String {
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" xmlns=\"http://www.w3.org/2000/svg\" aria-label=\"\(HTML.escape(title))\"><title>\(HTML.escape(title))</title>"
    }

    static func axis(maximum: Int) -> String {
        let plotHeight = height - bottom - top
        return "<line class=\"axis\" x1=\(q(left)) y1=\(q(top + plotHeight)) x2=\(q(width)) y2=\(q(top + plotHeight))/>"
            + "<text class=\"label\" x=\(q(left - 4)) y=\(q(top + 4)) text-anchor=\"end\">\(maximum)</text>"
            + "<text class=\"label\" x=\(q(left - 4)) y=\(q(top + plotHeight)) text-anchor=\"end\">0</text>"
    }

    /// `2026-11` → `Nov 26`; other labels as they are.
    static func shortLabel(_ label: String) -> String {
        let parts = label.split(separator: "-")
        guard parts.count == 2, let month = Int(parts[1]), (1...12).contains(month) else { return label }
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(names[month - 1]) \(parts[0].suffix(2))"
    }

    static func q(_ value: Double, quoted: Bool = true) -> String {
        let text = String(format: "%.1f", value)
        return quoted ? "\"\(text)\"" : text
    }
}
