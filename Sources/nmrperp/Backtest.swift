import ArgumentParser
import Dispatch
import Foundation
import PerpConfig
import PerpEngine
import PerpLive
import PerpMarketData
import PerpModel
import PerpReports
import PerpSimulation
import PerpStore

/// The strategies `nmrperp backtest` knows.
enum StrategyName: String, CaseIterable, ExpressibleByArgument {
    case smaCross = "sma-cross"
    case holdShort = "hold-short"
    case fundingCarry = "funding-carry"
    case nmrBot = "nmr-bot"

    /// One line on what it trades, for `--list-strategies`.
    var summary: String {
        switch self {
        case .smaCross: return "long while the fast SMA is above the slow one, short while below; notional = leverage × balance"
        case .holdShort: return "the hedge leg alone: a short held from the first bar (sized by --quantity or leverage)"
        case .fundingCarry: return "half the capital buys spot, the other half backs the same short: earns funding"
        case .nmrBot: return "the NMR bot: blended price, network and sentiment signals under spec §4's risk rules, journalled"
        }
    }

    /// The flags it reads besides the account's (`--capital`, fees, margin).
    var flags: String {
        switch self {
        case .smaCross: return "--fast, --slow, --leverage"
        case .holdShort: return "--leverage, --quantity, --collateral"
        case .fundingCarry: return "none"
        case .nmrBot: return "--config, --signals, --journal, --walk-forward"
        }
    }

    /// Whether `--leverage` sizes its positions (nmr-bot's risk section does instead).
    var readsLeverage: Bool { self == .smaCross || self == .holdShort }

    /// The `--list-strategies` text.
    static var listing: String {
        let rows = allCases.map { strategy -> [String] in
            let keys = SweepGrid.keys(for: strategy)
            let sweep =
                keys.isEmpty ? "none" : keys.count > 3 ? "any key of its configuration (\(keys.count))" : keys.joined(separator: ", ")
            return [strategy.rawValue, strategy.summary, "flags: \(strategy.flags); --sweep: \(sweep)"]
        }
        return rows.map { "\($0[0])\n    \($0[1])\n    \($0[2])" }.joined(separator: "\n")
            + "\n\nYour own: conform to the library's Strategy protocol (PerpSimulation) and run it with Backtester."
    }
}

struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Backtest a strategy on a simulated perp venue with funding, fees, slippage and liquidation.",
        discussion: """
            Per bar: funding settled at its own time on the notional at mark (positive rate: longs \
            pay), resting orders and liquidation along the bar's path, then the strategy at the close \
            (docs/decisions/0004-simulated-venue.md). Liquidation reads the mark price when --mark is \
            given; it closes the whole position at the liquidation price, or at the open when the bar \
            opens past it, with the taker fee. What is left of the margin follows \
            --liquidation-rule (Binance USD-M's by default: the venue keeps it); a loss beyond the \
            collateral is the insurance fund's, and the account never goes below zero.

            Strategies: sma-cross (SMA fast/slow crossover, notional = leverage × balance), \
            hold-short (the hedge leg alone), funding-carry (spot long + perp short), nmr-bot (the \
            NMR bot of `nmrperp bot init`: blended signals under the spec's risk rules, with a journal).

            Examples:
              nmrperp backtest --data nmr_1m.csv --funding nmr_funding.csv \\
                  --strategy sma-cross --report out.html
              nmrperp backtest --data nmr_1m.csv --strategy sma-cross \\
                  --sweep "fast=20,50;slow=100,200;leverage=1,2,3"
              nmrperp backtest --strategy nmr-bot --config bot.yaml --data nmr_15m.csv \\
                  --walk-forward --report wf.html
              nmrperp backtest --strategy nmr-bot --data nmr_15m.csv \\
                  --sweep "risk.stop_loss=0.015..0.035:0.005" \\
                  --rank-by calmar --out runs.csv
              nmrperp backtest --strategy sma-cross --data nmr_15m.csv \\
                  --sweep "fast=10..50:10;slow=100,200" \\
                  --walk-forward --train 60d --test 30d

            --sweep runs a grid of the parameters the strategy reads on every core (sma-cross fast, \
            slow, leverage; hold-short leverage; nmr-bot any key of its configuration, as `nmrperp bot \
            init` lists them), each key a list (a,b,c) or a range (low..high:step, exact decimals), at \
            most 10000 runs. The runs are ranked by --rank-by (sharpe, sortino, calmar = annualised \
            return / max drawdown, or return; undefined values last), the best --top printed and all \
            of them written to --out. With --walk-forward the grid runs on each --train window, the \
            best point is chosen there and traded on the next --test window (warmed up on the \
            training bars), and only those test windows are reported: the choice never sees them.

            --walk-forward (nmr-bot, without --sweep) judges the learned model out of sample (spec §4; \
            docs/decisions/0006-learned-model.md): every --test window (30d) is traded by a logistic \
            regression trained only on the --train window (90d) before it, minus the last --horizon \
            (6h) of rows whose labels would reach into the test window. Three variants trade the same \
            bars under the same risk rules and sizing: the rules alone, the signal model (the six \
            signal scores as features) and a generic price-only model (returns over 1, 4, 16, 64 bars \
            and volatility). The model picks direction and conviction (|2p − 1| ≥ --min-conviction); it \
            never sizes. Folds step by the test window, so each bar is out of sample once.
            """)

    @Option(help: "Candle history (CSV, Binance or Lighter JSON).") var data: String
    @Option(help: "Funding history (CSV, Binance or Lighter JSON).") var funding: String?
    @Option(
        help:
            "Mark-price candles: funding settles on the mark, and liquidation reads the mark's open and extremes (as venues do) on every bar the mark covers."
    )
    var mark: String?
    @Option(help: "sma-cross, hold-short or funding-carry.") var strategy: StrategyName
    @Option(
        help:
            "sma-cross and hold-short: notional as a multiple of the balance (default 3); with hold-short --quantity --margin isolated, the posted margin is notional / leverage."
    ) var leverage: String?
    @OptionGroup(title: "Account and venue (each overrides the same key of --config's account: and venue: sections)")
    var trading: TradingOptions
    @Option(name: .customLong("fast"), help: "sma-cross fast period (bars, default 50).") var fastPeriod: Int?
    @Option(name: .customLong("slow"), help: "sma-cross slow period (bars, default 200).") var slowPeriod: Int?
    @Option(help: "hold-short: NMR to short (default: leverage × capital of notional).") var quantity: String?
    @Option(help: "hold-short --quantity --margin isolated: USDC posted as the short's margin (default: notional / --leverage).")
    var collateral: String?
    @Option(help: "Write a self-contained HTML report here.") var report: String?
    @Option(help: "Write the trade list as CSV here.") var trades: String?
    @Option(help: "Write the full equity curve as CSV here (time_ms, time_utc, equity, drawdown, position: every bar).")
    var equity: String?
    @Flag(help: "Replace output files that already exist.") var force = false
    @Option(
        help: ArgumentHelp(
            "A grid of the parameters the strategy reads, run on every core: sma-cross fast, slow, leverage; hold-short leverage; nmr-bot any key of its configuration. Values are lists or ranges: \"fast=20,50;slow=100..300:100\", \"risk.stop_loss=0.015..0.035:0.005\".",
            valueName: "grid"))
    var sweep: String?
    @Option(help: "Threads for --sweep (default: every core).") var threads: Int?
    @Option(help: "--sweep: rank the runs by sharpe, sortino, calmar or return.") var rankBy = "sharpe"
    @Option(name: .customLong("top"), help: "--sweep: print this many of the best runs.") var topRuns = 10
    @Option(help: "--sweep: write every run (or, with --walk-forward, every fold) as CSV here, best first.") var out: String?
    @Flag(help: "--sweep and --walk-forward: full column names in their tables (wider than 100 columns).") var wide = false
    @Option(help: "nmr-bot: the bot's YAML configuration (`nmrperp bot init` writes one); defaults when absent.") var config: String?
    @Option(help: "nmr-bot: folder with staked.csv, activity.csv, sentiment.csv (time,value); each optional.") var signals: String?
    @Option(help: "nmr-bot: write the journal here, one JSON object a line.") var journal: String?
    @Flag(help: "nmr-bot: walk-forward comparison of the rules, the signal model and a price-only model, out of sample.")
    var walkForward = false
    @Option(help: "--walk-forward: training window before each test window (default model.train_window, 90d).") var train: String?
    @Option(help: "--walk-forward: test window traded by each fold's model; folds step by it (default model.test_window, 30d).")
    var test: String?
    @Option(help: "--walk-forward: label horizon, up if the close this much later is higher (default model.horizon, 6h).")
    var horizon: String?
    @Option(help: "--walk-forward: ridge penalty on the standardised weights (default model.l2, 0.01).") var l2: String?
    @Option(help: "--walk-forward: entries need |2p − 1| at least this (default model.min_conviction, 0.1).")
    var minConviction: String?
    @OptionGroup var timeRange: HistoryRangeOptions
    @Flag(help: "List the strategies, what each trades and which parameters it reads, then exit (no --data needed).")
    var listStrategies = false
    @Flag(help: "Print JSON.") var json = false

    var fast: Int { fastPeriod ?? 50 }
    var slow: Int { slowPeriod ?? 200 }

    /// The configuration: `--config` (the defaults without it) with the account and venue flags
    /// over it (issue 15: one configuration for backtest, paper and live).
    func configuration() throws -> ConfigFile { try trading.configuration(config) }

    /// Refuses the sizing flags `strategy` does not read (issue 10: a flag is never silently ignored).
    func checkSizingFlags(_ config: VenueConfig) throws {
        func refuse(_ flag: String, _ why: String) throws {
            throw CLIError("\(flag) \(why)" + (why.contains("leave it out") ? "" : "; leave it out"))
        }
        if strategy != .smaCross, let flag = [("--fast", fastPeriod != nil), ("--slow", slowPeriod != nil)].first(where: { $0.1 })?.0 {
            try refuse(flag, "is sma-cross's moving-average period; \(strategy.rawValue) does not read it")
        }
        switch strategy {
        case .smaCross:
            if quantity != nil { try refuse("--quantity", "sizes hold-short; sma-cross trades leverage × balance") }
            if collateral != nil { try refuse("--collateral", "is hold-short's posted margin; sma-cross posts notional / --leverage") }
        case .holdShort:
            if quantity == nil, collateral != nil {
                try refuse("--collateral", "needs --quantity (without it the short is leverage × balance, margined by --leverage)")
            }
            if quantity != nil, config.marginMode == .cross, leverage != nil || collateral != nil {
                try refuse(
                    leverage != nil ? "--leverage" : "--collateral",
                    "does nothing for a --quantity short under cross margin (the whole balance backs it): leave it out, or add --margin isolated to post a margin"
                )
            }
            if leverage != nil, collateral != nil { try refuse("--leverage", "is not used when --collateral names the margin") }
        case .fundingCarry:
            for (flag, given) in [("--leverage", leverage != nil), ("--quantity", quantity != nil), ("--collateral", collateral != nil)]
            where given {
                try refuse(flag, "is not used by funding-carry (half the capital buys spot, the other half backs the same short)")
            }
        case .nmrBot:
            for (flag, given) in [("--leverage", leverage != nil), ("--quantity", quantity != nil), ("--collateral", collateral != nil)]
            where given {
                try refuse(flag, "is not used by nmr-bot (its risk section sizes every entry: risk.max_leverage, risk.max_exposure)")
            }
        }
    }

    func run() async throws {
        if listStrategies {
            print(StrategyName.listing)
            return
        }
        let file = try configuration()
        var config = file.trading.venueConfig
        let capital = file.trading.capital
        let leverage: Rate = try Parse.leverage(self.leverage ?? "3")
        if let problem = SMACross.problem(fast: fast, slow: slow) { throw CLIError(problem) }
        if let threads, threads < 1 { throw CLIError("--threads must be at least 1 (got \(threads))") }
        let quantity: Quantity? = try self.quantity.map { try Parse.positive($0, "--quantity", "a positive NMR size", example: "100") }
        let collateral: Notional? = try self.collateral.map {
            try Parse.positive($0, "--collateral", "a positive USDC amount", example: "10000")
        }
        if sweep == nil { try checkSizingFlags(config) }
        // The account's leverage setting: an isolated --quantity short posts notional / leverage.
        if strategy == .holdShort { config.leverage = leverage }
        if sweep == nil,
            let flag = [
                ("--out", out != nil), ("--rank-by", rankBy != "sharpe"), ("--top", topRuns != 10), ("--wide", wide && !walkForward),
            ]
            .first(where: { $0.1 })?.0
        {
            throw CLIError("\(flag) belongs to --sweep; one run writes --trades, --report and --equity")
        }
        if strategy != .nmrBot, signals != nil || journal != nil || (walkForward && sweep == nil) {
            throw CLIError("--signals, --journal and --walk-forward (without --sweep) belong to --strategy nmr-bot")
        }
        // Every output is checked before the work; all are written at the end, or none.
        let outputs = try OutputFiles(
            [("--trades", trades), ("--report", report), ("--journal", journal), ("--equity", equity)], force: force)
        if sweep != nil, let first = outputs.destinations.first(where: { $0.flag != "--journal" || !walkForward }) {
            throw CLIError("\(first.flag) writes one run's file; --sweep prints a table of many runs: leave \(first.flag) out")
        }
        if walkForward, let flag = [("--trades", trades), ("--equity", equity)].first(where: { $0.1 != nil })?.0 {
            throw CLIError(
                "\(flag) writes one run's file; --walk-forward compares three variants (its --report charts them): leave \(flag) out")
        }
        let range = try timeRange.range()
        let series = try Load.candles(data, range: range)
        let rates = try funding.map { try Load.funding($0, defaultInterval: .hours(8), range: range) } ?? []
        let markSeries = try mark.map { try Load.candles($0, flag: "--mark", range: range) }
        if strategy == .smaCross, sweep == nil { try BacktestCommand.checkWindow(slow, "--slow", series: series) }
        if let sweep {
            try runSweep(sweep, series: series, rates: rates, mark: markSeries, config: config, capital: capital)
            return
        }
        if !walkForward, train != nil || test != nil || horizon != nil || l2 != nil || minConviction != nil {
            throw CLIError("--train, --test, --horizon, --l2 and --min-conviction set up --walk-forward; add --walk-forward")
        }
        if walkForward {
            try runWalkForward(series: series, rates: rates, mark: markSeries, venue: config, capital: capital)
            return
        }
        var botJournal: [JournalEntry] = []
        var journalRun: String?
        var specNotes: [String] = []
        var overlays = HTMLReport.Overlays()
        let result: BacktestResult
        if strategy == .nmrBot {
            let botConfig = file.bot
            specNotes = botConfig.beyondSpec().map { "beyond the spec's risk limits: \($0)" }
            guard let interval = series.barInterval else { throw CLIError("\(data): at least two bars are needed") }
            var kernel = TradingKernel(
                config: botConfig, inputs: try BacktestCommand.signalInputs(signals), barInterval: interval,
                lotSize: config.lotSize.isPositive && config.lotSize > Quantity(raw: 1) ? config.lotSize : Quantity("0.01")!)
            // The report's score panel: recorded only when a report is written.
            kernel.recordsScores = report != nil
            var tester = Backtester(strategy: BotStrategy(kernel: kernel, fundingRates: rates), config: config, initialCapital: capital)
            result = tester.run(series, funding: rates, mark: markSeries)
            botJournal = tester.strategy.journal
            if report != nil {
                let record = tester.strategy.kernel.scoreRecord
                // A trip halts entries for the cooldown from the bar's close it was journalled at.
                let halts = botJournal.filter { $0.event == .circuitBreaker }.map { entry in
                    HTMLReport.Interval(
                        start: entry.time.milliseconds, end: entry.time.saturatingAdding(botConfig.risk.circuitCooldown).milliseconds)
                }
                overlays.score = HTMLReport.ScorePanel(
                    times: record.times, scores: record.scores, threshold: botConfig.entryThreshold, halts: halts,
                    quietHours: (botConfig.risk.quietStartHour, botConfig.risk.quietEndHour))
            }
            journalRun = try JournalRuns.record(botJournal, source: data)
        } else {
            if strategy == .smaCross, report != nil {
                overlays.priceLines = [
                    HTMLReport.PriceLine(name: "SMA \(fast) (fast)", values: HTMLReport.simpleMovingAverage(series.closes, period: fast)),
                    HTMLReport.PriceLine(name: "SMA \(slow) (slow)", values: HTMLReport.simpleMovingAverage(series.closes, period: slow)),
                ]
            }
            result = BacktestCommand.execute(
                strategy, series: series, funding: rates, mark: markSeries, config: config, capital: capital,
                leverage: leverage, fast: fast, slow: slow, quantity: quantity, collateral: collateral)
        }
        if let halt = result.halt { throw CLIError("\(data): the backtest \(halt)") }
        let metrics = PerformanceMetrics.compute(result)
        let coverage = FundingCoverage(series: series, rates: funding == nil ? nil : rates)
        let coverageNotes = coverage.notes(source: funding)
        try outputs.write { flag in
            switch flag {
            case "--trades": return TradeCSV.render(result.trades)
            case "--journal": return JournalJSONL.render(botJournal)
            case "--equity": return EquityCSV.render(result.equity, initialCapital: capital)
            default:
                let notes = [
                    "strategy \(strategy.rawValue)" + (strategy == .smaCross ? " (\(fast)/\(slow))" : "")
                        + (strategy.readsLeverage ? ", leverage \(leverage)" : ""),
                    file.trading.summary,
                    BacktestCommand.liquidationNote(result),
                    "data \(data)" + (funding.map { ", funding \($0)" } ?? ", no funding file"),
                ]
                return HTMLReport.render(
                    title: "NMRPerp backtest: \(strategy.rawValue)", result: result, metrics: metrics,
                    prices: (series.openTimes, series.closes), notes: specNotes + notes + coverageNotes, overlays: overlays)
            }
        }
        if json {
            var members: [(String, JSONValue)] = [
                ("bars", .int(result.bars)), ("trades", .int(result.trades.count)), ("liquidations", .int(result.liquidations)),
                ("initial_capital", .exact(capital)), ("market", .string(file.trading.market.name)),
                ("final_equity", .exact(result.finalEquity)), ("return", metrics.totalReturn.map { .double($0) } ?? .null),
                ("max_drawdown", metrics.maxDrawdown.map { .double($0) } ?? .null), ("sharpe", metrics.sharpe.map { .double($0) } ?? .null),
                ("fees", .exact(result.feesPaid)), ("funding_paid", .exact(result.fundingPaid)),
                ("liquidation_rule", .string(result.liquidationRule.name)), ("margin_forfeited", .exact(result.marginForfeited)),
                ("insurance_fund_draws", .exact(result.insuranceFundDraws)),
                (
                    "liquidation_on_mark",
                    result.liquidationOnMark.map { .object([("bars", .int($0.bars)), ("of", .int($0.of))]) } ?? .null
                ),
                ("funding_coverage", coverage.json(source: funding)), ("notes", .array((specNotes + coverageNotes).map { .string($0) })),
            ]
            if case .object(let extra) = metrics.json() {
                let known = Set(members.map(\.0))
                members += extra.filter { !known.contains($0.0) }
            }
            emit(json: .object(members))
            return
        }
        func optional(_ value: Double?, _ render: (Double) -> String) -> String { value.map(render) ?? "n/a" }
        print(
            TextTable.pairs([
                ("bars", "\(result.bars)"),
                ("final equity", "\(result.finalEquity.money) from \(capital.money)"),
                ("total return", optional(metrics.totalReturn) { percent($0) }),
                ("annualised", BacktestCommand.annualisedLine(metrics)),
                (
                    "sharpe / sortino",
                    "\(optional(metrics.sharpe) { formatFixed($0, 2) }) / \(optional(metrics.sortino) { formatFixed($0, 2) })"
                ),
                ("max drawdown", optional(metrics.maxDrawdown) { percent($0) }),
                ("exposure", optional(metrics.exposure) { percent($0, places: 1) }),
                ("trades", "\(result.trades.count) (win rate \(optional(metrics.winRate) { percent($0, places: 1) }))"),
                ("liquidations", BacktestCommand.liquidationLine(result)),
                ("fees paid", result.feesPaid.money),
                (
                    "funding paid",
                    "\(result.fundingPaid.money) over \(result.funding.count) settlements (negative: received)"
                ),
            ]))
        if !metrics.exitsByReason.isEmpty {
            print("\nexits by reason" + (metrics.openTrades > 0 ? " (\(metrics.openTrades) still open at the end, not counted)" : ""))
            print(
                TextTable.grid(
                    ["exit", "trades", "won", "net P&L"],
                    metrics.exitsByReason.map { [$0.label, String($0.trades), String($0.wins), $0.netPnL.money] }))
        }
        if strategy == .nmrBot {
            let counts = Dictionary(grouping: botJournal, by: \.event).mapValues(\.count)
            let summary = JournalEvent.allCases.compactMap { event in counts[event].map { "\(event.rawValue) \($0)" } }.joined(
                separator: ", ")
            print("journal: \(botJournal.count) rows (\(summary))" + (journal.map { " → \($0)" } ?? ""))
            if let journalRun, !botJournal.isEmpty {
                print("journal in SQLite: \(JournalRuns.path) run \"\(journalRun)\" (`nmrperp bot journal --run \"\(journalRun)\"`)")
            } else if journalRun != nil {
                print("journal: nothing happened, so no run was stored in \(JournalRuns.path)")
            }
        }
        for note in specNotes + coverageNotes { print("note: \(note)") }
        if let report { print("report: \(report)") }
        if let trades { print("trades: \(trades)") }
    }

    /// The external series of the network and sentiment signals, from a folder.
    static func signalInputs(_ folder: String?) throws -> SignalInputs {
        guard let folder else { return SignalInputs() }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError(
                "--signals \(folder) is not a folder (it should hold staked.csv, activity.csv, sentiment.csv, exchange_netflow.csv and/or calendar.csv)"
            )
        }
        func load(_ name: String) throws -> SignalSeries? {
            let path = (folder as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            do { return SignalSeries(try ValueSeriesCSV.parse(MarketDataFiles.readBytes(path), source: path)) } catch {
                throw CLIError(String(describing: error))
            }
        }
        let inputs = SignalInputs(
            staked: try load("staked.csv"), activity: try load("activity.csv"), sentiment: try load("sentiment.csv"),
            exchangeNetflow: try load("exchange_netflow.csv"),
            calendar: try Self.calendar(folder))
        if inputs.isEmpty {
            throw CLIError("--signals \(folder) holds none of staked.csv, activity.csv, sentiment.csv, exchange_netflow.csv, calendar.csv")
        }
        return inputs
    }

    /// The events of `DIR/calendar.csv` as paper and live read them (none when it is missing).
    static func calendar(_ folder: String) throws -> [CalendarEvent] {
        do { return try SignalFilesSource(folder: folder).calendar() } catch { throw CLIError(String(describing: error)) }
    }

    /// The annualised return, or why there is none: a run shorter than 30 days is not
    /// annualised (issue 11), nor one without a return.
    static func annualisedLine(_ metrics: PerformanceMetrics) -> String {
        if let annual = metrics.annualizedReturn { return percent(annual) }
        if let span = metrics.span, span < PerformanceMetrics.minimumAnnualisedSpan {
            return
                "n/a (the run spans \(formatFixed(span.days, 2)) days; a return is annualised from \(PerformanceMetrics.minimumAnnualisedSpan) on)"
        }
        return "n/a"
    }

    /// The liquidations line: how many, under which rule, what the venue kept and what the
    /// insurance fund bore, and which price liquidation read (issue 10: every figure names its rule).
    static func liquidationLine(_ result: BacktestResult) -> String {
        var parts = ["rule \(result.liquidationRule.name)"]
        if !result.marginForfeited.isZero { parts.append("margin forfeited \(result.marginForfeited.money)") }
        if !result.insuranceFundDraws.isZero { parts.append("insurance fund drew \(result.insuranceFundDraws.money)") }
        if let mark = result.liquidationOnMark { parts.append("on the mark for \(mark.bars) of \(mark.of) bars") }
        return "\(result.liquidations) (" + parts.joined(separator: "; ") + ")"
    }

    /// The report's note on the liquidation rule.
    static func liquidationNote(_ result: BacktestResult) -> String {
        "liquidation: \(result.liquidationRule.summary)"
            + (result.liquidationOnMark.map { "; read on the mark price for \($0.bars) of \($0.of) bars, traded prices for the rest" }
                ?? "; read on the traded prices (no --mark)")
    }

    /// Runs one strategy by name.
    static func execute(
        _ name: StrategyName, series: CandleSeries, funding: [FundingRate], mark: CandleSeries?, config: VenueConfig, capital: Notional,
        leverage: Rate, fast: Int, slow: Int, quantity: Quantity?, collateral: Notional? = nil
    ) -> BacktestResult {
        switch name {
        case .smaCross:
            var tester = Backtester(strategy: SMACross(fast: fast, slow: slow, leverage: leverage), config: config, initialCapital: capital)
            return tester.run(series, funding: funding, mark: mark)
        case .holdShort:
            var tester = Backtester(
                strategy: HoldShort(quantity: quantity, leverage: leverage, collateral: collateral), config: config, initialCapital: capital
            )
            return tester.run(series, funding: funding, mark: mark)
        case .fundingCarry:
            return FundingCarry.run(series, funding: funding, mark: mark, config: config, capital: capital)
        case .nmrBot:
            let kernel = TradingKernel(config: BotConfig(), barInterval: series.barInterval ?? .minutes(1))
            var tester = Backtester(strategy: BotStrategy(kernel: kernel, fundingRates: funding), config: config, initialCapital: capital)
            return tester.run(series, funding: funding, mark: mark)
        }
    }

    /// The most runs one `--sweep` may ask for (each keeps its equity curve).
    static let largestSweep = 10_000

    /// Refuses a window of more bars than `series` has: it would never fill.
    static func checkWindow(_ bars: Int, _ option: String, series: CandleSeries) throws {
        guard bars <= series.count else {
            throw CLIError("the data has \(series.count) bars; \(option) \(bars) needs more (a window longer than the data never fills)")
        }
    }
}
