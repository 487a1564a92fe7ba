import Foundation
import Testing

@Suite struct HedgePlanCLITests {
    @Test func forumExampleAsJSON() throws {
        let result = try CLI.run([
            "hedge", "plan", "--stake", "10", "--price", "8", "--g", "3.06", "--alpha", "1.1", "--margin-fraction", "0.2", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        #expect(json["stake"] as? Double == 10)
        #expect(json["price"] as? Double == 8)
        #expect(json["g"] as? Double == 3.06)
        #expect(json["alpha"] as? Double == 1.1)
        #expect(json["margin_fraction"] as? Double == 0.2)
        #expect(json["collateral_multiple"] as? Double == 2.7332)
        #expect(json["notional"] as? Double == 80)
        #expect(json["collateral"] as? Double == 218.656)
        #expect(json["liquidation_price"] as? Double == 24.888)
    }

    @Test func tableSaysWhatToPost() throws {
        let result = try CLI.run(["hedge", "plan", "--stake", "10", "--price", "8", "--g", "3.06"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("$218.66"))
        #expect(result.stdout.contains("2.7332"))
    }

    @Test func withoutGOrDataOfflineItMeasuresGOnTheShippedHistory() throws {
        let result = try CLI.run(["hedge", "plan", "--stake", "10", "--price", "8", "--step", "bar", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        let history = json["history"] as? [String: Any] ?? [:]
        #expect(history["start"] as? String == "2024-10-23")
        #expect(history["end"] as? String == "2025-10-23")
        #expect(history["bars"] as? Int == 17520)
        #expect((history["age_days"] as? Int ?? -1) >= 0)
        #expect((json["g_source"] as? String ?? "").contains("shipped with nmrperp"))
        let notes = json["notes"] as? [String] ?? []
        #expect(notes.contains { $0.contains("offline") && $0.contains("days ago") && $0.contains("--data") }, "\(notes)")
        // The shipped bars are the real year's: the same g as the full file in ../shared/data, and
        // the same as its 15-minute bars (why 30 minutes is coarse enough, SOURCE.md).
        let g = json["g"] as? Double ?? 0
        #expect(abs(g - 3.1686497672) < 1e-9, "\(g)")
        for name in ["binance_usdm_NMRUSDT_30m_2024-10_2025-10.csv", "binance_usdm_NMRUSDT_15m_2024-10_2025-10.csv"] {
            guard let file = CLI.shared(name) else {
                print("skipped the cross-check with \(name): ../shared/data is absent")
                continue
            }
            let full = try CLI.run(["hedge", "plan", "--stake", "10", "--price", "8", "--step", "bar", "--data", file, "--json"])
            #expect(try full.json()["g"] as? Double == g, "\(name)")
        }
    }

    @Test func theTableNamesTheShippedHistoryAndItsAge() throws {
        let result = try CLI.run(["hedge", "plan", "--stake", "10", "--price", "8"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("price history"))
        #expect(result.stdout.contains("2024-10-23 → 2025-10-23, 17520 bars, ended"))
        // The 7-day step hides a worse start, and the note says so.
        #expect(result.stdout.contains("understates"), "\(result.stdout)")
    }

    @Test func withoutTheShippedHistoryItFallsBackToTheForumGAndSaysWhy() throws {
        let result = try CLI.run(
            ["hedge", "plan", "--stake", "10", "--price", "8", "--json"],
            environment: ["NMRPERP_SHIPPED_HISTORY": "/nonexistent/shipped.csv"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        #expect(json["g"] as? Double == 3.06)
        let notes = json["notes"] as? [String] ?? []
        #expect(notes.contains { $0.contains("forum") && $0.contains("/nonexistent/shipped.csv") }, "\(notes)")
    }

    @Test func aDamagedShippedHistoryIsReportedNotACrash() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shipped-\(UUID().uuidString).csv").path
        try "time,open,high,low,close\n1,2,3\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try CLI.run(["hedge", "plan", "--stake", "10", "--price", "8"], environment: ["NMRPERP_SHIPPED_HISTORY": file])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("could not be read"), "\(result.stdout)")
        #expect(result.stdout.contains("3.06"))
    }

    @Test func withDataItMeasuresGAndShowsWhatTheStepHides() throws {
        guard let file = CLI.shared("binance_spot_NMRUSDT_5m_2022-08_2023-09.csv") else {
            print("skipped: ../shared/data is absent")
            return
        }
        let result = try CLI.run(["hedge", "plan", "--stake", "10", "--price", "8", "--data", file, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        // 7-day steps: 25.25 / 11.19 rounded up at 12 decimals.
        #expect(abs((json["g"] as? Double ?? 0) - 25.25 / 11.19) < 1e-11)
        let notes = json["notes"] as? [String] ?? []
        #expect(notes.contains { $0.contains("understates") && $0.contains("2.4373") })
        #expect(json["historical_liquidation_share"] as? Double == 0)
    }

    @Test(arguments: [
        (["--stake=-5", "--price", "8", "--g", "3"], "--stake"),
        (["--stake", "10", "--price", "8", "--g", "3", "--alpha", "0.9"], "--alpha"),
        (["--stake", "10", "--price", "8", "--g", "3", "--margin-fraction", "1.5"], "--margin-fraction"),
        (["--stake", "10", "--price", "8", "--g", "3", "--margin-fraction", "0"], "--margin-fraction"),
        (["--stake", "ten", "--price", "8", "--g", "3"], "--stake"),
        (["--price", "8", "--g", "3"], "--stake"),
        (["--stake", "10", "--g", "3"], "--price"),
        (["--stake", "10", "--price", "8", "--data", "/nonexistent/nmr.csv"], "/nonexistent/nmr.csv"),
        (["--stake", "10", "--price", "8", "--g", "0.5"], "--g"),
        (["--model", "some_model", "--price", "8", "--g", "3"], "--stake"),
    ])
    func badInputGetsOneClearLine(arguments: [String], mentions: String) throws {
        let result = try CLI.run(["hedge", "plan"] + arguments)
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(mentions), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
    }
}

@Suite struct WorstCaseCLITests {
    @Test func realDataEveryStartAndSevenDaySteps() throws {
        guard let file = CLI.shared("binance_spot_NMRUSDT_5m_2022-08_2023-09.csv") else {
            print("skipped: ../shared/data is absent")
            return
        }
        let weekly = try CLI.run(["hedge", "worst-case", "--data", file, "--json"]).json()
        #expect(abs((weekly["g"] as? Double ?? 0) - 25.25 / 11.19) < 1e-9)
        // 57 full weekly windows and 4 cut off by the end of the data (2023-09-04 … 2023-09-25).
        #expect(weekly["windows"] as? Int == 61)
        #expect(weekly["full_windows"] as? Int == 57 && weekly["cut_off_windows"] as? Int == 4)
        #expect(weekly["worst_window_cut_off"] as? Bool == false)
        #expect(weekly["worst_window_start"] as? String == "2023-08-21T00:00:00Z")
        #expect(weekly["bars"] as? Int == 121_748)
        #expect((weekly["gaps"] as? [Any])?.count == 1)
        let quantiles = weekly["quantiles"] as? [String: Double] ?? [:]
        #expect(Set(quantiles.keys) == ["p50", "p90", "p99"])
        let every = try CLI.run(["hedge", "worst-case", "--data", file, "--step", "bar", "--json"]).json()
        #expect(abs((every["g"] as? Double ?? 0) - 25.25 / 10.36) < 1e-9)
        #expect(every["worst_window_start"] as? String == "2023-08-17T21:45:00Z")
    }

    @Test func aWindowLongerThanTheDataIsAClearError() throws {
        let file = try CLI.temporaryFile("open_time_ms,open,high,low,close,volume\n0,1,2,1,1,0\n60000,1,2,1,1,0\n")
        let result = try CLI.run(["hedge", "worst-case", "--data", file])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no 30d window fits"), "\(result.stderr)")
    }

    @Test func wrongColumnsNameWhatIsMissing() throws {
        let file = try CLI.temporaryFile("time_ms,price\n0,1\n")
        let result = try CLI.run(["hedge", "worst-case", "--data", file])
        #expect(result.status != 0)
        #expect(result.stderr.contains("missing column"), "\(result.stderr)")
        #expect(result.stderr.contains(file))
    }

    @Test func badRowsAreNamedByLine() throws {
        let file = try CLI.temporaryFile("open_time_ms,open,high,low,close,volume\n0,1,2,1,1,0\n60000,1,0.5,1,1,0\n")
        let result = try CLI.run(["hedge", "worst-case", "--data", file])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(file):3"), "\(result.stderr)")
    }

    @Test func horizonsListsEveryPeriod() throws {
        guard let file = CLI.shared("binance_spot_NMRUSDT_5m_2020-12_2021-07.csv") else {
            print("skipped: ../shared/data is absent")
            return
        }
        let json = try CLI.run(["hedge", "horizons", "--data", file, "--json"]).json()
        let horizons = json["horizons"] as? [[String: Any]] ?? []
        #expect(horizons.map { $0["days"] as? Int } == [1, 3, 7, 14, 30, 60, 90])
        // Checked independently with pandas/numpy (Benchmarks/python/g_pandas.py, every start).
        let expected = [1.800822, 1.834205, 2.462439, 2.462439, 2.462439, 2.898438, 3.703926]
        for (entry, value) in zip(horizons, expected) {
            #expect(abs((entry["g"] as? Double ?? 0) - value) < 1e-6)
        }
    }
}

@Suite struct HorizonsCutOffCLITests {
    @Test func gNeverFallsWithTheHorizonOnTheSqueezeYear() throws {
        // Issue 10.8: g(60d) printed 2.36 below g(30d) 2.44, because the 60-day windows holding
        // the 2023-08 squeeze run past the end of the file and were dropped.
        guard let file = CLI.shared("binance_spot_NMRUSDT_5m_2022-08_2023-09.csv") else {
            print("skipped: ../shared/data/binance_spot_NMRUSDT_5m_2022-08_2023-09.csv is absent")
            return
        }
        let json = try CLI.run(["hedge", "horizons", "--data", file, "--json"], timeout: 300).json()
        let horizons = json["horizons"] as? [[String: Any]] ?? []
        let gs = horizons.map { $0["g"] as? Double ?? 0 }
        #expect(gs.count == 7 && gs == gs.sorted(), "\(gs)")
        #expect(gs[5] >= gs[4] && gs[4] >= 2.44 - 0.005, "\(gs)")
        #expect(horizons.allSatisfy { ($0["cut_off_windows"] as? Int ?? 0) > 0 })
        #expect(horizons[5]["worst_window_cut_off"] as? Bool == true)
        let table = try CLI.run(["hedge", "horizons", "--data", file], timeout: 300)
        #expect(table.stdout.contains("worst cut off") && table.stdout.contains("the true worst case may be higher"), "\(table.stdout)")
    }

    @Test func aSqueezeInTheLastPartialWindowIsFlagged() throws {
        // 40 calm days of hourly bars, then a squeeze to 3× in the last hour.
        var csv = "open_time_ms,open,high,low,close,volume\n"
        let hours = 40 * 24
        for hour in 0..<hours { csv += "\(Int64(hour) * 3_600_000),10,\(hour == hours - 1 ? 30 : 10),10,10,0\n" }
        let file = try CLI.temporaryFile(csv)
        let json = try CLI.run(["hedge", "worst-case", "--data", file, "--json"]).json()
        #expect(json["g"] as? Double == 3)
        #expect(json["worst_window_cut_off"] as? Bool == true)
        // Starts every 7 days up to the last bar: 0 and 7 end inside the 40 days; 14, 21, 28, 35 do not.
        #expect(json["windows"] as? Int == 6 && json["cut_off_windows"] as? Int == 4)
        let table = try CLI.run(["hedge", "worst-case", "--data", file])
        #expect(table.stdout.contains("cut off by the end of the data"), "\(table.stdout)")
        #expect(table.stdout.contains("may be higher"), "\(table.stdout)")
    }
}

@Suite struct SurvivalCutOffCLITests {
    @Test func theCutOffLastPeriodIsNamed() throws {
        // 40 days of hourly bars: the last 7-day period has 5 days, the last 30-day one 10; 10-day
        // periods fit exactly.
        var csv = "open_time_ms,open,high,low,close,volume\n"
        for hour in 0..<(40 * 24) { csv += "\(Int64(hour) * 3_600_000),10,10,10,10,0\n" }
        let file = try CLI.temporaryFile(csv)
        let result = try CLI.run(["hedge", "survival", "--data", file, "--periods", "7d,10d,30d"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout.contains("the last period is cut off by the end of the data for 7d (5.0 of 7.0 days), 30d (10.0 of 30.0 days)"),
            "\(result.stdout)")
        #expect(!result.stdout.contains("10d ("), "\(result.stdout)")
    }
}

@Suite struct CalcAndFundingCLITests {
    @Test func liquidationGolden() throws {
        // Binance-style isolated, maintenance 2 %, amount 0: short 100 @ 15 with 300 → 17.647059, long → 12.244898.
        let short = try CLI.run([
            "calc", "liquidation", "--side", "short", "--entry", "15", "--quantity", "100", "--collateral", "300", "--maintenance-fraction",
            "0.02", "--json",
        ]).json()
        #expect(String(format: "%.6f", short["liquidation_price"] as? Double ?? 0) == "17.647059")
        let long = try CLI.run([
            "calc", "liquidation", "--side", "long", "--entry", "15", "--quantity", "100", "--collateral", "300", "--maintenance-fraction",
            "0.02", "--json",
        ]).json()
        #expect(String(format: "%.6f", long["liquidation_price"] as? Double ?? 0) == "12.244898")
        #expect(abs((long["adverse_move"] as? Double ?? 0) - (15 - 12.244898) / 15) < 1e-6)
        let table = try CLI.run([
            "calc", "liquidation", "--side", "short", "--entry", "15", "--quantity", "100", "--collateral", "300", "--maintenance-fraction",
            "0.02",
        ])
        #expect(table.stdout.contains("17.647059"))
    }

    @Test func twentyTimesLeverageIsNotHalfAPercent() throws {
        // Seed 000 claims 0.5 %; at 20x with 0.5 % maintenance the move is about 4.5 %.
        let json = try CLI.run([
            "calc", "liquidation", "--side", "long", "--entry", "10", "--quantity", "1", "--leverage", "20", "--maintenance-fraction",
            "0.005", "--json",
        ]).json()
        let move = json["adverse_move"] as? Double ?? 0
        #expect(move > 0.04 && move < 0.046)
    }

    @Test func fundingStatsMatchAnIndependentComputation() throws {
        guard let file = CLI.shared("binance_usdm_NMRUSDT_funding_8h_2023-07_2023-08.csv") else {
            print("skipped: ../shared/data is absent")
            return
        }
        let json = try CLI.run(["funding", "stats", "--data", file, "--json"]).json()
        // Independent: straight from the CSV text. Every settlement of this file covers 8 hours,
        // so the time-weighted mean is Σ rates / (8 h × settlements) × 24 h; the std is over the
        // UTC days with all three settlements.
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var byDay: [Int: (sum: Double, count: Int)] = [:]
        var total = 0.0
        var count = 0
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",")
            let rate = Double(fields[2])!
            byDay[Int(fields[0])! / 86_400_000, default: (0, 0)].sum += rate
            byDay[Int(fields[0])! / 86_400_000, default: (0, 0)].count += 1
            total += rate
            count += 1
        }
        let mean = total / Double(count * 8) * 24
        let daily = byDay.keys.sorted().map { byDay[$0]! }.filter { $0.count == 3 }.map(\.sum)
        let dailyMean = daily.reduce(0, +) / Double(daily.count)
        let std = (daily.map { ($0 - dailyMean) * ($0 - dailyMean) }.reduce(0, +) / Double(daily.count - 1)).squareRoot()
        #expect(json["days"] as? Int == byDay.count)
        #expect(json["complete_days"] as? Int == daily.count)
        // The calendar-day mean understated it: 31 days for 29.7 days of funding.
        let calendarMean = total / Double(byDay.count)
        #expect(abs(mean) > abs(calendarMean) * 1.04)
        #expect(abs((json["mean_bps_per_day"] as? Double ?? 0) - mean * 10_000) < 1e-6)
        #expect(abs((json["std_bps_per_day"] as? Double ?? 0) - std * 10_000) < 1e-6)
        #expect(abs((json["apr"] as? Double ?? 0) - mean * 365) < 1e-9)
        #expect(abs((json["apy"] as? Double ?? 0) - (pow(1 + mean, 365) - 1)) < 1e-9)
    }

    @Test func fundingStatsLastDays() throws {
        var csv = "funding_time_ms,funding_rate\n"
        for day in 0..<10 {
            for hour in stride(from: 0, to: 24, by: 8) {
                csv += "\(Int64(19_000 + day) * 86_400_000 + Int64(hour) * 3_600_000),\(day < 7 ? "-0.0001" : "0.0002")\n"
            }
        }
        let file = try CLI.temporaryFile(csv)
        let json = try CLI.run(["funding", "stats", "--data", file, "--days", "3", "--json"]).json()
        #expect(json["days"] as? Int == 3)
        #expect(abs((json["mean_bps_per_day"] as? Double ?? 0) - 6) < 1e-9)
        let bad = try CLI.run(["funding", "stats", "--data", file, "--days", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--days"))
    }

    @Test func helpTeaches() throws {
        let result = try CLI.run(["hedge", "plan", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("(g − 1) + α·g·M"))
        #expect(result.stdout.contains("Examples"))
    }
}
