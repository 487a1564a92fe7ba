import Foundation
import TestSupport
import Testing

/// `nmrperp paper`: paper trading against a Binance USD-M stand-in on 127.0.0.1.
@Suite struct PaperCLITests {
    /// Serves NMRUSDT 15-minute klines up to the real clock (a deterministic zig-zag around 20
    /// USDT, in Binance's 12-column wire format) and one funding settlement every 8 hours.
    static func exchange(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let step: Int64 = 900_000
        switch request.path {
        case "/fapi/v1/klines":
            guard request.query["symbol"] == "NMRUSDT" else { return .json(#"{"code":-1121,"msg":"Invalid symbol."}"#, status: 400) }
            let start = (Int64(request.query["startTime"] ?? "0") ?? 0 + step - 1) / step * step
            let limit = Int64(request.query["limit"] ?? "500") ?? 500
            var rows: [String] = []
            var time = start
            while time <= now && Int64(rows.count) < limit {
                let phase = (time / step) % 40
                let close = 2_000 + (phase < 20 ? phase : 40 - phase) * 15  // cents
                let open = close - 5
                rows.append(
                    #"[\#(time),"\#(Double(open) / 100)","\#(Double(close + 10) / 100)","\#(Double(open - 10) / 100)","\#(Double(close) / 100)","1000.5",\#(time + step - 1),"20000",50,"500","10000","0"]"#
                )
                time += step
            }
            return .json("[" + rows.joined(separator: ",") + "]")
        case "/fapi/v1/fundingRate":
            let start = Int64(request.query["startTime"] ?? "0") ?? 0
            var rows: [String] = []
            var time = (start + 28_800_000 - 1) / 28_800_000 * 28_800_000
            while time <= now {
                rows.append(#"{"symbol":"NMRUSDT","fundingTime":\#(time),"fundingRate":"0.00010000","markPrice":"20.10000000"}"#)
                time += 28_800_000
            }
            return .json("[" + rows.joined(separator: ",") + "]")
        case "/fapi/v1/premiumIndex":
            return .json(
                #"{"symbol":"NMRUSDT","markPrice":"20.11000000","indexPrice":"20.10500000","estimatedSettlePrice":"20.1","lastFundingRate":"0.00010000","interestRate":"0.00010000","nextFundingTime":\#((now / 28_800_000 + 1) * 28_800_000),"time":\#(now)}"#
            )
        default:
            return .json(#"{"code":-1,"msg":"unknown path"}"#, status: 404)
        }
    }

    @Test func startsStopsResumesAndReportsTheRecord() throws {
        let server = try LoopbackHTTPServer(handler: Self.exchange)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-paper-\(UUID().uuidString)").path
        let env = ["NMRPERP_OFFLINE": "0", "NMRPERP_BINANCE_USDM_URL": server.baseURL, "NMRPERP_HOME": home]

        let first = try CLI.run(["paper", "--interval", "15m", "--warmup", "12h", "--max-polls", "1"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("new session"), "\(first.stderr)")
        #expect(first.stderr.contains("record 0.0/30 d"), "\(first.stderr)")
        #expect(first.stderr.contains("stale_feed"), "warm-up bars are catch-up: \(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: home + "/paper/default.sqlite"))

        let second = try CLI.run(["paper", "run", "--interval", "15m", "--max-polls", "1", "--json"], environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resumed"), "\(second.stderr)")
        let line = try #require(second.stdout.split(separator: "\n").first)
        let poll = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(poll["state"] as? String == "active")
        #expect(poll["position"] as? Double == 0)
        #expect(poll["mark"] as? Double == 20.11, "the mark price from premiumIndex")
        #expect(first.stderr.contains("mark 20.11, funding 0.0100 % at "), "\(first.stderr)")

        let status = try CLI.run(["paper", "status", "--json"], environment: env)
        #expect(status.status == 0, "\(status.stderr)")
        let record = try status.json()
        #expect(record["required_days"] as? Int == 30)
        #expect(record["record_complete"] as? Bool == false)
        #expect(record["symbol"] as? String == "NMRUSDT")
        #expect((record["live_days"] as? Double ?? -1) < 0.1)
        #expect(record["capital"] as? Double == 10_000)

        let table = try CLI.run(["paper", "status"], environment: env)
        #expect(table.stdout.contains("live trading stays locked"), "\(table.stdout)")

        let journal = try CLI.run(["paper", "journal"], environment: env)
        #expect(journal.status == 0, "\(journal.stderr)")
        let rows = journal.stdout.split(separator: "\n")
        #expect(!rows.isEmpty)
        for row in rows {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
            #expect(object["time"] is String && object["event"] is String && object["reason"] is String)
        }

        // The record belongs to its settings: another capital or bot is refused, with the way out.
        let capital = try CLI.run(["paper", "--interval", "15m", "--capital", "500", "--max-polls", "1"], environment: env)
        #expect(capital.status != 0)
        #expect(capital.stderr.contains("capital") && capital.stderr.contains("--name"), "\(capital.stderr)")
        let botFile = try CLI.temporaryFile("risk:\n  max_leverage: 2\n", suffix: ".yaml")
        let bot = try CLI.run(["paper", "--config", botFile, "--interval", "15m", "--max-polls", "1"], environment: env)
        #expect(bot.status != 0)
        #expect(bot.stderr.contains("another bot configuration"), "\(bot.stderr)")
    }

    @Test func badInputIsOneClearLine() throws {
        let offline = try CLI.run(["paper", "--max-polls", "1"])
        #expect(offline.status != 0)
        #expect(offline.stderr.contains("NMRPERP_OFFLINE"), "\(offline.stderr)")
        let interval = try CLI.run(["paper", "--interval", "1d", "--max-polls", "1"])
        #expect(interval.stderr.contains("--interval must be one of"), "\(interval.stderr)")
        let name = try CLI.run(["paper", "--name", "../etc", "--max-polls", "1"])
        #expect(name.stderr.contains("--name must be"), "\(name.stderr)")
        let missing = try CLI.run(["paper", "status", "--name", "nothing"])
        #expect(missing.stderr.contains("no paper session \"nothing\""), "\(missing.stderr)")
    }
}
