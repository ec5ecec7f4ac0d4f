// swift-tools-version:6.1
import PackageDescription

/// Settings every Rollcall target shares: Swift 6 language mode (strict concurrency) is the default for tools 6.x;
/// these add the upcoming features STYLE.md asks for.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "rollcall",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "rollcall", targets: ["rollcall"]),
        .executable(name: "rollcall-agent", targets: ["rollcall-agent"]),
        .library(name: "RollcallProtocol", targets: ["RollcallProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // The wire protocol: Codable reports, versioned. Foundation-light so the agent stays small.
        .target(name: "RollcallProtocol", swiftSettings: strictSettings),
        // Log lines of both executables: journald's native protocol under systemd, key=value lines at a terminal.
        .target(name: "RollcallLogging", dependencies: [.product(name: "Logging", package: "swift-log")], swiftSettings: strictSettings),

        // Debian's libsqlite3 for the agent's outbox (the controller uses sqlite-nio's own prefixed copy).
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

        // glibc calls Swift's Glibc module does not export (malloc_trim).
        .target(name: "CAgentSystem"),

        // Debian's OpenSSL (libssl) for the agent's TLS client: the agent has no NIO, and libssl is already on every
        // Debian machine, so TLS costs the agent no new package. Loaded with dlopen on first use, never linked, so
        // commands without TLS or signing (inventory, --version) do not pay its memory; the headers come from libssl-dev.
        // "dl": dlopen is in libc from glibc 2.34 (Debian 12), in libdl before.
        .target(name: "COpenSSL", linkerSettings: [.linkedLibrary("dl")]),

        // Debian's libudev, for the USB storage watcher: the same events udisks and the desktop see.
        .systemLibrary(name: "CUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),

        .target(
            name: "RollcallAgent",
            dependencies: [
                // No swift-crypto: Ed25519 and SHA-256 come from the libcrypto that TLS loads anyway (SigningKey).
                "RollcallProtocol", "CSQLite3", "CAgentSystem", "COpenSSL", "CUdev",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Debian's OpenLDAP client library, and the small safe API the controller uses over it.
        .systemLibrary(name: "CLDAP", pkgConfig: "ldap", providers: [.apt(["libldap2-dev"])]),
        .target(name: "LDAPKit", dependencies: ["CLDAP"], swiftSettings: strictSettings),
        // Debian's reference Argon2 (the one cryptsetup uses) for the dashboard's local passwords: none of the listed
        // Swift packages has Argon2 or bcrypt, and a home-made one would be the wrong place to save a dependency.
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),

        .target(
            name: "RollcallController",
            dependencies: [
                "RollcallProtocol", "LDAPKit", "CArgon2",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "rollcall-agent",
            dependencies: [
                // No ArgumentParser here: see AgentCommandLine for the memory budget that rules it out.
                "RollcallAgent", "RollcallProtocol", "RollcallLogging",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "rollcall",
            dependencies: [
                "RollcallController", "RollcallProtocol", "RollcallLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),

        // What the tests share: a real slapd started from scripts/slapd-school.sh, free ports, child processes.
        .target(name: "RollcallTestSupport", path: "Tests/Support", swiftSettings: strictSettings),

        .testTarget(name: "LDAPKitTests", dependencies: ["LDAPKit", "RollcallTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "RollcallProtocolTests", dependencies: ["RollcallProtocol"], swiftSettings: strictSettings),
        .testTarget(
            name: "RollcallLoggingTests",
            dependencies: ["RollcallLogging", "RollcallTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RollcallAgentTests",
            // swift-crypto here only to check the agent's libcrypto signatures verify the way the controller verifies.
            dependencies: ["RollcallAgent", "RollcallProtocol", "RollcallTestSupport", .product(name: "Crypto", package: "swift-crypto")],
            resources: [],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RollcallControllerTests",
            dependencies: [
                // The agent too: posture verdicts are checked on facts the agent really collects from fixture trees.
                "RollcallController", "RollcallProtocol", "RollcallTestSupport", "LDAPKit", "RollcallAgent",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        // Runs the built executables against each other, the way a technician does.
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["rollcall", "rollcall-agent", "RollcallProtocol", "RollcallTestSupport", "LDAPKit"],
            swiftSettings: strictSettings
        ),
    ]
)
