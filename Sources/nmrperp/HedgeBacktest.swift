import ArgumentParser
import Foundation
import PerpHedge
import PerpMarketData
import PerpModel
import PerpReports
import PerpSimulation

/// Loads the price and funding history a hedge simulation runs on, and says what it lacks.
struct HedgeHistory {
    var series: PerpModel.CandleSeries
    var funding: [FundingRate]
    var notes: [String]

    static func load(data: String, funding path: String?, range: HistoryRange) throws -> HedgeHistory {
        let series = try Load.candles(data, range: range)
        guard series.count >= 2 else { throw CLIError("\(data): at least two bars are needed to simulate a hedge (got \(series.count))") }
        let funding = try path.map { try Load.funding($0, defaultInterval: .hours(8), range: range) }
        let coverage = FundingCoverage(series: series, rates: funding)
        var notes = coverage.notes(source: path)
        let gaps = series.gaps()
        if !gaps.isEmpty {
            let missing = gaps.reduce(Int64(0)) { $0 + $1.missingBars }
            notes.append(
                "the price history has \(gaps.count) gap(s), \(missing) bars missing; they are not bridged: a move inside a gap shows at the bar after it"
            )
        }
        return HedgeHistory(series: series, funding: funding ?? [], notes: notes)
    }
}

/// Option parsing shared by the two commands.
enum HedgeOptions {
    /// The help text of the hedge commands' `--liquidation-rule` (Lighter's by default: the hedge venue).
    static let liquidationRuleHelp =
        "What a liquidation leaves in the hedge account: lighter (default) and conservative (the venue keeps the margin left), binance-usdm (the same, as Binance USD-M does), keep-remainder (optimistic: you keep it). See docs/venues.md."

    static func fee(_ text: String) throws -> Rate {
        let fee: Rate = try Parse.feeRate(text, "--fee", example: "0.0005")
        guard fee < Rate.one else {
            throw CLIError("--fee is a fraction of the traded notional and must be below 1, e.g. --fee 0.0005 for 5 bps (got \(text))")
        }
        return fee
    }

    static func period(_ text: String, _ option: String) throws -> TimeSpan {
        // `0d` and `-3d` are lengths, just not positive ones: say so.
        let count = text.prefix { $0 == "-" || $0 == "+" || $0.isNumber }
        if let value = Int64(count), value <= 0, count.count < text.count {
            throw CLIError("\(option) must be longer than zero, e.g. \(option) 30d (got \(text))")
        }
        return try Parse.span(text, option)
    }

    /// A comma-separated list, each item parsed by `parse`.
    static func list<T>(_ text: String, _ option: String, example: String, _ parse: (String) throws -> T) throws -> [T] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw CLIError("\(option) needs at least one value, e.g. \(option) \(example)") }
        return try items.map(parse)
    }
}

struct HedgeBacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Replay the stake hedge on a price history: liquidations, rebalances, deposits, funding, hedged vs unhedged value.",
        discussion: """
            Hold --stake NMR, short the same amount at the first bar's close with collateral \
            T = k·q·P (spec §1), and every --rebalance period (at the close of the first bar at or \
            after each boundary) realise the short's PnL and move the collateral back to k·q·P at the \
            new price: a deposit when the price rose, a withdrawal when it fell. Each bar the short \
            is liquidated if the bar's high reaches its exact liquidation price for the collateral it \
            has (T + q·(E − P_liq) = M·q·P_liq); it then closes at that price (at the open when the bar \
            opens past it), what is left follows --liquidation-rule (Lighter's, by default: the venue \
            keeps it), and the short re-opens at the next rebalance. Funding settles at each bar's open from --funding \
            (positive rate: longs pay shorts, so the short receives).

            Hedged value = stake value + collateral equity − net deposits, so money you moved in is \
            not counted as a gain; unhedged value = stake value. A hedge that never liquidates stays \
            at its starting value plus funding; compare the two drawdowns.

            Examples:
              nmrperp hedge backtest --data binance_spot_NMRUSDT_5m_2022-08_2023-09.csv \\
                  --stake 100 --collateral-multiple 2.7332
              nmrperp hedge backtest --data nmr_5m.csv --funding lighter_funding.csv \\
                  --stake 250 --collateral-multiple 2 --rebalance 7d --report hedge.html
              nmrperp hedge backtest --data nmr_5m.csv --stake 100 \\
                  --collateral-multiple 1.5 --json
            """)

    @Option(help: "Price history (CSV, Binance or Lighter JSON), e.g. 5-minute bars.") var data: String
    @Option(help: "Funding history (CSV, Binance or Lighter JSON); without it funding is left out.") var funding: String?
    @Option(help: "NMR staked, and shorted (q).") var stake: String
    @Option(help: "Collateral multiple k: collateral = k·q·P (from `hedge plan`; the forum's is 2.7332).") var collateralMultiple: String
    @Option(help: "Rebalancing period H (30d, 7d, 12h).") var rebalance: String = "30d"
    @Option(help: "Maintenance margin fraction M of the venue (Lighter NMR: 0.2).") var marginFraction: String = "0.2"
    @Option(help: "Taker fee as a fraction of traded notional (0.0005 = 5 bps), on opening, re-opening and liquidation.") var fee: String =
        "0"
    @Option(help: "Also write an HTML report with charts of the hedged and unhedged value to this file.") var report: String?
    @Flag(help: "Replace output files that already exist.") var force = false
    @Option(help: ArgumentHelp(HedgeOptions.liquidationRuleHelp)) var liquidationRule: String = "lighter"
    @OptionGroup var timeRange: HistoryRangeOptions
    @Flag(help: "Print JSON.") var json = false

    func config() throws -> HedgeSimulation.Config {
        let stake: Quantity = try Parse.positive(self.stake, "--stake", "a positive number of NMR", example: "100")
        let k: Rate = try Parse.positive(collateralMultiple, "--collateral-multiple", "a positive number", example: "2.7332")
        let period = try HedgeOptions.period(rebalance, "--rebalance")
        let margin = try Parse.fraction(marginFraction, "--margin-fraction", example: "0.2")
        let fee = try HedgeOptions.fee(self.fee)
        var config = HedgeSimulation.Config(
            stake: stake, collateralMultiple: k, rebalance: period, maintenanceFraction: margin, takerFee: fee)
        config.liquidationRule = try Parse.liquidationRule(liquidationRule)
        do { try config.validate() } catch { throw CLIError(String(describing: error)) }
        return config
    }

    func run() async throws {
        let config = try config()
        let outputs = try OutputFiles([("--report", report)], force: force)
        let history = try HedgeHistory.load(data: data, funding: funding, range: try timeRange.range())
        do { try HedgeSimulation.checkCarried(series: history.series, stake: config.stake, multiples: [config.collateralMultiple]) } catch {
            throw CLIError(String(describing: error))
        }
        let result = HedgeSimulation.run(history.series, funding: history.funding, config: config)
        var notes = history.notes
        notes.append("liquidation rule \(config.liquidationRule.name): \(config.liquidationRule.summary)")
        if result.liquidations > 0 {
            notes.append(
                "liquidated \(result.liquidations) time(s): raise --collateral-multiple or shorten --rebalance (see `nmrperp hedge survival`)"
            )
        }
        try outputs.write { _ in HedgeReport.render(result: result, dataPath: data, fundingPath: funding, notes: notes) }
        if json {
            emit(json: HedgeBacktestCommand.json(result, notes: notes, report: report))
            return
        }
        print(TextTable.pairs(HedgeBacktestCommand.rows(result)))
        let liquidations = result.liquidationEvents
        for event in liquidations.prefix(20) {
            print(
                "  liquidated \(event.time.iso8601) at $\(event.price.formatted(places: 4)): $\(event.collateralAfter.money) left"
                    + (event.forfeited.isPositive ? ", $\(event.forfeited.money) forfeited to the venue" : "")
                    + (event.shortfall.isPositive ? ", shortfall $\(event.shortfall.money)" : ""))
        }
        if liquidations.count > 20 { print("  … \(liquidations.count - 20) more (see --json)") }
        for note in notes { print("note: \(note)") }
        if let report { print("wrote report to \(report)") }
    }

    static func rows(_ result: HedgeSimulationResult) -> [(String, String)] { HedgeReport.figures(result) }

    static func json(_ result: HedgeSimulationResult, notes: [String], report: String?) -> JSONValue {
        let config = result.config
        var members: [(String, JSONValue)] = [
            ("liquidations", .int(result.liquidations)), ("rebalances", .int(result.rebalances)),
            ("collateral_deposited", .exact(result.collateralDeposited)), ("collateral_withdrawn", .exact(result.collateralWithdrawn)),
            ("funding_paid", .exact(result.fundingPaid)), ("initial_hedged_value", .exact(result.hedgedStart)),
            ("final_hedged_value", .exact(result.hedgedEnd)),
            ("initial_unhedged_value", .exact(result.unhedgedStart)), ("final_unhedged_value", .exact(result.unhedgedEnd)),
            ("hedged_max_drawdown", .double(result.hedgedMaxDrawdown)), ("unhedged_max_drawdown", .double(result.unhedgedMaxDrawdown)),
            ("stake", .exact(config.stake)), ("collateral_multiple", .exact(config.collateralMultiple)),
            ("rebalance", .string(config.rebalance.description)),
            ("margin_fraction", .exact(config.maintenanceFraction)), ("taker_fee", .exact(config.takerFee)), ("bars", .int(result.bars)),
            ("start", result.firstBar.map { .string($0.iso8601) } ?? .null),
            ("end", result.lastBar.map { .string($0.iso8601) } ?? .null),
            ("initial_price", .exact(result.initialPrice)), ("final_price", .exact(result.finalPrice)),
            ("initial_collateral", .exact(result.initialCollateral)),
            ("funding_settlements", .int(result.fundingSettlements)), ("fees", .exact(result.feesPaid)),
            ("shortfall", .exact(result.shortfall)),
            ("liquidation_rule", .string(config.liquidationRule.name)), ("margin_forfeited", .exact(result.forfeited)),
            ("max_collateral_drawdown", .double(result.maxCollateralDrawdown)),
            ("max_liquidation_proximity", .double(result.maxLiquidationProximity)),
            ("final_collateral_equity", .exact(result.finalCollateralEquity)), ("short_open_at_end", .bool(result.shortOpenAtEnd)),
            ("events", .array(result.events.map(eventJSON))),
        ]
        if let report { members.append(("report", .string(report))) }
        members.append(("notes", .array(notes.map { .string($0) })))
        return .object(members)
    }

    static func eventJSON(_ event: HedgeEvent) -> JSONValue {
        .object([
            ("kind", .string(event.kind.rawValue)), ("time", .string(event.time.iso8601)), ("price", .exact(event.price)),
            ("short_before", .exact(event.shortBefore)), ("short_after", .exact(event.shortAfter)),
            ("realized_pnl", .exact(event.realizedPnL)),
            ("fees", .exact(event.fee)), ("transfer", .exact(event.transfer)), ("collateral_after", .exact(event.collateralAfter)),
            ("shortfall", .exact(event.shortfall)), ("liquidation_price", event.liquidationPrice.map { .exact($0) } ?? .null),
        ])
    }
}

struct HedgeSurvivalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "survival",
        abstract: "Which collateral multiple k would have survived on this history, for which rebalancing period?",
        discussion: """
            Runs `hedge backtest` for every k in --multiples and every period in --periods and prints \
            a grid: "ok" when the short was never liquidated, "N liq" when it was liquidated N times \
            (each time it re-opens at the next rebalance). For one period, more k never means more \
            liquidations. The forum's k = 2.7332 was built for g = 3.06 over 30 days (spec §1); \
            `nmrperp hedge horizons` shows how g grows with the period.

            Examples:
              nmrperp hedge survival --data binance_spot_NMRUSDT_5m_2022-08_2023-09.csv
              nmrperp hedge survival --data nmr_5m.csv --multiples 1,1.5,2,2.5,3,4 \\
                  --periods 1d,7d,14d,30d,60d,90d --json
            """)

    @Option(help: "Price history (CSV, Binance or Lighter JSON), e.g. 5-minute bars.") var data: String
    @Option(help: "Funding history (CSV, Binance or Lighter JSON); without it funding is left out.") var funding: String?
    @Option(help: "NMR staked, and shorted (q). Liquidation does not depend on it; deposits and funding scale with it.") var stake: String =
        "100"
    @Option(help: "Collateral multiples k to try, comma-separated.") var multiples: String = "1.5,2,2.7332,3"
    @Option(help: "Rebalancing periods to try, comma-separated (1d, 7d, 30d, 12h).") var periods: String = "7d,30d,90d"
    @Option(help: "Maintenance margin fraction M of the venue (Lighter NMR: 0.2).") var marginFraction: String = "0.2"
    @Option(help: "Taker fee as a fraction of traded notional (0.0005 = 5 bps).") var fee: String = "0"
    @Option(help: ArgumentHelp(HedgeOptions.liquidationRuleHelp)) var liquidationRule: String = "lighter"
    @OptionGroup var timeRange: HistoryRangeOptions
    @Flag(help: "Print JSON: a list of cells.") var json = false

    func run() async throws {
        let stake: Quantity = try Parse.positive(self.stake, "--stake", "a positive number of NMR", example: "100")
        let multiples = try HedgeOptions.list(self.multiples, "--multiples", example: "1.5,2,2.7332,3") { text -> Rate in
            try Parse.positive(text, "--multiples", "a comma-separated list of positive numbers", example: "1.5,2,2.7332,3")
        }
        let periods = try HedgeOptions.list(self.periods, "--periods", example: "7d,30d,90d") { try HedgeOptions.period($0, "--periods") }
        let margin = try Parse.fraction(marginFraction, "--margin-fraction", example: "0.2")
        let fee = try HedgeOptions.fee(self.fee)
        let rule = try Parse.liquidationRule(liquidationRule)
        let history = try HedgeHistory.load(data: data, funding: funding, range: try timeRange.range())
        do { try HedgeSimulation.checkCarried(series: history.series, stake: stake, multiples: multiples) } catch {
            throw CLIError(String(describing: error))
        }
        let table = HedgeSimulation.survivalTable(
            series: history.series, funding: history.funding, stake: stake, multiples: multiples, periods: periods, maintenance: margin,
            takerFee: fee, liquidationRule: rule)
        let notes = history.notes + HedgeSurvivalCommand.cutOffNotes(history.series, periods: periods)
        if json {
            for note in notes { printError("note: \(note)") }
            emit(json: .array(table.flatMap { $0.map { HedgeSurvivalCommand.cellJSON($0, stake: stake, margin: margin, rule: rule) } }))
            return
        }
        let header = ["k"] + periods.map(\.description)
        let rows = zip(multiples, table).map { k, row in [k.description] + row.map { $0.survived ? "ok" : "\($0.liquidations) liq" } }
        print(TextTable.grid(header, rows))
        print("")
        print(
            "ok: never liquidated; N liq: liquidated N times (re-hedged at the next rebalance). \(history.series.count) bars, stake \(stake) NMR, M = \(margin)."
        )
        print("liquidation rule \(rule.name): \(rule.summary) (the counts do not depend on it; what is left does)")
        let smallest = periods.indices.map { column -> String in
            let safe = zip(multiples, table).filter { $0.1[column].survived }.map(\.0).min()
            return "\(periods[column]): \(safe.map(\.description) ?? "none of these")"
        }
        print("smallest k that survived: \(smallest.joined(separator: ", "))")
        for note in notes { print("note: \(note)") }
    }

    /// Which periods' last rebalancing period is cut off by the end of the data. It is simulated
    /// with the bars it has, like a cut-off window of g (spec §1): a squeeze in it counts.
    static func cutOffNotes(_ series: PerpModel.CandleSeries, periods: [TimeSpan]) -> [String] {
        guard series.count >= 2, let interval = series.barInterval else { return [] }
        let span = series.openTimes[series.count - 1] + interval.milliseconds - series.openTimes[0]
        let cut = periods.filter { span % $0.milliseconds != 0 }.map { period in
            let left = span % period.milliseconds
            return "\(period) (\(formatFixed(Double(left) / 86_400_000, 1)) of \(formatFixed(period.days, 1)) days)"
        }
        guard !cut.isEmpty else { return [] }
        return [
            "the last period is cut off by the end of the data for \(cut.joined(separator: ", ")); it counts with the bars it has, so a liquidation in it counts"
        ]
    }

    static func cellJSON(_ cell: SurvivalCell, stake: Quantity, margin: Rate, rule: LiquidationRule) -> JSONValue {
        .object([
            ("collateral_multiple", .exact(cell.collateralMultiple)), ("period", .string(cell.period.description)),
            ("period_days", .double(cell.period.days)), ("liquidations", .int(cell.liquidations)), ("survived", .bool(cell.survived)),
            ("rebalances", .int(cell.rebalances)), ("max_collateral_drawdown", .double(cell.maxCollateralDrawdown)),
            ("max_liquidation_proximity", .double(cell.maxLiquidationProximity)), ("collateral_deposited", .exact(cell.deposited)),
            ("collateral_withdrawn", .exact(cell.withdrawn)), ("funding_paid", .exact(cell.fundingPaid)),
            ("shortfall", .exact(cell.shortfall)),
            ("stake", .exact(stake)), ("margin_fraction", .exact(margin)), ("liquidation_rule", .string(rule.name)),
        ])
    }
}
