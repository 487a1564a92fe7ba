import PerpModel
import PerpSimulation

/// A self-contained HTML report: inline CSS and inline SVG, no scripts, fonts, images or links
/// to anything outside the file, so it opens the same in any browser, offline.
///
/// Long series are downsampled per pixel column (first, lowest, highest and last point of each
/// of ``chartColumns`` columns), so a year of 1-minute bars draws the same lines from a few
/// thousand points and the file stays around 200 kB. All text is escaped; the output depends only
/// on the inputs.
public enum HTMLReport {
    /// Width of a chart's plot area in SVG pixels, and the number of downsampling columns.
    public static let chartColumns = 1170
    /// Trades listed in the table (the CSV has them all).
    public static let maximumTradeRows = 200
    /// Entry and exit markers drawn at most on the price chart (after dropping markers that
    /// would land on the same pixel).
    public static let maximumMarkers = 5000

    private static let svgWidth = 1300
    private static let plotLeft = 90.0

    /// Escapes `& < > " '` for HTML text and attribute values.
    public static func escape(_ text: String) -> String { escapeHTML(text) }

    /// Renders the report.
    /// - Parameters:
    ///   - prices: bar open times (epoch ms) and closes (raw ``Price``) for the price chart; the
    ///     chart says so when `nil`.
    ///   - notes: free text shown under the title (configuration, data source), escaped.
    public static func render(
        title: String, result: BacktestResult, metrics: PerformanceMetrics, prices: (times: [Int64], closes: [Int64])?,
        notes: [String]
    ) -> String {
        var html = ReportPage.intro(title: title, metrics: metrics, bars: result.bars, notes: notes)
        html += "<h2>Metrics</h2>\n" + metricsTable(metrics)
        html += "<h2>Equity and drawdown</h2>\n" + equityChart(result)
        html += "<h2>Price with entries and exits</h2>\n" + priceChart(result, prices: prices)
        html += "<h2>Cumulative funding paid</h2>\n" + fundingChart(result)
        html += "<h2>Exits by reason</h2>\n" + exitsTable(metrics)
        html += "<h2>Trades</h2>\n" + tradesTable(result.trades)
        html += ReportPage.foot
        return html
    }

    // MARK: Tables

    private static let dash = "—"

    private static func metricsTable(_ m: PerformanceMetrics) -> String {
        func percent(_ value: Double?) -> String { value.map { Numerics.percent($0) } ?? dash }
        // An undefined ratio (a flat curve's Sharpe, see PerformanceMetrics) says "n/a", not a dash.
        func ratio(_ value: Double?) -> String { value.map { Numerics.fixed($0, places: 3) } ?? "n/a" }
        var rows: [(String, String)] = [
            ("Initial capital", m.initialCapital.money),
            ("Final equity", m.finalEquity.money),
            ("Total return", percent(m.totalReturn)),
            ("Annualised return", percent(m.annualizedReturn)),
        ]
        let basis =
            m.sampling == .daily
            ? "daily returns, ×√365" : "per-bar returns, ×√" + formatDouble(m.sampling.periodsPerYear, significant: 10)
        rows.append(("Sharpe (\(basis), risk-free 0)", ratio(m.sharpe)))
        rows.append(("Sortino (\(basis))", ratio(m.sortino)))
        rows.append(("Annualised volatility", percent(m.annualizedVolatility)))
        var drawdown = percent(m.maxDrawdown)
        if let peak = m.maxDrawdownPeakTime, let trough = m.maxDrawdownTroughTime {
            drawdown += " (\(peak.iso8601) → \(trough.iso8601))"
        }
        rows.append(("Max drawdown", drawdown))
        rows.append(("Exposure", percent(m.exposure) + " (\(m.barsInMarket) of \(m.bars) bars)"))
        rows.append(("Trades (closed)", "\(m.trades)" + (m.openTrades > 0 ? " (+\(m.openTrades) open)" : "")))
        rows.append(("Win rate", percent(m.winRate) + " (\(m.wins) won, \(m.losses) lost)"))
        rows.append(("Profit factor", ratio(m.profitFactor)))
        rows.append(("Net PnL of closed trades", m.netTradePnL.money))
        rows.append(("Fees paid", m.feesPaid.money))
        rows.append(("Funding paid (negative: received)", m.fundingPaid.money + " (\(m.fundingSettlements) settlements)"))
        rows.append(("Liquidations", "\(m.liquidations)"))
        rows.append(("Insurance fund draws", m.insuranceFundDraws.money))
        rows.append(("Fills", "\(m.fills)"))
        return ReportPage.pairsTable(rows)
    }

    /// Closed trades by exit reason (``ExitReasonSummary``): count, wins and net PnL.
    private static func exitsTable(_ m: PerformanceMetrics) -> String {
        ReportPage.listTable(
            m.exitsByReason, headings: ["Exit", "Trades", "Won", "Net PnL"], limit: FillReason.allCases.count,
            empty: "No closed trades.", shortened: { _ in "" },
            cells: { _, row in
                let netClass = row.netPnL.isPositive ? "pos" : (row.netPnL.isNegative ? "neg" : "")
                return [ReportPage.Cell(row.label), ReportPage.Cell(String(row.trades)), ReportPage.Cell(String(row.wins))]
                    + [ReportPage.Cell(row.netPnL.money, className: netClass)]
            })
            + (m.openTrades > 0 ? "<p>\(m.openTrades) trade\(m.openTrades == 1 ? "" : "s") still open at the end, not counted.</p>\n" : "")
    }

    private static func tradesTable(_ trades: [TradeRecord]) -> String {
        let headings = [
            "#", "Side", "Entry time", "Entry price", "Quantity", "Exit time", "Exit price", "Exit", "Gross PnL", "Fees", "Funding",
            "Net PnL",
        ]
        return ReportPage.listTable(
            trades, headings: headings, limit: maximumTradeRows, empty: "No trades.",
            shortened: { "The first \(maximumTradeRows) of \($0) trades; the CSV lists them all." },
            cells: { index, trade in
                let net = trade.netPnL
                let netClass = net.isPositive ? "pos" : (net.isNegative ? "neg" : "")
                let cells = [
                    String(index + 1), trade.side.rawValue, trade.entryTime.iso8601, trade.entryPrice.description,
                    trade.quantity.description, trade.exitTime?.iso8601 ?? "open", trade.exitPrice?.description ?? "",
                    trade.exitReason?.rawValue ?? "", trade.grossPnL.money, trade.fees.money, trade.funding.money,
                ]
                return cells.map { ReportPage.Cell($0) } + [ReportPage.Cell(net.money, className: netClass)]
            })
    }

    // MARK: Charts

    private static func frame(top: Double, height: Double, t0: Int64, t1: Int64, v0: Double, v1: Double) -> PlotFrame {
        PlotFrame(left: plotLeft, top: top, width: Double(chartColumns), height: height, t0: t0, t1: t1, v0: v0, v1: v1)
    }

    private static func equityChart(_ result: BacktestResult) -> String {
        let curve = result.equity
        var svg = SVGWriter()
        svg.open(width: svgWidth, height: 520, label: "Equity and drawdown")
        guard curve.count > 0 else {
            svg.message("No equity curve was recorded.", in: frame(top: 24, height: 300, t0: 0, t1: 1, v0: 0, v1: 1))
            svg.close()
            return svg.text
        }
        let t0 = curve.times[0]
        let t1 = curve.times[curve.count - 1]
        let scale = Double(Notional.scale)
        var equity = [Double](repeating: 0, count: curve.count)
        var drawdown = [Double](repeating: 0, count: curve.count)
        var peak = result.initialCapital.raw
        var peakIndex = -1
        var worst = (drawdown: 0.0, peak: -1, trough: -1)
        for index in 0..<curve.count {
            let value = curve.equity[index]
            equity[index] = Double(value) / scale
            if value > peak {
                peak = value
                peakIndex = index
            }
            if peak > 0 {
                let fall = Double(value) / Double(peak) - 1
                drawdown[index] = fall * 100
                if -fall > worst.drawdown { worst = (-fall, peakIndex, index) }
            }
        }
        let equitySeries = Series(times: curve.times, values: equity).downsampled(from: t0, to: t1, columns: chartColumns)
        let drawdownSeries = Series(times: curve.times, values: drawdown).downsampled(from: t0, to: t1, columns: chartColumns)

        let initial = result.initialCapital.doubleValue
        let range = equitySeries.range ?? (initial, initial)
        let equityTicks = Axis.valueTicks(min(range.low, initial), max(range.high, initial))
        let top = frame(top: 24, height: 300, t0: t0, t1: t1, v0: equityTicks.low, v1: equityTicks.high)
        svg.axes(top, valueTicks: equityTicks.ticks, valueLabel: Axis.label, timeLabels: false, title: "Equity (USD)")
        let c = SVGWriter.coordinate
        let baseline = c(top.y(initial))
        svg.text += "<line class=\"baseline\" x1=\"\(c(top.left))\" x2=\"\(c(top.right))\" y1=\"\(baseline)\" y2=\"\(baseline)\"/>\n"
        svg.line(equitySeries, in: top, className: "equity")
        if worst.trough >= 0 {
            let peakTime = curve.times[max(worst.peak, 0)]
            let peakValue = worst.peak >= 0 ? equity[worst.peak] : initial
            let troughTime = curve.times[worst.trough]
            svg.text += "<circle class=\"dd-peak\" r=\"4\" cx=\"\(c(top.x(peakTime)))\" cy=\"\(c(top.y(peakValue)))\">"
            svg.text += "<title>drawdown peak \(Timestamp(milliseconds: peakTime).iso8601)</title></circle>\n"
            svg.text += "<circle class=\"dd-trough\" r=\"4\" cx=\"\(c(top.x(troughTime)))\" cy=\"\(c(top.y(equity[worst.trough])))\">"
            svg.text += "<title>drawdown trough \(Timestamp(milliseconds: troughTime).iso8601)</title></circle>\n"
        }

        let lowest = drawdownSeries.range?.low ?? 0
        let drawdownTicks = Axis.valueTicks(min(lowest, -1), 0, target: 3)
        let bottom = frame(top: 360, height: 130, t0: t0, t1: t1, v0: drawdownTicks.low, v1: 0)
        svg.axes(
            bottom, valueTicks: drawdownTicks.ticks.filter { $0 <= 0 }, valueLabel: { Axis.label($0) + " %" }, timeLabels: true,
            title: "Drawdown (%)")
        svg.area(drawdownSeries, baseline: 0, in: bottom, className: "drawdown")
        svg.line(drawdownSeries, in: bottom, className: "drawdown-line")
        svg.close()
        return svg.text
    }

    private enum MarkerKind: UInt8 {
        case long = 0
        case short = 1
        case exit = 2
    }

    private struct MarkerKey: Hashable {
        var kind: UInt8
        var x: Int32
        var y: Int32
    }

    private static func priceChart(_ result: BacktestResult, prices: (times: [Int64], closes: [Int64])?) -> String {
        var svg = SVGWriter()
        svg.open(width: svgWidth, height: 380, label: "Price with entries and exits")
        let count = min(prices?.times.count ?? 0, prices?.closes.count ?? 0)
        guard let prices, count > 0 else {
            svg.message("No price series was supplied.", in: frame(top: 24, height: 320, t0: 0, t1: 1, v0: 0, v1: 1))
            svg.close()
            return svg.text
        }
        let times = Array(prices.times.prefix(count))
        let closes = prices.closes.prefix(count).map { Double($0) / Double(Price.scale) }
        let t0 = times[0]
        let t1 = times[count - 1]
        let series = Series(times: times, values: closes).downsampled(from: t0, to: t1, columns: chartColumns)

        var markers: [(kind: MarkerKind, time: Int64, price: Double, trade: Int)] = []
        for (index, trade) in result.trades.enumerated() {
            if trade.entryTime.milliseconds >= t0, trade.entryTime.milliseconds <= t1 {
                markers.append((trade.side == .long ? .long : .short, trade.entryTime.milliseconds, trade.entryPrice.doubleValue, index))
            }
            if let exit = trade.exitTime, let price = trade.exitPrice, exit.milliseconds >= t0, exit.milliseconds <= t1 {
                markers.append((.exit, exit.milliseconds, price.doubleValue, index))
            }
        }
        var range = series.range ?? (0, 1)
        for marker in markers {
            range.low = min(range.low, marker.price)
            range.high = max(range.high, marker.price)
        }
        let ticks = Axis.valueTicks(range.low, range.high)
        let plot = frame(top: 24, height: 320, t0: t0, t1: t1, v0: ticks.low, v1: ticks.high)
        svg.text += "<defs><path id=\"mk-long\" d=\"M0,-6L5,3L-5,3Z\" fill=\"#2ca02c\"/>"
        svg.text += "<path id=\"mk-short\" d=\"M0,6L5,-3L-5,-3Z\" fill=\"#d62728\"/>"
        svg.text += "<circle id=\"mk-exit\" r=\"4\" fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\"/></defs>\n"
        svg.axes(plot, valueTicks: ticks.ticks, valueLabel: Axis.label, timeLabels: true, title: "Close (USD)")
        svg.line(series, in: plot, className: "price")

        let c = SVGWriter.coordinate
        var seen = Set<MarkerKey>()
        var drawn = 0
        var skipped = 0
        let titled = markers.count <= 1000
        svg.text += "<g class=\"markers\">\n"
        for marker in markers {
            let x = plot.x(marker.time)
            let y = plot.y(marker.price)
            let key = MarkerKey(kind: marker.kind.rawValue, x: Int32(x.rounded(.down)), y: Int32(y.rounded(.down)))
            guard seen.insert(key).inserted else { continue }
            guard drawn < maximumMarkers else {
                skipped += 1
                continue
            }
            drawn += 1
            let id: String
            switch marker.kind {
            case .long: id = "mk-long"
            case .short: id = "mk-short"
            case .exit: id = "mk-exit"
            }
            svg.text += "<use href=\"#\(id)\" x=\"\(c(x))\" y=\"\(c(y))\""
            if titled {
                let trade = result.trades[marker.trade]
                let what: String
                switch marker.kind {
                case .long, .short:
                    what = "trade \(marker.trade + 1) \(trade.side.rawValue) entry \(trade.entryPrice) at \(trade.entryTime.iso8601)"
                case .exit:
                    what =
                        "trade \(marker.trade + 1) exit (\(trade.exitReason?.rawValue ?? "")) \(trade.exitPrice?.description ?? "")"
                        + " at \(trade.exitTime?.iso8601 ?? ""), net \(trade.netPnL)"
                }
                svg.text += "><title>\(escapeHTML(what))</title></use>\n"
            } else {
                svg.text += "/>\n"
            }
        }
        svg.text += "</g>\n"
        var legend = "▲ long entry   ▼ short entry   ○ exit"
        if skipped > 0 { legend += "   (\(skipped) markers not drawn)" }
        svg.text += "<text x=\"\(c(plot.right))\" y=\"\(c(plot.top - 6))\" text-anchor=\"end\" class=\"legend\">"
        svg.text += escapeHTML(legend) + "</text>\n"
        svg.close()
        return svg.text
    }

    private static func fundingChart(_ result: BacktestResult) -> String {
        var svg = SVGWriter()
        svg.open(width: svgWidth, height: 270, label: "Cumulative funding paid")
        let records = result.funding
        let curve = result.equity
        var t0: Int64
        var t1: Int64
        if curve.count > 0 {
            t0 = curve.times[0]
            t1 = curve.times[curve.count - 1]
        } else if let first = records.first, let last = records.last {
            t0 = first.time.milliseconds
            t1 = last.time.milliseconds
        } else {
            svg.message("No funding settlements.", in: frame(top: 24, height: 200, t0: 0, t1: 1, v0: 0, v1: 1))
            svg.close()
            return svg.text
        }
        if let first = records.first { t0 = min(t0, first.time.milliseconds) }
        if let last = records.last { t1 = max(t1, last.time.milliseconds) }

        var times: [Int64] = []
        var values: [Double] = []
        times.reserveCapacity(records.count)
        values.reserveCapacity(records.count)
        var cumulative = Notional.zero
        for record in records {
            cumulative += record.payment
            times.append(record.time.milliseconds)
            values.append(cumulative.doubleValue)
        }
        let series = Series(times: times, values: values).downsampled(from: t0, to: t1, columns: chartColumns)
        let range = series.range ?? (0, 0)
        let ticks = Axis.valueTicks(min(range.low, 0), max(range.high, 0), target: 4)
        let plot = frame(top: 24, height: 200, t0: t0, t1: t1, v0: ticks.low, v1: ticks.high)
        svg.axes(
            plot, valueTicks: ticks.ticks, valueLabel: Axis.label, timeLabels: true,
            title: "Cumulative funding paid (USD; negative: received)")
        let c = SVGWriter.coordinate
        let zero = c(plot.y(0))
        svg.text += "<line class=\"baseline\" x1=\"\(c(plot.left))\" x2=\"\(c(plot.right))\" y1=\"\(zero)\" y2=\"\(zero)\"/>\n"
        if records.isEmpty {
            svg.message("No funding settlements.", in: plot)
        } else {
            svg.steps(series, start: t0, end: t1, in: plot, className: "funding")
        }
        svg.close()
        return svg.text
    }
}
