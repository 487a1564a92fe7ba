import PerpModel
import PerpReports
import PerpSimulation

/// Hand-built backtest results for the report tests.
enum Fixtures {
    /// 2024-01-01T00:00:00Z.
    static let start: Int64 = 1_704_067_200_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    static func notional(_ text: String) -> Notional { Notional(text)! }

    /// A result whose equity curve is `points` (time, equity text); `final` defaults to the last
    /// point, `bars` to the number of points.
    static func result(
        initial: String = "1000", points: [(Int64, String)], final: String? = nil, trades: [TradeRecord] = [],
        fills: [FillRecord] = [], funding: [FundingRecord] = [], bars: Int? = nil, barsInMarket: Int = 0,
        liquidations: Int = 0, fees: String = "0", fundingPaid: String = "0", insurance: String = "0"
    ) -> BacktestResult {
        var curve = EquityCurve()
        for (time, equity) in points {
            curve.append(time: time, equity: notional(equity), position: .zero)
        }
        return BacktestResult(
            bars: bars ?? points.count, initialCapital: notional(initial),
            finalEquity: notional(final ?? points.last?.1 ?? initial), fills: fills, trades: trades, funding: funding,
            liquidations: liquidations, insuranceFundDraws: notional(insurance), feesPaid: notional(fees),
            fundingPaid: notional(fundingPaid), equity: curve, barsInMarket: barsInMarket)
    }

    /// A closed trade with the given net PnL made of gross, fees and funding.
    static func trade(
        side: Side = .long, entry: Int64 = start, entryPrice: String = "10", quantity: String = "1", exit: Int64? = nil,
        exitPrice: String? = "11", reason: FillReason = .signal, gross: String, fees: String = "0", funding: String = "0"
    ) -> TradeRecord {
        var trade = TradeRecord(
            side: side, entryTime: Timestamp(milliseconds: entry), entryBar: 0, entryPrice: Price(entryPrice)!,
            quantity: Quantity(quantity)!)
        trade.exitTime = Timestamp(milliseconds: exit ?? entry + hour)
        trade.exitBar = 1
        trade.exitPrice = exitPrice.map { Price($0)! }
        trade.exitReason = reason
        trade.grossPnL = notional(gross)
        trade.fees = notional(fees)
        trade.funding = notional(funding)
        return trade
    }

    /// Mean, sample standard deviation and downside deviation of `values`, computed plainly.
    static func moments(_ values: [Double]) -> (mean: Double, sd: Double, downside: Double) {
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)
        let downside = values.map { $0 < 0 ? $0 * $0 : 0 }.reduce(0, +) / n
        return (mean, variance.squareRoot(), downside.squareRoot())
    }

    static func returns(_ equities: [Double]) -> [Double] {
        (1..<equities.count).map { equities[$0] / equities[$0 - 1] - 1 }
    }
}

func approximately(_ a: Double?, _ b: Double, tolerance: Double = 1e-12) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance * max(1, abs(b))
}
