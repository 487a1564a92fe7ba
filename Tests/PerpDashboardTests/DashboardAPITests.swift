import Foundation
import Logging
import PerpConfig
import PerpDashboard
import PerpEngine
import PerpExecution
import PerpHedge
import PerpLive
import PerpModel
import PerpStore
import PerpVenues
import Synchronization
import TestSupport
import Testing

/// A `$NMRPERP_HOME` with sessions written by the real runtime, a corrupt one, and a dashboard
/// serving it on 127.0.0.1.
final class DashboardRig: Sendable {
    let home: String
    let dashboard: Dashboard
    let port: Int
    let task: Task<Void, any Error>

    static let bars = SyntheticSession.bars(count: 900)

    init(readOnly: Bool = false, host: String = "127.0.0.1", prepare: (String) async throws -> Void = { _ in }) async throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-dashboard-\(UUID().uuidString)").path
        for folder in ["paper", "live", "hedge"] {
            try FileManager.default.createDirectory(atPath: home + "/" + folder, withIntermediateDirectories: true)
        }
        _ = try await SyntheticSession.write(path: home + "/paper/main.sqlite", name: "main", bars: Self.bars)
        try await Self.writeHedge(path: home + "/hedge/stake.sqlite")
        try Self.writeBacktest(path: home + "/journal.sqlite")
        try await prepare(home)
        try Data("this is not a database at all, just text that is long enough".utf8).write(
            to: URL(fileURLWithPath: home + "/live/broken.sqlite"))
        var options = DashboardOptions()
        options.port = 0
        options.host = host
        options.readOnly = readOnly
        options.pollEvery = .milliseconds(100)
        let dashboard = Dashboard(
            home: home, options: options, clock: { Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        self.dashboard = dashboard
        let bound = Mutex(0)
        task = Task { try await dashboard.run { port in bound.withLock { $0 = port } } }
        var waited = 0
        while bound.withLock({ $0 }) == 0 && waited < 200 {
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
        }
        port = bound.withLock { $0 }
        guard port != 0 else { throw RawClient.Failure(message: "the dashboard did not start") }
    }

    /// A hedge session written by the real ``HedgeRunner`` against the Lighter twin: a 10 NMR
    /// stake hedged with k·q·P of collateral.
    static func writeHedge(path: String) async throws {
        let twin = try LighterTwin(collateral: Notional(2000), startMillis: 1_790_000_000_000)
        defer { twin.shutdown() }
        var endpoints = LighterEndpoints.mainnet
        endpoints.rest = URL(string: twin.baseURL)!
        let clock: @Sendable () -> Int64 = { twin.clock }
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let trader = LighterTrader(
            endpoints: endpoints, market: 74, accountIndex: twin.accountIndex, apiKeyIndex: 4,
            signer: TwinLighterSigner(accountIndex: twin.accountIndex, apiKeyIndex: 4, clock: clock),
            transport: URLSessionTransport(timeout: 5), clock: clock, logger: quiet,
            sleeper: { duration in twin.advance(toMillis: twin.clock + Int64(duration.components.seconds * 1000)) })
        let rules = try await trader.rules()
        let settings = HedgeSettings(
            collateralMultiple: Rate("2.7332")!, maintenanceFraction: Rate("0.2")!, rebalanceEvery: .days(30), drift: Rate("0.05")!,
            warnAt: Rate("0.5")!, rules: rules, maxOrder: Quantity(1000), sessionTag: "dashbrd1")
        let config = HedgeSessionConfig(
            settings: settings, models: ["model_a"], tournament: "classic", leverage: 3, collateralSource: "test")
        var runner = HedgeRunner(
            name: "stake", config: config, store: try LiveStore(path: path), venue: trader, venueName: "lighter",
            stakeSource: { Quantity(10) }, clock: { Timestamp(milliseconds: twin.clock) }, logger: quiet, notifier: nil, dryRun: false,
            output: { _ in }, sleeper: { duration in twin.advance(toMillis: twin.clock + Int64(duration.components.seconds * 1000) + 1) })
        _ = try await runner.start(pid: 1)
        _ = try await runner.poll()
        await runner.finish(status: "stopped")
    }

    /// A backtest's journal: an entry and its exit.
    static func writeBacktest(path: String) throws {
        let store = try JournalStore(path: path)
        let start = Timestamp(milliseconds: 1_735_689_600_000)
        _ = try store.appendNewRun(
            [
                JournalEntry(time: start, event: .entry, side: .long, price: Price(8), quantity: Quantity(10), reason: "momentum"),
                JournalEntry(
                    time: start + .hours(2), event: .target, side: .long, price: Price("8.4")!, quantity: Quantity(10), reason: "target",
                    fee: Notional("0.05")!, pnl: Notional("3.95")!),
            ], base: "backtest test")
    }

    /// A GET on a Dispatch thread: a blocking socket must not hold one of the cooperative pool's
    /// few threads, which the server needs to answer it.
    func get(_ path: String, host: String = "127.0.0.1", headers: [(String, String)] = []) async throws -> (
        status: Int, headers: [String: String], body: String
    ) {
        let port = self.port
        return try await offPool { try RawClient.request(port: port, path: path, host: host, headers: headers) }
    }

    func post(_ path: String, headers: [(String, String)], body: String) async throws -> (
        status: Int, headers: [String: String], body: String
    ) {
        let port = self.port
        return try await offPool { try RawClient.request(port: port, method: "POST", path: path, headers: headers, body: body) }
    }

    func json(_ path: String) async throws -> Any {
        let reply = try await get(path)
        guard reply.status == 200 else { throw RawClient.Failure(message: "\(path): \(reply.status) \(reply.body)") }
        return try JSONSerialization.jsonObject(with: Data(reply.body.utf8))
    }

    func shutdown() {
        task.cancel()
        try? FileManager.default.removeItem(atPath: home)
    }
}

@Suite("Dashboard API over session files", .serialized)
struct DashboardAPITests {
    @Test func listsEverySessionAndShowsAnUnreadableOneWithItsReason() async throws {
        let rig = try await DashboardRig()
        defer { rig.shutdown() }
        let list = try #require(try await rig.json("/api/sessions") as? [[String: Any]])
        let main = try #require(list.first { $0["id"] as? String == "paper/main" })
        #expect(main["readable"] as? Bool == true)
        #expect(main["state"] as? String == "active")
        let broken = try #require(list.first { $0["id"] as? String == "live/broken" })
        #expect(broken["readable"] as? Bool == false)
        #expect((broken["problem"] as? String)?.contains("not an SQLite database") == true, "\(broken)")
        // The rest still works with a broken file beside it.
        #expect(try await rig.get("/api/sessions/paper/main/equity").status == 200)
    }

    @Test func theNumbersAreTheSessionsOwn() async throws {
        let rig = try await DashboardRig()
        defer { rig.shutdown() }
        // The session replayed the way `paper status` does.
        let store = try LiveStore(existing: rig.home + "/paper/main.sqlite")
        let info = try #require(try store.info())
        let (bot, _) = try BotConfigFile.parse(yaml: info.configText, file: "stored")
        let session = try LiveTrader.replay(store: store, bot: bot, rules: SyntheticSession.rules, sizeFraction: info.sizeFraction)
        let close = try #require(session.lastBar?.close)
        let equity = try #require(try await rig.json("/api/sessions/paper/main/equity") as? [String: Any])
        #expect(equity["count"] as? Int == session.bars)
        #expect(Notional((equity["equity"] as? NSNumber)?.stringValue ?? "") == session.equity(at: close), "\(equity["equity"] ?? "nil")")
        #expect(Notional((equity["realized_pnl"] as? NSNumber)?.stringValue ?? "") == session.engine.realizedPnL)
        #expect(Notional((equity["fees"] as? NSNumber)?.stringValue ?? "") == session.engine.fees)
        let points = try #require(equity["points"] as? [[Any]])
        #expect(points.count <= 2 * 4 * 250 && !points.isEmpty)
        // Thinned for the chart without losing the extremes: the lowest and highest equity and
        // the deepest drawdown of the full series (all 900 points, `?points=5000`) are drawn.
        let full = try #require(try await rig.json("/api/sessions/paper/main/equity?points=5000") as? [String: Any])
        let fullPoints = try #require(full["points"] as? [[Any]])
        #expect(fullPoints.count == session.bars)
        let thin = try #require(try await rig.json("/api/sessions/paper/main/equity?points=40") as? [String: Any])
        let thinPoints = try #require(thin["points"] as? [[Any]])
        #expect(thinPoints.count < fullPoints.count / 4)
        func column(_ rows: [[Any]], _ index: Int) -> [Double] { rows.map { ($0[index] as? NSNumber)?.doubleValue ?? .nan } }
        #expect(column(thinPoints, 1).min() == column(fullPoints, 1).min())
        #expect(column(thinPoints, 1).max() == column(fullPoints, 1).max())
        #expect(column(thinPoints, 6).min() == column(fullPoints, 6).min())
        let risk = try #require(try await rig.json("/api/sessions/paper/main/risk") as? [String: Any])
        #expect(risk["state"] as? String == session.kernel.state.name)
        // These bars swing 0.4 % a minute: the high-volatility caps (2x, 25 %) are in force.
        let regime = (risk["regime"] as? [String: Any])?["name"] as? String
        #expect(regime == (session.kernel.regime.highVolatility ? "high volatility" : "normal"))
        #expect((risk["leverage"] as? [String: Any])?["cap"] as? NSNumber == (session.kernel.regime.highVolatility ? 2 : 3))
        #expect((risk["paper_record"] as? [String: Any])?["required_days"] as? Int == 30)
        let funding = try #require(try await rig.json("/api/sessions/paper/main/funding") as? [String: Any])
        #expect(funding["interval"] as? String == "8h", "\(funding)")
        let journal = try #require(try await rig.json("/api/sessions/paper/main/journal?limit=5") as? [String: Any])
        let rows = try #require(journal["rows"] as? [[String: Any]])
        let all = try store.journal()
        #expect(rows.count == min(5, all.count))
        #expect(rows.first?["seq"] as? Int64 == all.last?.seq || (rows.first?["seq"] as? Int).map(Int64.init) == all.last?.seq)
        let entries = try #require(try await rig.json("/api/sessions/paper/main/journal?events=entry") as? [String: Any])
        let entryRows = try #require(entries["rows"] as? [[String: Any]])
        #expect(!entryRows.isEmpty)
        #expect(entryRows.allSatisfy { $0["event"] as? String == "entry" })
        // A bare name resolves when only one session has it.
        #expect(try await rig.get("/api/sessions/main/positions").status == 200)
        #expect(try await rig.get("/api/sessions/paper/nothing/equity").status == 404)
        #expect(try await rig.get("/api/sessions/paper/main/nonsense").status == 404)
    }

    @Test func aHedgeSessionShowsStakeShortCollateralAndTheWarningPrice() async throws {
        let rig = try await DashboardRig()
        defer { rig.shutdown() }
        let list = try #require(try await rig.json("/api/sessions") as? [[String: Any]])
        let hedge = try #require(list.first { $0["id"] as? String == "hedge/stake" })
        #expect(hedge["readable"] as? Bool == true, "\(hedge)")
        #expect((hedge["stake"] as? NSNumber)?.doubleValue == 10)
        #expect((hedge["short"] as? NSNumber)?.doubleValue == 10)
        let detail = try #require(try await rig.json("/api/sessions/hedge/stake/hedge") as? [String: Any])
        let status = try #require(detail["status"] as? [String: Any])
        let price = try #require((status["price"] as? NSNumber)?.doubleValue)
        let collateral = try #require((status["collateral"] as? NSNumber)?.doubleValue)
        // k·q·P = 2.7332 × 10 × P, rounded up to the micro-dollar.
        #expect(abs(collateral - 27.332 * price) < 0.01, "collateral \(collateral) at \(price)")
        #expect(status["warning_price"] is NSNumber)
        let equity = try #require(try await rig.json("/api/sessions/hedge/stake/equity") as? [String: Any])
        #expect((equity["columns"] as? [String])?.contains("required_collateral") == true)
        #expect((equity["count"] as? Int ?? 0) >= 1)
        let risk = try #require(try await rig.json("/api/sessions/hedge/stake/risk") as? [String: Any])
        #expect(risk["warning_price"] is NSNumber)
    }

    @Test func aBacktestShowsItsRealisedPnLAndJournal() async throws {
        let rig = try await DashboardRig()
        defer { rig.shutdown() }
        let list = try #require(try await rig.json("/api/sessions") as? [[String: Any]])
        let backtest = try #require(list.first { $0["kind"] as? String == "backtest" })
        #expect((backtest["realized_pnl"] as? NSNumber)?.doubleValue == 3.95)
        let id = try #require(backtest["name"] as? String)
        let encoded = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id
        let journal = try #require(try await rig.json("/api/sessions/backtest/\(encoded)/journal") as? [String: Any])
        let rows = try #require(journal["rows"] as? [[String: Any]])
        #expect(rows.map { $0["event"] as? String } == ["target", "entry"], "newest first")
        #expect(try await rig.get("/api/sessions/backtest/\(encoded)/risk").status == 404)
    }

    @Test func aLockedFileShowsAsUnreadableAndTheRestWorks() async throws {
        // Another process holds an exclusive lock on a session file before the dashboard starts.
        let holder = Process()
        let out = Pipe()
        let rig = try await DashboardRig { home in
            let path = home + "/paper/locked.sqlite"
            _ = try await SyntheticSession.write(path: path, name: "locked", bars: SyntheticSession.bars(count: 30))
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            holder.arguments = [
                "python3", "-c",
                "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE'); c.execute('SELECT COUNT(*) FROM live_input').fetchall(); print('locked', flush=True); time.sleep(30)",
                path,
            ]
            holder.standardOutput = out
            try holder.run()
            #expect(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))
        }
        defer {
            holder.terminate()
            rig.shutdown()
        }
        let list = try #require(try await rig.json("/api/sessions") as? [[String: Any]])
        let locked = try #require(list.first { $0["id"] as? String == "paper/locked" })
        #expect(locked["readable"] as? Bool == false)
        #expect((locked["problem"] as? String)?.contains("locked") == true, "\(locked)")
        let started = Date()
        #expect(try await rig.get("/api/sessions/paper/main/equity").status == 200)
        #expect(try await rig.get("/api/sessions").status == 200)
        #expect(Date().timeIntervalSince(started) < 2, "a locked file does not hold up the others")
    }

    @Test func aDeletedFileStaysListedAsGone() async throws {
        let rig = try await DashboardRig()
        defer { rig.shutdown() }
        let path = rig.home + "/paper/brief.sqlite"
        _ = try await SyntheticSession.write(path: path, name: "brief", bars: SyntheticSession.bars(count: 30))
        func brief() async throws -> [String: Any]? {
            try (await rig.json("/api/sessions") as? [[String: Any]])?.first { $0["id"] as? String == "paper/brief" }
        }
        for _ in 0..<40 where try await brief()?["readable"] as? Bool != true { try await Task.sleep(for: .milliseconds(50)) }
        #expect(try await brief()?["readable"] as? Bool == true)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        for _ in 0..<40 where try await brief()?["readable"] as? Bool != false { try await Task.sleep(for: .milliseconds(50)) }
        let gone = try #require(try await brief())
        #expect(gone["readable"] as? Bool == false)
        #expect((gone["problem"] as? String)?.contains("the file is gone") == true, "\(gone)")
    }

    /// A live session (Binance's venue, not the paper venue's settings) is replayed with the
    /// rules its status stores.
    @Test func aLiveSessionIsReplayedWithTheRulesItsStatusStores() async throws {
        let rig = try await DashboardRig { home in
            let path = home + "/live/real.sqlite"
            _ = try await SyntheticSession.write(path: path, name: "real", bars: SyntheticSession.bars(count: 300))
            let rename = Process()
            rename.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            rename.arguments = [
                "python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE live_session SET venue='binance-usdm'\"); c.commit()",
                path,
            ]
            try rename.run()
            rename.waitUntilExit()
            #expect(rename.terminationStatus == 0)
        }
        defer { rig.shutdown() }
        let list = try #require(try await rig.json("/api/sessions") as? [[String: Any]])
        let live = try #require(list.first { $0["id"] as? String == "live/real" })
        #expect(live["readable"] as? Bool == true, "\(live)")
        #expect(live["venue"] as? String == "binance-usdm")
        let equity = try #require(try await rig.json("/api/sessions/live/real/equity") as? [String: Any])
        let store = try LiveStore(existing: rig.home + "/live/real.sqlite")
        let info = try #require(try store.info())
        let (bot, _) = try BotConfigFile.parse(yaml: info.configText, file: "stored")
        let session = try LiveTrader.replay(store: store, bot: bot, rules: SyntheticSession.rules, sizeFraction: info.sizeFraction)
        #expect(equity["count"] as? Int == session.bars, "\(equity["count"] ?? "nil") vs \(session.bars)")
        let close = try #require(session.lastBar?.close)
        #expect(Notional((equity["equity"] as? NSNumber)?.stringValue ?? "") == session.equity(at: close))
        #expect(equity["problem"] is NSNull)
    }

    @Test func metricsAreInPrometheusTextFormat() async throws {
        let rig = try await DashboardRig()
        defer { rig.shutdown() }
        let reply = try await rig.get("/metrics")
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(reply.body.contains("# TYPE nmrperp_equity_usd gauge"), "\(reply.body.prefix(400))")
        #expect(reply.body.contains("nmrperp_equity_usd{session=\"paper/main\"}"))
        #expect(reply.body.contains("nmrperp_session_readable{session=\"live/broken\"} 0"))
        #expect(reply.body.contains("nmrperp_risk_state{session=\"paper/main\",state=\"active\"} 1"))
    }

    @Test func foreignHostsMissingTokensAndOtherOriginsAreRefused() async throws {
        let rig = try await DashboardRig()
        defer { rig.shutdown() }
        // DNS rebinding: a page on evil.example whose name resolves to 127.0.0.1.
        let rebound = try await rig.get("/api/sessions", host: "evil.example:\(rig.port)")
        #expect(rebound.status == 403)
        #expect(rebound.body.contains("DNS rebinding"))
        #expect(try await rig.get("/api/sessions", host: "localhost:\(rig.port)").status == 200)
        let page = try await rig.get("/")
        #expect(page.status == 200)
        #expect(page.headers["x-frame-options"] == "DENY")
        #expect(page.headers["content-security-policy"]?.contains("frame-ancestors 'none'") == true)
        #expect(page.body.contains(rig.dashboard.token))
        let stop = "/api/sessions/paper/main/stop"
        let body = #"{"flatten":true}"#
        let noToken = try await rig.post(stop, headers: [], body: body)
        #expect(noToken.status == 403)
        #expect(noToken.body.contains("X-CSRF-Token"))
        let wrong = try await rig.post(stop, headers: [("X-CSRF-Token", "0123")], body: body)
        #expect(wrong.status == 403)
        let crossOrigin = try await rig.post(
            stop, headers: [("X-CSRF-Token", rig.dashboard.token), ("Origin", "http://evil.example")], body: body)
        #expect(crossOrigin.status == 403)
        let store = try LiveStore(existing: rig.home + "/paper/main.sqlite")
        #expect(try store.pendingStops().isEmpty, "nothing refused may reach the session")
        // The page's own request: token and local origin.
        let accepted = try await rig.post(
            stop,
            headers: [
                ("X-CSRF-Token", rig.dashboard.token), ("Origin", "http://127.0.0.1:\(rig.port)"), ("Content-Type", "application/json"),
            ],
            body: body)
        #expect(accepted.status == 200, "\(accepted.body)")
        #expect(accepted.body.contains("no process is running"), "\(accepted.body)")
        let pending = try store.pendingStops()
        #expect(pending.count == 1)
        #expect(pending.first?.flatten == true)
        #expect(pending.first?.reason.hasPrefix("dashboard:") == true)
        // A backtest or an unreadable file has no kill switch.
        let broken = try await rig.post("/api/sessions/live/broken/stop", headers: [("X-CSRF-Token", rig.dashboard.token)], body: body)
        #expect(broken.status == 409)
    }

    @Test func listeningBeyondThisComputerNeedsTheTokenForEverything() async throws {
        let rig = try await DashboardRig(host: "0.0.0.0")
        defer { rig.shutdown() }
        let bare = try await rig.get("/api/sessions")
        #expect(bare.status == 401)
        #expect(try await rig.get("/").status == 401)
        let token = rig.dashboard.token
        #expect(try await rig.get("/api/sessions", headers: [("Authorization", "Bearer \(token)")]).status == 200)
        #expect(try await rig.get("/api/sessions", headers: [("Authorization", "Bearer 0000")]).status == 401)
        // The page the printed address opens, from whatever name the network gives the machine.
        let page = try await rig.get("/?token=\(token)", host: "nmr-box.lan:\(rig.port)")
        #expect(page.status == 200)
        #expect(page.body.contains(#"<meta name="remote" content="1">"#))
    }

    @Test func readOnlyRefusesTheKillSwitch() async throws {
        let rig = try await DashboardRig(readOnly: true)
        defer { rig.shutdown() }
        let page = try await rig.get("/")
        #expect(page.body.contains(#"<meta name="read-only" content="1">"#))
        let refused = try await rig.post(
            "/api/sessions/paper/main/stop", headers: [("X-CSRF-Token", rig.dashboard.token)], body: #"{"flatten":true}"#)
        #expect(refused.status == 403)
        #expect(refused.body.contains("--read-only"))
    }

    @Test func aNewBarReachesAnOpenStreamWithinASecond() async throws {
        let rig = try await DashboardRig()
        defer { rig.shutdown() }
        // A second session, still running, fed after the stream opens.
        let bars = SyntheticSession.bars(count: 240)
        var runner = try await SyntheticRunner(path: rig.home + "/paper/feed.sqlite", name: "feed", bars: bars)
        try await runner.advance(to: 120)
        try await Task.sleep(for: .milliseconds(400))
        guard let fd = RawClient.connect(port: rig.port) else { throw RawClient.Failure(message: "connect") }
        defer { close(fd) }
        _ = RawClient.send(fd, Array("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        let hello = try await offPool {
            String(
                decoding: RawClient.receive(fd, timeout: 3) { String(decoding: $0, as: UTF8.self).contains("event: hello") }, as: UTF8.self)
        }
        #expect(hello.contains("text/event-stream"))
        // The clock starts when the last bar is written: the writing itself (60 bars, each a
        // durable commit) is the runner's time, not the stream's, and takes seconds on a loaded
        // CI machine. A change sent during the writing is already in the socket when we read.
        try await runner.advance(to: 180)
        let before = Date()
        let update = try await offPool {
            String(
                decoding: RawClient.receive(fd, timeout: 3) { String(decoding: $0, as: UTF8.self).contains("paper/feed") }, as: UTF8.self)
        }
        let seconds = Date().timeIntervalSince(before)
        runner.close()
        #expect(update.contains("event: change"), "\(update)")
        #expect(update.contains("paper/feed"))
        #expect(seconds < 1.5, "the change arrived after \(seconds) s")
        // The poll that follows has folded every bar the session wrote.
        let check = try LiveStore(existing: rig.home + "/paper/feed.sqlite")
        let info = try #require(try check.info())
        let (bot, _) = try BotConfigFile.parse(yaml: info.configText, file: "stored")
        let replayed = try LiveTrader.replay(store: check, bot: bot, rules: SyntheticSession.rules, sizeFraction: info.sizeFraction)
        var count = 0
        for _ in 0..<40 where count != replayed.bars {
            count = (try await rig.json("/api/sessions/paper/feed/equity") as? [String: Any])?["count"] as? Int ?? 0
            if count != replayed.bars { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(count == replayed.bars, "the dashboard shows \(count) bars, the file holds \(replayed.bars)")
    }
}
