import PerpModel
import PerpReports
import PerpSimulation
import Testing

/// `HTMLReport.render`: self-contained, escaped, deterministic and small.
@Suite("HTML report")
struct HTMLReportTests {
    typealias F = Fixtures

    static func occurrences(of needle: String, in text: String) -> Int {
        text.ranges(of: needle).count
    }

    /// Two days of hourly bars with a long and a short round trip and three funding settlements.
    static func sample() -> (result: BacktestResult, prices: (times: [Int64], closes: [Int64])) {
        var points: [(Int64, String)] = []
        var times: [Int64] = []
        var closes: [Int64] = []
        for index in 0..<48 {
            let time = F.start + Int64(index) * F.hour
            points.append((time, String(1000 + (index % 7) * 3 - index / 2)))
            times.append(time)
            closes.append(Price(20 + index % 5).raw)
        }
        let trades = [
            F.trade(side: .long, entry: F.start + 2 * F.hour, entryPrice: "22", exit: F.start + 9 * F.hour, exitPrice: "24", gross: "2"),
            F.trade(
                side: .short, entry: F.start + 20 * F.hour, entryPrice: "21", exit: F.start + 30 * F.hour, exitPrice: "20",
                reason: .liquidation, gross: "-1", fees: "0.1"),
        ]
        let funding = (0..<3).map { k in
            FundingRecord(
                time: Timestamp(milliseconds: F.start + Int64(k) * 8 * F.hour), rate: Rate("0.0001")!, mark: Price(20),
                position: Quantity(1), payment: Notional("0.002")!)
        }
        let result = F.result(points: points, trades: trades, funding: funding, fundingPaid: "0.006")
        return (result, (times, closes))
    }

    @Test("a complete, self-contained document with a chart per section")
    func structure() {
        let (result, prices) = Self.sample()
        let html = HTMLReport.render(
            title: "NMR breakout", result: result, metrics: PerformanceMetrics.compute(result), prices: prices,
            notes: ["fees 5 bps", "source: binance-usdm 1h"])
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html"))
        #expect(html.hasSuffix("</html>\n"))
        #expect(Self.occurrences(of: "<svg ", in: html) == 4, "equity+drawdown, price, position, funding")
        #expect(Self.occurrences(of: "</svg>", in: html) == 4)
        #expect(Self.occurrences(of: "<table", in: html) == Self.occurrences(of: "</table>", in: html))
        #expect(html.contains("class=\"equity\""))
        #expect(html.contains("class=\"drawdown\""))
        #expect(html.contains("class=\"price\""))
        #expect(html.contains("class=\"funding\""))
        #expect(html.contains("href=\"#mk-long\""))
        #expect(html.contains("href=\"#mk-short\""))
        #expect(Self.occurrences(of: "href=\"#mk-exit\"", in: html) == 3, "two exits and the legend's")
        #expect(html.contains("class=\"hold\""), "buy and hold on the equity chart")
        #expect(html.contains(">buy and hold (capital × close ÷ first close)</text>"))
        #expect(html.contains(">long entry</text>") && html.contains(">short entry</text>"))
        #expect(html.contains("class=\"exposure\""), "the leverage panel")
        #expect(html.contains("<h2>Monthly returns</h2>"))
        #expect(html.contains("<th>Jan</th>"))
        #expect(html.contains("<h2>Long and short</h2>"))
        #expect(html.contains("<th>Expectancy (mean net PnL per closed trade)</th>"))
        #expect(html.contains("<th>Calmar (CAGR ÷ max drawdown)</th>"))
        // Hover: native tooltips with the date and the values, no script.
        #expect(html.contains("<g class=\"hover\">"))
        #expect(html.contains("<title>2024-01-01 00:00 · equity 1,000.00 · drawdown 0.00 % · buy and hold 1,000.00</title>"))
        #expect(html.contains(">01-02 06:00<"), "a date and time label on the time axis")
        #expect(html.contains("<li>fees 5 bps</li>"))
        #expect(html.contains("<td>liquidation</td>"))
        // Nothing that would load from elsewhere.
        #expect(!html.contains("http"))
        for forbidden in ["<script", "<link", "<img", "src=", "url(", "@import"] {
            #expect(!html.contains(forbidden), "contains \(forbidden)")
        }
    }

    @Test("escapes the title, notes and every other text")
    func escaping() {
        let (result, prices) = Self.sample()
        let html = HTMLReport.render(
            title: "<script>alert(\"x\")</script> & 'co'", result: result, metrics: PerformanceMetrics.compute(result),
            prices: prices, notes: ["a < b > c"])
        #expect(!html.contains("<script"))
        #expect(html.contains("<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</title>"))
        #expect(html.contains("<li>a &lt; b &gt; c</li>"))
        #expect(HTMLReport.escape("&<>\"'") == "&amp;&lt;&gt;&quot;&#39;")
    }

    @Test("the same inputs give the same bytes")
    func deterministic() {
        let (result, prices) = Self.sample()
        let metrics = PerformanceMetrics.compute(result)
        let first = HTMLReport.render(title: "t", result: result, metrics: metrics, prices: prices, notes: [])
        let second = HTMLReport.render(title: "t", result: result, metrics: metrics, prices: prices, notes: [])
        #expect(first == second)
    }

    @Test("empty inputs still give every chart, with a message")
    func empty() {
        let result = F.result(points: [], final: "1000", bars: 0)
        let html = HTMLReport.render(
            title: "empty", result: result, metrics: PerformanceMetrics.compute(result), prices: nil, notes: [])
        #expect(Self.occurrences(of: "<svg ", in: html) == 4)
        #expect(html.contains("No equity curve was recorded."))
        #expect(html.contains("No price series was supplied."))
        #expect(html.contains("No funding settlements."))
        #expect(html.contains("No trades."))
    }

    @Test("a year of 1-minute bars renders small, keeping extremes")
    func large() {
        let count = 500_000
        var curve = EquityCurve()
        curve.reserveCapacity(count)
        var times: [Int64] = []
        var closes: [Int64] = []
        times.reserveCapacity(count)
        closes.reserveCapacity(count)
        var trades: [TradeRecord] = []
        for index in 0..<count {
            let time = F.start + Int64(index) * 60_000
            // A sawtooth around 1000 with one spike to 5000 that downsampling must keep.
            let equity = index == 250_123 ? Notional(5000) : Notional(raw: (1000 + Int64(index % 1000) / 10) * 100_000_000)
            curve.append(time: time, equity: equity, position: .zero)
            times.append(time)
            closes.append(Price(raw: (20 + Int64(index % 777) / 100) * 100_000_000).raw)
            if index % 500 == 0 {
                trades.append(F.trade(side: index % 1000 == 0 ? .long : .short, entry: time, exit: time + 120_000, gross: "1"))
            }
        }
        let result = BacktestResult(
            bars: count, initialCapital: Notional(1000), finalEquity: Notional(raw: curve.equity[count - 1]), fills: [],
            trades: trades, funding: [], liquidations: 0, insuranceFundDraws: .zero, feesPaid: .zero, fundingPaid: .zero,
            equity: curve, barsInMarket: 0)
        // How fast it renders is measured by `nmrperp bench backtest` (its "HTML report" line).
        let metrics = PerformanceMetrics.compute(result)
        let html = HTMLReport.render(title: "year", result: result, metrics: metrics, prices: (times, closes), notes: [])
        #expect(html.utf8.count < 600_000, "\(html.utf8.count) bytes")
        #expect(html.contains(">5000</text>"), "the spike sets the top of the equity axis")
        #expect(html.contains("The first 200 of 1000 trades"))
        #expect(
            Self.occurrences(of: "<tr>", in: html) <= 201 + 60, "at most 200 trade rows plus the metrics, sides and months")
    }

    /// The `y` of every `<use href="#id" …>` marker drawn (the legend's swatches included).
    static func markerYs(_ id: String, in html: String) -> [String] {
        html.split(separator: "<use href=\"#\(id)\" ", omittingEmptySubsequences: false).dropFirst().compactMap { rest in
            guard let range = rest.ranges(of: "y=\"").first else { return nil }
            return String(rest[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    @Test("a reversal on one bar keeps the exit and the new entry apart")
    func reversal() {
        // A long closed at 22 on bar 5 and a short opened at 22 on the same bar.
        var points: [(Int64, String)] = []
        var times: [Int64] = []
        var closes: [Int64] = []
        for index in 0..<10 {
            let time = F.start + Int64(index) * F.hour
            points.append((time, "1000"))
            times.append(time)
            closes.append(Price(20 + index % 3).raw)
        }
        let reversalTime = F.start + 5 * F.hour
        let trades = [
            F.trade(side: .long, entry: F.start + F.hour, entryPrice: "21", exit: reversalTime, exitPrice: "22", gross: "1"),
            F.trade(side: .short, entry: reversalTime, entryPrice: "22", exit: F.start + 8 * F.hour, exitPrice: "21", gross: "1"),
        ]
        let result = F.result(points: points, trades: trades)
        let html = HTMLReport.render(
            title: "reversal", result: result, metrics: PerformanceMetrics.compute(result), prices: (times, closes), notes: [])
        let exits = Self.markerYs("mk-exit", in: html)
        let shorts = Self.markerYs("mk-short", in: html)
        let longs = Self.markerYs("mk-long", in: html)
        #expect(exits.count == 3, "two exits and the legend")
        #expect(shorts.count == 2, "one short entry and the legend")
        #expect(longs.count == 2)
        // The first exit and the short entry share the bar and the price; their y differ by the offset.
        if let exitY = exits.first.flatMap(Double.init), let shortY = shorts.first.flatMap(Double.init) {
            #expect(abs(exitY - shortY - 9) < 0.11, "the short's triangle sits 9 px above the exit's cross")
        } else {
            Issue.record("markers without a y: \(exits) \(shorts)")
        }
        #expect(html.contains(">exit (on the exit price; entries sit just off theirs)</text>"))
    }

    @Test("one bar and no trades render every chart with its legend")
    func oneBar() {
        let result = F.result(points: [(F.start, "1000")])
        let html = HTMLReport.render(
            title: "one", result: result, metrics: PerformanceMetrics.compute(result), prices: ([F.start], [Price(20).raw]), notes: [])
        #expect(html.hasSuffix("</html>\n"))
        #expect(Self.occurrences(of: "<svg ", in: html) == 4)
        #expect(html.contains(">equity</text>"))
        #expect(html.contains(">close</text>"))
        #expect(html.contains("No trades."))
        #expect(html.contains("No closed trades."))
        #expect(html.contains("<th>2024</th>"), "the monthly table has the year")
        #expect(!html.contains("http://") && !html.contains("https://"))

        // Zero equity: no leverage to show, and no crash.
        let gone = F.result(points: [(F.start, "0")])
        let goneHTML = HTMLReport.render(
            title: "gone", result: gone, metrics: PerformanceMetrics.compute(gone), prices: ([F.start], [Price(20).raw]), notes: [])
        #expect(goneHTML.contains("No bar with positive equity and a price."))
    }

    @Test("the strategy's lines and the bot's score panel, with halts and quiet hours")
    func overlays() {
        let (result, prices) = Self.sample()
        let sma = HTMLReport.simpleMovingAverage(prices.closes, period: 3)
        let panel = HTMLReport.ScorePanel(
            times: Array(prices.times.prefix(20)), scores: (0..<20).map { Double($0 % 5) / 5 - 0.4 }, threshold: 0.25,
            halts: [HTMLReport.Interval(start: F.start + 3 * F.hour, end: F.start + 7 * F.hour)], quietHours: (2, 6))
        let html = HTMLReport.render(
            title: "bot", result: result, metrics: PerformanceMetrics.compute(result), prices: prices, notes: [],
            overlays: HTMLReport.Overlays(priceLines: [HTMLReport.PriceLine(name: "SMA 3 (fast)", values: sma)], score: panel))
        #expect(html.contains("class=\"overlay0\""))
        #expect(html.contains(">SMA 3 (fast)</text>"))
        #expect(html.contains("class=\"score\""))
        #expect(Self.occurrences(of: "class=\"threshold\"", in: html) == 3, "two thresholds and the legend")
        #expect(html.contains(">entry thresholds ±0.25</text>"))
        #expect(html.contains(">circuit-breaker halt</text>"))
        #expect(html.contains("<title>circuit breaker: no entries 2024-01-01 03:00 → 2024-01-01 07:00</title>"))
        #expect(html.contains("<g class=\"quiet\">"))
        #expect(html.contains(">quiet hours 2:00–6:00 UTC</text>"))
        #expect(html.contains(" · SMA 3 (fast) "), "the SMA in the price chart's tooltips")

        // No scored bar: the panel says so.
        let none = HTMLReport.render(
            title: "bot", result: result, metrics: PerformanceMetrics.compute(result), prices: prices, notes: [],
            overlays: HTMLReport.Overlays(score: HTMLReport.ScorePanel(times: [], scores: [], threshold: 0.25)))
        #expect(none.contains("No bar was scored."))
    }

    @Test("the simple moving average of closes")
    func movingAverage() {
        let closes = [1, 2, 3, 4].map { Price($0).raw }
        let sma = HTMLReport.simpleMovingAverage(closes, period: 2)
        #expect(sma[0].isNaN)
        #expect(Array(sma[1...]) == [1.5, 2.5, 3.5])
        let none = HTMLReport.simpleMovingAverage(closes, period: 0)
        #expect(none.count == 4 && none.filter { !$0.isNaN }.isEmpty)
        #expect(HTMLReport.simpleMovingAverage([], period: 3).isEmpty)
    }
}
