import Foundation
import Testing

/// Issue 11: the trap repros on money and prices. Each ends in one clear line that names the
/// limit (exit 1), or in an ordinary result, never in a signal.
@Suite struct CarryLimitCLITests {
    /// A folder with `name`: 300 quarter-hour bars from 2024-01-01, the close of bar `spikeBar`
    /// (and its high) set to `spike` when given; and a funding file with one rate of `rate`.
    static func fixture(spike: String? = nil, spikeBar: Int = 150, falling: Bool = false) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-carry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        var csv = "open_time_ms,open,high,low,close,volume\n"
        for index in 0..<300 {
            let close = falling ? 0.45 - Double(index) * 0.0012 : 10 + Double((index * 7) % 13) / 10
            let text = String(format: "%.4f", close)
            let high = index == spikeBar ? (spike ?? String(format: "%.4f", close + 0.01)) : String(format: "%.4f", close + 0.01)
            let last = index == spikeBar ? (spike ?? text) : text
            csv += "\(1_704_067_200_000 + Int64(index) * 900_000),\(text),\(high),\(String(format: "%.4f", close - 0.01)),\(last),100\n"
        }
        let data = url.appendingPathComponent("bars.csv").path
        try Data(csv.utf8).write(to: URL(fileURLWithPath: data))
        return data
    }

    static func funding(rate: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-carry-funding-\(UUID().uuidString).csv")
        try Data("funding_time_ms,funding_rate\n1704096000000,\(rate)\n".utf8).write(to: url)
        return url.path
    }

    @Test("a few hours of falling prices: the backtest ends and does not annualise the return")
    func shortRunIsNotAnnualised() throws {
        let data = try Self.fixture(falling: true)
        let table = try CLI.run(["backtest", "--strategy", "hold-short", "--data", data])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("n/a (the run spans"), "\(table.stdout)")
        let leveraged = try CLI.run(["backtest", "--strategy", "hold-short", "--data", data, "--leverage", "10"])
        #expect(leveraged.status == 0, "\(leveraged.stderr)")
        let json = try CLI.run(["backtest", "--strategy", "hold-short", "--data", data, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try json.json()
        #expect(object["annualized_return"] is NSNull)
        #expect((object["annualized_return_note"] as? String)?.contains("30d") == true)
    }

    @Test("a price the tool cannot carry is refused by data check and by every command that reads it")
    func pricesBeyondTheLimit() throws {
        let data = try Self.fixture(spike: "9999999999")
        let commands: [[String]] = [
            ["data", "check", "--data", data],
            ["backtest", "--strategy", "sma-cross", "--data", data],
            ["backtest", "--strategy", "funding-carry", "--data", data],
            ["hedge", "survival", "--stake", "10", "--data", data],
            ["hedge", "backtest", "--stake", "10", "--collateral-multiple", "2", "--data", data],
            ["pool", "simulate", "--seed", "1", "--data", data],
        ]
        for arguments in commands {
            BoundsCLITests.expectOneLine(try CLI.run(arguments), "high 9999999999 is beyond the highest price the tool carries (1000000")
        }
    }

    @Test("a price within the limit that would take the hedge beyond it is refused, naming the bar")
    func hedgeBeyondTheLimit() throws {
        let data = try Self.fixture(spike: "999999")
        BoundsCLITests.expectOneLine(
            try CLI.run(["hedge", "backtest", "--stake", "100", "--collateral-multiple", "999", "--data", data]),
            "needs more than 1000000000 USDC at the bar of 2024-01-02T13:30:00Z")
        BoundsCLITests.expectOneLine(
            try CLI.run(["hedge", "survival", "--stake", "99999999", "--data", data]), "is beyond the 1000000000 USDC the tool carries")
    }

    @Test("absurd money flags name their limit")
    func absurdFlags() throws {
        BoundsCLITests.expectOneLine(
            try CLI.run(["hedge", "plan", "--stake", "10000000000", "--price", "8"]), "--stake must be at most 100000000")
        BoundsCLITests.expectOneLine(
            try CLI.run(["hedge", "plan", "--stake", "10", "--price", "9999999999"]), "--price must be at most 1000000")
        BoundsCLITests.expectOneLine(
            try CLI.run(["hedge", "plan", "--stake", "99999999", "--price", "999999"]), "beyond the 1000000000 USDC the tool carries")
        BoundsCLITests.expectOneLine(try CLI.run(["hedge", "plan", "--stake", "-1", "--price", "8"]), "--stake must be greater than zero")
        BoundsCLITests.expectOneLine(
            try CLI.run(["hedge", "plan", "--stake", "92233720368547758070", "--price", "8"]), "--stake must be at most 100000000")
        let data = try Self.fixture()
        BoundsCLITests.expectOneLine(
            try CLI.run(["backtest", "--strategy", "hold-short", "--data", data, "--leverage", "0.00000001"]),
            "--leverage must be at least 0.01")
        BoundsCLITests.expectOneLine(
            try CLI.run(["backtest", "--strategy", "hold-short", "--data", data, "--fee-taker", "99999"]),
            "--fee-taker must be at most 1 (100 %")
        BoundsCLITests.expectOneLine(
            try CLI.run([
                "calc", "liquidation", "--side", "short", "--entry", "999999", "--quantity", "99999999", "--collateral", "1",
                "--maintenance-fraction", "0.02",
            ]),
            "the most the tool carries")
        let tiny = try CLI.run([
            "calc", "liquidation", "--side", "short", "--entry", "0.00000001", "--quantity", "1", "--collateral", "50",
            "--maintenance-fraction", "0.05",
        ])
        #expect(tiny.status == 0, "\(tiny.stderr)")
    }

    @Test("a funding rate of 10 per interval is refused, naming the limit")
    func fundingRateBeyondTheLimit() throws {
        let data = try Self.fixture()
        BoundsCLITests.expectOneLine(
            try CLI.run(["backtest", "--strategy", "hold-short", "--data", data, "--funding", try Self.funding(rate: "10")]),
            "the largest funding rate the tool carries")
    }

    @Test("a step below one bar is refused instead of stepping a millisecond at a time")
    func stepBelowOneBar() throws {
        let data = try Self.fixture()
        BoundsCLITests.expectOneLine(
            try CLI.run(["hedge", "worst-case", "--data", data, "--step", "1ms"], timeout: 20), "is shorter than the data's bars (15m)")
    }

    @Test("a configuration with many problems: bot check lists them all, backtest shows the first four and points at it")
    func manyConfigProblems() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-carry-bot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("bot.yaml").path
        let initialised = try CLI.run(["bot", "init", "--out", path])
        #expect(initialised.status == 0, "\(initialised.stderr)")
        // Every number in the file becomes -1: a problem for each numeric setting.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let broken = text.replacingOccurrences(of: #"(:\s+)[0-9][0-9.]*[a-z]*"#, with: "$1-1", options: .regularExpression)
        try Data(broken.utf8).write(to: URL(fileURLWithPath: path))

        let check = try CLI.run(["bot", "check", "--config", path])
        #expect(check.status == 1)
        let listed = check.stderr.split(separator: "\n").filter { $0.hasPrefix("  - ") }.count
        #expect(listed > 5, "\(check.stderr)")

        let backtest = try CLI.run(["backtest", "--strategy", "nmr-bot", "--config", path, "--data", try Self.fixture()])
        #expect(backtest.status == 1)
        let lines = backtest.stderr.split(separator: "\n")
        #expect(lines.count == 6, "\(backtest.stderr)")
        #expect(lines.last?.contains("more; `nmrperp bot check --config") == true, "\(backtest.stderr)")
    }

    @Test("a 3000-character argument is quoted back cut short")
    func longArgumentsAreCut() throws {
        let long = String(repeating: "x", count: 3000)
        let result = try CLI.run(["bench", "g", "--data", long, "--reps", long])
        #expect(result.status == 64 || result.status == 1)
        #expect(result.stderr.split(separator: "\n").allSatisfy { $0.count <= 400 }, "\(result.stderr.prefix(500))")
    }
}
