/// A certificate's SHA-256 fingerprint as technicians see it: printed by `rollcall serve`, pasted into
/// `rollcall-agent enrol --fingerprint` or agent.toml. One parser and one printer, shared by both programs.
public enum CertificateFingerprint {
    /// Parses a fingerprint as people paste it: "SHA256:AB:CD:…", "sha256 Fingerprint=AB:CD:…" (what
    /// `openssl x509 -fingerprint -sha256` prints), "abcd…" (64 hex digits); colons and spaces optional, any case.
    /// nil unless it is exactly 32 bytes, so a SHA-1 fingerprint or a digit lost in copying is refused, not truncated.
    public static func parse(_ text: String) -> [UInt8]? {
        var rest = Substring(text.lowercased())
        while let first = rest.first, first.isWhitespace { rest.removeFirst() }
        for prefix in ["sha256 fingerprint=", "sha-256 fingerprint=", "sha256:", "sha-256:", "sha256=", "sha256 "]
        where rest.hasPrefix(prefix) {
            rest = rest.dropFirst(prefix.count)
            break
        }
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in rest.unicodeScalars {
            let nibble: UInt8
            switch character {
            case "0"..."9": nibble = UInt8(character.value - 48)
            case "a"..."f": nibble = UInt8(character.value - 87)
            case ":", " ", "\t", "\r", "\n": continue
            default: return nil
            }
            if let pending = high {
                bytes.append(pending << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        guard high == nil, bytes.count == 32 else { return nil }
        return bytes
    }

    /// "AB:CD:…" upper-case with colons: how `rollcall serve` and `openssl x509 -fingerprint` print them, so a
    /// technician can compare by eye.
    public static func format(_ bytes: [UInt8]) -> String {
        let digits: [Character] = Array("0123456789ABCDEF")
        var text = ""
        text.reserveCapacity(bytes.count * 3)
        for (index, byte) in bytes.enumerated() {
            if index > 0 { text.append(":") }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}
