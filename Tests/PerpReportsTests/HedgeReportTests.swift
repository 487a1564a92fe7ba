import PerpModel
import PerpReports
import PerpSimulation
import Testing

/// `HedgeReport.render`: a complete, self-contained, escaped and deterministic page.
@Suite("Hedge report")
struct HedgeReportTests {
    typealias F = Fixtures

    /// Sixty daily bars around $10 with a pump to a $30 high on day 20, hedged with k = 1 and a
    /// 7-day rebalance: the pump liquidates the short, which is re-hedged at the next rebalance.
    static func result() -> HedgeSimulationResult {
        var series = CandleSeries()
        var previous: Int64 = 1_000_000_000
        for index in 0..<60 {
            let close = Int64(10 + (index * 7) % 5) * 100_000_000 + (index == 20 ? 1_000_000_000 : 0)
            let high = max(previous, close) + (index == 20 ? 2_000_000_000 : 20_000_000)
            series.appendRaw(
                openTime: F.start + Int64(index) * F.day, open: previous, high: high, low: min(previous, close), close: close,
                volume: 100_000_000_000)
            previous = close
        }
        let config = HedgeSimulation.Config(stake: Quantity(100), collateralMultiple: Rate("1")!, rebalance: .days(7))
        return HedgeSimulation.run(series, funding: [], config: config)
    }

    static func render(notes: [String] = []) -> String {
        HedgeReport.render(result: result(), dataPath: "nmr <1d>.csv", fundingPath: nil, notes: notes)
    }

    @Test("a complete document with three charts, the figures and the liquidations")
    func structure() {
        let result = Self.result()
        #expect(result.liquidations >= 1, "the fixture liquidates")
        let html = Self.render()
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html"))
        #expect(html.hasSuffix("</html>\n"))
        #expect(html.ranges(of: "<svg ").count == 3, "value, collateral equity, price and liquidation price")
        #expect(html.ranges(of: "</svg>").count == 3)
        #expect(html.contains("class=\"nmr-price\""))
        #expect(html.contains("class=\"liquidation-price\""), "the short's liquidation price over time")
        #expect(html.contains(">the short&#39;s liquidation price</text>"), "in the legend")
        #expect(html.ranges(of: "<table").count == html.ranges(of: "</table>").count)
        #expect(html.contains("class=\"hedged\""))
        #expect(html.contains("class=\"unhedged\""))
        #expect(html.contains("class=\"collateral\""))
        #expect(html.contains("class=\"liquidation\""), "liquidations marked")
        #expect(html.contains("class=\"rehedge\""), "re-hedges marked")
        // The count, and the rule the liquidations followed (issue 10).
        #expect(html.contains("<th>liquidations</th><td>\(result.liquidations); rule lighter"))
        #expect(html.contains("<h2>Liquidations</h2>\n<table"))
        #expect(!html.contains("http"), "no links or namespaces to anything outside the file")
        #expect(!html.contains("<script"))
    }

    @Test("with a funding history, the funding paid is charted; without one, no empty chart")
    func fundingChart() {
        let plain = Self.render()
        #expect(!plain.contains("class=\"funding-paid\""))
        var series = CandleSeries()
        for index in 0..<30 {
            series.appendRaw(
                openTime: F.start + Int64(index) * F.day, open: 1_000_000_000, high: 1_010_000_000, low: 990_000_000,
                close: 1_000_000_000, volume: 100_000_000_000)
        }
        // A positive rate: longs pay, so the short receives 100 × 10 × 0.0001 = 0.1 a day.
        let funding = (0..<30).map {
            FundingRate(time: Timestamp(milliseconds: F.start + Int64($0) * F.day + F.day / 2), rate: Rate("0.0001")!, interval: .hours(24))
        }
        let config = HedgeSimulation.Config(stake: Quantity(100), collateralMultiple: Rate("2")!, rebalance: .days(7))
        let result = HedgeSimulation.run(series, funding: funding, config: config)
        #expect(result.values.fundingPaid.count == result.values.count)
        #expect(result.values.fundingPaid.last.map { Notional(raw: $0) } == result.fundingPaid)
        // Settled at the first bar open at or after each time: the 30th (day 29½) has none.
        #expect(result.fundingPaid == Notional("-2.9")!, "received 0.1 a day, 29 times")
        let html = HedgeReport.render(result: result, dataPath: "nmr.csv", fundingPath: "funding.csv", notes: [])
        #expect(html.contains("<h2>Funding</h2>"))
        #expect(html.contains("class=\"funding-paid\""))
        #expect(html.contains(">funding paid by the short so far (below zero: received)</text>"), "in the legend")
        #expect(html.ranges(of: "<svg ").count == 4)
    }

    @Test("text is escaped")
    func escaping() {
        let html = Self.render(notes: ["use <b>more</b> collateral & \"hedge\""])
        #expect(html.contains("<li>use &lt;b&gt;more&lt;/b&gt; collateral &amp; &quot;hedge&quot;</li>"))
        #expect(!html.contains("<b>"))
        #expect(html.contains("Data: nmr &lt;1d&gt;.csv; no funding"))
    }

    @Test("the same inputs give the same bytes")
    func deterministic() {
        let notes = ["a note"]
        #expect(Self.render(notes: notes) == Self.render(notes: notes))
    }
}
