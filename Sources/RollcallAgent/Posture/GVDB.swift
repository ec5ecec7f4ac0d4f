/// A reader for GVDB files, the format of dconf's databases (`/etc/dconf/db/NAME`, `~/.config/dconf/user`).
///
/// dconf compiles the keyfiles in `/etc/dconf/db/NAME.d/` into these; what a desktop reads is the compiled file,
/// so the agent reads it too rather than the keyfiles (which are not in force until `dconf update`). The format
/// (glib's gvdb-format.h): a 24-byte header `GVariant`, version, options and a pointer to the root hash table;
/// each item names its parent item, so full keys are rebuilt by following parents. Values are serialised
/// GVariants of type `v`; the agent decodes the simple types the screen-lock keys use.
struct GVDBFile {
    enum Value: Equatable {
        case bool(Bool)
        case integer(Int)
        case string(String)
        /// A type the agent does not need: its GVariant type string.
        case other(String)
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case notGVDB
        case bigEndian
        case truncated(String)

        var description: String {
            switch self {
            case .notGVDB: "not a GVDB (dconf) database"
            case .bigEndian: "a big-endian GVDB database, which this agent does not read"
            case .truncated(let what): "damaged: \(what) lies outside the file"
            }
        }
    }

    /// Full key (`/org/gnome/desktop/screensaver/lock-enabled`) → value.
    private(set) var values: [String: Value] = [:]
    /// Keys and directories (`/org/gnome/desktop/screensaver/`) locked by the system administrator.
    private(set) var locks: Set<String> = []

    init(bytes: [UInt8]) throws(Failure) {
        guard bytes.count >= 24 else { throw .notGVDB }
        if Array(bytes[0..<8]) == Array("GVariant".utf8) {
            // little-endian, the only byte order dconf writes on x86 and ARM
        } else if Array(bytes[0..<8]) == Array("raVGtnai".utf8) {
            throw .bigEndian
        } else {
            throw .notGVDB
        }
        let root = try Self.pointer(bytes, at: 16)
        for (key, item) in try Self.table(bytes, root) {
            switch item.type {
            case UInt8(ascii: "v"):
                values[key] = try Self.variant(bytes, item.value)
            case UInt8(ascii: "H") where key == ".locks":
                for (locked, _) in try Self.table(bytes, item.value) { locks.insert(locked) }
            default:
                break
            }
        }
    }

    /// Whether a key is locked, itself or through a locked directory above it.
    func isLocked(_ key: String) -> Bool {
        if locks.contains(key) { return true }
        var path = Substring(key)
        while let slash = path.dropLast().lastIndex(of: "/") {
            path = path[...slash]
            if locks.contains(String(path)) { return true }
        }
        return false
    }

    private struct Item {
        var parent: UInt32
        var key: String
        var type: UInt8
        var value: Range<Int>
    }

    private static func u32(_ bytes: [UInt8], _ offset: Int) throws(Failure) -> UInt32 {
        guard offset >= 0, offset + 4 <= bytes.count else { throw .truncated("a number at \(offset)") }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    private static func pointer(_ bytes: [UInt8], at offset: Int) throws(Failure) -> Range<Int> {
        let start = Int(try u32(bytes, offset)), end = Int(try u32(bytes, offset + 4))
        guard start <= end, end <= bytes.count else { throw .truncated("a pointer at \(offset)") }
        return start..<end
    }

    /// A hash table's items as full key → item.
    private static func table(_ bytes: [UInt8], _ range: Range<Int>) throws(Failure) -> [(String, Item)] {
        guard range.count >= 8 else { return [] }
        let bloomWords = Int(try u32(bytes, range.lowerBound) & ((1 << 27) - 1))
        let buckets = Int(try u32(bytes, range.lowerBound + 4))
        let itemsStart = range.lowerBound + 8 + 4 * bloomWords + 4 * buckets
        guard itemsStart <= range.upperBound else { throw .truncated("a hash table") }
        let count = (range.upperBound - itemsStart) / 24
        var items: [Item] = []
        items.reserveCapacity(count)
        for index in 0..<count {
            let base = itemsStart + index * 24
            let parent = try u32(bytes, base + 4)
            let keyStart = Int(try u32(bytes, base + 8))
            let keySize = Int(bytes[base + 12]) | Int(bytes[base + 13]) << 8
            guard keyStart + keySize <= bytes.count else { throw .truncated("a key") }
            let key = String(decoding: bytes[keyStart..<(keyStart + keySize)], as: UTF8.self)
            let type = bytes[base + 14]
            let value = type == UInt8(ascii: "v") || type == UInt8(ascii: "H") || type == UInt8(ascii: "L")
                ? try pointer(bytes, at: base + 16) : 0..<0
            items.append(Item(parent: parent, key: key, type: type, value: value))
        }
        func fullKey(_ index: Int, depth: Int) -> String {
            let item = items[index]
            guard item.parent != UInt32.max, Int(item.parent) < items.count, depth < 64 else { return item.key }
            return fullKey(Int(item.parent), depth: depth + 1) + item.key
        }
        return items.indices.map { (fullKey($0, depth: 0), items[$0]) }
    }

    /// A serialised `v`: the child's bytes, a zero byte, then the child's type string.
    private static func variant(_ bytes: [UInt8], _ range: Range<Int>) throws(Failure) -> Value {
        let data = bytes[range]
        guard let separator = data.lastIndex(of: 0) else { return .other("?") }
        let type = String(decoding: data[(separator + 1)...], as: UTF8.self)
        let body = Array(data[data.startIndex..<separator])
        func integer(_ size: Int, signed: Bool) -> Value {
            guard body.count >= size else { return .other(type) }
            var raw: UInt64 = 0
            for index in 0..<size { raw |= UInt64(body[index]) << (8 * UInt64(index)) }
            if signed, size < 8, raw & (1 << (UInt64(size) * 8 - 1)) != 0 { raw |= ~((1 << (UInt64(size) * 8)) - 1) }
            return .integer(signed ? Int(Int64(bitPattern: raw)) : Int(truncatingIfNeeded: raw))
        }
        switch type {
        case "b": return body.count == 1 ? .bool(body[0] != 0) : .other(type)
        case "y": return integer(1, signed: false)
        case "n": return integer(2, signed: true)
        case "q": return integer(2, signed: false)
        case "i": return integer(4, signed: true)
        case "u": return integer(4, signed: false)
        case "x": return integer(8, signed: true)
        case "t": return integer(8, signed: false)
        case "s": return .string(String(decoding: body.prefix { $0 != 0 }, as: UTF8.self))
        default: return .other(type)
        }
    }
}
