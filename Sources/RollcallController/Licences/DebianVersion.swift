import Foundation

/// Version ordering as dpkg has it (`dpkg --compare-versions`), so a licence for "Office 7" can say `>= 7, < 8`
/// and `7.0~beta1` sorts before `7.0`, `1:2.0` after `9.9`, `2.10` after `2.9`.
///
/// Snap and flatpak versions are compared the same way; for the dotted numbers they use the order is the obvious one.
struct DebianVersion: Comparable, CustomStringConvertible, Sendable {
    let epoch: Int
    let upstream: [UInt8]
    let revision: [UInt8]
    let description: String

    init(_ text: String) {
        description = text
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if let colon = rest.firstIndex(of: ":"), let epoch = Int(rest[..<colon]) {
            self.epoch = epoch
            rest = rest[rest.index(after: colon)...]
        } else {
            epoch = 0
        }
        if let dash = rest.lastIndex(of: "-") {
            upstream = Array(rest[..<dash].utf8)
            revision = Array(rest[rest.index(after: dash)...].utf8)
        } else {
            upstream = Array(rest.utf8)
            revision = []
        }
    }

    private init(epoch: Int, upstream: [UInt8], revision: [UInt8], description: String) {
        self.epoch = epoch
        self.upstream = upstream
        self.revision = revision
        self.description = description
    }

    /// The same version at epoch 0.
    var withoutEpoch: DebianVersion { DebianVersion(epoch: 0, upstream: upstream, revision: revision, description: description) }

    static func == (lhs: DebianVersion, rhs: DebianVersion) -> Bool { compare(lhs, rhs) == 0 }
    static func < (lhs: DebianVersion, rhs: DebianVersion) -> Bool { compare(lhs, rhs) < 0 }

    static func compare(_ lhs: DebianVersion, _ rhs: DebianVersion) -> Int {
        if lhs.epoch != rhs.epoch { return lhs.epoch < rhs.epoch ? -1 : 1 }
        let upstream = compareParts(lhs.upstream, rhs.upstream)
        return upstream != 0 ? upstream : compareParts(lhs.revision, rhs.revision)
    }

    /// dpkg's `verrevcmp`: alternate runs of non-digits (letters before other characters, `~` before everything,
    /// even the end) and digit runs compared as numbers.
    private static func compareParts(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var i = 0
        var j = 0
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        func order(_ bytes: [UInt8], _ index: Int) -> Int {
            guard index < bytes.count else { return 0 }
            let byte = bytes[index]
            if isDigit(byte) { return 0 }
            if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) { return Int(byte) }
            if byte == UInt8(ascii: "~") { return -1 }
            return Int(byte) + 256
        }
        while i < a.count || j < b.count {
            while (i < a.count && !isDigit(a[i])) || (j < b.count && !isDigit(b[j])) {
                let left = order(a, i)
                let right = order(b, j)
                if left != right { return left < right ? -1 : 1 }
                i += 1
                j += 1
            }
            while i < a.count, a[i] == UInt8(ascii: "0") { i += 1 }
            while j < b.count, b[j] == UInt8(ascii: "0") { j += 1 }
            var firstDifference = 0
            while i < a.count, j < b.count, isDigit(a[i]), isDigit(b[j]) {
                if firstDifference == 0 { firstDifference = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if i < a.count, isDigit(a[i]) { return 1 }
            if j < b.count, isDigit(b[j]) { return -1 }
            if firstDifference != 0 { return firstDifference < 0 ? -1 : 1 }
        }
        return 0
    }
}
