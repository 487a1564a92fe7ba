import Foundation
import Testing

/// `nmrperp backtest --strategy nmr-bot --walk-forward` (spec §4: the learned model judged out of
/// sample against the rules and a price-only model).
@Suite struct WalkForwardCLITests {
    /// 60 days of hourly bars: a deterministic wave plus pseudo-random noise (a fixed LCG).
    static let fixture: String = {
        var text = "open_time_ms,open,high,low,close,volume\n"
        var state: UInt64 = 42
        func noise() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        var price = 10.0
        let start: Int64 = 1_735_689_600_000  // 2025-01-01
        for index in 0..<(60 * 24) {
            let wave = 0.004 * sin(Double(index) / 9)
            let next = price * (1 + wave + 0.02 * noise())
            let high = max(price, next) * 1.002
            let low = min(price, next) * 0.998
            func f(_ value: Double) -> String { String(format: "%.4f", value) }
            text += "\(start + Int64(index) * 3_600_000),\(f(price)),\(f(high)),\(f(low)),\(f(next)),1000\n"
            price = Double(f(next))!
        }
        return text
    }()

    static func data() throws -> String { try CLI.temporaryFile(fixture) }

    @Test func comparesTheThreeVariantsAsJSON() throws {
        let result = try CLI.run([
            "backtest", "--strategy", "nmr-bot", "--data", try Self.data(), "--walk-forward", "--train", "20d", "--test", "10d", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        let setup = json["walk_forward"] as? [String: Any] ?? [:]
        #expect(setup["folds"] as? Int == 4)
        #expect(setup["horizon_bars"] as? Int == 6)
        let variants = json["variants"] as? [[String: Any]] ?? []
        #expect(variants.compactMap { $0["name"] as? String } == ["rules", "signal model", "price model"])
        for variant in variants {
            #expect(variant["return"] is Double, "\(variant)")
            #expect(variant["max_drawdown"] is Double)
            #expect((variant["fold_returns"] as? [Any])?.count == 4)
            #expect(variant["bars"] as? Int == 40 * 24)
        }
        let folds = variants[1]["folds"] as? [[String: Any]] ?? []
        #expect(folds.count == 4)
        for fold in folds {
            #expect(fold["error"] is NSNull, "\(fold)")
            #expect((fold["weights"] as? [String: Any])?.keys.contains("momentum") == true)
            #expect(fold["log_loss"] is Double)
        }
        let priceWeights = (variants[2]["folds"] as? [[String: Any]])?.first?["weights"] as? [String: Any]
        #expect(priceWeights?.keys.sorted() == ["return_1", "return_16", "return_4", "return_64", "volatility_16"])
    }

    @Test func printsATableAndWritesTheReportAndJournal() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-wf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let report = folder.appendingPathComponent("wf.html").path
        let journal = folder.appendingPathComponent("wf.jsonl").path
        let result = try CLI.run([
            "backtest", "--strategy", "nmr-bot", "--data", try Self.data(), "--walk-forward", "--train", "20d", "--test", "10d",
            "--report", report, "--journal", journal,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("walk-forward: 4 folds: train 20d (rolling), test 10d, label horizon 6h = 6 bars"))
        for name in ["rules", "signal model", "price model", "signal ll", "base ll"] { #expect(result.stdout.contains(name)) }
        // Every table line fits 100 columns; --wide names the columns in full.
        let tableLines = result.stdout.split(separator: "\n").filter { $0.contains("  ") }
        #expect(tableLines.allSatisfy { $0.count <= 100 }, "\(tableLines.map(\.count))")
        let wide = try CLI.run([
            "backtest", "--strategy", "nmr-bot", "--data", try Self.data(), "--walk-forward", "--train", "20d", "--test", "10d", "--wide",
        ])
        #expect(wide.status == 0, "\(wide.stderr)")
        for name in ["train rows", "signal model return", "log-loss (base)"] { #expect(wide.stdout.contains(name)) }
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("log-loss (base)"), "the report keeps the full names")
        #expect(html.contains("<h2>Out of sample, side by side</h2>"))
        #expect(html.contains("signal model") && html.contains("price model") && html.contains("<h2>Folds</h2>"))
        #expect(!html.contains("<script"))
        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n")
        #expect(
            lines.contains { $0.hasPrefix("{\"variant\":\"signal model\"") } || lines.contains { $0.hasPrefix("{\"variant\":\"rules\"") })
    }

    @Test func badInputGetsOneClearLine() throws {
        let data = try Self.data()
        let short = try CLI.run(["backtest", "--strategy", "nmr-bot", "--data", data, "--walk-forward"])
        #expect(short.status != 0)
        #expect(short.stderr.contains("needs at least 120d"), "\(short.stderr)")
        #expect(short.stderr.contains("the data covers 60d"))
        #expect(short.stderr.contains("--train"))

        let orphan = try CLI.run(["backtest", "--strategy", "nmr-bot", "--data", data, "--train", "20d"])
        #expect(orphan.status != 0)
        #expect(orphan.stderr.contains("add --walk-forward"))

        let wrong = try CLI.run(["backtest", "--strategy", "sma-cross", "--data", data, "--walk-forward"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("--strategy nmr-bot"))

        let many = try CLI.run([
            "backtest", "--strategy", "nmr-bot", "--data", data, "--walk-forward", "--test", "ten days", "--l2=-1",
        ])
        #expect(many.status != 0)
        #expect(many.stderr.contains("2 problems:"), "\(many.stderr)")
        #expect(many.stderr.contains("--test must be a length such as"))
        #expect(many.stderr.contains("model.l2 must be from 0 to"))
    }
}
