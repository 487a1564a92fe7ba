import PerpEngine
import PerpModel
import PerpSimulation
import Testing

/// A model that always says up: the kernel opens a long at the first bar it may, so the exit
/// rules can be tested on prices chosen by hand.
struct AlwaysUp: DirectionModel {
    func probabilityUp(scores: SignalScores, at decisionTime: Timestamp) -> Double? { 0.9 }
    func name(at decisionTime: Timestamp) -> String { "always up" }
}

/// The bot's exits (spec §4): the time exit as specified, and the reason each exit carries on
/// its fill, its trade and its journal row.
@Suite struct ExitRuleTests {
    /// 2024-01-01T10:00:00Z: outside the quiet hours.
    static let start: Int64 = 1_704_103_200_000
    static let quarter: Int64 = 900_000

    /// 15-minute bars: `(high, low, close)` each, opening at the previous close (the first at 10).
    static func bars(_ shapes: [(String, String, String)]) -> [Candle] {
        var open = Price("10")!
        return shapes.enumerated().map { index, shape in
            let close = Price(shape.2)!
            defer { open = close }
            return Candle(
                openTime: Timestamp(milliseconds: start + Int64(index) * quarter), open: open, high: Price(shape.0)!,
                low: Price(shape.1)!, close: close, volume: Quantity(1000))
        }
    }

    static func flat(_ price: String, count: Int) -> [(String, String, String)] { Array(repeating: (price, price, price), count: count) }

    /// The bot with ``AlwaysUp`` on a venue without fees, from 10,000 USDC: it goes long 400 NMR
    /// at bar 0's close of 10 (stop 9.75, target 10.5).
    static func tester(_ config: BotConfig = BotConfig()) -> Backtester<BotStrategy> {
        var kernel = TradingKernel(config: config, barInterval: .minutes(15), lotSize: Quantity("0.1")!)
        kernel.model = AlwaysUp()
        var venue = VenueConfig()
        venue.takerFee = .zero
        venue.makerFee = .zero
        venue.lotSize = Quantity("0.1")!
        venue.maintenanceFraction = Rate("0.05")!
        return Backtester(strategy: BotStrategy(kernel: kernel), config: venue, initialCapital: Notional(10_000))
    }

    static func run(_ shapes: [(String, String, String)], config: BotConfig = BotConfig()) -> (BacktestResult, [JournalEntry]) {
        var tester = tester(config)
        var series = CandleSeries()
        for bar in bars(shapes) { series.append(bar) }
        let result = tester.run(series)
        return (result, tester.strategy.journal)
    }

    /// The old rule's failure: one favourable wick (bar 1 to 10.3) disarmed the time exit, and a
    /// position below its entry was held for days. Now it closes at the close 6 h after entry.
    @Test func aFavourableWickNoLongerDisarmsTheTimeExit() throws {
        // Bar 0 enters at 10; bar 1 wicks to 10.3 and closes at 10; then 9.95 for a day.
        let (result, journal) = Self.run([("10", "10", "10"), ("10.3", "10", "10")] + Self.flat("9.95", count: 96))
        let first = try #require(result.trades.first)
        #expect(first.side == .long && first.entryPrice == Price("10")!)
        // The entry executes at bar 0's close (10:15); bar 24 closes 6 h later.
        #expect(first.exitBar == 24)
        #expect(first.exitReason == .timeExit)
        #expect(first.exitPrice == Price("9.95")!)
        let fill = try #require(result.fills.first { $0.bar == 24 && $0.side == .short })
        #expect(fill.reason == .timeExit)
        let row = try #require(journal.first { $0.event == .timeExit })
        #expect(row.time == Timestamp(milliseconds: Self.start + 25 * Self.quarter))
        #expect(row.price == Price("9.95")!)
        #expect(
            row.reason == "6h after entry (time exit 6h): close 9.95 vs entry 10 is not in profit by at least 0 of the entry price",
            "\(row.reason)")
        // Every trade of the run closes by the time exit within 6 h: the price never rises.
        for trade in result.trades where trade.exitTime != nil {
            #expect(trade.exitReason == .timeExit)
            #expect(trade.exitTime! - trade.entryTime == .hours(6))
        }
    }

    /// In profit by at least the minimum at 6 h: held; checked again at every close after, and
    /// closed at the first that is not (here 6 h 30 min). The boundary is inclusive: a profit of
    /// exactly the minimum (10.02 on 10 at 0.002) is in profit.
    @Test func heldWhileInProfitByTheMinimumAndClosedAtTheFirstCloseThatIsNot() throws {
        var config = BotConfig()
        config.risk.timeExitMinProfit = Rate("0.002")!
        // Bars 1–23 below the entry (too early for the time exit), bar 24 at +0.3 %, bar 25 at
        // exactly +0.2 %, bar 26 at +0.19 %.
        let shapes =
            [("10", "10", "10")] + Self.flat("9.9", count: 23) + [("10.03", "9.9", "10.03"), ("10.03", "10.02", "10.02")]
            + [("10.02", "10.019", "10.019")] + Self.flat("10.019", count: 4)
        let (result, journal) = Self.run(shapes, config: config)
        let first = try #require(result.trades.first)
        #expect(first.exitBar == 26)
        #expect(first.exitReason == .timeExit)
        #expect(first.exitPrice == Price("10.019")!)
        let row = try #require(journal.first { $0.event == .timeExit })
        #expect(row.reason.hasPrefix("390m after entry (time exit 6h): close 10.019 vs entry 10"), "\(row.reason)")
        #expect(row.reason.hasSuffix("by at least 0.002 of the entry price"))
    }

    /// At a minimum of 0, "in profit" is a close beyond the entry in the position's favour: a
    /// close exactly at the entry closes the position.
    @Test(arguments: [
        (("10", "10", "10"), true), (("10.00000001", "10", "10.00000001"), false), (("10", "9.99", "9.99"), true),
        (("10.2", "10", "10.2"), false),
    ])
    func theBoundaryAtAMinimumOfZero(bar24: (String, String, String), exits: Bool) throws {
        let shapes = [("10", "10", "10")] + Self.flat("10", count: 23) + [bar24]
        let (result, _) = Self.run(shapes)
        let first = try #require(result.trades.first)
        #expect((first.exitReason == .timeExit) == exits, "\(first)")
        if exits { #expect(first.exitBar == 24) } else { #expect(first.exitTime == nil) }
    }

    @Test func inProfitIsExactOnBothSides() {
        let entry = Price("10")!
        func check(_ side: Side, _ close: String, _ minimum: String) -> Bool {
            TradingKernel.inProfit(side, entry: entry, close: Price(close)!, byAtLeast: Rate(minimum)!)
        }
        #expect(!check(.long, "10", "0"))
        #expect(check(.long, "10.00000001", "0"))
        #expect(check(.long, "10.02", "0.002"))
        #expect(!check(.long, "10.01999999", "0.002"))
        #expect(!check(.long, "9.98", "0.002"))
        #expect(!check(.short, "10", "0"))
        #expect(check(.short, "9.99999999", "0"))
        #expect(check(.short, "9.98", "0.002"))
        #expect(!check(.short, "9.98000001", "0.002"))
        #expect(!check(.short, "10.02", "0.002"))
    }

    @Test func theMinimumProfitIsValidated() {
        var config = BotConfig()
        #expect(config.risk.timeExitMinProfit == .zero)
        #expect(config.problems().isEmpty)
        config.risk.timeExitMinProfit = Rate("0.049")!
        #expect(config.problems().isEmpty)
        for bad in ["-0.0001", "0.05", "0.5"] {
            config.risk.timeExitMinProfit = Rate(bad)!
            #expect(
                config.problems() == ["risk.time_exit_min_profit must be from 0 up to, not including, risk.take_profit (0.05) (got \(bad))"]
            )
        }
    }

    @Test func theTargetFillsAsTarget() throws {
        // Bar 1 reaches 10.6: the reduce-only target at 10.5 fills.
        let (result, journal) = Self.run([("10", "10", "10"), ("10.6", "10", "10.4")])
        let fill = try #require(result.fills.first { $0.side == .short })
        #expect(fill.reason == .target)
        #expect(fill.price == Price("10.5")!)
        #expect(result.trades.first?.exitReason == .target)
        #expect(journal.contains { $0.event == .target && $0.pnl == Notional(200) })
    }

    @Test func theStopFillsAsStop() throws {
        let (result, journal) = Self.run([("10", "10", "10"), ("10", "9.7", "9.8")])
        #expect(result.fills.first { $0.side == .short }?.reason == .stop)
        #expect(result.trades.first?.exitReason == .stop)
        #expect(journal.contains { $0.event == .stop })
    }

    @Test func theCircuitBreakerClosesAsCircuitBreaker() throws {
        var config = BotConfig()
        config.risk.takeProfit = Rate("0.2")!
        // Bar 1 rises 9 % within 15 min (over the 8 % limit) without reaching stop or target.
        let (result, journal) = Self.run([("10", "10", "10"), ("10.9", "10", "10.4")], config: config)
        let fill = try #require(result.fills.first { $0.side == .short })
        #expect(fill.reason == .circuitBreaker)
        #expect(fill.bar == 1 && fill.price == Price("10.4")!)
        #expect(result.trades.first?.exitReason == .circuitBreaker)
        #expect(journal.contains { $0.event == .circuitBreaker })
    }

    @Test func theKillSwitchClosesAsKillSwitch() throws {
        var tester = Self.tester()
        let bars = Self.bars(Self.flat("10", count: 3))
        tester.step(bars[0])
        #expect(!tester.snapshot.position.isZero)
        tester.strategy.handle(.kill(reason: "operator", at: bars[1].openTime))
        tester.step(bars[1])
        #expect(tester.snapshot.position.isZero)
        #expect(tester.fillHistory.last?.reason == .killSwitch)
    }
}
