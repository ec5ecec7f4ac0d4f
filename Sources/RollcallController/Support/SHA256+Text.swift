import Crypto

extension SHA256 {
    /// The SHA-256 of a string's UTF-8 as 64 lower-case hex digits, the form the store keeps digests and hashes in.
    ///
    /// Written out by hand: `String(format: "%02x")` per byte cost a directory sync of 50,000 accounts over three
    /// seconds in Foundation's formatter.
    static func hexDigest(of text: String) -> String {
        hex(SHA256.hash(data: Array(text.utf8)))
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        hex(digest, count: SHA256.byteCount)
    }

    /// Any bytes as lower-case hex (random ids, nonces).
    static func hex(_ bytes: [UInt8]) -> String {
        hex(bytes, count: bytes.count)
    }

    private static func hex(_ bytes: some Sequence<UInt8>, count: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: count * 2) { buffer in
            var index = 0
            for byte in bytes {
                buffer[index] = digits[Int(byte >> 4)]
                buffer[index + 1] = digits[Int(byte & 0x0f)]
                index += 2
            }
            return index
        }
    }

    /// Feeds a string's UTF-8 without copying it into an array first.
    mutating func update(utf8Of text: String) {
        var text = text
        text.withUTF8 { update(bufferPointer: UnsafeRawBufferPointer($0)) }
    }
}
