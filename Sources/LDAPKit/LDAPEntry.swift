/// One entry of a search result: its DN and its attributes' raw values.
///
/// Attribute names keep the server's spelling (or the caller's, where they match); lookups ignore case, as LDAP does.
/// An entry has a dozen attributes or so, read once each, so they are a list in the server's order: cheaper to
/// build and to search than a dictionary, which a 50,000-entry sync would build 50,000 times.
public struct LDAPEntry: Sendable, Equatable {
    public struct Attribute: Sendable, Equatable {
        public let name: String
        public let values: [[UInt8]]

        public init(name: String, values: [[UInt8]]) {
            self.name = name
            self.values = values
        }
    }

    public let dn: String
    public let attributes: [Attribute]

    public init(dn: String, attributes: [Attribute]) {
        self.dn = dn
        self.attributes = attributes
    }

    /// Every value of an attribute as raw bytes (for binary attributes such as `objectGUID`).
    public func values(_ name: String) -> [[UInt8]] {
        if let exact = attributes.first(where: { $0.name == name }) { return exact.values }
        return attributes.first { Self.sameName($0.name, name) }?.values ?? []
    }

    /// Attribute descriptions are ASCII (RFC 4512 1.4), so a byte-wise case fold is exact and allocates nothing:
    /// a sync asks for absent attributes tens of thousands of times.
    static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        return zip(a.utf8, b.utf8).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7a)
        }
    }

    /// One slice of a ranged attribute (`member;range=0-1499`): its values and where the next slice starts, nil
    /// when this is the last (`member;range=1500-*`).
    public struct AttributeRange: Sendable, Equatable {
        public let first: Int
        public let next: Int?
        public let values: [[UInt8]]
    }

    /// The slice of `name` the entry carries as `name;range=LOW-HIGH`, or nil when the attribute came whole.
    public func range(of name: String) -> AttributeRange? {
        let prefix = name + ";range="
        for attribute in attributes where attribute.name.utf8.count > prefix.utf8.count
            && Self.sameName(String(attribute.name.prefix(prefix.count)), prefix) {
            let bounds = attribute.name.dropFirst(prefix.count).split(separator: "-", maxSplits: 1)
            guard bounds.count == 2, let low = Int(bounds[0]) else { continue }
            if bounds[1] == "*" { return AttributeRange(first: low, next: nil, values: attribute.values) }
            guard let high = Int(bounds[1]), high >= low else { continue }
            return AttributeRange(first: low, next: high + 1, values: attribute.values)
        }
        return nil
    }

    /// Every value as UTF-8 text (LDAP strings are UTF-8).
    public func strings(_ name: String) -> [String] {
        values(name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The first value as text, or nil when the attribute is absent.
    public func string(_ name: String) -> String? {
        values(name).first.map { String(decoding: $0, as: UTF8.self) }
    }
}

/// How far below the base a search looks.
public enum LDAPScope: Sendable {
    case base, oneLevel, subtree
}

/// One change of a modify operation. Values are text; use the `binary` forms for octet strings.
public enum LDAPModification: Sendable, Equatable {
    case add(String, [String])
    case replace(String, [String])
    /// Deletes the given values, or the whole attribute when the list is empty.
    case delete(String, [String] = [])
    case replaceBinary(String, [[UInt8]])
    case addBinary(String, [[UInt8]])

    var attribute: String {
        switch self {
        case .add(let name, _), .replace(let name, _), .delete(let name, _), .replaceBinary(let name, _), .addBinary(let name, _): name
        }
    }

    var values: [[UInt8]] {
        switch self {
        case .add(_, let values), .replace(_, let values), .delete(_, let values): values.map { Array($0.utf8) }
        case .replaceBinary(_, let values), .addBinary(_, let values): values
        }
    }
}

/// What the password policy (ppolicy, draft-behera) said about a bind.
public struct PasswordPolicyResponse: Sendable, Equatable {
    public enum PolicyError: Int32, Sendable {
        case passwordExpired = 0, accountLocked, changeAfterReset, passwordModNotAllowed, mustSupplyOldPassword
        case insufficientPasswordQuality, passwordTooShort, passwordTooYoung, passwordInHistory, passwordTooLong
    }

    /// Seconds until the password expires, when the server warns.
    public var secondsUntilExpiry: Int?
    /// Grace binds left after expiry.
    public var graceLoginsRemaining: Int?
    public var error: PolicyError?

    /// The user bound but must change the password before doing anything else ("Password must be changed").
    public var mustChangePassword: Bool { error == .changeAfterReset }
}

/// Building search filters from user input.
public enum LDAPFilter {
    /// A value escaped for use inside a filter (RFC 4515 section 3): `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`,
    /// `\29`, `\5c`, `\00`, so a name typed at a sign-in form cannot widen the search.
    public static func escape(_ value: String) -> String {
        var output = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "*": output += "\\2a"
            case "(": output += "\\28"
            case ")": output += "\\29"
            case "\\": output += "\\5c"
            case "\0": output += "\\00"
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }
}

/// Building DNs from user input.
public enum LDAPDN {
    /// An attribute value escaped for an RDN (RFC 4514 section 2.4): `,` `+` `"` `\` `<` `>` `;` `=` are escaped
    /// with a backslash, as are a leading `#` or space and a trailing space, so `Smith, Jane` names one entry.
    public static func escape(_ value: String) -> String {
        var output = ""
        let scalars = Array(value.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            switch scalar {
            case ",", "+", "\"", "\\", "<", ">", ";", "=":
                output += "\\"
                output.unicodeScalars.append(scalar)
            case "#" where index == 0, " " where index == 0 || index == scalars.count - 1:
                output += "\\"
                output.unicodeScalars.append(scalar)
            case "\0":
                output += "\\00"
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        return output
    }
}
