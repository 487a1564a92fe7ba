import PerpModel
import PerpSimulation

/// The self-contained HTML page of `nmrperp hedge backtest --report`: the figures of a
/// ``HedgeSimulationResult``, a chart of the hedged against the unhedged value, a chart of the
/// collateral equity with the liquidations and re-hedges marked, the price against the short's
/// liquidation price with every event marked, and the list of liquidations.
///
/// Built on the same page shell, stylesheet and SVG machinery as ``HTMLReport``: inline CSS and
/// SVG, no scripts or outside resources, long series downsampled per pixel column, all text
/// escaped, and the output depends only on the inputs.
public enum HedgeReport {
    /// Liquidations listed in the table (the JSON output has them all).
    public static let maximumLiquidationRows = 200

    private static let svgWidth = 1300
    private static let plotLeft = 90.0
    private static let plotTop = 24.0

    /// Renders the report.
    /// - Parameters:
    ///   - dataPath: the price history the simulation ran on, as given (shown, escaped).
    ///   - fundingPath: the funding history, or `nil` when funding was left out.
    ///   - notes: free text shown under the title (what the data lacks, advice), escaped.
    public static func render(result: HedgeSimulationResult, dataPath: String, fundingPath: String?, notes: [String]) -> String {
        let config = result.config
        var html = ReportPage.head(title: "NMR stake hedge backtest", extraStyle: stylesheet)
        let title =
            "NMR stake hedge: short \(config.stake) NMR, k = \(config.collateralMultiple), rebalanced every \(config.rebalance)"
        html += "<h1>\(escapeHTML(title))</h1>\n"
        let source = "Data: \(dataPath)" + (fundingPath.map { "; funding: \($0)" } ?? "; no funding")
        html += "<p class=\"period\">\(escapeHTML(source))</p>\n"
        html += "<p>Hedged value = stake value + collateral equity − net deposits (spec §1), so money moved in is not counted"
        html += " as a gain; unhedged value = stake value.</p>\n"
        if !notes.isEmpty {
            html += "<ul class=\"notes\">\n"
            for note in notes { html += "<li>\(escapeHTML(note))</li>\n" }
            html += "</ul>\n"
        }
        html += "<h2>Figures</h2>\n" + ReportPage.pairsTable(figures(result))
        let markers = self.markers(result.events)
        let values = result.values
        let scale = Double(Notional.scale)
        html += "<h2>Hedged vs unhedged value</h2>\n"
        html += chart(
            times: values.times,
            lines: [
                Line(label: "unhedged (stake only)", className: "unhedged", values: values.unhedged.map { Double($0) / scale }),
                Line(label: "hedged", className: "hedged", values: values.hedged.map { Double($0) / scale }),
            ],
            baseline: result.hedgedStart.doubleValue, markers: markers, title: "Value (USD)",
            label: "Hedged and unhedged value")
        html += "<h2>Collateral equity</h2>\n"
        html += chart(
            times: values.times,
            lines: [
                Line(
                    label: "collateral equity (collateral + the short's unrealised PnL)", className: "collateral",
                    values: values.collateralEquity.map { Double($0) / scale })
            ],
            baseline: nil, markers: markers, title: "Collateral equity (USD)", label: "Collateral equity with liquidations and re-hedges")
        html += "<h2>Price and the short's liquidation price</h2>\n" + liquidationChart(result)
        if fundingPath != nil {
            html += "<h2>Funding</h2>\n"
            html += chart(
                times: values.times,
                lines: [
                    Line(
                        label: "funding paid by the short so far (below zero: received)", className: "funding-paid",
                        values: values.fundingPaid.map { Double($0) / scale })
                ],
                baseline: 0, markers: markers, title: "Funding paid (USD)", label: "Funding paid by the short, cumulative")
        }
        html += "<h2>Liquidations</h2>\n" + liquidationsTable(result.liquidationEvents)
        html += ReportPage.foot
        return html
    }

    // MARK: Figures

    /// The figures of `result` as (label, value) rows: the report's table and the text output of
    /// `hedge backtest`.
    public static func figures(_ result: HedgeSimulationResult) -> [(String, String)] {
        let config = result.config
        let first = result.firstBar?.iso8601 ?? "-"
        let last = result.lastBar?.iso8601 ?? "-"
        let firstLiquidation = result.events.first?.liquidationPrice.map { "$\($0.formatted(places: 4, rule: .down))" } ?? "none"
        let funding =
            result.fundingPaid.isNegative
            ? "received \(usd(-result.fundingPaid)) (\(result.fundingSettlements) settlements)"
            : "paid \(usd(result.fundingPaid)) (\(result.fundingSettlements) settlements)"
        let percent = { (value: Double) in Numerics.percent(value) }
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
            (
                "liquidations",
                (result.liquidations == 0 ? "0 (survived)" : String(result.liquidations))
                    + "; rule \(config.liquidationRule.name)"
                    + (result.forfeited.isPositive ? ", margin forfeited \(usd(result.forfeited))" : "")
            ),
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
                "worst fall \(percent(result.maxCollateralDrawdown)) within a period; closest approach \(Numerics.percent(result.maxLiquidationProximity, places: 1)) of the way to liquidation"
            ),
            (
                "end",
                "collateral equity \(usd(result.finalCollateralEquity)), short \(result.shortOpenAtEnd ? "open" : "closed (liquidated)")"
            ),
        ]
    }

    /// `$12.34`, or `-$12.34`.
    public static func usd(_ value: Notional) -> String {
        value.isNegative ? "-$\((-value).money)" : "$\(value.money)"
    }

    /// ` (+12.34 %)`: the change from `start` to `end`; empty when `start` is not positive.
    static func change(_ start: Notional, _ end: Notional) -> String {
        guard start.isPositive else { return "" }
        let fraction = (end - start).doubleValue / start.doubleValue
        return " (\(fraction >= 0 ? "+" : "")\(Numerics.percent(fraction)))"
    }

    private static func liquidationsTable(_ events: [HedgeEvent]) -> String {
        ReportPage.listTable(
            events, headings: ["#", "Time", "Price", "Collateral left", "Forfeited", "Shortfall"], limit: maximumLiquidationRows,
            empty: "None: the short was never liquidated.",
            shortened: { "The first \(maximumLiquidationRows) of \($0) liquidations; the JSON output lists them all." },
            cells: { index, event in
                let shortfall = event.shortfall.isPositive ? usd(event.shortfall) : ""
                let cells = [
                    String(index + 1), event.time.iso8601, "$" + event.price.formatted(places: 4), usd(event.collateralAfter),
                    event.forfeited.isPositive ? usd(event.forfeited) : "", shortfall,
                ]
                return cells.map { ReportPage.Cell($0) }
            })
    }

    // MARK: Charts

    private struct Line {
        var label: String
        var className: String
        var values: [Double]
    }

    private struct Marker {
        var time: Int64
        var className: String
        var label: String
    }

    /// A dashed vertical line for every liquidation (red) and re-hedge (grey).
    private static func markers(_ events: [HedgeEvent]) -> [Marker] {
        events.compactMap { event -> Marker? in
            let price = "$" + event.price.formatted(places: 4)
            switch event.kind {
            case .liquidation:
                return Marker(time: event.time.milliseconds, className: "liquidation", label: "liquidated at \(price)")
            case .rehedge:
                return Marker(time: event.time.milliseconds, className: "rehedge", label: "re-hedged at \(price)")
            case .open, .rebalance: return nil
            }
        }
    }

    /// Rebalances marked at most on the liquidation chart (a dashed line each); more are only
    /// counted in its legend.
    public static let maximumRebalanceMarkers = 400

    /// The NMR price (`unhedged value ÷ stake`, the bar's close) against the short's liquidation
    /// price after the last event (open, rebalance, re-hedge, liquidation) up to each bar; no
    /// liquidation price while flat. Rebalances, re-hedges and liquidations are marked.
    private static func liquidationChart(_ result: HedgeSimulationResult) -> String {
        let values = result.values
        let stake = result.config.stake.doubleValue
        guard stake > 0 else {
            var svg = SVGWriter()
            svg.open(width: svgWidth, height: Int(plotTop + 320) + 52, label: "Price and liquidation price")
            svg.message("No stake, no price to chart.", in: frame(height: 320, t0: 0, t1: 1, v0: 0, v1: 1))
            svg.close()
            return svg.text
        }
        let scale = Double(Notional.scale)
        let price = values.unhedged.map { Double($0) / scale / stake }
        var liquidation = [Double](repeating: .nan, count: values.count)
        let events = result.events.sorted { $0.time < $1.time }
        var next = 0
        var current: Price?
        for index in 0..<values.count {
            while next < events.count, events[next].time.milliseconds <= values.times[index] {
                current = events[next].liquidationPrice
                next += 1
            }
            if let current { liquidation[index] = current.doubleValue }
        }
        var marks = markers(result.events)
        let rebalances = result.events.filter { $0.kind == .rebalance }
        var rebalanceNote: String?
        if rebalances.count <= maximumRebalanceMarkers {
            marks += rebalances.map {
                Marker(time: $0.time.milliseconds, className: "rebalance", label: "rebalanced at $" + $0.price.formatted(places: 4))
            }
        } else if !rebalances.isEmpty {
            rebalanceNote = "\(rebalances.count) rebalances (too many to mark)"
        }
        return chart(
            times: values.times,
            lines: [
                Line(label: "NMR price (close)", className: "nmr-price", values: price),
                Line(label: "the short's liquidation price", className: "liquidation-price", values: liquidation),
            ],
            baseline: nil, markers: marks, title: "Price (USD)", label: "Price and the short's liquidation price",
            extraKeys: rebalanceNote.map { [$0] } ?? [])
    }

    /// A chart of `lines` over `times` (the last line drawn on top), with a dashed `baseline`,
    /// the `markers`, and a legend below the time axis.
    private static func chart(
        times: [Int64], lines: [Line], baseline: Double?, markers: [Marker], title: String, label: String, extraKeys: [String] = []
    ) -> String {
        let height = 320.0
        var svg = SVGWriter()
        svg.open(width: svgWidth, height: Int(plotTop + height) + 52, label: label)
        let columns = HTMLReport.chartColumns
        guard let t0 = times.first, let t1 = times.last else {
            svg.message("Not enough data to chart.", in: frame(height: height, t0: 0, t1: 1, v0: 0, v1: 1))
            svg.close()
            return svg.text
        }
        // Non-finite values (no liquidation price while flat) are left out of a line.
        let series = lines.map { line -> Series in
            var kept = Series(times: [], values: [])
            for index in 0..<min(times.count, line.values.count) where line.values[index].isFinite {
                kept.times.append(times[index])
                kept.values.append(line.values[index])
            }
            return kept.downsampled(from: t0, to: t1, columns: columns)
        }
        var low = baseline ?? Double.infinity
        var high = baseline ?? -Double.infinity
        for range in series.compactMap(\.range) {
            low = min(low, range.low)
            high = max(high, range.high)
        }
        if !low.isFinite || !high.isFinite {
            low = 0
            high = 1
        }
        let ticks = Axis.valueTicks(low, high)
        let plot = frame(height: height, t0: t0, t1: t1, v0: ticks.low, v1: ticks.high)
        svg.axes(plot, valueTicks: ticks.ticks, valueLabel: Axis.label, timeLabels: true, title: title)
        let c = SVGWriter.coordinate
        if let baseline {
            let y = c(plot.y(baseline))
            svg.text += "<line class=\"baseline\" x1=\"\(c(plot.left))\" x2=\"\(c(plot.right))\" y1=\"\(y)\" y2=\"\(y)\"/>\n"
        }
        for marker in markers where plot.contains(time: marker.time) {
            let x = c(plot.x(marker.time))
            svg.text += "<line class=\"\(marker.className)\" x1=\"\(x)\" x2=\"\(x)\" y1=\"\(c(plot.top))\" y2=\"\(c(plot.bottom))\">"
            svg.text += "<title>\(escapeHTML(Timestamp(milliseconds: marker.time).iso8601 + ": " + marker.label))</title></line>\n"
        }
        for (line, points) in zip(lines, series) { svg.line(points, in: plot, className: line.className) }
        // Hover: the bar's time and every line's value there (not the downsampled points).
        svg.hover(plot, times: times, columns: HTMLReport.hoverColumns) { index in
            lines.reduce(shortTime(times[index])) { text, line in
                guard index < line.values.count, line.values[index].isFinite else { return text }
                return text + " · " + line.label + " " + formatDouble(line.values[index], significant: 8)
            }
        }

        // Legend: the lines, in reading order from the top one, then the kinds of marker shown.
        var keys = lines.reversed().map { (className: $0.className, label: $0.label) }
        if markers.contains(where: { $0.className == "liquidation" }) { keys.append(("liquidation", "liquidation")) }
        if markers.contains(where: { $0.className == "rehedge" }) { keys.append(("rehedge", "re-hedge")) }
        if markers.contains(where: { $0.className == "rebalance" }) { keys.append(("rebalance", "rebalance")) }
        for key in extraKeys { keys.append(("rebalance", key)) }
        var x = plot.left
        let y = plot.bottom + 40
        svg.text += "<g class=\"legend\">"
        for key in keys {
            svg.text += "<line class=\"\(key.className)\" x1=\"\(c(x))\" x2=\"\(c(x + 22))\" y1=\"\(c(y - 4))\" y2=\"\(c(y - 4))\"/>"
            svg.text += "<text x=\"\(c(x + 28))\" y=\"\(c(y))\">\(escapeHTML(key.label))</text>"
            x += 48 + Double(key.label.count) * 6.5
        }
        svg.text += "</g>\n"
        svg.close()
        return svg.text
    }

    private static func frame(height: Double, t0: Int64, t1: Int64, v0: Double, v1: Double) -> PlotFrame {
        PlotFrame(
            left: plotLeft, top: plotTop, width: Double(HTMLReport.chartColumns), height: height, t0: t0, t1: t1, v0: v0, v1: v1)
    }

    /// The rules of this report's own chart elements, after the shared stylesheet.
    private static let stylesheet = """
        svg .hedged { fill: none; stroke: #1f77b4; stroke-width: 1.5; }
        svg .unhedged { fill: none; stroke: #ff7f0e; stroke-width: 1.2; }
        svg .collateral { fill: none; stroke: #2ca02c; stroke-width: 1.3; }
        svg .liquidation { stroke: #d62728; stroke-dasharray: 3 3; }
        svg .rehedge { stroke: #7f7f7f; stroke-dasharray: 3 3; }
        svg .rebalance { stroke: #bcbd22; stroke-dasharray: 2 4; }
        svg .nmr-price { fill: none; stroke: #555; stroke-width: 1.2; }
        svg .liquidation-price { fill: none; stroke: #d62728; stroke-width: 1.3; }
        svg .funding-paid { fill: none; stroke: #9467bd; stroke-width: 1.3; }

        """
}
