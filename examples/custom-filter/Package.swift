// swift-tools-version:6.0
import PackageDescription

// A package of its own, as a user's would be: it depends on Sluice by path, adds three filters of
// its own, and builds a `sluice` command line that knows them (`example-sluice`).
//
//   CustomFilters      the filters: api_key_auth, stream_redaction, prompt_tokens_header
//   ExampleSluice      the binary: the built-in filters plus these, then `SluiceCommand.main`
//   CustomFiltersTests tests over real sockets with the SluiceTesting library
let package = Package(
    name: "CustomFilterExample",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "example-sluice", targets: ["ExampleSluice"]),
        .library(name: "CustomFilters", targets: ["CustomFilters"]),
    ],
    dependencies: [
        // In your own package: .package(url: "https://…/sluice.git", from: "…")
        .package(name: "Sluice", path: "../.."),
    ],
    targets: [
        .target(
            name: "CustomFilters",
            dependencies: [.product(name: "SluiceFilterAPI", package: "Sluice")]
        ),
        .executableTarget(
            name: "ExampleSluice",
            dependencies: ["CustomFilters", .product(name: "SluiceServer", package: "Sluice")]
        ),
        .testTarget(
            name: "CustomFiltersTests",
            dependencies: [
                "CustomFilters",
                .product(name: "SluiceTesting", package: "Sluice"),
                .product(name: "SluiceServer", package: "Sluice"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
