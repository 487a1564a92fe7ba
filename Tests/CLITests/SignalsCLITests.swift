import Foundation
import TestSupport
import Testing

/// Issue 16: `signals collect` and `signals backfill` against the sources' twin on loopback,
/// and the files they write read by `backtest --signals`.
@Suite(.serialized) struct SignalsCLITests {
    static let exchange = "0x28c6c06298d514db089934071355e5743bf21d60"
    static let whale = "0x" + String(repeating: "7", count: 40)

    static func twin() throws -> SignalSourcesTwin {
        let twin = try SignalSourcesTwin()
        let day: Int64 = 86_400_000
        twin.setModels([("a", "10.5"), ("b", nil), ("c", "1000")])
        // Forum topics every twelve hours up to now (a first run reads the last week).
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        twin.setTopics(
            (1...40).map { .init(created: now - Int64($0) * day / 2, title: $0 % 3 == 0 ? "Another burn, bad round" : "Great payouts") })
        twin.setTransfers([
            .init(block: 10, from: whale, to: exchange, amount: "100"), .init(block: 700, from: whale, to: exchange, amount: "9000"),
        ])
        twin.setHead(2 * 300 + 12 + 7200)  // a day and two hours of blocks
        return twin
    }

    static func environment(_ twin: SignalSourcesTwin) -> [String: String] {
        ["NMRPERP_OFFLINE": "0", "NMRPERP_NUMERAI_URL": twin.numeraiURL, "NMRPERP_FORUM_URL": twin.baseURL]
    }

    static func folder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-signals-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    @Test func collectWritesEverySourcesFilesAndASecondRunAddsNothingTwice() async throws {
        try await offPool {
            let twin = try Self.twin()
            defer { twin.stop() }
            let out = try Self.folder() + "/signals"
            let arguments = ["signals", "collect", "--once", "--out", out, "--eth-rpc", twin.rpcURL, "--exchange", Self.exchange, "--json"]
            let first = try CLI.run(arguments, environment: Self.environment(twin))
            #expect(first.status == 0, "\(first.stderr)")
            let json = try first.json()
            let collected = try #require(json["collected"] as? [[String: Any]])
            #expect(collected.map { $0["source"] as? String } == ["numerai", "calendar", "forum", "ethereum"])
            #expect(collected.allSatisfy { $0["ok"] as? Bool == true }, "\(collected)")
            for name in ["staked", "activity", "sentiment", "exchange_netflow", "large_transfers", "transfer_volume"] {
                #expect(FileManager.default.fileExists(atPath: "\(out)/\(name).csv"), "\(name).csv")
            }
            let staked = try String(contentsOfFile: out + "/staked.csv", encoding: .utf8)
            #expect(staked.hasPrefix("time_ms,value\n") && staked.hasSuffix(",1010.5\n"), "\(staked)")
            let files = try ["sentiment", "exchange_netflow"].map { try String(contentsOfFile: "\(out)/\($0).csv", encoding: .utf8) }
            // Again: the same rows exist already, nothing is written twice.
            let second = try CLI.run(arguments.filter { $0 != "--json" }, environment: Self.environment(twin))
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdout.contains("forum: wrote 0 rows to sentiment.csv"), "\(second.stdout)")
            #expect(try ["sentiment", "exchange_netflow"].map { try String(contentsOfFile: "\(out)/\($0).csv", encoding: .utf8) } == files)
        }
    }

    @Test func backfillMergesHistoryAndTheBacktestReadsIt() async throws {
        try await offPool {
            let twin = try Self.twin()
            defer { twin.stop() }
            let out = try Self.folder()
            let backfill = try CLI.run(
                [
                    "signals", "backfill", "--from", "2025-01-01", "--source", "forum", "--source", "ethereum", "--out", out, "--eth-rpc",
                    twin.rpcURL,
                ],
                environment: Self.environment(twin))
            #expect(backfill.status == 0, "\(backfill.stderr)")
            let sentiment = try String(contentsOfFile: out + "/sentiment.csv", encoding: .utf8).split(separator: "\n")
            #expect(sentiment.count >= 15, "twenty days of topics: \(sentiment)")
            #expect(!FileManager.default.fileExists(atPath: out + "/exchange_netflow.csv"), "no --exchange: no net flow")
            let volume = try String(contentsOfFile: out + "/transfer_volume.csv", encoding: .utf8).split(separator: "\n")
            #expect(volume.count == 27, "a header and 26 whole hours: \(volume.count)")
            // The bot's backtest takes the folder as its --signals.
            let data = PackageRoot.url().appendingPathComponent(
                "Sources/PerpShippedData/Resources/binance_usdm_NMRUSDT_30m_2024-10-23_2025-10-23.csv"
            ).path
            let backtest = try CLI.run(
                ["backtest", "--strategy", "nmr-bot", "--data", data, "--signals", out, "--from", "2024-12-01", "--to", "2025-02-01"],
                timeout: 120)
            #expect(backtest.status == 0, "\(backtest.stderr)")
        }
    }

    @Test func badInputIsRefusedInOneLineBeforeAnythingIsFetched() async throws {
        try await offPool {
            let twin = try Self.twin()
            defer { twin.stop() }
            let folder = try Self.folder()
            let cases: [([String], String)] = [
                (["signals", "collect", "--once", "--source", "forun"], "did you mean forum"),
                (["signals", "collect", "--once", "--source", "ethereum"], "--eth-rpc"),
                (["signals", "collect", "--once", "--eth-rpc", "file:///etc/passwd"], "http(s)"),
                (["signals", "collect", "--once", "--eth-rpc", twin.rpcURL, "--exchange", "0x12"], "not an Ethereum address"),
                (["signals", "collect", "--once", "--eth-rpc", twin.rpcURL, "--large", "-1"], "--large"),
                (["signals", "collect", "--once", "--eth-rpc", twin.rpcURL, "--confirmations", "99999999999999999999"], "confirmations"),
                (["signals", "collect", "--once", "--eth-rpc", twin.rpcURL, "--eth-chunk", "0"], "--eth-chunk"),
                (["signals", "collect", "--once", "--eth-rpc", twin.rpcURL, "--exchange-file", folder + "/missing"], "--exchange-file"),
                (["signals", "collect", "--once", "--out", "/nonexistent/a/b"], "does not exist"),
                (["signals", "backfill", "--from", "2999-01-01"], "in the past"),
                (["signals", "backfill", "--from", "yesterday"], "--from"),
            ]
            for (arguments, needle) in cases {
                let result = try CLI.run(
                    arguments + ["--out", folder + "/s"].filter { _ in !arguments.contains("--out") }, environment: Self.environment(twin))
                #expect(result.status != 0, "\(arguments) should fail")
                #expect(result.stderr.contains(needle), "\(arguments): \(result.stderr)")
                #expect(!result.stderr.contains("Fatal error"), "\(arguments) trapped: \(result.stderr)")
            }
            #expect(twin.requests.isEmpty, "nothing fetched for bad input")
            // A foreign file where a series goes is refused, and left as it was.
            try Data("a,b\n1,2\n".utf8).write(to: URL(fileURLWithPath: folder + "/sentiment.csv"))
            let foreign = try CLI.run(
                ["signals", "collect", "--once", "--source", "forum", "--out", folder], environment: Self.environment(twin))
            #expect(foreign.status != 0 && foreign.stderr.contains("sentiment.csv:1"), "\(foreign.stderr)")
            #expect(try String(contentsOfFile: folder + "/sentiment.csv", encoding: .utf8) == "a,b\n1,2\n")
        }
    }
}
