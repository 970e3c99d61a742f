// swift-tools-version:6.0
import PackageDescription

// The libFuzzer driver for Sluice's fuzz targets, kept out of the root package so `swift build` there
// neither needs nor links libFuzzer. The targets' checks live in the root package's SluiceFuzzing
// library; this package only adds the entry point. Build it with sanitizers (scripts/fuzz.sh does):
//   swift build -c release --product sluice-fuzz --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xcc -fsanitize=fuzzer-no-link,address
//   CLibFuzzer   the declaration of libFuzzer's LLVMFuzzerRunDriver (no library: -sanitize=fuzzer links it)
//   sluice-fuzz  `sluice-fuzz TARGET [libFuzzer options] [corpus folders or files]`
let package = Package(
    name: "SluiceFuzz",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sluice-fuzz", targets: ["sluice-fuzz"]),
    ],
    dependencies: [
        .package(name: "Sluice", path: ".."),
    ],
    targets: [
        .systemLibrary(name: "CLibFuzzer"),
        .executableTarget(
            name: "sluice-fuzz",
            dependencies: ["CLibFuzzer", .product(name: "SluiceFuzzing", package: "Sluice")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
