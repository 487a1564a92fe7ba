import PerpModel
import PerpSimulation

/// Why a walk-forward run cannot start.
public enum WalkForwardError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The data is shorter than one training window plus one test window.
    case tooLittleData(have: TimeSpan, need: TimeSpan, train: TimeSpan, test: TimeSpan)
    /// Fewer than two bars: no bar interval.
    case tooFewBars(Int)
    /// The configuration's problems (``BotConfig/problems()``).
    case invalidConfig([String])
    /// The test window steps the folds so finely that there would be more than
    /// ``WalkForwardPlan/largestFoldCount`` of them (each trains a model).
    case tooManyFolds(folds: Int64, test: TimeSpan)
    /// The test window is shorter than one bar, so most folds would hold no bar.
    case testShorterThanBar(test: TimeSpan, bar: TimeSpan)

    public var description: String {
        switch self {
        case .tooLittleData(let have, let need, let train, let test):
            return
                "walk-forward needs at least \(need) of bars (train \(train) + test \(test)); the data covers \(have). Use more data or shorter windows (--train, --test)"
        case .tooFewBars(let count): return "walk-forward needs at least two bars (got \(count))"
        case .invalidConfig(let problems): return "invalid configuration: " + problems.joined(separator: "; ")
        case .tooManyFolds(let folds, let test):
            return
                "a test window of \(test) makes \(folds) folds of this data; at most \(WalkForwardPlan.largestFoldCount) (each trains a model): make --test (model.test_window) longer"
        case .testShorterThanBar(let test, let bar):
            return "the test window (\(test)) must be at least one bar (\(bar)): make --test (model.test_window) longer"
        }
    }
}

/// One fold: train on rows `trainStart..<trainEnd`, trade bars `testStart..<testEnd` out of
/// sample. Bar indices into the series.
public struct WalkForwardFold: Sendable, Equatable {
    public var index: Int
    /// First training row (bar index).
    public var trainStart: Int
    /// One past the last training row. The purge: every training row's label horizon ends at or
    /// before the close of bar `testStart − 1`, i.e. `trainEnd − 1 + horizonBars < testStart`.
    public var trainEnd: Int
    public var testStart: Int
    public var testEnd: Int
    /// The test window `[testFrom, testTo)` in open times.
    public var testFrom: Timestamp
    public var testTo: Timestamp
    /// The last window, shorter than the test window (kept when at least half of it).
    public var partial: Bool
}

/// Rolling folds over a series (docs/decisions/0006-learned-model.md): the first test window
/// starts one training window after the first bar; each later one starts where the previous
/// ended (folds step by the test window, so every bar is out of sample at most once); each fold
/// trains on the `trainWindow` before its test window, minus the last `horizonBars` rows whose
/// labels would reach into it (purge).
public struct WalkForwardPlan: Sendable, Equatable {
    /// The most folds one walk-forward may make (each trains a logistic regression): 10,000,
    /// e.g. daily folds over 27 years.
    public static let largestFoldCount: Int64 = 10_000

    public var folds: [WalkForwardFold]
    /// The label horizon in bars: `⌈horizon / interval⌉`.
    public var horizonBars: Int
    public var barInterval: TimeSpan

    public init(openTimes: [Int64], barInterval: TimeSpan, model: BotConfig.Model) throws(WalkForwardError) {
        let n = openTimes.count
        guard n >= 2, barInterval.milliseconds > 0 else { throw .tooFewBars(n) }
        let interval = barInterval.milliseconds
        let train = model.trainWindow.milliseconds
        let test = model.testWindow.milliseconds
        guard train > 0, test > 0, model.horizon.milliseconds > 0 else {
            throw .invalidConfig(["model windows and horizon must be positive"])
        }
        guard test >= interval else { throw .testShorterThanBar(test: model.testWindow, bar: barInterval) }
        let horizonBars = Int((model.horizon.milliseconds + interval - 1) / interval)
        let first = openTimes[0]
        let lastEnd = openTimes[n - 1] + interval
        guard lastEnd - first >= train + test else {
            throw .tooLittleData(
                have: TimeSpan(milliseconds: lastEnd - first), need: TimeSpan(milliseconds: train + test), train: model.trainWindow,
                test: model.testWindow)
        }
        func lowerBound(_ time: Int64) -> Int {
            var low = 0
            var high = n
            while low < high {
                let mid = (low + high) / 2
                if openTimes[mid] < time { low = mid + 1 } else { high = mid }
            }
            return low
        }
        // Bounded before the loop: `(lastEnd − first − train) ÷ test` steps at most.
        let steps = (lastEnd - first - train) / test + 1
        guard steps <= Self.largestFoldCount else { throw .tooManyFolds(folds: steps, test: model.testWindow) }
        var folds: [WalkForwardFold] = []
        var from = first + train
        while from < lastEnd {
            let to = from + test
            let partial = to > lastEnd
            if partial && (lastEnd - from) * 2 < test { break }
            let testStart = lowerBound(from)
            let testEnd = lowerBound(to)
            if testEnd > testStart {
                let trainStart = lowerBound(from - train)
                let trainEnd = max(trainStart, testStart - horizonBars)
                folds.append(
                    WalkForwardFold(
                        index: folds.count, trainStart: trainStart, trainEnd: trainEnd, testStart: testStart, testEnd: testEnd,
                        testFrom: Timestamp(milliseconds: from), testTo: Timestamp(milliseconds: to), partial: partial))
            }
            from = to
        }
        self.folds = folds
        self.horizonBars = horizonBars
        self.barInterval = barInterval
    }
}

/// How one fold's model did on its own test rows (out of sample).
public struct FoldEvaluation: Sendable, Equatable {
    public var fold: Int
    /// Labelled training rows the model was fitted on.
    public var trainingRows: Int
    /// Labelled test rows it was scored on.
    public var testRows: Int
    /// Share of test rows where `p > ½` matched the label.
    public var accuracy: Double?
    /// Mean log-loss on the test rows (natural log; 0.693 is a coin flip).
    public var logLoss: Double?
    /// Mean log-loss of always predicting the training rows' up-rate (the no-skill baseline).
    public var baseLogLoss: Double?
    public var regression: LogisticRegression?
    /// Why no model was trained for this fold (the model variant trades nothing in it).
    public var error: ModelError?
}

/// One variant's out-of-sample run: the rules alone, or a model scoring the entries.
public struct WalkForwardVariant: Sendable {
    /// `rules`, `signal model` or `price model`.
    public var name: String
    /// `nil` for the rules alone.
    public var features: FeatureSet?
    /// One continuous account over every test window (positions carry across fold boundaries).
    public var result: BacktestResult
    public var journal: [JournalEntry]
    /// Per fold (empty for the rules).
    public var evaluations: [FoldEvaluation]
    /// Per fold: equity at its last bar over equity before its first bar, minus 1.
    public var foldReturns: [Double?]
}

public struct WalkForwardResult: Sendable {
    public var plan: WalkForwardPlan
    /// The rules alone, the signal model, the price-only model, over the same bars.
    public var variants: [WalkForwardVariant]
}

/// Walk-forward evaluation of the learned model (spec §4: "trained and judged walk-forward
/// only"; docs/decisions/0006-learned-model.md).
public enum WalkForward {
    /// Trains a model per fold on the signal features and on the price features, and backtests
    /// three variants over the same out-of-sample bars: the rules alone, the signal model and
    /// the price model. Signals and risk state are warmed up on every bar before the first test
    /// window without trading; the account starts at `capital` at the first test bar.
    public static func run(
        series: CandleSeries, funding: [FundingRate] = [], mark: CandleSeries? = nil, inputs: SignalInputs = SignalInputs(),
        config: BotConfig, venue: VenueConfig, capital: Notional, lotSize: Quantity
    ) throws(WalkForwardError) -> WalkForwardResult {
        let problems = config.problems()
        guard problems.isEmpty else { throw .invalidConfig(problems) }
        guard let interval = series.barInterval else { throw .tooFewBars(series.count) }
        let plan = try WalkForwardPlan(openTimes: series.openTimes, barInterval: interval, model: config.model)
        let rates = funding.sorted { $0.time < $1.time }
        let labels = Features.labels(series, horizon: plan.horizonBars)
        var options = LogisticRegression.Options()
        options.l2 = config.model.l2

        var variants: [WalkForwardVariant] = []
        let rules = backtest(
            series: series, rates: rates, mark: mark, inputs: inputs, config: config, venue: venue, capital: capital,
            lotSize: lotSize, plan: plan, model: nil)
        variants.append(
            WalkForwardVariant(
                name: "rules", features: nil, result: rules.result, journal: rules.journal, evaluations: [],
                foldReturns: foldReturns(rules.result, plan: plan)))
        let decisionTimes = series.openTimes.map { $0 + interval.milliseconds }
        for set in FeatureSet.allCases {
            let matrix =
                set == .signals
                ? Features.signals(
                    Features.signalScores(series, funding: rates, inputs: inputs, config: config.signals, barInterval: interval))
                : Features.price(series)
            let evaluations = train(matrix, labels: labels, plan: plan, options: options)
            let last = plan.folds[plan.folds.count - 1]
            let model = WalkForwardModel(
                features: set, starts: plan.folds.map { Timestamp(milliseconds: decisionTimes[$0.testStart]) },
                regressions: evaluations.map(\.regression),
                end: Timestamp(milliseconds: decisionTimes[last.testEnd - 1] + 1),
                price: set == .price ? (decisionTimes, matrix) : nil)
            let run = backtest(
                series: series, rates: rates, mark: mark, inputs: inputs, config: config, venue: venue, capital: capital, lotSize: lotSize,
                plan: plan, model: model)
            variants.append(
                WalkForwardVariant(
                    name: set.variantName, features: set, result: run.result, journal: run.journal, evaluations: evaluations,
                    foldReturns: foldReturns(run.result, plan: plan)))
        }
        return WalkForwardResult(plan: plan, variants: variants)
    }

    /// Fits one model per fold on its training rows only (labelled rows with at least one
    /// feature present) and scores it on its test rows.
    public static func train(_ features: FeatureMatrix, labels: [Bool?], plan: WalkForwardPlan, options: LogisticRegression.Options)
        -> [FoldEvaluation]
    {
        precondition(labels.count == features.count, "one label per row")
        func usable(_ row: Int) -> Bool {
            guard labels[row] != nil else { return false }
            for column in 0..<features.width where features[row, column] != nil { return true }
            return false
        }
        return plan.folds.map { fold in
            var rows = FeatureMatrix(names: features.names)
            var ys: [Bool] = []
            for row in fold.trainStart..<fold.trainEnd where usable(row) {
                rows.append(rowOf: features, row)
                ys.append(labels[row]!)
            }
            var evaluation = FoldEvaluation(fold: fold.index, trainingRows: ys.count, testRows: 0)
            do throws(ModelError) {
                let regression = try LogisticRegression.train(rows, labels: ys, options: options)
                evaluation.regression = regression
                var correct = 0
                var loss = 0.0
                var baseLoss = 0.0
                var scored = 0
                for row in fold.testStart..<fold.testEnd {
                    guard let up = labels[row] else { continue }
                    let eta = regression.linear(features, row: row)
                    if (eta > 0) == up { correct += 1 }
                    loss += Logistic.logLoss(eta: eta, up: up)
                    baseLoss += Logistic.logLoss(probability: regression.upRate, up: up)
                    scored += 1
                }
                evaluation.testRows = scored
                if scored > 0 {
                    evaluation.accuracy = Double(correct) / Double(scored)
                    evaluation.logLoss = loss / Double(scored)
                    evaluation.baseLogLoss = baseLoss / Double(scored)
                }
            } catch {
                evaluation.error = error
            }
            return evaluation
        }
    }

    /// The bot on the out-of-sample bars (every fold's test window), after a warm-up on the
    /// bars before them that feeds the kernel without trading.
    static func backtest(
        series: CandleSeries, rates: [FundingRate], mark: CandleSeries?, inputs: SignalInputs, config: BotConfig, venue: VenueConfig,
        capital: Notional, lotSize: Quantity, plan: WalkForwardPlan, model: WalkForwardModel?
    ) -> (result: BacktestResult, journal: [JournalEntry]) {
        let interval = plan.barInterval
        var kernel = TradingKernel(config: config, inputs: inputs, barInterval: interval, lotSize: lotSize)
        let start = plan.folds[0].testStart
        let end = plan.folds[plan.folds.count - 1].testEnd
        var next = 0
        for index in 0..<start {
            let decision = series.openTimes[index] + interval.milliseconds
            while next < rates.count, rates[next].time.milliseconds <= decision {
                _ = kernel.handle(.fundingRate(rates[next]))
                next += 1
            }
            _ = kernel.handle(.bar(series[index], equity: capital, position: .zero))
        }
        kernel.model = model
        var venue = venue
        venue.recordEquity = true
        let segment = series.slice(
            from: Timestamp(milliseconds: series.openTimes[start]),
            to: end < series.count ? Timestamp(milliseconds: series.openTimes[end]) : nil)
        var tester = Backtester(
            strategy: BotStrategy(kernel: kernel, fundingRates: Array(rates[next...])), config: venue, initialCapital: capital)
        let result = tester.run(segment, funding: rates, mark: mark)
        return (result, tester.strategy.journal)
    }

    /// Each fold's return on the continuous account.
    static func foldReturns(_ result: BacktestResult, plan: WalkForwardPlan) -> [Double?] {
        let offset = plan.folds[0].testStart
        var before = Double(result.initialCapital.raw)
        return plan.folds.map { fold in
            let last = fold.testEnd - 1 - offset
            guard last >= 0, last < result.equity.count else { return nil }
            let after = Double(result.equity.equity[last])
            defer { before = after }
            return before > 0 ? after / before - 1 : nil
        }
    }
}
