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

    /// Columns of the hover tooltips (`<title>`s on invisible rectangles, one per column that
    /// holds data): fewer than ``chartColumns``, so a year of 1-minute bars adds a few tens of
    /// kilobytes per chart.
    public static let hoverColumns = 195

    /// A line drawn over the price chart (a strategy's own indicator): one value per bar of the
    /// price series given to ``render(title:result:metrics:prices:notes:overlays:)``, in the same
    /// order; non-finite values (an average before its window is full) are not drawn.
    public struct PriceLine: Sendable {
        public var name: String
        public var values: [Double]

        public init(name: String, values: [Double]) {
            self.name = name
            self.values = values
        }
    }

    /// A time interval `start…end` (epoch ms) shaded on a chart.
    public struct Interval: Sendable, Hashable {
        public var start: Int64
        public var end: Int64

        public init(start: Int64, end: Int64) {
            self.start = start
            self.end = end
        }
    }

    /// The nmr-bot's panel under the price: its blended score on the bars it scored, the entry
    /// thresholds `±threshold`, the circuit-breaker halts and the quiet hours shaded.
    public struct ScorePanel: Sendable {
        /// Bar open times (epoch ms) of the scored bars, ascending.
        public var times: [Int64]
        /// Blended scores, −1…1, one per time.
        public var scores: [Double]
        /// The entry threshold: entries need `|score| ≥ threshold`.
        public var threshold: Double
        /// Circuit-breaker halts: no entries inside.
        public var halts: [Interval]
        /// Quiet hours, UTC `start…end` hours (no entries), or `nil` for none.
        public var quietHours: (start: Int, end: Int)?

        public init(times: [Int64], scores: [Double], threshold: Double, halts: [Interval] = [], quietHours: (start: Int, end: Int)? = nil)
        {
            self.times = times
            self.scores = scores
            self.threshold = threshold
            self.halts = halts
            self.quietHours = quietHours
        }
    }

    /// What a strategy adds to the charts: lines over the price, and the bot's score panel.
    public struct Overlays: Sendable {
        public var priceLines: [PriceLine]
        public var score: ScorePanel?

        public init(priceLines: [PriceLine] = [], score: ScorePanel? = nil) {
            self.priceLines = priceLines
            self.score = score
        }
    }

    /// The simple moving average of `period` closes (raw ``Price``), in USD, one value per
    /// close: `mean(close[i − period + 1 … i])`, NaN for the first `period − 1` bars (and for
    /// all of them when `period < 1`). For charts only (`Double`).
    public static func simpleMovingAverage(_ closes: [Int64], period: Int) -> [Double] {
        var out = [Double](repeating: .nan, count: closes.count)
        guard period >= 1 else { return out }
        var sum: Int128 = 0
        for index in closes.indices {
            sum += Int128(closes[index])
            if index >= period { sum -= Int128(closes[index - period]) }
            if index >= period - 1 { out[index] = Double(sum) / Double(period) / Double(Price.scale) }
        }
        return out
    }

    /// Renders the report.
    /// - Parameters:
    ///   - prices: bar open times (epoch ms) and closes (raw ``Price``) for the price chart, the
    ///     buy-and-hold line and the exposure panel; the charts say so when `nil`.
    ///   - notes: free text shown under the title (configuration, data source), escaped.
    ///   - overlays: the strategy's own lines over the price and the bot's score panel.
    public static func render(
        title: String, result: BacktestResult, metrics: PerformanceMetrics, prices: (times: [Int64], closes: [Int64])?,
        notes: [String], overlays: Overlays = Overlays()
    ) -> String {
        let count = min(prices?.times.count ?? 0, prices?.closes.count ?? 0)
        let bars: PriceBars? =
            count > 0 ? prices.map { PriceBars(times: Array($0.times.prefix(count)), closes: Array($0.closes.prefix(count))) } : nil
        var html = ReportPage.intro(title: title, metrics: metrics, bars: result.bars, notes: notes)
        html += "<h2>Metrics</h2>\n" + metricsTable(metrics)
        html += "<h2>Long and short</h2>\n" + sidesTable(metrics)
        html += "<h2>Monthly returns</h2>\n" + monthlyTable(MonthlyReturns(result.equity, initial: result.initialCapital))
        html += "<h2>Equity and drawdown</h2>\n" + equityChart(result, prices: bars)
        html += "<h2>Price with entries and exits</h2>\n" + priceChart(result, prices: bars, overlays: overlays)
        html += "<h2>Position and leverage</h2>\n" + exposureChart(result, prices: bars)
        html += "<h2>Cumulative funding paid</h2>\n" + fundingChart(result)
        html += "<h2>Exits by reason</h2>\n" + exitsTable(metrics)
        html += "<h2>Trades</h2>\n" + tradesTable(result.trades)
        html += ReportPage.foot
        return html
    }

    /// The price series, non-empty, times and closes of equal length.
    struct PriceBars {
        var times: [Int64]
        var closes: [Int64]

        /// For each of `times` (ascending), the index of the last bar opened at or before it, or
        /// `nil` before the first bar.
        func indices(at times: [Int64]) -> [Int?] {
            var out: [Int?] = []
            out.reserveCapacity(times.count)
            var bar = -1
            for time in times {
                while bar + 1 < self.times.count, self.times[bar + 1] <= time { bar += 1 }
                out.append(bar >= 0 ? bar : nil)
            }
            return out
        }
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
            ("CAGR (annualised return)", percent(m.annualizedReturn)),
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
        rows.append(("Calmar (CAGR ÷ max drawdown)", ratio(m.calmar)))
        if let period = m.longestDrawdown {
            let end = period.recovered ? period.end.iso8601 : "\(period.end.iso8601), not recovered"
            rows.append(("Longest drawdown", "\(duration(period.duration.milliseconds)) (\(period.start.iso8601) → \(end))"))
        } else {
            rows.append(("Longest drawdown", dash))
        }
        func day(_ value: DayReturn?) -> String {
            value.map { Numerics.percent($0.value) + " (" + String($0.day.iso8601.prefix(10)) + ")" } ?? dash
        }
        rows.append(("Best day", day(m.bestDay)))
        rows.append(("Worst day", day(m.worstDay)))
        rows.append(("Exposure", percent(m.exposure) + " (\(m.barsInMarket) of \(m.bars) bars)"))
        rows.append(("Trades (closed)", "\(m.trades)" + (m.openTrades > 0 ? " (+\(m.openTrades) open)" : "")))
        rows.append(("Win rate", percent(m.winRate) + " (\(m.wins) won, \(m.losses) lost)"))
        rows.append(("Profit factor", ratio(m.profitFactor)))
        func money(_ value: Notional?) -> String { value?.money ?? dash }
        rows.append(("Expectancy (mean net PnL per closed trade)", money(m.expectancy)))
        rows.append(("Average win / average loss", money(m.averageWin) + " / " + money(m.averageLoss)))
        rows.append(("Best trade / worst trade", money(m.bestTrade) + " / " + money(m.worstTrade)))
        rows.append(("Average holding time", m.averageHoldingTime.map { duration($0.milliseconds) } ?? dash))
        rows.append(("Net PnL of closed trades", m.netTradePnL.money))
        rows.append(("Fees paid", m.feesPaid.money))
        rows.append(("Funding paid (negative: received)", m.fundingPaid.money + " (\(m.fundingSettlements) settlements)"))
        rows.append(("Liquidations", "\(m.liquidations)"))
        rows.append(("Insurance fund draws", m.insuranceFundDraws.money))
        rows.append(("Fills", "\(m.fills)"))
        return ReportPage.pairsTable(rows)
    }

    /// A length of time in words: `3 d 4 h`, `2 h 5 m`, `45 s`.
    static func duration(_ milliseconds: Int64) -> String {
        let seconds = max(milliseconds, 0) / 1000
        let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60)
        if days > 0 { return "\(days) d \(hours) h" }
        if hours > 0 { return "\(hours) h \(minutes) m" }
        if minutes > 0 { return "\(minutes) m \(seconds % 60) s" }
        return "\(seconds) s"
    }

    /// Closed trades per side: count, wins, win rate and net PnL (``SideSummary``).
    private static func sidesTable(_ m: PerformanceMetrics) -> String {
        let rows = [("long", m.longTrades), ("short", m.shortTrades)]
        guard m.trades > 0 else { return "<p>No closed trades.</p>\n" }
        return ReportPage.listTable(
            rows, headings: ["Side", "Trades", "Won", "Win rate", "Net PnL"], limit: 2, empty: "No closed trades.",
            shortened: { _ in "" },
            cells: { _, row in
                let (name, side) = row
                let netClass = side.netPnL.isPositive ? "pos" : (side.netPnL.isNegative ? "neg" : "")
                return [
                    ReportPage.Cell(name), ReportPage.Cell(String(side.trades)), ReportPage.Cell(String(side.wins)),
                    ReportPage.Cell(side.winRate.map { Numerics.percent($0) } ?? dash),
                    ReportPage.Cell(side.netPnL.money, className: netClass),
                ]
            })
    }

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Years as rows, months as columns, the year's total last (``MonthlyReturns``).
    private static func monthlyTable(_ table: MonthlyReturns) -> String {
        guard !table.years.isEmpty else { return "<p>No equity curve was recorded.</p>\n" }
        var html = "<table class=\"trades monthly\">\n<tr><th>Year</th>"
        for name in monthNames { html += "<th>\(name)</th>" }
        html += "<th>Year</th></tr>\n"
        func cell(_ value: Double?) -> String {
            guard let value else { return "<td></td>" }
            let className = value > 0 ? " class=\"pos\"" : (value < 0 ? " class=\"neg\"" : "")
            return "<td\(className)>\(escapeHTML(Numerics.percent(value)))</td>"
        }
        for year in table.years {
            html += "<tr><th>\(year.year)</th>"
            for month in year.months { html += cell(month) }
            html += cell(year.total) + "</tr>\n"
        }
        return html + "</table>\n"
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

    /// Equity with buy and hold (`initial capital × close / first close`, from the price
    /// series) over it, and the drawdown from the running peak below; hover gives the values.
    private static func equityChart(_ result: BacktestResult, prices: PriceBars?) -> String {
        let curve = result.equity
        var svg = SVGWriter()
        svg.open(width: svgWidth, height: 545, label: "Equity and drawdown")
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
        // Buy and hold over the equity's time range, from the first close in it.
        let capital = result.initialCapital
        var holdTimes: [Int64] = []
        var holdValues: [Double] = []
        var firstClose: Int64?
        if let prices {
            for index in prices.times.indices where prices.times[index] >= t0 && prices.times[index] <= t1 {
                guard let first = firstClose else {
                    if prices.closes[index] > 0 { firstClose = prices.closes[index] } else { continue }
                    holdTimes.append(prices.times[index])
                    holdValues.append(capital.doubleValue)
                    continue
                }
                holdTimes.append(prices.times[index])
                holdValues.append(capital.doubleValue * Double(prices.closes[index]) / Double(first))
            }
        }
        let holdSeries = Series(times: holdTimes, values: holdValues).downsampled(from: t0, to: t1, columns: chartColumns)

        let initial = capital.doubleValue
        var range = equitySeries.range ?? (initial, initial)
        if let hold = holdSeries.range { range = (min(range.low, hold.low), max(range.high, hold.high)) }
        let equityTicks = Axis.valueTicks(min(range.low, initial), max(range.high, initial))
        let top = frame(top: 24, height: 300, t0: t0, t1: t1, v0: equityTicks.low, v1: equityTicks.high)
        svg.axes(top, valueTicks: equityTicks.ticks, valueLabel: Axis.label, timeLabels: false, title: "Equity (USD)")
        let c = SVGWriter.coordinate
        let baseline = c(top.y(initial))
        svg.text += "<line class=\"baseline\" x1=\"\(c(top.left))\" x2=\"\(c(top.right))\" y1=\"\(baseline)\" y2=\"\(baseline)\"/>\n"
        svg.line(holdSeries, in: top, className: "hold")
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

        // Hover over the equity panel (its tooltip gives the drawdown too): the values at the last
        // bar of each column.
        let closeAt = prices?.indices(at: curve.times)
        let describe = { (index: Int) -> String in
            var text = shortTime(curve.times[index]) + " · equity " + Notional(raw: curve.equity[index]).money
            text += " · drawdown " + Numerics.percent(drawdown[index] / 100)
            if let prices, let first = firstClose, let bar = closeAt?[index] ?? nil,
                let hold = Int64(
                    exactly: FixedMath.divide(Int128(capital.raw) * Int128(prices.closes[bar]), Int128(first), .toNearestOrEven))
            {
                text += " · buy and hold " + Notional(raw: hold).money
            }
            return text
        }
        svg.hover(top, times: curve.times, columns: hoverColumns, describe: describe)

        var keys = [LegendKey(swatch: .line(className: "equity"), label: "equity")]
        if !holdTimes.isEmpty {
            keys.append(LegendKey(swatch: .line(className: "hold"), label: "buy and hold (capital × close ÷ first close)"))
        }
        keys.append(LegendKey(swatch: .line(className: "baseline"), label: "initial capital"))
        if worst.trough >= 0 {
            keys.append(LegendKey(swatch: .marker(id: "lg-peak"), label: "max drawdown peak"))
            keys.append(LegendKey(swatch: .marker(id: "lg-trough"), label: "max drawdown trough"))
        }
        keys.append(LegendKey(swatch: .area(className: "drawdown"), label: "drawdown from the running peak"))
        svg.text +=
            "<defs><circle id=\"lg-peak\" r=\"4\" class=\"dd-peak\"/><circle id=\"lg-trough\" r=\"4\" class=\"dd-trough\"/></defs>\n"
        svg.legend(keys, x: top.left, y: bottom.bottom + 44)
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

    /// Pixels between a price and the centre of an entry marker: a long entry's triangle sits
    /// below the price pointing up at it, a short entry's above pointing down, and an exit's
    /// cross on the price itself, so an exit and an entry on the same bar (a reversal) never
    /// cover each other.
    private static let entryOffset = 9.0

    private static func priceChart(_ result: BacktestResult, prices: PriceBars?, overlays: Overlays) -> String {
        var svg = SVGWriter()
        let panel = overlays.score
        let priceHeight = 320.0
        let scoreTop = 24 + priceHeight + 40
        let scoreHeight = 150.0
        let plotBottom = panel == nil ? 24 + priceHeight : scoreTop + scoreHeight
        svg.open(width: svgWidth, height: Int(plotBottom) + 62, label: "Price with entries and exits")
        guard let prices else {
            svg.message("No price series was supplied.", in: frame(top: 24, height: priceHeight, t0: 0, t1: 1, v0: 0, v1: 1))
            svg.close()
            return svg.text
        }
        let times = prices.times
        let count = times.count
        let closes = prices.closes.map { Double($0) / Double(Price.scale) }
        let t0 = times[0]
        let t1 = times[count - 1]
        let series = Series(times: times, values: closes).downsampled(from: t0, to: t1, columns: chartColumns)
        let lines = overlays.priceLines.map { line -> Series in
            var kept = Series(times: [], values: [])
            for index in 0..<min(count, line.values.count) where line.values[index].isFinite {
                kept.times.append(times[index])
                kept.values.append(line.values[index])
            }
            return kept.downsampled(from: t0, to: t1, columns: chartColumns)
        }

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
        for line in lines {
            if let r = line.range { range = (min(range.low, r.low), max(range.high, r.high)) }
        }
        let ticks = Axis.valueTicks(range.low, range.high)
        let plot = frame(top: 24, height: priceHeight, t0: t0, t1: t1, v0: ticks.low, v1: ticks.high)
        svg.text += "<defs><path id=\"mk-long\" d=\"M0,-5L5,4L-5,4Z\" class=\"mk-long\"/>"
        svg.text += "<path id=\"mk-short\" d=\"M0,5L5,-4L-5,-4Z\" class=\"mk-short\"/>"
        svg.text += "<path id=\"mk-exit\" d=\"M-4,-4L4,4M-4,4L4,-4\" class=\"mk-exit\"/></defs>\n"
        svg.axes(plot, valueTicks: ticks.ticks, valueLabel: Axis.label, timeLabels: panel == nil, title: "Close (USD)")
        svg.line(series, in: plot, className: "price")
        for (index, line) in lines.enumerated() { svg.line(line, in: plot, className: "overlay\(index % overlayClasses)") }

        let c = SVGWriter.coordinate
        var seen = Set<MarkerKey>()
        var drawn = 0
        var skipped = 0
        let titled = markers.count <= 1000
        svg.text += "<g class=\"markers\">\n"
        for marker in markers {
            let x = plot.x(marker.time)
            var y = plot.y(marker.price)
            switch marker.kind {
            case .long: y += entryOffset
            case .short: y -= entryOffset
            case .exit: break
            }
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
                        + " at \(trade.exitTime?.iso8601 ?? ""), net \(trade.netPnL.money)"
                }
                svg.text += "><title>\(escapeHTML(what))</title></use>\n"
            } else {
                svg.text += "/>\n"
            }
        }
        svg.text += "</g>\n"
        if skipped > 0 {
            svg.text += "<text x=\"\(c(plot.right))\" y=\"\(c(plot.top - 6))\" text-anchor=\"end\" class=\"legend\">"
            svg.text += escapeHTML("\(skipped) markers not drawn") + "</text>\n"
        }
        svg.hover(plot, times: times, columns: hoverColumns) { index in
            var text = shortTime(times[index]) + " · close " + Price(raw: prices.closes[index]).description
            for line in overlays.priceLines where index < line.values.count && line.values[index].isFinite {
                text += " · \(line.name) " + formatDouble(line.values[index], significant: 6)
            }
            return text
        }

        var keys = [LegendKey(swatch: .line(className: "price"), label: "close")]
        for (index, line) in overlays.priceLines.enumerated() {
            keys.append(LegendKey(swatch: .line(className: "overlay\(index % overlayClasses)"), label: line.name))
        }
        keys += [
            LegendKey(swatch: .marker(id: "mk-long"), label: "long entry"),
            LegendKey(swatch: .marker(id: "mk-short"), label: "short entry"),
            LegendKey(swatch: .marker(id: "mk-exit"), label: "exit (on the exit price; entries sit just off theirs)"),
        ]
        if let panel {
            let scoreFrame = frame(top: scoreTop, height: scoreHeight, t0: t0, t1: t1, v0: -1, v1: 1)
            keys += scorePanel(panel, in: scoreFrame, svg: &svg)
        }
        svg.legend(keys, x: plot.left, y: plotBottom + 44)
        svg.close()
        return svg.text
    }

    /// How many overlay line styles the stylesheet has (`overlay0`…).
    private static let overlayClasses = 4

    /// Draws the bot's score panel into `plot` (values −1…1) and returns its legend keys.
    private static func scorePanel(_ panel: ScorePanel, in plot: PlotFrame, svg: inout SVGWriter) -> [LegendKey] {
        let c = SVGWriter.coordinate
        svg.axes(
            plot, valueTicks: [-1, -0.5, 0, 0.5, 1], valueLabel: Axis.label, timeLabels: true, title: "Blended score (bars it was weighed)")
        var keys: [LegendKey] = []
        // Quiet hours, shaded when a day is at least 6 pixels wide (about 200 days or less).
        let day: Int64 = 86_400_000
        let dayPixels = Double(day) / Double(max(plot.t1 - plot.t0, 1)) * plot.width
        if let quiet = panel.quietHours, quiet.start != quiet.end, (0...24).contains(quiet.start), (0...24).contains(quiet.end) {
            if dayPixels >= 6 {
                svg.text += "<g class=\"quiet\">"
                var midnight = (plot.t0 / day - 1) * day
                while midnight <= plot.t1 {
                    let spans: [(Int, Int)] = quiet.start < quiet.end ? [(quiet.start, quiet.end)] : [(0, quiet.end), (quiet.start, 24)]
                    for (from, to) in spans {
                        let a = max(midnight + Int64(from) * 3_600_000, plot.t0)
                        let b = min(midnight + Int64(to) * 3_600_000, plot.t1)
                        guard b > a else { continue }
                        svg.text +=
                            "<rect x=\"\(c(plot.x(a)))\" y=\"\(c(plot.top))\" width=\"\(c(plot.x(b) - plot.x(a)))\" height=\"\(c(plot.height))\"/>"
                    }
                    midnight += day
                }
                svg.text += "</g>\n"
                keys.append(LegendKey(swatch: .area(className: "quiet"), label: "quiet hours \(quiet.start):00–\(quiet.end):00 UTC"))
            } else {
                keys.append(
                    LegendKey(
                        swatch: .area(className: "quiet"),
                        label: "quiet hours \(quiet.start):00–\(quiet.end):00 UTC (too narrow to shade here)"))
            }
        }
        let halts = panel.halts.filter { $0.end > plot.t0 && $0.start <= plot.t1 }
        if !halts.isEmpty {
            svg.text += "<g class=\"halt\">"
            for halt in halts {
                let a = max(halt.start, plot.t0)
                let b = min(halt.end, plot.t1)
                svg.text +=
                    "<rect x=\"\(c(plot.x(a)))\" y=\"\(c(plot.top))\" width=\"\(c(max(plot.x(b) - plot.x(a), 1)))\" height=\"\(c(plot.height))\">"
                svg.text +=
                    "<title>\(escapeHTML("circuit breaker: no entries " + shortTime(halt.start) + " → " + shortTime(halt.end)))</title></rect>"
            }
            svg.text += "</g>\n"
            keys.append(LegendKey(swatch: .area(className: "halt"), label: "circuit-breaker halt"))
        }
        for value in [panel.threshold, -panel.threshold, 0] where value >= -1 && value <= 1 {
            let y = c(plot.y(value))
            svg.text +=
                "<line class=\"\(value == 0 ? "baseline" : "threshold")\" x1=\"\(c(plot.left))\" x2=\"\(c(plot.right))\" y1=\"\(y)\" y2=\"\(y)\"/>\n"
        }
        keys.append(
            LegendKey(swatch: .line(className: "threshold"), label: "entry thresholds ±" + formatDouble(panel.threshold, significant: 6)))
        let count = min(panel.times.count, panel.scores.count)
        var kept = Series(times: [], values: [])
        for index in 0..<count where panel.scores[index].isFinite {
            kept.times.append(panel.times[index])
            kept.values.append(max(-1, min(1, panel.scores[index])))
        }
        if kept.count == 0 {
            svg.message("No bar was scored.", in: plot)
        } else {
            // Bars the bot did not weigh (a position open) leave a gap, not a joining line.
            var gap = Int64.max
            for index in 1..<max(kept.count, 1) where kept.times[index] > kept.times[index - 1] {
                gap = min(gap, kept.times[index] - kept.times[index - 1])
            }
            let column = (plot.t1 - plot.t0) / Int64(chartColumns)
            let limit = gap == Int64.max ? Int64.max : 2 * max(gap, column)
            let drawn = kept.downsampled(from: plot.t0, to: plot.t1, columns: chartColumns)
            svg.brokenLine(drawn, in: plot, className: "score", maximumGap: limit)
            svg.hover(plot, times: kept.times, columns: hoverColumns) { index in
                shortTime(kept.times[index]) + " · score " + formatDouble(kept.values[index], significant: 4)
            }
        }
        keys.append(LegendKey(swatch: .line(className: "score"), label: "blended score"))
        return keys
    }

    /// Signed leverage (`position × close ÷ equity`; + long, − short) after every bar, with the
    /// position and its notional on hover.
    private static func exposureChart(_ result: BacktestResult, prices: PriceBars?) -> String {
        var svg = SVGWriter()
        svg.open(width: svgWidth, height: 300, label: "Position and leverage")
        let curve = result.equity
        let empty = frame(top: 24, height: 200, t0: 0, t1: 1, v0: 0, v1: 1)
        guard curve.count > 0, curve.position.count == curve.count else {
            svg.message("No equity curve was recorded.", in: empty)
            svg.close()
            return svg.text
        }
        guard let prices else {
            svg.message("No price series was supplied.", in: empty)
            svg.close()
            return svg.text
        }
        let bars = prices.indices(at: curve.times)
        let quantityScale = Double(Quantity.scale)
        let priceScale = Double(Price.scale)
        var times: [Int64] = []
        var leverage: [Double] = []
        var rows: [Int] = []
        for index in 0..<curve.count {
            guard let bar = bars[index], curve.equity[index] > 0 else { continue }
            let notional = Double(curve.position[index]) / quantityScale * Double(prices.closes[bar]) / priceScale
            times.append(curve.times[index])
            leverage.append(notional / (Double(curve.equity[index]) / Double(Notional.scale)))
            rows.append(index)
        }
        guard let t0 = times.first, let t1 = times.last else {
            svg.message("No bar with positive equity and a price.", in: empty)
            svg.close()
            return svg.text
        }
        let series = Series(times: times, values: leverage).downsampled(from: t0, to: t1, columns: chartColumns)
        let range = series.range ?? (0, 0)
        let ticks = Axis.valueTicks(min(range.low, 0), max(range.high, 0), target: 4)
        let plot = frame(top: 24, height: 200, t0: t0, t1: t1, v0: ticks.low, v1: ticks.high)
        svg.axes(
            plot, valueTicks: ticks.ticks, valueLabel: { Axis.label($0) + "×" }, timeLabels: true,
            title: "Leverage: position notional ÷ equity (+ long, − short)")
        let c = SVGWriter.coordinate
        let zero = c(plot.y(0))
        svg.text += "<line class=\"baseline\" x1=\"\(c(plot.left))\" x2=\"\(c(plot.right))\" y1=\"\(zero)\" y2=\"\(zero)\"/>\n"
        svg.area(series, baseline: 0, in: plot, className: "exposure-area")
        svg.line(series, in: plot, className: "exposure")
        svg.hover(plot, times: times, columns: hoverColumns) { index in
            let row = rows[index]
            var text = shortTime(times[index]) + " · position " + Quantity(raw: curve.position[row]).description + " NMR"
            if let bar = bars[row] {
                let raw = FixedMath.divide(
                    Int128(curve.position[row]) * Int128(prices.closes[bar]) * Int128(Notional.scale),
                    Int128(Quantity.scale) * Int128(Price.scale), .toNearestOrEven)
                if let notional = Int64(exactly: raw) { text += " · notional " + Notional(raw: notional).money }
            }
            return text + " · leverage " + Numerics.fixed(leverage[index], places: 2) + "×"
        }
        svg.legend(
            [
                LegendKey(swatch: .line(className: "exposure"), label: "signed leverage (position × close ÷ equity)"),
                LegendKey(swatch: .line(className: "baseline"), label: "flat"),
            ], x: plot.left, y: plot.bottom + 44)
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
