import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which installed packages a licence covers: one or more name patterns, each optionally tied to a package source,
/// and an optional version range.
///
/// Written the way a technician thinks of a product: `google-chrome-*; flatpak:com.google.Chrome` covers Chrome from
/// Google's repository and from Flathub, `/^libreoffice[0-9.]*-core$/` is a regular expression, and the versions
/// `>= 7.0, < 8` keep Office 7 apart from Office 8 when the school bought them separately.
struct LicenceRule: Sendable, Equatable {
    struct Pattern: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            /// fnmatch(3) glob, case-insensitive (both sides lower-cased: FNM_CASEFOLD is a GNU macro Swift cannot see).
            case glob(String)
            /// A whole-name match, case-insensitive, compiled once.
            case regex(NSRegularExpression)
        }
        var source: String?
        var kind: Kind
    }

    struct Constraint: Sendable, Equatable {
        enum Operator: String, Sendable, Equatable, CaseIterable {
            case greaterOrEqual = ">=", lessOrEqual = "<=", notEqual = "!=", greater = ">", less = "<", equal = "="
        }
        let op: Operator
        let version: String
        /// `7.*`: any version whose upstream part starts `7.` (or is exactly `7`).
        let prefix: Bool
        /// `version`, parsed once: it is compared with every installation.
        let bound: DebianVersion

        init(op: Operator, version: String, prefix: Bool = false) {
            self.op = op
            self.version = version
            self.prefix = prefix
            bound = DebianVersion(version)
        }
    }

    var patterns: [Pattern]
    var constraints: [Constraint]

    static let sources = ["dpkg", "snap", "flatpak"]

    /// Parses the `Match` and `Versions` cells; the error says what is wrong in words a technician can fix.
    init(match: String, versions: String?) throws(RuleError) {
        var patterns: [Pattern] = []
        for piece in match.split(separator: ";") {
            var text = piece.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            var source: String?
            if let colon = text.firstIndex(of: ":"), Self.sources.contains(text[..<colon].lowercased()) {
                source = text[..<colon].lowercased()
                text = String(text[text.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
            guard !text.isEmpty else { throw .match("'\(piece)' names a source but no package") }
            if text.count >= 2, text.hasPrefix("/"), text.hasSuffix("/") {
                let body = String(text.dropFirst().dropLast())
                do {
                    // Swift's parser says what is wrong ("expected ')'"); Foundation's, which matches, only that it is.
                    _ = try Regex(body)
                    let regex = try NSRegularExpression(pattern: "^(?:\(body))$", options: [.caseInsensitive])
                    patterns.append(Pattern(source: source, kind: .regex(regex)))
                } catch {
                    throw .match("'\(text)' is not a regular expression (\(error))")
                }
            } else {
                guard !text.contains(where: \.isWhitespace) else {
                    throw .match("'\(text)' has a space in it; separate several packages with ';'")
                }
                patterns.append(Pattern(source: source, kind: .glob(text)))
            }
        }
        guard !patterns.isEmpty else { throw .match("no package pattern (e.g. google-chrome-*, snap:zoom-client, /^code(-insiders)?$/)") }
        self.patterns = patterns
        self.constraints = try Self.parseVersions(versions ?? "")
    }

    enum RuleError: Error, Equatable, CustomStringConvertible {
        case match(String)
        case versions(String)
        var description: String {
            switch self {
            case .match(let why), .versions(let why): why
            }
        }
    }

    /// `>= 7.0, < 8`, `>=7 <8`, `= 2.3.1`, `7.*`: every constraint must hold. Without an epoch in the range, a
    /// package's epoch (a packaging detail, as in `4:7.6.4-1`) is ignored.
    static func parseVersions(_ text: String) throws(RuleError) -> [Constraint] {
        var constraints: [Constraint] = []
        var rest = Substring(text)
        func skipSeparators() { while let first = rest.first, first.isWhitespace || first == "," { rest.removeFirst() } }
        skipSeparators()
        while !rest.isEmpty {
            var op = Constraint.Operator.equal
            var explicit = false
            for candidate in Constraint.Operator.allCases where rest.hasPrefix(candidate.rawValue) {
                op = candidate
                explicit = true
                rest.removeFirst(candidate.rawValue.count)
                if candidate == .equal, rest.first == "=" { rest.removeFirst() }
                break
            }
            while rest.first?.isWhitespace == true { rest.removeFirst() }
            let version = rest.prefix { !$0.isWhitespace && $0 != "," }
            rest.removeFirst(version.count)
            guard !version.isEmpty, version.first.map({ $0.isNumber }) == true else {
                throw .versions("'\(text)' is not a version range: expected e.g. '>= 7.0, < 8', '= 2.3.1' or '7.*'"
                    + (version.isEmpty ? " (an operator has no version after it)" : " ('\(version)' does not start with a digit)"))
            }
            if version.hasSuffix(".*") {
                guard !explicit || op == .equal else { throw .versions("'\(op.rawValue) \(version)': a wildcard version takes no operator") }
                constraints.append(Constraint(op: .equal, version: String(version.dropLast(2)), prefix: true))
            } else {
                guard !version.contains("*") else { throw .versions("'\(version)': a wildcard goes only at the end, as in '7.*'") }
                constraints.append(Constraint(op: op, version: String(version)))
            }
            skipSeparators()
        }
        return constraints
    }

    /// Whether the package (as the agent reported it; dpkg names may carry `:arch`) is covered; a nil version
    /// checks the name alone.
    func matches(source: String, name: String, version: String?) -> Bool {
        let bare = Self.bareName(source: source, name: name)
        let named = patterns.contains { pattern in
            if let wanted = pattern.source, wanted != source { return false }
            switch pattern.kind {
            case .glob(let glob): return fnmatch(glob.lowercased(), bare.lowercased(), 0) == 0
            case .regex(let regex): return regex.firstMatch(in: bare, range: NSRange(bare.startIndex..., in: bare)) != nil
            }
        }
        return named && (version.map(versionMatches) ?? true)
    }

    /// The package's own name: dpkg's `libc6:i386` is `libc6` (snap and flatpak names never carry an architecture).
    static func bareName(source: String, name: String) -> String {
        source == "dpkg" ? String(name.prefix { $0 != ":" }) : name
    }

    func versionMatches(_ text: String) -> Bool {
        guard !constraints.isEmpty else { return true }
        let version = DebianVersion(text)
        return constraints.allSatisfy { constraint in
            if constraint.prefix {
                let upstream = String(decoding: version.upstream, as: UTF8.self)
                return upstream == constraint.version || upstream.hasPrefix(constraint.version + ".")
            }
            // A range without an epoch speaks of the product's version: `>= 7` must cover LibreOffice's `4:7.6.4-1`.
            let order = DebianVersion.compare(constraint.version.contains(":") ? version : version.withoutEpoch, constraint.bound)
            switch constraint.op {
            case .greaterOrEqual: return order >= 0
            case .lessOrEqual: return order <= 0
            case .greater: return order > 0
            case .less: return order < 0
            case .equal: return order == 0
            case .notEqual: return order != 0
            }
        }
    }
}
