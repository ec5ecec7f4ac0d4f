import Foundation
@testable import RollcallController
import RollcallTestSupport
import Testing

@Suite("CSV reader")
struct CSVReaderTests {
    static func read(_ text: String) throws -> [[String]] {
        var reader = CSVReader(text)
        return try reader.records().map(\.values)
    }

    @Test("school-export CSV: CRLF, quoted commas, doubled quotes, line breaks in a field, no final line end", arguments: [
        ("a,b\r\n1,2\r\n", [["a", "b"], ["1", "2"]]),
        ("a,b\n1,2", [["a", "b"], ["1", "2"]]),
        ("a,b\r1,2\r", [["a", "b"], ["1", "2"]]),
        ("name,role\r\n\"Smith, Jo\",\"Head of \"\"Year 7\"\"\"\r\n", [["name", "role"], ["Smith, Jo", "Head of \"Year 7\""]]),
        ("a,b\n\"line one\nline two\",x\n", [["a", "b"], ["line one\nline two", "x"]]),
        ("a,,c\n,,\n", [["a", "", "c"], ["", "", ""]]),
        ("\"\"\n", [[""]]),
        ("Siân,Ó Súilleabháin,O'Neill\n", [["Siân", "Ó Súilleabháin", "O'Neill"]]),
    ])
    func reads(text: String, expected: [[String]]) throws {
        #expect(try Self.read(text) == expected)
    }

    @Test("malformed CSV is refused at the line and column of the fault", arguments: [
        ("a,b\n1,\"open\n2,3\n", 2, 3, "never closed"),
        ("a,b\n\"x\"y,2\n", 2, 4, "after the closing quote"),
        ("a,b\n1,O\"Neill\n", 2, 4, "quote inside a field"),
        ("a,b\n\"multi\nline\" ,2\n", 3, 6, "after the closing quote"),
    ])
    func refuses(text: String, line: Int, column: Int, mentions: String) {
        #expect {
            try Self.read(text)
        } throws: { error in
            guard let problem = error as? CSVReader.Problem else { return false }
            return problem.line == line && problem.column == column && problem.message.contains(mentions)
        }
    }

    @Test("every field knows where it starts, also after a multi-line field")
    func positions() throws {
        var reader = CSVReader("id,note,date\n7,\"two\nlines\",31/08/2026\n8,x,01/09/2026\n")
        let records = try reader.records()
        #expect(records[1].fields.map { [$0.line, $0.column] } == [[2, 1], [2, 3], [3, 8]])
        #expect(records[2].fields.map { [$0.line, $0.column] } == [[4, 1], [4, 3], [4, 5]])
    }

    @Test("trailing blank rows, as spreadsheets leave them, are recognisable")
    func blankRows() throws {
        var reader = CSVReader("a,b\n1,2\n,\n\n")
        #expect(try reader.records().map(\.isBlank) == [false, false, true, true])
    }
}

@Suite("Text decoding of exports")
struct TextDecodingTests {
    /// Bytes as iconv writes them: the encoding comes from the real converter, not from this test's own table.
    static func iconv(_ text: String, to encoding: String) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-iconv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.txt"), output = directory.appendingPathComponent("out.bin")
        try text.write(to: input, atomically: true, encoding: .utf8)
        let result = try runProgram("/bin/sh", ["-c", "iconv -f UTF-8 -t \(encoding) '\(input.path)' > '\(output.path)'"])
        #expect(result.status == 0)
        return Array(try Data(contentsOf: output))
    }

    static let names = "Forename,Surname\r\nSiân,Ó Súilleabháin\r\nDafydd,Llŷr\r\nZoë,D’Arcy – Head of Year\r\nRenée,Müller € 5\r\n"

    @Test("Windows-1252 exports (accents, curly apostrophes, dashes, €) are detected and decoded")
    func windows1252() throws {
        // ŷ is not in Windows-1252: the office's export would write it as 'y'.
        let text = Self.names.replacingOccurrences(of: "ŷ", with: "y")
        let decoded = try TextDecoding.decode(try Self.iconv(text, to: "WINDOWS-1252"))
        #expect(decoded.encoding == .windows1252 && !decoded.hadByteOrderMark)
        #expect(decoded.text == text)
    }

    @Test("UTF-8 with and without a BOM, and UTF-16 with its BOM, decode to the same text")
    func unicodeEncodings() throws {
        let plain = Array(Self.names.utf8)
        #expect(try TextDecoding.decode(plain) == .init(text: Self.names, encoding: .utf8, hadByteOrderMark: false))
        #expect(try TextDecoding.decode([0xEF, 0xBB, 0xBF] + plain) == .init(text: Self.names, encoding: .utf8, hadByteOrderMark: true))
        let utf16 = try Self.iconv(Self.names, to: "UTF-16LE")
        #expect(try TextDecoding.decode([0xFF, 0xFE] + utf16) == .init(text: Self.names, encoding: .utf16LE, hadByteOrderMark: true))
    }

    @Test("forcing UTF-8 on a Windows-1252 file names the line and suggests the fix")
    func forcedWrongEncoding() throws {
        let bytes = try Self.iconv("a,b\nx,y\nSiân,z\n", to: "WINDOWS-1252")
        #expect {
            try TextDecoding.decode(bytes, as: .utf8)
        } throws: { error in
            guard let problem = error as? TextDecoding.Problem else { return false }
            return problem.line == 3 && problem.message.contains("--encoding windows-1252")
        }
    }

    @Test("UTF-8 validation refuses overlong forms, surrogates and truncated sequences", arguments: [
        [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0xFF],
    ] as [[UInt8]])
    func invalidUTF8(bytes: [UInt8]) {
        #expect(!TextDecoding.isValidUTF8(ArraySlice(bytes)))
    }
}
