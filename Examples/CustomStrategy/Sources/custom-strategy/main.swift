import Foundation
import PerpMarketData
import PerpModel
import PerpReports
import PerpSimulation

/// A Donchian breakout: long when the close tops the highest high of the last `lookback` bars,
/// flat when it falls below their lowest low. Any type with `onBar` is a strategy. (The README
/// shows this type as it is here.)
struct Breakout: Strategy {  // long on a new 48-bar high, flat on a new low
    var lookback = 48, highs: [Price] = [], lows: [Price] = []
    mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction? {
        defer {
            highs = Array((highs + [bar.high]).suffix(lookback))
            lows = Array((lows + [bar.low]).suffix(lookback))
        }
        guard highs.count == lookback, let high = highs.max(), let low = lows.min() else { return nil }
        if bar.close > high, account.position.isZero { return .enter(.long, leverage: .one) }
        if bar.close < low, !account.position.isZero { return .flatten }
        return nil
    }
}

func backtest(_ lookback: Int, on bars: CandleSeries) -> BacktestResult {
    var tester = Backtester(strategy: Breakout(lookback: lookback), config: VenueConfig(), initialCapital: Notional(10_000))
    return tester.run(bars, funding: [], mark: nil)
}

guard CommandLine.arguments.count == 2 else {
    print("usage: custom-strategy BARS.csv")
    exit(64)
}
let path = CommandLine.arguments[1]
let bars = try MarketDataFiles.loadCandles(path)

// 1. One run, its metrics and the same HTML report `nmrperp backtest --report` writes.
let result = backtest(48, on: bars)
let metrics = PerformanceMetrics.compute(result)
print(
    "breakout 48: final equity \(metrics.finalEquity.money), trades \(metrics.trades), sharpe \(metrics.sharpe.map { String(format: "%.2f", $0) } ?? "n/a")"
)
let html = HTMLReport.render(
    title: "Breakout 48", result: result, metrics: metrics, prices: (bars.openTimes, bars.closes), notes: ["data \(path)"])
try html.write(toFile: "breakout.html", atomically: true, encoding: .utf8)

// 2. Walk-forward: choose the lookback on each 60-day window by Sharpe, judge it on the next 30 days only.
let lookbacks = [24, 48, 96, 192]
let folds = ParameterWalkForward.folds(
    first: Timestamp(milliseconds: bars.openTimes[0]), last: Timestamp(milliseconds: bars.openTimes[bars.count - 1]),
    barInterval: bars.barInterval ?? .minutes(30), train: .days(60), test: .days(30))
var compounded = 1.0
for fold in folds {
    let training = bars.slice(from: fold.trainStart, to: fold.testStart)
    let scores = lookbacks.map { PerformanceMetrics.compute(backtest($0, on: training)) }
    let chosen = lookbacks[RankObjective.sharpe.ranking(scores)[0]]
    let run = backtest(chosen, on: bars.slice(from: fold.trainStart, to: fold.testEnd))
    guard let window = ParameterWalkForward.window(run.equity, from: fold.testStart) else { continue }
    compounded *= 1 + window.return
    print("test from \(fold.testStart.isoDate): lookback \(chosen), return \(String(format: "%+.2f", window.return * 100)) %")
}
print("out of sample: \(String(format: "%+.2f", (compounded - 1) * 100)) % over \(folds.count) folds; report: breakout.html")
