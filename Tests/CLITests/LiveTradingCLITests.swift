import Foundation
import PerpModel
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `nmrperp live` against the Binance USD-M twin on 127.0.0.1: a real process, real HTTP,
/// signatures checked by the twin, SIGKILL at random moments.
@Suite(.serialized) struct LiveTradingCLITests {
    /// A canary secret: it must appear in no output, log, database or journal.
    static let canary = Credentials(apiKey: "canary-key-4f1c9e", secret: "canary-secret-d83b5a27e1")
    typealias Credentials = BinanceUSDMTwin.Credentials

    static let fastConfig = LiveFixtures.fastConfig

    /// Twelve hours ago on the hour: the venue's clock must be within a day of this machine's
    /// (the live runtime refuses a venue clock further off).
    static let start = Timestamp(milliseconds: (Int64(Date().timeIntervalSince1970 * 1000) / 3_600_000 - 12) * 3_600_000)
    static let minute: Int64 = 60_000

    static func bars(count: Int) -> [Candle] { LiveFixtures.zigzag(from: start, count: count) }

    /// A private home with the configuration, and the environment pointing at `twin`.
    struct Session {
        let home: URL
        let config: String
        let environment: [String: String]

        init(twin: BinanceUSDMTwin, credentials: Credentials = LiveTradingCLITests.canary) throws {
            home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-live-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            config = home.appendingPathComponent("bot.yaml").path
            try LiveTradingCLITests.fastConfig.write(toFile: config, atomically: true, encoding: .utf8)
            environment = [
                "NMRPERP_HOME": home.path, "NMRPERP_OFFLINE": "0", "NMRPERP_BINANCE_USDM_URL": twin.baseURL,
                "NMRPERP_BINANCE_USDM_WS_URL": twin.streamBaseURL, "NMRPERP_BINANCE_API_KEY": credentials.apiKey,
                "NMRPERP_BINANCE_API_SECRET": credentials.secret, "NMRPERP_LOG_LEVEL": "debug",
            ]
        }

        func run(_ arguments: [String], timeout: Double = 60) throws -> CLIResult {
            try CLI.run(arguments, environment: environment, timeout: timeout)
        }

        var runArguments: [String] {
            ["live", "run", "--config", config, "--name", "main", "--skip-paper-gate", "--size-fraction", "0.5", "--max-polls", "1"]
        }

        func status() throws -> [String: Any] {
            let result = try run(["live", "status", "--name", "main", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            return try result.json()
        }

        /// Every byte the session left on disk (databases, WAL, journals, locks).
        func filesContain(_ needle: String) throws -> [String] {
            var found: [String] = []
            let files = FileManager.default.enumerator(at: home, includingPropertiesForKeys: nil)
            while let url = files?.nextObject() as? URL {
                guard let data = FileManager.default.contents(atPath: url.path) else { continue }
                if data.range(of: Data(needle.utf8)) != nil { found.append(url.lastPathComponent) }
            }
            return found
        }
    }

    static func twin(bars: [Candle], at minutes: Int64, credentials: Credentials = canary) throws -> BinanceUSDMTwin {
        try BinanceUSDMTwin(
            bars: bars, intervalMillis: minute, credentials: credentials,
            startMillis: start.milliseconds + minutes * minute + 2_000, wallet: Notional(10_000))
    }

    @Test func refusesWithoutThePaperRecordOrKeys() throws {
        let twin = try Self.twin(bars: Self.bars(count: 60), at: 40)
        defer { twin.shutdown() }
        let session = try Session(twin: twin)
        let noGate = try session.run(["live", "run", "--config", session.config, "--name", "main", "--max-polls", "1"])
        #expect(noGate.status != 0)
        #expect(noGate.stderr.contains("30-day paper record"))
        let missingPaper = try session.run([
            "live", "run", "--config", session.config, "--name", "main", "--paper", "nothing", "--max-polls", "1",
        ])
        #expect(missingPaper.status != 0)
        #expect(missingPaper.stderr.contains("no paper session"))
        var environment = session.environment
        environment["NMRPERP_BINANCE_API_SECRET"] = nil
        let oneKey = try CLI.run(session.runArguments, environment: environment)
        #expect(oneKey.status != 0)
        #expect(oneKey.stderr.split(separator: "\n").count <= 2, "\(oneKey.stderr)")
        #expect(twin.orders.isEmpty && twin.algoOrders.isEmpty)
    }

    /// Keys from `$NMRPERP_HOME/keys/binance.json`: accepted at mode 600, refused when others
    /// can read it, one clear line for a malformed file, and the secret never in the output.
    @Test func keyFileIsCheckedBeforeAnythingIsSent() throws {
        let twin = try Self.twin(bars: Self.bars(count: 60), at: 40)
        defer { twin.shutdown() }
        let session = try Session(twin: twin)
        var environment = session.environment
        environment["NMRPERP_BINANCE_API_KEY"] = nil
        environment["NMRPERP_BINANCE_API_SECRET"] = nil
        let keys = session.home.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        let file = keys.appendingPathComponent("binance.json").path
        let good = #"{"api_key": "\#(Self.canary.apiKey)", "api_secret": "\#(Self.canary.secret)"}"#
        let cases: [(text: String, mode: Int16, ok: Bool, says: String)] = [
            (good, 0o644, false, "chmod 600"),
            (#"{"api_key": "\#(Self.canary.apiKey)", "api_secret": "\#(Self.canary.secret)""#, 0o600, false, "binance.json"),
            (#"{"api_key": "\#(Self.canary.apiKey)"}"#, 0o600, false, "api_secret"),
            (good, 0o600, true, ""),
        ]
        for entry in cases {
            try entry.text.write(toFile: file, atomically: false, encoding: .utf8)
            #expect(chmod(file, mode_t(entry.mode)) == 0)
            let result = try CLI.run(session.runArguments, environment: environment)
            #expect((result.status == 0) == entry.ok, "\(entry.mode) \(result.stderr)")
            if !entry.ok {
                #expect(result.stderr.contains(entry.says), "\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count <= 2, "\(result.stderr)")
            }
            #expect(!(result.stdout + result.stderr).contains(Self.canary.secret))
        }
        #expect(twin.duplicateClientIDs.isEmpty)
    }

    @Test func tradesOnTheTwinAndTheKillSwitchFlattens() throws {
        let bars = Self.bars(count: 200)
        let twin = try Self.twin(bars: bars, at: 40)
        defer { twin.shutdown() }
        let session = try Session(twin: twin)
        var outputs = ""
        for minute in Int64(40)..<Int64(120) {
            twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 2_000)
            let result = try session.run(session.runArguments)
            #expect(result.status == 0, "\(result.stderr)")
            outputs += result.stdout + result.stderr
            if result.status != 0 { break }
        }
        #expect(twin.duplicateClientIDs.isEmpty)
        #expect(twin.orders.count + twin.algoOrders.count >= 6, "the fast configuration should trade")
        let status = try session.status()
        #expect(status["skipped_paper_gate"] as? Bool == true)
        // Open a position if none is open, then stop with flatten from another "terminal".
        let stop = try session.run(["live", "stop", "--name", "main", "--flatten", "--reason", "test"])
        #expect(stop.status == 0, "\(stop.stderr)")
        outputs += stop.stdout + stop.stderr
        #expect(twin.position.quantity.isZero)
        #expect(twin.orders.filter { ["NEW", "PARTIALLY_FILLED"].contains($0.status) }.isEmpty)
        #expect(twin.algoOrders.filter { $0.status == "NEW" }.isEmpty)
        let journal = try session.run(["live", "journal", "--name", "main"])
        #expect(journal.stdout.contains(#""event":"entry""#))
        #expect(journal.stdout.contains("test"))
        // The canary secret is nowhere.
        #expect(!outputs.contains(Self.canary.secret))
        #expect(!journal.stdout.contains(Self.canary.secret))
        #expect(try session.filesContain(Self.canary.secret).isEmpty)
        #expect(try session.filesContain(Self.canary.apiKey).isEmpty)
    }

    /// A trade the session did not make (someone traded the account by hand between two runs):
    /// the next run records it as a trade of an order it does not know, its position equals the
    /// venue's, and its own stop and target stay (the first run's orders keep their client-id
    /// tag: a later run never takes them for another client's and cancels them).
    @Test func aManualTradeIsRecordedAndOurOrdersStay() throws {
        let twin = try Self.twin(bars: Self.bars(count: 80), at: 40)
        defer { twin.shutdown() }
        let session = try Session(twin: twin)
        let first = try session.run(session.runArguments)
        #expect(first.status == 0, "\(first.stderr)")
        let ours = twin.algoOrders.filter { $0.status == "NEW" }.map(\.clientAlgoID)
        // A manual market order on the same account, signed like any client's.
        let query =
            "symbol=NMRUSDT&side=BUY&type=MARKET&quantity=50&newClientOrderId=manual-1&newOrderRespType=RESULT&recvWindow=5000&timestamp=\(twin.nowMillis)"
        let signature = BinanceUSDMTwin.signature(of: query, secret: Self.canary.secret)
        let url = try #require(URL(string: twin.baseURL + "/fapi/v1/order?" + query + "&signature=" + signature))
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue(Self.canary.apiKey, forHTTPHeaderField: "X-MBX-APIKEY")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var status = 0
        URLSession.shared.dataTask(with: request) { _, response, _ in
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 10)
        #expect(status == 200)
        let second = try session.run(session.runArguments)
        #expect(second.status == 0, "\(second.stderr)")
        let state = try session.status()["status"] as? [String: Any]
        #expect((state?["position"] as? Double) == twin.position.quantity.doubleValue, "\(String(describing: state))")
        let journal = try session.run(["live", "journal", "--name", "main"]).stdout
        #expect(!journal.contains("unknown_order_cancelled"), "a run cancelled the session's own orders")
        if !ours.isEmpty {
            #expect(journal.contains("for an order we do not know"))
            for id in ours { #expect(twin.algoOrders.first { $0.clientAlgoID == id }?.status != "CANCELED", "\(id) was cancelled") }
        }
        let tags = Set(
            (twin.orders.map(\.clientOrderID) + twin.algoOrders.map(\.clientAlgoID)).filter { $0.hasPrefix("np-") }.map {
                $0.split(separator: "-").dropFirst().first.map(String.init) ?? ""
            })
        #expect(tags.count <= 1, "client ids of one session carry one tag: \(tags)")
    }

    /// One process per session: a second `live run` is refused naming the first one's pid, and
    /// `live stop` from another terminal is carried out by the running process.
    @Test func oneProcessPerSessionAndStopFromAnotherTerminal() throws {
        let twin = try Self.twin(bars: Self.bars(count: 80), at: 40)
        defer { twin.shutdown() }
        let session = try Session(twin: twin)
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = Array(session.runArguments.dropLast(2))  // without --max-polls: until stopped
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in session.environment { environment[key] = value }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Wait (bounded) until it has written its first status.
        var started = false
        for _ in 0..<100 where !started {
            Thread.sleep(forTimeInterval: 0.1)
            let status = try? session.run(["live", "status", "--name", "main", "--json"])
            started = status.map { $0.status == 0 && $0.stdout.contains("\"gate\"") } ?? false
        }
        #expect(started, "the first process never reported a status")
        let second = try session.run(session.runArguments)
        #expect(second.status != 0)
        #expect(second.stderr.contains("already running") && second.stderr.contains("pid \(process.processIdentifier)"), "\(second.stderr)")
        let stop = try session.run(["live", "stop", "--name", "main", "--reason", "from another terminal"])
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(stop.stdout.contains("stopped by the running process"))
        for _ in 0..<100 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!process.isRunning, "the running process did not end after the stop")
        let status = try session.status()
        let state = status["status"] as? [String: Any]
        #expect((status["runs"] as? [[String: Any]])?.last?["status"] as? String == "stopped")
        #expect(state?["gate"] as? String == "halted", "\(String(describing: state))")
        // Halted until started again: the next run reconciles and trades.
        let again = try session.run(session.runArguments)
        #expect(again.status == 0, "\(again.stderr)")
        let resumed = try session.status()["status"] as? [String: Any]
        #expect(["open", "reducing"].contains(resumed?["gate"] as? String ?? ""), "\(String(describing: resumed))")
        #expect(try session.run(["live", "journal", "--name", "main"]).stdout.contains("started again after the operator's stop"))
    }

    /// The crash campaign (issue 12): the live process is killed with SIGKILL at random moments
    /// of a scripted session and started again each time. No order is doubled, no fill is lost,
    /// and the final position is the venue's.
    @Test(arguments: [CampaignFault.none, .dropAfterAccept, .serverErrorAfterAccept, .rateLimited, .banned, .streamTrouble])
    func killedAtRandomPointsNeverDoublesOrLoses(fault: CampaignFault) async throws {
        let kills = fault == .none ? Self.campaignKills : Self.campaignKills / 4
        let bars = Self.bars(count: 40 + kills + 20)
        let twin = try Self.twin(bars: bars, at: 40)
        defer { twin.shutdown() }
        let session = try Session(twin: twin)
        var random = SplitMix64(seed: 20_261_203 &+ UInt64(fault.rawValue))
        var killed = 0
        var outputs = ""
        var minute: Int64 = 40
        // Kill points spread over a whole run and beyond (twice as long as the first, uninterrupted
        // one took), so some runs are killed at any point and some finish.
        twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 2_000)
        let span = try await offPool { [session] in try Self.runLength(session.runArguments, environment: session.environment) }
        while killed < kills {
            // The venue's time moves one bar on about half the starts, so some restarts happen
            // inside a bar and find their own unresolved orders.
            if random.next() % 2 == 0 { minute += 1 }
            twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 2_000)
            fault.apply(to: twin, random: &random)
            let delay = 2 * span * Double(random.next() % 1000) / 1000
            let result = try await offPool { [session] in try Self.runKilled(session: session, after: delay) }
            outputs += result.output
            if result.killed { killed += 1 }
        }
        twin.updateFaults { $0 = TwinFaults() }
        // A clean run settles everything; then the record must equal the venue.
        twin.advance(toMillis: Self.start.milliseconds + (minute + 1) * Self.minute + 10_000)
        let final = try session.run(session.runArguments)
        #expect(final.status == 0, "\(final.stderr)")
        let status = try session.status()
        let state = status["status"] as? [String: Any] ?? [:]
        #expect(twin.duplicateClientIDs.isEmpty, "orders doubled: \(twin.duplicateClientIDs)")
        #expect((state["position"] as? Double) == twin.position.quantity.doubleValue, "position: \(state) vs \(twin.position)")
        #expect(state["trades_recorded"] as? Int == twin.trades.count, "fills: \(state) vs \(twin.trades.count) at the venue")
        #expect(twin.orders.count + twin.algoOrders.count >= 4, "the campaign should trade")
        print(
            "crash campaign (\(fault)): \(killed) SIGKILLs (at 0–\(Int(2 * span * 1000)) ms) over \(minute - 40) bars; venue: \(twin.orders.count) orders, \(twin.algoOrders.count) conditional orders, \(twin.trades.count) trades, duplicates \(twin.duplicateClientIDs.count); record: \(state["trades_recorded"] ?? "?") trades, position \(state["position"] ?? "?") (venue \(twin.position.quantity))"
        )
        #expect(!outputs.contains(Self.canary.secret))
        #expect(try session.filesContain(Self.canary.secret).isEmpty)
    }

    /// How long one uninterrupted run takes, in seconds (at least 0.2): a campaign draws its
    /// kill points from this span, so they fall anywhere in a run on a fast or a slow machine.
    static func runLength(_ arguments: [String], environment: [String: String]) throws -> Double {
        let started = Date()
        let result = try CLI.run(arguments, environment: environment)
        #expect(result.status == 0, "the campaign's first run: \(result.stderr)")
        return max(0.2, Date().timeIntervalSince(started))
    }

    static var campaignKills: Int {
        Int(ProcessInfo.processInfo.environment["NMRPERP_CRASH_KILLS"] ?? "") ?? 200
    }

    enum CampaignFault: Int, Sendable, CustomStringConvertible {
        case none, dropAfterAccept, serverErrorAfterAccept, rateLimited, streamTrouble, banned
        var description: String { ["none", "drop-after-accept", "5xx-after-accept", "429", "stream", "418"][rawValue] }

        func apply(to twin: BinanceUSDMTwin, random: inout SplitMix64) {
            let roll = random.next() % 3 == 0
            twin.updateFaults { faults in
                switch self {
                case .none: break
                case .dropAfterAccept: faults.dropResponseAfterAccept = roll ? 1 : 0
                case .serverErrorAfterAccept: faults.serverErrorAfterAccept = roll ? 1 : 0
                case .rateLimited:
                    faults.rateLimited = roll ? 1 : 0
                    faults.retryAfterSeconds = 1
                case .banned:
                    faults.banned = roll ? 1 : 0
                    faults.retryAfterSeconds = 1
                case .streamTrouble:
                    faults.streamRepeatNext = 2
                    faults.streamReorderNextPairs = 1
                    faults.streamDisconnectAfterEvents = roll ? 1 : nil
                }
            }
        }
    }

    /// Starts `live run` and sends SIGKILL after `delay` seconds unless it ended first.
    static func runKilled(session: Session, after delay: Double) throws -> (killed: Bool, output: String) {
        try CLI.runKilled(session.runArguments, environment: session.environment, after: delay)
    }
}
