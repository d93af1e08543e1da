// swift-tools-version: 6.1
// mprefd — waits on PossibleNOW MyPreferences async exports so ETL hosts don't have to.
//
// Targets import downward only: executables → MprefWorker → (MyPreferences, MprefStore).
// MyPreferences knows HTTP and never SQLite; MprefStore knows SQL and never HTTP.
import PackageDescription

let package = Package(
    name: "mprefd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mprefd", targets: ["mprefd"]),
        .executable(name: "mpref-sim", targets: ["mpref-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already in the graph through swift-configuration's YAML trait; used directly to list the
        // keys of the config file (account client IDs, unknown-key errors), which ConfigReader cannot.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Already in the graph through swift-subprocess and swift-configuration; named because their
        // APIs take its FilePath (hook processes, the config file provider).
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
    ],
    targets: [
        // A few Linux calls that Swift cannot make directly (variadic prctl).
        .target(name: "CMprefSystem"),

        // The leaf every other target shares: saturating arithmetic and conversions for values from
        // outside the process, `Duration` ↔ seconds, wall-clock instants pinned to years 0000–9999.
        .target(name: "MprefCore"),

        // The database: opening, migrations (embedded from migrations/*.sql), tokens, history, hook runs.
        .target(
            name: "MprefStore",
            dependencies: [
                "MprefCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The MyPreferences API: requests, auth (OAuth, PNAUTHINFO3), decoding, Retry-After, outcomes.
        .target(
            name: "MyPreferences",
            dependencies: [
                "MprefCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Decisions and actions: polling policy, scheduler, hook runner.
        .target(
            name: "MprefWorker",
            dependencies: [
                "MprefCore",
                "MprefStore",
                "MyPreferences",
                "CMprefSystem",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // A faithful fake of MyPreferences for tests, benchmarks and the demo.
        .target(
            name: "MyPreferencesSimulator",
            dependencies: [
                "MprefCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            // Optimized in debug builds too: the tests have it generate and serve tens of megabytes of
            // export records, ~5 s more CPU per `make test` unoptimized. A test fixture, not product code.
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),

        .executableTarget(
            name: "mprefd",
            dependencies: [
                "MprefCore",
                "MprefWorker",
                "MprefStore",
                "MyPreferences",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                // The metrics listener's idle timeout and connection cap.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "mpref-sim",
            dependencies: [
                "MyPreferencesSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // `make bench`: throughput, scale, idle, admin and hook-latency benchmarks (docs/BENCHMARKS.md).
        .executableTarget(
            name: "mpref-bench",
            dependencies: [
                "MprefCore",
                "MprefWorker",
                "MprefStore",
                "MyPreferences",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Test support, shared by the test targets (no product): one child-process harness, a manual clock,
        // swift-log's in-memory log handler, the built binaries, in-process reads of a database.
        .target(
            name: "MprefTestSupport",
            dependencies: [
                "MprefCore", .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/MprefTestSupport"
        ),

        .testTarget(name: "MprefCoreTests", dependencies: ["MprefCore"]),
        .testTarget(
            name: "MprefStoreTests",
            dependencies: [
                "MprefStore", "MprefCore", "MprefTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "MyPreferencesTests",
            dependencies: [
                "MyPreferences", "MprefCore", "MyPreferencesSimulator", "MprefTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "MprefWorkerTests",
            dependencies: [
                "MprefWorker", "MprefCore", "MprefStore", "MyPreferences", "MyPreferencesSimulator", "MprefTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "MyPreferencesSimulatorTests",
            dependencies: [
                "MyPreferencesSimulator", "mpref-sim", "MprefCore", "MprefTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                // The canonical export checksum, recomputed independently of the simulator.
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "mprefdTests",
            dependencies: [
                "mprefd", "mpref-sim", "MprefCore", "MprefStore", "MprefWorker", "MyPreferencesSimulator",
                "MprefTestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // `make test-reliability` (MPREFD_RELIABILITY=full): crash recovery, fault matrix, fuzzing, contention,
        // disk full, shutdown — against the real binaries. Without the variable a fast subset runs in `make test`.
        .testTarget(
            name: "ReliabilityTests",
            dependencies: [
                "mprefd", "mpref-sim", "MprefCore", "MprefStore", "MprefWorker", "MyPreferences",
                "MyPreferencesSimulator", "MprefTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

// Every Swift target: a file sees the members of a module only when it imports that module itself
// (SE-0444), so each target's imports and declared dependencies say what it really uses.
for target in package.targets where target.name != "CMprefSystem" {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}
