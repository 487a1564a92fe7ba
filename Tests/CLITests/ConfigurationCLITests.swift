import Foundation
import TestSupport
import Testing

/// One configuration for backtest, paper and `bot check --show` (issue 15; decision 0018), and
/// `paper --replay`, the paper runtime on recorded bars.
@Suite struct ConfigurationCLITests {
    static func bars() throws -> String { try CLI.temporaryFile(TimeRangeCLITests.csv(TimeRangeCLITests.bars[...])) }

    @Test func showPrintsEveryValueWithItsSource() async throws {
        // Child processes run off the cooperative pool (a blocked pool starves the
        // servers other suites run at the same time).
        try await offPool {
            let path = try CLI.temporaryFile(
                "risk:\n  stop_loss: 0.02\naccount:\n  capital: 2500\nvenue:\n  market: lighter\n", suffix: ".yaml")
            let shown = try CLI.run(["bot", "check", "--config", path, "--show", "--fee-taker", "0.0003"])
            #expect(shown.status == 0, "\(shown.stderr)")
            let rows = shown.stdout.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            }
            func row(_ key: String) -> [String]? { rows.first { $0.first == key } }
            #expect(row("risk.stop_loss") == ["risk.stop_loss", "0.02", "\(path)", "line", "2"])
            #expect(row("risk.take_profit") == ["risk.take_profit", "0.05", "default"])
            #expect(row("account.capital") == ["account.capital", "2500", "\(path)", "line", "4"])
            #expect(row("venue.taker_fee") == ["venue.taker_fee", "0.0003", "--fee-taker"])
            #expect(row("venue.lot_size") == ["venue.lot_size", "0.01", "lighter", "preset"])

            let json = try CLI.run(["bot", "check", "--show", "--json", "--capital", "700"])
            #expect(json.status == 0, "\(json.stderr)")
            let object = try json.json()
            let sources = object["sources"] as? [String: Any] ?? [:]
            #expect(sources["account.capital"] as? String == "--capital")
            #expect(sources["venue.market"] as? String == "default")
            let settings = object["settings"] as? [String: Any] ?? [:]
            #expect((settings["account"] as? [String: Any])?["capital"] as? Double == 700)
            #expect((settings["venue"] as? [String: Any])?["maintenance"] as? String == "market")
        }
    }

    @Test func flagsThatNeedShowOrAnotherStrategyAreRefused() async throws {
        // Child processes run off the cooperative pool (a blocked pool starves the
        // servers other suites run at the same time).
        try await offPool {
            let path = try CLI.temporaryFile("risk:\n  stop_loss: 0.02\n", suffix: ".yaml")
            let check = try CLI.run(["bot", "check", "--config", path, "--capital", "5"])
            #expect(check.status != 0)
            #expect(check.stderr.contains("--capital overrides the file for --show"), "\(check.stderr)")
            let data = try Self.bars()
            let fast = try CLI.run(["backtest", "--data", data, "--strategy", "hold-short", "--fast", "10"])
            #expect(fast.status != 0)
            #expect(fast.stderr.contains("--fast is sma-cross's"), "\(fast.stderr)")
            let leverage = try CLI.run(["backtest", "--data", data, "--strategy", "nmr-bot", "--leverage", "5"])
            #expect(leverage.status != 0)
            #expect(leverage.stderr.contains("--leverage is not used by nmr-bot"), "\(leverage.stderr)")
            let market = try CLI.run(["backtest", "--data", data, "--strategy", "sma-cross", "--market", "bybit"])
            #expect(market.status != 0)
            #expect(market.stderr.contains("--market must be one of binance-usdm, lighter"), "\(market.stderr)")
        }
    }

    @Test func backtestTradesTheFilesAccountAndTheFlagsOverrideIt() async throws {
        // Child processes run off the cooperative pool (a blocked pool starves the
        // servers other suites run at the same time).
        try await offPool {
            let data = try Self.bars()
            let path = try CLI.temporaryFile("account:\n  capital: 2500\nvenue:\n  taker_fee: 0.001\n", suffix: ".yaml")
            func run(_ extra: [String]) throws -> [String: Any] {
                let result = try CLI.run(
                    ["backtest", "--data", data, "--strategy", "sma-cross", "--fast", "5", "--slow", "20", "--json"] + extra)
                #expect(result.status == 0, "\(result.stderr)")
                return try result.json()
            }
            let plain = try run([])
            let filed = try run(["--config", path])
            let flagged = try run(["--config", path, "--capital", "5000"])
            #expect(plain["initial_capital"] as? Double == 10000)
            #expect(filed["initial_capital"] as? Double == 2500)
            #expect(flagged["initial_capital"] as? Double == 5000)
            // The file's taker fee (twice Binance's) against the flag that restores Binance's, on the
            // same 2,500: about twice the fees.
            let binanceFees = try run(["--config", path, "--fee-taker", "0.0005"])["fees"] as? Double ?? 0
            let filedFees = filed["fees"] as? Double ?? 0
            #expect(binanceFees > 0)
            #expect(filedFees > 1.5 * binanceFees, "\(filedFees) vs \(binanceFees)")
        }
    }

    @Test func paperReplaysRecordedBarsThroughTheRuntimeWithoutANetwork() async throws {
        // Child processes run off the cooperative pool (a blocked pool starves the
        // servers other suites run at the same time).
        try await offPool {
            let data = try Self.bars()
            let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-replay-\(UUID().uuidString)").path
            let environment = ["NMRPERP_HOME": home]
            let replay = try CLI.run(["paper", "--replay", data, "--json"], environment: environment, timeout: 120)
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stderr.contains("paper replay: replaying 480 bars"), "\(replay.stderr)")
            #expect(replay.stderr.contains("replay finished"), "\(replay.stderr)")
            // One JSON status per poll: the 456 bars after the 24 h warm-up.
            let lines = replay.stdout.split(separator: "\n")
            #expect(lines.count >= 400, "\(lines.count) polls")
            let status = try CLI.run(["paper", "status", "--name", "replay", "--json"], environment: environment)
            #expect(status.status == 0, "\(status.stderr)")
            let statusJSON = try status.json()
            #expect(statusJSON["engine"] as? String == "execution")
            // Recorded bars are no paper record: the live gate stays locked however long the replay.
            #expect(statusJSON["replay"] as? Bool == true)
            #expect(statusJSON["record_complete"] as? Bool == false)
            #expect(statusJSON["live_days"] as? Double == 0)

            let again = try CLI.run(["paper", "--replay", data], environment: environment)
            #expect(again.status != 0)
            #expect(again.stderr.contains("already exists") && again.stderr.contains("--force"), "\(again.stderr)")
            let forced = try CLI.run(["paper", "--replay", data, "--force", "--to", "2025-01-04"], environment: environment, timeout: 120)
            #expect(forced.status == 0, "\(forced.stderr)")
            #expect(forced.stderr.contains("replaying 72 bars"), "\(forced.stderr)")

            let speed = try CLI.run(["paper", "--speed", "60"], environment: environment)
            #expect(speed.status != 0)
            #expect(speed.stderr.contains("--speed belongs to --replay"), "\(speed.stderr)")
            let tooShort = try CLI.run(
                ["paper", "--replay", data, "--name", "short", "--to", "2025-01-01T12:00"], environment: environment)
            #expect(tooShort.status != 0)
            #expect(tooShort.stderr.contains("warm-up"), "\(tooShort.stderr)")
        }
    }
}
