import Foundation
import PerpModel
import TestSupport
import Testing

/// Issue 16: a backtest reads the on-chain flows and the calendar from its signals folder
/// (`signals event` adds a date), refuses entries in blackouts, and `bot review` reviews the
/// run and a paper session without ever changing a configuration.
@Suite(.serialized) struct ReviewCLITests {
    /// 60 days of 15-minute bars: a deterministic random walk with drifts that change sign
    /// every few days, so the bot trades.
    static func bars() throws -> String {
        var random = SplitMix64(seed: 16)
        var price = 10.0
        var lines = ["open_time_ms,open,high,low,close,volume"]
        let start: Int64 = 1_735_689_600_000
        for index in 0..<(60 * 96) {
            let open = price
            let drift = (index / 400) % 2 == 0 ? 0.0008 : -0.0008
            price *= 1 + drift + (Double(random.next(below: 10_001)) / 10_000 - 0.5) * 0.006
            let high = max(open, price) * 1.001
            let low = min(open, price) * 0.999
            lines.append(
                "\(start + Int64(index) * 900_000),\(String(format: "%.4f", open)),\(String(format: "%.4f", high)),\(String(format: "%.4f", low)),\(String(format: "%.4f", price)),1000"
            )
        }
        return try CLI.temporaryFile(lines.joined(separator: "\n") + "\n")
    }

    @Test func aBacktestReadsFlowsAndCalendarAndItsRunIsReviewed() async throws {
        try await offPool {
            let data = try Self.bars()
            let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-review-\(UUID().uuidString)").path
            let signals = home + "/signals"
            try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
            let environment = ["NMRPERP_HOME": home]
            // Hourly flows: 2000 NMR onto exchanges an hour for 30 days, then 2000 off.
            let flows = (1...(60 * 24)).map { hour in "\(1_735_689_600_000 + Int64(hour) * 3_600_000),\(hour < 30 * 24 ? 2000 : -2000)" }
            try (["time_ms,value"] + flows).joined(separator: "\n").write(
                toFile: signals + "/exchange_netflow.csv", atomically: true, encoding: .utf8)
            for day in 1...59 {
                let time = Timestamp(milliseconds: 1_735_689_600_000 + Int64(day) * 86_400_000 + 12 * 3_600_000).iso8601
                let added = try CLI.run(
                    ["signals", "event", "--time", time, "--kind", "news", "headline \(day)"], environment: environment)
                #expect(added.status == 0, "\(added.stderr)")
            }
            let again = try CLI.run(["signals", "event", "--time", "2025-01-02T12:00:00Z", "--json"], environment: environment)
            #expect(try again.json()["added"] as? Bool == false)

            let journal = home + "/journal.jsonl"
            let backtest = try CLI.run(
                ["backtest", "--strategy", "nmr-bot", "--data", data, "--signals", signals, "--journal", journal], environment: environment,
                timeout: 180)
            #expect(backtest.status == 0, "\(backtest.stderr)")
            let rows = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n")
            let blackouts = rows.filter { $0.contains("\"reason\":\"blackout: news at ") }
            #expect(!blackouts.isEmpty, "entries wanted around the news are refused")
            #expect(rows.contains { $0.contains("\"exchange_flow\":") }, "the flow is in the decisions' scores")

            // A note on the run, at a moment of it, is in its export and in the review.
            let note = try CLI.run(
                ["journal", "note", "--run", "1", "--time", "2025-02-25T12:00:00Z", "Flows felt like noise"], environment: environment)
            #expect(note.status == 0 && note.stdout.contains("noted on run"), "\(note.stderr)")
            let export = try CLI.run(["bot", "journal", "--run", "1"], environment: environment)
            #expect(export.stdout.contains(#""event":"note""#) && export.stdout.contains("Flows felt like noise"))

            let config = home + "/new.yaml"
            let report = home + "/review.html"
            let review = try CLI.run(
                [
                    "bot", "review", "--run", "1", "--data", data, "--signals", signals, "--since", "14d", "--report", report,
                    "--write-config", config, "--json",
                ],
                environment: environment, timeout: 120)
            #expect(review.status == 0, "\(review.stderr)")
            let json = try review.json()
            let named = (json["signals"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(named == ["momentum", "mean_reversion", "funding", "staked", "activity", "exchange_flow", "sentiment"])
            let flow = try #require((json["signals"] as? [[String: Any]])?.first { $0["name"] as? String == "exchange_flow" })
            #expect((flow["before_bars"] as? Int ?? 0) > 0 && (flow["window_bars"] as? Int ?? 0) > 0)
            #expect((json["trades"] as? Int ?? 0) > 0 && !(json["exits"] as? [Any] ?? []).isEmpty)
            #expect(json["suggested_weights"] is [String: Any], "price and network were both tested before the window")
            let notes = json["journal_notes"] as? [[String: Any]] ?? []
            #expect(notes.first?["text"] as? String == "Flows felt like noise" && notes.count == 1)
            let html = try String(contentsOfFile: report, encoding: .utf8)
            #expect(html.contains("Trades by exit reason") && html.contains("exchange_flow") && !html.contains("<script"))
            let check = try CLI.run(["bot", "check", "--config", config], environment: environment)
            #expect(check.status == 0, "the suggestion is a valid configuration: \(check.stderr)")
            #expect(try String(contentsOfFile: config, encoding: .utf8).hasPrefix("# Written by `nmrperp bot review`"))

            let refused: [([String], String)] = [
                (["bot", "review"], "say what to review"),
                (["bot", "review", "--run", "1"], "--run needs --data"),
                (["bot", "review", "--run", "7", "--data", data], "no run \"7\""),
                (["bot", "review", "--run", "1", "--session", "x", "--data", data], "give one"),
                (["bot", "review", "--run", "1", "--data", data, "--since", "0d"], "--since"),
                (["bot", "review", "--run", "1", "--data", data, "--since", "soon"], "--since"),
                (["bot", "review", "--session", "paper/nothing"], "no paper session named nothing"),
                (["bot", "review", "--session", "x", "--data", data], "go with --run"),
                (["bot", "review", "--run", "1", "--data", data, "--write-config", config], "exists"),
                (["signals", "event", "--time", "soon"], "--time"),
                (["journal", "note", "--run", "1", "--trade", "np-1", "x"], "no client ids"),
                (["journal", "note", "--run", "9", "x"], "no run \"9\""),
                (["journal", "note", "--run", "1", "--time", "later", "x"], "--time"),
                (["journal", "note", "--session", "paper/x", "--time", "2025-01-01", "x"], "backtest run"),
                (["journal", "note", "x"], "say where the note goes"),
                (["signals", "event", "--time", "2025-01-01", "--kind", "Big News"], "--kind"),
            ]
            for (arguments, needle) in refused {
                let result = try CLI.run(arguments, environment: environment)
                #expect(result.status != 0, "\(arguments) should fail")
                #expect(result.stderr.contains(needle), "\(arguments): \(result.stderr)")
                #expect(!result.stderr.contains("Fatal error"))
            }
        }
    }

    @Test func aPaperSessionIsReviewedFromWhatItStored() async throws {
        try await offPool {
            let data = try ConfigurationCLITests.bars()
            let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-review-\(UUID().uuidString)").path
            let environment = ["NMRPERP_HOME": home]
            // News every six hours: the session picks the calendar up from its signals folder.
            let signals = home + "/signals"
            try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
            let events = (0..<56).map {
                "\(Timestamp(milliseconds: 1_735_689_600_000 + Int64($0) * 6 * 3_600_000).iso8601),news,item \($0)"
            }
            try (["time,kind,note"] + events).joined(separator: "\n").write(
                toFile: signals + "/calendar.csv", atomically: true, encoding: .utf8)
            let replay = try CLI.run(
                ["paper", "--replay", data, "--to", "2025-01-15", "--signals", signals], environment: environment, timeout: 120)
            #expect(replay.status == 0, "\(replay.stderr)")
            let journal = try CLI.run(["paper", "journal", "--name", "replay"], environment: environment)
            #expect(journal.stdout.contains("\"reason\":\"blackout: news at "), "entries wanted around the news are refused")
            let note = try CLI.run(["journal", "note", "--session", "paper/replay", "Skipped the open: tired"], environment: environment)
            #expect(note.status == 0, "\(note.stderr)")
            let review = try CLI.run(["bot", "review", "--session", "replay", "--since", "3d"], environment: environment)
            #expect(review.status == 0, "\(review.stderr)")
            #expect(review.stdout.contains("review of paper/replay"))
            #expect(review.stdout.contains("warning: small sample"), "\(review.stdout)")
            #expect(review.stdout.contains("Trades by exit reason"))
            #expect(review.stdout.contains("Skipped the open: tired"), "the note is in the review")
        }
    }

    @Test func blackoutKindsAreReadFromTheConfigFile() async throws {
        try await offPool {
            let good = try CLI.temporaryFile("calendar:\n  blackout_kinds: [round_close, news]\n  blackout_before: 2h\n", suffix: ".yaml")
            let shown = try CLI.run(["bot", "check", "--config", good, "--show", "--json"])
            #expect(shown.status == 0, "\(shown.stderr)")
            let calendar = (try shown.json()["settings"] as? [String: Any])?["calendar"] as? [String: Any]
            #expect(calendar?["blackout_kinds"] as? [String] == ["round_close", "news"])
            #expect(calendar?["blackout_before"] as? String == "2h")
            for (yaml, needle) in [
                ("calendar:\n  blackout_kinds: [Round Close]\n", "calendar.blackout_kinds"),
                ("calendar:\n  blackout_kinds:\n    a: b\n", "not a group of keys"),
                ("calendar:\n  blackout_after: 0h\n", "calendar.blackout_after"),
                ("calendar:\n  blackout_kind: [news]\n", "did you mean"),
            ] {
                let path = try CLI.temporaryFile(yaml, suffix: ".yaml")
                let result = try CLI.run(["bot", "check", "--config", path])
                #expect(result.status != 0 && result.stderr.contains(needle), "\(yaml): \(result.stderr)")
            }
        }
    }
}
