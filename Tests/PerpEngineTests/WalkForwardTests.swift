import PerpEngine
import PerpMarketData
import PerpModel
import PerpSimulation
import TestSupport
import Testing

/// A model that always says the same probability (to test the kernel's hook).
struct ConstantModel: DirectionModel {
    var p: Double?
    func probabilityUp(scores: SignalScores, at decisionTime: Timestamp) -> Double? { p }
    func name(at decisionTime: Timestamp) -> String { "constant" }
}

/// Short windows for hourly synthetic data.
func shortConfig() -> BotConfig {
    var config = BotConfig()
    config.model.trainWindow = .days(40)
    config.model.testWindow = .days(15)
    config.model.horizon = .hours(6)
    return config
}

@Suite struct WalkForwardPlanTests {
    @Test func foldsStepByTheTestWindowAndPurgeTheHorizon() throws {
        let series = syntheticSeries(bars: 200 * 24, seed: 1)
        var model = BotConfig.Model()
        model.horizon = .hours(6)
        let plan = try WalkForwardPlan(openTimes: series.openTimes, barInterval: .hours(1), model: model)
        #expect(plan.horizonBars == 6)
        // 200 days: tests start at days 90, 120, 150, 180; the last covers 20 of 30 days (kept).
        #expect(plan.folds.map(\.testStart) == [90 * 24, 120 * 24, 150 * 24, 180 * 24])
        #expect(plan.folds.map(\.partial) == [false, false, false, true])
        #expect(plan.folds.last?.testEnd == series.count)
        for fold in plan.folds {
            #expect(fold.trainStart == fold.testStart - 90 * 24)
            // Purge: the last training row's label ends at the close of the bar before the test.
            #expect(fold.trainEnd - 1 + plan.horizonBars == fold.testStart - 1)
            #expect(series.openTimes[fold.testStart] == fold.testFrom.milliseconds)
        }
        for (a, b) in zip(plan.folds, plan.folds.dropFirst()) { #expect(a.testEnd == b.testStart) }
    }

    @Test func aShortFinalWindowIsDroppedAndTooLittleDataSaysHowMuchIsNeeded() throws {
        var model = BotConfig.Model()
        let short = syntheticSeries(bars: 130 * 24, seed: 1)
        let plan = try WalkForwardPlan(openTimes: short.openTimes, barInterval: .hours(1), model: model)
        #expect(plan.folds.count == 1, "the 10 days after the first fold are under half a test window")
        model.trainWindow = .days(200)
        do {
            _ = try WalkForwardPlan(openTimes: short.openTimes, barInterval: .hours(1), model: model)
            Issue.record("expected an error")
        } catch {
            #expect(error == .tooLittleData(have: .days(130), need: .days(230), train: .days(200), test: .days(30)))
            #expect(error.description.contains("at least 230d"))
        }
    }
}

@Suite struct WalkForwardTests {
    /// The features the walk-forward trains on are the scores the kernel journals.
    @Test func trainingFeaturesAreTheKernelsScores() throws {
        let series = syntheticSeries(bars: 60 * 24, seed: 5)
        let kernel = TradingKernel(config: BotConfig(), barInterval: .hours(1))
        var tester = Backtester(strategy: BotStrategy(kernel: kernel), initialCapital: Notional(10_000))
        _ = tester.run(series)
        let scores = Features.signalScores(series, funding: [], inputs: SignalInputs(), config: BotConfig().signals, barInterval: .hours(1))
        let rows = tester.strategy.journal.filter { !$0.signals.isEmpty }
        #expect(!rows.isEmpty)
        for row in rows {
            let bar = series.lowerBound(row.time.milliseconds - 3_600_000)
            #expect(row.signals.map(\.1) == scores[bar].named.map(\.1), "at \(row.time)")
        }
    }

    /// Poisoning every bar after a cutoff changes nothing a fold before it learned or did.
    @Test func noLookAhead() throws {
        let config = shortConfig()
        let series = syntheticSeries(bars: 100 * 24, seed: 9)
        let plan = try WalkForwardPlan(openTimes: series.openTimes, barInterval: .hours(1), model: config.model)
        #expect(plan.folds.count == 4)
        // Cut at the second fold's first test bar: folds 1 and 2 trained on bars before it.
        let cutoff = plan.folds[1].testStart
        // From the cutoff on, a different random walk (plausible prices, so the account stays sane).
        let other = syntheticSeries(bars: series.count, seed: 1234)
        var poisoned = CandleSeries()
        for index in 0..<series.count { poisoned.append(index < cutoff ? series[index] : other[index]) }
        #expect(poisoned.closes[cutoff...] != series.closes[cutoff...])
        for set in FeatureSet.allCases {
            func models(_ series: CandleSeries) -> [FoldEvaluation] {
                let matrix =
                    set == .signals
                    ? Features.signals(
                        Features.signalScores(series, funding: [], inputs: SignalInputs(), config: config.signals, barInterval: .hours(1)))
                    : Features.price(series)
                return WalkForward.train(
                    matrix, labels: Features.labels(series, horizon: plan.horizonBars), plan: plan, options: LogisticRegression.Options())
            }
            let clean = models(series)
            let dirty = models(poisoned)
            #expect(clean[0].regression != nil && clean[1].regression != nil)
            #expect(clean[0].regression == dirty[0].regression, "\(set) fold 1 changed")
            #expect(clean[1].regression == dirty[1].regression, "\(set) fold 2 changed")
            #expect(clean[3].regression != dirty[3].regression, "the poison reaches later folds (the test is not vacuous)")
        }
        // And the out-of-sample runs are identical up to the cutoff.
        let before = Timestamp(milliseconds: series.openTimes[cutoff])
        let a = try WalkForward.run(
            series: series, config: config, venue: VenueConfig(), capital: Notional(10_000), lotSize: Quantity("0.01")!)
        let b = try WalkForward.run(
            series: poisoned, config: config, venue: VenueConfig(), capital: Notional(10_000), lotSize: Quantity("0.01")!)
        for (x, y) in zip(a.variants, b.variants) {
            #expect(x.journal.filter { $0.time < before } == y.journal.filter { $0.time < before }, "\(x.name)")
            let bars = cutoff - plan.folds[0].testStart
            #expect(Array(x.result.equity.equity.prefix(bars)) == Array(y.result.equity.equity.prefix(bars)), "\(x.name)")
        }
    }

    @Test func threeVariantsOverTheSameBars() throws {
        let config = shortConfig()
        let series = syntheticSeries(bars: 100 * 24, seed: 21)
        let result = try WalkForward.run(
            series: series, config: config, venue: VenueConfig(), capital: Notional(10_000), lotSize: Quantity("0.01")!)
        #expect(result.variants.map(\.name) == ["rules", "signal model", "price model"])
        let bars = result.plan.folds.last!.testEnd - result.plan.folds[0].testStart
        for variant in result.variants {
            #expect(variant.result.bars == bars)
            #expect(variant.foldReturns.count == result.plan.folds.count)
            #expect(variant.foldReturns.allSatisfy { $0 != nil })
        }
        for variant in result.variants.dropFirst() {
            #expect(variant.evaluations.count == result.plan.folds.count)
            for evaluation in variant.evaluations {
                #expect(evaluation.error == nil, "\(variant.name) fold \(evaluation.fold): \(String(describing: evaluation.error))")
                #expect(evaluation.trainingRows > 500)
                #expect(evaluation.logLoss.map { $0.isFinite && $0 > 0 } == true)
                #expect(evaluation.accuracy.map { $0 >= 0 && $0 <= 1 } == true)
            }
            // Model entries say so in the journal.
            for entry in variant.journal where entry.event == .entry {
                #expect(entry.reason.hasPrefix(variant.name))
                #expect(entry.signals.last?.0 == "model_p_up")
            }
        }
        // Deterministic: a second run gives the same journals.
        let again = try WalkForward.run(
            series: series, config: config, venue: VenueConfig(), capital: Notional(10_000), lotSize: Quantity("0.01")!)
        #expect(
            zip(result.variants, again.variants).allSatisfy { $0.journal == $1.journal && $0.result.finalEquity == $1.result.finalEquity })
    }
}

@Suite struct KernelModelHookTests {
    func run(_ model: (any DirectionModel)?, series: CandleSeries) -> [JournalEntry] {
        var kernel = TradingKernel(config: BotConfig(), barInterval: .hours(1))
        kernel.model = model
        var tester = Backtester(strategy: BotStrategy(kernel: kernel), initialCapital: Notional(10_000))
        _ = tester.run(series)
        return tester.strategy.journal
    }

    @Test func theModelScoresDirectionButNeverSizes() {
        let series = syntheticSeries(bars: 20 * 24, seed: 4)
        let sure = run(ConstantModel(p: 0.99), series: series)
        let mild = run(ConstantModel(p: 0.7), series: series)
        let entries = sure.filter { $0.event == .entry }
        #expect(entries.count > 3)
        #expect(entries.allSatisfy { $0.side == .long })
        // Conviction changes nothing but the words: same times, sizes, leverage, exits.
        let mildEntries = mild.filter { $0.event == .entry }
        #expect(entries.map(\.time) == mildEntries.map(\.time))
        #expect(entries.map(\.quantity) == mildEntries.map(\.quantity))
        #expect(entries.map(\.leverage) == mildEntries.map(\.leverage))
        // The risk rules still hold: no entries in quiet hours, leverage within the cap.
        for entry in entries {
            let hour = entry.time.milliseconds % 86_400_000 / 3_600_000
            #expect(!(2..<6).contains(hour))
            #expect(entry.leverage! <= Rate(3))
        }
        #expect(run(ConstantModel(p: 0.01), series: series).filter { $0.event == .entry }.allSatisfy { $0.side == .short })
    }

    @Test func noConvictionOrNoScoreMeansNoEntry() {
        let series = syntheticSeries(bars: 10 * 24, seed: 4)
        #expect(!run(ConstantModel(p: 0.52), series: series).contains { $0.event == .entry }, "below min_conviction 0.1")
        #expect(!run(ConstantModel(p: nil), series: series).contains { $0.event == .entry })
        #expect(!run(ConstantModel(p: .nan), series: series).contains { $0.event == .entry })
    }
}

/// Walk-forward on a year of real 15-minute NMRUSDT perp bars.
@Suite struct WalkForwardRealDataTests {
    static let file = SharedData.file("data/binance_usdm_NMRUSDT_15m_2024-10_2025-10.csv")

    @Test(.enabled(if: file != nil, "../shared/data is absent: the real-data walk-forward is skipped"))
    func aYearOfFifteenMinuteBars() throws {
        let series = try MarketDataFiles.loadCandles(Self.file!.path)
        var venue = VenueConfig()
        venue.maintenanceFraction = Rate("0.05")!
        venue.lotSize = Quantity("0.1")!
        let result = try WalkForward.run(
            series: series, config: BotConfig(), venue: venue, capital: Notional(10_000), lotSize: Quantity("0.1")!)
        #expect(result.plan.folds.count >= 8)
        #expect(result.plan.horizonBars == 24)
        for variant in result.variants.dropFirst() {
            for evaluation in variant.evaluations {
                #expect(evaluation.error == nil)
                // Out of sample, 15-minute NMR direction is close to a coin flip.
                #expect(evaluation.accuracy.map { $0 > 0.3 && $0 < 0.7 } == true)
            }
        }
        for variant in result.variants {
            print(
                "walk-forward \(variant.name): final equity \(variant.result.finalEquity), \(variant.result.trades.count) trades, folds \(variant.foldReturns.map { $0.map { (($0 * 1000).rounded() / 10) } ?? .nan })"
            )
        }
    }
}
