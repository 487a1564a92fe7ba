import Foundation
import Testing

/// Issue 11: absurd lengths, windows and bot settings end in one clear line naming the limit and
/// exit code 1 (64 when the argument parser itself refuses the number), never a trap.
@Suite struct BoundsCLITests {
    /// A fresh folder with `bars.csv`: 300 quarter-hour bars from 2024-01-01, gently oscillating.
    static func fixture() throws -> (folder: String, data: String) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-bounds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        var csv = "open_time_ms,open,high,low,close,volume\n"
        for index in 0..<300 {
            let close = 10 + Double((index * 7) % 13) / 10
            csv += "\(1_704_067_200_000 + Int64(index) * 900_000),\(close),\(close + 0.1),\(close - 0.1),\(close),100\n"
        }
        let data = url.appendingPathComponent("bars.csv").path
        try Data(csv.utf8).write(to: URL(fileURLWithPath: data))
        return (url.path, data)
    }

    /// The run failed with `status` and printed exactly one line containing `text`.
    static func expectOneLine(_ result: CLIResult, _ text: String, status: Int32 = 1, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == status, "\(result.stderr)", sourceLocation: sourceLocation)
        let lines = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(text), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
    }

    @Test func slowWindowsBeyondTheLimitOrTheData() throws {
        let data = try Self.fixture().data
        let sma = ["backtest", "--strategy", "sma-cross", "--data", data]
        Self.expectOneLine(try CLI.run(sma + ["--slow", "99999999999"]), "--slow must be at most 10000000 bars (got 99999999999)")
        Self.expectOneLine(
            try CLI.run(sma + ["--slow", "9223372036854775807"]), "--slow must be at most 10000000 bars (got 9223372036854775807)")
        // Past Int: the argument parser's own refusal (exit code 64).
        let parser = try CLI.run(sma + ["--slow", "9223372036854775808"])
        #expect(parser.status == 64, "\(parser.stderr)")
        Self.expectOneLine(try CLI.run(sma + ["--fast", "299", "--slow", "301"]), "the data has 300 bars; --slow 301 needs more")
        Self.expectOneLine(try CLI.run(sma + ["--fast", "0"]), "--fast must be a positive number of bars (got 0)")
        Self.expectOneLine(try CLI.run(sma + ["--sweep", "fast=5;slow=99999999999"]), "--sweep slow values must be at most 10000000 bars")
        Self.expectOneLine(try CLI.run(sma + ["--sweep", "fast=5;slow=20,400"]), "the data has 300 bars; --sweep slow 400 needs more")
        Self.expectOneLine(try CLI.run(sma + ["--sweep", "fast=5;slow=20", "--threads", "0"]), "--threads must be at least 1 (got 0)")
        let ok = try CLI.run(sma + ["--fast", "5", "--slow", "300"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    @Test(arguments: ["106751991167d", "9999999999999999999ms", "36526d"])
    func lengthsBeyondOneHundredYears(text: String) throws {
        let data = try Self.fixture().data
        let limit = "must be at most 100 years (36525d) (got \(text))"
        Self.expectOneLine(try CLI.run(["hedge", "worst-case", "--data", data, "--window", text]), "--window " + limit)
        Self.expectOneLine(try CLI.run(["hedge", "worst-case", "--data", data, "--step", text]), "--step " + limit)
        Self.expectOneLine(try CLI.run(["bench", "g", "--data", data, "--window", text]), "--window " + limit)
        let walkForward = ["backtest", "--strategy", "nmr-bot", "--data", data, "--walk-forward"]
        for flag in ["--train", "--test", "--horizon"] {
            Self.expectOneLine(try CLI.run(walkForward + [flag, text]), flag + " " + limit)
        }
    }

    @Test func nonPositiveLengths() throws {
        let data = try Self.fixture().data
        Self.expectOneLine(
            try CLI.run(["hedge", "worst-case", "--data", data, "--window", "0d"]), "--window must be a positive length such as 30d")
        Self.expectOneLine(
            try CLI.run(["hedge", "worst-case", "--data", data, "--window=-5d"]), "--window must be a positive length such as 30d")
    }

    @Test(arguments: ["9999999999999999999", "-9223372036854775808", "253402300800000", "0000-01-01"])
    func timesOutsideTheRepresentableYears(text: String) throws {
        let folder = try Self.fixture().folder
        Self.expectOneLine(
            try CLI.run(["data", "fetch", "--from=\(text)", "--out", folder + "/out.csv"]),
            "--from must be a UTC date or time from 0001-01-01 to 9999-12-31")
        Self.expectOneLine(
            try CLI.run(["data", "fetch", "--from", "2025-01-01", "--to=\(text)", "--out", folder + "/out.csv"]),
            "--to must be a UTC date or time from 0001-01-01 to 9999-12-31")
    }

    /// The issue's three configurations that `bot check` called valid and that then crashed
    /// the bot: refused by `bot check` and by the backtest, naming the limit.
    @Test(arguments: [
        ("risk:\n  max_leverage: 1000000\n", "risk.max_leverage: must be from 1 to 1000 (got 1000000) (line 2)"),
        (
            "signals:\n  momentum_window: 106751991167d\n",
            "signals.momentum_window: must be at most 100 years (36525d) (got \"106751991167d\") (line 2)"
        ),
        (
            "risk:\n  circuit_cooldown: 106751991167d\n",
            "risk.circuit_cooldown: must be at most 100 years (36525d) (got \"106751991167d\") (line 2)"
        ),
    ])
    func botCheckRefusesTheIssuesConfigurations(yaml: String, line: String) throws {
        let (folder, data) = try Self.fixture()
        let path = folder + "/bot.yaml"
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        for arguments in [["bot", "check", "--config", path], ["backtest", "--strategy", "nmr-bot", "--config", path, "--data", data]] {
            let result = try CLI.run(arguments)
            #expect(result.status == 1, "\(result.stderr)")
            let lines = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(result.stderr)")
            #expect(lines.last == "  - " + line, "\(result.stderr)")
        }
    }

    /// Numbers too large to read into a rate or a whole number still name the key's range, and
    /// every problem is listed at once.
    @Test func numbersTooLargeToReadNameTheRange() throws {
        let folder = try Self.fixture().folder
        let path = folder + "/bot.yaml"
        let yaml =
            "min_agreeing_signals: 99999999999999999999\nrisk:\n  max_leverage: 1e308\n  stop_loss: 1e30\n"
            + "  quiet_start_hour: -99999999999999999999\n  time_exit: 0d\n"
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        let result = try CLI.run(["bot", "check", "--config", path])
        #expect(result.status == 1)
        let lines = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").map(String.init)
        #expect(
            Array(lines.dropFirst()) == [
                "  - min_agreeing_signals: must be from 1 to 7 (got \"99999999999999999999\") (line 1)",
                "  - risk.max_leverage: must be from 1 to 1000 (got \"1e308\") (line 3)",
                "  - risk.stop_loss: must be a fraction from 0 to 1 (got \"1e30\") (line 4)",
                "  - risk.quiet_start_hour: must be an hour from 0 to 24 (got \"-99999999999999999999\") (line 5)",
                "  - risk.time_exit: must be a positive length such as 6h (got \"0d\") (line 6)",
            ], "\(result.stderr)")
    }

    /// Every key at hostile values: each is refused with exit code 1 or accepted, never a trap.
    @Test func hostileValuesForEveryKeyNeverTrap() throws {
        let folder = try Self.fixture().folder
        let keys = [
            "min_agreeing_signals", "entry_threshold", "weights.price", "signals.momentum_window", "signals.momentum_full_scale",
            "signals.mean_reversion_z", "signals.funding_anomaly_per_8h", "signals.stake_drop", "risk.max_leverage",
            "risk.max_exposure", "risk.high_volatility_threshold", "risk.volatility_window", "risk.stop_loss", "risk.time_exit",
            "risk.time_exit_min_profit", "risk.circuit_cooldown", "risk.quiet_start_hour", "risk.risk_per_trade", "model.horizon",
            "model.l2", "model.min_conviction",
        ]
        let values = ["106751991167d", "-1", "0", "1e308", ".nan", ".inf", "9223372036854775808", "99999999999999999999", "1e-320"]
        var yaml = ""
        for key in keys {
            for value in values {
                let parts = key.split(separator: ".")
                yaml = parts.count == 2 ? "\(parts[0]):\n  \(parts[1]): \(value)\n" : "\(key): \(value)\n"
                let path = folder + "/hostile.yaml"
                try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
                let result = try CLI.run(["bot", "check", "--config", path])
                #expect(result.status == 0 || result.status == 1, "\(key): \(value) → \(result.status) \(result.stderr)")
            }
        }
    }
}
