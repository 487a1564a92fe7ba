import PerpModel
import PerpSimulation

/// Closed trades of one side (long or short): how many, how many won, and their net PnL.
public struct SideSummary: Sendable, Hashable {
    /// Closed trades of this side.
    public var trades = 0
    /// Of these, trades with net PnL > 0.
    public var wins = 0
    /// Sum of their net PnL (exact).
    public var netPnL = Notional.zero

    public init(trades: Int = 0, wins: Int = 0, netPnL: Notional = .zero) {
        self.trades = trades
        self.wins = wins
        self.netPnL = netPnL
    }

    /// `wins / trades`; `nil` without trades.
    public var winRate: Double? { trades > 0 ? Double(wins) / Double(trades) : nil }

    /// `{"trades", "wins", "win_rate", "net_pnl"}`, money exact.
    public var json: JSONValue {
        .object([
            ("trades", .int(trades)), ("wins", .int(wins)), ("win_rate", winRate.map { .double($0) } ?? .null),
            ("net_pnl", .exact(netPnL)),
        ])
    }
}

/// The return of one UTC day: its last equity over the previous day's last equity, minus 1
/// (the initial capital stands before the first day).
public struct DayReturn: Sendable, Hashable {
    /// Midnight UTC that starts the day.
    public var day: Timestamp
    /// Simple return of the day.
    public var value: Double

    public init(day: Timestamp, value: Double) {
        self.day = day
        self.value = value
    }

    /// `{"day": "YYYY-MM-DD", "return": r}`.
    public var json: JSONValue { .object([("day", .string(String(day.iso8601.prefix(10)))), ("return", .double(value))]) }

    /// Every day's return in time order: for each UTC day that has equity points (a point
    /// belongs to the day of its time), `last equity of the day / last equity of the previous
    /// day with points − 1`, the initial capital before the first day. Stops at the first
    /// previous equity ≤ 0 (no return is defined from there).
    static func daily(_ curve: EquityCurve, initial: Int64) -> [DayReturn] {
        guard curve.count > 0 else { return [] }
        var out: [DayReturn] = []
        var previous = initial
        var index = 0
        while index < curve.count {
            let day = Timestamp(milliseconds: curve.times[index]).utcDay
            var last = index
            while last + 1 < curve.count, Timestamp(milliseconds: curve.times[last + 1]).utcDay == day { last += 1 }
            guard previous > 0 else { break }
            let equity = curve.equity[last]
            let value = equity == previous ? 0 : Double(equity) / Double(previous) - 1
            out.append(DayReturn(day: Timestamp(milliseconds: day * 86_400_000), value: value))
            previous = equity
            index = last + 1
        }
        return out
    }

    /// The best and the worst of ``daily(_:initial:)`` (the earliest day on ties).
    static func extremes(_ curve: EquityCurve, initial: Int64) -> (best: DayReturn?, worst: DayReturn?) {
        var best: DayReturn?
        var worst: DayReturn?
        for day in daily(curve, initial: initial) {
            if best.map({ day.value > $0.value }) ?? true { best = day }
            if worst.map({ day.value < $0.value }) ?? true { worst = day }
        }
        return (best, worst)
    }
}

/// A stretch of time the equity spent below a previous high: from the time of that high (the
/// first bar's time when the high is the initial capital) to the time of the first equity
/// point at or above it again, or to the last point when it never got back (`recovered` false).
public struct DrawdownPeriod: Sendable, Hashable {
    public var start: Timestamp
    public var end: Timestamp
    /// Whether the equity got back to the high by `end`.
    public var recovered: Bool
    /// `end − start`.
    public var duration: TimeSpan { TimeSpan(milliseconds: end.milliseconds - start.milliseconds) }

    public init(start: Timestamp, end: Timestamp, recovered: Bool) {
        self.start = start
        self.end = end
        self.recovered = recovered
    }

    /// `{"start", "end", "days", "recovered"}`.
    public var json: JSONValue {
        .object([
            ("start", .string(start.iso8601)), ("end", .string(end.iso8601)), ("days", .double(duration.days)),
            ("recovered", .bool(recovered)),
        ])
    }

    /// The longest period below a high (the earliest on ties), over the curve preceded by the
    /// initial capital; `nil` when no point is below the high before it.
    static func longest(_ curve: EquityCurve, initial: Int64) -> DrawdownPeriod? {
        guard curve.count > 0 else { return nil }
        var peak = initial
        var peakTime = curve.times[0]
        var underwater = false
        var best: DrawdownPeriod?
        func consider(_ period: DrawdownPeriod) {
            if best.map({ period.duration > $0.duration }) ?? true { best = period }
        }
        for index in 0..<curve.count {
            let equity = curve.equity[index]
            let time = curve.times[index]
            if equity >= peak {
                if underwater {
                    consider(DrawdownPeriod(start: Timestamp(milliseconds: peakTime), end: Timestamp(milliseconds: time), recovered: true))
                    underwater = false
                }
                peak = equity
                peakTime = time
            } else {
                underwater = true
            }
        }
        if underwater {
            consider(
                DrawdownPeriod(
                    start: Timestamp(milliseconds: peakTime), end: Timestamp(milliseconds: curve.times[curve.count - 1]), recovered: false))
        }
        return best
    }
}

extension PerformanceMetrics {
    /// Fills expectancy, average win and loss, best and worst trade, average holding time and
    /// the long/short split from the closed trades (open ones are left out).
    mutating func addTradeStatistics(_ records: [TradeRecord]) {
        var holding: Int128 = 0
        for trade in records {
            guard let exit = trade.exitTime else { continue }
            let net = trade.netPnL
            if bestTrade.map({ net > $0 }) ?? true { bestTrade = net }
            if worstTrade.map({ net < $0 }) ?? true { worstTrade = net }
            holding += Int128(exit.milliseconds) - Int128(trade.entryTime.milliseconds)
            var side = trade.side == .long ? longTrades : shortTrades
            side.trades += 1
            if net.isPositive { side.wins += 1 }
            side.netPnL += net
            if trade.side == .long { longTrades = side } else { shortTrades = side }
        }
        expectancy = Self.mean(netTradePnL, over: trades)
        averageWin = Self.mean(grossProfit, over: wins)
        averageLoss = Self.mean(grossLoss, over: losses)
        if trades > 0 {
            averageHoldingTime = TimeSpan(milliseconds: Int64(clamping: holding / Int128(trades)))
        }
    }

    /// `total / count` rounded to the ledger's unit (ties to even); `nil` when `count` is 0.
    static func mean(_ total: Notional, over count: Int) -> Notional? {
        guard count > 0 else { return nil }
        // |quotient| ≤ |total|, so it fits the raw value.
        return Notional(raw: Int64(clamping: FixedMath.divide(Int128(total.raw), Int128(count), .toNearestOrEven)))
    }
}

/// Monthly returns: rows of years, a column per month and the year's total.
///
/// A month's return is its last equity point over the last equity point of the month before it
/// that has points (the initial capital before the first), minus 1; a year's total is its last
/// equity over the previous year's last (or the initial capital), minus 1. Months without
/// points, or whose reference equity is not positive, have no value.
public struct MonthlyReturns: Sendable, Hashable {
    public struct Year: Sendable, Hashable {
        public var year: Int
        /// January to December; `nil` where there is no value.
        public var months: [Double?]
        public var total: Double?
    }

    public var years: [Year]

    public init(_ curve: EquityCurve, initial: Notional) {
        years = []
        guard curve.count > 0 else { return }
        var previousMonthEnd = initial.raw
        var previousYearEnd = initial.raw
        var index = 0
        func ratio(_ end: Int64, _ start: Int64) -> Double? {
            guard start > 0 else { return nil }
            return end == start ? 0 : Double(end) / Double(start) - 1
        }
        while index < curve.count {
            let (year, month, _) = CivilCalendar.civil(fromDays: Timestamp(milliseconds: curve.times[index]).utcDay)
            var last = index
            while last + 1 < curve.count {
                let next = CivilCalendar.civil(fromDays: Timestamp(milliseconds: curve.times[last + 1]).utcDay)
                guard next.year == year, next.month == month else { break }
                last += 1
            }
            let end = curve.equity[last]
            if years.last?.year != Int(year) {
                years.append(Year(year: Int(year), months: Array(repeating: nil, count: 12), total: nil))
            }
            let row = years.count - 1
            if (1...12).contains(month) { years[row].months[Int(month) - 1] = ratio(end, previousMonthEnd) }
            years[row].total = ratio(end, previousYearEnd)
            previousMonthEnd = end
            // Next month: is it in another year? Then this end closes the year.
            let nextYear =
                last + 1 < curve.count
                ? CivilCalendar.civil(fromDays: Timestamp(milliseconds: curve.times[last + 1]).utcDay).year : year + 1
            if nextYear != year { previousYearEnd = end }
            index = last + 1
        }
    }
}
