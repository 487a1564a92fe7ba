import Foundation
import TestSupport
import Testing

/// Issue 15, "Data": `data fetch --market usdm` fetches the perp's bars, mark-price bars and
/// funding for one span in one go, and answers from the cache offline when it holds the span.
@Suite struct DataFetchUSDMCLITests {
    /// 2025-01-01T00:00Z.
    static let start: Int64 = 1_735_689_600_000
    static let hour: Int64 = 3_600_000

    /// Binance USD-M as documented: klines and mark-price klines on open times with
    /// startTime/endTime inclusive and `limit`; funding every 8 h.
    static func server() throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { request in
            let from = Int64(request.query["startTime"] ?? "0") ?? 0
            let to = Int64(request.query["endTime"] ?? "0") ?? 0
            let limit = Int(request.query["limit"] ?? "500") ?? 500
            var rows: [String] = []
            switch request.path {
            case "/fapi/v1/klines", "/fapi/v1/markPriceKlines":
                let mark = request.path.hasSuffix("markPriceKlines")
                var time = max(start, (from + hour - 1) / hour * hour)
                while time <= to && time < start + 72 * hour && rows.count < limit {
                    let index = (time - start) / hour
                    let price = mark ? "9.\(500 + index)" : "9.\(100 + index)"
                    let volume = mark ? "0" : "12.5"
                    rows.append(
                        #"[\#(time),"\#(price)","\#(price)","\#(price)","\#(price)","\#(volume)",\#(time + hour - 1),"0",1,"0","0","0"]"#)
                    time += hour
                }
            case "/fapi/v1/fundingRate":
                var time = max(start, (from + 8 * hour - 1) / (8 * hour) * (8 * hour))
                while time <= to && time < start + 72 * hour && rows.count < limit {
                    rows.append(#"{"symbol":"NMRUSDT","fundingTime":\#(time),"fundingRate":"0.00010000","markPrice":"9.5"}"#)
                    time += 8 * hour
                }
            default:
                return .json(#"{"code":-1121,"msg":"Invalid symbol."}"#, status: 400)
            }
            return .json("[" + rows.joined(separator: ",") + "]")
        }
    }

    @Test func thePerpItsMarkAndItsFundingInOneGoThenFromTheCacheOffline() async throws {
        try await offPool {
            let server = try Self.server()
            defer { server.stop() }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-usdm-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let out = folder + "/nmr.csv"
            let online = ["NMRPERP_OFFLINE": "0", "NMRPERP_BINANCE_USDM_URL": server.baseURL, "NMRPERP_HOME": folder + "/home"]
            let arguments = [
                "data", "fetch", "--market", "usdm", "--interval", "1h", "--from", "2025-01-01", "--to", "2025-01-03", "--out", out,
            ]
            let first = try CLI.run(arguments, environment: online)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("wrote 48 bars to \(out)"), "\(first.stdout)")
            let bars = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            let marks = try String(contentsOfFile: folder + "/nmr.mark.csv", encoding: .utf8).split(separator: "\n")
            let funding = try String(contentsOfFile: folder + "/nmr.funding.csv", encoding: .utf8).split(separator: "\n")
            #expect(bars.count == 49 && marks.count == 49 && funding.count == 7, "\(bars.count) \(marks.count) \(funding.count)")
            #expect(bars[1] == "1735689600000,2025-01-01T00:00:00Z,9.1,9.1,9.1,9.1,12.5")
            #expect(marks[1].hasPrefix("1735689600000,2025-01-01T00:00:00Z,9.5,"))
            #expect(funding[1] == "1735689600000,2025-01-01T00:00:00Z,0.0001,8")
            let paths = Set(server.requests.map(\.path))
            #expect(paths == ["/fapi/v1/klines", "/fapi/v1/markPriceKlines", "/fapi/v1/fundingRate"], "\(paths)")
            // The files load back as what they are.
            #expect(try CLI.run(["data", "check", "--data", folder + "/nmr.funding.csv", "--json"]).json()["kind"] as? String == "funding")

            // Offline, the same span comes from the cache: no request, the same files.
            let requests = server.requests.count
            var offline = online
            offline["NMRPERP_OFFLINE"] = "1"
            let again = try CLI.run(arguments + ["--force"], environment: offline)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("answered from the cache"))
            #expect(server.requests.count == requests)
            #expect(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n") == bars)
            // --json says what was written, in the README's vocabulary.
            let described = try CLI.run(arguments + ["--force", "--json"], environment: offline)
            let json = try described.json()
            #expect(json["bars"] as? Int == 48 && json["mark_bars"] as? Int == 48 && json["funding_settlements"] as? Int == 6, "\(json)")
            #expect(json["start"] as? String == "2025-01-01T00:00:00Z" && json["end"] as? String == "2025-01-02T23:00:00Z", "\(json)")
            #expect(json["file"] as? String == out && json["offline"] as? Bool == true, "\(json)")
            // A span the cache lacks is refused offline, saying what is missing.
            let beyond = try CLI.run(
                [
                    "data", "fetch", "--market", "usdm", "--interval", "1h", "--from", "2025-01-01", "--to", "2025-01-04", "--out",
                    folder + "/more.csv",
                ],
                environment: offline)
            BoundsCLITests.expectOneLine(beyond, "is not all in the cache (missing 2025-01-03T00:00:00Z to 2025-01-04T00:00:00Z)")
            #expect(beyond.stderr.contains("NMRPERP_OFFLINE is set"))
        }
    }

    @Test func spotHasNoMarkOrFundingFile() throws {
        BoundsCLITests.expectOneLine(
            try CLI.run(["data", "fetch", "--from", "2025-01-01", "--out", "/tmp/never.csv", "--mark-out", "/tmp/never-mark.csv"]),
            "--mark-out belongs to --market usdm")
        BoundsCLITests.expectOneLine(
            try CLI.run(["data", "fetch", "--market", "coinbase", "--from", "2025-01-01", "--out", "/tmp/never.csv"]),
            "--market must be spot or usdm")
    }
}
