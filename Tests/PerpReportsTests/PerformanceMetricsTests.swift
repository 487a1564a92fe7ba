import PerpModel
import PerpReports
import PerpSimulation
import Testing

/// `PerformanceMetrics.compute` on small hand-built results with hand-computed answers.
@Suite("Performance metrics")
struct PerformanceMetricsTests {
    typealias F = Fixtures

    @Test("total return is final over initial minus one")
    func totalReturn() {
        let result = F.result(points: [(F.start, "1050"), (F.start + F.hour, "1100")])
        let metrics = PerformanceMetrics.compute(result)
        #expect(approximately(metrics.totalReturn, 0.1))
        #expect(metrics.finalEquity == Notional(1100))
        #expect(metrics.initialCapital == Notional(1000))

        let loss = PerformanceMetrics.compute(F.result(points: [(F.start, "750")]))
        #expect(approximately(loss.totalReturn, -0.25))
        #expect(loss.annualizedReturn == nil, "a single bar has no time span")
    }

    @Test("annualised return compounds over the span from first open to last close")
    func annualisedReturn() {
        // 2,922 six-hour bars span 730.5 days = two years of 365.25 days: 1.21 → 10 % a year.
        let step = 6 * F.hour
        var points: [(Int64, String)] = []
        for index in 0..<2922 { points.append((F.start + Int64(index) * step, index == 2921 ? "1210" : "1100")) }
        let metrics = PerformanceMetrics.compute(F.result(points: points))
        #expect(metrics.span == TimeSpan.hours(2922 * 6))
        #expect(approximately(metrics.totalReturn, 0.21))
        #expect(approximately(metrics.annualizedReturn, 0.1, tolerance: 1e-13))

        // Half a year (182.625 days of 1-hour bars, 4,383 of them) doubling: 2² − 1 = 300 %.
        var half: [(Int64, String)] = []
        for index in 0..<4383 { half.append((F.start + Int64(index) * F.hour, index == 4382 ? "2000" : "1500")) }
        let doubled = PerformanceMetrics.compute(F.result(points: half))
        #expect(approximately(doubled.annualizedReturn, 3, tolerance: 1e-13))

        // A wiped-out account annualises to −100 %.
        let wiped = PerformanceMetrics.compute(F.result(points: [(F.start, "500"), (F.start + F.day, "0")]))
        #expect(wiped.annualizedReturn == -1)
        #expect(approximately(wiped.totalReturn, -1))
    }

    @Test("max drawdown is the largest peak-to-trough fall, with its times and equities")
    func maxDrawdown() {
        let times = (0..<6).map { F.start + Int64($0) * F.hour }
        let result = F.result(points: [
            (times[0], "1100"), (times[1], "1200"), (times[2], "900"), (times[3], "1300"), (times[4], "1000"), (times[5], "1250"),
        ])
        let metrics = PerformanceMetrics.compute(result)
        // 1200 → 900 is 25 %; 1300 → 1000 only 23.08 %.
        #expect(approximately(metrics.maxDrawdown, 0.25))
        #expect(metrics.maxDrawdownPeakTime == Timestamp(milliseconds: times[1]))
        #expect(metrics.maxDrawdownTroughTime == Timestamp(milliseconds: times[2]))
        #expect(metrics.maxDrawdownPeakEquity == Notional(1200))
        #expect(metrics.maxDrawdownTroughEquity == Notional(900))

        // The initial capital is the first peak: 1000 → 800 is 20 %.
        let fromStart = PerformanceMetrics.compute(
            F.result(points: [(times[0], "900"), (times[1], "800"), (times[2], "950")]))
        #expect(approximately(fromStart.maxDrawdown, 0.2))
        #expect(fromStart.maxDrawdownPeakTime == Timestamp(milliseconds: times[0]))
        #expect(fromStart.maxDrawdownTroughTime == Timestamp(milliseconds: times[1]))
        #expect(fromStart.maxDrawdownPeakEquity == Notional(1000))

        // Only rising: no drawdown, no times.
        let rising = PerformanceMetrics.compute(F.result(points: [(times[0], "1001"), (times[1], "1002")]))
        #expect(rising.maxDrawdown == 0)
        #expect(rising.maxDrawdownPeakTime == nil)
    }

    @Test("win rate, wins, losses and profit factor count closed trades by net PnL")
    func trades() {
        var open = F.trade(gross: "100")
        open.exitTime = nil
        open.exitBar = nil
        open.exitPrice = nil
        open.exitReason = nil
        let trades = [
            F.trade(gross: "12", fees: "1.5", funding: "0.5"),  // +10
            F.trade(side: .short, gross: "-4", fees: "0.75", funding: "0.25"),  // −5
            F.trade(gross: "1", fees: "0.5", funding: "0.5"),  // 0: neither won nor lost
            F.trade(gross: "3.5", fees: "0.25", funding: "0.25"),  // +3
            open,
        ]
        let result = F.result(points: [(F.start, "1008")], trades: trades, bars: 10, barsInMarket: 4)
        let metrics = PerformanceMetrics.compute(result)
        #expect(metrics.trades == 4)
        #expect(metrics.openTrades == 1)
        #expect(metrics.wins == 2)
        #expect(metrics.losses == 1)
        #expect(metrics.winRate == 0.5)
        #expect(metrics.grossProfit == Notional(13))
        #expect(metrics.grossLoss == Notional(-5))
        #expect(metrics.netTradePnL == Notional(8))
        #expect(approximately(metrics.profitFactor, 2.6))
        #expect(metrics.exposure == 0.4)
    }

    @Test("fees, funding, liquidations and insurance draws are carried over exactly")
    func ledgerTotals() {
        let result = F.result(
            points: [(F.start, "990")], liquidations: 2, fees: "1.23456789", fundingPaid: "-0.00000001", insurance: "12.5")
        let metrics = PerformanceMetrics.compute(result)
        #expect(metrics.feesPaid == Notional("1.23456789")!)
        #expect(metrics.fundingPaid == Notional("-0.00000001")!)
        #expect(metrics.liquidations == 2)
        #expect(metrics.insuranceFundDraws == Notional("12.5")!)
    }

    /// Five days of hourly bars whose intraday wiggles must not leak into the daily returns.
    static func fiveDays() -> (result: BacktestResult, closes: [Double], hourly: [Double]) {
        let closes: [Double] = [1010, 1005, 1030, 1025, 1040]
        var points: [(Int64, String)] = []
        var hourly: [Double] = []
        for (day, close) in closes.enumerated() {
            for hour in 0..<24 {
                let value = hour == 23 ? close : close + (hour % 3 == 0 ? 7 : -4)
                points.append((F.start + Int64(day) * F.day + Int64(hour) * F.hour, formatDouble(value)))
                hourly.append(value)
            }
        }
        return (F.result(points: points), closes, hourly)
    }

    @Test("Sharpe and Sortino from daily-resampled returns, annualised by √365")
    func dailySharpe() {
        let (result, closes, _) = Self.fiveDays()
        let metrics = PerformanceMetrics.compute(result)
        #expect(metrics.sampling == .daily)
        let returns = F.returns([1000] + closes)
        let (mean, sd, downside) = F.moments(returns)
        #expect(metrics.returnPeriods == 5)
        #expect(approximately(metrics.meanReturn, mean))
        #expect(approximately(metrics.sharpe, mean / sd * Double(365).squareRoot(), tolerance: 1e-10))
        #expect(approximately(metrics.sortino, mean / downside * Double(365).squareRoot(), tolerance: 1e-10))
        #expect(approximately(metrics.annualizedVolatility, sd * Double(365).squareRoot(), tolerance: 1e-10))
        // Hand check of the inputs: 1 %, −0.495 %, 2.488 %, −0.485 %, 1.463 %.
        #expect(abs(returns[0] - 0.01) < 1e-15)
        #expect(abs(returns[1] - (1005.0 / 1010 - 1)) < 1e-15)
    }

    @Test("per-bar sampling uses every bar, annualised by √periodsPerYear")
    func perBarSharpe() {
        let (result, _, hourly) = Self.fiveDays()
        let metrics = PerformanceMetrics.compute(result, periodsPerYear: 8760)
        #expect(metrics.sampling == .perBar(periodsPerYear: 8760))
        let (mean, sd, downside) = F.moments(F.returns([1000] + hourly))
        #expect(metrics.returnPeriods == 120)
        #expect(approximately(metrics.sharpe, mean / sd * Double(8760).squareRoot(), tolerance: 1e-10))
        #expect(approximately(metrics.sortino, mean / downside * Double(8760).squareRoot(), tolerance: 1e-10))
    }

    @Test("degenerate inputs give nil rather than nonsense")
    func degenerate() {
        // Flat equity: zero variance, no downside, no drawdown.
        let flat = (0..<72).map { (F.start + Int64($0) * F.hour, "1000") }
        let metrics = PerformanceMetrics.compute(F.result(points: flat))
        #expect(metrics.sharpe == nil)
        #expect(metrics.sortino == nil)
        #expect(metrics.maxDrawdown == 0)
        #expect(metrics.totalReturn == 0)
        #expect(metrics.annualizedReturn == nil, "three days are not annualised")
        #expect(metrics.annualizedReturnNote != nil)
        #expect(metrics.winRate == nil, "no trades")
        #expect(metrics.profitFactor == nil)
        #expect(metrics.exposure == 0)

        // Only gains: a Sharpe but no Sortino (no downside).
        let gains = PerformanceMetrics.compute(
            F.result(points: [(F.start, "1010"), (F.start + F.day, "1030"), (F.start + 2 * F.day, "1031")]))
        #expect(gains.sharpe != nil)
        #expect(gains.sortino == nil)

        // Nothing recorded at all.
        let empty = PerformanceMetrics.compute(F.result(points: [], final: "1000", bars: 0))
        #expect(empty.totalReturn == 0)
        #expect(empty.annualizedReturn == nil)
        #expect(empty.sharpe == nil)
        #expect(empty.sortino == nil)
        #expect(empty.maxDrawdown == nil)
        #expect(empty.exposure == nil)
        #expect(empty.startTime == nil)
        #expect(empty.returnPeriods == 0)
    }

    /// A funding-carry-like curve: one fee at the first bar, then `days` of flat equity, plus an
    /// optional change of `later` on day `laterDay`.
    static func oneFeeThenFlat(days: Int, later: String? = nil, laterDay: Int = 0) -> BacktestResult {
        var points: [(Int64, String)] = []
        for day in 0..<days {
            let equity = later != nil && day >= laterDay ? later! : "999750"
            points.append((F.start + Int64(day) * F.day, equity))
        }
        return F.result(initial: "1000000", points: points)
    }

    @Test("a curve that pays one fee and stays flat has no Sharpe or Sortino", arguments: [31, 366, 731])
    func oneFeeThenFlatIsNotARatio(days: Int) throws {
        // Issue 10.9: funding-carry without funding printed −0.9986 for a year and −3.43 for a
        // month: −√(365/n), fixed by the number of days, whatever the fee.
        let metrics = PerformanceMetrics.compute(Self.oneFeeThenFlat(days: days))
        #expect(metrics.returnPeriods == days)
        #expect(metrics.sharpe == nil)
        #expect(metrics.sortino == nil)
        #expect(PerformanceMetrics.sharpe(equities: [1_000_000] + Array(repeating: 999_750, count: days), periodsPerYear: 365) == nil)
        let json = metrics.json()
        #expect(json["sharpe"] == .null && json["sortino"] == .null)
        // Per bar too.
        let perBar = PerformanceMetrics.compute(Self.oneFeeThenFlat(days: days), periodsPerYear: 8760)
        #expect(perBar.sharpe == nil && perBar.sortino == nil)
        // The report says n/a.
        let html = HTMLReport.render(
            title: "flat", result: Self.oneFeeThenFlat(days: days), metrics: metrics, prices: ([], []), notes: [])
        #expect(html.contains("n/a"))
    }

    @Test("a second change of equity makes the ratios defined again")
    func feeThenOneFundingPayment() {
        // The fee, then funding received once: two changes, a real spread.
        let metrics = PerformanceMetrics.compute(Self.oneFeeThenFlat(days: 30, later: "999800", laterDay: 10))
        #expect(metrics.sharpe != nil)
        #expect(metrics.sortino != nil)
        let returns = F.returns([1_000_000] + Array(repeating: 999_750, count: 10) + Array(repeating: 999_800, count: 20))
        let (mean, sd, downside) = F.moments(returns)
        #expect(approximately(metrics.sharpe, mean / sd * Double(365).squareRoot(), tolerance: 1e-10))
        #expect(approximately(metrics.sortino, mean / downside * Double(365).squareRoot(), tolerance: 1e-10))
    }

    @Test("no change at all has no ratios; gains only have a Sharpe but no Sortino")
    func flatCurvesWithoutAnyChange() {
        // No change at all (capital equal to every equity): nothing to measure.
        let flat = PerformanceMetrics.compute(
            F.result(initial: "999750", points: Self.oneFeeThenFlat(days: 40).equity.times.map { ($0, "999750") }))
        #expect(flat.sharpe == nil && flat.sortino == nil)
        // Only gains, many of them: a Sharpe, but no Sortino (no downside return).
        var rising: [(Int64, String)] = []
        for day in 0..<10 {
            let equity: Int = 1000 + 10 * (day + 1) + day * day
            rising.append((F.start + Int64(day) * F.day, String(equity)))
        }
        let gains = PerformanceMetrics.compute(F.result(points: rising))
        #expect(gains.sharpe != nil && gains.sortino == nil)
    }

    @Test("JSON has snake_case keys in a fixed order, exact money and null for the undefined")
    func json() throws {
        let result = F.result(
            points: [(F.start, "1100"), (F.start + F.hour, "1200"), (F.start + 2 * F.hour, "900")],
            trades: [F.trade(gross: "2", fees: "0.12345678")], fees: "0.12345678", fundingPaid: "-3.5")
        let value = PerformanceMetrics.compute(result).json()
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        let keys = members.map(\.0)
        #expect(
            Array(keys.prefix(5)) == ["return", "annualized_return", "annualized_return_note", "sharpe", "sortino"])
        for key in [
            "max_drawdown", "exposure", "trades", "win_rate", "fees", "funding_paid", "liquidations", "final_equity",
            "insurance_fund_draws", "max_drawdown_peak_time",
        ] {
            #expect(keys.contains(key), "missing \(key)")
        }
        #expect(Set(keys).count == keys.count)
        #expect(value["return"] == .number("-0.1"))
        #expect(value["max_drawdown"] == .number("0.25"))
        #expect(value["fees"] == .number("0.12345678"))
        #expect(value["funding_paid"] == .number("-3.5"))
        #expect(value["final_equity"] == .number("900"))
        #expect(value["trades"] == .number("1"))
        #expect(value["win_rate"] == .number("1"))
        #expect(value["max_drawdown_peak_time"] == .string("2024-01-01T01:00:00Z"))
        #expect(value["return_sampling"] == .string("daily"))
        #expect(value["sharpe"] == .null, "one daily return has no deviation")
        // Round-trips through the strict parser.
        #expect(try JSONParser.parse(value.serialized()) == value)
    }
}
