import ArgumentParser
import Foundation
import Histogram
import Logging
import PerpExecution
import PerpLive
import PerpModel
import PerpStore
import PerpVenues

#if canImport(Glibc)
    import Glibc
#endif

/// `nmrperp bench hedge` (issue 13): Lighter's signer through its C ABI (throughput and latency
/// percentiles), and the hedge daemon's resource use at rest.
struct BenchHedge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hedge",
        abstract: "Time Lighter's signer (orders per second, p50/p99) and measure the hedge daemon at rest (CPU, memory).",
        discussion: """
            Signing: --signs CreateOrder transactions signed one after another through the loaded \
            library (dlopen, lighter-sdk 1.1.8), each timed into an HDR histogram. It needs the signer \
            (bash scripts/install-lighter-signer.sh) and uses a throw-away key registered nowhere.

            At rest: the loop `hedge run` runs (poll, then sleep in one-second slices until the next \
            poll), for --idle seconds with --poll between polls, over a SQLite session file, with the \
            signer's Go runtime loaded. The venue and Numerai are answered in memory, so the figure is \
            the daemon's own cost; the real daemon adds two or three HTTPS requests a poll. CPU is the \
            process's user + system time over the wall time; memory is the peak resident set.

              swift build -c release && .build/release/nmrperp bench hedge --signs 5000 --idle 120 --poll 60s
            """)

    @Option(help: "Transactions to sign (after 200 warm-up ones), 100–100000.") var signs = 2_000
    @Option(help: "Seconds to run the daemon at rest, 0–3600 (0, the default, skips it; the issue's figure: 120).") var idle = 0
    @Option(help: "Time between the daemon's polls.") var poll = "60s"
    @Flag(help: "Print JSON.") var json = false

    /// The contract tests' throw-away key (Tests/PerpVenuesTests/Fixtures): registered nowhere.
    static let throwAwayKey = "0xb5123683b4550f9e541c7412b6692c9ce76836339d06b42c1bd72499ea35c068c9ce8a44e3133c79"

    func run() async throws {
        guard (100...100_000).contains(signs) else { throw CLIError("--signs must be between 100 and 100000 (got \(signs))") }
        guard (0...3600).contains(idle) else { throw CLIError("--idle must be between 0 and 3600 seconds (got \(idle))") }
        let pollEvery = try Parse.span(poll, "--poll")
        guard pollEvery >= .seconds(1) else { throw CLIError("--poll must be at least 1s (got \(poll))") }
        let path = LighterLibrarySigner.libraryPath(environment: Environment.values, home: Environment.home)
        let signer: LighterLibrarySigner
        do {
            signer = try LighterLibrarySigner(
                libraryPath: path, key: LighterPrivateKey(hex: Self.throwAwayKey)!, accountIndex: 281_474_976_710_600, apiKeyIndex: 4,
                chainID: 304)
        } catch {
            throw CLIError("\(error)")
        }
        let signing = try Self.signing(signer, count: signs)
        var rest: (cpuPercent: Double, peakMB: Double, polls: Int, seconds: Double)?
        if idle > 0 { rest = try await Self.atRest(seconds: idle, pollEvery: pollEvery) }
        func micros(_ value: UInt64) -> Double { Double(value) / 1000 }
        let perSecond = Double(signing.histogram.totalCount) / max(signing.seconds, 1e-9)
        if json {
            var members: [(String, JSONValue)] = [
                (
                    "signing",
                    .object([
                        ("count", .int(signing.histogram.totalCount)), ("per_second", .double(perSecond, significant: 5)),
                        ("p50_us", .double(micros(signing.histogram.valueAtPercentile(50)), significant: 4)),
                        ("p99_us", .double(micros(signing.histogram.valueAtPercentile(99)), significant: 4)),
                        ("max_us", .double(micros(signing.histogram.max), significant: 4)),
                    ])
                )
            ]
            if let rest {
                members.append(
                    (
                        "at_rest",
                        .object([
                            ("seconds", .double(rest.seconds, significant: 4)), ("polls", .int(rest.polls)),
                            ("cpu_percent", .double(rest.cpuPercent, significant: 3)),
                            ("peak_rss_mb", .double(rest.peakMB, significant: 4)),
                            ("goal_cpu_percent", .int(1)), ("goal_mb", .int(100)),
                        ])
                    ))
            }
            print(JSONValue.object(members).serialized(pretty: true))
            return
        }
        print(
            "signing (Lighter's library, CreateOrder): \(formatFixed(perSecond, 0)) a second; p50 \(formatFixed(micros(signing.histogram.valueAtPercentile(50)), 1)) µs, p99 \(formatFixed(micros(signing.histogram.valueAtPercentile(99)), 1)) µs, max \(formatFixed(micros(signing.histogram.max), 1)) µs (\(signing.histogram.totalCount) signatures)"
        )
        if let rest {
            print(
                "hedge daemon at rest: \(formatFixed(rest.cpuPercent, 3)) % CPU over \(formatFixed(rest.seconds, 1)) s (\(rest.polls) polls, one every \(poll)), peak RSS \(formatFixed(rest.peakMB, 1)) MB  [goals: < 1 % CPU, < 100 MB]"
            )
        }
    }

    static func signing(_ signer: LighterLibrarySigner, count: Int) throws -> (histogram: Histogram<UInt64>, seconds: Double) {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let clock = ContinuousClock()
        func order(_ index: Int) -> LighterOrderFields {
            LighterOrderFields(
                market: 74, clientOrderIndex: Int64(1000 + index), baseAmount: 314, price: 84_603, isAsk: index % 2 == 0, orderType: 1,
                timeInForce: 0, reduceOnly: false, triggerPrice: 0, orderExpiry: 0)
        }
        for index in 0..<200 { _ = try? signer.createOrder(order(index), nonce: Int64(index)) }
        let started = clock.now
        for index in 0..<count {
            let before = clock.now
            do { _ = try signer.createOrder(order(index), nonce: Int64(200 + index)) } catch { throw CLIError("\(error)") }
            let elapsed = before.duration(to: clock.now)
            histogram.record(UInt64(max(0, elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)))
        }
        let total = started.duration(to: clock.now)
        return (histogram, Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18)
    }

    /// CPU seconds (user + system) of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    static func atRest(seconds: Int, pollEvery: TimeSpan) async throws -> (cpuPercent: Double, peakMB: Double, polls: Int, seconds: Double)
    {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-bench-hedge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try LiveStore(path: folder.appendingPathComponent("hedge.sqlite").path)
        let rules = MarketRules(
            symbol: "NMR", tickSize: Price("0.0001")!, lotSize: Quantity("0.01")!, maxMarketQuantity: Quantity(100_000),
            minNotional: Notional(1))
        let settings = HedgeSettings(
            collateralMultiple: Rate("2.7332")!, maintenanceFraction: Rate("0.2")!, rebalanceEvery: .days(30), drift: Rate("0.05")!,
            warnAt: Rate("0.5")!, rules: rules, maxOrder: Quantity(100_000), sessionTag: "benchhdg")
        let config = HedgeSessionConfig(
            settings: settings, models: ["bench"], tournament: "classic", leverage: 3, collateralSource: "bench")
        let venue = RestingVenue()
        var runner = HedgeRunner(
            name: "bench", config: config, store: store, venue: venue, venueName: "bench", stakeSource: { Quantity(10) },
            clock: { SystemPaperClock().now() }, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }), notifier: nil,
            dryRun: false, output: { _ in })
        _ = try await runner.start(pid: getpid())
        // The hedge is in place: the loop only looks, as it does between rebalances.
        _ = try await runner.poll()
        // Polls at both ends of the span: `seconds` of sleeping between them.
        let polls = max(2, Int(Int64(seconds) * 1000 / max(pollEvery.milliseconds, 1)) + 1)
        let wallStart = Date()
        let cpuStart = cpuSeconds()
        _ = try await HedgeLoop.run(runner, pollEvery: pollEvery, maxPolls: polls) { _ in }
        let wall = Date().timeIntervalSince(wallStart)
        let cpu = cpuSeconds() - cpuStart
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return (cpu / max(wall, 1e-9) * 100, Double(usage.ru_maxrss) / 1024, polls, wall)
    }
}

/// A venue answered in memory: a short of 10 NMR with its collateral in place, so the daemon at
/// rest only looks.
actor RestingVenue: HedgeVenue {
    nonisolated let name = "bench"
    func rules() async throws -> MarketRules {
        MarketRules(
            symbol: "NMR", tickSize: Price("0.0001")!, lotSize: Quantity("0.01")!, maxMarketQuantity: Quantity(100_000),
            minNotional: Notional(1))
    }
    func prepare(leverage: Int, isolated: Bool) async throws {}
    func submit(_ intent: OrderIntent) async -> SubmitOutcome { .rejected(code: -1, message: "the benchmark venue takes no orders") }
    func lookup(clientID: String, kind: OrderKind) async -> LookupOutcome { .notFound }
    func cancel(clientID: String, kind: OrderKind) async -> CancelOutcome { .notOpen }
    func snapshot(fillsSince: Timestamp) async throws -> VenueSnapshot {
        VenueSnapshot(
            openOrders: [], position: VenuePosition(quantity: Quantity(-10)),
            balance: VenueBalance(wallet: Notional(1000), available: Notional(700)),
            fills: [], time: SystemPaperClock().now())
    }
    func heartbeat(countdown: TimeSpan) async throws {}
    func events() async -> AsyncStream<VenueEvent>? { nil }
    func hedgeState() async throws -> HedgeVenueState {
        // k·q·P = 2.7332 × 10 × 8.4603 = 231.2369… USDC on the position: nothing to do.
        HedgeVenueState(
            position: VenuePosition(quantity: Quantity(-10), isolatedMargin: Notional("231.236920")!),
            balance: VenueBalance(wallet: Notional(1000), available: Notional(700)), mark: Price("8.4603")!, fundingPaid: .zero)
    }
    func moveMargin(_ amount: Notional, add: Bool) async -> MarginOutcome { .done }
}
