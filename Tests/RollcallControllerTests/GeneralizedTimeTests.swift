import Foundation
@testable import RollcallController
import Testing

@Suite("Reading LDAP GeneralizedTime")
struct GeneralizedTimeTests {
    @Test("the forms directories write, with fractions and offsets", arguments: [
        ("20261123215422Z", 1_795_470_862.0),
        ("20261123215422.5Z", 1_795_470_862.5),
        ("20261123215422,25Z", 1_795_470_862.25),
        ("202611232154Z", 1_795_470_840.0),
        ("2026112321Z", 1_795_467_600.0),
        ("20261123215422+0130", 1_795_470_862.0 - 5400),
        ("20261123215422-05", 1_795_470_862.0 + 18_000),
        ("19700101000000Z", 0.0),
        ("20240229120000Z", 1_709_208_000.0),
    ])
    func parses(text: String, seconds: Double) {
        #expect(GeneralizedTime.parse(text)?.timeIntervalSince1970 == seconds)
    }

    @Test("impossible dates and other text are not times", arguments: [
        "20250229120000Z", "20260431000000Z", "20261323000000Z", "20261100000000Z", "20261123245422Z",
        "20261123215422", "2026-11-23T21:54:22Z", "", "TRUE", "20261123215422Zjunk",
    ])
    func refuses(text: String) {
        #expect(GeneralizedTime.parse(text) == nil)
    }

    @Test("every day from 1900 to 2100 agrees with Foundation's Gregorian calendar")
    func agreesWithCalendar() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var day = try #require(calendar.date(from: DateComponents(year: 1900, month: 1, day: 1, hour: 13, minute: 7, second: 9)))
        let end = try #require(calendar.date(from: DateComponents(year: 2100, month: 12, day: 31)))
        var checked = 0
        while day < end {
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: day)
            let text = String(format: "%04d%02d%02d%02d%02d%02dZ", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
            guard GeneralizedTime.parse(text) == day else {
                Issue.record("\(text) parsed as \(String(describing: GeneralizedTime.parse(text))), expected \(day)")
                return
            }
            day = day.addingTimeInterval(86_400)
            checked += 1
        }
        #expect(checked > 73_000)
    }
}
