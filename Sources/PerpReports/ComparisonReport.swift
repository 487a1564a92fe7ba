import PerpModel
import PerpSimulation

/// A self-contained HTML page comparing several backtests over the same bars (the walk-forward
/// report of spec §4: the rules alone, the learned model and a generic model, out of sample and
/// risk-adjusted). Same page shell and chart helpers as ``HTMLReport``.
public enum ComparisonReport {
    /// One backtest to compare.
    public struct Variant: Sendable {
        public var name: String
        public var result: BacktestResult
        public var metrics: PerformanceMetrics

        public init(name: String, result: BacktestResult, metrics: PerformanceMetrics) {
            self.name = name
            self.result = result
            self.metrics = metrics
        }
    }

    /// A table shown after the charts (e.g. one row per fold).
    public struct Table: Sendable {
        public var heading: String
        public var explanation: String
        public var columns: [String]
        public var rows: [[String]]

        public init(heading: String, explanation: String = "", columns: [String], rows: [[String]]) {
            self.heading = heading
            self.explanation = explanation
            self.columns = columns
            self.rows = rows
        }
    }

    /// A time marked on the charts with a labelled dashed vertical line (a fold's first test bar).
    public struct Boundary: Sendable, Hashable {
        public var label: String
        /// Epoch milliseconds.
        public var time: Int64

        public init(label: String, time: Int64) {
            self.label = label
            self.time = time
        }
    }

    /// Line colours of the variants, in order (then repeated).
    static let colours = ["#555555", "#1f77b4", "#d62728", "#2ca02c", "#9467bd"]

    /// Renders the page: notes, the metrics side by side, every equity curve on one chart with
    /// each one's drawdown below and the `boundaries` (fold starts) marked, then `tables`. All
    /// text is escaped.
    public static func render(
        title: String, variants: [Variant], notes: [String], tables: [Table], boundaries: [Boundary] = []
    ) -> String {
        let first = variants.first?.metrics
        var html = ReportPage.intro(title: title, metrics: first, bars: first?.bars ?? 0, barsLabel: "bars out of sample", notes: notes)
        html += "<h2>Out of sample, side by side</h2>\n" + metricsTable(variants)
        html += "<h2>Equity and drawdown</h2>\n" + equityChart(variants, boundaries: boundaries)
        for table in tables {
            html += "<h2>\(escapeHTML(table.heading))</h2>\n"
            if !table.explanation.isEmpty { html += "<p>\(escapeHTML(table.explanation))</p>\n" }
            html += ReportPage.listTable(
                table.rows, headings: table.columns, limit: Int.max, empty: "Nothing to show.", shortened: { _ in "" },
                cells: { _, row in row.map { ReportPage.Cell($0) } })
        }
        html += ReportPage.foot
        return html
    }

    private static let dash = "—"

    private static func metricsTable(_ variants: [Variant]) -> String {
        func percent(_ value: Double?) -> String { value.map { Numerics.percent($0) } ?? dash }
        // An undefined ratio (a flat curve's Sharpe, see PerformanceMetrics) says "n/a", not a dash.
        func ratio(_ value: Double?) -> String { value.map { Numerics.fixed($0, places: 3) } ?? "n/a" }
        let rows: [(String, (PerformanceMetrics) -> String)] = [
            ("Total return", { percent($0.totalReturn) }),
            ("Annualised return", { percent($0.annualizedReturn) }),
            ("Sharpe (daily, ×√365, risk-free 0)", { ratio($0.sharpe) }),
            ("Sortino (daily, ×√365)", { ratio($0.sortino) }),
            ("Max drawdown", { percent($0.maxDrawdown) }),
            ("Trades (closed)", { "\($0.trades)" }),
            ("Win rate", { percent($0.winRate) }),
            ("Profit factor", { ratio($0.profitFactor) }),
            ("Exposure", { percent($0.exposure) }),
            ("Fees paid", { $0.feesPaid.money }),
            ("Funding paid (negative: received)", { $0.fundingPaid.money }),
            ("Liquidations", { "\($0.liquidations)" }),
            ("Final equity", { $0.finalEquity.money }),
        ]
        var html = "<table class=\"trades\">\n<tr><th></th>"
        for variant in variants { html += "<th>\(escapeHTML(variant.name))</th>" }
        html += "</tr>\n"
        for (label, value) in rows {
            html += "<tr><th style=\"text-align:left\">\(escapeHTML(label))</th>"
            for variant in variants { html += "<td>\(escapeHTML(value(variant.metrics)))</td>" }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }

    private static func equityChart(_ variants: [Variant], boundaries: [Boundary]) -> String {
        var svg = SVGWriter()
        svg.open(width: 1300, height: 560, label: "Equity and drawdown of each variant")
        let curves = variants.filter { $0.result.equity.count > 0 }
        guard let first = curves.first else {
            svg.message(
                "No equity curve was recorded.",
                in: PlotFrame(left: 90, top: 24, width: Double(HTMLReport.chartColumns), height: 300, t0: 0, t1: 1, v0: 0, v1: 1))
            svg.close()
            return svg.text
        }
        let t0 = curves.map { $0.result.equity.times[0] }.min() ?? 0
        let t1 = curves.map { $0.result.equity.times[$0.result.equity.count - 1] }.max() ?? 1
        let scale = Double(Notional.scale)
        let series = curves.map { variant in
            Series(times: variant.result.equity.times, values: variant.result.equity.equity.map { Double($0) / scale })
                .downsampled(from: t0, to: t1, columns: HTMLReport.chartColumns)
        }
        // Drawdown from each variant's running peak (the initial capital first), in %.
        let drawdowns = curves.map { variant -> Series in
            var peak = variant.result.initialCapital.raw
            let values = variant.result.equity.equity.map { equity -> Double in
                peak = max(peak, equity)
                return peak > 0 ? (Double(equity) / Double(peak) - 1) * 100 : 0
            }
            return Series(times: variant.result.equity.times, values: values).downsampled(
                from: t0, to: t1, columns: HTMLReport.chartColumns)
        }
        let initial = first.result.initialCapital.doubleValue
        let low = series.compactMap { $0.range?.low }.min() ?? initial
        let high = series.compactMap { $0.range?.high }.max() ?? initial
        let ticks = Axis.valueTicks(min(low, initial), max(high, initial))
        let frame = PlotFrame(
            left: 90, top: 24, width: Double(HTMLReport.chartColumns), height: 300, t0: t0, t1: t1, v0: ticks.low, v1: ticks.high)
        svg.axes(frame, valueTicks: ticks.ticks, valueLabel: Axis.label, timeLabels: false, title: "Equity (USD)")
        let lowest = drawdowns.compactMap { $0.range?.low }.min() ?? 0
        let drawdownTicks = Axis.valueTicks(min(lowest, -1), 0, target: 3)
        let bottom = PlotFrame(
            left: 90, top: 360, width: Double(HTMLReport.chartColumns), height: 130, t0: t0, t1: t1, v0: drawdownTicks.low, v1: 0)
        svg.axes(
            bottom, valueTicks: drawdownTicks.ticks.filter { $0 <= 0 }, valueLabel: { Axis.label($0) + " %" }, timeLabels: true,
            title: "Drawdown (%)")
        let c = SVGWriter.coordinate
        let baseline = c(frame.y(initial))
        svg.text += "<line class=\"baseline\" x1=\"\(c(frame.left))\" x2=\"\(c(frame.right))\" y1=\"\(baseline)\" y2=\"\(baseline)\"/>\n"
        for boundary in boundaries {
            let title = boundary.label + " from " + Timestamp(milliseconds: boundary.time).iso8601
            svg.verticalMarker(at: boundary.time, in: frame, className: "fold", label: boundary.label, title: title)
            svg.verticalMarker(at: boundary.time, in: bottom, className: "fold", label: "", title: title)
        }
        for (index, line) in series.enumerated() {
            let colour = colours[index % colours.count]
            svg.text += "<g style=\"fill:none;stroke:\(colour);stroke-width:1.3\">"
            svg.line(line, in: frame, className: "variant")
            svg.line(drawdowns[index], in: bottom, className: "variant")
            svg.text += "</g>\n"
        }
        // Hover: each variant's equity at the time under the pointer (its last bar at or before it).
        let hoverTimes = first.result.equity.times
        svg.hover(frame, times: hoverTimes, columns: HTMLReport.hoverColumns) { index in
            let time = hoverTimes[index]
            return curves.reduce(shortTime(time)) { text, variant in
                let times = variant.result.equity.times
                var low = 0
                var high = times.count
                while low < high {
                    let middle = (low + high) / 2
                    if times[middle] <= time { low = middle + 1 } else { high = middle }
                }
                guard low > 0 else { return text }
                return text + " · " + variant.name + " " + Numerics.fixed(Double(variant.result.equity.equity[low - 1]) / scale, places: 2)
            }
        }
        // Legend: each variant in its colour, then the fold lines.
        var x = frame.left
        let y = bottom.bottom + 44
        svg.text += "<g class=\"legend\">"
        for (index, variant) in curves.enumerated() {
            let colour = colours[index % colours.count]
            svg.text +=
                "<line x1=\"\(c(x))\" x2=\"\(c(x + 22))\" y1=\"\(c(y - 4))\" y2=\"\(c(y - 4))\" style=\"stroke:\(colour);stroke-width:2\"/>"
            svg.text += "<text x=\"\(c(x + 28))\" y=\"\(c(y))\">\(escapeHTML(variant.name))</text>"
            x += 48 + Double(variant.name.count) * 6.5
        }
        svg.text += "</g>\n"
        if !boundaries.isEmpty {
            svg.legend([LegendKey(swatch: .line(className: "fold"), label: "fold start (first test bar)")], x: x, y: y)
        }
        svg.close()
        return svg.text
    }
}
