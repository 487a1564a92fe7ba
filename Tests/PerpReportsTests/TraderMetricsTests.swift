import PerpModel
import PerpReports
import PerpSimulation
import Testing

/// The metrics traders look for (expectancy, average win and loss, best and worst trade and day,
/// holding time, long/short split, Calmar, longest drawdown) and the monthly returns table, on
/// small hand-built results with hand-computed answers.
@Suite("Trader metrics")
struct TraderMetricsTests {
    typealias F = Fixtures

    static func sampleTrades() -> [TradeRecord] {
        var open = F.trade(side: .long, entry: F.start + 20 * F.hour, gross: "0")
        open.exitTime = nil
        open.exitPrice = nil
        open.exitReason = nil
        return [
            F.trade(side: .long, entry: F.start, exit: F.start + F.hour, gross: "31", fees: "1"),  // +30, 1 h
            F.trade(side: .long, entry: F.start, exit: F.start + 2 * F.hour, gross: "-10"),  // −10, 2 h
            F.trade(side: .short, entry: F.start, exit: F.start + 3 * F.hour, gross: "20"),  // +20, 3 h
            F.trade(side: .short, entry: F.start, exit: F.start + 6 * F.hour, gross: "-4", funding: "1"),  // −5, 6 h
            open,
        ]
    }

    @Test("expectancy, averages, best and worst trade, holding time and the long/short split")
    func tradeStatistics() {
        let result = F.result(points: [(F.start, "1000"), (F.start + F.day, "1035")], trades: Self.sampleTrades())
        let m = PerformanceMetrics.compute(result)
        #expect(m.trades == 4)
        #expect(m.openTrades == 1)
        // (30 − 10 + 20 − 5) / 4 = 8.75.
        #expect(m.expectancy == F.notional("8.75"))
        #expect(m.averageWin == F.notional("25"))  // (30 + 20) / 2
        #expect(m.averageLoss == F.notional("-7.5"))  // (−10 − 5) / 2
        #expect(m.bestTrade == F.notional("30"))
        #expect(m.worstTrade == F.notional("-10"))
        #expect(m.averageHoldingTime == TimeSpan.hours(3))  // (1 + 2 + 3 + 6) / 4
        #expect(m.longTrades == SideSummary(trades: 2, wins: 1, netPnL: F.notional("20")))
        #expect(m.shortTrades == SideSummary(trades: 2, wins: 1, netPnL: F.notional("15")))
        #expect(m.longTrades.winRate == 0.5)
    }

    @Test("expectancy rounds to the ledger's unit, and without trades everything is undefined")
    func tradeStatisticsEdges() {
        let thirds = [F.trade(gross: "1"), F.trade(gross: "0"), F.trade(gross: "0")]
        let m = PerformanceMetrics.compute(F.result(points: [(F.start, "1001")], trades: thirds))
        #expect(m.expectancy == Notional(raw: 33_333_333))  // 1 / 3 = 0.33333333|33…
        #expect(m.averageLoss == nil, "no losing trade")

        let none = PerformanceMetrics.compute(F.result(points: [(F.start, "1000")]))
        #expect(none.expectancy == nil)
        #expect(none.averageWin == nil)
        #expect(none.bestTrade == nil)
        #expect(none.worstTrade == nil)
        #expect(none.averageHoldingTime == nil)
        #expect(none.longTrades == SideSummary())
        #expect(none.longTrades.winRate == nil)
        #expect(none.longestDrawdown == nil)
        #expect(none.calmar == nil)

        let empty = PerformanceMetrics.compute(F.result(points: [], final: "1000", bars: 0))
        #expect(empty.bestDay == nil)
        #expect(empty.longestDrawdown == nil)
    }

    @Test("best and worst day compare each UTC day's last equity with the day before's")
    func days() {
        let result = F.result(points: [
            (F.start, "1000"), (F.start + 12 * F.hour, "1100"),  // day 1 ends at 1100: +10 %
            (F.start + F.day + 12 * F.hour, "990"),  // day 2: 990 / 1100 − 1 = −10 %
            (F.start + 2 * F.day + 6 * F.hour, "1089"),  // day 3: 1089 / 990 − 1 = +10 %
        ])
        let m = PerformanceMetrics.compute(result)
        #expect(m.bestDay?.day == Timestamp(milliseconds: F.start), "the earliest of two equal days")
        #expect(approximately(m.bestDay?.value, 0.1))
        #expect(m.worstDay?.day == Timestamp(milliseconds: F.start + F.day))
        #expect(approximately(m.worstDay?.value, -0.1))
    }

    @Test("the longest drawdown runs from a high to the first point back at it, or to the end")
    func longestDrawdown() {
        let t = (0..<8).map { F.start + Int64($0) * F.hour }
        let recovered = PerformanceMetrics.compute(
            F.result(points: [
                (t[0], "1000"), (t[1], "1100"), (t[2], "1050"), (t[3], "1000"), (t[4], "1100"), (t[5], "1200"), (t[6], "1150"),
            ]))
        // Under 1100 from t1 to t4 (3 h, back at 1100); under 1200 from t5 to the end t6 (1 h).
        #expect(
            recovered.longestDrawdown
                == DrawdownPeriod(start: Timestamp(milliseconds: t[1]), end: Timestamp(milliseconds: t[4]), recovered: true))
        #expect(recovered.longestDrawdown?.duration == TimeSpan.hours(3))

        // Below the initial capital from the first bar on, never back: the high is the capital.
        let never = PerformanceMetrics.compute(F.result(points: [(t[0], "900"), (t[1], "950"), (t[2], "990")]))
        #expect(
            never.longestDrawdown
                == DrawdownPeriod(start: Timestamp(milliseconds: t[0]), end: Timestamp(milliseconds: t[2]), recovered: false))
    }

    @Test("Calmar is the annualised return over the max drawdown")
    func calmar() {
        // 2,922 six-hour bars = two years: 1.21 → 10 % a year; one dip 1100 → 990 is a 10 % drawdown.
        var points: [(Int64, String)] = []
        for index in 0..<2922 {
            points.append((F.start + Int64(index) * 6 * F.hour, index == 2921 ? "1210" : (index == 5 ? "990" : "1100")))
        }
        let m = PerformanceMetrics.compute(F.result(points: points))
        #expect(approximately(m.maxDrawdown, 0.1))
        #expect(approximately(m.calmar, 1, tolerance: 1e-12))
    }

    @Test("monthly returns: month over the previous month with data, year over the previous year")
    func monthly() {
        let december: Int64 = 1_702_598_400_000  // 2023-12-15T00:00:00Z
        let result = F.result(points: [
            (december, "1100"),
            (F.start + 9 * F.day, "1210"),  // 2024-01-10
            (F.start + 30 * F.day + 23 * F.hour, "1320"),  // 2024-01-31T23:00, January's last
            (F.start + 64 * F.day, "1188"),  // 2024-03-05; no February
        ])
        let table = MonthlyReturns(result.equity, initial: result.initialCapital)
        #expect(table.years.map(\.year) == [2023, 2024])
        #expect(table.years[0].months.prefix(11).allSatisfy { $0 == nil })
        #expect(approximately(table.years[0].months[11], 0.1))  // 1100 / 1000 − 1
        #expect(approximately(table.years[0].total, 0.1))
        #expect(approximately(table.years[1].months[0], 0.2))  // 1320 / 1100 − 1
        #expect(table.years[1].months[1] == nil)
        #expect(approximately(table.years[1].months[2], -0.1))  // 1188 / 1320 − 1
        #expect(table.years[1].months[3...].allSatisfy { $0 == nil })
        #expect(approximately(table.years[1].total, 0.08))  // 1188 / 1100 − 1

        #expect(MonthlyReturns(EquityCurve(), initial: Notional(1000)).years.isEmpty)
        // A zero start has no return, but the table still has its row.
        let zero = MonthlyReturns(F.result(initial: "0", points: [(F.start, "5")]).equity, initial: .zero)
        #expect(zero.years.count == 1)
        #expect(zero.years[0].months[0] == nil)
    }

    @Test("the new metrics are in the JSON, money exact")
    func json() {
        let result = F.result(points: [(F.start, "1000"), (F.start + F.day, "1035")], trades: Self.sampleTrades())
        let json = PerformanceMetrics.compute(result).json()
        #expect(json["expectancy"] == .number("8.75"))
        #expect(json["average_loss"] == .number("-7.5"))
        #expect(json["average_holding_seconds"] == .double(10_800))
        #expect(json["long_trades"]?["net_pnl"] == .number("20"))
        #expect(json["short_trades"]?["trades"] == .int(2))
        for key in ["cagr", "calmar", "best_day", "worst_day", "longest_drawdown", "best_trade", "worst_trade", "average_win"] {
            #expect(json[key] != nil, "\(key)")
        }
    }
}
