import PerpModel
import PerpSimulation
import Testing

/// Shared helpers for the venue, strategy and golden tests: bar builders, a scripted strategy,
/// a seeded generator and an independent ledger replay.

/// 2024-01-01T00:00:00Z, a UTC hour boundary.
let t0: Int64 = 1_704_067_200_000
let hour: Int64 = 3_600_000

/// Parses a decimal literal as a fixed-point unit (test inputs are always valid).
func fx<Unit: FixedPointValue>(_ text: String, as _: Unit.Type = Unit.self) -> Unit {
    guard let value = Unit(text) else { preconditionFailure("bad literal \(text)") }
    return value
}

func px(_ text: String) -> Price { fx(text) }
func qty(_ text: String) -> Quantity { fx(text) }
func usd(_ text: String) -> Notional { fx(text) }
func rate(_ text: String) -> Rate { fx(text) }

/// One bar written as decimal strings: open, high, low, close.
struct Bar {
    var open: String
    var high: String
    var low: String
    var close: String

    init(_ open: String, _ high: String, _ low: String, _ close: String) {
        self.open = open
        self.high = high
        self.low = low
        self.close = close
    }

    /// A bar that opens, stays and closes at one price.
    static func flat(_ price: String) -> Bar { Bar(price, price, price, price) }
}

/// Bars at `t0 + offsets[i] · 1 h` (hourly and gap-free by default), volume 1,000 each.
func series(_ bars: [Bar], hours offsets: [Int64]? = nil) -> CandleSeries {
    var result = CandleSeries()
    for (index, bar) in bars.enumerated() {
        let offset = offsets?[index] ?? Int64(index)
        result.append(
            Candle(
                openTime: Timestamp(milliseconds: t0 + offset * hour), open: px(bar.open), high: px(bar.high), low: px(bar.low),
                close: px(bar.close), volume: Quantity(1000)))
    }
    return result
}

/// A funding settlement at `t0 + hours · 1 h`.
func settlement(hours: Int64, _ value: String, interval: Int64 = 1) -> FundingRate {
    FundingRate(time: Timestamp(milliseconds: t0 + hours * hour), rate: rate(value), interval: .hours(interval))
}

/// A venue with the reference defaults and the given overrides. The arithmetic tests keep the
/// reference liquidation rule (shared/bench/limit.c: the account keeps what is left after the
/// fill), so each figure is checked without the rule's forfeit; `LiquidationRuleTests` check the
/// venues' rules.
func venue(
    mode: MarginMode = .cross, maintenance: String = "0.01", taker: String = "0.0005", maker: String = "0.0002",
    slippage: SlippageModel = .none, rule: LiquidationRule = .keepRemainder
) -> VenueConfig {
    var config = VenueConfig()
    config.liquidationRule = rule
    config.marginMode = mode
    config.maintenanceFraction = rate(maintenance)
    config.takerFee = rate(taker)
    config.makerFee = rate(maker)
    config.slippage = slippage
    return config
}

/// What a scripted strategy saw at one bar's close.
struct Seen: Equatable {
    var bar: Int
    var balance: Notional
    var position: Quantity
    var costBasis: Notional
    var positionMargin: Notional
    var restingOrders: Int
    var equity: Notional
    var liquidationPrice: Price?
}

/// Returns a fixed action at chosen bars and records every account it was shown.
struct Scripted: Strategy {
    var actions: [Int: StrategyAction]
    var seen: [Seen] = []

    init(_ actions: [Int: StrategyAction]) { self.actions = actions }

    mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction? {
        seen.append(
            Seen(
                bar: bar.index, balance: account.balance, position: account.position, costBasis: account.costBasis,
                positionMargin: account.positionMargin, restingOrders: account.restingOrders, equity: account.equity,
                liquidationPrice: account.liquidationPrice))
        return actions[bar.index]
    }
}

/// Runs `actions` over `bars` and returns the result and the accounts the strategy saw.
func run(
    _ bars: CandleSeries, _ actions: [Int: StrategyAction], config: VenueConfig = venue(), capital: String = "1000",
    funding: [FundingRate] = [], mark: CandleSeries? = nil
) -> (result: BacktestResult, seen: [Seen]) {
    var tester = Backtester(strategy: Scripted(actions), config: config, initialCapital: usd(capital))
    let result = tester.run(bars, funding: funding, mark: mark)
    return (result, tester.strategy.seen)
}

/// A seeded random walk of bars on a 0.0001 tick (so that limit.c's `llround(close · 10⁴)` is
/// exact), opening at the previous close, with an occasional jump of up to `jump` ticks.
/// `start` and all prices are in ticks.
func randomWalk(seed: UInt64, bars count: Int, start: Int64 = 1_000_000, step: Int64 = 4_000, jump: Int64 = 0) -> CandleSeries {
    var rng = SplitMix64(seed: seed)
    var result = CandleSeries()
    result.reserveCapacity(count)
    var close = start
    let tick: Int64 = 10_000  // raw Price per 0.0001
    for index in 0..<count {
        let open = close
        var next = open + rng.int(-step...step)
        if jump > 0 && rng.int(0...49) == 0 { next += rng.int(-jump...jump) }
        next = max(next, 1_000)
        let high = max(open, next) + rng.int(0...step / 2)
        let low = max(min(open, next) - rng.int(0...step / 2), 500)
        result.appendRaw(
            openTime: t0 + Int64(index) * hour, open: open * tick, high: high * tick, low: low * tick, close: next * tick,
            volume: rng.int(1...50_000) * 100_000_000)
        close = next
    }
    return result
}

/// Hourly settlements at every bar's open time after the first, with seeded rates of up to
/// ±`maxRate` (in 10⁻⁸).
func hourlyFunding(seed: UInt64, bars count: Int, maxRate: Int64 = 20_000) -> [FundingRate] {
    var rng = SplitMix64(seed: seed)
    return (1..<max(count, 1)).map { index in
        FundingRate(
            time: Timestamp(milliseconds: t0 + Int64(index) * hour), rate: Rate(raw: rng.int(-maxRate...maxRate) * 10_000),
            interval: .hours(1))
    }
}

/// An independent replay of the fills: the signed position and its exact cost basis, in raw
/// fixed-point integers, written from the definitions (not from `Position`).
struct Ledger {
    var quantity: Int64 = 0
    var basis: Int64 = 0
    var realized: Int64 = 0

    /// `a · b / d`, rounded to nearest with ties to even.
    static func mulDivEven(_ a: Int64, _ b: Int64, _ d: Int64) -> Int64 {
        let product = Int128(a) * Int128(b)
        let divisor = Int128(d)
        var quotient = product / divisor
        let remainder = product - quotient * divisor
        let twice = remainder.magnitude * 2
        let away = twice > divisor.magnitude || (twice == divisor.magnitude && quotient % 2 != 0)
        if away { quotient += (product < 0) == (divisor < 0) ? 1 : -1 }
        return Int64(quotient)
    }

    /// The notional of `q` (raw) at `p` (raw), rounded like every ledger product.
    static func notional(_ p: Int64, _ q: Int64) -> Int64 { mulDivEven(p, q, 100_000_000) }

    /// Applies a fill and returns the PnL it realised.
    mutating func apply(_ fill: FillRecord) -> Int64 {
        let delta = fill.side == .long ? fill.quantity.raw : -fill.quantity.raw
        let price = fill.price.raw
        if quantity == 0 || (quantity > 0) == (delta > 0) {
            quantity += delta
            basis += Ledger.notional(price, delta)
            return 0
        }
        let closing = abs(delta) < abs(quantity) ? delta : -quantity
        let released = Ledger.mulDivEven(basis, -closing, quantity)
        let pnl = Ledger.notional(price, -closing) - released
        quantity += closing
        basis -= released
        if quantity == 0 { basis = 0 }
        let remainder = delta - closing
        if remainder != 0 {
            quantity = remainder
            basis = Ledger.notional(price, remainder)
        }
        realized += pnl
        return pnl
    }

    /// Unrealised PnL at `mark` (raw).
    func unrealized(at mark: Int64) -> Int64 { Ledger.notional(mark, quantity) - basis }
}

/// The fills as CSV lines: time (ms), side, quantity, price, fee, reason.
func fillsCSV(_ fills: [FillRecord]) -> String {
    var text = "time,side,quantity,price,fee,reason\n"
    for fill in fills {
        text += "\(fill.time.milliseconds),\(fill.side.rawValue),\(fill.quantity),\(fill.price),\(fill.fee),\(fill.reason.rawValue)\n"
    }
    return text
}
