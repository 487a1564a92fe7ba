import Foundation
import PerpModel
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nmrperp paper` on the execution layer (decision 0013): the live runtime on the simulated
/// venue, fed by the Binance USD-M twin's public market data on 127.0.0.1.
@Suite(.serialized) struct PaperExecutionCLITests {
    static let start = LiveTradingCLITests.start
    static let minute = LiveTradingCLITests.minute

    /// A private home with the fast configuration, pointed at `twin` (no keys: paper needs none).
    struct Session {
        let home: URL
        let config: String
        let environment: [String: String]

        init(twin: BinanceUSDMTwin) throws {
            home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-paper-x-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            config = home.appendingPathComponent("bot.yaml").path
            try LiveFixtures.fastConfig.write(toFile: config, atomically: true, encoding: .utf8)
            environment = ["NMRPERP_HOME": home.path, "NMRPERP_OFFLINE": "0", "NMRPERP_BINANCE_USDM_URL": twin.baseURL]
        }

        var runArguments: [String] {
            ["paper", "--config", config, "--name", "main", "--interval", "1m", "--warmup", "40m", "--max-polls", "1"]
        }

        func run(_ arguments: [String], timeout: Double = 60) throws -> CLIResult {
            try CLI.run(arguments, environment: environment, timeout: timeout)
        }

        func status() throws -> [String: Any] {
            let result = try run(["paper", "status", "--name", "main", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            return try result.json()
        }

        func journal() throws -> [[String: Any]] {
            let result = try run(["paper", "journal", "--name", "main"])
            #expect(result.status == 0, "\(result.stderr)")
            return try result.stdout.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
    }

    /// Issue 15: each poll's line carries the position's unrealised P&L, leverage, margin,
    /// liquidation price and next funding payment, and says how the feed is.
    @Test func theStatusLineShowsWhatMattersOnAnOpenPosition() async throws {
        try await offPool {
            let twin = try LiveTradingCLITests.twin(bars: LiveTradingCLITests.bars(count: 200), at: 40)
            defer { twin.shutdown() }
            let session = try Session(twin: twin)
            var checked = 0
            for minute in Int64(40)..<Int64(110) {
                twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 2_000)
                let result = try session.run(session.runArguments + ["--json"])
                #expect(result.status == 0, "\(result.stderr)")
                for line in result.stdout.split(separator: "\n") {
                    let poll = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    #expect(["live", "catching up"].contains(poll["feed"] as? String ?? ""), "\(poll)")
                    let position = poll["position"] as? Double ?? 0
                    guard position != 0, let entry = poll["entry_price"] as? Double, let equity = poll["equity"] as? Double else {
                        continue
                    }
                    let price = poll["mark"] as? Double ?? poll["close"] as? Double ?? 0
                    let unrealised = try #require(poll["unrealized_pnl"] as? Double, "\(poll)")
                    #expect(abs(unrealised - position * (price - entry)) < 1e-6, "\(poll)")
                    let leverage = try #require(poll["leverage"] as? Double)
                    #expect(abs(leverage - abs(position) * price / equity) < 1e-4, "\(poll)")
                    // Cross margin backs the position with the whole wallet: a long at low leverage
                    // has no liquidation price above zero; when there is one it is on the losing side.
                    if let liquidation = poll["liquidation_price"] as? Double {
                        #expect(position > 0 ? liquidation < entry : liquidation > entry, "\(poll)")
                    } else {
                        #expect(position > 0, "a short always has a liquidation price: \(poll)")
                    }
                    checked += 1
                }
            }
            #expect(checked > 0, "the fast configuration should hold a position at some poll")
        }
    }

    @Test func tradesOnTheSimulatedVenueAndNothingReachesTheExchange() throws {
        let twin = try LiveTradingCLITests.twin(bars: LiveTradingCLITests.bars(count: 200), at: 40)
        defer { twin.shutdown() }
        let session = try Session(twin: twin)
        var outputs = ""
        for minute in Int64(40)..<Int64(120) {
            twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 2_000)
            let result = try session.run(session.runArguments)
            #expect(result.status == 0, "\(result.stderr)")
            outputs += result.stderr
            if result.status != 0 { break }
        }
        let status = try session.status()
        #expect(status["engine"] as? String == "execution")
        #expect((status["entries"] as? Int ?? 0) >= 5, "the fast configuration should trade: \(status)")
        #expect(status["gate"] as? String == "open", "\(status)")
        let journal = try session.journal()
        let kinds = Set(journal.compactMap { $0["kind"] as? String })
        #expect(kinds.isSuperset(of: ["sent", "accepted", "filled", "reconciled"]), "\(kinds)")
        #expect(kinds.isDisjoint(with: ["illegal_transition", "position_mismatch", "halted", "unknown_outcome"]), "\(kinds)")
        #expect(journal.contains { ($0["client_id"] as? String)?.hasPrefix("np-") == true })
        #expect(outputs.contains("resumed"), "a later run resumes the session")
        #expect(outputs.contains("orders 2"), "the stop and target rest on the simulated venue: \(outputs.suffix(600))")
        // Reading a session twice gives the same answer (its state is the fold of its inputs).
        let again = try session.run(["paper", "status", "--name", "main", "--json"])
        let first = try session.run(["paper", "status", "--name", "main", "--json"])
        #expect(again.stdout == first.stdout)
        // The live gate reads this record: far from 30 days, so live trading is refused.
        let gate = try session.run(["live", "run", "--config", session.config, "--paper", "main", "--max-polls", "1"])
        #expect(gate.status != 0)
        #expect(gate.stderr.contains("paper session \"main\" has 0.") && gate.stderr.contains("of the 30 days"), "\(gate.stderr)")
        let out = session.home.appendingPathComponent("journal.jsonl").path
        let written = try session.run(["paper", "journal", "--name", "main", "--out", out])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count == journal.count)
        #expect(twin.orders.isEmpty && twin.algoOrders.isEmpty, "paper sent orders to the exchange")
    }

    /// SIGKILL at random points of a scripted paper session, restarted each time: the venue
    /// lives in the process, so every restart rebuilds it from the record. No order fills
    /// beyond its quantity, no trade is recorded twice, the position is the sum of the recorded
    /// trades, reconciliation never finds a mismatch, and trading is open at the end.
    @Test func killedAtRandomPointsTheRecordStaysWhole() async throws {
        let kills = LiveTradingCLITests.campaignKills / 4
        let twin = try LiveTradingCLITests.twin(bars: LiveTradingCLITests.bars(count: 40 + kills + 20), at: 40)
        defer { twin.shutdown() }
        let session = try Session(twin: twin)
        var random = SplitMix64(seed: 20_261_203)
        var killed = 0
        var minute: Int64 = 40
        var starts = 0
        twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 2_000)
        let span = try await offPool { [session] in
            try LiveTradingCLITests.runLength(session.runArguments, environment: session.environment)
        }
        while killed < kills && starts < kills * 4 {
            starts += 1
            if random.next() % 2 == 0 { minute += 1 }
            twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 2_000)
            let delay = 2 * span * Double(random.next() % 1000) / 1000
            if try await offPool({ [session] in
                try Self.runKilled(arguments: session.runArguments, environment: session.environment, after: delay)
            }) {
                killed += 1
            }
        }
        twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 10_000)
        let final = try session.run(session.runArguments)
        #expect(final.status == 0, "\(final.stderr)")
        let status = try session.status()
        #expect(status["gate"] as? String == "open", "\(status)")
        let journal = try session.journal()
        let kinds = Set(journal.compactMap { $0["kind"] as? String })
        #expect(kinds.isDisjoint(with: ["position_mismatch", "halted", "duplicate_fill", "missed_fill"]), "\(kinds)")
        // Every trade once; no order beyond its quantity; the position is their sum.
        let pattern = try NSRegularExpression(
            pattern: #"^trade (\S+): (long|short) ([0-9.]+) @ [0-9.]+, order filled ([0-9.]+) of ([0-9.]+)$"#)
        var trades = Set<String>()
        var position = Quantity.zero
        var orders = 0
        for row in journal where row["kind"] as? String == "filled" {
            let reason = row["reason"] as? String ?? ""
            guard let match = pattern.firstMatch(in: reason, range: NSRange(reason.startIndex..., in: reason)) else { continue }
            func group(_ index: Int) -> String { String(reason[Range(match.range(at: index), in: reason)!]) }
            #expect(trades.insert(group(1)).inserted, "trade \(group(1)) recorded twice")
            let quantity = try #require(Quantity(group(3)))
            position = group(2) == "long" ? position + quantity : position - quantity
            #expect(try #require(Quantity(group(4))) <= #require(Quantity(group(5))), "\(reason)")
            orders += 1
        }
        #expect(orders >= 4, "the campaign should trade")
        #expect((status["position"] as? Double) == position.doubleValue, "position \(status["position"] ?? "?") vs Σ trades \(position)")
        #expect(twin.orders.isEmpty && twin.algoOrders.isEmpty, "paper sent orders to the exchange")
        print(
            "paper crash campaign: \(killed) SIGKILLs (at 0–\(Int(2 * span * 1000)) ms) in \(starts) starts over \(minute - 40) bars; \(trades.count) trades, position \(position), entries \(status["entries"] ?? "?"), equity \(status["equity"] ?? "?")"
        )
    }

    /// Starts the command and sends SIGKILL after `delay` seconds unless it ended first; true
    /// when it was killed.
    static func runKilled(arguments: [String], environment extra: [String: String], after delay: Double) throws -> Bool {
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        var killed = false
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            killed = true
        }
        process.waitUntilExit()
        return killed || process.terminationReason == .uncaughtSignal
    }
}
