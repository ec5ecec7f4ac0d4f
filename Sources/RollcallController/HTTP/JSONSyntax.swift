import Foundation

/// Finds where a JSON text first goes wrong, as line, column and byte offset, so a refused report says *where*.
///
/// Foundation's decoder on Linux only says "The given data was not valid JSON"; a technician looking at a truncated
/// upload needs "unexpected end of data at line 1, column 812 (byte 811)". This is a validating scanner only: it
/// builds no values and runs only after decoding has already failed.
enum JSONSyntax {
    struct Problem: Error, Equatable, CustomStringConvertible {
        let message: String
        let line: Int
        let column: Int
        let offset: Int

        var description: String { "\(message) at line \(line), column \(column) (byte \(offset))" }
    }

    static func firstProblem(in data: Data) -> Problem? {
        var scanner = Scanner(bytes: [UInt8](data))
        do throws(Problem) {
            scanner.skipWhitespace()
            try scanner.value(depth: 0)
            scanner.skipWhitespace()
            if scanner.index < scanner.bytes.count { throw scanner.problem("unexpected data after the end of the JSON value") }
            return nil
        } catch {
            return error
        }
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        func problem(_ message: String) -> Problem {
            var line = 1
            var lineStart = 0
            for position in 0..<min(index, bytes.count) where bytes[position] == 0x0A {
                line += 1
                lineStart = position + 1
            }
            return Problem(message: message, line: line, column: index - lineStart + 1, offset: index)
        }

        func unexpected(_ expected: String) -> Problem {
            guard index < bytes.count else { return problem("unexpected end of data (expected \(expected); the body looks truncated)") }
            let byte = bytes[index]
            let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : String(format: "byte 0x%02X", byte)
            return problem("unexpected \(shown), expected \(expected)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) throws(Problem) {
            guard depth < 512 else { throw problem("nesting deeper than 512 levels") }
            guard index < bytes.count else { throw unexpected("a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw unexpected("a field name in quotes") }
                    try string()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw unexpected("':'") }
                    index += 1
                    skipWhitespace()
                    try value(depth: depth + 1)
                    skipWhitespace()
                    guard index < bytes.count else { throw unexpected("',' or '}'") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "}") else { throw unexpected("',' or '}'") }
                    index += 1
                    return
                }
            case UInt8(ascii: "["):
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
                while true {
                    skipWhitespace()
                    try value(depth: depth + 1)
                    skipWhitespace()
                    guard index < bytes.count else { throw unexpected("',' or ']'") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "]") else { throw unexpected("',' or ']'") }
                    index += 1
                    return
                }
            case UInt8(ascii: "\""):
                try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try number()
            default:
                throw unexpected("a value")
            }
        }

        mutating func string() throws(Problem) {
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") { index += 1; return }
                if byte < 0x20 { throw problem("control character inside a string") }
                index += byte == UInt8(ascii: "\\") ? 2 : 1
            }
            throw unexpected("the closing '\"' of a string")
        }

        mutating func literal(_ word: String) throws(Problem) {
            for expected in word.utf8 {
                guard index < bytes.count, bytes[index] == expected else { throw unexpected("'\(word)'") }
                index += 1
            }
        }

        mutating func number() throws(Problem) {
            let start = index
            while index < bytes.count, "+-.eE0123456789".utf8.contains(bytes[index]) { index += 1 }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if Double(text) == nil || text.hasSuffix(".") {
                index = start
                throw problem("'\(text)' is not a number")
            }
        }
    }
}
