import Foundation
import TestSupport
import Testing

/// Issue 15, "Optimisation": a grid over any parameter the strategy reads, ranked, all rows in
/// `--out`, and the walk-forward that chooses on training windows only.
@Suite struct SweepCLITests {
    static func data() throws -> String { try CLI.temporaryFile(HelpExamplesCLITests.bars(named: "sweep_1h.csv")) }

    static func rows(_ path: String) throws -> [[String: String]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        guard let header = lines.first else { return [] }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID().uuidString)-\(name)").path
    }

    @Test func aRangeGridIsRankedAndEveryRowMatchesItsOwnRun() async throws {
        try await offPool {
            let data = try Self.data()
            let out = Self.temporary("all.csv")
            defer { for file in [data, out] { try? FileManager.default.removeItem(atPath: file) } }
            let common = ["backtest", "--data", data, "--strategy", "sma-cross", "--capital", "10000", "--leverage", "1"]
            let result = try CLI.run(common + ["--sweep", "fast=5..25:10;slow=50,100", "--top", "3", "--out", out])
            #expect(result.status == 0, "\(result.stderr)")
            let table = result.stdout.split(separator: "\n")
            let printed = table.prefix { !$0.hasPrefix("ranked by") }.filter { $0.first?.isNumber == true }
            #expect(printed.count == 3, "--top 3 prints three runs: \(result.stdout)")
            #expect(result.stdout.contains("the top 3 of 6 runs; all 6 in \(out)"))
            let rows = try Self.rows(out)
            #expect(rows.count == 6)
            #expect(Set(rows.map { $0["fast"]! }) == ["5", "15", "25"])
            let sharpes = rows.compactMap { Double($0["sharpe"] ?? "") }
            #expect(sharpes == sharpes.sorted(by: >), "ranked best first: \(sharpes)")
            #expect(rows.map { $0["rank"]! } == ["1", "2", "3", "4", "5", "6"])
            for row in rows.prefix(2) {
                let single = try CLI.run(common + ["--fast", row["fast"]!, "--slow", row["slow"]!, "--json"]).json()
                #expect("\(single["final_equity"] ?? "")" == row["final_equity"]!.replacingOccurrences(of: "\"", with: ""), "\(row)")
            }
        }
    }

    @Test(arguments: ["sortino", "calmar", "return"])
    func everyObjectiveRanksByItsOwnColumn(objective: String) async throws {
        try await offPool {
            let data = try Self.data()
            let out = Self.temporary("\(objective).csv")
            defer { for file in [data, out] { try? FileManager.default.removeItem(atPath: file) } }
            let result = try CLI.run([
                "backtest", "--data", data, "--strategy", "sma-cross", "--capital", "10000", "--leverage", "1", "--sweep",
                "fast=5,10,20;slow=50,80",
                "--rank-by", objective, "--out", out,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let column = objective
            let values = try Self.rows(out).map { Double($0[column] ?? "") }
            let defined = values.prefix { $0 != nil }.map { $0! }
            #expect(defined == defined.sorted(by: >), "\(objective): \(values)")
            #expect(values.dropFirst(defined.count).allSatisfy { $0 == nil }, "undefined values rank last")
        }
    }

    @Test func theBotSweepsAnyKeyOfItsConfiguration() async throws {
        try await offPool {
            let data = try Self.data()
            let out = Self.temporary("bot.csv")
            let config = Self.temporary("bot.yaml")
            defer { for file in [data, out, config] { try? FileManager.default.removeItem(atPath: file) } }
            let result = try CLI.run([
                "backtest", "--data", data, "--strategy", "nmr-bot", "--capital", "10000", "--sweep",
                "risk.stop_loss=0.015..0.035:0.01;entry_threshold=0.1,0.25", "--out", out, "--json",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let runs = try result.json()["runs"] as? [[String: Any]] ?? []
            #expect(runs.count == 6)
            let rows = try Self.rows(out)
            #expect(Set(rows.map { $0["risk.stop_loss"]! }) == ["0.015", "0.025", "0.035"])
            // The row for stop 0.035 and threshold 0.1 is the plain run of a file that says so.
            let initialised = try CLI.run(["bot", "init", "--out", config])
            #expect(initialised.status == 0)
            var yaml = try String(contentsOfFile: config, encoding: .utf8)
            yaml = yaml.replacingOccurrences(of: "stop_loss: 0.025", with: "stop_loss: 0.035")
                .replacingOccurrences(of: "entry_threshold: 0.25", with: "entry_threshold: 0.1")
            try yaml.write(toFile: config, atomically: true, encoding: .utf8)
            let single = try CLI.run([
                "backtest", "--data", data, "--strategy", "nmr-bot", "--capital", "10000", "--config", config, "--json",
            ])
            #expect(single.status == 0, "\(single.stderr)")
            let row = try #require(rows.first { $0["risk.stop_loss"] == "0.035" && $0["entry_threshold"] == "0.1" })
            #expect("\(try single.json()["final_equity"] ?? "")" == row["final_equity"]!)
        }
    }

    @Test(arguments: [
        (["--strategy", "sma-cross", "--sweep", "fats=5,10"], "did you mean fast?"),
        (
            ["--strategy", "sma-cross", "--sweep", "risk.stop_loss=0.02"],
            "risk.stop_loss is a key of the nmr-bot configuration; sma-cross varies fast, slow, leverage"
        ),
        (["--strategy", "nmr-bot", "--sweep", "risk.stop_los=0.02"], "did you mean risk.stop_loss?"),
        (["--strategy", "nmr-bot", "--sweep", "risk.stop_loss=0.01..0.03"], "a range needs a step"),
        (["--strategy", "nmr-bot", "--sweep", "risk.stop_loss=0.03..0.01:0.01"], "low must not exceed high"),
        (["--strategy", "nmr-bot", "--sweep", "risk.stop_loss=0.01..0.03:0"], "the step must be positive"),
        (["--strategy", "nmr-bot", "--sweep", "risk.stop_loss=0.02,1.5"], "--sweep risk.stop_loss=1.5: risk.stop_loss"),
        (["--strategy", "nmr-bot", "--sweep", "risk.time_exit=6h,abc"], "--sweep risk.time_exit=abc: risk.time_exit: must be a length"),
        (["--strategy", "nmr-bot", "--sweep", "risk.stop_loss=0.001..0.9:0.00001"], "more than 10000 runs"),
        (["--strategy", "funding-carry", "--sweep", "fast=5"], "funding-carry has no parameter to vary"),
        (["--strategy", "sma-cross", "--out", "/tmp/never.csv"], "--out belongs to --sweep"),
        (["--strategy", "sma-cross", "--sweep", "fast=5", "--rank-by", "profit"], "--rank-by must be sharpe, sortino, calmar or return"),
        (["--strategy", "sma-cross", "--sweep", "fast=5", "--top", "0"], "--top must be at least 1"),
    ])
    func aBadSweepIsOneClearLine(arguments: [String], mentions: String) async throws {
        try await offPool {
            let data = try Self.data()
            defer { try? FileManager.default.removeItem(atPath: data) }
            BoundsCLITests.expectOneLine(try CLI.run(["backtest", "--data", data] + arguments), mentions)
        }
    }

    @Test func theWalkForwardChoosesOnTrainingWindowsOnlyAndReportsTheTestWindows() async throws {
        try await offPool {
            let data = try Self.data()
            let out = Self.temporary("folds.csv")
            defer { for file in [data, out] { try? FileManager.default.removeItem(atPath: file) } }
            let common = ["backtest", "--data", data, "--strategy", "sma-cross", "--capital", "10000", "--leverage", "1"]
            let result = try CLI.run(
                common + ["--sweep", "fast=5,20;slow=50,100", "--walk-forward", "--train", "40d", "--test", "20d", "--out", out, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let folds = try result.json()["folds"] as? [[String: Any]] ?? []
            // 150 days: train 40d then test windows of 20d while they fit: 5 folds.
            #expect(folds.count == 5, "\(folds.count)")
            #expect(try Self.rows(out).count == 5)
            for fold in folds.prefix(2) {
                let trainStart = try #require(fold["train_start"] as? String)
                let testStart = try #require(fold["test_start"] as? String)
                let testEnd = try #require(fold["test_end"] as? String)
                let chosen = try #require(fold["chosen"] as? [String: String])
                // Every point on the training window alone: the chosen one has the best Sharpe.
                var best = -Double.infinity
                var chosenSharpe = Double.nan
                for fast in ["5", "20"] {
                    for slow in ["50", "100"] {
                        let run = try CLI.run(common + ["--fast", fast, "--slow", slow, "--from", trainStart, "--to", testStart, "--json"])
                            .json()
                        let sharpe = run["sharpe"] as? Double ?? -Double.infinity
                        best = max(best, sharpe)
                        if chosen["fast"] == fast && chosen["slow"] == slow { chosenSharpe = sharpe }
                    }
                }
                #expect(chosenSharpe == best, "fold from \(testStart): chose \(chosen)")
                #expect(abs((fold["in_sample"] as? Double ?? 0) - best) < 1e-9)
                // Out of sample: the chosen run over training and test windows, counted from the test window's start.
                let equity = Self.temporary("equity.csv")
                defer { try? FileManager.default.removeItem(atPath: equity) }
                let run = try CLI.run(
                    common + [
                        "--fast", chosen["fast"]!, "--slow", chosen["slow"]!, "--from", trainStart, "--to", testEnd, "--equity", equity,
                    ])
                #expect(run.status == 0, "\(run.stderr)")
                let rows = try Self.rows(equity)
                let startIndex = try #require(rows.firstIndex { ($0["time_utc"] ?? "") >= testStart })
                let start = Double(rows[startIndex - 1]["equity"]!)!
                let end = Double(rows[rows.count - 1]["equity"]!)!
                #expect(abs((fold["out_of_sample_return"] as? Double ?? 0) - (end / start - 1)) < 1e-9)
            }
        }
    }
}

@Suite struct ListStrategiesCLITests {
    @Test func theStrategiesAreListedWithoutData() throws {
        let result = try CLI.run(["backtest", "--list-strategies"])
        #expect(result.status == 0, "\(result.stderr)")
        for name in ["sma-cross", "hold-short", "funding-carry", "nmr-bot", "Strategy protocol"] {
            #expect(result.stdout.contains(name), "\(name)")
        }
        #expect(result.stdout.contains("--sweep: fast, slow, leverage"))
    }
}
