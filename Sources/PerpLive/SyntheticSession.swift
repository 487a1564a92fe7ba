import Foundation
import Logging
import PerpConfig
import PerpEngine
import PerpExecution
import PerpModel
import PerpSimulation
import PerpStore
import PerpVenues

/// A paper session written from made-up bars through the real runtime (``LiveTrader`` on the
/// simulated venue, one poll per hour of bars): what the benchmarks and the dashboard's tests
/// read. Nothing here touches a network; the bars swing ±0.4 % every 12 minutes so a busy bot
/// trades, and a funding rate settles every 8 hours.
public enum SyntheticSession {
    public static let rules = MarketRules(
        symbol: "NMRUSDT", tickSize: Price("0.001")!, lotSize: Quantity("0.1")!, maxMarketQuantity: Quantity("100000")!,
        minNotional: Notional("5")!)

    /// A bot that trades often on these bars (short windows, loose thresholds, no quiet hours).
    public static let botText = """
        min_agreeing_signals: 1
        entry_threshold: 0.05
        signals:
          momentum_window: 5m
          momentum_full_scale: 0.01
          mean_reversion_window: 30m
        risk:
          volatility_window: 30m
          stop_loss: 0.01
          take_profit: 0.012
          time_exit: 3m
          quiet_start_hour: 0
          quiet_end_hour: 0
          circuit_move: 0.5
        """

    /// `count` one-minute bars from `start`: twelve rising by 0.4 % each, then twelve falling by
    /// `fall`, prices on a 0.001 tick.
    public static func bars(count: Int, start: Timestamp = Timestamp(milliseconds: 1_735_689_600_000), fall: Double = 0.0041) -> [Candle] {
        var bars: [Candle] = []
        bars.reserveCapacity(count)
        var price = 8.0
        func exact(_ value: Double) -> Price { Price(String(format: "%.3f", value)) ?? Price(8) }
        for index in 0..<count {
            let step = (index / 12) % 2 == 0 ? 0.004 : -fall
            let open = price
            price *= 1 + step
            bars.append(
                Candle(
                    openTime: start + TimeSpan.minutes(Int64(index)), open: exact(open), high: exact(max(open, price) * 1.001),
                    low: exact(min(open, price) * 0.999), close: exact(price), volume: Quantity(2000)))
        }
        return bars
    }

    /// Writes a paper session named `name` at `path` (a new file) over `bars`; returns the number
    /// of orders sent.
    public static func write(path: String, name: String, bars: [Candle], capital: Notional = Notional(10_000)) async throws -> Int {
        var runner = try await SyntheticRunner(path: path, name: name, bars: bars, capital: capital)
        try await runner.advance(to: bars.count)
        let orders = runner.orders
        runner.close()
        return orders
    }
}

/// The runtime of a ``SyntheticSession``, advanced bar by bar by its caller.
public struct SyntheticRunner: Sendable {
    let clock: SyntheticClock
    let venue: SimulatedExecutionVenue
    let bars: [Candle]
    var trader: LiveTrader
    public private(set) var fed = 0

    public init(
        path: String, name: String, bars: [Candle], capital: Notional = Notional(10_000), sizeFraction: Rate = .one
    ) async throws {
        guard let first = bars.first else { throw LiveError.venueSetup("a synthetic session needs at least one bar") }
        self.bars = bars
        let (bot, _) = try BotConfigFile.parse(yaml: SyntheticSession.botText, file: "synthetic")
        clock = SyntheticClock(first.openTime + TimeSpan.minutes(1) + TimeSpan.seconds(2))
        venue = SimulatedExecutionVenue(
            rules: SyntheticSession.rules, balance: capital, price: first.close, time: clock.now(), barInterval: .minutes(1))
        let venueText = PaperVenueSettings(capital: capital, rules: SyntheticSession.rules, venue: VenueConfig()).text
        let store = try LiveStore(path: path)
        var settings = LiveSettings(
            name: name, venueName: venueText, bot: bot, botText: SyntheticSession.botText, sizeFraction: sizeFraction)
        settings.symbol = SyntheticSession.rules.symbol
        settings.skippedPaperGate = true
        settings.warmup = .minutes(1)
        settings.reconcileEvery = .hours(1)
        settings.heartbeatEvery = .hours(1)
        let logger = Logger(label: "synthetic", factory: { _ in SwiftLogNoOpLogHandler() })
        trader = LiveTrader(
            settings: settings, store: store, venue: venue, rules: SyntheticSession.rules,
            feed: SyntheticFeed(bars: bars, clock: clock), clock: clock, logger: logger, created: clock.now())
        _ = try await trader.start(pid: getpid())
    }

    public var orders: Int { trader.session.engine.orders.count }

    /// Feeds bars up to `count` (one poll per hour of bars, or fewer at the end).
    public mutating func advance(to count: Int) async throws {
        let target = min(count, bars.count)
        while fed < target {
            try Task.checkCancellation()
            let next = min(target, fed + 60)
            for bar in bars[fed..<next] { await venue.advance(bar: bar) }
            fed = next
            clock.set(bars[next - 1].openTime + TimeSpan.minutes(1) + TimeSpan.seconds(2))
            _ = try await trader.poll()
        }
    }

    public func close() { trader.close() }
}

/// A clock the synthetic session moves.
final class SyntheticClock: PaperClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Timestamp
    init(_ start: Timestamp) { current = start }
    func now() -> Timestamp { lock.withLock { current } }
    func set(_ time: Timestamp) { lock.withLock { current = time } }
    func sleep(until time: Timestamp) async throws { lock.withLock { if time > current { current = time } } }
}

/// Bars from memory as a venue publishes them (only closed ones), and a funding rate every 8 h.
struct SyntheticFeed: PaperFeed {
    let bars: [Candle]
    let clock: SyntheticClock

    func bars(from: Timestamp, limit: Int) async throws -> [BinanceUSDMClient.KlineRow] {
        RecordedFeed.closedRows(bars, from: from, limit: limit, interval: .minutes(1), now: clock.now())
    }

    func funding(from: Timestamp, to: Timestamp) async throws -> [(rate: FundingRate, mark: Price?)] {
        let period: Int64 = 8 * 3_600_000
        var time = (from.milliseconds + period - 1) / period * period
        var rows: [(rate: FundingRate, mark: Price?)] = []
        while time < to.milliseconds && rows.count < 1000 {
            rows.append((FundingRate(time: Timestamp(milliseconds: time), rate: Rate("0.0001")!, interval: .hours(8)), nil))
            time += period
        }
        return rows
    }

    func premium() async throws -> BinanceUSDMClient.PremiumIndex { throw CancellationError() }
}
