import PerpModel
import PerpReports
import PerpSimulation
import Testing

/// `TradeCSV`, `FillCSV`, `FundingCSV` and `ReportJSON`.
@Suite("CSV and JSON records")
struct CSVTests {
    typealias F = Fixtures

    @Test("the trade CSV has a header and exact decimal rows; open trades leave the exit empty")
    func trades() {
        let closed = F.trade(
            side: .short, entry: F.start, entryPrice: "0.00012345", quantity: "1234.5", exit: F.start + 90_250,
            exitPrice: "0.0001", reason: .stop, gross: "0.03019", fees: "0.00000001", funding: "-0.5")
        var open = TradeRecord(
            side: .long, entryTime: Timestamp(milliseconds: F.start + F.day), entryBar: 1440, entryPrice: Price("17.5")!,
            quantity: Quantity("2")!)
        open.funding = Notional("0.125")!
        let text = TradeCSV.render([closed, open])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4, "header, two rows, and the final newline")
        #expect(
            lines[0]
                == "side,entry_time,entry_price,quantity,exit_time,exit_price,exit_reason,gross_pnl,fees,funding_paid,net_pnl")
        // net = 0.03019 − 0.00000001 − (−0.5) = 0.53018999
        #expect(
            lines[1]
                == "short,2024-01-01T00:00:00Z,0.00012345,1234.5,2024-01-01T00:01:30.250Z,0.0001,stop,0.03019,0.00000001,-0.5,0.53018999"
        )
        #expect(lines[2] == "long,2024-01-02T00:00:00Z,17.5,2,,,,0,0,0.125,-0.125")
        #expect(lines[3] == "")
        #expect(TradeCSV.render([]) == TradeCSV.header.joined(separator: ",") + "\n")
        #expect(TradeCSV.render([closed, open]) == text, "deterministic")
    }

    @Test("the fill CSV writes buy/sell and exact amounts")
    func fills() {
        let fill = FillRecord(
            time: Timestamp(milliseconds: F.start), bar: 7, side: .short, quantity: Quantity("0.5")!, price: Price("20.12345678")!,
            fee: Notional("0.00503086")!, realizedPnL: Notional("-1.25")!, reason: .liquidation)
        let text = FillCSV.render([fill])
        #expect(
            text
                == "time,bar,side,quantity,price,fees,realized_pnl,reason\n"
                + "2024-01-01T00:00:00Z,7,sell,0.5,20.12345678,0.00503086,-1.25,liquidation\n")
    }

    @Test("the funding CSV writes settlements exactly")
    func funding() {
        let record = FundingRecord(
            time: Timestamp(milliseconds: F.start + 8 * F.hour), rate: Rate("0.0000320592")!, mark: Price("20")!,
            position: Quantity("-3")!, payment: Notional("-0.00192355")!)
        #expect(
            FundingCSV.render([record])
                == "time,rate,mark,position,payment\n2024-01-01T08:00:00Z,0.0000320592,20,-3,-0.00192355\n")
    }

    @Test("trade JSON uses exact numbers and null for an open exit")
    func tradeJSON() throws {
        var open = TradeRecord(
            side: .long, entryTime: Timestamp(milliseconds: F.start), entryBar: 0, entryPrice: Price("17.5")!, quantity: Quantity("2")!)
        open.fees = Notional("0.01")!
        let value = ReportJSON.trade(open)
        #expect(value["entry_price"] == .number("17.5"))
        #expect(value["exit_time"] == .null)
        #expect(value["net_pnl"] == .number("-0.01"))
        let result = F.result(points: [(F.start, "1000")], trades: [open])
        let report = ReportJSON.report(metrics: PerformanceMetrics.compute(result), result: result)
        #expect(report["trades"]?.arrayValue?.count == 1)
        #expect(report["metrics"]?["open_trades"] == .number("1"))
        #expect(try JSONParser.parse(report.serialized(pretty: false)) == report)
    }
}
