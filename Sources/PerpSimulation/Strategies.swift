import PerpModel

/// Moving-average crossover, the backtester issue's reference semantics (shared/bench/limit.c):
/// SMA(fast) and SMA(slow) of closes compared exactly (the sign of `slow·Σfast − fast·Σslow`,
/// integers: in 64 bits while they fit, in 128 bits from the first bar on which a sum or a
/// product would not, so no window or price overflows them); the first bar with both defined
/// only arms the detector; when the difference changes sign, go long (up) or short (down) with notional `leverage × balance` at the close,
/// closing any opposite position first.
public struct SMACross: Strategy {
    public let fast: Int
    public let slow: Int
    public let leverage: Rate
    private var fastRing: [Int64]
    private var slowRing: [Int64]
    private var fastSum: Int64 = 0
    private var slowSum: Int64 = 0
    /// The sums in 128 bits, from the first bar on which a 64-bit sum would overflow on.
    private var wideSums: (fast: Int128, slow: Int128)?
    private var seen = 0
    private var fastIndex = 0
    private var slowIndex = 0
    /// The sign of the previous bar's difference.
    private var previous = 0
    private var armed = false

    /// What is wrong with the windows `fast` and `slow` (bars), or `nil`: they need
    /// `0 < fast < slow ≤ ` ``CarryLimit/bars`` (each window is a ring buffer of that many
    /// closes). Callers check input with this; ``init(fast:slow:leverage:)`` traps on a pair it
    /// refuses (a broken invariant, never input).
    public static func problem(fast: Int, slow: Int) -> String? {
        if fast <= 0 { return "--fast must be a positive number of bars (got \(fast))" }
        if slow > CarryLimit.bars { return "--slow must be at most \(CarryLimit.bars) bars (got \(slow))" }
        if slow <= fast { return "--slow must be greater than --fast (got --fast \(fast), --slow \(slow))" }
        return nil
    }

    public init(fast: Int = 50, slow: Int = 200, leverage: Rate = Rate(3)) {
        precondition(Self.problem(fast: fast, slow: slow) == nil, "SMACross needs 0 < fast < slow ≤ CarryLimit.bars")
        self.fast = fast
        self.slow = slow
        self.leverage = leverage
        fastRing = [Int64](repeating: 0, count: fast)
        slowRing = [Int64](repeating: 0, count: slow)
    }

    public mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction? {
        let close = bar.close.raw
        // Ring buffers with wrapping indices (no division on the per-bar path).
        // Closes are positive, so neither difference overflows.
        let fastDelta = close - fastRing[fastIndex]
        let slowDelta = close - slowRing[slowIndex]
        if let wide = wideSums {
            wideSums = (wide.fast + Int128(fastDelta), wide.slow + Int128(slowDelta))
        } else {
            let (fastNext, fastOverflow) = fastSum.addingReportingOverflow(fastDelta)
            let (slowNext, slowOverflow) = slowSum.addingReportingOverflow(slowDelta)
            if fastOverflow || slowOverflow {
                wideSums = (Int128(fastSum) + Int128(fastDelta), Int128(slowSum) + Int128(slowDelta))
            } else {
                fastSum = fastNext
                slowSum = slowNext
            }
        }
        fastRing[fastIndex] = close
        slowRing[slowIndex] = close
        fastIndex = fastIndex + 1 == fast ? 0 : fastIndex + 1
        slowIndex = slowIndex + 1 == slow ? 0 : slowIndex + 1
        guard seen >= slow - 1 else {
            seen += 1
            return nil
        }
        let difference = differenceSign()
        defer {
            previous = difference
            armed = true
        }
        guard armed else { return nil }
        if previous <= 0 && difference > 0 { return .enter(.long, leverage: leverage) }
        if previous >= 0 && difference < 0 { return .enter(.short, leverage: leverage) }
        return nil
    }

    /// The sign of `slow·Σfast − fast·Σslow`: in 64 bits when both products fit, else in 128.
    @inline(__always)
    private func differenceSign() -> Int {
        if let wide = wideSums {
            let slowTimesFast: Int128 = Int128(slow) * wide.fast
            let fastTimesSlow: Int128 = Int128(fast) * wide.slow
            return slowTimesFast == fastTimesSlow ? 0 : (slowTimesFast > fastTimesSlow ? 1 : -1)
        }
        let (slowTimesFast, overflowA) = Int64(slow).multipliedReportingOverflow(by: fastSum)
        let (fastTimesSlow, overflowB) = Int64(fast).multipliedReportingOverflow(by: slowSum)
        if !overflowA && !overflowB { return slowTimesFast == fastTimesSlow ? 0 : (slowTimesFast > fastTimesSlow ? 1 : -1) }
        let wideA: Int128 = Int128(slow) * Int128(fastSum)
        let wideB: Int128 = Int128(fast) * Int128(slowSum)
        return wideA == wideB ? 0 : (wideA > wideB ? 1 : -1)
    }
}

/// The hedge leg alone: short a fixed quantity (or `leverage × balance` of notional) at the
/// first close and hold it. Under isolated margin a sized short posts `collateral` when given,
/// else `notional / leverage` (the venue's leverage setting, ``VenueConfig/leverage``): the
/// stake hedger's case, a known NMR size on an isolated position (spec §1).
public struct HoldShort: Strategy {
    public let quantity: Quantity?
    public let leverage: Rate
    public let collateral: Notional?
    private var done = false

    public init(quantity: Quantity? = nil, leverage: Rate = Rate.one, collateral: Notional? = nil) {
        self.quantity = quantity
        self.leverage = leverage
        self.collateral = collateral
    }

    public mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction? {
        guard !done else { return nil }
        done = true
        if let quantity {
            if let collateral { return .targetWithMargin(-quantity, margin: collateral) }
            return .target(-quantity)
        }
        return .enter(.short, leverage: leverage)
    }
}

/// Spot–perp funding carry (spec §3, seed 002): buy spot NMR with half the capital and short the
/// same quantity as a perpetual backed by the other half, collecting funding while the price
/// risk cancels. The perp leg runs on the simulated venue; the spot leg is added to the equity.
public enum FundingCarry {
    public static func run(
        _ series: CandleSeries, funding: [FundingRate], mark: CandleSeries? = nil, config: VenueConfig, capital: Notional
    ) -> BacktestResult {
        guard series.count > 0 else {
            var tester = Backtester(strategy: HoldShort(), config: config, initialCapital: capital)
            return tester.run(series, funding: funding, mark: mark)
        }
        let half = Notional(raw: capital.raw / 2)
        let firstClose = Price(raw: series.closes[0])
        // The spot leg must stay within what the ledger carries at every close (issue 11):
        // beyond it the run stops there, like the perp leg (``AmountLimit``).
        let highestClose = series.closes.max() ?? firstClose.raw
        let largest = Notional(raw: FixedMath.mulDivReportingOverflow(half.raw, highestClose, firstClose.raw, .towardZero) ?? .max)
        if largest > AmountLimit.notional || config.lotSize.raw <= 0 {
            var tester = Backtester(strategy: HoldShort(), config: config, initialCapital: capital)
            var result = tester.run(series, funding: funding, mark: mark)
            let bar =
                series.closes.firstIndex { Int128(half.raw) * Int128($0) > Int128(AmountLimit.notional.raw) * Int128(firstClose.raw) } ?? 0
            result.halt = BacktestHalt(
                bar: bar, time: Timestamp(milliseconds: series.openTimes[bar]),
                reason:
                    "the spot leg bought with \(half) USDC at \(firstClose) would be worth more than \(AmountLimit.notional) USDC at this bar's close \(Price(raw: series.closes[bar])), beyond what the simulated venue carries; check the prices' unit and --capital"
            )
            return result
        }
        let spot = half.divided(by: firstClose, rule: .towardZero).rounded(toMultipleOf: config.lotSize, rule: .towardZero)
        let spotCost = firstClose.times(spot)
        var tester = Backtester(strategy: HoldShort(quantity: spot), config: config, initialCapital: capital - spotCost)
        var result = tester.run(series, funding: funding, mark: mark)
        // Add the spot leg: its value at each close.
        for index in 0..<result.equity.count {
            result.equity.equity[index] += Price(raw: series.closes[index]).times(spot).raw
        }
        result.initialCapital = capital
        // Marked where the run ended: the last bar, or the one before a halt (broken data).
        let last = result.halt.map { max(0, $0.bar - 1) } ?? series.count - 1
        result.finalEquity += Price(raw: series.closes[last]).times(spot)
        return result
    }
}
