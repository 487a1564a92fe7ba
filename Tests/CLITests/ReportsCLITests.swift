import Foundation
import Testing

/// Issue 15, "Reports": money in cents with thousands separators, and the full equity curve.
@Suite struct ReportsCLITests {
    @Test func equityExportsEveryBarAndAgreesWithTheSummary() throws {
        let data = try CLI.temporaryFile(TimeRangeCLITests.csv(TimeRangeCLITests.bars[...]))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("equity-\(UUID().uuidString).csv").path
        defer { for file in [data, out] { try? FileManager.default.removeItem(atPath: file) } }
        let result = try CLI.run([
            "backtest", "--data", data, "--strategy", "sma-cross", "--fast", "5", "--slow", "20", "--capital", "250000", "--equity", out,
            "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") }
        #expect(rows.first?.joined(separator: ",") == "time_ms,time_utc,equity,drawdown,position")
        #expect(rows.count == 1 + 480, "one row per bar")
        #expect(rows[1][1] == "2025-01-01T00:00:00Z")
        let finalEquity = try #require(json["final_equity"] as? Double)
        #expect(Double(rows[rows.count - 1][2]) == finalEquity)
        let deepest = rows.dropFirst().compactMap { Double($0[3]) }.max() ?? -1
        #expect(abs(deepest - (json["max_drawdown"] as? Double ?? -2)) < 1e-6, "\(deepest)")
        #expect(rows.dropFirst().contains { $0.count == 5 && $0[4] != "0" }, "the position column shows the trades")

        // The table prints money in cents with thousands grouped.
        let table = try CLI.run([
            "backtest", "--data", data, "--strategy", "sma-cross", "--fast", "5", "--slow", "20", "--capital", "250000",
        ])
        #expect(table.stdout.contains("from 250,000.00"), "\(table.stdout)")
        let equityLine = table.stdout.split(separator: "\n").first { $0.hasPrefix("final equity") } ?? ""
        #expect(
            equityLine.range(of: #"final equity +[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2} from"#, options: .regularExpression) != nil,
            "\(equityLine)")
    }

    @Test func oneRunsFilesAreRefusedWithTheWalkForward() throws {
        let data = try CLI.temporaryFile(TimeRangeCLITests.csv(TimeRangeCLITests.bars[...]))
        defer { try? FileManager.default.removeItem(atPath: data) }
        for flag in ["--equity", "--trades"] {
            let result = try CLI.run(["backtest", "--data", data, "--strategy", "nmr-bot", "--walk-forward", flag, "/tmp/never.csv"])
            BoundsCLITests.expectOneLine(result, "\(flag) writes one run's file; --walk-forward compares three variants")
        }
    }
}
