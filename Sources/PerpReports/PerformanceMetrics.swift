import PerpModel
import PerpSimulation

/// Which equity points Sharpe and Sortino take their returns from.
public enum ReturnSampling: Sendable, Hashable {
    /// The last equity of each UTC day (a bar belongs to the day of its open time), preceded by
    /// the initial capital; returns annualised by √365 (crypto trades every day of the year).
    case daily
    /// Every bar's equity, preceded by the initial capital; annualised by √`periodsPerYear`.
    case perBar(periodsPerYear: Double)

    /// Return periods in a year: 365 for daily sampling.
    public var periodsPerYear: Double {
        switch self {
        case .daily: return 365
        case .perBar(let periods): return periods
        }
    }

    /// `"daily"` or `"bar"`.
    public var name: String {
        switch self {
        case .daily: return "daily"
        case .perBar: return "bar"
        }
    }
}

/// Headline statistics of a backtest.
///
/// Definitions (all returns are simple returns, the risk-free rate is 0):
/// - total return `R = finalEquity / initialCapital − 1`;
/// - annualised return `(1 + R)^(365.25 d / span) − 1`, where `span` runs from the first bar's
///   open to the last bar's close (last open time plus the bar interval, the smallest gap
///   between consecutive equity times); `−1` once equity is gone; `nil` ("n/a") when the span
///   is shorter than ``minimumAnnualisedSpan`` (30 days) and equity remains: compounding a few hours' return over a
///   year prints numbers such as 6.9 × 10²⁵ % that measure nothing (issue 11);
/// - Sharpe `mean(r) / sd(r) × √N` with the sample deviation (n − 1); Sortino
///   `mean(r) / dd(r) × √N` with the downside deviation `dd = √(Σ min(r, 0)² / n)`; `r` are
///   returns between consecutive sampled equities (see ``ReturnSampling``; daily by default,
///   `N = 365`). Returns stop at the first sampled equity ≤ 0. Each ratio is `nil` ("n/a" in
///   tables and reports, `null` in JSON) when it would not measure the strategy (issue 10,
///   point 9; see ``ReturnStatistics/ratiosAreMeaningful``): with fewer than two returns; when
///   the equity changed in fewer than two sampled periods (with one change `r` among `n` returns
///   the Sharpe is `sign(r)·√(N/n)` whatever `r` is, so a curve that pays one fee and stays flat,
///   such as funding-carry without funding, would print about −1 for a year of days); or when its
///   deviation is at rounding level, `≤ 10⁻¹² × max(|mean|, 10⁻¹²)`. Sortino also needs at
///   least one return below zero;
/// - max drawdown `max (peak − equity) / peak` over the equity curve preceded by the initial
///   capital, with the times of that peak and trough (the open time of the bar at whose close the
///   equity was recorded; the first bar's open for the initial capital);
/// - exposure `barsInMarket / bars`; win rate: trades with net PnL > 0 over closed trades.
public struct PerformanceMetrics: Sendable, Hashable {
    public var initialCapital: Notional
    public var finalEquity: Notional
    /// `nil` when the initial capital is not positive.
    public var totalReturn: Double?
    /// `nil` without an equity curve of at least two bars, or over less than
    /// ``minimumAnnualisedSpan``.
    public var annualizedReturn: Double?

    /// Why there is no annualised return when the run is too short to annualise, else `nil`.
    public var annualizedReturnNote: String? {
        guard annualizedReturn == nil, let span, span < Self.minimumAnnualisedSpan else { return nil }
        return "not annualised: the run spans less than \(Self.minimumAnnualisedSpan)"
    }

    /// First bar's open time.
    public var startTime: Timestamp?
    /// Last bar's open time.
    public var endTime: Timestamp?
    /// First bar's open to last bar's close.
    public var span: TimeSpan?

    public var sampling: ReturnSampling
    /// How many returns Sharpe and Sortino used.
    public var returnPeriods: Int
    /// Mean return per period.
    public var meanReturn: Double?
    /// `sd(r) × √N`.
    public var annualizedVolatility: Double?
    public var sharpe: Double?
    public var sortino: Double?

    /// Largest peak-to-trough fall as a fraction of the peak; `nil` without an equity curve.
    public var maxDrawdown: Double?
    public var maxDrawdownPeakTime: Timestamp?
    public var maxDrawdownTroughTime: Timestamp?
    public var maxDrawdownPeakEquity: Notional?
    public var maxDrawdownTroughEquity: Notional?
    /// The longest time spent below a previous high (``DrawdownPeriod``); `nil` when the equity
    /// never fell below a high.
    public var longestDrawdown: DrawdownPeriod?
    /// Calmar ratio: `annualizedReturn / maxDrawdown` (CAGR over the largest fall); `nil` when
    /// either is undefined or the drawdown is 0.
    public var calmar: Double?
    /// The UTC day with the highest and the lowest return of its last equity over the previous
    /// day's last equity (the initial capital before the first day); `nil` without a day whose
    /// previous equity is positive.
    public var bestDay: DayReturn?
    public var worstDay: DayReturn?

    public var bars: Int
    public var barsInMarket: Int
    /// `barsInMarket / bars`; `nil` without bars.
    public var exposure: Double?

    /// Closed trades.
    public var trades: Int
    /// Trades still open at the end of the run (not counted in `trades`).
    public var openTrades: Int
    /// Closed trades with net PnL > 0.
    public var wins: Int
    /// Closed trades with net PnL < 0.
    public var losses: Int
    /// `wins / trades`; `nil` without closed trades.
    public var winRate: Double?
    /// Sum of the net PnL of winning closed trades.
    public var grossProfit: Notional
    /// Sum of the net PnL of losing closed trades (≤ 0).
    public var grossLoss: Notional
    /// Net PnL of all closed trades.
    public var netTradePnL: Notional
    /// `grossProfit / |grossLoss|`; `nil` without a losing trade.
    public var profitFactor: Double?
    /// Closed trades by exit reason: count, wins and net PnL (``ExitReasonSummary``).
    public var exitsByReason: [ExitReasonSummary] = []
    /// Expectancy: `netTradePnL / trades`, the mean net PnL per closed trade (rounded to the
    /// ledger's unit, ties to even); `nil` without closed trades.
    public var expectancy: Notional?
    /// `grossProfit / wins`, the mean net PnL of a winning trade; `nil` without one.
    public var averageWin: Notional?
    /// `grossLoss / losses`, the mean net PnL of a losing trade (< 0); `nil` without one.
    public var averageLoss: Notional?
    /// Largest and smallest net PnL of a closed trade; `nil` without closed trades.
    public var bestTrade: Notional?
    public var worstTrade: Notional?
    /// Mean of `exitTime − entryTime` over closed trades (milliseconds, rounded toward zero); `nil`
    /// without closed trades.
    public var averageHoldingTime: TimeSpan?
    /// Closed long trades: count, wins, net PnL.
    public var longTrades = SideSummary()
    /// Closed short trades: count, wins, net PnL.
    public var shortTrades = SideSummary()

    public var fills: Int
    public var feesPaid: Notional
    /// Net funding paid (negative: received).
    public var fundingPaid: Notional
    public var fundingSettlements: Int
    public var liquidations: Int
    public var insuranceFundDraws: Notional

    /// Computes the metrics of `result`. With `periodsPerYear` `nil` (the default) Sharpe and
    /// Sortino use daily-resampled returns annualised by √365; with a value they use every bar's
    /// return annualised by √`periodsPerYear` (525,600 for 1-minute bars).
    /// The Sharpe ratio of an equity series sampled once a period (mean over sample standard
    /// deviation of the period returns, × √`periodsPerYear`), by the same rule as ``compute(_:periodsPerYear:)``;
    /// `nil` when the ratio would be meaningless (see ``compute(_:periodsPerYear:)``).
    public static func sharpe(equities: [Int64], periodsPerYear: Double) -> Double? {
        sharpe(ReturnStatistics(equities: equities), root: periodsPerYear.squareRoot())
    }

    static func sharpe(_ stats: ReturnStatistics, root: Double) -> Double? {
        guard stats.ratiosAreMeaningful, let deviation = stats.sampleDeviation, !stats.isNegligible(deviation) else { return nil }
        return stats.mean / deviation * root
    }

    /// `mean(r) / dd(r) × root`, `nil` by the rules of ``compute(_:periodsPerYear:)``.
    static func sortino(_ stats: ReturnStatistics, root: Double) -> Double? {
        guard stats.ratiosAreMeaningful, stats.downsideCount > 0, !stats.isNegligible(stats.downsideDeviation) else { return nil }
        return stats.mean / stats.downsideDeviation * root
    }

    /// The shortest run whose return is annualised: 30 days.
    public static let minimumAnnualisedSpan = TimeSpan.days(30)

    public static func compute(_ result: BacktestResult, periodsPerYear: Double? = nil) -> PerformanceMetrics {
        let curve = result.equity
        let sampling: ReturnSampling = periodsPerYear.map { .perBar(periodsPerYear: $0) } ?? .daily
        var metrics = PerformanceMetrics(
            initialCapital: result.initialCapital, finalEquity: result.finalEquity, sampling: sampling, bars: result.bars,
            barsInMarket: result.barsInMarket)

        // Returns.
        let initial = result.initialCapital.raw
        if initial > 0 {
            let growth = Double(result.finalEquity.raw) / Double(initial)
            metrics.totalReturn = growth - 1
            if let span = spanOf(curve), span.milliseconds > 0 {
                if growth <= 0 {
                    metrics.annualizedReturn = -1  // gone is gone, over any span
                } else if span >= minimumAnnualisedSpan {
                    let annual = Numerics.pow(growth, 365.25 / span.days) - 1
                    metrics.annualizedReturn = annual.isFinite ? annual : nil
                }
            }
        }
        if curve.count > 0 {
            metrics.startTime = Timestamp(milliseconds: curve.times[0])
            metrics.endTime = Timestamp(milliseconds: curve.times[curve.count - 1])
            metrics.span = spanOf(curve)
        }

        // Risk-adjusted ratios.
        let samples = sampledEquity(curve, initial: initial, sampling: sampling)
        let stats = ReturnStatistics(equities: samples)
        metrics.returnPeriods = stats.count
        if stats.count >= 1 { metrics.meanReturn = stats.mean }
        let root = sampling.periodsPerYear.squareRoot()
        if let deviation = stats.sampleDeviation { metrics.annualizedVolatility = deviation * root }
        metrics.sharpe = sharpe(stats, root: root)
        metrics.sortino = sortino(stats, root: root)

        // Drawdown.
        if curve.count > 0 {
            var peak = initial
            var peakIndex = -1
            var worst = 0.0
            var worstPeak = (index: -1, equity: initial)
            var worstTrough = (index: -1, equity: initial)
            for index in 0..<curve.count {
                let equity = curve.equity[index]
                if equity > peak {
                    peak = equity
                    peakIndex = index
                } else if peak > 0 {
                    let drawdown = Double(peak - equity) / Double(peak)
                    if drawdown > worst {
                        worst = drawdown
                        worstPeak = (peakIndex, peak)
                        worstTrough = (index, equity)
                    }
                }
            }
            metrics.maxDrawdown = worst
            if worst > 0 {
                metrics.maxDrawdownPeakTime = Timestamp(milliseconds: curve.times[max(worstPeak.index, 0)])
                metrics.maxDrawdownTroughTime = Timestamp(milliseconds: curve.times[worstTrough.index])
                metrics.maxDrawdownPeakEquity = Notional(raw: worstPeak.equity)
                metrics.maxDrawdownTroughEquity = Notional(raw: worstTrough.equity)
            }
        }

        metrics.longestDrawdown = DrawdownPeriod.longest(curve, initial: initial)
        if let annual = metrics.annualizedReturn, let drawdown = metrics.maxDrawdown, drawdown > 0 {
            metrics.calmar = annual / drawdown
        }
        (metrics.bestDay, metrics.worstDay) = DayReturn.extremes(curve, initial: initial)

        if result.bars > 0 { metrics.exposure = Double(result.barsInMarket) / Double(result.bars) }

        // Trades.
        for trade in result.trades {
            guard trade.exitTime != nil else {
                metrics.openTrades += 1
                continue
            }
            metrics.trades += 1
            let net = trade.netPnL
            metrics.netTradePnL += net
            if net.isPositive {
                metrics.wins += 1
                metrics.grossProfit += net
            } else if net.isNegative {
                metrics.losses += 1
                metrics.grossLoss += net
            }
        }
        if metrics.trades > 0 { metrics.winRate = Double(metrics.wins) / Double(metrics.trades) }
        metrics.addTradeStatistics(result.trades)
        metrics.exitsByReason = ExitReasonSummary.table(result.trades)
        if metrics.grossLoss.isNegative {
            metrics.profitFactor = Double(metrics.grossProfit.raw) / Double(-metrics.grossLoss.raw)
        }

        metrics.fills = result.fills.count
        metrics.feesPaid = result.feesPaid
        metrics.fundingPaid = result.fundingPaid
        metrics.fundingSettlements = result.funding.count
        metrics.liquidations = result.liquidations
        metrics.insuranceFundDraws = result.insuranceFundDraws
        return metrics
    }

    private init(initialCapital: Notional, finalEquity: Notional, sampling: ReturnSampling, bars: Int, barsInMarket: Int) {
        self.initialCapital = initialCapital
        self.finalEquity = finalEquity
        self.sampling = sampling
        self.returnPeriods = 0
        self.bars = bars
        self.barsInMarket = barsInMarket
        self.trades = 0
        self.openTrades = 0
        self.wins = 0
        self.losses = 0
        self.grossProfit = .zero
        self.grossLoss = .zero
        self.netTradePnL = .zero
        self.fills = 0
        self.feesPaid = .zero
        self.fundingPaid = .zero
        self.fundingSettlements = 0
        self.liquidations = 0
        self.insuranceFundDraws = .zero
    }

    /// First bar's open to last bar's close: `last − first + interval`, the interval being the
    /// smallest positive gap between consecutive times. `nil` with fewer than two bars.
    static func spanOf(_ curve: EquityCurve) -> TimeSpan? {
        guard curve.count >= 2 else { return nil }
        var interval = Int64.max
        var previous = curve.times[0]
        for time in curve.times.dropFirst() {
            let gap = time - previous
            if gap > 0, gap < interval { interval = gap }
            previous = time
        }
        guard interval != Int64.max else { return nil }
        return TimeSpan(milliseconds: curve.times[curve.count - 1] - curve.times[0] + interval)
    }

    /// The equity points returns are taken between: the initial capital, then each bar's (or
    /// each UTC day's last) equity. Raw ``Notional`` values.
    static func sampledEquity(_ curve: EquityCurve, initial: Int64, sampling: ReturnSampling) -> [Int64] {
        switch sampling {
        case .perBar:
            return [initial] + curve.equity
        case .daily:
            var points: [Int64] = [initial]
            guard curve.count > 0 else { return points }
            var day = Timestamp(milliseconds: curve.times[0]).utcDay
            for index in 1..<curve.count {
                let next = Timestamp(milliseconds: curve.times[index]).utcDay
                if next != day {
                    points.append(curve.equity[index - 1])
                    day = next
                }
            }
            points.append(curve.equity[curve.count - 1])
            return points
        }
    }
}

/// Mean, sample deviation and downside deviation of simple returns between consecutive
/// equities; stops at the first equity ≤ 0 (no return is defined from there).
struct ReturnStatistics {
    var count = 0
    var mean = 0.0
    /// `√(Σ (r − mean)² / (n − 1))`; `nil` below two returns.
    var sampleDeviation: Double?
    /// `√(Σ min(r, 0)² / n)`.
    var downsideDeviation = 0.0
    /// Returns that are not exactly zero: periods in which the (exact, fixed-point) equity changed.
    var changes = 0
    /// Returns below zero.
    var downsideCount = 0

    /// Whether a ratio of the mean to a deviation can say anything about the returns: at least
    /// two returns, at least two of them non-zero. With a single non-zero return `r` among `n`,
    /// `mean / sd = sign(r) / √n` and `mean / dd = sign(r) / √n` whatever `r` is: the ratio
    /// measures how many periods were sampled, not the strategy.
    var ratiosAreMeaningful: Bool { count >= 2 && changes >= 2 }

    /// A deviation at rounding level: `≤ 10⁻¹² × max(|mean|, 10⁻¹²)` (`Double` carries about 16
    /// digits, so a spread twelve orders below the mean is noise from the division `e₁ / e₀`,
    /// and returns below 10⁻¹² are finer than any ledger here records on a sane balance).
    func isNegligible(_ deviation: Double) -> Bool {
        !(deviation > 1e-12 * max(abs(mean), 1e-12))
    }

    init(equities: [Int64]) {
        var returns: [Double] = []
        returns.reserveCapacity(max(equities.count - 1, 0))
        var index = 1
        while index < equities.count, equities[index - 1] > 0 {
            // Equal equities give exactly 0, so `changes` counts exact ledger changes.
            returns.append(equities[index] == equities[index - 1] ? 0 : Double(equities[index]) / Double(equities[index - 1]) - 1)
            index += 1
        }
        self.init(returns: returns)
    }

    init(returns: [Double]) {
        count = returns.count
        guard count > 0 else { return }
        var sum = 0.0
        var downside = 0.0
        for value in returns {
            sum += value
            if value != 0 { changes += 1 }
            if value < 0 {
                downside += value * value
                downsideCount += 1
            }
        }
        mean = sum / Double(count)
        downsideDeviation = (downside / Double(count)).squareRoot()
        guard count >= 2 else { return }
        var squares = 0.0
        for value in returns {
            let deviation = value - mean
            squares += deviation * deviation
        }
        sampleDeviation = (squares / Double(count - 1)).squareRoot()
    }
}

extension PerformanceMetrics {
    /// The metrics as a JSON object with snake_case keys in a fixed order. Money is exact
    /// (`JSONValue.exact`), statistics are numbers with 12 significant digits, and anything
    /// undefined is `null`. Times are ISO 8601 strings.
    public func json() -> JSONValue {
        func ratio(_ value: Double?) -> JSONValue { value.map { JSONValue.double($0) } ?? .null }
        func money(_ value: Notional?) -> JSONValue { value.map { JSONValue.exact($0) } ?? .null }
        func time(_ value: Timestamp?) -> JSONValue { value.map { JSONValue.string($0.iso8601) } ?? .null }
        var members: [(String, JSONValue)] = [
            ("return", ratio(totalReturn)),
            ("annualized_return", ratio(annualizedReturn)),
            ("annualized_return_note", annualizedReturnNote.map { JSONValue.string($0) } ?? .null),
            ("sharpe", ratio(sharpe)),
            ("sortino", ratio(sortino)),
            ("return_sampling", .string(sampling.name)),
            ("periods_per_year", .double(sampling.periodsPerYear)),
            ("return_periods", .int(returnPeriods)),
            ("mean_return", ratio(meanReturn)),
            ("annualized_volatility", ratio(annualizedVolatility)),
            ("max_drawdown", ratio(maxDrawdown)),
            ("max_drawdown_peak_time", time(maxDrawdownPeakTime)),
            ("max_drawdown_trough_time", time(maxDrawdownTroughTime)),
            ("max_drawdown_peak_equity", money(maxDrawdownPeakEquity)),
            ("max_drawdown_trough_equity", money(maxDrawdownTroughEquity)),
            ("exposure", ratio(exposure)),
            ("bars", .int(bars)),
            ("bars_in_market", .int(barsInMarket)),
            ("trades", .int(trades)),
            ("open_trades", .int(openTrades)),
            ("wins", .int(wins)),
            ("losses", .int(losses)),
            ("win_rate", ratio(winRate)),
            ("gross_profit", money(grossProfit)),
            ("gross_loss", money(grossLoss)),
            ("net_trade_pnl", money(netTradePnL)),
            ("profit_factor", ratio(profitFactor)),
            ("exits_by_reason", ExitReasonSummary.json(exitsByReason)),
        ]
        members += [
            ("expectancy", money(expectancy)),
            ("average_win", money(averageWin)),
            ("average_loss", money(averageLoss)),
            ("best_trade", money(bestTrade)),
            ("worst_trade", money(worstTrade)),
            ("average_holding_seconds", averageHoldingTime.map { JSONValue.double(Double($0.milliseconds) / 1000) } ?? .null),
            ("long_trades", longTrades.json),
            ("short_trades", shortTrades.json),
            ("cagr", ratio(annualizedReturn)),
            ("calmar", ratio(calmar)),
            ("best_day", bestDay?.json ?? .null),
            ("worst_day", worstDay?.json ?? .null),
            ("longest_drawdown", longestDrawdown?.json ?? .null),
        ]
        members += [
            ("fills", .int(fills)),
            ("fees", money(feesPaid)),
            ("funding_paid", money(fundingPaid)),
            ("funding_settlements", .int(fundingSettlements)),
            ("liquidations", .int(liquidations)),
            ("insurance_fund_draws", money(insuranceFundDraws)),
            ("initial_capital", money(initialCapital)),
            ("final_equity", money(finalEquity)),
            ("start", time(startTime)),
            ("end", time(endTime)),
            ("span_days", span.map { JSONValue.double($0.days) } ?? .null),
        ]
        return .object(members)
    }
}
