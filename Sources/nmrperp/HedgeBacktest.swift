import ArgumentParser
import Foundation
import PerpHedge
import PerpMarketData
import PerpModel
import PerpSimulation

/// Loads the price and funding history a hedge simulation runs on, and says what it lacks.
struct HedgeHistory {
    var series: PerpModel.CandleSeries
    var funding: [FundingRate]
    var notes: [String]

    static func load(data: String, funding path: String?) throws -> HedgeHistory {
        let series = try Load.candles(data)
        guard series.count >= 2 else { throw CLIError("\(data): at least two bars are needed to simulate a hedge (got \(series.count))") }
        var notes: [String] = []
        var funding: [FundingRate] = []
        let first = series.openTimes[0]
        let last = series.openTimes[series.count - 1]
        if let path {
            funding = try Load.funding(path, defaultInterval: .hours(8))
            let inside = funding.filter { $0.time.milliseconds > first && $0.time.milliseconds <= last }
            if inside.isEmpty {
                notes.append(
                    "\(path) has no settlement between the first and last bar (\(Timestamp(milliseconds: first).isoDate) to \(Timestamp(milliseconds: last).isoDate)): no funding was paid"
                )
            } else if let from = inside.first?.time, let to = inside.last?.time,
                from.milliseconds - first > 86_400_000 || last - to.milliseconds > 86_400_000
            {
                notes.append("funding covers only \(from.isoDate) to \(to.isoDate) of the price history; the rest has none")
            }
        } else {
            notes.append("no --funding file: funding is not included (fetch one with `nmrperp funding fetch`)")
        }
        let gaps = series.gaps()
        if !gaps.isEmpty {
            let missing = gaps.reduce(Int64(0)) { $0 + $1.missingBars }
            notes.append(
                "the price history has \(gaps.count) gap(s), \(missing) bars missing; they are not bridged: a move inside a gap shows at the bar after it"
            )
        }
        return HedgeHistory(series: series, funding: funding, notes: notes)
    }
}

/// Option parsing shared by the two commands.
enum HedgeOptions {
    static func fee(_ text: String) throws -> Rate {
        let fee: Rate = try Parse.nonNegative(text, "--fee", "a fraction of the traded notional", example: "0.0005")
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
            has (T + q·(E − P_liq) = M·q·P_liq); it then closes at that price, keeps what is left, \
            and re-opens at the next rebalance. Funding settles at each bar's open from --funding \
            (positive rate: longs pay shorts, so the short receives).

            Hedged value = stake value + collateral equity − net deposits, so money you moved in is \
            not counted as a gain; unhedged value = stake value. A hedge that never liquidates stays \
            at its starting value plus funding; compare the two drawdowns.

            Examples:
              nmrperp hedge backtest --data binance_spot_NMRUSDT_5m_2022-08_2023-09.csv --stake 100 --collateral-multiple 2.7332
              nmrperp hedge backtest --data nmr_5m.csv --funding lighter_funding.csv --stake 250 --collateral-multiple 2 --rebalance 7d --report hedge.html
              nmrperp hedge backtest --data nmr_5m.csv --stake 100 --collateral-multiple 1.5 --json
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
    @Flag(help: "Print JSON.") var json = false

    func config() throws -> HedgeSimulation.Config {
        let stake: Quantity = try Parse.positive(self.stake, "--stake", "a positive number of NMR", example: "100")
        let k: Rate = try Parse.positive(collateralMultiple, "--collateral-multiple", "a positive number", example: "2.7332")
        let period = try HedgeOptions.period(rebalance, "--rebalance")
        let margin = try Parse.fraction(marginFraction, "--margin-fraction", example: "0.2")
        let fee = try HedgeOptions.fee(self.fee)
        let config = HedgeSimulation.Config(
            stake: stake, collateralMultiple: k, rebalance: period, maintenanceFraction: margin, takerFee: fee)
        do { try config.validate() } catch { throw CLIError(String(describing: error)) }
        return config
    }

    func run() async throws {
        let config = try config()
        let history = try HedgeHistory.load(data: data, funding: funding)
        let result = HedgeSimulation.run(history.series, funding: history.funding, config: config)
        var notes = history.notes
        if result.liquidations > 0 {
            notes.append(
                "liquidated \(result.liquidations) time(s): raise --collateral-multiple or shorten --rebalance (see `nmrperp hedge survival`)"
            )
        }
        if let report {
            let html = HedgeReportPage.render(result: result, dataPath: data, fundingPath: funding, notes: notes)
            try writeAtomically(html, to: report)
        }
        if json {
            emit(json: HedgeBacktestCommand.json(result, notes: notes, report: report))
            return
        }
        print(TextTable.pairs(HedgeBacktestCommand.rows(result)))
        let liquidations = result.liquidationEvents
        for event in liquidations.prefix(20) {
            print(
                "  liquidated \(event.time.iso8601) at $\(event.price.formatted(places: 4)): $\(event.collateralAfter.formatted(places: 2)) left"
                    + (event.shortfall.isPositive ? ", shortfall $\(event.shortfall.formatted(places: 2))" : ""))
        }
        if liquidations.count > 20 { print("  … \(liquidations.count - 20) more (see --json)") }
        for note in notes { print("note: \(note)") }
        if let report { print("wrote report to \(report)") }
    }

    static func usd(_ value: Notional) -> String {
        value.isNegative ? "-$\((-value).formatted(places: 2))" : "$\(value.formatted(places: 2))"
    }

    static func change(_ start: Notional, _ end: Notional) -> String {
        guard start.isPositive else { return "" }
        let fraction = (end - start).doubleValue / start.doubleValue
        return " (\(fraction >= 0 ? "+" : "")\(percent(fraction)))"
    }

    static func rows(_ result: HedgeSimulationResult) -> [(String, String)] {
        let config = result.config
        let first = result.firstBar?.iso8601 ?? "-"
        let last = result.lastBar?.iso8601 ?? "-"
        let firstLiquidation = result.events.first?.liquidationPrice.map { "$\($0.formatted(places: 4, rule: .down))" } ?? "none"
        let funding =
            result.fundingPaid.isNegative
            ? "received \(usd(-result.fundingPaid)) (\(result.fundingSettlements) settlements)"
            : "paid \(usd(result.fundingPaid)) (\(result.fundingSettlements) settlements)"
        return [
            ("bars", "\(result.bars), \(first) to \(last)"),
            (
                "hedge",
                "short \(config.stake) NMR, k = \(config.collateralMultiple), rebalance every \(config.rebalance), M = \(config.maintenanceFraction), fee \(config.takerFee)"
            ),
            (
                "opened",
                "at $\(result.initialPrice) with collateral \(usd(result.initialCollateral)); liquidation price \(firstLiquidation)"
            ),
            ("liquidations", result.liquidations == 0 ? "0 (survived)" : String(result.liquidations)),
            ("rebalances", String(result.rebalances)),
            ("collateral deposited", "\(usd(result.collateralDeposited)) (opening \(usd(result.initialCollateral)) included)"),
            ("collateral withdrawn", usd(result.collateralWithdrawn)),
            ("funding", funding),
            ("fees", usd(result.feesPaid)),
            ("shortfall", usd(result.shortfall)),
            ("hedged value", "\(usd(result.hedgedStart)) → \(usd(result.hedgedEnd))\(change(result.hedgedStart, result.hedgedEnd))"),
            (
                "unhedged value",
                "\(usd(result.unhedgedStart)) → \(usd(result.unhedgedEnd))\(change(result.unhedgedStart, result.unhedgedEnd))"
            ),
            ("max drawdown", "hedged \(percent(result.hedgedMaxDrawdown)), unhedged \(percent(result.unhedgedMaxDrawdown))"),
            (
                "collateral",
                "worst fall \(percent(result.maxCollateralDrawdown)) within a period; closest approach \(percent(result.maxLiquidationProximity, places: 1)) of the way to liquidation"
            ),
            (
                "end",
                "collateral equity \(usd(result.finalCollateralEquity)), short \(result.shortOpenAtEnd ? "open" : "closed (liquidated)")"
            ),
        ]
    }

    static func json(_ result: HedgeSimulationResult, notes: [String], report: String?) -> JSONValue {
        let config = result.config
        var members: [(String, JSONValue)] = [
            ("liquidations", .int(result.liquidations)), ("rebalances", .int(result.rebalances)),
            ("collateral_deposited", .exact(result.collateralDeposited)), ("collateral_withdrawn", .exact(result.collateralWithdrawn)),
            ("funding_paid", .exact(result.fundingPaid)), ("hedged_start_usd", .exact(result.hedgedStart)),
            ("hedged_end_usd", .exact(result.hedgedEnd)),
            ("unhedged_start_usd", .exact(result.unhedgedStart)), ("unhedged_end_usd", .exact(result.unhedgedEnd)),
            ("hedged_max_drawdown", .double(result.hedgedMaxDrawdown)), ("unhedged_max_drawdown", .double(result.unhedgedMaxDrawdown)),
            ("stake_nmr", .exact(config.stake)), ("collateral_multiple", .exact(config.collateralMultiple)),
            ("rebalance", .string(config.rebalance.description)),
            ("margin_fraction", .exact(config.maintenanceFraction)), ("fee", .exact(config.takerFee)), ("bars", .int(result.bars)),
            ("first_bar", result.firstBar.map { .string($0.iso8601) } ?? .null),
            ("last_bar", result.lastBar.map { .string($0.iso8601) } ?? .null),
            ("initial_price", .exact(result.initialPrice)), ("final_price", .exact(result.finalPrice)),
            ("initial_collateral", .exact(result.initialCollateral)),
            ("funding_settlements", .int(result.fundingSettlements)), ("fees_paid", .exact(result.feesPaid)),
            ("shortfall", .exact(result.shortfall)),
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
            ("fee", .exact(event.fee)), ("transfer", .exact(event.transfer)), ("collateral_after", .exact(event.collateralAfter)),
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
              nmrperp hedge survival --data nmr_5m.csv --multiples 1,1.5,2,2.5,3,4 --periods 1d,7d,14d,30d,60d,90d --json
            """)

    @Option(help: "Price history (CSV, Binance or Lighter JSON), e.g. 5-minute bars.") var data: String
    @Option(help: "Funding history (CSV, Binance or Lighter JSON); without it funding is left out.") var funding: String?
    @Option(help: "NMR staked, and shorted (q). Liquidation does not depend on it; deposits and funding scale with it.") var stake: String =
        "100"
    @Option(help: "Collateral multiples k to try, comma-separated.") var multiples: String = "1.5,2,2.7332,3"
    @Option(help: "Rebalancing periods to try, comma-separated (1d, 7d, 30d, 12h).") var periods: String = "7d,30d,90d"
    @Option(help: "Maintenance margin fraction M of the venue (Lighter NMR: 0.2).") var marginFraction: String = "0.2"
    @Option(help: "Taker fee as a fraction of traded notional (0.0005 = 5 bps).") var fee: String = "0"
    @Flag(help: "Print JSON: a list of cells.") var json = false

    func run() async throws {
        let stake: Quantity = try Parse.positive(self.stake, "--stake", "a positive number of NMR", example: "100")
        let multiples = try HedgeOptions.list(self.multiples, "--multiples", example: "1.5,2,2.7332,3") { text -> Rate in
            try Parse.positive(text, "--multiples", "a comma-separated list of positive numbers", example: "1.5,2,2.7332,3")
        }
        let periods = try HedgeOptions.list(self.periods, "--periods", example: "7d,30d,90d") { try HedgeOptions.period($0, "--periods") }
        let margin = try Parse.fraction(marginFraction, "--margin-fraction", example: "0.2")
        let fee = try HedgeOptions.fee(self.fee)
        let history = try HedgeHistory.load(data: data, funding: funding)
        let table = HedgeSimulation.survivalTable(
            series: history.series, funding: history.funding, stake: stake, multiples: multiples, periods: periods, maintenance: margin,
            takerFee: fee)
        if json {
            for note in history.notes { printError("note: \(note)") }
            emit(json: .array(table.flatMap { $0.map { HedgeSurvivalCommand.cellJSON($0, stake: stake, margin: margin) } }))
            return
        }
        let header = ["k"] + periods.map(\.description)
        let rows = zip(multiples, table).map { k, row in [k.description] + row.map { $0.survived ? "ok" : "\($0.liquidations) liq" } }
        print(TextTable.grid(header, rows))
        print("")
        print(
            "ok: never liquidated; N liq: liquidated N times (re-hedged at the next rebalance). \(history.series.count) bars, stake \(stake) NMR, M = \(margin)."
        )
        let smallest = periods.indices.map { column -> String in
            let safe = zip(multiples, table).filter { $0.1[column].survived }.map(\.0).min()
            return "\(periods[column]): \(safe.map(\.description) ?? "none of these")"
        }
        print("smallest k that survived: \(smallest.joined(separator: ", "))")
        for note in history.notes { print("note: \(note)") }
    }

    static func cellJSON(_ cell: SurvivalCell, stake: Quantity, margin: Rate) -> JSONValue {
        .object([
            ("collateral_multiple", .exact(cell.collateralMultiple)), ("period", .string(cell.period.description)),
            ("period_days", .double(cell.period.days)), ("liquidations", .int(cell.liquidations)), ("survived", .bool(cell.survived)),
            ("rebalances", .int(cell.rebalances)), ("max_collateral_drawdown", .double(cell.maxCollateralDrawdown)),
            ("max_liquidation_proximity", .double(cell.maxLiquidationProximity)), ("collateral_deposited", .exact(cell.deposited)),
            ("collateral_withdrawn", .exact(cell.withdrawn)), ("funding_paid", .exact(cell.fundingPaid)),
            ("shortfall", .exact(cell.shortfall)),
            ("stake_nmr", .exact(stake)), ("margin_fraction", .exact(margin)),
        ])
    }
}

/// The self-contained HTML page of `hedge backtest --report`: the figures and two inline SVG
/// line charts (hedged vs unhedged value; collateral equity with the liquidations marked).
enum HedgeReportPage {
    struct Line {
        var label: String
        var color: String
        var values: [Double]
    }

    struct Marker {
        var time: Int64
        var label: String
        var color: String
    }

    static func render(result: HedgeSimulationResult, dataPath: String, fundingPath: String?, notes: [String]) -> String {
        let values = result.values
        let scale = Double(Notional.scale)
        let hedged = values.hedged.map { Double($0) / scale }
        let unhedged = values.unhedged.map { Double($0) / scale }
        let equity = values.collateralEquity.map { Double($0) / scale }
        let markers = result.events.compactMap { event -> Marker? in
            switch event.kind {
            case .liquidation:
                return Marker(time: event.time.milliseconds, label: "liquidated at $\(event.price.formatted(places: 4))", color: "#c0392b")
            case .rehedge:
                return Marker(time: event.time.milliseconds, label: "re-hedged at $\(event.price.formatted(places: 4))", color: "#7f8c8d")
            case .open, .rebalance: return nil
            }
        }
        let config = result.config
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>NMR stake hedge backtest</title>
            <style>
            body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:980px;color:#222}
            h1{font-size:22px}h2{font-size:17px;margin-top:28px}
            table{border-collapse:collapse}td{padding:3px 14px 3px 0;vertical-align:top}td:first-child{color:#555}
            .note{color:#8a5a00}svg{background:#fafafa;border:1px solid #e2e2e2}
            </style></head><body>
            <h1>NMR stake hedge: short \(esc(config.stake.description)) NMR, k = \(esc(config.collateralMultiple.description)), rebalanced every \(esc(config.rebalance.description))</h1>
            <p>Data: \(esc(dataPath))\(fundingPath.map { "; funding: " + esc($0) } ?? "; no funding"). Hedged value = stake value + collateral equity − net deposits (spec §1); unhedged value = stake value.</p>
            <table>

            """
        for (label, value) in HedgeBacktestCommand.rows(result) { html += "<tr><td>\(esc(label))</td><td>\(esc(value))</td></tr>\n" }
        html += "</table>\n"
        for note in notes { html += "<p class=\"note\">Note: \(esc(note))</p>\n" }
        html += "<h2>Hedged vs unhedged value (USD)</h2>\n"
        html += chart(
            times: values.times,
            lines: [
                Line(label: "hedged", color: "#1f6fb2", values: hedged),
                Line(label: "unhedged (stake only)", color: "#e67e22", values: unhedged),
            ],
            markers: markers)
        html += "<h2>Collateral equity (USD): collateral plus the short's unrealised PnL</h2>\n"
        html += chart(times: values.times, lines: [Line(label: "collateral equity", color: "#27ae60", values: equity)], markers: markers)
        let liquidations = result.liquidationEvents
        if !liquidations.isEmpty {
            html += "<h2>Liquidations</h2>\n<table>\n"
            for event in liquidations.prefix(200) {
                html +=
                    "<tr><td>\(esc(event.time.iso8601))</td><td>at $\(esc(event.price.formatted(places: 4))); $\(esc(event.collateralAfter.formatted(places: 2))) left"
                    + (event.shortfall.isPositive ? "; shortfall $\(esc(event.shortfall.formatted(places: 2)))" : "") + "</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "</body></html>\n"
        return html
    }

    static func esc(_ text: String) -> String {
        var output = ""
        for character in text {
            switch character {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            default: output.append(character)
            }
        }
        return output
    }

    static func number(_ value: Double) -> String { formatFixed(value, 1) }

    /// A line chart of `lines` over `times`, downsampled to the first, lowest, highest and last
    /// point of each pixel column (the drawn line looks the same as with every point).
    static func chart(times: [Int64], lines: [Line], markers: [Marker], width: Double = 960, height: Double = 300) -> String {
        guard let t0 = times.first, let t1 = times.last, times.count >= 2 else { return "<p>Not enough data to chart.</p>\n" }
        let left = 70.0
        let right = 16.0
        let top = 28.0
        let bottom = 34.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        var low = Double.infinity
        var high = -Double.infinity
        for line in lines {
            for value in line.values {
                low = min(low, value)
                high = max(high, value)
            }
        }
        if !(high > low) {
            let pad = low == 0 ? 1 : abs(low) * 0.05
            low -= pad
            high += pad
        }
        let step = niceStep((high - low) / 5)
        low = (low / step).rounded(.down) * step
        high = (high / step).rounded(.up) * step
        let span = Double(max(t1 - t0, 1))
        func x(_ time: Int64) -> Double { left + Double(time - t0) / span * plotWidth }
        func y(_ value: Double) -> Double { top + (high - value) / (high - low) * plotHeight }

        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-size=\"11\" font-family=\"sans-serif\">\n"
        // Value grid and labels.
        var tick = low
        var guardCount = 0
        while tick <= high + step / 2, guardCount < 50 {
            let ty = y(tick)
            svg +=
                "<line x1=\"\(number(left))\" y1=\"\(number(ty))\" x2=\"\(number(left + plotWidth))\" y2=\"\(number(ty))\" stroke=\"#e4e4e4\"/>"
            svg +=
                "<text x=\"\(number(left - 6))\" y=\"\(number(ty + 4))\" text-anchor=\"end\" fill=\"#555\">\(esc(formatDouble(tick, significant: 8)))</text>\n"
            tick += step
            guardCount += 1
        }
        // Time labels: six dates across.
        for index in 0...5 {
            let time = t0 + Int64(Double(t1 - t0) * Double(index) / 5)
            let anchor = index == 0 ? "start" : (index == 5 ? "end" : "middle")
            svg +=
                "<text x=\"\(number(x(time)))\" y=\"\(number(top + plotHeight + 20))\" text-anchor=\"\(anchor)\" fill=\"#555\">\(Timestamp(milliseconds: time).isoDate)</text>\n"
        }
        svg +=
            "<rect x=\"\(number(left))\" y=\"\(number(top))\" width=\"\(number(plotWidth))\" height=\"\(number(plotHeight))\" fill=\"none\" stroke=\"#bbb\"/>\n"
        for marker in markers {
            let mx = x(marker.time)
            svg +=
                "<line x1=\"\(number(mx))\" y1=\"\(number(top))\" x2=\"\(number(mx))\" y2=\"\(number(top + plotHeight))\" stroke=\"\(marker.color)\" stroke-dasharray=\"3,3\"><title>\(esc(Timestamp(milliseconds: marker.time).iso8601 + ": " + marker.label))</title></line>\n"
        }
        let columns = max(Int(plotWidth), 1)
        // The first line is drawn last, on top.
        for line in lines.reversed() {
            let picked = downsample(times: times, values: line.values, t0: t0, span: span, columns: columns)
            var points = ""
            points.reserveCapacity(picked.count * 14)
            for index in picked { points += "\(number(x(times[index]))),\(number(y(line.values[index]))) " }
            svg += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"1.4\" points=\"\(points)\"/>\n"
        }
        // Legend.
        var legendX = left
        for line in lines {
            svg += "<rect x=\"\(number(legendX))\" y=\"9\" width=\"14\" height=\"4\" fill=\"\(line.color)\"/>"
            svg += "<text x=\"\(number(legendX + 18))\" y=\"15\" fill=\"#333\">\(esc(line.label))</text>\n"
            legendX += 30 + Double(line.label.count) * 6.5
        }
        if !markers.isEmpty {
            svg +=
                "<text x=\"\(number(left + plotWidth))\" y=\"15\" text-anchor=\"end\" fill=\"#c0392b\">dashed: liquidations (red), re-hedges (grey)</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// Indices of the first, lowest, highest and last point of each pixel column, in order.
    static func downsample(times: [Int64], values: [Double], t0: Int64, span: Double, columns: Int) -> [Int] {
        let n = min(times.count, values.count)
        guard n > columns * 4 else { return Array(0..<n) }
        var picked: [Int] = []
        picked.reserveCapacity(columns * 4)
        var column = -1
        var first = 0
        var lowest = 0
        var highest = 0
        var last = 0
        func flush() {
            for index in Set([first, lowest, highest, last]).sorted() { picked.append(index) }
        }
        for index in 0..<n {
            let next = min(max(Int(Double(times[index] - t0) / span * Double(columns)), 0), columns - 1)
            if next != column {
                if column >= 0 { flush() }
                column = next
                first = index
                lowest = index
                highest = index
            } else {
                if values[index] < values[lowest] { lowest = index }
                if values[index] > values[highest] { highest = index }
            }
            last = index
        }
        flush()
        return picked
    }

    /// A round step (1, 2, 2.5 or 5 × 10^k) at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        for multiple in [1.0, 2, 2.5, 5] where multiple * magnitude >= raw { return multiple * magnitude }
        return 10 * magnitude
    }
}
