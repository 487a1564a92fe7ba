// swift-tools-version: 6.2
// A strategy of your own, run through NMRPerp's backtester, reports and walk-forward.
// Build and run from this folder: swift run custom-strategy ../../Sources/PerpShippedData/Resources/*.csv
import PackageDescription

let package = Package(
    name: "CustomStrategy",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "NMRPerp", path: "../..")],
    targets: [
        .executableTarget(
            name: "custom-strategy",
            dependencies: [
                .product(name: "PerpModel", package: "NMRPerp"), .product(name: "PerpSimulation", package: "NMRPerp"),
                .product(name: "PerpReports", package: "NMRPerp"), .product(name: "PerpMarketData", package: "NMRPerp"),
            ],
            swiftSettings: [.treatAllWarnings(as: .error)])
    ]
)
