// swift-tools-version:6.0
import PackageDescription

// The benchmark harness's load generator, kept out of the root package so CI builds do not grow.
//   LoadCore     response parsing, SSE line scanning, statistics, /proc sampling (no I/O of its own)
//   sluice-load  the load generator: N keep-alive connections on libevent loops, one JSON report
let package = Package(
    name: "SluiceBench",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sluice-load", targets: ["sluice-load"]),
    ],
    dependencies: [
        .package(name: "Sluice", path: ".."),
    ],
    targets: [
        .target(name: "LoadCore", dependencies: [.product(name: "SluiceHTTP", package: "Sluice")]),
        .executableTarget(
            name: "sluice-load",
            dependencies: [
                "LoadCore",
                .product(name: "SluiceIO", package: "Sluice"),
                .product(name: "SluiceHTTP", package: "Sluice"),
            ]
        ),
        .testTarget(name: "LoadCoreTests", dependencies: ["LoadCore"]),
    ],
    swiftLanguageModes: [.v6]
)
