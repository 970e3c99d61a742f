// swift-tools-version:6.0
import PackageDescription

// Architecture, bottom up:
//   CLibevent         the C edge: libevent + OpenSSL headers and shims
//   SluiceIO          Swift owners for event bases, bufferevents, listeners, timers, TLS, DNS
//   SluiceHTTP        our strict, incremental HTTP/1.1 codec (pure Swift, no I/O)
//   SluiceRedis       a RESP2 codec (pure) and a Redis client on SluiceIO's bufferevents (shared limits)
//   SluiceFilterAPI   the public filter API: Filter, Exchange, Decision, ProxyError, SSE, config reading
//   SluiceConfig      the filter file: YAML with positions, schema, validation
//   SluiceMock        the fake LLM backend (in-process upstream and `sluice mock`)
//   SluiceEngine      the proxy: workers, downstream and upstream connections, the exchange state machine
//   SluiceFilters     the built-in filters
//   SluiceCLI         `sluice run|check|mock`, reusable by binaries that register their own filters
//   SluiceTesting     harness for users' and our own tests: proxy on port 0, fake upstream, SSE client
//   SluiceFuzzing     the fuzz targets' checks (the libFuzzer driver is the package in fuzz/)
// Release builds of the modules on the data path skip Swift's run-time exclusivity checks. Every
// test runs a debug build, which keeps them, so an overlapping access still fails there; in release
// they cost about 90 instructions each, several per forwarded event and a hundred per request, and
// a public member marked `@exclusivity(unchecked)` is still checked when another module reads it.
let dataPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceFilterAPI", targets: ["SluiceFilterAPI"]),
        .library(name: "SluiceServer", targets: ["SluiceCLI", "SluiceEngine", "SluiceFilters"]),
        .library(name: "SluiceTesting", targets: ["SluiceTesting"]),
        // For the load generator in bench/ (its own package): the event loop and the HTTP codec.
        .library(name: "SluiceIO", targets: ["SluiceIO"]),
        .library(name: "SluiceHTTP", targets: ["SluiceHTTP"]),
        // For the libFuzzer driver in fuzz/ (its own package, built with sanitizers by scripts/fuzz.sh).
        .library(name: "SluiceFuzzing", targets: ["SluiceFuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibevent",
            pkgConfig: "libevent_openssl",
            providers: [.apt(["libevent-dev", "libssl-dev"])]
        ),
        .target(name: "SluiceIO", dependencies: ["CLibevent"], swiftSettings: dataPath),
        .target(name: "SluiceHTTP", swiftSettings: dataPath),
        .target(name: "SluiceRedis", dependencies: ["SluiceIO"], swiftSettings: dataPath),
        .target(
            name: "SluiceFilterAPI",
            dependencies: ["SluiceHTTP", .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: dataPath
        ),
        .target(name: "SluiceConfig", dependencies: ["SluiceFilterAPI", "Yams"]),
        .target(name: "SluiceMock", dependencies: ["SluiceIO", "SluiceHTTP", "SluiceFilterAPI"]),
        .target(
            name: "SluiceEngine",
            dependencies: [
                "SluiceIO", "SluiceHTTP", "SluiceFilterAPI", "SluiceConfig", "SluiceMock", "SluiceRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: dataPath
        ),
        .target(
            name: "SluiceFilters",
            dependencies: ["SluiceFilterAPI", .product(name: "Logging", package: "swift-log")],
            swiftSettings: dataPath
        ),
        .target(
            name: "SluiceCLI",
            dependencies: [
                "SluiceEngine", "SluiceFilters", "SluiceConfig", "SluiceMock", "SluiceIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "sluice", dependencies: ["SluiceCLI"]),
        .target(
            name: "SluiceTesting",
            dependencies: [
                "SluiceEngine", "SluiceFilters", "SluiceConfig", "SluiceMock", "SluiceIO", "SluiceHTTP", "SluiceFilterAPI", "SluiceRedis",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // In this package, not in fuzz/, because it checks package-internal parsers (JSONByteReader).
        .target(name: "SluiceFuzzing", dependencies: ["SluiceHTTP", "SluiceFilterAPI", "SluiceConfig", "SluiceFilters", "SluiceRedis"]),
        .testTarget(name: "SluiceHTTPTests", dependencies: ["SluiceHTTP"]),
        .testTarget(name: "SluiceRedisTests", dependencies: ["SluiceRedis", "SluiceIO", "SluiceTesting"]),
        .testTarget(name: "SluiceFilterAPITests", dependencies: ["SluiceFilterAPI"]),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig", "SluiceFilters"]),
        .testTarget(name: "SluiceMockTests", dependencies: ["SluiceMock", "SluiceTesting"]),
        .testTarget(name: "SluiceEngineTests", dependencies: [
            "SluiceTesting", "SluiceEngine", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SluiceFuzzingTests", dependencies: ["SluiceFuzzing"]),
        .testTarget(name: "SluiceFiltersTests", dependencies: [
            "SluiceFilters", "SluiceTesting", "SluiceFilterAPI", "SluiceMock", "SluiceHTTP",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
