import ArgumentParser
import Dispatch
import Foundation
import Logging
import PerpConfig
import PerpEngine
import PerpExecution
import PerpLive
import PerpMarketData
import PerpModel
import PerpStore
import PerpVenues

struct LiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Trade the NMR bot for real on Binance USD-M, after its 30-day paper record (spec §4).",
        discussion: """
            `nmrperp live run --config bot.yaml --name main --paper main` trades Binance USD-M \
            NMRUSDT with the same kernel as `paper` and `backtest`, at --size-fraction (default \
            10 %) of what the configuration sizes. It refuses to start unless the paper session \
            --paper has its 30 days of live bars; --skip-paper-gate overrides that, loudly, and the \
            journal and `live status` say so.

            Every decision is stored in $NMRPERP_HOME/live/NAME.sqlite before its order leaves, with \
            a client order id derived from the session, so killing the process at any moment \
            loses nothing and doubles nothing: run the same command again and it replays what it \
            stored, looks up every order whose answer it never saw, and reconciles with the venue \
            before it sends anything. The stop loss and target rest on Binance as reduce-only \
            conditional orders, so a dead process still has its stop.

            Keys: NMRPERP_BINANCE_API_KEY and NMRPERP_BINANCE_API_SECRET, or \
            $NMRPERP_HOME/keys/binance.json ({"api_key": "…", "api_secret": "…"}, mode 600). They are \
            never printed, logged or stored.

            Examples:
              nmrperp live run --config bot.yaml --name main --paper main --testnet
              nmrperp live status --name main
              nmrperp live stop --name main --flatten
            """,
        subcommands: [LiveRunCommand.self, LiveStatusCommand.self, LiveJournalCommand.self, LiveStopCommand.self])
}

/// Where a kind of session keeps its files (`$NMRPERP_HOME/live/NAME.sqlite`,
/// `$NMRPERP_HOME/hedge/NAME.sqlite`), its one-process lock, and how errors name it.
struct SessionFiles {
    /// The folder under `$NMRPERP_HOME` and the command group (`live`, `hedge`).
    let kind: String
    /// How to start one, for "no such session" errors.
    let startHint: String

    static let live = SessionFiles(kind: "live", startHint: "nmrperp live run --config bot.yaml --name")
    static let hedge = SessionFiles(kind: "hedge", startHint: "nmrperp hedge run --venue lighter --model MODEL --name")

    func path(name: String) throws -> String {
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { throw CLIError("--name must be 1–64 letters, digits, '-' or '_' (got \(InputLimits.excerpt(name)))") }
        return Environment.home + "/\(kind)/\(name).sqlite"
    }

    func lock(name: String) throws -> SessionLock {
        let path = SessionLock.path(forDatabase: try path(name: name))
        do {
            return try SessionLock.acquire(path: path, since: SystemPaperClock().now().iso8601)
        } catch .held(_, let owner) {
            throw CLIError(
                "\(kind) session \"\(name)\" is already running (\(owner.map(\.description) ?? "another process; it has not written its pid yet")); stop it first with `nmrperp \(kind) stop --name \(name)`"
            )
        } catch {
            throw CLIError("\(kind) session \"\(name)\": \(error)")
        }
    }

    func running(name: String) -> SessionOwner?? {
        guard let path = try? SessionLock.path(forDatabase: path(name: name)), case .held(let owner) = SessionLock.state(path: path)
        else { return nil }
        return .some(owner)
    }

    /// `journal --name NAME [--out FILE]`: the session's journal as JSON lines.
    func exportJournal(name: String, out: String?, force: Bool, json: Bool) throws {
        _ = try OutputFiles([("--out", out)], force: force)
        try exportJournalLines(name: name, lines: try openExisting(name: name).journal().map(\.line), out: out, force: force, json: json)
    }

    /// Waits up to `wait` for the running process to carry out stop request `request`; true when
    /// it did, false when no process runs the session; throws when it ran out of time.
    func awaitStop(_ request: Int64, store: LiveStore, name: String, wait: TimeSpan, waitText: String) async throws -> Bool {
        guard running(name: name) != nil else { return false }
        let clock = SystemPaperClock()
        let deadline = clock.now() + wait
        while clock.now() < deadline {
            if try !store.pendingStops().contains(where: { $0.id == request }) { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw CLIError(
            "\(kind) \(name): the running process did not carry out the stop within \(waitText); it is stored and is carried out at its next poll. Check `nmrperp \(kind) status --name \(name)`"
        )
    }

    func openExisting(name: String) throws -> LiveStore {
        let path = try path(name: name)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("no \(kind) session \"\(name)\" (\(path)); start one with `\(startHint) \(name)`")
        }
        do { return try LiveStore(existing: path) } catch { throw CLIError("\(kind) session \"\(name)\" is unusable: \(error)") }
    }
}

/// The venue side of a live command: keys, endpoints, the adapter.
enum LiveVenue {
    static func credentials() throws -> BinanceCredentials {
        let loaded: BinanceCredentials?
        do { loaded = try BinanceCredentials.load(environment: Environment.values, home: Environment.home) } catch {
            throw CLIError("\(error)")
        }
        guard let loaded else {
            throw CLIError(
                "no Binance API key: set NMRPERP_BINANCE_API_KEY and NMRPERP_BINANCE_API_SECRET, or write \(Environment.home)/keys/binance.json as {\"api_key\": \"…\", \"api_secret\": \"…\"} with mode 600"
            )
        }
        return loaded
    }

    static func endpoints(testnet: Bool) -> BinanceEndpoints {
        BinanceEndpoints.fromEnvironment(Environment.values, base: testnet ? .testnet : .production)
    }

    /// The adapter, its name, and the venue's clock (which decides which bars closed).
    static func make(testnet: Bool, symbol: String, logger: Logger) throws -> (
        venue: any ExecutionVenue, name: String, clock: VenueSyncedClock
    ) {
        let credentials = try credentials()
        let endpoints = endpoints(testnet: testnet)
        let local = SystemPaperClock()
        let trader = BinanceUSDMTrader(
            baseURL: endpoints.rest, credentials: credentials, symbol: symbol, transport: AsyncHTTPClientTransport.shared,
            clock: { local.now().milliseconds }, logger: logger, webSocketBase: endpoints.webSocket, name: endpoints.name)
        let market = BinanceUSDMClient(baseURL: endpoints.rest, minimumSpacing: .milliseconds(50), maxAttempts: 2)
        let clock = VenueSyncedClock(local: local) { try await market.serverTime() }
        return (trader, endpoints.name, clock)
    }
}

struct LiveRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start or continue a live session on Binance USD-M.")

    @Option(help: "The venue: binance (Binance USD-M). Lighter comes next.") var venue = "binance"
    @Option(help: "The bot's YAML configuration (`nmrperp bot init` writes one). A restart must give the same file.") var config: String
    @Option(help: "Session name: the file $NMRPERP_HOME/live/NAME.sqlite.") var name = "default"
    @Option(help: "The paper session whose 30-day record allows going live (spec §4).") var paper: String?
    @Option(help: "Trade this share of what the configuration sizes (spec §4: 10 % at first). 0 < f ≤ 1.")
    var sizeFraction = "0.1"
    @Option(help: "Binance USD-M symbol.") var symbol = "NMRUSDT"
    @Option(help: "Bar interval: 1m, 3m, 5m, 15m, 30m, 1h.") var interval = "1m"
    @Flag(help: "Binance's futures testnet (NMRPERP_BINANCE_USDM_URL still overrides the address).") var testnet = false
    @Flag(help: "Go live without a 30-day paper record. Recorded in the journal and shown by `live status`.")
    var skipPaperGate = false
    @OptionGroup var signalOptions: SignalOptions
    @Option(help: "Stop after this many polls (scripts and tests; default: until Ctrl-C or `live stop`).") var maxPolls: Int?
    @Flag(help: "Print one JSON object per poll instead of the status line.") var json = false

    func run() async throws {
        guard venue.lowercased() == "binance" else {
            throw CLIError("--venue must be binance (Lighter live trading is the next step; got \(InputLimits.excerpt(venue)))")
        }
        let interval = try Parse.span(self.interval, "--interval")
        guard BinanceSpotClient.intervalName(interval) != nil, interval <= .hours(1) else {
            throw CLIError("--interval must be one of 1m, 3m, 5m, 15m, 30m, 1h (got \(InputLimits.excerpt(self.interval)))")
        }
        let fraction = try Parse.positive(
            sizeFraction, "--size-fraction", "a share of the configured size", example: "0.1", atMost: Rate.one,
            limitName: "all of what the configuration sizes")
        if let maxPolls, maxPolls < 1 { throw CLIError("--max-polls must be at least 1 (got \(maxPolls))") }
        let bot = try BotConfigFile.load(path: config)
        let botText = try String(contentsOfFile: config, encoding: .utf8)
        let path = try SessionFiles.live.path(name: name)
        let sources = try signalOptions.sources()

        // The paper gate (spec §4: 30 days of paper trading before live).
        var paperName: String?
        if skipPaperGate {
            printError(
                "live \(name): WARNING --skip-paper-gate: going live without a 30-day paper record; the journal and `live status` record this"
            )
        } else {
            guard let paper else {
                throw CLIError(
                    "live trading needs the 30-day paper record spec §4 asks for: name the paper session with --paper NAME (or override with --skip-paper-gate, which is recorded)"
                )
            }
            let record = try PaperFiles.record(name: paper)
            guard record.complete else {
                throw CLIError(
                    "paper session \"\(paper)\" has \(formatFixed(record.days, 1)) of the \(PaperRecord.requiredDays) days of live bars spec §4 asks for before live trading; keep it running (or override with --skip-paper-gate, which is recorded)"
                )
            }
            paperName = paper
        }
        let symbol = self.symbol.uppercased()
        let logger = LiveLogging.logger(name: name)
        let (venue, venueName, clock) = try LiveVenue.make(testnet: testnet, symbol: symbol, logger: logger)
        try Environment.requireNetwork("live trading")
        let sessionLock = try SessionFiles.live.lock(name: name)
        defer { sessionLock.release() }
        let store = try LiveStore(path: path)
        let rules: MarketRules
        do { rules = try await venue.rules() } catch {
            throw CLIError("live \(name): cannot read \(symbol)'s trading rules from \(venueName): \(error); nothing was sent")
        }
        var settings = LiveSettings(name: name, venueName: venueName, bot: bot, botText: botText, sizeFraction: fraction)
        settings.symbol = symbol
        settings.interval = interval
        settings.paperSession = paperName
        settings.skippedPaperGate = skipPaperGate
        do { try await clock.sync() } catch {
            throw CLIError("live \(name): cannot read \(venueName)'s clock: \(error); nothing was sent")
        }
        let created = try LiveTrader.creationTime(store: store, now: clock.now())
        let endpoints = LiveVenue.endpoints(testnet: testnet)
        let feedClient = BinanceUSDMClient(baseURL: endpoints.rest, minimumSpacing: .milliseconds(250), maxAttempts: 1)
        var trader = LiveTrader(
            settings: settings, store: store, venue: venue, rules: rules,
            feed: BinanceUSDMPaperFeed(client: feedClient, symbol: symbol, interval: interval), clock: clock, logger: logger,
            created: created)
        trader.signalSources = sources
        let replayed: Int
        do { replayed = try await trader.start(pid: getpid()) } catch {
            trader.end(status: "failed")
            throw CLIError("live \(name) did not start: \(error)")
        }
        printError(
            replayed > 0
                ? "live \(name): resumed from \(path) (\(replayed) inputs replayed, venue reconciled)"
                : "live \(name): new session in \(path) on \(venueName) \(symbol), size fraction \(fraction)")
        let maxPolls = self.maxPolls
        let json = self.json
        let task = Task { [trader] in
            var trader = trader
            var polls = 0
            defer { trader.close() }
            while maxPolls.map({ polls < $0 }) ?? true {
                try Task.checkCancellation()
                guard let status = try await trader.poll() else {
                    trader.end(status: "stopped")
                    return "stopped"
                }
                polls += 1
                LiveReport.show(status, json: json)
                if maxPolls.map({ polls >= $0 }) ?? false { break }
                // Sleep in one-second slices, so the kill switch from another terminal is
                // carried out within about a second rather than at the next bar.
                let wake = trader.nextPollTime(after: clock.now())
                while clock.now() < wake {
                    try await clock.sleep(until: min(wake, clock.now() + .seconds(1)))
                    if try !trader.store.pendingStops().isEmpty { break }
                }
            }
            await trader.finish()
            trader.end(status: "finished")
            return "finished"
        }
        let handlers = Interrupts.cancel(task)
        defer { handlers.remove() }
        do {
            let how = try await task.value
            printError(
                how == "stopped"
                    ? "live \(name): stopped by `live stop`; orders cancelled, trading halted until you run it again"
                    : "live \(name): finished \(maxPolls ?? 0) polls; orders resting on the venue stay there")
        } catch {
            trader.end(status: task.isCancelled ? "interrupted" : "failed")
            if task.isCancelled {
                printError(
                    "live \(name): interrupted; everything up to the last poll is saved, and the stop and target still rest on the venue. Run the same command to continue."
                )
                return
            }
            throw CLIError("live \(name) stopped: \(error). Nothing is lost: run the same command to continue.")
        }
    }
}

struct LiveStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a live session: state, position, orders, runs.")
    @Option(help: "Session name.") var name = "default"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let store = try SessionFiles.live.openExisting(name: name)
        guard let info = try store.info() else { throw CLIError("live session \"\(name)\" has no settings yet") }
        let runs = try store.runs()
        let status = try store.status()
        let journal = try store.journal(newest: 10)
        let owner = SessionFiles.live.running(name: name)
        let state: String
        if let owner { state = "running (\(owner.map(\.description) ?? "pid not written yet"))" } else { state = "not running" }
        var statusJSON: JSONValue = .null
        if let status { statusJSON = (try? JSONParser.parse(status.json)) ?? .null }
        if json {
            let object: JSONValue = .object([
                ("name", .string(info.name)), ("venue", .string(info.venue)), ("symbol", .string(info.symbol)),
                ("process", .string(state)), ("size_fraction", .exact(info.sizeFraction)),
                ("paper_session", info.paperSession.map { .string($0) } ?? .null), ("skipped_paper_gate", .bool(info.skippedPaperGate)),
                ("created", .string(info.created.iso8601)), ("status", statusJSON),
                (
                    "runs",
                    .array(
                        runs.map {
                            .object([
                                ("pid", .int($0.pid)), ("launch_time", .string($0.started.iso8601)),
                                ("ended", $0.ended.map { .string($0.iso8601) } ?? .null), ("status", .string($0.status)),
                            ])
                        })
                ),
                ("journal", .array(journal.map { JournalEntry.currentVocabulary($0.line) })),
            ])
            print(object.serialized(pretty: true))
            return
        }
        var lines = [
            "live session \(info.name): \(info.venue) \(info.symbol), \(state)",
            "  size fraction \(info.sizeFraction), started \(info.created.iso8601)",
            info.skippedPaperGate
                ? "  WARNING: started with --skip-paper-gate (no 30-day paper record)"
                : "  paper record: \(info.paperSession ?? "—")",
        ]
        if let status, case .object = statusJSON {
            func text(_ key: String) -> String {
                guard let value = statusJSON[key] else { return "—" }
                return value.stringValue ?? value.numericText ?? (value == .null ? "—" : value.serialized(pretty: false))
            }
            lines.append(
                "  as of \(status.time.iso8601): gate \(text("gate"))\(statusJSON["gate_reason"]?.stringValue.map { " (\($0))" } ?? "")")
            lines.append(
                "  position \(text("position")) @ \(text("average_entry")), wallet \(text("wallet")) USDT, last close \(text("last_close"))"
            )
            let orders = statusJSON["open_orders"]?.arrayValue ?? []
            lines.append("  open orders: \(orders.count)\(orders.isEmpty ? "" : "")")
            for order in orders {
                lines.append(
                    "    \(order["client_id"]?.stringValue ?? "?") \(order["purpose"]?.stringValue ?? "?") \(order["side"]?.stringValue ?? "?") \(order["quantity"]?.numericText ?? "?")\(order["trigger"]?.numericText.map { " trigger \($0)" } ?? "") \(order["status"]?.stringValue ?? "")"
                )
            }
            if let problem = statusJSON["problem"]?.stringValue { lines.append("  problem: \(problem)") }
        } else {
            lines.append("  no status yet (the session has not polled)")
        }
        if let last = runs.last { lines.append("  last run: pid \(last.pid), \(last.status), started \(last.started.iso8601)") }
        if !journal.isEmpty {
            lines.append("  journal (newest last):")
            for row in journal { lines.append("    " + row.line) }
        }
        print(lines.joined(separator: "\n"))
    }
}

struct LiveJournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Print or write a live session's journal (JSON lines).")
    @Option(help: "Session name.") var name = "default"
    @Option(help: "Write the journal to this file (JSON lines) instead of standard output.") var out: String?
    @Flag(help: "Replace output files that already exist.") var force = false
    @Flag(help: "Print one JSON object (the rows, or the file written) instead of JSON Lines.") var json = false

    func run() async throws { try SessionFiles.live.exportJournal(name: name, out: out, force: force, json: json) }
}

struct LiveStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "The kill switch: cancel every order of a live session, optionally close its position, and halt it.",
        discussion: """
            With the session running, the request is stored in its file and the running process \
            carries it out at its next poll (within a second or two); this command waits for it. \
            With no process running, this command carries it out itself, with the session's stored \
            settings and your keys. Either way the session stays halted until `live run` starts it \
            again.
            """)
    @Option(help: "Session name.") var name = "default"
    @Flag(help: "Also close the position with a reduce-only market order.") var flatten = false
    @Option(help: "Why (journalled).") var reason = "operator stop"
    @Flag(help: "Binance's futures testnet (for a session that is not running).") var testnet = false
    @Option(help: "Longest wait for a running session to carry it out (e.g. 30s).") var wait = "30s"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let wait = try Parse.span(self.wait, "--wait")
        let store = try SessionFiles.live.openExisting(name: name)
        guard let info = try store.info() else { throw CLIError("live session \"\(name)\" has no settings yet") }
        let clock = SystemPaperClock()
        let request = try store.requestStop(flatten: flatten, reason: InputLimits.excerpt(reason), at: clock.now())
        if try await SessionFiles.live.awaitStop(request, store: store, name: name, wait: wait, waitText: self.wait) {
            announce(
                "live \(name): stopped by the running process\(flatten ? " (position closed)" : ""); trading halted", json: json,
                [("name", .string(name)), ("state", .string("halted")), ("flatten", .bool(flatten)), ("by", .string("running process"))])
            return
        }
        // Not running: carry it out here, with the stored settings.
        let (bot, problems) = try BotConfigFile.parse(yaml: info.configText, file: store.path + " (stored configuration)")
        guard problems.isEmpty else { throw BotConfigFile.error(path: store.path + " (stored configuration)", problems) }
        let logger = LiveLogging.logger(name: name)
        let testnet = info.venue.hasSuffix("testnet") || self.testnet
        let (venue, venueName, venueClock) = try LiveVenue.make(testnet: testnet, symbol: info.symbol, logger: logger)
        let sessionLock = try SessionFiles.live.lock(name: name)
        defer { sessionLock.release() }
        let rules = try await venue.rules()
        var settings = LiveSettings(name: name, venueName: venueName, bot: bot, botText: info.configText, sizeFraction: info.sizeFraction)
        settings.symbol = info.symbol
        settings.interval = info.interval
        settings.paperSession = info.paperSession
        settings.skippedPaperGate = info.skippedPaperGate
        let endpoints = LiveVenue.endpoints(testnet: testnet)
        try? await venueClock.sync()
        var trader = LiveTrader(
            settings: settings, store: store, venue: venue, rules: rules,
            feed: BinanceUSDMPaperFeed(
                client: BinanceUSDMClient(baseURL: endpoints.rest, maxAttempts: 1), symbol: info.symbol, interval: info.interval),
            clock: venueClock, logger: logger, created: info.created)
        do {
            try await trader.start(pid: getpid())
            _ = try await trader.poll()
            trader.end(status: "stopped")
        } catch {
            trader.end(status: "failed")
            throw CLIError(
                "live \(name): the stop could not be carried out: \(error). It stays stored; the next `live run` carries it out first")
        }
        announce(
            "live \(name): stopped\(flatten ? " (position closed)" : ""); trading halted until `live run` starts it again", json: json,
            [("name", .string(name)), ("state", .string("halted")), ("flatten", .bool(flatten)), ("by", .string("this command"))])
    }
}

/// The status line of `live run`.
enum LiveReport {
    static func show(_ status: LiveStatus, json: Bool) {
        if json {
            FileHandle.standardOutput.write(Data((status.json.serialized(pretty: false) + "\n").utf8))
            return
        }
        let time = String(status.now.iso8601.prefix(19)).replacingOccurrences(of: "T", with: " ")
        var parts = ["\(time) UTC", "gate \(status.json["gate"]?.stringValue ?? "?")", "risk \(status.riskState.name)"]
        parts.append(status.position.isZero ? "flat" : "\(status.position.isPositive ? "long" : "short") \(status.position.magnitude)")
        if let balance = status.balance { parts.append("wallet \(balance.wallet)") }
        parts.append("orders \(status.openOrders.count)")
        if status.unresolved > 0 { parts.append("resolving \(status.unresolved)") }
        if let bar = status.lastBar { parts.append("last \(bar.close)") }
        if status.skippedPaperGate { parts.append("PAPER GATE SKIPPED") }
        if let problem = status.problem { parts.append("⚠ \(problem)") }
        printError(parts.joined(separator: "  "))
    }
}

/// swift-log for the live runtime: one line per event on standard error, with a timestamp and
/// the session's name; credentials reach the logger only through types that print
/// `<redacted>`.
enum LiveLogging {
    static func logger(name: String) -> Logger {
        var logger = Logger(label: "nmrperp.live.\(name)") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = Environment.values["NMRPERP_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }
}
