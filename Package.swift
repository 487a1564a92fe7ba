// swift-tools-version: 6.2
import PackageDescription

/// Every target of ours compiles in Swift 6 language mode with warnings treated as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "NMRPerp",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nmrperp", targets: ["nmrperp"]),
        .library(name: "PerpModel", targets: ["PerpModel"]),
        .library(name: "PerpMechanics", targets: ["PerpMechanics"]),
        .library(name: "PerpHedge", targets: ["PerpHedge"]),
        .library(name: "PerpMarketData", targets: ["PerpMarketData"]),
        .library(name: "PerpVenues", targets: ["PerpVenues"]),
        .library(name: "PerpStore", targets: ["PerpStore"]),
        .library(name: "PerpSimulation", targets: ["PerpSimulation"]),
        .library(name: "PerpReports", targets: ["PerpReports"]),
        .library(name: "PerpEngine", targets: ["PerpEngine"]),
        .library(name: "PerpLive", targets: ["PerpLive"]),
        .library(name: "PerpExecution", targets: ["PerpExecution"]),
        .library(name: "PerpConfig", targets: ["PerpConfig"]),
        .library(name: "PerpDashboard", targets: ["PerpDashboard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Live trading (issue 12): signing, logging, the live HTTP transport, the user data
        // stream's WebSocket client, the latency histogram; Hummingbird for the venue twins.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // The dashboard's /metrics (issue 14).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Pure core: no I/O, no clock reads, no Foundation.
        .target(name: "PerpModel", swiftSettings: strict),
        .target(name: "PerpMechanics", dependencies: ["PerpModel"], swiftSettings: strict),
        .target(name: "PerpHedge", dependencies: ["PerpModel", "PerpMechanics"], swiftSettings: strict),
        .target(name: "PerpMarketData", dependencies: ["PerpModel"], swiftSettings: strict),
        .target(name: "PerpSimulation", dependencies: ["PerpModel", "PerpMechanics", "PerpHedge"], swiftSettings: strict),
        .target(name: "PerpReports", dependencies: ["PerpModel", "PerpSimulation"], swiftSettings: strict),
        .target(name: "PerpEngine", dependencies: ["PerpModel", "PerpMechanics", "PerpSimulation"], swiftSettings: strict),
        // NMR's own data (issue 16): sentiment scoring, on-chain flows, the network's totals.
        .target(name: "PerpSignals", dependencies: ["PerpModel"], swiftSettings: strict),
        // The execution layer's pure core: order state machine, intents, reconciliation.
        .target(name: "PerpExecution", dependencies: ["PerpModel", "PerpEngine", "PerpSimulation", "PerpHedge"], swiftSettings: strict),
        // The bot's configuration file (YAML), read the same way by paper, live and the dashboard.
        .target(
            name: "PerpConfig",
            dependencies: ["PerpModel", "PerpEngine", "PerpSimulation", "PerpMarketData", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        // Our declarations of Lighter's signer library, loaded at run time with dlopen (never linked).
        .target(name: "CLighterSigner", linkerSettings: [.linkedLibrary("dl")]),
        // Shell: venues (HTTP), storage (SQLite), CLI.
        .target(
            name: "PerpVenues",
            dependencies: [
                "PerpModel", "PerpMarketData", "PerpStore", "PerpExecution", "PerpSignals", "CLighterSigner",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: strict),
        // The compact real NMR history shipped as a resource, so the main job runs offline (issue 15).
        .target(
            name: "PerpShippedData", dependencies: ["PerpModel", "PerpMarketData"], exclude: ["SOURCE.md"],
            resources: [.copy("Resources/binance_usdm_NMRUSDT_30m_2024-10-23_2025-10-23.csv")], swiftSettings: strict),
        .target(
            name: "PerpStore",
            dependencies: ["PerpModel", "PerpEngine", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        .target(
            name: "PerpLive",
            dependencies: [
                "PerpModel", "PerpEngine", "PerpSimulation", "PerpVenues", "PerpStore", "PerpMarketData", "PerpExecution",
                "PerpConfig", "PerpSignals", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The local dashboard (issue 14): a Hummingbird app over the sessions' SQLite files.
        .target(
            name: "PerpDashboard",
            dependencies: [
                "PerpModel", "PerpEngine", "PerpExecution", "PerpStore", "PerpLive", "PerpConfig", "PerpReports", "PerpSimulation",
                "PerpMarketData", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "nmrperp",
            dependencies: [
                "PerpModel", "PerpMechanics", "PerpHedge", "PerpMarketData", "PerpVenues", "PerpStore", "PerpSimulation",
                "PerpReports", "PerpEngine", "PerpLive", "PerpExecution", "PerpConfig", "PerpDashboard", "PerpShippedData", "PerpSignals",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict),
        // The CLI fuzz harness: Foundation only, so it builds in seconds; it runs a built nmrperp.
        .executableTarget(name: "nmrperp-fuzz", swiftSettings: strict),
        .testTarget(name: "PerpModelTests", dependencies: ["PerpModel"], swiftSettings: strict),
        .testTarget(name: "PerpMechanicsTests", dependencies: ["PerpMechanics"], swiftSettings: strict),
        .testTarget(
            name: "PerpHedgeTests", dependencies: ["PerpHedge", "PerpMarketData"], swiftSettings: strict),
        .testTarget(name: "PerpMarketDataTests", dependencies: ["PerpMarketData"], swiftSettings: strict),
        .testTarget(name: "PerpSignalsTests", dependencies: ["PerpSignals"], swiftSettings: strict),
        .testTarget(name: "PerpStoreTests", dependencies: ["PerpStore"], swiftSettings: strict),
        .testTarget(
            name: "PerpVenuesTests", dependencies: ["PerpVenues", "PerpStore", "PerpExecution", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "PerpSimulationTests", dependencies: ["PerpSimulation", "PerpMarketData", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "PerpReportsTests", dependencies: ["PerpReports"], swiftSettings: strict),
        .testTarget(
            name: "PerpEngineTests", dependencies: ["PerpEngine", "PerpMarketData", "PerpSimulation", "TestSupport"], swiftSettings: strict),
        .target(
            name: "TestSupport",
            dependencies: [
                "PerpModel", "PerpVenues", "PerpLive", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "PerpExecutionTests", dependencies: ["PerpExecution", "PerpEngine", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "PerpLiveTests",
            dependencies: [
                "PerpLive", "PerpVenues", "PerpStore", "PerpEngine", "PerpExecution", "PerpConfig", "PerpSimulation", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "PerpDashboardTests",
            dependencies: [
                "PerpDashboard", "PerpLive", "PerpStore", "PerpEngine", "PerpExecution", "PerpConfig", "PerpHedge", "PerpVenues",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "CLITests", dependencies: ["nmrperp", "TestSupport", "PerpModel", "PerpStore", "PerpEngine", "PerpSimulation"],
            swiftSettings: strict),
    ]
)
