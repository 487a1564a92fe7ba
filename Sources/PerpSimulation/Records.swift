import PerpModel

/// Why a fill happened; a trade's exit reason is that of the fill that closed it, so the
/// reports count exits by these (spec §4 "Journal": every trade with its exit reason).
///
/// A strategy names the rule behind an order or a close (``OrderRequest/reason``,
/// ``StrategyAction/exit(_:)``); without one, a fill takes its reason from the order's kind:
/// `signal` at the close, `limit` or `stop` when a resting order is reached.
public enum FillReason: String, Sendable, Hashable, CaseIterable {
    /// The strategy asked for it (market order, or a marketable limit).
    case signal
    /// A resting limit order was reached.
    case limit
    /// A stop order triggered.
    case stop
    /// A take-profit target (a reduce-only limit fixed at entry) was reached.
    case target
    /// The time exit closed the position (spec §4: not in profit by the minimum `time_exit`
    /// after entry).
    case timeExit = "time_exit"
    /// The circuit breaker closed the position (spec §4).
    case circuitBreaker = "circuit_breaker"
    /// The operator's kill switch closed the position.
    case killSwitch = "kill_switch"
    /// The venue closed the position at its liquidation price.
    case liquidation
    /// A hedge or pool rebalance.
    case rebalance
    /// The run ended with the position still open and `closeAtEnd` was set.
    case end
}

/// One execution on the simulated venue.
public struct FillRecord: Hashable, Sendable {
    public var time: Timestamp
    /// Index of the bar during which it happened.
    public var bar: Int
    /// `.long` for a buy, `.short` for a sell.
    public var side: Side
    public var quantity: Quantity
    public var price: Price
    public var fee: Notional
    /// PnL realised by the part of the fill that reduced a position.
    public var realizedPnL: Notional
    public var reason: FillReason
    /// Liquidations: what the venue kept of the margin left after the fill (``LiquidationRule``).
    public var forfeited: Notional = .zero
    /// Liquidations: the loss beyond the collateral that the insurance fund bore.
    public var insuranceCover: Notional = .zero

    public init(
        time: Timestamp, bar: Int, side: Side, quantity: Quantity, price: Price, fee: Notional, realizedPnL: Notional, reason: FillReason
    ) {
        self.time = time
        self.bar = bar
        self.side = side
        self.quantity = quantity
        self.price = price
        self.fee = fee
        self.realizedPnL = realizedPnL
        self.reason = reason
    }
}

/// A round trip: a position from the fill that opened it to the fill that closed it.
public struct TradeRecord: Hashable, Sendable {
    public var side: Side
    public var entryTime: Timestamp
    public var entryBar: Int
    /// Average entry price of the position.
    public var entryPrice: Price
    /// Largest size the position reached.
    public var quantity: Quantity
    /// `nil` while the position is still open at the end of the run.
    public var exitTime: Timestamp?
    public var exitBar: Int?
    /// Average exit price.
    public var exitPrice: Price?
    public var exitReason: FillReason?
    /// Realised PnL of the closing fills (before fees and funding).
    public var grossPnL: Notional
    public var fees: Notional
    /// Funding paid while open (negative: received).
    public var funding: Notional
    /// Margin the venue kept when it liquidated the position (``LiquidationRule``).
    public var forfeited: Notional = .zero
    /// Loss beyond the collateral at a liquidation, borne by the insurance fund, not the trader.
    public var insuranceCover: Notional = .zero

    /// `grossPnL − fees − funding − forfeited + insuranceCover`: what the account gained or lost.
    public var netPnL: Notional { grossPnL - fees - funding - forfeited + insuranceCover }

    public init(side: Side, entryTime: Timestamp, entryBar: Int, entryPrice: Price, quantity: Quantity) {
        self.side = side
        self.entryTime = entryTime
        self.entryBar = entryBar
        self.entryPrice = entryPrice
        self.quantity = quantity
        self.grossPnL = .zero
        self.fees = .zero
        self.funding = .zero
    }
}

/// One funding settlement applied to an open position.
public struct FundingRecord: Hashable, Sendable {
    public var time: Timestamp
    public var rate: Rate
    public var mark: Price
    /// Signed position at settlement.
    public var position: Quantity
    /// Paid by the account (negative: received). `position × mark × rate`.
    public var payment: Notional

    public init(time: Timestamp, rate: Rate, mark: Price, position: Quantity, payment: Notional) {
        self.time = time
        self.rate = rate
        self.mark = mark
        self.position = position
        self.payment = payment
    }
}

/// Account equity after each bar (marked to the bar's close), as raw ``Notional`` values.
public struct EquityCurve: Hashable, Sendable {
    /// Bar open times, epoch milliseconds.
    public var times: [Int64] = []
    /// Raw ``Notional`` (scale 10^8).
    public var equity: [Int64] = []
    /// Signed position size after each bar, raw ``Quantity``.
    public var position: [Int64] = []

    public init() {}

    public mutating func reserveCapacity(_ count: Int) {
        times.reserveCapacity(count)
        equity.reserveCapacity(count)
        position.reserveCapacity(count)
    }

    public mutating func append(time: Int64, equity: Notional, position: Quantity) {
        times.append(time)
        self.equity.append(equity.raw)
        self.position.append(position.raw)
    }

    public var count: Int { times.count }
}

/// Everything a backtest produced. Deterministic: the same bars, funding, configuration and
/// strategy give an identical result.
public struct BacktestResult: Sendable {
    public var bars: Int
    public var initialCapital: Notional
    /// Balance plus unrealised PnL at the last close (an open position is not closed).
    public var finalEquity: Notional
    public var fills: [FillRecord]
    public var trades: [TradeRecord]
    public var funding: [FundingRecord]
    public var liquidations: Int
    /// Losses beyond the account's collateral that the venue's insurance fund absorbed.
    public var insuranceFundDraws: Notional
    public var feesPaid: Notional
    /// Net funding paid (negative: received).
    public var fundingPaid: Notional
    /// Empty when the run was configured not to record it (benchmarks).
    public var equity: EquityCurve
    /// Bars that ended with a position open.
    public var barsInMarket: Int
    /// Why the run stopped before the last bar, if it did: amounts beyond what the ledger
    /// holds exactly (``AmountLimit``), which only broken data or absurd settings reach.
    public var halt: BacktestHalt?
    /// The rule every liquidation of the run followed.
    public var liquidationRule: LiquidationRule = .binanceUSDM
    /// Margin the venue kept at liquidations, in all.
    public var marginForfeited: Notional = .zero
    /// With a mark series: on how many of the bars liquidation read the mark (the others, with
    /// no mark bar inside them, read the traded prices). `nil` without a mark series.
    public var liquidationOnMark: MarkCoverage?

    public init(
        bars: Int, initialCapital: Notional, finalEquity: Notional, fills: [FillRecord], trades: [TradeRecord], funding: [FundingRecord],
        liquidations: Int, insuranceFundDraws: Notional, feesPaid: Notional, fundingPaid: Notional, equity: EquityCurve, barsInMarket: Int
    ) {
        self.bars = bars
        self.initialCapital = initialCapital
        self.finalEquity = finalEquity
        self.fills = fills
        self.trades = trades
        self.funding = funding
        self.liquidations = liquidations
        self.insuranceFundDraws = insuranceFundDraws
        self.feesPaid = feesPaid
        self.fundingPaid = fundingPaid
        self.equity = equity
        self.barsInMarket = barsInMarket
    }
}

/// Where and why a simulated run stopped early.
public struct BacktestHalt: Sendable, Equatable, CustomStringConvertible {
    /// The bar it stopped at (not processed) and its open time.
    public var bar: Int
    public var time: Timestamp
    public var reason: String

    public var description: String { "stopped at bar \(bar) (\(time.iso8601)): \(reason)" }
}

/// The largest amount the simulated venue carries: 1 billion USDC of position value, balance or
/// margin. NMR's whole market is worth a fraction of that, so only broken data (prices in the
/// wrong unit, a spike of a million times) or absurd settings get there; the ledger's `Int64`
/// at 10⁻⁸ USDC holds 92 billion, so the sums of a few such amounts stay exact instead of
/// trapping. Beyond it the run stops with a ``BacktestHalt`` (reliability.md: a clear error,
/// never a crash).
public enum AmountLimit {
    public static let notional = Notional(1_000_000_000)

    /// Whether `|quantity| × price` is above the limit (worked out in 128 bits).
    @inlinable
    public static func exceeded(quantity: Int64, price: Int64) -> Bool {
        Int128(quantity.magnitude) * Int128(price) > Int128(notional.raw) * Int128(Quantity.scale)
    }

    /// The highest price at which `|quantity|` stays within the limit (`Int64.max` for none):
    /// `⌊limit ÷ |quantity|⌋`. Worked out after every fill, so without a 128-bit division
    /// (a library call of ~100 cycles): a `Double` estimate, within a few thousand units, then
    /// its exact remainder, which fits 64 bits, corrects it.
    public static func highestPrice(for quantity: Int64) -> Int64 {
        guard quantity != 0 else { return .max }
        let target = Int128(notional.raw) * Int128(Quantity.scale)
        let size = Int128(quantity.magnitude)
        let estimate = Double(notional.raw) * Double(Quantity.scale) / Double(quantity.magnitude)
        guard estimate < 9.0e18 else { return Int64(exactly: target / size) ?? .max }
        let guess = Int128(Int64(estimate))
        guard let remainder = Int64(exactly: target - guess * size), let divisor = Int64(exactly: size) else {
            return Int64(exactly: target / size) ?? .max
        }
        // Floor division of the remainder (it may be negative).
        var step = remainder / divisor
        if remainder % divisor < 0 { step -= 1 }
        return Int64(exactly: guess + Int128(step)) ?? .max
    }
}

/// How much of a run's liquidation checks read the mark price.
public struct MarkCoverage: Sendable, Hashable {
    /// Bars checked on the mark's open and extremes.
    public var bars: Int
    /// Bars in the run.
    public var of: Int

    public init(bars: Int, of: Int) {
        self.bars = bars
        self.of = of
    }
}

/// The mark price's open and extremes over each bar of a traded series (issue 10, point 4):
/// venues liquidate on the mark, so when a mark series is given, liquidation reads the mark bars
/// that open inside each traded bar. Only mark bars no longer than the traded bars are used (a
/// coarser mark bar's high may come after the traded bar: look-ahead); a traded bar with no mark
/// bar inside it is liquidated on its own prices.
struct MarkBars {
    var opens: [Int64]
    var highs: [Int64]
    var lows: [Int64]
    var covered = 0

    init(mark: CandleSeries, series: CandleSeries) {
        let n = series.count
        opens = [Int64](repeating: 0, count: n)
        highs = opens
        lows = opens
        guard n > 0, mark.count > 0 else { return }
        let markInterval = mark.barInterval?.milliseconds
        let interval = series.barInterval?.milliseconds ?? markInterval ?? 0
        guard interval > 0, (markInterval ?? interval) <= interval else { return }
        var j = 0
        for i in 0..<n {
            let start = series.openTimes[i]
            let (end, overflow) = start.addingReportingOverflow(interval)
            if overflow { break }
            while j < mark.count && mark.openTimes[j] < start { j += 1 }
            var k = j
            var high = Int64.min
            var low = Int64.max
            while k < mark.count && mark.openTimes[k] < end {
                high = max(high, mark.highs[k])
                low = min(low, mark.lows[k])
                k += 1
            }
            if k > j {
                opens[i] = mark.opens[j]
                highs[i] = high
                lows[i] = low
                covered += 1
            }
            j = k
        }
    }

    @inline(__always)
    func has(_ bar: Int) -> Bool { opens[bar] != 0 }
}
