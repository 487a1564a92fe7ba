import Foundation
import TestSupport
import Testing

/// Issue 15, "Errors and help": what a user who mistypes, goes offline or loses the network
/// mid-download is told.
@Suite struct ErrorsCLITests {
    @Test(arguments: [
        (["hedge", "worst-case", "--dat", "x.csv"], "--dat", "--data"),
        (["backtest", "--dta", "x.csv", "--strategy", "sma-cross"], "--dta", "--data"),
        (
            ["hedge", "backtest", "--data", "x.csv", "--stake", "1", "--collateral-multiplee", "2"], "--collateral-multiplee",
            "--collateral-multiple"
        ),
        (
            [
                "calc", "liquidation", "--sid", "long", "--entry", "15", "--quantity", "1", "--leverage", "2", "--maintenance-fraction",
                "0.01",
            ], "--sid", "--side"
        ),
    ])
    func aTypoInARequiredFlagGetsADidYouMean(arguments: [String], typo: String, flag: String) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 64, "\(result.stderr)")
        let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first == "Error: Unknown option '\(typo)'. Did you mean '\(flag)'?", "\(result.stderr)")
        #expect(!result.stderr.contains("Missing expected argument"))
    }

    @Test func anUnrelatedUnknownFlagStillSaysWhatIsMissing() throws {
        let result = try CLI.run(["hedge", "worst-case", "--zzzzzz", "x"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("Missing expected argument '--data <data>'"), "\(result.stderr)")
    }

    @Test func aDownloadThatFailsAfterItsProgressBarSaysSoOnItsOwnLineAndThatRerunningResumes() async throws {
        try await offPool {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("fetch-\(UUID().uuidString).csv").path
            // Port 9 on loopback refuses the connection: the download fails after it began.
            let result = try CLI.run(
                ["data", "fetch", "--from", "2025-01-01", "--to", "2025-01-02", "--out", out],
                environment: ["NMRPERP_OFFLINE": "0", "NMRPERP_BINANCE_SPOT_URL": "http://127.0.0.1:9"])
            #expect(result.status == 1)
            let lines = result.stderr.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("fetching NMRUSDT 5m") == true, "\(result.stderr)")
            let error = lines.first { $0.contains("Error") } ?? ""
            #expect(error.hasPrefix("Error: fetching NMRUSDT 5m stopped:"), "\(result.stderr)")
            #expect(error.contains("run the same command again to resume"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test(arguments: [
        ["data", "fetch", "--from", "2025-01-01", "--out", "/tmp/never-written.csv"],
        ["funding", "fetch", "--out", "/tmp/never-written.csv"],
        ["market"],
        ["stake", "--model", "some_model"],
    ])
    func offlineRefusalsOfferNoValueThatDoesNotExist(arguments: [String]) throws {
        let result = try CLI.run(arguments)
        BoundsCLITests.expectOneLine(result, "NMRPERP_OFFLINE is set")
        #expect(!result.stderr.contains("pass the value on the command line"), "\(result.stderr)")
    }

    @Test func calcLiquidationRefusesLeverageNoVenueOpens() throws {
        BoundsCLITests.expectOneLine(
            try CLI.run([
                "calc", "liquidation", "--side", "long", "--entry", "15", "--quantity", "100", "--leverage", "5", "--venue", "lighter",
            ]),
            "beyond Lighter NMR's maximum of 3.00x")
        // 50x with 2 % maintenance posts exactly the maintenance margin: liquidated as it opens.
        BoundsCLITests.expectOneLine(
            try CLI.run([
                "calc", "liquidation", "--side", "long", "--entry", "15", "--quantity", "100", "--leverage", "50", "--maintenance-fraction",
                "0.02",
            ]), "no venue opens it")
        let lighter = try CLI.run([
            "calc", "liquidation", "--side", "short", "--entry", "15", "--quantity", "100", "--leverage", "3", "--venue", "lighter",
            "--json",
        ])
        #expect(lighter.status == 0, "\(lighter.stderr)")
        // Lighter's maintenance 0.2 by default: (q·E + T)/(q·(1 + m)) = (1500 + 500)/120.
        #expect(abs((try lighter.json()["liquidation_price"] as? Double ?? 0) - 2000.0 / 120.0) < 1e-6)
    }

    @Test(arguments: [("long", "above"), ("short", "below")])
    func aPositionBelowMaintenanceAtEntryHasNoAdverseMove(side: String, where: String) throws {
        let arguments = [
            "calc", "liquidation", "--side", side, "--entry", "15", "--quantity", "100", "--collateral", "10", "--maintenance-fraction",
            "0.02",
        ]
        let table = try CLI.run(arguments)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("none: liquidatable at entry (the liquidation price is \(`where`) it"), "\(table.stdout)")
        #expect(!table.stdout.contains("% down from entry") && !table.stdout.contains("% up from entry"))
        let json = try CLI.run(arguments + ["--json"]).json()
        #expect(json["liquidatable_at_entry"] as? Bool == true)
        #expect(json["adverse_direction"] as? String == (side == "long" ? "down" : "up"))
        let healthy = try CLI.run([
            "calc", "liquidation", "--side", side, "--entry", "15", "--quantity", "100", "--collateral", "300", "--maintenance-fraction",
            "0.02",
        ])
        #expect(healthy.stdout.contains(side == "long" ? "% down from entry" : "% up from entry"), "\(healthy.stdout)")
    }

    @Test func everyOutputFlagRefusesToReplaceAFileWithoutForce() async throws {
        try await offPool {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-force-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let data = try CLI.temporaryFile(TimeRangeCLITests.csv(TimeRangeCLITests.bars[...]))
            defer { try? FileManager.default.removeItem(atPath: data) }
            let existing = folder + "/existing.txt"
            try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: existing))
            let commands: [[String]] = [
                ["data", "fetch", "--from", "2025-01-01", "--out", existing],
                ["funding", "fetch", "--out", existing],
                ["backtest", "--data", data, "--strategy", "hold-short", "--trades", existing],
                ["backtest", "--data", data, "--strategy", "hold-short", "--report", existing],
                ["backtest", "--data", data, "--strategy", "nmr-bot", "--journal", existing],
                ["hedge", "backtest", "--data", data, "--stake", "10", "--collateral-multiple", "2.7", "--report", existing],
                ["bot", "init", "--out", existing],
            ]
            for command in commands {
                let result = try CLI.run(command)
                BoundsCLITests.expectOneLine(result, "already exists; pass --force to replace it")
                #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me\n", "\(command)")
            }
            let forced = try CLI.run(["backtest", "--data", data, "--strategy", "hold-short", "--trades", existing, "--force"])
            #expect(forced.status == 0, "\(forced.stderr)")
            #expect(try String(contentsOfFile: existing, encoding: .utf8).hasPrefix("side,"))
        }
    }
}
