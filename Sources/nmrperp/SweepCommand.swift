import Foundation
import PerpConfig
import PerpEngine
import PerpMarketData
import PerpModel
import PerpReports
import PerpSimulation

/// `backtest --sweep`: the grid run, ranked, the top printed and every row in `--out`; with
/// `--walk-forward`, parameters chosen on each training window, judged on the next test window.
extension BacktestCommand {
    /// The points of the grid as runnable targets; sma-cross points with fast ≥ slow are skipped.
    func sweepTargets(_ grid: SweepGrid, series: CandleSeries) throws -> (
        points: [[(key: String, value: String)]], targets: [SweepTarget], skipped: Int
    ) {
        var points: [[(key: String, value: String)]] = []
        var targets: [SweepTarget] = []
        var skipped = 0
        let base = strategy == .nmrBot ? try configuration().bot : BotConfig()
        func bars(_ text: String, _ key: String) throws -> Int {
            guard let value = Int(text), value > 0 else {
                throw CLIError("--sweep \(key) values are positive bar counts (got \"\(InputLimits.excerpt(text))\")")
            }
            guard value <= CarryLimit.bars else {
                throw CLIError("--sweep \(key) values must be at most \(CarryLimit.bars) bars (got \(text))")
            }
            return value
        }
        var longest = 0
        for point in grid.points {
            let values = Dictionary(point.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            switch strategy {
            case .smaCross:
                let fast = try values["fast"].map { try bars($0, "fast") } ?? self.fast
                let slow = try values["slow"].map { try bars($0, "slow") } ?? self.slow
                let leverage =
                    try values["leverage"].map { try Parse.leverage($0, "--sweep leverage") } ?? Parse.leverage(self.leverage ?? "3")
                guard fast < slow else {
                    skipped += 1
                    continue
                }
                longest = max(longest, slow)
                targets.append(.sma(fast: fast, slow: slow, leverage: leverage))
            case .holdShort:
                targets.append(
                    .holdShort(
                        leverage: try values["leverage"].map { try Parse.leverage($0, "--sweep leverage") }
                            ?? Parse.leverage(self.leverage ?? "3")))
            case .fundingCarry:
                throw CLIError("--sweep: funding-carry has no parameter to vary")
            case .nmrBot:
                let (config, problems) = BotConfigFile.applying(point, to: base)
                if let first = problems.first {
                    let text = point.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                    throw CLIError("--sweep \(InputLimits.excerpt(text)): \(first.text)")
                }
                targets.append(.bot(config))
            }
            points.append(point)
        }
        if longest > 0 { try BacktestCommand.checkWindow(longest, "--sweep slow", series: series) }
        guard !targets.isEmpty else { throw CLIError("--sweep leaves no combination with fast < slow") }
        return (points, targets, skipped)
    }

    /// One backtest of `target` on `series`.
    static func run(
        _ target: SweepTarget, series: CandleSeries, funding: [FundingRate], mark: CandleSeries?, config: VenueConfig, capital: Notional,
        inputs: SignalInputs, quantity: Quantity?, collateral: Notional?
    ) -> BacktestResult {
        switch target {
        case .sma(let fast, let slow, let leverage):
            var tester = Backtester(strategy: SMACross(fast: fast, slow: slow, leverage: leverage), config: config, initialCapital: capital)
            return tester.run(series, funding: funding, mark: mark)
        case .holdShort(let leverage):
            var venue = config
            venue.leverage = leverage
            var tester = Backtester(
                strategy: HoldShort(quantity: quantity, leverage: leverage, collateral: collateral), config: venue, initialCapital: capital)
            return tester.run(series, funding: funding, mark: mark)
        case .bot(let bot):
            let lot = config.lotSize.isPositive && config.lotSize > Quantity(raw: 1) ? config.lotSize : Quantity("0.01")!
            let kernel = TradingKernel(config: bot, inputs: inputs, barInterval: series.barInterval ?? .minutes(1), lotSize: lot)
            var tester = Backtester(strategy: BotStrategy(kernel: kernel, fundingRates: funding), config: config, initialCapital: capital)
            return tester.run(series, funding: funding, mark: mark)
        }
    }

    func runSweep(
        _ text: String, series: CandleSeries, rates: [FundingRate], mark: CandleSeries?, config baseConfig: VenueConfig, capital: Notional
    )
        throws
    {
        let grid = try SweepGrid.parse(text, strategy: strategy, limit: BacktestCommand.largestSweep)
        let objective = try sweepObjective()
        guard topRuns >= 1 else { throw CLIError("--top must be at least 1 (got \(topRuns))") }
        let (points, targets, skipped) = try sweepTargets(grid, series: series)
        let inputs = try BacktestCommand.signalInputs(signals)
        let quantity: Quantity? = try self.quantity.map { try Parse.positive($0, "--quantity", "a positive NMR size", example: "100") }
        let collateral: Notional? = try self.collateral.map {
            try Parse.positive($0, "--collateral", "a positive USDC amount", example: "10000")
        }
        let outputs = try OutputFiles([("--out", out)], force: force)
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, targets.count))
        if walkForward {
            try runWalkForwardSweep(
                points: points, targets: targets, objective: objective, series: series, rates: rates, mark: mark, config: baseConfig,
                capital: capital, inputs: inputs, quantity: quantity, collateral: collateral, workers: workers, outputs: outputs)
            return
        }
        var config = baseConfig
        config.recordEquity = true
        let venue = config
        let clock = ContinuousClock()
        let started = clock.now
        let progress = json ? nil : ProgressBar("sweep: \(targets.count) runs on \(workers) threads")
        let metrics = ParallelRuns.map(count: targets.count, workers: workers, progress: progress) {
            index -> (PerformanceMetrics, String?) in
            let result = BacktestCommand.run(
                targets[index], series: series, funding: rates, mark: mark, config: venue, capital: capital, inputs: inputs,
                quantity: quantity,
                collateral: collateral)
            return (PerformanceMetrics.compute(result), result.halt.map { "\($0)" })
        }
        let wall = clock.now - started
        if let (index, halt) = metrics.enumerated().lazy.compactMap({ i, m in m.1.map { (i, $0) } }).first {
            throw CLIError("\(data): the sweep's run \(SweepReport.describe(points[index])) \(halt)")
        }
        let all = metrics.map { $0.0 }
        let order = objective.ranking(all)
        let keys = grid.axes.map(\.key)
        try outputs.write { _ in SweepReport.csv(keys: keys, points: points, metrics: all, order: order) }
        let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        if json {
            emit(
                json: .object([
                    ("rank_by", .string(objective.rawValue)), ("runs_total", .int(targets.count)), ("skipped", .int(skipped)),
                    (
                        "runs",
                        .array(
                            order.enumerated().map { rank, index in
                                SweepReport.json(rank: rank + 1, point: points[index], metrics: all[index])
                            })
                    ),
                    ("liquidation_rule", .string(baseConfig.liquidationRule.name)), ("threads", .int(workers)),
                    ("wall_seconds", .double(seconds, significant: 4)),
                ]))
            return
        }
        print(SweepReport.table(keys: keys, points: points, metrics: all, order: Array(order.prefix(topRuns)), wide: wide))
        print(
            "ranked by \(objective.rawValue) (undefined last): the top \(min(topRuns, order.count)) of \(targets.count) runs"
                + (out.map { "; all \(targets.count) in \($0)" } ?? "; --out FILE.csv writes them all"))
        if skipped > 0 { print("\(skipped) combinations with fast ≥ slow skipped") }
        print("liq: liquidations, under the \(baseConfig.liquidationRule.name) rule (\(baseConfig.liquidationRule.summary))")
        print("\(targets.count) runs on \(workers) threads in \(formatFixed(seconds, 3)) s")
        print(
            "note: the best of many runs on one history flatters; --walk-forward --sweep chooses on each training window and reports only the windows after it"
        )
    }

    func sweepObjective() throws -> RankObjective {
        guard let objective = RankObjective(rawValue: rankBy.lowercased()) else {
            throw CLIError("--rank-by must be sharpe, sortino, calmar or return (got \(InputLimits.excerpt(rankBy)))")
        }
        return objective
    }

    /// Walk-forward optimisation: for each fold, every point runs on the training window, the best
    /// by `objective` is chosen, and that choice runs on the training and test windows together
    /// (the training bars warm its indicators up); only the test window's equity counts.
    func runWalkForwardSweep(
        points: [[(key: String, value: String)]], targets: [SweepTarget], objective: RankObjective, series: CandleSeries,
        rates: [FundingRate], mark: CandleSeries?, config baseConfig: VenueConfig, capital: Notional, inputs: SignalInputs,
        quantity: Quantity?, collateral: Notional?, workers: Int, outputs: OutputFiles
    ) throws {
        if horizon != nil || l2 != nil || minConviction != nil {
            throw CLIError(
                "--horizon, --l2 and --min-conviction set up the learned model; --walk-forward --sweep chooses parameters: leave them out")
        }
        let train = try Parse.span(self.train ?? "90d", "--train")
        let test = try Parse.span(self.test ?? "30d", "--test")
        guard let first = series.openTimes.first, let last = series.openTimes.last else { throw CLIError("\(data): no bars") }
        let folds = ParameterWalkForward.folds(
            first: Timestamp(milliseconds: first), last: Timestamp(milliseconds: last), barInterval: series.barInterval ?? .minutes(1),
            train: train, test: test)
        guard !folds.isEmpty else {
            throw CLIError(
                "\(data): --walk-forward --sweep needs at least \(train) + \(test) of bars (--train, --test); the data is shorter")
        }
        var config = baseConfig
        config.recordEquity = true
        let venue = config
        @Sendable func slice(_ from: Timestamp, _ to: Timestamp) -> (CandleSeries, [FundingRate], CandleSeries?) {
            (series.slice(from: from, to: to), rates.filter { $0.time >= from && $0.time < to }, mark?.slice(from: from, to: to))
        }
        let progress = json ? nil : ProgressBar("walk-forward sweep: \(folds.count) folds × \(targets.count) runs on \(workers) threads")
        let total = folds.count * targets.count
        let windows = folds
        let inSample = ParallelRuns.map(count: total, workers: workers, progress: progress) { job -> PerformanceMetrics in
            let fold = windows[job / targets.count]
            let (bars, funding, marks) = slice(fold.trainStart, fold.testStart)
            return PerformanceMetrics.compute(
                BacktestCommand.run(
                    targets[job % targets.count], series: bars, funding: funding, mark: marks, config: venue, capital: capital,
                    inputs: inputs,
                    quantity: quantity, collateral: collateral))
        }
        var rows: [SweepReport.Fold] = []
        var compounded = 1.0
        for (number, fold) in folds.enumerated() {
            let metrics = Array(inSample[(number * targets.count)..<((number + 1) * targets.count)])
            let best = objective.ranking(metrics)[0]
            let (bars, funding, marks) = slice(fold.trainStart, fold.testEnd)
            let result = BacktestCommand.run(
                targets[best], series: bars, funding: funding, mark: marks, config: venue, capital: capital, inputs: inputs,
                quantity: quantity, collateral: collateral)
            let window = ParameterWalkForward.window(result.equity, from: fold.testStart)
            if let window { compounded *= 1 + window.return }
            rows.append(
                SweepReport.Fold(
                    number: number + 1, trainStart: fold.trainStart, testStart: fold.testStart, testEnd: fold.testEnd, chosen: points[best],
                    inSample: objective.value(metrics[best]), outOfSample: window))
        }
        try outputs.write { _ in SweepReport.foldsCSV(rows) }
        let outOfSample = rows.compactMap(\.outOfSample)
        let worst = outOfSample.map(\.maxDrawdown).max()
        if json {
            emit(
                json: .object([
                    ("rank_by", .string(objective.rawValue)), ("train", .string(train.description)), ("test", .string(test.description)),
                    ("runs_per_fold", .int(targets.count)), ("folds", .array(rows.map(\.json))),
                    ("out_of_sample_return", outOfSample.isEmpty ? .null : .double(compounded - 1)),
                    ("worst_fold_drawdown", worst.map { .double($0) } ?? .null),
                ]))
            return
        }
        print(
            "walk-forward sweep: \(folds.count) folds, train \(train), test \(test); each fold's \(targets.count) runs on its training window choose the parameters by \(objective.rawValue)"
        )
        print(SweepReport.foldsTable(rows, objective: objective))
        print(
            "out of sample: \(outOfSample.isEmpty ? "n/a" : percent(compounded - 1)) compounded over \(outOfSample.count) test windows"
                + (worst.map { ", worst drawdown inside one \(percent($0))" } ?? "")
                + "; only windows after each choice count, so the grid cannot fit them")
    }
}

/// Tables, CSV and JSON of a sweep.
enum SweepReport {
    typealias Window = ParameterWalkForward.Window

    struct Fold {
        var number: Int
        var trainStart, testStart, testEnd: Timestamp
        var chosen: [(key: String, value: String)]
        var inSample: Double?
        var outOfSample: Window?

        var json: JSONValue {
            .object([
                ("fold", .int(number)), ("train_start", .string(trainStart.iso8601)), ("test_start", .string(testStart.iso8601)),
                ("test_end", .string(testEnd.iso8601)),
                ("chosen", .object(chosen.map { ($0.key, .string($0.value)) })),
                ("in_sample", inSample.map { .double($0) } ?? .null),
                ("out_of_sample_return", outOfSample.map { .double($0.return) } ?? .null),
                ("out_of_sample_max_drawdown", outOfSample.map { .double($0.maxDrawdown) } ?? .null),
            ])
        }
    }

    static func describe(_ point: [(key: String, value: String)]) -> String {
        point.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    static func optional(_ value: Double?, _ render: (Double) -> String) -> String { value.map(render) ?? "n/a" }

    static func table(keys: [String], points: [[(key: String, value: String)]], metrics: [PerformanceMetrics], order: [Int], wide: Bool)
        -> String
    {
        let header =
            ["#"] + keys.map { wide ? $0 : String($0.split(separator: ".").last ?? Substring($0)) }
            + ["return", "sharpe", "sortino", "calmar", "max dd", "trades", "liq"]
        let rows = order.enumerated().map { rank, index -> [String] in
            let m = metrics[index]
            let values = Dictionary(points[index].map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            return [String(rank + 1)] + keys.map { values[$0] ?? "" } + [
                optional(m.totalReturn) { percent($0) }, optional(m.sharpe) { formatFixed($0, 2) },
                optional(m.sortino) { formatFixed($0, 2) }, optional(RankObjective.calmar(m)) { formatFixed($0, 2) },
                optional(m.maxDrawdown) { percent($0) }, String(m.trades), String(m.liquidations),
            ]
        }
        return TextTable.grid(header, rows)
    }

    static func csv(keys: [String], points: [[(key: String, value: String)]], metrics: [PerformanceMetrics], order: [Int]) -> String {
        let header =
            ["rank"] + keys + [
                "final_equity", "return", "annualized_return", "sharpe", "sortino", "calmar", "max_drawdown", "trades",
                "liquidations",
                "fees", "funding_paid",
            ]
        var text = header.joined(separator: ",") + "\n"
        func number(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
        for (rank, index) in order.enumerated() {
            let m = metrics[index]
            let values = Dictionary(points[index].map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            let fields =
                [String(rank + 1)] + keys.map { values[$0] ?? "" } + [
                    m.finalEquity.description, number(m.totalReturn), number(m.annualizedReturn), number(m.sharpe), number(m.sortino),
                    number(RankObjective.calmar(m)), number(m.maxDrawdown), String(m.trades), String(m.liquidations),
                    m.feesPaid.description,
                    m.fundingPaid.description,
                ]
            text += fields.joined(separator: ",") + "\n"
        }
        return text
    }

    static func json(rank: Int, point: [(key: String, value: String)], metrics m: PerformanceMetrics) -> JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map { .double($0) } ?? .null }
        return .object([
            ("rank", .int(rank)), ("parameters", .object(point.map { ($0.key, .string($0.value)) })),
            ("final_equity", .exact(m.finalEquity)), ("return", number(m.totalReturn)),
            ("annualized_return", number(m.annualizedReturn)), ("sharpe", number(m.sharpe)), ("sortino", number(m.sortino)),
            ("calmar", number(RankObjective.calmar(m))), ("max_drawdown", number(m.maxDrawdown)), ("trades", .int(m.trades)),
            ("liquidations", .int(m.liquidations)), ("fees", .exact(m.feesPaid)), ("funding_paid", .exact(m.fundingPaid)),
        ])
    }

    static func foldsTable(_ rows: [Fold], objective: RankObjective) -> String {
        TextTable.grid(
            ["fold", "test from", "test to", "chosen", "in-sample \(objective.rawValue)", "oos return", "oos max dd"],
            rows.map { row in
                [
                    String(row.number), row.testStart.isoDate, row.testEnd.isoDate, describe(row.chosen),
                    optional(row.inSample) { formatFixed($0, 2) }, row.outOfSample.map { percent($0.return) } ?? "n/a",
                    row.outOfSample.map { percent($0.maxDrawdown) } ?? "n/a",
                ]
            })
    }

    static func foldsCSV(_ rows: [Fold]) -> String {
        var text = "fold,train_start,test_start,test_end,chosen,in_sample,out_of_sample_return,out_of_sample_max_drawdown\n"
        for row in rows {
            let fields = [
                String(row.number), row.trainStart.iso8601, row.testStart.iso8601, row.testEnd.iso8601,
                "\"" + describe(row.chosen) + "\"", row.inSample.map { "\($0)" } ?? "", row.outOfSample.map { "\($0.return)" } ?? "",
                row.outOfSample.map { "\($0.maxDrawdown)" } ?? "",
            ]
            text += fields.joined(separator: ",") + "\n"
        }
        return text
    }
}
