import Foundation
import TestSupport
import Testing

/// `nmrperp bot init` and `nmrperp bot check`: the bot's YAML configuration (spec §4).
@Suite struct BotConfigCLITests {
    /// A fresh folder for one test's files.
    static func folder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-bot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    @Test func initWritesADefaultFileThatCheckAcceptsAsExactlyTheDefaults() throws {
        let path = try Self.folder() + "/bot.yaml"
        let written = try CLI.run(["bot", "init", "--out", path])
        #expect(written.status == 0, "\(written.stderr)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("max_leverage: 3"))
        #expect(text.contains("stop_loss: 0.025"))
        #expect(text.contains("seed 000"))
        #expect(text.contains("# Max 3x per position"))

        let checked = try CLI.run(["bot", "check", "--config", path, "--json"])
        #expect(checked.status == 0, "\(checked.stderr)")
        let json = try checked.json()
        #expect(json["valid"] as? Bool == true)
        // Loading the default file gives exactly BotConfig(): nothing differs from the defaults.
        #expect((json["changed"] as? [Any])?.isEmpty == true, "\(checked.stdout)")
        let settings = json["settings"] as? [String: Any] ?? [:]
        let risk = settings["risk"] as? [String: Any] ?? [:]
        #expect(risk.count == 17)
        #expect(risk["max_leverage"] as? Double == 3)
        #expect(risk["max_exposure"] as? Double == 0.4)
        #expect(risk["stop_loss"] as? Double == 0.025)
        #expect(risk["time_exit"] as? String == "6h")
        #expect(risk["time_exit_min_profit"] as? Double == 0)
        #expect(text.contains("time_exit_min_profit: 0\n"))
        #expect(risk["circuit_window"] as? String == "15m")
        #expect(risk["quiet_start_hour"] as? Int == 2)
        #expect((settings["signals"] as? [String: Any])?.count == 11)
        #expect((settings["calendar"] as? [String: Any])?["blackout_kinds"] as? [String] == ["news"])
        #expect((settings["weights"] as? [String: Any])?["price"] as? Double == 0.4)
        #expect(settings["min_agreeing_signals"] as? Int == 2)

        let table = try CLI.run(["bot", "check", "--config", path])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("valid"))
        #expect(table.stdout.contains("risk.stop_loss"))
        #expect(table.stdout.contains("0.025"))
    }

    @Test func initRefusesToOverwriteWithoutForce() throws {
        let path = try Self.folder() + "/bot.yaml"
        try Data("risk:\n  stop_loss: 0.03\n".utf8).write(to: URL(fileURLWithPath: path))
        let refused = try CLI.run(["bot", "init", "--out", path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("already exists"))
        #expect(refused.stderr.contains("--force"))
        #expect(refused.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "risk:\n  stop_loss: 0.03\n")

        let forced = try CLI.run(["bot", "init", "--out", path, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("stop_loss: 0.025"))
    }

    @Test func everyProblemIsReportedAtOnce() throws {
        let path = try CLI.temporaryFile("risk:\n  stop_los: 0.03\n  max_leverage: abc\n  max_exposure: 1.5\n", suffix: ".yaml")
        let result = try CLI.run(["bot", "check", "--config", path])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("3 problems:") == true, "\(result.stderr)")
        #expect(lines.contains { $0.hasPrefix("  - risk.stop_los:") && $0.contains("did you mean stop_loss") })
        #expect(lines.contains { $0.hasPrefix("  - risk.max_leverage:") && $0.contains("abc") && $0.contains("number") })
        #expect(lines.contains { $0.hasPrefix("  - risk.max_exposure:") && $0.contains("1.5") })
        #expect(result.stdout.isEmpty)

        let json = try CLI.run(["bot", "check", "--config", path, "--json"])
        #expect(json.status != 0)
        let object = try json.json()
        #expect(object["valid"] as? Bool == false)
        let problems = object["problems"] as? [[String: Any]] ?? []
        #expect(problems.compactMap { $0["key"] as? String } == ["risk.stop_los", "risk.max_leverage", "risk.max_exposure"])
        #expect(problems.compactMap { $0["line"] as? Int } == [2, 3, 4])
    }

    @Test func aKeyInTheWrongGroupSaysWhereItBelongs() throws {
        let path = try CLI.temporaryFile("stop_loss: 0.03\nrisk:\n  time_exit: 6\n", suffix: ".yaml")
        let result = try CLI.run(["bot", "check", "--config", path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("2 problems:"), "\(result.stderr)")
        #expect(result.stderr.contains("risk.stop_loss belongs under `risk:`"))
        #expect(result.stderr.contains("add a unit"))
    }

    @Test func malformedYAMLReportsTheLine() throws {
        let path = try CLI.temporaryFile("risk:\n  stop_loss: 0.03\n max_leverage: [\n", suffix: ".yaml")
        let result = try CLI.run(["bot", "check", "--config", path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("not valid YAML"), "\(result.stderr)")
        #expect(result.stderr.contains("line 3"))
        #expect(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
    }

    @Test func aPartialConfigKeepsTheDefaultsForTheRest() throws {
        let path = try CLI.temporaryFile(
            "min_agreeing_signals: 3\nweights:\n  price: 0.5\nrisk:\n  stop_loss: 0.0175\n  time_exit: 4h\n", suffix: ".yaml")
        let result = try CLI.run(["bot", "check", "--config", path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        #expect(json["valid"] as? Bool == true)
        #expect(
            json["changed"] as? [String] == ["min_agreeing_signals", "weights.price", "risk.stop_loss", "risk.time_exit"])
        let settings = json["settings"] as? [String: Any] ?? [:]
        let risk = settings["risk"] as? [String: Any] ?? [:]
        let weights = settings["weights"] as? [String: Any] ?? [:]
        #expect(settings["min_agreeing_signals"] as? Int == 3)
        #expect(settings["entry_threshold"] as? Double == 0.25)
        #expect(weights["price"] as? Double == 0.5)
        #expect(weights["network"] as? Double == 0.35)
        #expect(risk["time_exit"] as? String == "4h")
        #expect(risk["max_leverage"] as? Double == 3)
        #expect(risk["circuit_cooldown"] as? String == "2h")
        // Exact: the rate is printed from its fixed-point value, not through a Double.
        #expect(result.stdout.contains("\"stop_loss\": 0.0175"))

        let table = try CLI.run(["bot", "check", "--config", path])
        #expect(table.status == 0)
        #expect(table.stdout.contains("4 of 41 rules differ"))
        #expect(table.stdout.contains("(default 0.025)"))
    }

    /// The time exit's minimum profit (spec §4): exact, from 0 up to, not including, take_profit.
    @Test func theTimeExitMinimumProfitIsReadExactlyAndBounded() throws {
        let path = try CLI.temporaryFile("risk:\n  time_exit_min_profit: 0.002\n", suffix: ".yaml")
        let result = try CLI.run(["bot", "check", "--config", path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try result.json()["changed"] as? [String] == ["risk.time_exit_min_profit"])
        #expect(result.stdout.contains("\"time_exit_min_profit\": 0.002"))

        let bad = try CLI.temporaryFile("risk:\n  time_exit_min_profit: -0.001\n  take_profit: 0.03\n", suffix: ".yaml")
        let negative = try CLI.run(["bot", "check", "--config", bad])
        #expect(negative.status != 0)
        #expect(negative.stderr.contains("1 problem:"), "\(negative.stderr)")
        #expect(
            negative.stderr.contains(
                "  - risk.time_exit_min_profit: must be from 0 up to, not including, risk.take_profit (0.03) (got -0.001) (line 2)"))
        let high = try CLI.temporaryFile("risk:\n  time_exit_min_profit: 0.05\n", suffix: ".yaml")
        let atTarget = try CLI.run(["bot", "check", "--config", high])
        #expect(atTarget.status != 0)
        #expect(atTarget.stderr.contains("risk.time_exit_min_profit: must be from 0"), "\(atTarget.stderr)")
    }

    @Test func aMissingFileSaysHowToMakeOne() throws {
        let path = try Self.folder() + "/absent.yaml"
        let result = try CLI.run(["bot", "check", "--config", path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("bot init"))
    }
}

/// `nmrperp backtest --strategy nmr-bot`: the journal as JSON Lines and in SQLite.
@Suite struct BotBacktestCLITests {
    /// Three days of 15-minute bars: a slow rise, a 12 % drop in one bar, a recovery.
    static func bars() throws -> String {
        var lines = ["open_time_ms,open,high,low,close,volume"]
        var close = 20.0
        let start: Int64 = 1_736_121_600_000
        for index in 0..<288 {
            let open = close
            let drift = index == 150 ? -0.12 : (index % 24 < 12 ? 0.004 : -0.003)
            close = (open * (1 + drift) * 1000).rounded() / 1000
            let high = max(open, close) * 1.002
            let low = min(open, close) * 0.998
            lines.append("\(start + Int64(index) * 900_000),\(open),\(high),\(low),\(close),\(1000 + index)")
        }
        return try CLI.temporaryFile(lines.joined(separator: "\n") + "\n")
    }

    @Test func theJournalIsWrittenAsJSONLinesAndKeptInSQLite() throws {
        let data = try Self.bars()
        let home = try BotConfigCLITests.folder()
        let jsonl = home + "/out.jsonl"
        let env = ["NMRPERP_HOME": home]
        let result = try CLI.run(["backtest", "--strategy", "nmr-bot", "--data", data, "--journal", jsonl], environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("circuit_breaker"), "the 12 % bar trips the breaker: \(result.stdout)")
        let lines = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for key in ["time", "event", "side", "price", "quantity", "leverage", "reason"] { #expect(row.keys.contains(key), "\(key)") }
        }
        let listed = try CLI.run(["bot", "journal", "--json"], environment: env)
        #expect(listed.status == 0, "\(listed.stderr)")
        let list = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["runs"] as? [[String: Any]] ?? []
        let run = try #require(list.first?["name"] as? String)
        #expect(run.hasPrefix("backtest ") && run.hasSuffix(URL(fileURLWithPath: data).lastPathComponent))
        let exported = try CLI.run(["bot", "journal", "--run", run], environment: env)
        #expect(exported.stdout == (try String(contentsOfFile: jsonl, encoding: .utf8)), "SQLite gives back exactly the JSONL journal")
        let unknown = try CLI.run(["bot", "journal", "--run", "nope"], environment: env)
        #expect(unknown.stderr.contains("no run \"nope\""), "\(unknown.stderr)")
    }

    /// The summary, `--json` and the trades CSV say why each trade closed.
    @Test func exitsAreCountedByReason() throws {
        let data = try Self.bars()
        let home = try BotConfigCLITests.folder()
        let env = ["NMRPERP_HOME": home]
        let csv = home + "/trades.csv"
        let json = try CLI.run(["backtest", "--strategy", "nmr-bot", "--data", data, "--json", "--trades", csv], environment: env)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try json.json()
        let exits = try #require(object["exits_by_reason"] as? [String: [String: Any]], "\(json.stdout)")
        let closed = try #require(object["trades"] as? Int) - (object["open_trades"] as? Int ?? 0)
        #expect(exits.values.compactMap { $0["trades"] as? Int }.reduce(0, +) == closed)
        #expect(exits["circuit_breaker"] != nil || exits["stop"] != nil, "\(exits)")
        #expect(Set(exits.keys).isSubset(of: ["stop", "target", "time_exit", "circuit_breaker", "kill_switch", "liquidation", "end"]))
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst()
        for row in rows {
            let reason = row.split(separator: ",", omittingEmptySubsequences: false)[6]
            #expect(reason.isEmpty || exits[String(reason)] != nil, "\(row)")
        }

        let text = try CLI.run(["backtest", "--strategy", "nmr-bot", "--data", data], environment: env)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("exits by reason"), "\(text.stdout)")
        #expect(text.stdout.contains("net P&L"))
    }
}

/// Issue 15: `bot journal` lists runs with their key figures and short numbers, and deletes them.
@Suite struct BotJournalListCLITests {
    @Test func runsAreListedWithTheirFiguresAndCanBeDeleted() async throws {
        try await offPool {
            let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-journal-\(UUID().uuidString)").path
            guard let data = CLI.shared("binance_usdm_NMRUSDT_1h_2024-10_2025-10.csv") else {
                print("skipped: ../shared/data is absent")
                return
            }
            defer { try? FileManager.default.removeItem(atPath: home) }
            let env = ["NMRPERP_HOME": home]
            let journal = home + "-run.jsonl"
            defer { try? FileManager.default.removeItem(atPath: journal) }
            for _ in 0..<2 {
                let run = try CLI.run(["backtest", "--strategy", "nmr-bot", "--data", data, "--capital", "10000"], environment: env)
                #expect(run.status == 0, "\(run.stderr)")
            }
            let export = try CLI.run(["bot", "journal", "--run", "#1", "--out", journal], environment: env)
            #expect(export.status == 0, "\(export.stderr)")
            // The figures are the journal's own: closes, wins, Σ P&L of closes, Σ fees.
            let rows = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").compactMap {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let closing: Set<String> = ["exit", "stop", "target", "time_exit", "circuit_breaker", "liquidation"]
            let closes = rows.filter { closing.contains($0["event"] as? String ?? "") && $0["pnl"] is Double }
            let list =
                (try JSONSerialization.jsonObject(with: Data(try CLI.run(["bot", "journal", "--json"], environment: env).stdout.utf8))
                as? [String: Any])?["runs"] as? [[String: Any]] ?? []
            #expect(list.count == 2)
            let first = try #require(list.first)
            #expect(first["number"] as? Int == 1)
            #expect(first["trades"] as? Int == closes.count)
            #expect(closes.count > 0, "the run should trade, or this compares nothing")
            #expect(first["wins"] as? Int == closes.filter { ($0["pnl"] as? Double ?? 0) > 0 }.count)
            let pnl = closes.reduce(0.0) { $0 + ($1["pnl"] as? Double ?? 0) }
            #expect(abs((first["realized_pnl"] as? Double ?? 0) - pnl) < 1e-6)
            let funding = rows.reduce(0.0) { $0 + ($1["funding_paid"] as? Double ?? 0) }
            let allFees = rows.reduce(0.0) { $0 + ($1["fees"] as? Double ?? 0) }
            #expect(abs((first["net_pnl"] as? Double ?? 0) - (pnl - allFees - funding)) < 1e-6)
            let fees = rows.reduce(0.0) { $0 + ($1["fees"] as? Double ?? 0) }
            #expect(abs((first["fees"] as? Double ?? 0) - fees) < 1e-6)
            let table = try CLI.run(["bot", "journal"], environment: env)
            #expect(table.stdout.contains("#2  "), "\(table.stdout)")
            #expect(table.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 })

            let deleted = try CLI.run(["bot", "journal", "--delete", "1"], environment: env)
            #expect(deleted.status == 0, "\(deleted.stderr)")
            #expect(deleted.stdout.contains("deleted \"\(first["name"] as? String ?? "")\""))
            let after =
                (try JSONSerialization.jsonObject(with: Data(try CLI.run(["bot", "journal", "--json"], environment: env).stdout.utf8))
                as? [String: Any])?["runs"] as? [[String: Any]] ?? []
            #expect(after.count == 1)
            #expect(after.first?["name"] as? String == list.last?["name"] as? String)
            BoundsCLITests.expectOneLine(try CLI.run(["bot", "journal", "--run", "#2"], environment: env), "(#1 to #1)")
            BoundsCLITests.expectOneLine(try CLI.run(["bot", "journal", "--run", "1", "--delete", "1"], environment: env), "not both")
        }
    }
}

/// Issue 15: risk rules looser than the spec's are allowed, and said.
@Suite struct BeyondSpecCLITests {
    @Test func botCheckAndTheBacktestSayWhichRulesAreLooserThanTheSpec() async throws {
        try await offPool {
            let config = try CLI.temporaryFile("risk:\n  max_leverage: 5\n  max_exposure: 0.6\n  stop_loss: 0.04\n", suffix: ".yaml")
            let data = try CLI.temporaryFile(TimeRangeCLITests.csv(TimeRangeCLITests.bars[...]))
            defer { for file in [config, data] { try? FileManager.default.removeItem(atPath: file) } }
            let check = try CLI.run(["bot", "check", "--config", config, "--json"])
            #expect(check.status == 0, "\(check.stderr)")
            let beyond = try check.json()["beyond_spec"] as? [String] ?? []
            #expect(beyond.count == 3, "\(beyond)")
            #expect(beyond.contains { $0.hasPrefix("risk.max_leverage 5 is above the spec's 3") })
            #expect(beyond.contains { $0.hasPrefix("risk.max_exposure 0.6 is above the spec's 0.4") })
            #expect(beyond.contains { $0.hasPrefix("risk.stop_loss 0.04 is above the spec's 0.025") })
            let backtest = try CLI.run(["backtest", "--strategy", "nmr-bot", "--config", config, "--data", data, "--json"])
            #expect(backtest.status == 0, "\(backtest.stderr)")
            let notes = try backtest.json()["notes"] as? [String] ?? []
            #expect(notes.filter { $0.hasPrefix("beyond the spec's risk limits") }.count == 3, "\(notes)")
            // The defaults are the spec's: nothing to say.
            let defaults = try CLI.temporaryFile("risk:\n  max_leverage: 3\n", suffix: ".yaml")
            defer { try? FileManager.default.removeItem(atPath: defaults) }
            #expect(try CLI.run(["bot", "check", "--config", defaults, "--json"]).json()["beyond_spec"] as? [String] == [])
        }
    }
}
