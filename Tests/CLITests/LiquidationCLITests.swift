import Foundation
import Testing

/// Issue 10's repros, as a user types them: every figure that shows a liquidation names its rule.
@Suite("Liquidation on the command line")
struct LiquidationCLITests {
    /// The three hourly bars: 10, a gap to 14, 14.05.
    static func gapFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-gap-\(UUID().uuidString).csv").path
        let text = """
            open_time_ms,open,high,low,close,volume
            1735689600000,10,10.01,9.99,10,1000
            1735693200000,14,14.1,13.99,14.05,1000
            1735696800000,14.05,14.1,14,14.05,1000

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("repro 1: a 3× short gapped through its liquidation price ends at 0 with a 2036 shortfall", arguments: ["isolated", "cross"])
    func gapRepro(_ margin: String) throws {
        let data = try Self.gapFile()
        let base = [
            "backtest", "--data", data, "--strategy", "hold-short", "--capital", "10000", "--leverage", "3", "--margin", margin,
            "--maintenance-fraction", "0.05",
        ]
        let table = try CLI.run(base)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("final equity      0.00 from 10,000.00"))
        #expect(table.stdout.contains("liquidations      1 (rule binance-usdm; insurance fund drew 2,036.00)"))
        let json = try CLI.run(base + ["--json"]).json()
        #expect(json["liquidation_rule"] as? String == "binance-usdm")
        #expect((json["insurance_fund_draws"] as? NSNumber)?.doubleValue == 2036)
        #expect((json["final_equity"] as? NSNumber)?.doubleValue == 0)
    }

    @Test("repro 3: --margin isolated --quantity posts notional / leverage; unused sizing flags are refused")
    func isolatedQuantity() throws {
        let data = try Self.gapFile()
        // Short 3000 at 10, margin 30,000 / 3 = 10,000 of 20,000: liquidation 12.6984, so the
        // gap to 14 liquidates it and the free 9,985 survive (before: 1× margin, 15.868, no liquidation).
        let run = try CLI.run([
            "backtest", "--data", data, "--strategy", "hold-short", "--capital", "20000", "--quantity", "3000", "--leverage", "3",
            "--margin", "isolated", "--maintenance-fraction", "0.05", "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try run.json()
        #expect(json["liquidations"] as? Int == 1)
        #expect((json["final_equity"] as? NSNumber)?.doubleValue == 9985)
        // The same short under cross margin has no use for --leverage: refused, not ignored.
        let cross = try CLI.run([
            "backtest", "--data", data, "--strategy", "hold-short", "--quantity", "3000", "--leverage", "3",
        ])
        #expect(cross.status != 0)
        #expect(cross.stderr.contains("--leverage does nothing for a --quantity short under cross margin"))
        let unused = try CLI.run(["backtest", "--data", data, "--strategy", "sma-cross", "--quantity", "10"])
        #expect(unused.status != 0)
        #expect(unused.stderr.contains("--quantity sizes hold-short"))
        let rule = try CLI.run(["backtest", "--data", data, "--strategy", "hold-short", "--liquidation-rule", "bybit"])
        #expect(rule.status != 0)
        #expect(rule.stderr.contains("--liquidation-rule must be one of binance-usdm, lighter, conservative, keep-remainder"))
    }

    @Test("hedge backtest and pool simulate name the rule; keep-remainder gives the margin back")
    func hedgeAndPoolNameTheRule() throws {
        let data = try Self.gapFile()
        let hedge = try CLI.run(["hedge", "backtest", "--data", data, "--stake", "10", "--collateral-multiple", "0.5", "--json"]).json()
        #expect(hedge["liquidation_rule"] as? String == "lighter")
        #expect(hedge["liquidations"] as? Int == 1)
        let table = try CLI.run(["hedge", "backtest", "--data", data, "--stake", "10", "--collateral-multiple", "0.5"])
        #expect(table.stdout.contains("rule lighter"))
        let survival = try CLI.run(["hedge", "survival", "--data", data, "--multiples", "0.5,3", "--periods", "1d"])
        #expect(survival.status == 0, "\(survival.stderr)")
        #expect(survival.stdout.contains("liquidation rule lighter"))
        let pool = try CLI.run(["pool", "simulate", "--data", data, "--seed", "3", "--events", "0", "--json"]).json()
        #expect(pool["liquidation_rule"] as? String == "lighter")
    }

    /// The CLI fuzzer's find (seed 20261202, issue 12's run): a short whose collateral dwarfs its
    /// size has a liquidation price beyond what a Price holds; it used to trap in rounding.
    @Test func aShortCoveredBeyondEveryPriceHasNoLiquidationPrice() throws {
        let result = try CLI.run([
            "calc", "liquidation", "--side", "short", "--entry", "8", "--quantity", "0.00000001", "--collateral", "1000",
            "--maintenance-fraction", "0.02", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        #expect(json["liquidation_price"] is NSNull)
        #expect(json["bankruptcy_price"] is NSNull)
    }
}
