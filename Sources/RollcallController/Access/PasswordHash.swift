import CArgon2
import Crypto
import Foundation

/// Argon2id password hashes in the PHC string format (`$argon2id$v=19$m=65536,t=3,p=1$salt$hash`), through Debian's
/// reference libargon2.
///
/// The parameters are RFC 9106's second recommendation (64 MiB, 3 passes): about a tenth of a second here, which a
/// sign-in does not notice and a stolen store's brute force does. Verification reads the parameters from the stored
/// string, so raising them later keeps old hashes working.
public enum PasswordHash {
    static let timeCost: UInt32 = 3
    static let memoryKiB: UInt32 = 64 * 1024
    static let parallelism: UInt32 = 1
    static let hashLength = 32
    static let saltLength = 16

    /// A fresh hash with a random 16-byte salt, for `rollcall users add` and `users password`.
    public static func make(_ password: String) throws(PasswordHashError) -> String {
        var salt = [UInt8](repeating: 0, count: saltLength)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = UInt8.random(in: .min ... .max, using: &generator) }
        let password = Array(password.utf8)
        let length = argon2_encodedlen(timeCost, memoryKiB, parallelism, UInt32(saltLength), UInt32(hashLength), Argon2_id)
        var encoded = [CChar](repeating: 0, count: length)
        let status = argon2id_hash_encoded(timeCost, memoryKiB, parallelism, password, password.count, salt, salt.count, hashLength,
                                           &encoded, encoded.count)
        guard status == ARGON2_OK.rawValue else { throw PasswordHashError(status: status) }
        return String(decoding: encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when `password` matches; false for a wrong password and for a hash that is not Argon2id.
    public static func verify(_ password: String, against encoded: String) -> Bool {
        guard encoded.hasPrefix("$argon2id$") else { return false }
        let password = Array(password.utf8)
        return argon2id_verify(encoded, password, password.count) == ARGON2_OK.rawValue
    }

    /// A password the school's own policy would accept for a dashboard account: at least 10 characters with three of
    /// lower case, upper case, digits and symbols. Nil when fine, else what is wrong.
    public static func weakness(of password: String) -> String? {
        guard password.count >= 10 else { return "a dashboard password needs at least 10 characters" }
        let classes = [
            password.contains { $0.isLowercase }, password.contains { $0.isUppercase }, password.contains { $0.isNumber },
            password.contains { !$0.isLetter && !$0.isNumber },
        ].filter { $0 }.count
        return classes >= 3 ? nil : "a dashboard password needs three of: lower case, upper case, digits, symbols"
    }
}

public struct PasswordHashError: Error, Sendable, CustomStringConvertible {
    public let status: Int32

    public var description: String {
        "Argon2 failed: \(String(cString: argon2_error_message(status)))"
    }
}
