import Foundation
import PerpEngine
import PerpModel
import PerpSimulation
import PerpStore
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
        case "/fapi/v1/time":
            return .json(#"{"serverTime":\#(now)}"#)
        case "/fapi/v1/exchangeInfo":
            // Binance's shape (USD-M "Exchange Information"), trimmed to what the rules read.
            return .json(
                #"{"timezone":"UTC","serverTime":\#(now),"symbols":[{"symbol":"NMRUSDT","status":"TRADING","filters":[{"filterType":"PRICE_FILTER","minPrice":"0.010","maxPrice":"10000","tickSize":"0.010"},{"filterType":"LOT_SIZE","minQty":"0.1","maxQty":"100000","stepSize":"0.1"},{"filterType":"MARKET_LOT_SIZE","minQty":"0.1","maxQty":"5000","stepSize":"0.1"},{"filterType":"MIN_NOTIONAL","notional":"5"}]}]}"#
            )
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

    /// A session written by the earlier paper engine (its own store, before paper moved onto the
    /// execution layer) goes on with that engine: its record is read, continued and accepted
    /// by the live gate, never cut short by an upgrade.
    @Test func aSessionOfTheEarlierEngineKeepsItsRecord() throws {
        let server = try LoopbackHTTPServer(handler: Self.exchange)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-paper-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home + "/paper", withIntermediateDirectories: true)
        let env = ["NMRPERP_OFFLINE": "0", "NMRPERP_BINANCE_USDM_URL": server.baseURL, "NMRPERP_HOME": home]
        let interval = TimeSpan.minutes(15)
        var venue = VenueConfig()
        venue.lotSize = Quantity("0.1")!
        venue.maintenanceFraction = Rate("0.05")!
        let store = try PaperStore(path: home + "/paper/old.sqlite")
        let now = Int64(Date().timeIntervalSince1970 * 1000) / 900_000 * 900_000
        try store.create(
            PaperSessionInfo(
                name: "old", venue: "binance-usdm", symbol: "NMRUSDT", interval: interval, capital: Notional(10_000),
                configText: "", venueText: "margin=cross maintenance=0.05 taker=0.0005 maker=0.0002 lot=0.1 slippage=0",
                created: Timestamp(milliseconds: now - 3 * 3_600_000)))
        var session = PaperSession(config: BotConfig(), venue: venue, capital: Notional(10_000), interval: interval)
        var events: [PaperEvent] = []
        var journal: [JournalEntry] = []
        for index in 0..<8 {
            let open = Timestamp(milliseconds: now - Int64(10 - index) * 900_000)
            let event = PaperEvent.bar(
                Candle(
                    openTime: open, open: Price("20")!, high: Price("20.2")!, low: Price("19.9")!, close: Price("20.1")!,
                    volume: Quantity(1000)))
            events.append(event)
            journal += session.apply(event)
        }
        try store.append(events, journal: journal, received: Timestamp(milliseconds: now))

        let status = try CLI.run(["paper", "status", "--name", "old", "--json"], environment: env)
        #expect(status.status == 0, "\(status.stderr)")
        let before = try status.json()
        #expect(before["engine"] as? String == "backtester")
        #expect((before["live_days"] as? Double ?? 0) > 0)

        let run = try CLI.run(["paper", "--name", "old", "--interval", "15m", "--max-polls", "1"], environment: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("events replayed, journal checked"), "the earlier engine goes on: \(run.stderr)")
        let after = try CLI.run(["paper", "status", "--name", "old", "--json"], environment: env).json()
        #expect((after["live_days"] as? Double ?? 0) >= (before["live_days"] as? Double ?? 1), "the record goes on")

        let config = try CLI.temporaryFile("risk:\n  max_leverage: 2\n", suffix: ".yaml")
        let gate = try CLI.run(["live", "run", "--config", config, "--paper", "old", "--max-polls", "1"], environment: env)
        #expect(gate.status != 0)
        #expect(gate.stderr.contains("paper session \"old\" has") && gate.stderr.contains("of the 30 days"), "\(gate.stderr)")
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

    /// A `paper` session running in the background with --json, as a user would leave it.
    final class Background: @unchecked Sendable {
        let process = Process()
        private let out = Pipe()
        private let err = Pipe()
        private let lock = NSLock()
        private var stdout = Data()

        init(_ arguments: [String], environment: [String: String]) throws {
            process.executableURL = CLI.binary
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            for (key, value) in environment { env[key] = value }
            process.environment = env
            process.standardOutput = out
            process.standardError = err
            let handle = out.fileHandleForReading
            handle.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                guard let self, !data.isEmpty else { return }
                self.lock.withLock { self.stdout.append(data) }
            }
            try process.run()
        }

        var pid: Int32 { process.processIdentifier }

        /// The first complete stdout line, waiting at most `timeout` seconds for it.
        func firstLine(timeout: Double) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let text = lock.withLock { String(decoding: stdout, as: UTF8.self) }
                if let end = text.firstIndex(of: "\n") { return String(text[..<end]) }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return nil
        }

        /// Sends `signal` and waits (at most 30 s) for the process to end; its exit status.
        func stop(_ signal: Int32 = SIGTERM) -> Int32? {
            kill(pid, signal)
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            out.fileHandleForReading.readabilityHandler = nil
            return process.isRunning ? nil : process.terminationStatus
        }

        deinit { if process.isRunning { kill(pid, SIGKILL) } }
    }

    /// One owner per session; `--json` lines reach a pipe while the session runs; a kill -9
    /// leaves no stale lock (issue 11).
    @Test func aSecondPaperOnTheSameNameIsRefusedNamingTheFirst() throws {
        let server = try LoopbackHTTPServer(handler: Self.exchange)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-paper-\(UUID().uuidString)").path
        let env = ["NMRPERP_OFFLINE": "0", "NMRPERP_BINANCE_USDM_URL": server.baseURL, "NMRPERP_HOME": home]

        let first = try Background(["paper", "--interval", "15m", "--warmup", "2h", "--json"], environment: env)
        // The first poll's line arrives while the process runs (it then sleeps until the next
        // bar closes): written and flushed per poll, not held in a buffer until exit.
        let line = try #require(first.firstLine(timeout: 60), "no --json line while the session runs")
        let poll = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(poll["state"] as? String == "active")
        #expect(first.process.isRunning)

        let second = try CLI.run(["paper", "--interval", "15m", "--max-polls", "1"], environment: env)
        #expect(second.status == 1)
        #expect(second.stderr.contains("paper session \"default\" is already running (pid \(first.pid)"), "\(second.stderr)")
        #expect(second.stderr.contains("stop it first"), "\(second.stderr)")
        #expect(second.stderr.split(separator: "\n").count == 1, "one line: \(second.stderr)")

        // Readers need no lock, and say who runs the session.
        let status = try CLI.run(["paper", "status"], environment: env)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("running (pid \(first.pid)"), "\(status.stdout)")
        let json = try CLI.run(["paper", "status", "--json"], environment: env).json()
        #expect(json["running"] as? Bool == true)
        let journal = try CLI.run(["paper", "journal"], environment: env)
        #expect(journal.status == 0, "\(journal.stderr)")

        #expect(first.stop(SIGTERM) == 0)
        let after = try CLI.run(["paper", "status"], environment: env)
        #expect(after.stdout.contains("not running"), "\(after.stdout)")

        // kill -9 leaves the lock file behind but not the lock.
        let third = try Background(["paper", "--interval", "15m", "--json"], environment: env)
        _ = try #require(third.firstLine(timeout: 60))
        _ = third.stop(SIGKILL)
        let fourth = try CLI.run(["paper", "--interval", "15m", "--max-polls", "1"], environment: env)
        #expect(fourth.status == 0, "\(fourth.stderr)")
        #expect(fourth.stderr.contains("resumed"), "\(fourth.stderr)")
    }

    /// `paper status` and `paper journal` run the checks `paper` runs (issue 11).
    @Test func statusAndJournalSayWhenASessionIsUnusable() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-paper-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home + "/paper", withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: home + "/paper/broken.sqlite"))
        try Data().write(to: URL(fileURLWithPath: home + "/paper/empty.sqlite"))
        for command in [
            ["paper", "status", "--name", "broken"], ["paper", "journal", "--name", "broken"], ["paper", "status", "--name", "empty"],
        ] {
            let result = try CLI.run(command, environment: ["NMRPERP_HOME": home])
            #expect(result.status == 1, "\(command)")
            #expect(result.stderr.contains("paper session \"\(command[3])\" is unusable"), "\(result.stderr)")
            #expect(result.stderr.contains("--name"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        let empty = try FileManager.default.attributesOfItem(atPath: home + "/paper/empty.sqlite")[.size] as? Int
        #expect(empty == 0, "a reader writes nothing into a file that is not a session")
    }
}
