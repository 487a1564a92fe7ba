import PerpEngine
import PerpMarketData
import PerpModel
import PerpSimulation
import TestSupport
import Testing

/// The "must show" on real data: ../shared/data/binance_usdm_NMRUSDT_15m_2024-10_2025-10.csv
/// holds the 2025-10-10 crash (−66 % in one 15-minute bar).
@Suite struct MustShowTests {
    static let file = SharedData.file("data/binance_usdm_NMRUSDT_15m_2024-10_2025-10.csv")

    static func run() throws -> (BacktestResult, [JournalEntry]) {
        let series = try MarketDataFiles.loadCandles(file!.path)
        var config = VenueConfig()
        config.marginMode = .cross
        config.maintenanceFraction = Rate("0.05")!
        config.takerFee = Rate("0.0005")!
        config.makerFee = Rate("0.0002")!
        config.lotSize = Quantity("0.1")!
        let kernel = TradingKernel(config: BotConfig(), barInterval: .minutes(15), lotSize: Quantity("0.1")!)
        var tester = Backtester(strategy: BotStrategy(kernel: kernel), config: config, initialCapital: Notional(10_000))
        let result = tester.run(series)
        return (result, tester.strategy.journal)
    }

    @Test(.enabled(if: file != nil, "../shared/data is absent: the must-show run is skipped"))
    func crashTripsTheBreakerAndTheRulesHold() throws {
        let (result, journal) = try Self.run()
        let crash = try #require(Timestamp(parsing: "2025-10-10T00:00:00Z"))
        let trips = journal.filter { $0.event == .circuitBreaker && $0.time >= crash && $0.time < crash + .days(1) }
        #expect(!trips.isEmpty, "the circuit breaker trips on 2025-10-10")
        let entries = journal.filter { $0.event == .entry }
        for trip in journal where trip.event == .circuitBreaker {
            #expect(!entries.contains { $0.time > trip.time && $0.time < trip.time + .hours(2) }, "no entry within 2 h of \(trip.time)")
        }
        for entry in entries {
            let hour = entry.time.milliseconds % 86_400_000 / 3_600_000
            #expect(!(2..<6).contains(hour), "entry at \(entry.time) inside 02:00–06:00 UTC")
            #expect(entry.leverage! <= Rate(3))
            // The stop fixed at entry is at most 2.5 % from the entry's decision price.
            let note = entry.note.split(separator: " ")
            let stop = try #require(Price(String(note[1].dropLast())))
            let decided = try #require(entry.price)
            #expect((stop - decided).magnitude.ratio(to: decided) <= Rate("0.0251")!, "stop \(stop) vs entry \(decided)")
            // Open notional within leverage × exposure of equity (3 × 40 %), at the entry bar.
            let bar = result.equity.times.lastIndex { $0 <= entry.time.milliseconds - 15 * 60_000 } ?? 0
            let equity = Notional(raw: result.equity.equity[bar])
            #expect(decided.times(entry.quantity!) <= equity.times(Rate("1.2")!) + Notional(1))
        }
        // Every exit names its rule: none arrives as a plain signal or limit.
        let closed = result.trades.filter { $0.exitTime != nil }
        let ruled: Set<FillReason> = [.stop, .target, .timeExit, .circuitBreaker, .liquidation]
        #expect(closed.allSatisfy { ruled.contains($0.exitReason!) }, "\(Set(closed.map(\.exitReason)))")
        // The time exit (spec §4): a position still open after a close at or beyond 6 h from its
        // entry was in profit at that close.
        let closes = try MarketDataFiles.loadCandles(Self.file!.path).closes
        var heldLonger = 0
        for trade in closed where trade.exitBar! > trade.entryBar + 24 {
            heldLonger += 1
            for bar in (trade.entryBar + 24)..<trade.exitBar! {
                #expect(
                    TradingKernel.inProfit(trade.side, entry: trade.entryPrice, close: Price(raw: closes[bar]), byAtLeast: .zero),
                    "trade entered \(trade.entryTime) still open at bar \(bar)")
            }
        }
        for trade in closed where trade.exitReason == .timeExit { #expect(trade.exitTime! - trade.entryTime >= .hours(6)) }
        print(
            "must-show: \(entries.count) entries, \(trips.count) trips on the crash day, \(journal.count) journal rows, \(result.liquidations) liquidations, \(heldLonger) trades held past 6 h"
        )
    }
}
