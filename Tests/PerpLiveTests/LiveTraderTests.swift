import Foundation
import Logging
import PerpConfig
import PerpEngine
import PerpExecution
import PerpLive
import PerpModel
import PerpSimulation
import PerpStore
import PerpVenues
import TestSupport
import Testing

/// Bars from memory, as a venue publishes them: only those closed by the clock's time.
struct MemoryFeed: PaperFeed {
    let bars: [Candle]
    let clock: ManualClock
    let interval: TimeSpan
    /// Funding settlements, published at their time.
    var settlements: [FundingRate] = []

    func bars(from: Timestamp, limit: Int) async throws -> [BinanceUSDMClient.KlineRow] {
        let now = clock.now()
        return bars.lazy.filter { $0.openTime >= from && $0.openTime + interval <= now }.prefix(limit).map { .bar($0) }
    }
    func funding(from: Timestamp, to: Timestamp) async throws -> [(rate: FundingRate, mark: Price?)] {
        let now = clock.now()
        return settlements.filter { $0.time >= from && $0.time < to && $0.time <= now }.map { ($0, nil) }
    }
    func premium() async throws -> BinanceUSDMClient.PremiumIndex { throw CancellationError() }
}

/// The live runtime end to end against the simulated venue: the kernel decides, every input is
/// stored before its orders leave, the venue's state and ours agree, and a restart replays to
/// the same orders without sending any twice.
@Suite struct LiveTraderTests {
    /// A configuration that trades often on one-minute bars (momentum alone, tight exits).
    static let fastConfig = LiveFixtures.fastConfig

    static let start = Timestamp(milliseconds: 1_764_547_200_000)  // 2025-12-01 00:00 UTC
    static let rules = MarketRules(
        symbol: "NMRUSDT", tickSize: Price("0.001")!, lotSize: Quantity("0.1")!, maxMarketQuantity: Quantity("100000")!,
        minNotional: Notional("5")!)

    static func bars(count: Int) -> [Candle] { LiveFixtures.zigzag(from: start, count: count) }

    static func trader(store: LiveStore, venue: SimulatedExecutionVenue, feed: MemoryFeed, clock: ManualClock) throws -> LiveTrader {
        let (bot, problems) = try BotConfigFile.parse(yaml: fastConfig, file: "fast.yaml")
        #expect(problems.isEmpty)
        var settings = LiveSettings(name: "test", venueName: "sim", bot: bot, botText: fastConfig, sizeFraction: Rate("0.5")!)
        settings.skippedPaperGate = true
        settings.warmup = .minutes(40)
        settings.reconcileEvery = .minutes(10)
        return LiveTrader(
            settings: settings, store: store, venue: venue, rules: rules, feed: feed, clock: clock,
            logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), created: clock.now())
    }

    @Test func tradesAgreeWithTheVenueAndSurviveARestart() async throws {
        let bars = Self.bars(count: 160)
        let clock = ManualClock(Self.start + TimeSpan.minutes(40) + TimeSpan.seconds(2))
        let venue = SimulatedExecutionVenue(
            rules: Self.rules, balance: Notional(10_000), price: bars[39].close, time: clock.now(), barInterval: .minutes(1))
        let feed = MemoryFeed(bars: bars, clock: clock, interval: .minutes(1))
        let store = try LiveStore.inMemory()
        var trader = try Self.trader(store: store, venue: venue, feed: feed, clock: clock)
        try await trader.start(pid: 1)
        #expect(trader.session.engine.gate == .open)

        // Half the bars, then a "restart" (a new trader on the same store), then the rest.
        for (index, bar) in bars.enumerated().dropFirst(40) {
            await venue.advance(bar: bar)
            clock.set(bar.openTime + TimeSpan.minutes(1) + TimeSpan.seconds(2))
            if index == 100 {
                trader.close()
                trader = try Self.trader(store: store, venue: venue, feed: feed, clock: clock)
                let replayed = try await trader.start(pid: 2)
                #expect(replayed > 0)
            }
            _ = try await trader.poll()
        }
        // A last reconciliation picks up what the venue did after the last poll (a stop that
        // triggered on the last bar).
        try await trader.reconcile()
        let engine = trader.session.engine
        let accepted = await venue.acceptedOrders
        let venuePosition = await venue.positionQuantity
        let executions = await venue.executions
        // Orders were traded, none twice, and every execution is in our record.
        #expect(accepted.count >= 6, "the fast configuration should trade: \(accepted.count) orders")
        #expect(Set(accepted.map(\.clientID)).count == accepted.count, "a client id was accepted twice")
        #expect(engine.position == venuePosition)
        #expect(Set(executions.map(\.tradeID)).isSubset(of: engine.seenTradeIDs))
        let journal = try store.journal().map(\.event)
        #expect(journal.contains("entry"))
        #expect(journal.contains("order"))
        // The replay of the whole store gives the same engine.
        var replay = try Self.trader(store: store, venue: venue, feed: feed, clock: clock)
        try await replay.start(pid: 3)
        #expect(replay.session.engine.position == engine.position)
        #expect(replay.session.engine.orders.count == engine.orders.count)
    }

    @Test func aLostAnswerIsLookedUpNeverResentBlindly() async throws {
        let bars = Self.bars(count: 120)
        let clock = ManualClock(Self.start + TimeSpan.minutes(40) + TimeSpan.seconds(2))
        let venue = SimulatedExecutionVenue(
            rules: Self.rules, balance: Notional(10_000), price: bars[39].close, time: clock.now(), barInterval: .minutes(1))
        let feed = MemoryFeed(bars: bars, clock: clock, interval: .minutes(1))
        let store = try LiveStore.inMemory()
        var trader = try Self.trader(store: store, venue: venue, feed: feed, clock: clock)
        try await trader.start(pid: 1)
        for bar in bars.dropFirst(40) {
            // Every submit's answer is lost after the venue carried it out.
            await venue.inject(.loseNextSubmitAnswer)
            await venue.advance(bar: bar)
            clock.set(bar.openTime + TimeSpan.minutes(1) + TimeSpan.seconds(2))
            _ = try await trader.poll()
            // Time passes inside the bar: the lookups come due.
            for second in stride(from: 8, through: 50, by: 6) {
                clock.set(bar.openTime + TimeSpan.minutes(1) + TimeSpan.seconds(Int64(second)))
                _ = try await trader.poll()
            }
        }
        let accepted = await venue.acceptedOrders
        #expect(accepted.count >= 4)
        #expect(Set(accepted.map(\.clientID)).count == accepted.count, "a lost answer led to a second order")
        #expect(trader.session.engine.position == (await venue.positionQuantity))
        #expect(try store.journal().contains { $0.line.contains("unknown_outcome") })
    }
}
