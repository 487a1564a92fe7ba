import Foundation
import TestSupport
import Testing

/// Issue 15, "Data": `data check` lists every problem, not just the first, and checks funding too.
@Suite struct DataCheckCLITests {
    @Test func everyBadRowOfAPriceFileIsListedWithItsLine() throws {
        let file = try CLI.temporaryFile(
            "open_time_ms,open,high,low,close\n60000,1,2,0.5,1\n120000,1,2,0.5,x\n180000,1,0.4,0.5,1\n240000,1,2,0.5\n300000,1,2,0.5,1.5\n"
                + "360000,1,2,0.5,1.5\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try CLI.run(["data", "check", "--data", file])
        BoundsCLITests.expectOneLine(result, "3 problems (all listed above); the first: \(file):3: close is \"x\"")
        #expect(result.stdout.contains("\(file):3: close is \"x\""), "\(result.stdout)")
        #expect(result.stdout.contains("\(file):4: high 0.4 is below low 0.5"))
        #expect(result.stdout.contains("\(file):5: 4 fields, the header has 5"))
        // What is left is still summarised: 3 bars and the gap the left-out rows make.
        #expect(result.stdout.contains("bars  3, every 1m"), "\(result.stdout)")
        let json = try CLI.run(["data", "check", "--data", file, "--json"])
        #expect(json.status == 1)
        let object = try json.json()
        #expect((object["problems"] as? [String])?.count == 3)
        #expect(object["kind"] as? String == "candles")
    }

    @Test func aFundingFileIsCheckedAsOneWithItsMissingSettlements() throws {
        let rows = [
            "0,0.0001", "28800000,0.0001", "57600000,0.0001", "86400000,abc", "115200000,0.0002", "144000000,0.0002", "144000000,0.0002",
            "259200000,2",
        ]
        let file = try CLI.temporaryFile("funding_time_ms,funding_rate\n" + rows.joined(separator: "\n") + "\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try CLI.run(["data", "check", "--data", file, "--json"])
        #expect(result.status == 1)
        let json = try result.json()
        #expect(json["kind"] as? String == "funding")
        let problems = json["problems"] as? [String] ?? []
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.first?.contains(":5: funding_rate is \"abc\"") == true, "\(problems)")
        #expect(problems.dropFirst().first?.contains(":8: a second row") == true, "\(problems)")
        #expect(problems.last?.contains(":9:") == true, "a rate of 2 (200 % per interval) is beyond what the tool carries: \(problems)")
        #expect(json["settlements"] as? Int == 5)
        // 8-hourly: the left-out 24h row is one settlement missing; 40h → the end, none left.
        let gaps = json["gaps"] as? [[String: Any]] ?? []
        #expect(gaps.map { $0["missing_settlements"] as? Int } == [1], "\(gaps)")
    }

    @Test func aCleanFundingHistoryPasses() throws {
        guard let file = CLI.shared("binance_usdm_NMRUSDT_funding_4h_2026-02_2026-03.csv") else {
            print("skipped: ../shared/data is absent")
            return
        }
        let result = try CLI.run(["data", "check", "--data", file])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("funding history"))
        #expect(result.stdout.contains("settlements  200, every 4h"), "\(result.stdout)")
    }

    @Test func manyProblemsAreListedUpToFifty() async throws {
        try await offPool {
            let rows = (1...80).map { "\($0 * 60_000),1,2,0.5,bad" }
            let file = try CLI.temporaryFile("open_time_ms,open,high,low,close\n" + rows.joined(separator: "\n") + "\n")
            defer { try? FileManager.default.removeItem(atPath: file) }
            let result = try CLI.run(["data", "check", "--data", file])
            BoundsCLITests.expectOneLine(result, "50+ problems (all listed above)")
            #expect(result.stdout.split(separator: "\n").filter { $0.contains("close is \"bad\"") }.count == 50)
            #expect(result.stdout.contains("… and more"))
        }
    }
}
