import Foundation
import TestSupport
import Testing

/// `--from` / `--to` on the commands that read history (issue 15, "Time ranges"): the range
/// reads exactly what a file cut to it would, and a range outside the data is one clear line.
@Suite struct TimeRangeCLITests {
    /// 20 days of hourly bars from 2025-01-01 with a rise, a fall and a squeeze.
    static let bars: [(Int64, Double, Double, Double, Double)] = (0..<480).map { hour in
        let time = Int64(1_735_689_600_000) + Int64(hour) * 3_600_000
        let base = 10.0 + 3.0 * sin(Double(hour) / 30.0) + (hour > 300 && hour < 330 ? Double(hour - 300) * 0.2 : 0)
        let open = (base * 1000).rounded() / 1000
        let close = ((base + 0.05 * cos(Double(hour))) * 1000).rounded() / 1000
        return (time, open, max(open, close) + 0.1, min(open, close) - 0.1, close)
    }

    static func csv(_ rows: ArraySlice<(Int64, Double, Double, Double, Double)>) -> String {
        "open_time_ms,open,high,low,close,volume\n"
            + rows.map { "\($0.0),\($0.1),\($0.2),\($0.3),\($0.4),1000" }.joined(separator: "\n") + "\n"
    }

    /// 2025-01-05T00:00Z and 2025-01-15T00:00Z: bars 96 ..< 336.
    static let from = "2025-01-05", to = "2025-01-15"
    static let cut = 96..<336

    @Test func worstCaseOnARangeEqualsTheFileCutToIt() throws {
        let whole = try CLI.temporaryFile(Self.csv(Self.bars[...]))
        let cut = try CLI.temporaryFile(Self.csv(Self.bars[Self.cut]))
        defer { for file in [whole, cut] { try? FileManager.default.removeItem(atPath: file) } }
        let ranged = try CLI.run([
            "hedge", "worst-case", "--data", whole, "--window", "3d", "--step", "bar", "--from", Self.from, "--to", Self.to, "--json",
        ])
        let direct = try CLI.run(["hedge", "worst-case", "--data", cut, "--window", "3d", "--step", "bar", "--json"])
        #expect(ranged.status == 0, "\(ranged.stderr)")
        let a = try ranged.json()
        let b = try direct.json()
        #expect(a["bars"] as? Int == 240)
        #expect(a["start"] as? String == "2025-01-05T00:00:00Z")
        #expect(a["end"] as? String == "2025-01-14T23:00:00Z")
        for key in ["g", "bars", "start", "end", "worst_window_start", "windows"] {
            #expect("\(a[key] ?? "nil")" == "\(b[key] ?? "nil")", "\(key)")
        }
    }

    @Test func aBacktestOnARangeEqualsTheFileCutToIt() async throws {
        try await offPool {
            let whole = try CLI.temporaryFile(Self.csv(Self.bars[...]))
            let cut = try CLI.temporaryFile(Self.csv(Self.bars[Self.cut]))
            let fundingRows = (0..<60).map { "\(Int64(1_735_689_600_000) + Int64($0) * 28_800_000),0.0001" }
            let funding = try CLI.temporaryFile("funding_time_ms,funding_rate\n" + fundingRows.joined(separator: "\n") + "\n")
            defer { for file in [whole, cut, funding] { try? FileManager.default.removeItem(atPath: file) } }
            let common = ["backtest", "--strategy", "sma-cross", "--fast", "5", "--slow", "20", "--funding", funding, "--json"]
            let ranged = try CLI.run(common + ["--data", whole, "--from", Self.from, "--to", Self.to])
            let direct = try CLI.run(common + ["--data", cut])
            #expect(ranged.status == 0, "\(ranged.stderr)")
            let a = try ranged.json()
            let b = try direct.json()
            #expect(a["bars"] as? Int == 240)
            #expect((a["trades"] as? Int ?? 0) > 0, "the range should trade, or this compares nothing")
            #expect((a["funding_paid"] as? Double ?? 0) != 0, "funding inside the range should settle")
            for key in ["bars", "trades", "final_equity", "fees", "funding_paid", "max_drawdown"] {
                #expect("\(a[key] ?? "nil")" == "\(b[key] ?? "nil")", "\(key)")
            }
        }
    }

    @Test func fundingStatsReadsOnlyTheRange() throws {
        let rows = (0..<30).map { "\(Int64(1_735_689_600_000) + Int64($0) * 28_800_000),\($0 < 15 ? "0.0001" : "0.0003")" }
        let file = try CLI.temporaryFile("funding_time_ms,funding_rate\n" + rows.joined(separator: "\n") + "\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        // Settlements 15… (from 2025-01-06T00:00Z) all pay 0.0003 per 8 h: 9 bps a day.
        let result = try CLI.run(["funding", "stats", "--data", file, "--from", "2025-01-06", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        #expect(json["start"] as? String == "2025-01-06T00:00:00Z")
        #expect(json["settlements"] as? Int == 15)
        #expect(abs((json["mean_bps_per_day"] as? Double ?? 0) - 9) < 1e-9)
        let both = try CLI.run(["funding", "stats", "--data", file, "--from", "2025-01-06", "--days", "3"])
        BoundsCLITests.expectOneLine(both, "either --days or --from/--to")
        let none = try CLI.run(["funding", "stats", "--data", file, "--from", "2026-01-01"])
        BoundsCLITests.expectOneLine(none, "no funding settlement")
    }

    @Test(arguments: [
        (["--from", "2026-01-01"], "no bar of"),
        (["--from", "2025-01-10", "--to", "2025-01-05"], "--from must be before --to"),
        (["--from", "2025-01-10", "--to", "2025-01-10"], "--from must be before --to"),
        (["--to", "last tuesday"], "--to must be a UTC date or time"),
        (["--from", "2025-13-01"], "--from must be a UTC date or time"),
    ])
    func aBadRangeIsOneClearLine(arguments: [String], mentions: String) async throws {
        try await offPool {
            let whole = try CLI.temporaryFile(Self.csv(Self.bars[...]))
            defer { try? FileManager.default.removeItem(atPath: whole) }
            for command in [
                ["hedge", "worst-case"], ["hedge", "horizons"], ["data", "check"], ["backtest", "--strategy", "hold-short"],
            ] {
                let result = try CLI.run(command + ["--data", whole] + arguments)
                BoundsCLITests.expectOneLine(result, mentions)
            }
            let outside = try CLI.run(["hedge", "worst-case", "--data", whole, "--from", "2026-01-01"])
            #expect(outside.stderr.contains("it covers 2025-01-01T00:00:00Z to 2025-01-20T23:00:00Z"), "\(outside.stderr)")
        }
    }

    @Test func hedgePlanMeasuresGOnTheRangeOfTheShippedHistory() throws {
        let result = try CLI.run(["hedge", "plan", "--stake", "10", "--price", "8", "--from", "2025-06-01", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let history = try result.json()["history"] as? [String: Any] ?? [:]
        #expect(history["start"] as? String == "2025-06-01")
        #expect(history["end"] as? String == "2025-10-23")
    }
}
