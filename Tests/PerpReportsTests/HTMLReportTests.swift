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
        #expect(Self.occurrences(of: "<svg ", in: html) == 3, "equity+drawdown, price, funding")
        #expect(Self.occurrences(of: "</svg>", in: html) == 3)
        #expect(Self.occurrences(of: "<table", in: html) == Self.occurrences(of: "</table>", in: html))
        #expect(html.contains("class=\"equity\""))
        #expect(html.contains("class=\"drawdown\""))
        #expect(html.contains("class=\"price\""))
        #expect(html.contains("class=\"funding\""))
        #expect(html.contains("href=\"#mk-long\""))
        #expect(html.contains("href=\"#mk-short\""))
        #expect(Self.occurrences(of: "href=\"#mk-exit\"", in: html) == 2)
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
        #expect(Self.occurrences(of: "<svg ", in: html) == 3)
        #expect(html.contains("No equity curve was recorded."))
        #expect(html.contains("No price series was supplied."))
        #expect(html.contains("No funding settlements."))
        #expect(html.contains("No trades."))
    }

    @Test("a year of 1-minute bars renders small and fast, keeping extremes")
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
        let clock = ContinuousClock()
        let started = clock.now
        let metrics = PerformanceMetrics.compute(result)
        let html = HTMLReport.render(title: "year", result: result, metrics: metrics, prices: (times, closes), notes: [])
        let elapsed = clock.now - started
        #expect(html.utf8.count < 2_000_000, "\(html.utf8.count) bytes")
        #expect(elapsed < .seconds(5), "\(elapsed)")
        #expect(html.contains(">5000</text>"), "the spike sets the top of the equity axis")
        #expect(html.contains("The first 200 of 1000 trades"))
        #expect(Self.occurrences(of: "<tr>", in: html) <= 201 + 20, "at most 200 trade rows plus the metrics")
    }
}
