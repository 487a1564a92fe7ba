import ArgumentParser
import Foundation
import PerpHedge
import PerpMarketData
import PerpMechanics
import PerpModel
import PerpShippedData
import PerpVenues

struct HedgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hedge",
        abstract: "Hedge a Numerai stake with an NMR short: collateral, liquidation price, worst case, rebalancing.",
        subcommands: [
            HedgePlan.self, HedgeWorstCase.self, HedgeHorizons.self, HedgeRebalance.self, HedgeBacktestCommand.self,
            HedgeSurvivalCommand.self, HedgeRunCommand.self, HedgeStatusCommand.self, HedgeStopCommand.self, HedgeJournalCommand.self,
        ])
}

/// Options shared by commands that estimate g from a price history.
struct WindowOptions: ParsableArguments {
    @Option(help: "Rebalancing period H: the length of each window (30d, 14d, 12h).")
    var window: String = "30d"

    @Option(help: "Step S between window starts: a length (7d, the forum's), or the bar interval (5m) or 'bar' for every start.")
    var step: String = "7d"
}

/// The forum's g (seed 003, Appendix A), used when no history is available.
let forumG = Rate("3.06")!

struct HedgePlan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "How much USDC to post so the short of your stake survives the worst squeeze, and where it liquidates.",
        discussion: """
            Collateral T = k·q·P with k = (g − 1) + α·g·M (spec §1, seed 003 Formula 1). g is the worst \
            price multiple over one rebalancing period: --g, or measured from --data, or from a year of \
            Binance 5m history fetched and cached; offline (or when Binance does not answer) from the \
            year of Binance USD-M 30m bars shipped with nmrperp (2024-10-23 → 2025-10-23), and it says \
            how old that is; only if that is missing too, the forum's g = 3.06.

            Examples:
              nmrperp hedge plan --stake 10 --price 8 --g 3.06
              nmrperp hedge plan --stake 250 --price 8.46 --data nmr_5m.csv --step 5m
              nmrperp hedge plan --model my_model --venue lighter
            """)

    @Option(help: "NMR staked (and shorted).") var stake: String?
    @Option(name: .customLong("model"), help: "Numerai model(s) whose live stake to hedge (repeat for several; summed).")
    var models: [String] = []
    @Option(help: "Numerai tournament of --model: classic, signals or crypto.") var tournament: String = "classic"
    @Option(help: "NMR price in USD at which the short is opened.") var price: String?
    @Option(help: "Read price and margin fraction live from this venue (lighter).") var venue: String?
    @Option(help: "Lighter market id of NMR.") var market: Int = 74
    @Option(help: "Worst-case price multiple over one period (skip the estimate).") var g: String?
    @Option(help: "Price history to estimate g from (CSV, Binance or Lighter JSON).") var data: String?
    @OptionGroup var windows: WindowOptions
    @OptionGroup var timeRange: HistoryRangeOptions
    @Option(help: "Safety factor α (at least 1).") var alpha: String = "1.1"
    @Option(help: "Maintenance margin fraction M of the venue (Lighter NMR: 0.2).") var marginFraction: String?
    @Flag(help: "Never use the network.") var offline = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let alpha: Rate = try Parse.positive(self.alpha, "--alpha", "a number of at least 1", example: "1.1")
        guard alpha >= Rate.one else { throw CLIError("--alpha is a safety factor and must be at least 1 (got \(self.alpha))") }
        if let venue, venue.lowercased() != "lighter" { throw CLIError("--venue supports lighter only for now (got \"\(venue)\")") }
        let offline = self.offline || Environment.offline
        let range = try timeRange.range()
        var notes: [String] = []

        // Stake.
        let stake: Quantity
        var stakeSource = "--stake"
        if let text = self.stake {
            guard models.isEmpty else { throw CLIError("give either --stake or --model, not both") }
            stake = try Parse.positive(text, "--stake", "a positive number of NMR", example: "10")
        } else if !models.isEmpty {
            if offline { throw CLIError("--model reads the live stake from Numerai and needs the network; pass --stake instead") }
            stake = try await StakeCommand.totalStake(models: models, tournament: tournament)
            stakeSource = "numerai (\(models.joined(separator: ", ")))"
            guard stake.isPositive else { throw CLIError("the stake of \(models.joined(separator: ", ")) is zero: nothing to hedge") }
        } else {
            throw CLIError("give the stake to hedge: --stake Q (NMR), or --model NAME to read it from Numerai")
        }

        // Price and margin fraction.
        var lighter: LighterMarket?
        if venue != nil {
            if offline {
                throw CLIError("--venue lighter reads the market live and needs the network; pass --price and --margin-fraction instead")
            }
            lighter = try await LighterClient(baseURL: VenueEndpoints.fromEnvironment().lighter).market(id: market)
        }
        let price: Price
        var priceSource = "--price"
        if let text = self.price {
            price = try Parse.positive(text, "--price", "a positive USD price", example: "8.25")
        } else if let live = lighter?.referencePrice {
            price = live
            priceSource = "lighter mark price (market \(market))"
        } else {
            throw CLIError("give the NMR price: --price P, or --venue lighter to read the mark price")
        }
        let margin: Rate
        var marginSource = "--margin-fraction"
        if let text = marginFraction {
            margin = try Parse.fraction(text, "--margin-fraction", example: "0.2")
        } else if let live = lighter?.maintenanceFraction {
            margin = live
            marginSource = "lighter maintenance_margin_fraction (market \(market))"
        } else {
            margin = MarketSpec.lighterNMR.margin.maintenanceRate
            marginSource = "Lighter NMR default"
        }

        // g.
        let g: Rate
        var gSource: String
        var analysis: WorstCase?
        var history: HistoryUsed?
        if let text = self.g {
            guard let value = Rate(text), value >= Rate.one else {
                throw CLIError("--g is a price multiple and must be at least 1, e.g. --g 3.06 (got \"\(text)\")")
            }
            if data != nil { throw CLIError("give either --g or --data, not both") }
            g = value
            gSource = "--g"
        } else if let data {
            let series = try Load.candles(data, range: range)
            let result = try HedgeWorstCase.analyse(series, windows: windows)
            analysis = result
            g = result.gRate
            gSource = "\(data), \(result.window) windows, step \(result.step)"
            notes += HedgeWorstCase.understatementNotes(series, result: result) + HedgeWorstCase.cutOffNotes(result)
        } else {
            var fetchFailure: String?
            // Online: the last year, fetched (and cached). Offline: the same year from the cache
            // when it holds all of it, else the shipped history below.
            do {
                let series = try range.candles(try await HedgePlan.lastYear(offline: offline), source: "the last year fetched from Binance")
                let result = try HedgeWorstCase.analyse(series, windows: windows)
                analysis = result
                history = HistoryUsed(
                    source: "binance spot NMRUSDT 5m (\(offline ? "from the cache" : "fetched, cached"))", series: series,
                    now: Environment.now.milliseconds)
                notes += HedgeWorstCase.understatementNotes(series, result: result) + HedgeWorstCase.cutOffNotes(result)
            } catch is CachedHistory.NotCached {
                fetchFailure = nil
            } catch {
                fetchFailure = String(describing: error)
            }
            if analysis == nil {
                // Offline, or Binance did not answer: the real year shipped with the package.
                do {
                    let shipped = try ShippedHistory.load()
                    let series = try range.candles(shipped.series, source: "the history shipped with nmrperp")
                    let result = try HedgeWorstCase.analyse(series, windows: windows)
                    analysis = result
                    let used = HistoryUsed(source: ShippedHistory.label, series: series, now: Environment.now.milliseconds)
                    history = used
                    let why = fetchFailure.map { "could not fetch the last year from Binance (\($0))" } ?? "offline"
                    notes.append(
                        "\(why): g is from the history shipped with nmrperp, \(used.span), which ended \(used.ageDays) days ago;"
                            + " for fresher bars run online or pass --data FILE (nmrperp data fetch writes one)")
                    notes += HedgeWorstCase.understatementNotes(series, result: result) + HedgeWorstCase.cutOffNotes(result)
                } catch {
                    let why = fetchFailure.map { "could not fetch price history (\($0))" } ?? "offline"
                    notes.append("\(why), and \(error): using the forum's g = 3.06 (seed 003, Appendix A)")
                }
            }
            if let analysis, let history {
                g = analysis.gRate
                gSource = "\(history.source), \(analysis.window) windows, step \(analysis.step)"
            } else {
                g = forumG
                gSource = offline ? "forum (offline)" : "forum (network unavailable)"
            }
        }

        let plan: CollateralPlan
        do {
            plan = try CollateralPlan(stake: stake, price: price, g: g, alpha: alpha, maintenanceFraction: margin)
        } catch { throw CLIError(String(describing: error)) }

        var historicalShare: Double?
        if let analysis {
            let liquidationMultiple = CollateralPlan.liquidationMultiple(
                collateralMultiple: plan.collateralMultiple, maintenanceFraction: margin
            ).doubleValue
            historicalShare = analysis.shareAtOrAbove(liquidationMultiple)
        }

        if json {
            var members: [(String, JSONValue)] = [
                ("stake", .exact(plan.stake)), ("price", .exact(plan.price)), ("g", .exact(plan.g)), ("alpha", .exact(plan.alpha)),
                ("margin_fraction", .exact(plan.maintenanceFraction)), ("collateral_multiple", .exact(plan.collateralMultiple)),
                ("notional", .exact(plan.notional)), ("collateral", .exact(plan.collateral)),
                ("liquidation_price", .exact(plan.liquidationPrice)), ("survives_up_to", .exact(plan.survivesUpTo)),
                ("g_source", .string(gSource)), ("stake_source", .string(stakeSource)), ("price_source", .string(priceSource)),
                ("margin_source", .string(marginSource)),
            ]
            if let historicalShare, let analysis {
                members.append(("historical_liquidation_share", .double(historicalShare)))
                members.append(("historical_full_windows", .int(analysis.fullWindows)))
                members.append(("cut_off_windows", .int(analysis.cutOffWindows)))
                members.append(("worst_window_cut_off", .bool(analysis.worstIsCutOff)))
            }
            if let history {
                members.append(
                    (
                        "history",
                        .object([
                            ("source", .string(history.source)), ("start", .string(history.start)), ("end", .string(history.end)),
                            ("bars", .int(history.bars)), ("age_days", .int(Int(history.ageDays))),
                        ])
                    ))
            }
            members.append(("notes", .array(notes.map { .string($0) })))
            emit(json: .object(members))
            return
        }
        var rows: [(String, String)] = [
            ("stake", "\(plan.stake) NMR  (\(stakeSource))"),
            ("price", "$\(plan.price)  (\(priceSource))"),
            ("g", "\(plan.g.formatted(places: 4, rule: .up))  (\(gSource))"),
            ("alpha", plan.alpha.description),
            ("margin fraction M", "\(plan.maintenanceFraction)  (\(marginSource))"),
            ("collateral multiple k", "\(plan.collateralMultiple.formatted(places: 4, rule: .up))  = (g − 1) + α·g·M"),
            ("notional q·P", "$\(plan.notional.formatted(places: 2))"),
            ("collateral T", "$\(plan.collateral.formatted(places: 2, rule: .up))  = k·q·P, USDC to post"),
            (
                "liquidation price",
                "$\(plan.liquidationPrice.formatted(places: 4, rule: .down))  (isolated, no fees; \(formatFixed(plan.liquidationPrice.ratio(to: plan.price).doubleValue, 3))× the price)"
            ),
            ("survives up to", "$\(plan.survivesUpTo.formatted(places: 4, rule: .down))  = g·P, with α·M margin to spare"),
        ]
        if let history {
            rows.append(("price history", "\(history.span), \(history.bars) bars, ended \(history.ageDays) days ago"))
        }
        if let historicalShare {
            rows.append(
                (
                    "history",
                    "\(percent(historicalShare, places: 3)) of the \(analysis!.fullWindows) full windows would have liquidated this short"
                ))
        }
        print(TextTable.pairs(rows))
        for note in notes { print("note: \(note)") }
    }

    /// The price history g was measured on, when `hedge plan` chose it (not `--data`).
    struct HistoryUsed {
        let source: String
        let start: String
        let end: String
        let bars: Int
        let ageDays: Int64
        var span: String { "\(start) → \(end)" }

        init(source: String, series: PerpModel.CandleSeries, now: Int64) {
            self.source = source
            let first = series.openTimes.first ?? 0
            let last = series.openTimes.last ?? 0
            start = Timestamp(milliseconds: first).isoDate
            end = Timestamp(milliseconds: last).isoDate
            bars = series.count
            let (difference, overflow) = now.subtractingReportingOverflow(last)
            ageDays = overflow ? 0 : max(0, difference / 86_400_000)
        }
    }

    /// A year of Binance spot 5-minute bars, fetched once and cached.
    static func lastYear(offline: Bool = false) async throws -> PerpModel.CandleSeries {
        let now = Environment.now
        let history = try Environment.history()
        if offline {
            return try await history.candles(
                .spot, symbol: "NMRUSDT", interval: .minutes(5), from: now - .days(365), to: now, now: now, offline: true)
        }
        let progress = ProgressBar("fetching a year of NMRUSDT 5m bars")
        let series = try await progress.download(resume: DataFetch.resumeHint) {
            try await history.spotCandles(
                symbol: "NMRUSDT", interval: .minutes(5), from: now - .days(365), to: now, now: now, progress: progress.update)
        }
        guard series.count >= 2 else { throw CLIError("Binance returned no NMRUSDT history") }
        return series
    }
}

struct HedgeWorstCase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worst-case",
        abstract: "The worst price multiple g over rebalancing windows of a price history, its distribution and the data's gaps.",
        discussion: """
            Windows [s, s + H) start at the first bar and every step S after it, up to the last bar; \
            g_w = max(high in the window) / open of the first bar at or after s; g = max g_w (spec §1). \
            A window that runs past the end of the data counts with the bars it has (its g_w is a \
            lower bound); the output says how many were cut off and whether the worst one was. The \
            quantiles are over the full windows only. The forum stepped by 7 days; a step of one bar \
            (--step 5m on 5m data, or --step bar) checks every start, which on real NMR data finds a \
            worse g.

            Example:
              nmrperp hedge worst-case \\
                  --data binance_spot_NMRUSDT_5m_2022-08_2023-09.csv --step 5m
            """)

    @Option(help: "Price history (CSV, Binance or Lighter JSON).") var data: String
    @OptionGroup var windows: WindowOptions
    @OptionGroup var timeRange: HistoryRangeOptions
    @Flag(help: "Print JSON.") var json = false

    static func analyse(_ series: PerpModel.CandleSeries, windows: WindowOptions) throws -> WorstCase {
        let window = try Parse.span(windows.window, "--window")
        let step = try Parse.step(windows.step)
        do { return try WorstCase.analyse(series, window: window, step: step) } catch { throw CLIError(String(describing: error)) }
    }

    /// When the step skips starts, the every-start g, so the user sees what the step hides.
    static func understatementNotes(_ series: PerpModel.CandleSeries, result: WorstCase) -> [String] {
        guard case .every(let span) = result.step, span > result.barInterval,
            let full = try? WorstCase.analyse(series, window: result.window, step: .everyBar, keepValues: false), full.g > result.g
        else { return [] }
        return [
            "a \(span) step understates the worst case: every start gives g = \(formatFixed(full.g, 4)) (window from \(full.worstWindowStart.iso8601)) versus \(formatFixed(result.g, 4)); rerun with --step \(result.barInterval) to use it"
        ]
    }

    /// What the windows cut off by the end of the data mean for `g` (spec §1).
    static func cutOffNotes(_ result: WorstCase) -> [String] {
        guard result.worstIsCutOff else { return [] }
        return [
            "the worst window (from \(result.worstWindowStart.iso8601)) runs past the end of the data (\(result.dataEnd.iso8601)): g counts the bars it has, so the true worst case over it may be higher"
        ]
    }

    /// "61 of 30d, step 7d (4 cut off by the end of the data, counted with the bars they have)".
    static func windowsText(_ result: WorstCase) -> String {
        "\(result.windows) of \(result.window), step \(result.step)"
            + (result.cutOffWindows > 0
                ? " (\(result.cutOffWindows) cut off by the end of the data, counted with the bars they have)" : "")
    }

    func run() async throws {
        let series = try Load.candles(data, range: try timeRange.range())
        let result = try HedgeWorstCase.analyse(series, windows: windows)
        let quantiles = Quantiles.compute(result.values, [0.5, 0.9, 0.99])
        let gaps = series.gaps()
        let notes = HedgeWorstCase.understatementNotes(series, result: result) + HedgeWorstCase.cutOffNotes(result)
        if json {
            emit(
                json: .object([
                    ("g", .double(result.g)), ("windows", .int(result.windows)), ("full_windows", .int(result.fullWindows)),
                    ("cut_off_windows", .int(result.cutOffWindows)), ("worst_window_cut_off", .bool(result.worstIsCutOff)),
                    ("worst_window_start", .string(result.worstWindowStart.iso8601)),
                    ("worst_peak_time", .string(result.worstPeakTime.iso8601)), ("worst_open", .exact(result.startOpen)),
                    ("worst_high", .exact(result.peakHigh)),
                    (
                        "quantiles",
                        .object([("p50", .double(quantiles[0])), ("p90", .double(quantiles[1])), ("p99", .double(quantiles[2]))])
                    ),
                    ("quantiles_over", .string("full windows")),
                    ("bars", .int(result.bars)), ("bar_interval", .string(result.barInterval.description)),
                    ("window", .string(result.window.description)), ("step", .string(result.step.description)),
                    ("start", .string(Timestamp(milliseconds: series.openTimes[0]).iso8601)),
                    ("end", .string(Timestamp(milliseconds: series.openTimes[series.count - 1]).iso8601)),
                    ("gap_count", .int(gaps.count)), ("gaps", .array(gaps.map(gapJSON))), ("notes", .array(notes.map { .string($0) })),
                ]))
            return
        }
        print(
            TextTable.pairs([
                ("g", "\(formatFixed(result.g, 6))  (worst rise \(percent(result.g - 1, places: 1)))"),
                (
                    "worst window",
                    "\(result.worstWindowStart.iso8601): open \(result.startOpen) → high \(result.peakHigh) at \(result.worstPeakTime.iso8601)"
                        + (result.worstIsCutOff ? " (cut off by the end of the data)" : "")
                ),
                ("windows", HedgeWorstCase.windowsText(result)),
                (
                    "g_w quantiles",
                    "p50 \(formatFixed(quantiles[0], 4))  p90 \(formatFixed(quantiles[1], 4))  p99 \(formatFixed(quantiles[2], 4))  (over the \(result.fullWindows) full windows)"
                ),
                (
                    "bars",
                    "\(result.bars) of \(result.barInterval), \(Timestamp(milliseconds: series.openTimes[0]).iso8601) to \(Timestamp(milliseconds: series.openTimes[series.count - 1]).iso8601)"
                ),
                ("gaps", gaps.isEmpty ? "none" : "\(gaps.count) (\(gaps.reduce(0) { $0 + $1.missingBars }) bars missing; not bridged)"),
            ]))
        for gap in gaps.prefix(20) {
            print("  gap: \(gap.missingBars) bars missing after \(gap.after.iso8601), data resumes \(gap.before.iso8601)")
        }
        if gaps.count > 20 { print("  … \(gaps.count - 20) more (see --json)") }
        for note in notes { print("note: \(note)") }
    }
}

func gapJSON(_ gap: DataGap) -> JSONValue {
    .object([("after", .string(gap.after.iso8601)), ("before", .string(gap.before.iso8601)), ("missing_bars", .int(gap.missingBars))])
}

struct HedgeHorizons: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "horizons",
        abstract: "g as a function of the rebalancing period: 1, 3, 7, 14, 30, 60 and 90 days.",
        discussion: """
            Longer periods need more collateral. Windows cut off by the end of the data count with the \
            bars they have (spec §1), so g never falls as the period grows; "cut off" says how many \
            were, and "worst cut off" whether the worst window was one of them (then its g is a lower \
            bound).

            Example:
              nmrperp hedge horizons --data nmr_5m.csv --step 5m
            """)

    @Option(help: "Price history (CSV, Binance or Lighter JSON).") var data: String
    @Option(help: "Step between window starts: a length, or 'bar' (the default) for every start.") var step: String = "bar"
    @OptionGroup var timeRange: HistoryRangeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let series = try Load.candles(data, range: try timeRange.range())
        let step = try Parse.step(self.step)
        guard series.count >= 2 else { throw CLIError("\(data): at least two bars are needed") }
        let entries = Horizons.compute(series, step: step)
        if json {
            emit(
                json: .object([
                    ("step", .string(step.description)), ("bars", .int(series.count)),
                    (
                        "horizons",
                        .array(
                            entries.map { entry in
                                .object([
                                    ("days", .int(entry.days)), ("g", entry.g.map { .double($0) } ?? .null),
                                    ("windows", .int(entry.windows)), ("cut_off_windows", .int(entry.cutOffWindows)),
                                    ("worst_window_start", entry.worstWindowStart.map { .string($0.iso8601) } ?? .null),
                                    ("worst_window_cut_off", .bool(entry.worstIsCutOff)),
                                ])
                            })
                    ),
                ]))
            return
        }
        print(
            TextTable.grid(
                ["days", "g", "windows", "cut off", "worst window start", "worst cut off"],
                entries.map { entry in
                    [
                        String(entry.days), entry.g.map { formatFixed($0, 4) } ?? "data too short", String(entry.windows),
                        String(entry.cutOffWindows), entry.worstWindowStart?.iso8601 ?? "-", entry.worstIsCutOff ? "yes" : "no",
                    ]
                }))
        print("cut off: windows that run past the end of the data; they count with the bars they have (spec §1)")
        if entries.contains(where: \.worstIsCutOff) {
            print("note: where the worst window is cut off, g counts the bars it has and the true worst case may be higher")
        }
    }
}

struct HedgeRebalance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebalance",
        abstract: "Resize the short to the live stake and move collateral to k·q·P at the new price.",
        discussion: """
            Deposit when the price rose, withdraw the excess when it fell (spec §1 "Rebalancing").

            Example:
              nmrperp hedge rebalance --short 10 --collateral 150 --stake 12 --price 9.5 \\
                  --collateral-multiple 2.7332
            """)

    @Option(help: "Current short size in NMR.") var short: String
    @Option(help: "Current collateral (account value, USDC).") var collateral: String
    @Option(help: "New stake in NMR.") var stake: String
    @Option(help: "Price now.") var price: String
    @Option(help: "Collateral multiple k (from `hedge plan`).") var collateralMultiple: String
    @Option(help: "Maintenance margin fraction M.") var marginFraction: String = "0.2"
    @Option(help: "Lot size to round the short to (Lighter NMR: 0.01).") var lot: String = "0.01"
    @Option(help: "Warn when the price has gone this fraction of the way to liquidation.") var warnFraction: String = "0.5"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let current: Quantity = try Parse.nonNegative(short, "--short", "a number of NMR", example: "10")
        let collateral: Notional = try Parse.nonNegative(self.collateral, "--collateral", "a USDC amount", example: "218.66")
        let stake: Quantity = try Parse.positive(self.stake, "--stake", "a positive number of NMR", example: "12")
        let price: Price = try Parse.positive(self.price, "--price", "a positive USD price", example: "9.5")
        let k: Rate = try Parse.positive(collateralMultiple, "--collateral-multiple", "a positive number", example: "2.7332")
        let margin = try Parse.fraction(marginFraction, "--margin-fraction", example: "0.2")
        let lot: Quantity = try Parse.positive(self.lot, "--lot", "a positive size step", example: "0.01")
        let warn = try Parse.fraction(warnFraction, "--warn-fraction", example: "0.5")
        let plan: RebalancePlan
        do {
            plan = try RebalancePlan(
                currentShort: current, currentCollateral: collateral, newStake: stake, price: price, collateralMultiple: k,
                maintenanceFraction: margin, lotSize: lot, warnFraction: warn)
        } catch { throw CLIError(String(describing: error)) }
        let (tradeSide, tradeSize): (String, Quantity) = {
            switch plan.trade {
            case .none: return ("none", .zero)
            case .sell(let q): return ("sell", q)
            case .buy(let q): return ("buy", q)
            }
        }()
        let (transferKind, transferAmount): (String, Notional) = {
            switch plan.transfer {
            case .none: return ("none", .zero)
            case .deposit(let amount): return ("deposit", amount)
            case .withdraw(let amount): return ("withdraw", amount)
            }
        }()
        if json {
            emit(
                json: .object([
                    ("new_short", .exact(plan.newShort)), ("side", .string(tradeSide)), ("quantity", .exact(tradeSize)),
                    ("target_collateral", .exact(plan.targetCollateral)), ("transfer_kind", .string(transferKind)),
                    ("transfer", .exact(transferKind == "withdraw" ? Notional(raw: 0 &- transferAmount.raw) : transferAmount)),
                    ("liquidation_price", .exact(plan.liquidationPrice)), ("warning_price", .exact(plan.warningPrice)),
                ]))
            return
        }
        print(
            TextTable.pairs([
                ("short", tradeSide == "none" ? "keep \(plan.newShort) NMR" : "\(tradeSide) \(tradeSize) NMR → short \(plan.newShort) NMR"),
                (
                    "collateral",
                    transferKind == "none"
                        ? "keep $\(plan.targetCollateral.formatted(places: 2))"
                        : "\(transferKind) $\(transferAmount.formatted(places: 2, rule: transferKind == "deposit" ? .up : .down)) → $\(plan.targetCollateral.formatted(places: 2, rule: .up))"
                ),
                ("liquidation price", "$\(plan.liquidationPrice.formatted(places: 4, rule: .down))"),
                ("warn above", "$\(plan.warningPrice.formatted(places: 4, rule: .down))  (\(warn) of the way to liquidation)"),
            ]))
    }
}

extension MarginSchedule {
    /// The maintenance fraction of a flat schedule, or the first bracket's.
    var maintenanceRate: Rate {
        switch self {
        case .fractions(_, let maintenance): return maintenance
        case .brackets(let brackets): return brackets.first?.maintenanceRate ?? .zero
        }
    }
}
