import Foundation
import TestSupport
import Testing

/// Commands that read the venues, run against a local server on 127.0.0.1.
@Suite struct LiveCLITests {
    static let lighterMarket = """
        {"code":200,"order_book_details":[{"symbol":"NMR","market_id":74,"market_type":"perp","status":"active",
        "size_decimals":2,"maintenance_margin_fraction":2000,"min_initial_margin_fraction":3333,
        "default_initial_margin_fraction":6666,"mark_price":"8.4603","index_price":"8.4611"}]}
        """

    static func numerai(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        let body = request.bodyText
        if body.contains("\"alpha_model\"") { return .json(#"{"data":{"v3UserProfile":{"stakeValue":"14.63"}}}"#) }
        if body.contains("\"beta_model\"") { return .json(#"{"data":{"v3UserProfile":{"stakeValue":"5.37"}}}"#) }
        return .json(#"{"errors":[{"message":"Model not found"}],"data":null}"#)
    }

    @Test func planReadsStakeAndMarketLive() throws {
        let lighter = try LoopbackHTTPServer(routes: ["/api/v1/orderBookDetails": .json(Self.lighterMarket)])
        let numerai = try LoopbackHTTPServer(handler: Self.numerai)
        let env = ["NMRPERP_OFFLINE": "0", "NMRPERP_LIGHTER_URL": lighter.baseURL, "NMRPERP_NUMERAI_URL": numerai.baseURL]
        let result = try CLI.run(
            ["hedge", "plan", "--model", "alpha_model", "--model", "beta_model", "--venue", "lighter", "--g", "3.06", "--json"],
            environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        #expect(json["stake"] as? Double == 20)
        #expect(json["price"] as? Double == 8.4603)
        #expect(json["margin_fraction"] as? Double == 0.2)
        #expect(lighter.requests.first?.query["market_id"] == "74")
        #expect(numerai.requests.count == 2)
    }

    @Test func stakeRecordBuildsATimeValueHistory() throws {
        let numerai = try LoopbackHTTPServer(handler: Self.numerai)
        let env = ["NMRPERP_OFFLINE": "0", "NMRPERP_NUMERAI_URL": numerai.baseURL]
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-staked-\(UUID().uuidString).csv").path
        for _ in 0..<2 {
            let result = try CLI.run(["stake", "--model", "alpha_model", "--model", "beta_model", "--record", file], environment: env)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0] == "time_ms,value")
        #expect(lines[1].hasSuffix(",20") && lines[2].hasSuffix(",20"), "\(lines)")
    }

    @Test func unknownModelIsOneClearLine() throws {
        let numerai = try LoopbackHTTPServer(handler: Self.numerai)
        let env = ["NMRPERP_OFFLINE": "0", "NMRPERP_NUMERAI_URL": numerai.baseURL]
        let result = try CLI.run(["stake", "--model", "no_such_model"], environment: env)
        #expect(result.status != 0)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("no_such_model"))
    }

    @Test func dataFetchPaginatesCachesAndWritesTheSourcesLayout() throws {
        // 2,500 one-minute bars served like Binance: startTime/endTime inclusive, at most `limit`.
        let start: Int64 = 1_700_000_040_000 / 60_000 * 60_000
        let server = try LoopbackHTTPServer { request in
            let from = Int64(request.query["startTime"] ?? "0") ?? 0
            let to = Int64(request.query["endTime"] ?? "0") ?? 0
            let limit = Int(request.query["limit"] ?? "500") ?? 500
            var rows: [String] = []
            var time = max(start, (from + 59_999) / 60_000 * 60_000)
            while time <= to && time < start + 2_500 * 60_000 && rows.count < limit {
                let price = "8.\(1000 + (time / 60_000) % 1000)"
                rows.append(#"[\#(time),"\#(price)","\#(price)","\#(price)","\#(price)","1.5",\#(time + 59_999),"0",1,"0","0","0"]"#)
                time += 60_000
            }
            return .json("[" + rows.joined(separator: ",") + "]")
        }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-home-\(UUID().uuidString)").path
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-fetch-\(UUID().uuidString).csv").path
        let env = ["NMRPERP_OFFLINE": "0", "NMRPERP_BINANCE_SPOT_URL": server.baseURL, "NMRPERP_HOME": home]
        let from = String(start)
        let to = String(start + 2_500 * 60_000)
        let first = try CLI.run(["data", "fetch", "--interval", "1m", "--from", from, "--to", to, "--out", out], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("wrote 2500 bars"))
        #expect(server.requests.count == 3)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "open_time_ms,open_time_utc,open,high,low,close,volume")
        #expect(lines.count == 2_501)
        // Cached: the same span again makes no request.
        let second = try CLI.run(
            ["data", "fetch", "--interval", "1m", "--from", from, "--to", to, "--out", out, "--force"], environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(server.requests.count == 3)
        // The written file loads back and checks clean.
        let check = try CLI.run(["data", "check", "--data", out, "--json"]).json()
        #expect(check["bars"] as? Int == 2_500)
        #expect(check["gap_count"] as? Int == 0)
    }
}
