import Foundation
import PerpModel
import TestSupport
import Testing

/// The README's "JSON: every command, one vocabulary": the names no output may use, read from
/// the table's "Never" column, so the README and the check cannot drift apart.
enum JSONVocabulary {
    struct Banned {
        var names: Set<String> = []
        /// `*_usd` in the README: any key ending in `_usd`.
        var suffixes: [String] = []

        func bans(_ key: String) -> Bool { names.contains(key) || suffixes.contains { key.hasSuffix($0) } }
    }

    /// Objects whose keys are names rather than vocabulary: configuration keys, a sweep's
    /// parameters, signal names, exit reasons, a model's features (README, after the table).
    static let nameMaps: Set<String> = ["sources", "settings", "config", "parameters", "weights", "signals", "exits_by_reason"]

    static let banned: Banned = {
        guard let readme = try? String(contentsOf: PackageRoot.url().appendingPathComponent("README.md"), encoding: .utf8) else {
            return Banned()
        }
        var result = Banned()
        var inSection = false
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { inSection = line.hasPrefix("## JSON: every command, one vocabulary") }
            guard inSection, line.hasPrefix("| "), !line.hasPrefix("|---") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[1] != "What" else { continue }
            // Before any "(…)": the parenthesis explains an exception, it bans nothing.
            let never = cells[3].split(separator: "(", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for (index, part) in never.split(separator: "`", omittingEmptySubsequences: false).enumerated() where index % 2 == 1 {
                if part.hasPrefix("*") { result.suffixes.append(String(part.dropFirst())) } else { result.names.insert(String(part)) }
            }
        }
        return result
    }()

    /// Every banned key in `text`: one JSON document, or JSON Lines. Text that is neither is
    /// reported too: a command given `--json` prints nothing else on standard output.
    static func violations(in text: String) -> [String] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return ["no JSON on standard output"] }
        if let whole = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed]) {
            return violations(whole, path: "")
        }
        var found: [String] = []
        for (number, line) in trimmed.split(separator: "\n").enumerated() {
            guard let value = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
                found.append("line \(number + 1) is not JSON: \(line.prefix(120))")
                continue
            }
            found += violations(value, path: "line \(number + 1)")
        }
        return found
    }

    static func violations(_ value: Any, path: String) -> [String] {
        if let object = value as? [String: Any] {
            var found: [String] = []
            for (key, member) in object {
                let here = path.isEmpty ? key : path + "." + key
                if banned.bans(key) { found.append(here) }
                if key.contains(where: { !($0.isLowercase || $0.isNumber || $0 == "_") }) { found.append(here + " (not snake_case)") }
                if !nameMaps.contains(key) { found += violations(member, path: here) }
            }
            return found
        }
        if let array = value as? [Any] { return array.enumerated().flatMap { violations($1, path: "\(path)[\($0)]") } }
        return []
    }
}

/// Issue 15: `--json` on every command, with one vocabulary across all of them, listed in the README.
@Suite(.serialized) struct JSONVocabularyCLITests {
    @Test func theReadmeTableIsRead() {
        let banned = JSONVocabulary.banned
        for name in ["fees_paid", "total_return", "first_bar", "realised", "funding", "started"] {
            #expect(banned.names.contains(name), "\(name) is one of the README's never-names")
        }
        #expect(banned.suffixes.contains("_usd") && banned.suffixes.contains("_nmr"))
        #expect(!banned.names.contains("time_ms"), "the exception in parentheses is not banned")
        #expect(banned.bans("collateral_usd") && !banned.bans("collateral") && !banned.bans("fees"))
    }

    @Test func everyCommandTakesJSON() async throws {
        try await offPool {
            let paths = try HelpExamplesCLITests.commandPaths()
            let leaves = paths.filter { path in !paths.contains { $0.count > path.count && Array($0.prefix(path.count)) == path } }
            #expect(leaves.count > 30, "\(leaves)")
            for leaf in leaves {
                let help = try CLI.run(leaf + ["--help"])
                #expect(help.stdout.contains("--json"), "nmrperp \(leaf.joined(separator: " ")) has no --json")
            }
        }
    }

    /// 150 days of hourly bars from 2025-01-01 that swing ±25 % over ten days with noise: enough
    /// for the bot to trade, so its journal holds a run to export.
    static func swings() -> String {
        var generator = SplitMix64(seed: 7)
        var lines = ["open_time_ms,open,high,low,close,volume"]
        var previous = 10.0
        for row in 0..<3600 {
            let swing: Double = 1 + 0.25 * sin(Double(row) / 240 * Double.pi)
            let noise: Double = 1 + (generator.unit() - 0.5) * 0.01
            let close = 10 * swing * noise
            let high = max(previous, close) * 1.002
            let low = min(previous, close) * 0.998
            let time = 1_735_689_600_000 + Int64(row) * 3_600_000
            lines.append(String(format: "%lld,%.4f,%.4f,%.4f,%.4f,%.1f", time, previous, high, low, close, 1000 + generator.unit() * 500))
            previous = close
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs the commands that work offline on made-up history, each with `--json`, in one home
    /// (so the backtest's journal, the replayed paper session and the dashboard have something
    /// to show), and checks every key of every answer.
    @Test func everyAnswerUsesTheVocabulary() async throws {
        try await offPool {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-vocabulary-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let home = folder + "/home"
            let bars = folder + "/nmr_1h.csv"
            let funding = folder + "/funding.csv"
            try Data(Self.swings().utf8).write(to: URL(fileURLWithPath: bars))
            try Data(HelpExamplesCLITests.funding().utf8).write(to: URL(fileURLWithPath: funding))
            let env = ["NMRPERP_HOME": home]
            let commands: [[String]] = [
                ["bot", "init", "--out", folder + "/bot.yaml"],
                ["bot", "check", "--config", folder + "/bot.yaml", "--show"],
                ["hedge", "plan", "--stake", "10", "--price", "8"],
                ["hedge", "plan", "--stake", "10", "--price", "8", "--data", bars],
                ["hedge", "worst-case", "--data", bars],
                ["hedge", "horizons", "--data", bars],
                [
                    "hedge", "rebalance", "--short", "10", "--collateral", "100", "--stake", "12", "--price", "8", "--collateral-multiple",
                    "3",
                ],
                ["hedge", "backtest", "--data", bars, "--funding", funding, "--stake", "100", "--collateral-multiple", "3"],
                ["hedge", "survival", "--data", bars, "--funding", funding],
                ["funding", "stats", "--data", funding],
                [
                    "calc", "liquidation", "--side", "short", "--entry", "15", "--quantity", "100", "--collateral", "300",
                    "--maintenance-fraction", "0.02",
                ],
                ["data", "check", "--data", bars],
                ["data", "check", "--data", funding],
                ["backtest", "--data", bars, "--funding", funding, "--strategy", "sma-cross", "--trades", folder + "/trades.csv"],
                ["backtest", "--data", bars, "--strategy", "nmr-bot"],
                ["backtest", "--data", bars, "--strategy", "sma-cross", "--sweep", "fast=5,10;slow=50"],
                ["backtest", "--data", bars, "--strategy", "nmr-bot", "--walk-forward", "--train", "40d", "--test", "20d"],
                ["bot", "journal"],
                ["bot", "journal", "--run", "1"],
                ["bot", "journal", "--run", "1", "--out", folder + "/run.jsonl"],
                ["pool", "simulate", "--data", bars, "--seed", "1"],
                ["paper", "--replay", bars, "--funding", funding, "--max-polls", "30"],
                ["paper", "status", "--name", "replay"],
                ["paper", "journal", "--name", "replay"],
                ["bench", "g", "--data", bars],
            ]
            for command in commands {
                let result = try CLI.run(command + ["--json"], environment: env, timeout: 300)
                let line = "nmrperp " + command.joined(separator: " ") + " --json"
                #expect(result.status == 0, "\(line): \(result.stderr)")
                let found = JSONVocabulary.violations(in: result.stdout)
                #expect(found.isEmpty, "\(line): \(found)")
            }
            // The CSV headers speak the same language.
            let header = try String(contentsOfFile: folder + "/trades.csv", encoding: .utf8).prefix { $0 != "\n" }
            let columns = header.split(separator: ",").map(String.init)
            #expect(columns.contains("fees") && columns.contains("funding_paid"), "\(columns)")
            #expect(columns.allSatisfy { !JSONVocabulary.banned.bans($0) }, "\(columns)")
            // The dashboard's own lines, when it listens and when it stops.
            let dashboard = try CLI.run(
                ["dashboard", "--port", "0", "--json"], environment: env, timeout: 60, terminateAfter: 6)
            #expect(dashboard.stdout.contains("\"state\":\"listening\""), "\(dashboard.stdout) \(dashboard.stderr)")
            #expect(JSONVocabulary.violations(in: dashboard.stdout).isEmpty, "\(dashboard.stdout)")
        }
    }
}
