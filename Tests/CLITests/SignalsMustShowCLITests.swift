import Foundation
import PerpModel
import TestSupport
import Testing

/// Issue 16's must-show: the year of 15-minute bars (2024-10 → 2025-10) backtested walk-forward
/// with the series the collectors' backfill wrote, beside the price-only run, and the review of
/// that run. No network here: the collectors read the sources' twin on loopback, which serves
/// the documented answer shapes with generated content (forum topics, Numerai's rounds on the
/// documented schedule, NMR transfers), so this shows the pipeline end to end, not an edge;
/// `nmrperp signals backfill` against the real sources makes the real series the same way.
@Suite(.serialized) struct SignalsMustShowCLITests {
    static let exchange = "0x28c6c06298d514db089934071355e5743bf21d60"
    static let whale = "0x" + String(repeating: "7", count: 40)
    /// 2024-10-01T00:00:00Z: block 0 of the twin's chain (a block every 12 s).
    static let genesis: Int64 = 1_727_740_800

    /// The twin with a year of generated history: two forum topics a day, the rounds of every
    /// Tuesday to Saturday, six NMR transfers a day to or from one exchange address.
    static func twin() throws -> SignalSourcesTwin {
        let twin = try SignalSourcesTwin(genesis: genesis)
        var random = SplitMix64(seed: 2024)
        let day: Int64 = 86_400_000
        let start = genesis * 1000
        let days = 390
        let titles = [
            "Great payouts this round", "Strong growth in staking", "Another burn, bad round", "Worried about the drawdown",
            "Tournament data update", "Question about the validation set", "Record stakes and bullish models", "Payout delays again",
        ]
        var topics: [SignalSourcesTwin.Topic] = []
        var rounds: [(Int, String)] = []
        var transfers: [SignalSourcesTwin.Transfer] = []
        for index in 0..<days {
            let midnight = start + Int64(index) * day
            for slot in 0..<2 {
                let title = titles[Int(random.next(below: UInt64(titles.count)))]
                topics.append(.init(created: midnight + Int64(slot) * day / 2 + 3_600_000, title: title, likes: Int(random.next(below: 6))))
            }
            // 2024-10-01 was a Tuesday: rounds open Tuesday to Saturday at 12:00 UTC.
            if index % 7 < 5 { rounds.append((800 + rounds.count, Timestamp(milliseconds: midnight + day / 2).iso8601)) }
            for _ in 0..<6 {
                let block = (Int64(index) * 86_400 + Int64(random.next(below: 86_400))) / 12
                let amount = String(500 + random.next(below: 19_500))
                let onto = random.next(below: 2) == 0
                transfers.append(.init(block: block, from: onto ? whale : exchange, to: onto ? exchange : whale, amount: amount))
            }
        }
        twin.setTopics(topics)
        twin.setRounds(rounds.reversed())
        twin.setTransfers(transfers.sorted { $0.block < $1.block })
        twin.setHead(Int64(days) * 7200)
        return twin
    }

    static func variants(_ result: CLIResult) throws -> [String: [String: Any]] {
        let variants = try #require(try result.json()["variants"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: variants.compactMap { variant in (variant["name"] as? String).map { ($0, variant) } })
    }

    @Test func theYearWithCollectedSeriesBesideThePriceOnlyRunAndItsReview() async throws {
        guard let data = CLI.shared("binance_usdm_NMRUSDT_15m_2024-10_2025-10.csv") else {
            print("skipped: ../shared/data/binance_usdm_NMRUSDT_15m_2024-10_2025-10.csv is absent")
            return
        }
        try await offPool {
            let twin = try Self.twin()
            defer { twin.stop() }
            let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-mustshow-\(UUID().uuidString)").path
            let signals = home + "/signals"
            try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
            let environment = [
                "NMRPERP_HOME": home, "NMRPERP_OFFLINE": "0", "NMRPERP_NUMERAI_URL": twin.numeraiURL, "NMRPERP_FORUM_URL": twin.baseURL,
            ]
            let backfill = try CLI.run(
                [
                    "signals", "backfill", "--from", "2024-10-02", "--source", "forum", "--source", "calendar", "--source", "ethereum",
                    "--out", signals, "--eth-rpc", twin.rpcURL, "--exchange", Self.exchange, "--eth-chunk", "10000",
                ],
                environment: environment, timeout: 600)
            #expect(backfill.status == 0, "\(backfill.stderr)")
            print("must-show backfill:\n\(backfill.stdout)\(backfill.stderr)")
            func rows(_ name: String) throws -> Int {
                try String(contentsOfFile: "\(signals)/\(name)", encoding: .utf8).split(separator: "\n").count - 1
            }
            // A day whose titles are all neutral has no score: most days have one.
            let sentimentRows = try rows("sentiment.csv")
            #expect(sentimentRows >= 300, "a day's mood for most days with topics: \(sentimentRows)")
            #expect(try rows("exchange_netflow.csv") >= 2000, "hours with a transfer to or from the exchange")
            #expect(try rows("calendar.csv") == 3 * 279, "open, staking close and close of 279 rounds")

            let priceOnly = try CLI.run(
                ["backtest", "--strategy", "nmr-bot", "--walk-forward", "--data", data, "--json"], environment: environment, timeout: 300)
            #expect(priceOnly.status == 0, "\(priceOnly.stderr)")
            let withSignals = try CLI.run(
                ["backtest", "--strategy", "nmr-bot", "--walk-forward", "--data", data, "--signals", signals, "--json"],
                environment: environment, timeout: 300)
            #expect(withSignals.status == 0, "\(withSignals.stderr)")
            let before = try Self.variants(priceOnly)
            let after = try Self.variants(withSignals)
            #expect(Set(before.keys) == ["rules", "signal model", "price model"] && Set(after.keys) == Set(before.keys))
            for name in ["rules", "signal model", "price model"] {
                print(
                    "must-show walk-forward \(name): price only return \(before[name]?["return"] ?? "?") trades \(before[name]?["trades"] ?? "?"); "
                        + "with the collected series return \(after[name]?["return"] ?? "?") trades \(after[name]?["trades"] ?? "?")")
            }
            // The price model reads no external series: the same either way. The rules and the
            // signal model read the flows and the sentiment: different runs.
            #expect(before["price model"]?["return"] as? Double == after["price model"]?["return"] as? Double)
            #expect(before["rules"]?["trades"] as? Int != after["rules"]?["trades"] as? Int)

            let rules = try CLI.run(
                ["backtest", "--strategy", "nmr-bot", "--data", data, "--signals", signals], environment: environment, timeout: 300)
            #expect(rules.status == 0, "\(rules.stderr)")
            let review = try CLI.run(
                ["bot", "review", "--run", "1", "--data", data, "--signals", signals, "--since", "30d", "--json"], environment: environment,
                timeout: 300)
            #expect(review.status == 0, "\(review.stderr)")
            let json = try review.json()
            let accuracy = try #require(json["signals"] as? [[String: Any]])
            for name in ["momentum", "mean_reversion", "exchange_flow", "sentiment"] {
                let row = try #require(accuracy.first { $0["name"] as? String == name })
                #expect((row["before_bars"] as? Int ?? 0) > 1000 && (row["window_bars"] as? Int ?? 0) > 100, "\(name): \(row)")
            }
            let text = try CLI.run(
                ["bot", "review", "--run", "1", "--data", data, "--signals", signals, "--since", "30d"], environment: environment,
                timeout: 300)
            #expect(text.status == 0, "\(text.stderr)")
            print("must-show review:\n\(text.stdout)")
        }
    }
}
