import Foundation
@testable import RollcallController
import Testing

@Suite("Locating JSON errors")
struct JSONSyntaxTests {
    @Test("a refused body is located by line, column and byte", arguments: [
        ("{\"schemaVersion\":1,\"reportID\":\"C305", "unexpected end of data (expected the closing '\"' of a string; the body looks truncated) at line 1, column 36 (byte 35)"),
        ("{\n  \"a\": 1,\n  \"b\": tru\n}", "unexpected byte 0x0A, expected 'true' at line 3, column 11 (byte 22)"),
        ("{\"a\": [1, 2,, 3]}", "unexpected ',', expected a value at line 1, column 13 (byte 12)"),
        ("{\"a\": 1} trailing", "unexpected data after the end of the JSON value at line 1, column 10 (byte 9)"),
        ("{\"a\": 01.}", "'01.' is not a number at line 1, column 7 (byte 6)"),
    ])
    func located(body: String, expected: String) {
        #expect(JSONSyntax.firstProblem(in: Data(body.utf8))?.description == expected)
    }

    @Test("valid JSON has no problem")
    func valid() {
        #expect(JSONSyntax.firstProblem(in: Data("{\"a\": [1, -2.5e3, \"x\\\"y\", true, false, null, {}]}".utf8)) == nil)
    }

    @Test("the API's message for a truncated report says where it ends")
    func truncatedReportMessage() throws {
        #expect {
            _ = try ReportDecoding.decode(Data("{\"schemaVersion\":1,\"reportID\":\"C305".utf8))
        } throws: { error in
            guard let error = error as? APIError else { return false }
            return error.code == "malformed_report" && error.message.contains("line 1, column 36 (byte 35 of 35)")
        }
    }
}
