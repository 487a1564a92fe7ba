import Foundation
import Logging
import PerpConfig
import PerpEngine
import PerpExecution
import PerpLive
import PerpMechanics
import PerpModel
import PerpSimulation
import PerpStore
import TestSupport
import Testing

/// Paper trading on the execution layer (decision 0013): the simulated venue in paper mode,
/// rebuilt from a session's record after its process died, and the live runtime on it.
@Suite struct PaperVenueTests {
    static let start = SimulatedVenueTests.start
    static let interval = SimulatedVenueTests.interval
    static let rules = SimulatedVenueTests.rules
    static let bars = SimulatedVenueTests.bars

    static func paper(balance: Notional = Notional(1000)) -> SimulatedExecutionVenue {
        SimulatedExecutionVenue(
            name: "paper", rules: rules, config: SimulatedVenueTests.config(.fixed(Rate("0.0005")!)), balance: balance, time: start,
            barInterval: interval, mode: .paper)
    }

    /// Drives a paper venue as the trader does and keeps the inputs the trader would store.
    struct Recorder {
        var inputs: [LiveInput] = []
        let venue: SimulatedExecutionVenue

        mutating func observe(_ market: MarketObservation) async {
            let events = await venue.observe(market)
            inputs += events.map { .execution(.venue($0, at: Self.start)) }
            if case .bar(let candle) = market { inputs.append(.bar(candle, live: true)) }
        }

        mutating func submit(_ intent: OrderIntent) async -> SubmitOutcome {
            let outcome = await venue.submit(intent)
            inputs.append(.execution(.submitted(clientID: intent.clientID, outcome, at: Self.start)))
            inputs += await venue.takeEvents().map { .execution(.venue($0, at: Self.start)) }
            return outcome
        }

        var record: SimulatedVenueRecord {
            var record = SimulatedVenueRecord()
            for input in inputs { record.observe(input) }
            return record
        }

        static var start: Timestamp { PaperVenueTests.start }
    }

    /// A long with its stop and target, funding, then the process dies: the venue rebuilt from
    /// the record holds what the dead one held (position, entry, wallet, resting orders, fills)
    /// and goes on exactly as it would have.
    @Test func aRebuiltVenueIsTheOneThatDied() async throws {
        let venue = Self.paper()
        var recorder = Recorder(venue: venue)
        await recorder.observe(.bar(Self.bars[0]))
        let entry = await recorder.submit(SimulatedVenueTests.intent(1, .long, "10"))
        guard case .accepted(let filled) = entry else {
            Issue.record("entry: \(entry)")
            return
        }
        #expect(filled.status == .filled)
        _ = await recorder.submit(SimulatedVenueTests.intent(2, .stopMarket, .short, "10", trigger: "7.95", reduceOnly: true))
        _ = await recorder.submit(SimulatedVenueTests.intent(3, .takeProfitMarket, .short, "10", trigger: "8.50", reduceOnly: true))
        await recorder.observe(
            .funding(FundingRate(time: Self.bars[1].openTime, rate: Rate("0.0001")!, interval: .hours(8)), mark: nil))
        await recorder.observe(.bar(Self.bars[1]))

        let before = try await venue.snapshot(fillsSince: Self.start)
        let rebuilt = Self.paper()
        await rebuilt.restore(recorder.record, openOrders: before.openOrders)
        let after = try await rebuilt.snapshot(fillsSince: Self.start)
        #expect(after == before)
        #expect(before.openOrders.count == 2)

        // Funding was paid at bar 1's open (no mark given): 10 × 8.05 × 0.0001, out of the wallet.
        let payment = FundingMath.payment(quantity: Quantity(10), mark: Price("8.05")!, rate: Rate("0.0001")!)
        let fee = try #require(before.fills.first?.fee)
        #expect(before.balance.wallet == Notional(1000) - fee - payment)

        // Bar 2 falls through the stop: both venues fill it the same way.
        let original = await venue.observe(.bar(Self.bars[2]))
        let copy = await rebuilt.observe(.bar(Self.bars[2]))
        #expect(original == copy)
        #expect(original.contains { if case .fill = $0 { return true } else { return false } })
        #expect(try await venue.snapshot(fillsSince: Self.start) == (try await rebuilt.snapshot(fillsSince: Self.start)))
        // A bar seen again (a restart shows the bar it crashed on) changes nothing.
        #expect(await venue.observe(.bar(Self.bars[2])).isEmpty)
    }

    /// Paper mode has no stream and no dead man's switch: the venue lives in the process, so
    /// a stop must not be cancelled because bars went by faster than heartbeats (catch-up).
    @Test func paperModeHasNoStreamAndKeepsItsOrders() async throws {
        let venue = Self.paper()
        #expect(await venue.events() == nil)
        _ = await venue.observe(.bar(Self.bars[0]))
        _ = await venue.submit(SimulatedVenueTests.intent(1, .long, "10"))
        _ = await venue.submit(SimulatedVenueTests.intent(2, .stopMarket, .short, "10", trigger: "7.00", reduceOnly: true))
        try await venue.heartbeat(countdown: .seconds(1))
        _ = await venue.takeEvents()
        _ = await venue.observe(.bar(Self.bars[1]))
        #expect(try await venue.snapshot(fillsSince: Self.start).openOrders.count == 1)
        #expect(await venue.takeEvents().isEmpty, "observed events are answered, not queued twice")
    }

    @Test func settingsReadBackAndNothingElseReadsAsPaper() throws {
        var config = VenueConfig()
        config.takerFee = Rate("0.0004")!
        config.slippage = .fixed(Rate("0.0002")!)
        let settings = PaperVenueSettings(capital: Notional("2500.5")!, rules: Self.rules, venue: config)
        #expect(PaperVenueSettings.parse(settings.text, symbol: "NMRUSDT") == settings)
        #expect(settings.venue.lotSize == Self.rules.lotSize, "the lot is the venue's")
        for text in [
            "binance-usdm", "binance-usdm-testnet", "", "venue=paper",
            settings.text.replacingOccurrences(of: "capital=2500.5", with: "capital=0"),
            settings.text.replacingOccurrences(of: "tick=0.001", with: "tick=-1"), settings.text + " junk",
        ] {
            #expect(PaperVenueSettings.parse(text, symbol: "NMRUSDT") == nil, "\(text)")
        }
    }

    static func trader(store: LiveStore, venue: SimulatedExecutionVenue, feed: MemoryFeed, clock: ManualClock) throws -> LiveTrader {
        let (bot, problems) = try BotConfigFile.parse(yaml: LiveFixtures.fastConfig, file: "fast.yaml")
        #expect(problems.isEmpty)
        var settings = LiveSettings(name: "paper", venueName: "paper", bot: bot, botText: LiveFixtures.fastConfig, sizeFraction: .one)
        settings.warmup = .minutes(40)
        return LiveTrader(
            settings: settings, store: store, venue: venue, rules: LiveTraderTests.rules, feed: feed, clock: clock,
            logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), created: Timestamp(milliseconds: 0))
    }

    /// The live runtime on the paper venue, once straight through and once with the process
    /// "dying" after every poll (trader and venue dropped, both rebuilt from the store): the
    /// same trades, position and wallet to the last unit.
    @Test func restartingAfterEveryPollChangesNothing() async throws {
        let bars = LiveTraderTests.bars(count: 140)
        func run(restartEveryPoll: Bool) async throws -> (session: LiveSession, trades: [VenueFill]) {
            let clock = ManualClock(LiveTraderTests.start + TimeSpan.minutes(40) + TimeSpan.seconds(2))
            var feed = MemoryFeed(bars: bars, clock: clock, interval: .minutes(1))
            // A settlement every 20 minutes (a high rate, so that it shows in the wallet).
            feed.settlements = stride(from: 0, to: 140, by: 20).map {
                FundingRate(time: LiveTraderTests.start + TimeSpan.minutes(Int64($0)), rate: Rate("0.001")!, interval: .hours(1))
            }
            let store = try LiveStore.inMemory()
            func venue() -> SimulatedExecutionVenue {
                SimulatedExecutionVenue(
                    name: "paper", rules: LiveTraderTests.rules, balance: Notional(10_000), time: clock.now(), barInterval: .minutes(1),
                    mode: .paper)
            }
            var current = venue()
            var trader = try Self.trader(store: store, venue: current, feed: feed, clock: clock)
            try await trader.start(pid: 1)
            for bar in bars.dropFirst(40) {
                clock.set(bar.openTime + TimeSpan.minutes(1) + TimeSpan.seconds(2))
                if restartEveryPoll {
                    current = venue()
                    trader = try Self.trader(store: store, venue: current, feed: feed, clock: clock)
                    try await trader.start(pid: 2)
                }
                _ = try await trader.poll()
            }
            return (trader.session, await current.executions)
        }
        let straight = try await run(restartEveryPoll: false)
        let restarted = try await run(restartEveryPoll: true)
        #expect(straight.session.entries >= 4, "the fast configuration should trade")
        #expect(restarted.session.engine.position == straight.session.engine.position)
        // The wallet to the last unit (what is available depends on the price it was last
        // reported at: each restart's reconciliation reports it again).
        #expect(restarted.session.engine.balance?.wallet == straight.session.engine.balance?.wallet)
        #expect(restarted.session.entries == straight.session.entries)
        #expect(restarted.trades.map(\.price) == straight.trades.map(\.price))
        #expect(restarted.trades.map(\.quantity) == straight.trades.map(\.quantity))
        #expect(restarted.session.record.liveBars == straight.session.record.liveBars)
        #expect(restarted.session.engine.gate == .open)
        // Funding reached the kernel and the venue's wallet, the same way in both.
        #expect(straight.session.lastFundingTime == LiveTraderTests.start + TimeSpan.minutes(120))
        #expect(restarted.session.lastFundingTime == straight.session.lastFundingTime)
    }
}
