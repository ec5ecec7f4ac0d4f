/// A configuration file error, with the place: `/etc/rollcall/agent.toml:4:11: expected a string`.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let line: Int
    public let column: Int
    public let message: String

    public var description: String { "\(source):\(line):\(column): \(message)" }
}

/// The part of TOML 1.0 an agent config needs, read strictly: tables (`[a]`, `[a.b]`), bare and quoted keys,
/// dotted keys, basic and literal strings, integers, booleans and arrays of them, comments.
///
/// Anything else (inline tables, dates, floats, arrays of tables, multi-line strings) is an error with its line and
/// column rather than a guess. Why not TOMLKit: it imports Foundation, which would double the agent's memory;
/// the controller, which has no such budget, uses TOMLKit.
struct TOMLDocument {
    enum Value: Equatable {
        case string(String)
        case integer(Int)
        case boolean(Bool)
        case array([Value])

        var typeName: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .boolean: "a boolean"
            case .array: "an array"
            }
        }
    }

    struct Entry {
        let value: Value
        let line: Int
        let column: Int
    }

    let source: String
    private(set) var values: [String: Entry] = [:]

    init(parsing text: String, source: String) throws(ConfigurationError) {
        self.source = source
        var parser = Parser(bytes: Array(text.utf8), source: source)
        var table = ""
        while true {
            parser.skipBlankAndComments()
            guard let byte = parser.peek() else { break }
            if byte == UInt8(ascii: "[") {
                parser.advance()
                if parser.peek() == UInt8(ascii: "[") { throw parser.error("arrays of tables ([[...]]) are not supported here") }
                parser.skipSpaces()
                table = try parser.key().joined(separator: ".")
                parser.skipSpaces()
                try parser.expect(UInt8(ascii: "]"), "expected ']' to close the table header")
                try parser.endOfLine()
                continue
            }
            let line = parser.line, column = parser.column
            let key = try parser.key().joined(separator: ".")
            parser.skipSpaces()
            try parser.expect(UInt8(ascii: "="), "expected '=' after the key '\(key)'")
            parser.skipSpaces()
            let value = try parser.value()
            try parser.endOfLine()
            let fullKey = table.isEmpty ? key : "\(table).\(key)"
            if values[fullKey] != nil { throw ConfigurationError(source: source, line: line, column: column, message: "'\(fullKey)' is set twice") }
            values[fullKey] = Entry(value: value, line: line, column: column)
        }
    }

    func error(at key: String, _ message: String) -> ConfigurationError {
        let entry = values[key]
        return ConfigurationError(source: source, line: entry?.line ?? 1, column: entry?.column ?? 1, message: "'\(key)' \(message)")
    }

    func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let entry = values[key] else { return nil }
        guard case .string(let text) = entry.value else { throw error(at: key, "must be a string, not \(entry.value.typeName)") }
        return text
    }

    func integer(_ key: String) throws(ConfigurationError) -> Int? {
        guard let entry = values[key] else { return nil }
        guard case .integer(let number) = entry.value else { throw error(at: key, "must be an integer, not \(entry.value.typeName)") }
        return number
    }

    func boolean(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let entry = values[key] else { return nil }
        guard case .boolean(let flag) = entry.value else { throw error(at: key, "must be true or false, not \(entry.value.typeName)") }
        return flag
    }

    /// A duration in seconds, written `90`, `"90s"`, `"15m"`, `"1h"` or `"7d"`.
    func duration(_ key: String) throws(ConfigurationError) -> Int? {
        guard let entry = values[key] else { return nil }
        switch entry.value {
        case .integer(let seconds):
            return seconds
        case .string(let text):
            guard let seconds = Self.seconds(text) else {
                throw error(at: key, "must be a duration like \"90s\", \"15m\", \"1h\" or \"7d\", not \"\(text)\"")
            }
            return seconds
        default:
            throw error(at: key, "must be a duration like \"15m\", not \(entry.value.typeName)")
        }
    }

    static func seconds(_ text: String) -> Int? {
        guard let unit = text.last else { return nil }
        let multipliers: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let multiplier = multipliers[unit], let number = Int(text.dropLast()), number >= 0 { return number * multiplier }
        return Int(text)
    }

    private struct Parser {
        let bytes: [UInt8]
        let source: String
        var index = 0
        var line = 1
        var lineStart = 0

        init(bytes: [UInt8], source: String) {
            self.bytes = bytes
            self.source = source
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3; lineStart = 3 }
        }

        var column: Int { index - lineStart + 1 }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func advance() {
            if bytes[index] == 0x0A { line += 1; lineStart = index + 1 }
            index += 1
        }

        func error(_ message: String) -> ConfigurationError {
            ConfigurationError(source: source, line: line, column: column, message: message)
        }

        mutating func skipSpaces() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 { advance() }
        }

        mutating func skipBlankAndComments() {
            while let byte = peek() {
                if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                    advance()
                } else if byte == UInt8(ascii: "#") {
                    while let next = peek(), next != 0x0A { advance() }
                } else {
                    return
                }
            }
        }

        mutating func endOfLine() throws(ConfigurationError) {
            skipSpaces()
            if peek() == UInt8(ascii: "#") { while let next = peek(), next != 0x0A { advance() } }
            if peek() == 0x0D { advance() }
            guard let byte = peek() else { return }
            guard byte == 0x0A else { throw error("unexpected '\(Character(Unicode.Scalar(byte)))' after the value; one setting per line") }
            advance()
        }

        mutating func expect(_ byte: UInt8, _ message: String) throws(ConfigurationError) {
            guard peek() == byte else { throw error(message) }
            advance()
        }

        mutating func key() throws(ConfigurationError) -> [String] {
            var parts: [String] = []
            while true {
                skipSpaces()
                if let quote = peek(), quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") {
                    parts.append(try string())
                } else {
                    let start = index
                    while let byte = peek(), Self.isBareKeyByte(byte) { advance() }
                    guard index > start else { throw error("expected a key (letters, digits, '-' or '_')") }
                    parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
                }
                skipSpaces()
                guard peek() == UInt8(ascii: ".") else { return parts }
                advance()
            }
        }

        static func isBareKeyByte(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }

        mutating func value() throws(ConfigurationError) -> Value {
            guard let byte = peek() else { throw error("expected a value") }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                return .string(try string())
            case UInt8(ascii: "["):
                advance()
                var items: [Value] = []
                while true {
                    skipBlankAndComments()
                    if peek() == UInt8(ascii: "]") { advance(); return .array(items) }
                    items.append(try value())
                    skipBlankAndComments()
                    if peek() == UInt8(ascii: ",") { advance(); continue }
                    guard peek() == UInt8(ascii: "]") else { throw error("expected ',' or ']' in the array") }
                }
            case UInt8(ascii: "{"):
                throw error("inline tables are not supported here; use a [table] header")
            default:
                let start = index
                while let next = peek(), next != 0x20, next != 0x09, next != 0x0A, next != 0x0D, next != UInt8(ascii: "#"),
                      next != UInt8(ascii: ","), next != UInt8(ascii: "]") { advance() }
                let word = String(decoding: bytes[start..<index], as: UTF8.self)
                if word == "true" { return .boolean(true) }
                if word == "false" { return .boolean(false) }
                if let number = Int(word.replacingUnderscores()) { return .integer(number) }
                index = start
                throw error("'\(word)' is not a string, integer or boolean (quote text values: \"\(word)\")")
            }
        }

        mutating func string() throws(ConfigurationError) -> String {
            guard let quote = peek() else { throw error("expected a string") }
            let literal = quote == UInt8(ascii: "'")
            advance()
            if peek() == quote, index + 1 < bytes.count, bytes[index + 1] == quote {
                throw error("multi-line strings are not supported here")
            }
            var output: [UInt8] = []
            while true {
                guard let byte = peek(), byte != 0x0A else { throw error("unterminated string") }
                advance()
                if byte == quote { return String(decoding: output, as: UTF8.self) }
                if byte == UInt8(ascii: "\\"), !literal {
                    guard let escape = peek() else { throw error("unterminated string") }
                    advance()
                    switch escape {
                    case UInt8(ascii: "n"): output.append(0x0A)
                    case UInt8(ascii: "t"): output.append(0x09)
                    case UInt8(ascii: "r"): output.append(0x0D)
                    case UInt8(ascii: "\\"), UInt8(ascii: "\""): output.append(escape)
                    case UInt8(ascii: "u"):
                        guard index + 4 <= bytes.count,
                              let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(code) else { throw error("bad \\u escape") }
                        for _ in 0..<4 { advance() }
                        output.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default:
                        throw error("unknown escape '\\\(Character(Unicode.Scalar(escape)))'")
                    }
                } else {
                    output.append(byte)
                }
            }
        }
    }
}

extension String {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
