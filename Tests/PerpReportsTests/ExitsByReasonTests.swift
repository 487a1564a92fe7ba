import PerpModel
import PerpReports
import PerpSimulation
import Testing

/// The report's exits-by-reason table: count, wins and net PnL of closed trades per reason.
@Suite("Exits by reason")
struct ExitsByReasonTests {
    typealias F = Fixtures

    static func trades() -> [TradeRecord] {
        var open = TradeRecord(
            side: .long, entryTime: Timestamp(milliseconds: F.start + F.day), entryBar: 24, entryPrice: Price("10")!,
            quantity: Quantity("1")!)
        open.exitReason = nil
        return [
            F.trade(reason: .stop, gross: "-2.5", fees: "0.01"),
            F.trade(reason: .timeExit, gross: "0.5", fees: "0.01"),
            F.trade(reason: .target, gross: "5", fees: "0.01"),
            F.trade(reason: .stop, gross: "-2.5", fees: "0.01"),
            F.trade(reason: .timeExit, gross: "-0.25", fees: "0.01", funding: "0.04"),
            F.trade(reason: .circuitBreaker, gross: "1"),
            F.trade(reason: .end, gross: "0"),
            open,
        ]
    }

    @Test("counts, wins and exact net PnL per reason, in FillReason's order; open trades left out")
    func table() {
        let rows = ExitReasonSummary.table(Self.trades())
        #expect(rows.map(\.reason) == [.stop, .target, .timeExit, .circuitBreaker, .end])
        #expect(rows.map(\.trades) == [2, 1, 2, 1, 1])
        #expect(rows.map(\.wins) == [0, 1, 1, 1, 0])
        #expect(rows.map(\.netPnL) == ["-5.02", "4.99", "0.19", "1", "0"].map { Notional($0)! })
        #expect(rows.map(\.label) == ["stop", "target", "time exit", "circuit breaker", "end of data"])
        let metrics = PerformanceMetrics.compute(F.result(points: [(F.start, "1000")], trades: Self.trades()))
        #expect(metrics.exitsByReason == rows)
        #expect(rows.map(\.trades).reduce(0, +) == metrics.trades)
        #expect(rows.map(\.netPnL).reduce(Notional.zero, +) == metrics.netTradePnL)
    }

    @Test("JSON: exits_by_reason keyed by the reason's name, exact money")
    func json() throws {
        let value = PerformanceMetrics.compute(F.result(points: [(F.start, "1000")], trades: Self.trades())).json()
        let exits = try #require(value["exits_by_reason"])
        guard case .object(let members) = exits else {
            Issue.record("not an object: \(exits)")
            return
        }
        #expect(members.map(\.0) == ["stop", "target", "time_exit", "circuit_breaker", "end"])
        #expect(exits["time_exit"]?["trades"] == .number("2"))
        #expect(exits["time_exit"]?["wins"] == .number("1"))
        #expect(exits["stop"]?["net_pnl"] == .number("-5.02"))
        #expect(try JSONParser.parse(value.serialized()) == value)
        let none = PerformanceMetrics.compute(F.result(points: [(F.start, "1000")])).json()
        #expect(none["exits_by_reason"] == .object([]))
    }

    @Test("the HTML report has the table, and the trade CSV the reasons' names")
    func htmlAndCSV() {
        let trades = Self.trades()
        let result = F.result(points: [(F.start, "1000"), (F.start + F.hour, "1001")], trades: trades)
        let html = HTMLReport.render(
            title: "exits", result: result, metrics: PerformanceMetrics.compute(result), prices: nil, notes: [])
        #expect(html.contains("<h2>Exits by reason</h2>"))
        #expect(html.contains("<tr><td>time exit</td><td>2</td><td>1</td><td class=\"pos\">0.19</td></tr>"), "\(html)")
        #expect(html.contains("<tr><td>stop</td><td>2</td><td>0</td><td class=\"neg\">-5.02</td></tr>"))
        #expect(html.contains("1 trade still open at the end, not counted."))
        let csv = TradeCSV.render(trades).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false)[6] }
        #expect(csv == ["exit_reason", "stop", "time_exit", "target", "stop", "time_exit", "circuit_breaker", "end", ""])
    }
}
