import Foundation

/// Turns an export's bytes into text, in the encoding school office software actually writes.
///
/// SIMS and Excel on Windows save "CSV" as Windows-1252 unless told otherwise, "CSV UTF-8" with a byte-order mark,
/// and "Unicode text" as UTF-16. Detection: a BOM decides; otherwise text that is valid UTF-8 is UTF-8 (Windows-1252
/// text with accents is almost never valid UTF-8 by accident); otherwise Windows-1252. `--encoding` overrides it.
public enum TextEncoding: String, CaseIterable, Sendable, Codable {
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

    /// Decodes bytes held in memory (small inputs and tests; imports stream with ``ScalarDecoder``).
    static func decode(_ bytes: [UInt8], as forced: TextEncoding? = nil) throws(Problem) -> Decoded {
        let (encoding, bom) = detect(forced: forced) { ByteReader(bytes: bytes) }
        let decoder = ScalarDecoder(ByteReader(bytes: bytes), encoding: encoding, skipping: bom ? 1 : 0)
        var scalars = String.UnicodeScalarView()
        while let scalar = decoder.next() { scalars.append(scalar) }
        if let problem = decoder.problem { throw problem }
        return Decoded(text: String(scalars), encoding: encoding, hadByteOrderMark: bom)
    }

    /// The encoding to read with and whether the input starts with a byte-order mark. Without a BOM or a forced
    /// encoding this reads the whole input once (in constant memory) to see whether it is valid UTF-8.
    static func detect(forced: TextEncoding?, open: () -> ByteReader) -> (encoding: TextEncoding, byteOrderMark: Bool) {
        let reader = open()
        let first = [reader.next(), reader.next(), reader.next()]
        var bom: TextEncoding?
        if first == [0xEF, 0xBB, 0xBF] { bom = .utf8 }
        else if first[0] == 0xFF, first[1] == 0xFE { bom = .utf16LE }
        else if first[0] == 0xFE, first[1] == 0xFF { bom = .utf16BE }
        if let chosen = forced ?? bom {
            // A BOM is skipped only when it belongs to the encoding read with.
            return (chosen, bom == chosen)
        }
        let validator = ScalarDecoder(open(), encoding: .utf8)
        while validator.next() != nil {}
        return (validator.problem == nil ? .utf8 : .windows1252, false)
    }

    static func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
        let decoder = ScalarDecoder(ByteReader(bytes: Array(bytes)), encoding: .utf8)
        while decoder.next() != nil {}
        return decoder.problem == nil
    }

    /// Windows-1252: Latin-1 except 0x80–0x9F, where it has curly quotes, dashes, € and a few letters; five of those
    /// bytes mean nothing.
    static func windows1252(_ byte: UInt8) -> Unicode.Scalar? {
        guard (0x80...0x9F).contains(byte) else { return Unicode.Scalar(byte) }
        return windows1252High[Int(byte - 0x80)].flatMap(Unicode.Scalar.init)
    }

    private static let windows1252High: [UInt32?] = [
        0x20AC, nil, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, nil, 0x017D, nil,
        nil, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, nil, 0x017E, 0x0178,
    ]
}

/// Bytes from a file, 64 KiB at a time, or from memory; counts lines so a decoding error can say where it is.
///
/// A class because a reader is consumed by one decoder and owns its file descriptor, closed on deinit.
final class ByteReader {
    private var buffer: [UInt8]
    private var position = 0
    private let descriptor: Int32?
    /// Offset of the next byte.
    private(set) var offset = 0
    /// The line the next byte is on.
    private(set) var line = 1
    /// A read error, if the file could not be read to its end.
    private(set) var readError: String?

    init(bytes: [UInt8]) {
        buffer = bytes
        descriptor = nil
    }

    /// Opens `path` for reading; nil with the reason when it cannot be opened.
    static func open(_ path: String) -> Result<ByteReader, ImportFileError> {
        let descriptor = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(ImportFileError(path: path, message: "cannot open the file: \(String(cString: strerror(errno)))"))
        }
        return .success(ByteReader(descriptor: descriptor))
    }

    private init(descriptor: Int32) {
        buffer = []
        self.descriptor = descriptor
    }

    deinit {
        if let descriptor { close(descriptor) }
    }

    func next() -> UInt8? {
        if position == buffer.count, !refill() { return nil }
        let byte = buffer[position]
        position += 1
        offset += 1
        if byte == 0x0A { line += 1 }
        return byte
    }

    private func refill() -> Bool {
        guard let descriptor, readError == nil else { return false }
        buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { readError = String(cString: strerror(errno)) }
            buffer.removeSubrange(max(count, 0)...)
            position = 0
            return count > 0
        }
    }
}

/// Unicode scalars from a ``ByteReader`` in one encoding. Stops (returns nil) at the first byte that is not valid
/// in it and keeps the ``problem``, with the line and byte offset.
final class ScalarDecoder {
    private let reader: ByteReader
    private let encoding: TextEncoding
    private(set) var problem: TextDecoding.Problem?

    init(_ reader: ByteReader, encoding: TextEncoding, skipping byteOrderMark: Int = 0) {
        self.reader = reader
        self.encoding = encoding
        if byteOrderMark > 0 {
            for _ in 0..<(encoding == .utf8 ? 3 : 2) { _ = reader.next() }
        }
    }

    func next() -> Unicode.Scalar? {
        guard problem == nil else { return nil }
        let line = reader.line, offset = reader.offset
        guard let lead = reader.next() else {
            if let error = reader.readError { _ = fail(line, offset, "the file could not be read to its end: \(error)") }
            return nil
        }
        switch encoding {
        case .windows1252:
            guard let scalar = TextDecoding.windows1252(lead) else {
                return fail(line, offset, "byte 0x\(String(lead, radix: 16, uppercase: true)) has no character in Windows-1252; is the file really a text export?")
            }
            return scalar
        case .utf8:
            return utf8(lead, line, offset)
        case .utf16LE, .utf16BE:
            guard let unit = utf16Unit(lead) else {
                return fail(line, offset, "UTF-16 text with an odd number of bytes (cut short?)")
            }
            if (0xD800...0xDBFF).contains(unit) {
                guard let secondLead = reader.next(), let low = utf16Unit(secondLead), (0xDC00...0xDFFF).contains(low) else {
                    return fail(line, offset, "not valid UTF-16 (an unpaired surrogate)")
                }
                return Unicode.Scalar(0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00))
            }
            guard let scalar = Unicode.Scalar(unit) else { return fail(line, offset, "not valid UTF-16 (an unpaired surrogate)") }
            return scalar
        }
    }

    private func utf16Unit(_ first: UInt8) -> UInt16? {
        guard let second = reader.next() else { return nil }
        return encoding == .utf16LE ? UInt16(first) | UInt16(second) << 8 : UInt16(first) << 8 | UInt16(second)
    }

    /// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
    private func utf8(_ lead: UInt8, _ line: Int, _ offset: Int) -> Unicode.Scalar? {
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        var value: UInt32
        switch lead {
        case 0x00...0x7F: return Unicode.Scalar(lead)
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F)
        case 0xE0: length = 3; low = 0xA0; value = 0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3; value = UInt32(lead & 0x0F)
        case 0xED: length = 3; high = 0x9F; value = 0x0D
        case 0xF0: length = 4; low = 0x90; value = 0
        case 0xF1...0xF3: length = 4; value = UInt32(lead & 0x07)
        case 0xF4: length = 4; high = 0x8F; value = 4
        default: return invalidUTF8(line, offset)
        }
        for position in 1..<length {
            guard let byte = reader.next() else { return invalidUTF8(line, offset) }
            let (min, max) = position == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= min, byte <= max else { return invalidUTF8(line, offset) }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        return Unicode.Scalar(value) ?? invalidUTF8(line, offset)
    }

    private func invalidUTF8(_ line: Int, _ offset: Int) -> Unicode.Scalar? {
        fail(line, offset, "not valid UTF-8; if the file came from Excel's plain \"CSV\", try --encoding windows-1252")
    }

    private func fail(_ line: Int, _ offset: Int, _ message: String) -> Unicode.Scalar? {
        problem = TextDecoding.Problem(line: line, offset: offset, message: message)
        return nil
    }
}

/// A file that cannot be opened or read at all.
public struct ImportFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public var description: String { "\(path): \(message)" }
}
