/// Turns an export's bytes into text, in the encoding school office software actually writes.
///
/// SIMS and Excel on Windows save "CSV" as Windows-1252 unless told otherwise, "CSV UTF-8" with a byte-order mark,
/// and "Unicode text" as UTF-16. Detection: a BOM decides; otherwise text that is valid UTF-8 is UTF-8 (Windows-1252
/// text with accents is almost never valid UTF-8 by accident); otherwise Windows-1252. `--encoding` overrides it.
enum TextEncoding: String, CaseIterable, Sendable {
    case utf8 = "utf-8"
    case windows1252 = "windows-1252"
    case utf16LE = "utf-16le"
    case utf16BE = "utf-16be"
}

enum TextDecoding {
    struct Decoded: Equatable {
        var text: String
        var encoding: TextEncoding
        var hadByteOrderMark: Bool
    }

    /// An undecodable byte, with its place in the file (line from 1, byte offset from 0).
    struct Problem: Error, Equatable, CustomStringConvertible {
        var line: Int
        var offset: Int
        var message: String

        var description: String { "\(line): \(message) (byte \(offset))" }
    }

    static func decode(_ bytes: [UInt8], as forced: TextEncoding? = nil) throws(Problem) -> Decoded {
        var body = ArraySlice(bytes)
        var bom: TextEncoding?
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { bom = .utf8; body = body.dropFirst(3) }
        else if body.starts(with: [0xFF, 0xFE]) { bom = .utf16LE; body = body.dropFirst(2) }
        else if body.starts(with: [0xFE, 0xFF]) { bom = .utf16BE; body = body.dropFirst(2) }
        let encoding = forced ?? bom ?? (isValidUTF8(body) ? .utf8 : .windows1252)
        let text: String
        switch encoding {
        case .utf8:
            if let invalid = firstInvalidUTF8(body) {
                throw Problem(line: lineNumber(of: invalid, in: bytes), offset: invalid,
                              message: "not valid UTF-8; if the file came from Excel's plain \"CSV\", try --encoding windows-1252")
            }
            text = String(decoding: body, as: UTF8.self)
        case .windows1252:
            var scalars = String.UnicodeScalarView()
            for (offset, byte) in zip(body.indices, body) {
                guard let scalar = windows1252(byte) else {
                    throw Problem(line: lineNumber(of: offset, in: bytes), offset: offset,
                                  message: "byte 0x\(String(byte, radix: 16, uppercase: true)) has no character in Windows-1252; is the file really a text export?")
                }
                scalars.append(scalar)
            }
            text = String(scalars)
        case .utf16LE, .utf16BE:
            guard body.count % 2 == 0 else {
                throw Problem(line: lineNumber(of: bytes.count - 1, in: bytes), offset: bytes.count - 1, message: "UTF-16 text with an odd number of bytes (cut short?)")
            }
            let units = stride(from: body.startIndex, to: body.endIndex, by: 2).map { at -> UInt16 in
                encoding == .utf16LE ? UInt16(body[at]) | UInt16(body[at + 1]) << 8 : UInt16(body[at]) << 8 | UInt16(body[at + 1])
            }
            var scalars = String.UnicodeScalarView()
            var iterator = units.makeIterator()
            var codec = UTF16()
            decoding: while true {
                switch codec.decode(&iterator) {
                case .scalarValue(let scalar): scalars.append(scalar)
                case .emptyInput: break decoding
                case .error:
                    throw Problem(line: 0, offset: body.startIndex, message: "not valid UTF-16 (an unpaired surrogate)")
                }
            }
            text = String(scalars)
        }
        return Decoded(text: text, encoding: encoding, hadByteOrderMark: bom != nil)
    }

    static func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool { firstInvalidUTF8(bytes) == nil }

    /// Offset of the first byte that does not start or continue a well-formed UTF-8 sequence (RFC 3629: no overlong
    /// forms, no surrogates, nothing above U+10FFFF).
    static func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let lead = bytes[index]
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch lead {
            case 0x00...0x7F: index += 1; continue
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return index
            }
            guard index + length <= bytes.endIndex else { return index }
            for position in 1..<length {
                let byte = bytes[index + position]
                let (min, max) = position == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
                guard byte >= min, byte <= max else { return index }
            }
            index += length
        }
        return nil
    }

    static func lineNumber(of offset: Int, in bytes: [UInt8]) -> Int {
        1 + bytes[..<min(offset, bytes.count)].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    /// Windows-1252: Latin-1 except 0x80–0x9F, where it has curly quotes, dashes, € and a few letters; five of those
    /// bytes mean nothing.
    static func windows1252(_ byte: UInt8) -> Unicode.Scalar? {
        guard (0x80...0x9F).contains(byte) else { return Unicode.Scalar(byte) }
        let table: [UInt32?] = [
            0x20AC, nil, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, nil, 0x017D, nil,
            nil, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, nil, 0x017E, 0x0178,
        ]
        return table[Int(byte - 0x80)].flatMap(Unicode.Scalar.init)
    }
}
