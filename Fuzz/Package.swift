// swift-tools-version: 6.2
import PackageDescription

// A coverage-guided (libFuzzer) target for the parsers of untrusted input. Its own package so the
// main build never needs the fuzzer runtime; it uses only the light products of the root package.
// Build and run (Linux, swift.org toolchain):
//   swift build --package-path Fuzz -c debug -Xswiftc -sanitize=fuzzer --build-path .build-fuzz
//   .build-fuzz/debug/ParserFuzzer -max_total_time=60 -seed=1 Fuzz/corpus
let package = Package(
    name: "NMRPerpFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "NMRPerp", path: "..")],
    targets: [
        // libFuzzer's driver entry point, for the Swift `main`.
        .target(name: "FuzzerDriver"),
        .executableTarget(
            name: "ParserFuzzer",
            dependencies: [
                "FuzzerDriver",
                .product(name: "PerpModel", package: "NMRPerp"),
                .product(name: "PerpMarketData", package: "NMRPerp"),
            ],
            swiftSettings: [.treatAllWarnings(as: .error)]),
    ]
)
