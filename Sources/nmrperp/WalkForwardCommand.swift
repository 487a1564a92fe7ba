import Foundation
import PerpConfig
import PerpEngine
import PerpModel
import PerpReports
import PerpSimulation
import PerpStore

/// `nmrperp backtest --strategy nmr-bot --walk-forward`: the learned model judged out of sample
/// against the rules alone and a generic price-only model (spec §4; docs/decisions/0006).
extension BacktestCommand {
    /// The bot configuration with the command line's `--train`, `--test`, `--horizon`, `--l2` and
    /// `--min-conviction` applied; every problem is listed at once.
    func walkForwardConfig() throws -> BotConfig {
        var botConfig = try configuration().bot
        var problems: [String] = []
        func span(_ text: String?, _ option: String, _ path: WritableKeyPath<BotConfig, TimeSpan>) {
            guard let text else { return }
            switch TimeSpan.parse(text) {
            case .success(let value): botConfig[keyPath: path] = value
            case .failure(let error): problems.append(Parse.spanProblem(error, option, text))
            }
        }
        func number(_ text: String?, _ option: String, _ path: WritableKeyPath<BotConfig, Double>) {
            guard let text else { return }
            if let value = Double(text), value.isFinite {
                botConfig[keyPath: path] = value
            } else {
                problems.append("\(option) must be a number (got \"\(text)\")")
            }
        }
        span(train, "--train", \.model.trainWindow)
        span(test, "--test", \.model.testWindow)
        span(horizon, "--horizon", \.model.horizon)
        number(l2, "--l2", \.model.l2)
        number(minConviction, "--min-conviction", \.model.minConviction)
        problems += botConfig.problems()
        if trades != nil { problems.append("--trades lists one run's trades; with --walk-forward use --journal (every variant) or --json") }
        guard problems.isEmpty else {
            throw CLIError(
                problems.count == 1 ? problems[0] : (["\(problems.count) problems:"] + problems.map { "  - " + $0 }).joined(separator: "\n")
            )
        }
        return botConfig
    }

    func runWalkForward(series: CandleSeries, rates: [FundingRate], mark: CandleSeries?, venue: VenueConfig, capital: Notional) throws {
        let botConfig = try walkForwardConfig()
        let outputs = try OutputFiles([("--journal", journal), ("--report", report)], force: force)
        let lotSize = venue.lotSize.isPositive && venue.lotSize > Quantity(raw: 1) ? venue.lotSize : Quantity("0.01")!
        let inputs = try BacktestCommand.signalInputs(signals)
        let outcome: WalkForwardResult
        do {
            outcome = try WalkForward.run(
                series: series, funding: rates, mark: mark, inputs: inputs, config: botConfig, venue: venue, capital: capital,
                lotSize: lotSize)
        } catch {
            throw CLIError("\(data): \(error.description)")
        }
        for variant in outcome.variants {
            if let halt = variant.result.halt { throw CLIError("\(data): the \(variant.name) backtest \(halt)") }
        }
        let plan = outcome.plan
        let metrics = outcome.variants.map { PerformanceMetrics.compute($0.result) }
        let model = botConfig.model
        let first = plan.folds[0]
        let last = plan.folds[plan.folds.count - 1]
        let setup =
            "\(plan.folds.count) fold\(plan.folds.count == 1 ? "" : "s"): train \(model.trainWindow) (rolling), test \(model.testWindow), label horizon \(model.horizon) = \(plan.horizonBars) bars (purged), l2 \(formatDouble(model.l2)), min conviction \(formatDouble(model.minConviction))"
        let span = "out of sample \(first.testFrom.iso8601) → \(Timestamp(milliseconds: series.openTimes[last.testEnd - 1]).iso8601)"

        try outputs.write { flag in
            if flag == "--journal" {
                var lines = ""
                for variant in outcome.variants {
                    for entry in variant.journal {
                        guard case .object(let members) = entry.json else { continue }
                        lines += JSONValue.object([("variant", .string(variant.name))] + members).serialized(pretty: false) + "\n"
                    }
                }
                return lines
            }
            let notes =
                [
                    setup, span,
                    "rules: the blended signals of the config; models: logistic regression on the signal scores (signal model) or on lagged returns and volatility (price model). Every variant trades the same bars under the same risk rules and sizing; the model only picks direction and conviction.",
                    (try? configuration().trading.summary) ?? "capital \(capital)",
                    "data \(data)" + (funding.map { ", funding \($0)" } ?? ", no funding file"),
                ] + botConfig.beyondSpec().map { "beyond the spec's risk limits: \($0)" }
            let variants = zip(outcome.variants, metrics).map { ComparisonReport.Variant(name: $0.name, result: $0.result, metrics: $1) }
            return ComparisonReport.render(
                title: "NMRPerp walk-forward: rules vs learned model vs price-only model", variants: variants, notes: notes,
                tables: [foldTable(outcome)],
                boundaries: plan.folds.map { ComparisonReport.Boundary(label: "fold \($0.index + 1)", time: $0.testFrom.milliseconds) })
        }
        if json {
            emit(json: walkForwardJSON(outcome, metrics: metrics, config: botConfig, openTimes: series.openTimes))
            return
        }
        print("walk-forward: \(setup)\n\(span)\n")
        func optional(_ value: Double?, _ render: (Double) -> String) -> String { value.map(render) ?? "n/a" }
        print(
            TextTable.grid(
                ["variant", "return", "sharpe", "sortino", "max dd", "trades", "win rate", "fees", "funding"],
                zip(outcome.variants, metrics).map { variant, m in
                    [
                        variant.name, optional(m.totalReturn) { percent($0) }, optional(m.sharpe) { formatFixed($0, 2) },
                        optional(m.sortino) { formatFixed($0, 2) }, optional(m.maxDrawdown) { percent($0) }, String(m.trades),
                        optional(m.winRate) { percent($0, places: 1) }, m.feesPaid.money, m.fundingPaid.money,
                    ]
                }))
        print("")
        let table = foldTable(outcome, compact: !wide)
        print(TextTable.grid(table.columns, table.rows))
        print("\n" + table.explanation)
        if let journal { print("journal: every variant's rows, tagged \"variant\" → \(journal)") }
        if let report { print("report: \(report)") }
    }

    /// One row per fold: its test window, each variant's return, each model's out-of-sample
    /// accuracy and log-loss against the base rate's.
    /// The folds, one row each. `compact` (the terminal's default) fits 100 columns: no training
    /// row count (in `--json`), variants by their first word, each model's accuracy and log-loss, and the base rate's log-loss once
    /// (it is the same for every model: the training up-rate scored on the same test bars);
    /// `--wide` and the HTML report name every column in full.
    func foldTable(_ outcome: WalkForwardResult, compact: Bool = false) -> ComparisonReport.Table {
        let models = outcome.variants.filter { $0.features != nil }
        let short = { (name: String) in String(name.split(separator: " ").first ?? Substring(name)) }
        var columns =
            ["fold", "test from"] + (compact ? [] : ["train rows"])
            + outcome.variants.map { compact ? short($0.name) : "\($0.name) return" }
        for model in models {
            columns += compact ? ["\(short(model.name)) acc", "\(short(model.name)) ll"] : ["\(model.name) acc", "log-loss (base)"]
        }
        if compact { columns.append("base ll") }
        let rows = outcome.plan.folds.map { fold -> [String] in
            var row = ["\(fold.index + 1)" + (fold.partial ? "*" : ""), String(fold.testFrom.iso8601.prefix(10))]
            if !compact { row.append(String(fold.trainEnd - fold.trainStart)) }
            row += outcome.variants.map { $0.foldReturns[fold.index].map { percent($0) } ?? "n/a" }
            var base: String?
            for model in models {
                let evaluation = model.evaluations[fold.index]
                if evaluation.error != nil {
                    row += ["no model", "—"]
                } else {
                    row.append(evaluation.accuracy.map { percent($0, places: 1) } ?? "n/a")
                    let baseText = evaluation.baseLogLoss.map { formatFixed($0, 4) } ?? "n/a"
                    base = base ?? baseText
                    row.append((evaluation.logLoss.map { formatFixed($0, 4) } ?? "n/a") + (compact ? "" : " (\(baseText))"))
                }
            }
            if compact { row.append(base ?? "—") }
            return row
        }
        var explanation =
            "acc: share of test bars whose direction over the horizon the model called (p > 0.5 = up).\nll: log-loss on the same bars; base ll: always predicting the training up-rate (lower is\nbetter; a model with skill beats the base)."
        if outcome.plan.folds.contains(where: \.partial) { explanation += " * a final test window shorter than --test." }
        for model in models {
            for evaluation in model.evaluations {
                if let error = evaluation.error {
                    explanation += " \(model.name) fold \(evaluation.fold + 1): \(error); it trades nothing there."
                }
            }
        }
        return ComparisonReport.Table(heading: "Folds", explanation: explanation, columns: columns, rows: rows)
    }

    func walkForwardJSON(_ outcome: WalkForwardResult, metrics: [PerformanceMetrics], config: BotConfig, openTimes: [Int64]) -> JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map { JSONValue.double($0) } ?? .null }
        let plan = outcome.plan
        let folds: [JSONValue] = plan.folds.map { fold in
            .object([
                ("fold", .int(fold.index + 1)), ("test_start", .string(fold.testFrom.iso8601)), ("test_end", .string(fold.testTo.iso8601)),
                ("partial", .bool(fold.partial)), ("test_bars", .int(fold.testEnd - fold.testStart)),
                ("train_start", .string(Timestamp(milliseconds: openTimes[fold.trainStart]).iso8601)),
                ("train_rows", .int(fold.trainEnd - fold.trainStart)),
            ])
        }
        let variants: [JSONValue] = zip(outcome.variants, metrics).map { variant, m in
            var members: [(String, JSONValue)] = [("name", .string(variant.name))]
            if case .object(let fields) = m.json() { members += fields }
            members.append(("fold_returns", .array(variant.foldReturns.map(number))))
            if variant.features != nil {
                members.append(
                    (
                        "folds",
                        .array(
                            variant.evaluations.map { evaluation in
                                var fields: [(String, JSONValue)] = [
                                    ("fold", .int(evaluation.fold + 1)), ("training_rows", .int(evaluation.trainingRows)),
                                    ("test_rows", .int(evaluation.testRows)), ("accuracy", number(evaluation.accuracy)),
                                    ("log_loss", number(evaluation.logLoss)), ("base_log_loss", number(evaluation.baseLogLoss)),
                                    ("error", evaluation.error.map { .string($0.description) } ?? .null),
                                ]
                                if let regression = evaluation.regression {
                                    fields.append(("intercept", .double(regression.intercept)))
                                    fields.append(
                                        ("weights", .object(zip(regression.featureNames, regression.weights).map { ($0, .double($1)) })))
                                    fields.append(("converged", .bool(regression.converged)))
                                    fields.append(("iterations", .int(regression.iterations)))
                                }
                                return .object(fields)
                            })
                    ))
            }
            return .object(members)
        }
        return .object([
            (
                "walk_forward",
                .object([
                    ("folds", .int(plan.folds.count)), ("train_window", .string(config.model.trainWindow.description)),
                    ("test_window", .string(config.model.testWindow.description)), ("horizon", .string(config.model.horizon.description)),
                    ("horizon_bars", .int(plan.horizonBars)), ("l2", .double(config.model.l2)),
                    ("min_conviction", .double(config.model.minConviction)),
                ])
            ),
            ("folds", .array(folds)),
            ("variants", .array(variants)),
        ])
    }
}
