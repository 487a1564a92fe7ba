import ArgumentParser
import Dispatch
import Foundation
import Logging
import PerpConfig
import PerpEngine
import PerpExecution
import PerpLive
import PerpModel
import PerpReports
import PerpSimulation
import PerpStore
import PerpVenues

struct PaperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paper",
        abstract: "Paper-trade the NMR bot on live Binance USD-M data: the 30-day record spec §4 asks for before live trading.",
        discussion: """
            `nmrperp paper --config bot.yaml` polls Binance USD-M NMRUSDT klines and funding \
            settlements, feeds each closed bar to the same kernel and simulated venue as \
            `nmrperp backtest --strategy nmr-bot`, and keeps everything in \
            $NMRPERP_HOME/paper/NAME.sqlite (never the file a live session would use). Stop it \
            with Ctrl-C at any moment; run the same command again and it replays what it stored and \
            continues where it stopped, with the same position and journal. Bars that closed \
            before now (the first day of warm-up, the time the tool was down) only feed the \
            signals: no entry is made on them, and they do not count toward the 30 days.

            `--replay FILE` runs the same runtime on recorded bars with no network, for demos and \
            tests: its clock jumps to each poll, or moves at `--speed N` times real time. A replay \
            is an ordinary session for `status`, `journal` and the dashboard, but never a paper \
            record: its bars were not live.

            Examples:
              nmrperp bot init --out bot.yaml && nmrperp paper --config bot.yaml
              nmrperp paper --replay nmr_1h.csv --to 2025-02-01
              nmrperp paper status
              nmrperp paper journal --out paper.jsonl
            """,
        subcommands: [PaperRunCommand.self, PaperStatusCommand.self, PaperJournalCommand.self],
        defaultSubcommand: PaperRunCommand.self)
}

/// Where paper sessions live: $NMRPERP_HOME/paper/NAME.sqlite.
enum PaperFiles {
    static func path(name: String) throws -> String {
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { throw CLIError("--name must be 1–64 letters, digits, '-' or '_' (got \"\(name)\")") }
        return Environment.home + "/paper/\(name).sqlite"
    }

    /// Opens an existing session file, or says how to start one.
    static func openExisting(name: String) throws -> PaperStore {
        let path = try path(name: name)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("no paper session \"\(name)\" (\(path)); start one with `nmrperp paper --config bot.yaml --name \(name)`")
        }
        return try PaperStore(existing: path)
    }

    /// The lock file of a session: $NMRPERP_HOME/paper/NAME.lock.
    static func lockPath(name: String) throws -> String { SessionLock.path(forDatabase: try path(name: name)) }

    /// Takes the session's lock for the life of this process, or says who holds it.
    static func lock(name: String) throws -> SessionLock {
        let path = try lockPath(name: name)
        do {
            return try SessionLock.acquire(path: path, since: SystemPaperClock().now().iso8601)
        } catch .held(_, let owner) {
            throw CLIError(
                "paper session \"\(name)\" is already running (\(owner.map(\.description) ?? "another process; it has not written its pid yet")); stop it first (Ctrl-C in its terminal, or kill its pid)"
            )
        } catch {
            throw CLIError("paper session \"\(name)\": \(error)")
        }
    }

    /// "running (pid 1234 …)" while a `paper` process holds the session, else `nil`.
    static func running(name: String) -> String? {
        guard let path = try? lockPath(name: name), case .held(let owner) = SessionLock.state(path: path) else { return nil }
        return "running (\(owner.map(\.description) ?? "pid not written yet"))"
    }

    /// The session's settings and the state its stored events give, after the checks `paper`
    /// runs before trading (``PaperIntegrity/replay(_:into:)``): a session that fails them is
    /// unusable, and this throws one line saying why and what to do.
    static func verified(_ store: PaperStore, name: String) throws -> (PaperSessionInfo, PaperIntegrity.Replayed) {
        func unusable(_ reason: String) -> CLIError {
            CLIError(
                "paper session \"\(name)\" is unusable: \(reason). Nothing trades on it or reports from it; keep the file to look at and start a new session with --name"
            )
        }
        do {
            guard let info = try store.info() else { throw CLIError("\(store.path) holds no paper session yet") }
            let (bot, problems) = try BotConfigFile.parse(yaml: info.configText, file: store.path + " (stored configuration)")
            guard problems.isEmpty else { throw BotConfigFile.error(path: store.path + " (stored configuration)", problems) }
            guard let venue = PaperSettings.venue(fromText: info.venueText) else {
                throw unusable("the stored venue settings are unreadable (\(info.venueText))")
            }
            let fresh = PaperSession(config: bot, venue: venue, capital: info.capital, interval: info.interval)
            return (info, try PaperIntegrity.replay(store, into: fresh))
        } catch let error as PaperError {
            throw CLIError(error.description)
        } catch let error as StoreError {
            throw unusable(error.description)
        }
    }

    /// Whether `path` holds a session started before paper trading moved onto the execution
    /// layer (a paper store of its own; decision 0013). Such sessions go on with their engine.
    static func isLegacy(path: String) -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        return (try? PaperStore(existing: path)) != nil
    }

    /// A session on the execution layer, read back for a reader (`status`, `journal`, the live
    /// gate): its settings, its simulated venue and the state its inputs give.
    struct Replayed {
        var store: LiveStore
        var info: LiveSessionInfo
        var venue: PaperVenueSettings
        var session: LiveSession
    }

    static func openReplayed(name: String) throws -> Replayed {
        let path = try path(name: name)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("no paper session \"\(name)\" (\(path)); start one with `nmrperp paper --config bot.yaml --name \(name)`")
        }
        func unusable(_ reason: String) -> CLIError {
            CLIError(
                "paper session \"\(name)\" is unusable: \(reason). Nothing trades on it or reports from it; keep the file to look at and start a new session with --name"
            )
        }
        do {
            let store = try LiveStore(existing: path)
            guard let info = try store.info() else { throw unusable("it holds no settings") }
            guard let venue = PaperVenueSettings.parse(info.venue, symbol: info.symbol) else {
                throw CLIError("\(path) is a live session's file, not a paper session's")
            }
            let (bot, problems) = try BotConfigFile.parse(yaml: info.configText, file: path + " (stored configuration)")
            guard problems.isEmpty else { throw BotConfigFile.error(path: path + " (stored configuration)", problems) }
            let session = try LiveTrader.replay(store: store, bot: bot, rules: venue.rules, sizeFraction: info.sizeFraction)
            return Replayed(store: store, info: info, venue: venue, session: session)
        } catch let error as StoreError {
            throw unusable(error.description)
        } catch let error as LiveError {
            throw unusable(error.description)
        }
    }

    /// The 30-day record of a session of either kind, for the live gate: live days, and
    /// whether they make the 30 spec §4 asks for.
    static func record(name: String) throws -> (days: Double, complete: Bool) {
        if isLegacy(path: try path(name: name)) {
            let (_, _, replayed) = try openVerified(name: name)
            let record = replayed.session.record
            return (record.liveDays(interval: replayed.session.interval), record.isComplete(interval: replayed.session.interval))
        }
        let replayed = try openReplayed(name: name)
        if isReplay(replayed.info) {
            throw CLIError(
                "paper session \"\(name)\" replays recorded bars (paper --replay); spec §4's record needs \(PaperRecord.requiredDays) days of live bars: name a paper session that trades Binance's"
            )
        }
        let record = replayed.session.record
        return (record.liveDays(interval: replayed.info.interval), record.isComplete(interval: replayed.info.interval))
    }

    /// Whether a session replays recorded bars (`paper --replay`, its venue says `replay=yes`):
    /// such a session's days never count toward the paper record.
    static func isReplay(_ info: LiveSessionInfo) -> Bool {
        info.venue.split(separator: " ").contains("replay=yes")
    }

    /// Opens the session file for a reader (`status`, `journal`), with the same checks.
    static func openVerified(name: String) throws -> (PaperStore, PaperSessionInfo, PaperIntegrity.Replayed) {
        let store: PaperStore
        do { store = try openExisting(name: name) } catch let error as StoreError {
            throw CLIError(
                "paper session \"\(name)\" is unusable: \(error). Nothing trades on it or reports from it; keep the file to look at and start a new session with --name"
            )
        }
        let (info, replayed) = try verified(store, name: name)
        return (store, info, replayed)
    }
}

struct PaperRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start or continue a paper session (the default subcommand).")

    @Option(
        help:
            "The bot's YAML configuration (`nmrperp bot init` writes one). A new session without it uses the defaults; a restart uses the stored one, and refuses a different one."
    )
    var config: String?
    @Option(help: "Session name: the file $NMRPERP_HOME/paper/NAME.sqlite.") var name = "default"
    @Option(help: "Binance USD-M symbol.") var symbol = "NMRUSDT"
    @Option(name: .customLong("interval"), help: "Bar interval: 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h (default 1m; a replay's bars set it).")
    var intervalText: String?
    @OptionGroup(
        title:
            "Account and venue (each overrides the same key of --config's account: and venue: sections; a new session takes the tick, lot and minimum notional from Binance's exchange information unless given)"
    )
    var trading: TradingOptions
    @Option(help: "History fetched before the first live bar of a new session, to warm the signals up (e.g. 24h, 2d).")
    var warmup = "24h"
    @OptionGroup var signalOptions: SignalOptions
    @Option(help: "Stop after this many polls (scripts and tests; default: until Ctrl-C).") var maxPolls: Int?
    @Flag(help: "Print one JSON object per poll instead of the status line.") var json = false
    @Option(
        help:
            "Run the same runtime on recorded bars (CSV, Binance or Lighter JSON) instead of Binance's: no network, for demos and tests. The session is named replay unless --name says otherwise."
    )
    var replay: String?
    @Option(name: .customLong("funding"), help: "--replay: funding history settled on the replayed position (CSV or JSON).")
    var replayFunding: String?
    @Option(help: "--replay: pace as a multiple of real time (60: a minute of bars a second); default as fast as it computes.")
    var speed: String?
    @OptionGroup(title: "--replay: the span of the recording to replay") var timeRange: HistoryRangeOptions
    @Flag(help: "--replay: replace a session of the same name.") var force = false

    var interval: String { intervalText ?? "1m" }

    func run() async throws {
        if replay == nil,
            let flag = [
                ("--funding", replayFunding != nil), ("--speed", speed != nil), ("--force", force), ("--from", timeRange.from != nil),
                ("--to", timeRange.to != nil),
            ].first(where: { $0.1 })?.0
        {
            throw CLIError("\(flag) belongs to --replay FILE (paper on recorded bars); live paper trading reads Binance's bars and funding")
        }
        let interval = try Parse.span(self.interval, "--interval")
        guard BinanceSpotClient.intervalName(interval) != nil, interval <= .hours(4) else {
            throw CLIError("--interval must be one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h (got \(self.interval))")
        }
        let file = try trading.configuration(config)
        if trading.liquidationRule != nil {
            throw CLIError("--liquidation-rule is not used by paper trading: its venue does not simulate liquidation (backtests do)")
        }
        guard file.trading.market.name == MarketPreset.binanceNMRUSDT.name else {
            throw CLIError(
                "paper trades Binance USD-M bars; venue.market \(file.trading.market.name) (from \(file.sources["venue.market"] ?? "--market")) is for backtests: use binance-usdm"
            )
        }
        var capital = file.trading.capital
        var venue = file.trading.venueConfig
        // The market's own rules come from its exchange information; a lot size or minimum given
        // in the file or a flag overrides them.
        let lotOverride: Quantity? = file.sources["venue.lot_size"] != nil ? file.trading.lotSize : nil
        let minNotionalOverride: Notional? = file.sources["venue.min_notional"] != nil ? file.trading.minNotional : nil
        let explicitVenue = !trading.given.isEmpty || file.sources.keys.contains { $0.hasPrefix("account.") || $0.hasPrefix("venue.") }
        venue.lotSize = lotOverride ?? MarketPreset.binanceNMRUSDT.lotSize
        let warmup = try InputFiles.warmup(Parse.span(self.warmup, "--warmup"))
        if let maxPolls, maxPolls < 1 { throw CLIError("--max-polls must be at least 1 (got \(maxPolls))") }

        // Every option is checked before the session file is touched.
        let sources = try signalOptions.sources()
        // The bot configuration: the file given, else the stored one, else the defaults.
        var bot = BotConfig()
        var botText = BotConfigFile.defaultYAML()
        if let config {
            bot = file.bot
            botText = try String(contentsOfFile: config, encoding: .utf8)
        }
        if let replay {
            try await runReplay(
                replay, configuration: file, bot: bot, botText: botText, interval: intervalText == nil ? nil : interval, warmup: warmup,
                sources: sources)
            return
        }
        let path = try PaperFiles.path(name: name)
        try Environment.requireNetwork("paper trading")
        // One owner per session, for the life of this process (released when it ends, however
        // it ends): a second `paper` on the same name would store every bar twice.
        let sessionLock = try PaperFiles.lock(name: name)
        defer { sessionLock.release() }
        guard PaperFiles.isLegacy(path: path) else {
            try await runOnExecutionLayer(
                path: path, bot: bot, botText: botText, venue: venue, lotOverride: lotOverride, minNotionalOverride: minNotionalOverride,
                explicitVenue: explicitVenue, capital: capital, interval: interval, warmup: warmup, sources: sources)
            return
        }
        // A session started before paper trading moved onto the execution layer goes on with
        // the engine that wrote it, so its 30-day record stays whole (decision 0013).
        let store = try PaperStore(path: path)
        if let info = try store.info() {
            // No account or venue value given: the session goes on with the ones it stored.
            if !explicitVenue, let stored = PaperSettings.venue(fromText: info.venueText) {
                venue = stored
                capital = info.capital
            }
            let (stored, _) = try BotConfigFile.parse(yaml: info.configText, file: path + " (stored configuration)")
            if config != nil, stored != bot {
                throw CLIError(
                    "paper session \"\(name)\" was started with another bot configuration; its 30-day record belongs to that one. Run without --config to continue it, or start a new session with --name"
                )
            }
            bot = stored
            botText = info.configText
        }
        var settings = PaperSettings(name: name, bot: bot, botText: botText, venue: venue)
        settings.symbol = symbol.uppercased()
        settings.interval = interval
        settings.capital = capital
        settings.warmup = warmup
        // One try per request: the loop retries itself, showing each wait on the status line.
        let client = BinanceUSDMClient(
            baseURL: VenueEndpoints.fromEnvironment().binanceUSDM, minimumSpacing: .milliseconds(250), maxAttempts: 1)
        var trader = PaperTrader(
            settings: settings, store: store, feed: BinanceUSDMPaperFeed(client: client, symbol: settings.symbol, interval: interval),
            clock: SystemPaperClock(), signalSources: sources)
        let progress = ProgressBar("paper \(name): fetching bars")
        trader.fetchProgress = { done, expected in
            progress.update(done, expected)
            if done >= expected { progress.finish() }
        }
        let replayed = try trader.start()
        let line = StatusLine(json: json)
        if replayed > 0 {
            printError("paper \(name): resumed from \(path) (\(replayed) events replayed, journal checked)")
        } else {
            printError("paper \(name): new session in \(path); warming up on \(warmup) of \(settings.symbol) \(self.interval) bars")
        }
        let maxPolls = self.maxPolls
        let task = Task { [trader] in
            var trader = trader
            try await trader.run(maxPolls: maxPolls) { status in line.show(status) }
            return trader
        }
        let signalHandlers = Interrupts.cancel(task)
        defer { signalHandlers.remove() }
        do {
            _ = try await task.value
            line.finish()
        } catch {
            line.finish()
            if task.isCancelled {
                printError("paper \(name): stopped; everything up to the last poll is saved in \(path). Run the same command to continue.")
                return
            }
            throw CLIError("paper \(name) stopped: \(error). Nothing is lost: run the same command to continue from the last poll.")
        }
    }
}

/// The external series of `--signals` and `--stake-model`, one set of options for `paper` and
/// `live run`, so the kernel sees the same inputs in both.
struct SignalOptions: ParsableArguments {
    @Option(help: "Folder with staked.csv, activity.csv, sentiment.csv (time,value), read again at every poll; new lines feed the signals.")
    var signals: String?
    @Option(
        name: .customLong("stake-model"), help: "Read the staked-NMR signal live from these Numerai models' stakes (repeat for several).")
    var stakeModels: [String] = []
    @Option(help: "Tournament of --stake-model: classic, signals or crypto.") var stakeTournament = "classic"
    @Option(help: "How often to read the stakes (e.g. 1h).") var stakeEvery = "1h"

    /// The sources, checked now with clear errors.
    func sources() throws -> [any SignalSource] {
        var sources: [any SignalSource] = []
        if let signals {
            _ = try BacktestCommand.signalInputs(signals)  // checks the folder and files now, with clear errors
            sources.append(SignalFilesSource(folder: signals))
        }
        if !stakeModels.isEmpty {
            let (models, tournament) = try StakeCommand.parse(models: stakeModels, tournament: stakeTournament)
            let every = try Parse.span(stakeEvery, "--stake-every")
            guard every >= .minutes(5) else { throw CLIError("--stake-every must be at least 5m (Numerai changes stakes once a round)") }
            sources.append(
                NumeraiStakeSource(
                    client: NumeraiClient(baseURL: VenueEndpoints.fromEnvironment().numerai), models: models, tournament: tournament,
                    every: every))
        }
        return sources
    }
}

extension PaperRunCommand {
    /// Paper trading on the execution layer (decision 0013): the same `LiveTrader` as `live
    /// run`, on the simulated venue in paper mode instead of Binance: the kernel, the orders,
    /// their client ids, the stop and target resting on the venue, reconciliation and the
    /// store are the live code's own.
    func runOnExecutionLayer(
        path: String, bot given: BotConfig, botText givenText: String, venue: VenueConfig, lotOverride: Quantity?,
        minNotionalOverride: Notional?, explicitVenue: Bool, capital: Notional, interval: TimeSpan, warmup: TimeSpan,
        sources: [any SignalSource]
    ) async throws {
        let symbol = self.symbol.uppercased()
        let store = try LiveStore(path: path)
        var bot = given
        var botText = givenText
        let client = BinanceUSDMClient(
            baseURL: VenueEndpoints.fromEnvironment().binanceUSDM, minimumSpacing: .milliseconds(250), maxAttempts: 1)
        let venueSettings: PaperVenueSettings
        if let info = try store.info() {
            guard let stored = PaperVenueSettings.parse(info.venue, symbol: info.symbol) else {
                throw CLIError("\(path) is a live session's file, not a paper session's; choose another --name")
            }
            let (storedBot, _) = try BotConfigFile.parse(yaml: info.configText, file: path + " (stored configuration)")
            if config != nil, storedBot != bot {
                throw CLIError(
                    "paper session \"\(name)\" was started with another bot configuration; its 30-day record belongs to that one. Run without --config to continue it, or start a new session with --name"
                )
            }
            bot = storedBot
            botText = info.configText
            func check(_ what: String, _ stored: String, _ given: String) throws {
                guard stored == given else {
                    throw CLIError(
                        "paper session \"\(name)\" was started with \(what) \(stored), not \(given); its record belongs to those settings. Start a new session with --name (the 30-day record starts again)"
                    )
                }
            }
            try check("symbol", info.symbol, symbol)
            try check("interval", info.interval.description, interval.description)
            // Account and venue values given now (a flag, or the file's account: and venue:) must be
            // the session's own; without any, the session goes on with what it stored.
            if explicitVenue {
                try check("capital", stored.capital.description, capital.description)
                var givenVenue = venue
                givenVenue.lotSize = lotOverride ?? stored.venue.lotSize
                try check("venue settings", PaperSettings.text(stored.venue), PaperSettings.text(givenVenue))
                if let minNotionalOverride {
                    try check("minimum notional", stored.rules.minNotional.description, minNotionalOverride.description)
                }
            }
            venueSettings = stored
        } else {
            var rules: MarketRules
            do { rules = try await client.marketRules(symbol: symbol) } catch {
                throw CLIError("paper \(name): cannot read \(symbol)'s trading rules from Binance USD-M: \(error); try again")
            }
            if let lotOverride { rules.lotSize = lotOverride }
            if let minNotionalOverride { rules.minNotional = minNotionalOverride }
            venueSettings = PaperVenueSettings(capital: capital, rules: rules, venue: venue)
        }
        var settings = LiveSettings(name: name, venueName: venueSettings.text, bot: bot, botText: botText, sizeFraction: .one)
        settings.symbol = symbol
        settings.interval = interval
        settings.warmup = warmup
        settings.isolated = venueSettings.venue.marginMode == .isolated
        // The venue's clock decides which bars have closed, as in live trading; paper goes on
        // with this machine's clock when the venue's cannot be read.
        let clock = VenueSyncedClock(local: SystemPaperClock()) { try await client.serverTime() }
        do { try await clock.sync() } catch {
            printError("paper \(name): cannot read Binance USD-M's clock (\(error)); using this machine's")
        }
        let created = try LiveTrader.creationTime(store: store, now: clock.now())
        var logger = Logger(label: "nmrperp.paper.\(name)") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = Environment.values["NMRPERP_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        var trader = LiveTrader(
            settings: settings, store: store, venue: venueSettings.makeVenue(time: clock.now(), interval: interval),
            rules: venueSettings.rules, feed: BinanceUSDMPaperFeed(client: client, symbol: symbol, interval: interval), clock: clock,
            logger: logger, created: created)
        trader.signalSources = sources
        let progress = ProgressBar("paper \(name): fetching bars")
        trader.fetchProgress = { done, expected in
            progress.update(done, expected)
            if done >= expected { progress.finish() }
        }
        let replayed: Int
        do { replayed = try await trader.start(pid: getpid()) } catch {
            trader.end(status: "failed")
            throw CLIError("paper \(name) did not start: \(error)")
        }
        printError(
            replayed > 0
                ? "paper \(name): resumed from \(path) (\(replayed) inputs replayed, simulated venue rebuilt and reconciled)"
                : "paper \(name): new session in \(path); warming up on \(warmup) of \(symbol) \(self.interval) bars")
        let beyond = bot.beyondSpec()
        if !beyond.isEmpty { printError("paper \(name): beyond the spec's risk limits: " + beyond.joined(separator: "; ")) }
        let line = StatusLine(json: json)
        let maxPolls = self.maxPolls
        let capital = venueSettings.capital
        let schedule =
            venueSettings.venue.marginSchedule
            ?? .fractions(initial: venueSettings.venue.maintenanceFraction, maintenance: venueSettings.venue.maintenanceFraction)
        let task = Task { [trader] in
            var trader = trader
            var polls = 0
            defer { trader.close() }
            while maxPolls.map({ polls < $0 }) ?? true {
                try Task.checkCancellation()
                guard var status = try await trader.poll() else { break }
                polls += 1
                status.premium = try? await client.premiumIndex(symbol: symbol)
                line.show(status, capital: capital, schedule: schedule, beyondSpec: !beyond.isEmpty)
                if maxPolls.map({ polls >= $0 }) ?? false { break }
                try await clock.sleep(until: trader.nextPollTime(after: clock.now()))
            }
            trader.end(status: "finished")
            return trader
        }
        let signalHandlers = Interrupts.cancel(task)
        defer { signalHandlers.remove() }
        do {
            _ = try await task.value
            line.finish()
        } catch {
            line.finish()
            trader.end(status: task.isCancelled ? "interrupted" : "failed")
            if task.isCancelled {
                printError("paper \(name): stopped; everything up to the last poll is saved in \(path). Run the same command to continue.")
                return
            }
            throw CLIError("paper \(name) stopped: \(error). Nothing is lost: run the same command to continue from the last poll.")
        }
    }
}

/// The live status line: redrawn in place on a terminal, one line per poll otherwise; journal
/// rows printed above it as they happen.
final class StatusLine: @unchecked Sendable {
    let json: Bool
    let terminal = isatty(STDERR_FILENO) != 0
    private let lock = NSLock()
    private var drawn = false

    init(json: Bool) { self.json = json }

    func show(_ status: PaperStatus) {
        lock.withLock {
            if json {
                // One line per poll, written at once (print would sit in stdout's buffer when it
                // is a pipe or a file): `| head -1` sees the first poll, a kill loses nothing.
                FileHandle.standardOutput.write(Data((PaperReport.json(status).serialized(pretty: false) + "\n").utf8))
                return
            }
            var text = ""
            if drawn && terminal { text += "\r\u{1B}[2K" }
            for row in status.newJournalRows where row.event != .funding || !terminal {
                text += "  " + PaperReport.describe(row) + "\n"
            }
            text += PaperReport.line(status)
            text += terminal ? "" : "\n"
            FileHandle.standardError.write(Data(text.utf8))
            drawn = true
        }
    }

    /// A paper session on the execution layer.
    func show(_ status: LiveStatus, capital: Notional, schedule: MarginSchedule? = nil, beyondSpec: Bool = false, replay: Bool = false) {
        lock.withLock {
            if json {
                let line =
                    PaperReport.json(status, capital: capital, schedule: schedule, beyondSpec: beyondSpec).serialized(pretty: false) + "\n"
                FileHandle.standardOutput.write(Data(line.utf8))
                return
            }
            var text = ""
            if drawn && terminal { text += "\r\u{1B}[2K" }
            for row in status.newJournal where row.event != "funding" || !terminal {
                text += "  " + PaperReport.describe(row) + "\n"
            }
            let columns = terminal ? terminalColumns() : nil
            text += fitted(
                PaperReport.line(status, capital: capital, schedule: schedule, beyondSpec: beyondSpec, replay: replay), columns: columns)
            text += terminal ? "" : "\n"
            FileHandle.standardError.write(Data(text.utf8))
            drawn = true
        }
    }

    func finish() {
        lock.withLock {
            if drawn && terminal && !json { FileHandle.standardError.write(Data("\n".utf8)) }
            drawn = false
        }
    }
}

enum PaperReport {
    static func describe(_ row: JournalEntry) -> String {
        var parts = [String(row.time.iso8601.prefix(16)).replacingOccurrences(of: "T", with: " "), row.event.rawValue]
        if let side = row.side { parts.append(side.rawValue) }
        if let quantity = row.quantity { parts.append("\(quantity)") }
        if let price = row.price { parts.append("@ \(price)") }
        if let pnl = row.pnl { parts.append("pnl \(pnl)") }
        if let funding = row.funding { parts.append("funding \(funding)") }
        return parts.joined(separator: " ") + ": " + row.reason
    }

    static func position(_ account: AccountSnapshot) -> String {
        guard !account.position.isZero else { return "flat" }
        let side = account.position.isPositive ? "long" : "short"
        var text = "\(side) \(account.position.magnitude)"
        if let entry = account.entryPrice { text += " @ \(entry)" }
        if let liquidation = account.liquidationPrice { text += " (liq \(liquidation))" }
        return text
    }

    static func line(_ status: PaperStatus) -> String {
        let time = String(status.now.iso8601.prefix(16)).replacingOccurrences(of: "T", with: " ")
        let price = status.lastBar.map { "\($0.close)" } ?? "—"
        let change = status.account.equity.doubleValue / status.startingEquity.doubleValue - 1
        let days = status.record.liveDays(interval: status.interval)
        var parts = [
            "\(time) UTC", "last \(price)", position(status.account),
            "equity \(formatFixed(status.account.equity.doubleValue, 2)) (\(change >= 0 ? "+" : "")\(percent(change)))",
            status.riskState.name,
            status.live ? "live" : "catching up", "record \(formatFixed(days, 1))/\(PaperRecord.requiredDays) d",
            "entries \(status.trades)",
        ]
        if let premium = status.premium {
            var text = "mark \(premium.mark)"
            if let rate = premium.fundingRate {
                text += ", funding \(formatFixed(rate.doubleValue * 100, 4)) %"
                if let next = premium.nextFundingTime { text += " at \(String(next.iso8601.dropFirst(11).prefix(5)))" }
            }
            parts.insert(text, at: 2)
        }
        if let problem = status.problem { parts.append("⚠ \(problem)") }
        return parts.joined(separator: "  ")
    }

    /// A journal line of a session on the execution layer: the kernel's rows and the orders'.
    static func describe(_ row: LiveJournalRow) -> String {
        let json = (try? JSONParser.parse(row.line)) ?? .null
        var parts = [String(row.time.iso8601.prefix(16)).replacingOccurrences(of: "T", with: " "), row.event]
        if let kind = json["kind"]?.stringValue { parts.append(kind) }
        for key in ["side", "quantity", "price", "pnl", "funding_paid", "funding", "client_id"] {
            guard let value = json[key], value != .null else { continue }
            let text = value.stringValue ?? value.numericText ?? value.serialized(pretty: false)
            switch key {
            case "price": parts.append("@ \(text)")
            case "pnl", "funding": parts.append("\(key) \(text)")
            case "funding_paid": parts.append("funding \(text)")
            default: parts.append(text)
            }
        }
        return parts.joined(separator: " ") + ": " + (json["reason"]?.stringValue ?? "")
    }

    /// Position, equity, state and record of a session on the execution layer.
    static func position(_ status: LiveStatus) -> String {
        guard !status.position.isZero else { return "flat" }
        var text = "\(status.position.isPositive ? "long" : "short") \(status.position.magnitude)"
        if let entry = status.averageEntry { text += " @ \(entry)" }
        return text
    }

    /// `replay`: a `paper --replay` session, whose days are no paper record (the line says so
    /// instead of counting them).
    static func line(
        _ status: LiveStatus, capital: Notional, schedule: MarginSchedule? = nil, beyondSpec: Bool = false, replay: Bool = false
    ) -> String {
        let time = String(status.now.iso8601.prefix(16)).replacingOccurrences(of: "T", with: " ")
        let price = status.lastBar.map { "\($0.close)" } ?? "—"
        var parts = ["\(time) UTC", "last \(price)", position(status)]
        parts += StatusFigures(status, schedule: schedule).parts
        if beyondSpec { parts.append("beyond spec") }
        if let equity = status.equity {
            let change = equity.doubleValue / capital.doubleValue - 1
            parts.append("equity \(equity.money) (\(change >= 0 ? "+" : "")\(percent(change)))")
        }
        if !status.openOrders.isEmpty { parts.append("orders \(status.openOrders.count)") }
        if case .halted(let why) = status.gate { parts.append("HALTED: \(why)") }
        parts += [
            status.riskState.name, feed(status),
            replay
                ? "replay (no paper record)"
                : "record \(formatFixed(status.record.liveDays(interval: status.interval), 1))/\(PaperRecord.requiredDays) d",
            "entries \(status.entries)",
        ]
        if let premium = status.premium {
            var text = "mark \(premium.mark)"
            if let rate = premium.fundingRate {
                text += ", funding \(formatFixed(rate.doubleValue * 100, 4)) %"
                if let next = premium.nextFundingTime { text += " at \(String(next.iso8601.dropFirst(11).prefix(5)))" }
            }
            parts.insert(text, at: 2)
        }
        if let problem = status.problem { parts.append("⚠ \(problem)") }
        return parts.joined(separator: "  ")
    }

    /// "waiting for data" until a bar arrives, "no new bar for 7m" when the feed has gone quiet
    /// for more than two bars (the network, or the venue), then "live" or "catching up".
    static func feed(_ status: LiveStatus) -> String {
        guard let bar = status.lastBar else { return "waiting for data" }
        let interval = max(status.interval.milliseconds, 1)
        let silent = status.now.milliseconds - (bar.openTime.milliseconds + interval)
        if silent > 2 * interval { return "no new bar for \(TimeSpan(milliseconds: silent / 60_000 * 60_000))" }
        return status.live ? "live" : "catching up"
    }

    static func json(_ status: LiveStatus, capital: Notional, schedule: MarginSchedule? = nil, beyondSpec: Bool = false) -> JSONValue {
        .object(
            jsonMembers(status, capital: capital) + StatusFigures(status, schedule: schedule).json + [
                ("feed", .string(feed(status))), ("beyond_spec", .bool(beyondSpec)),
            ]
        )
    }

    static func jsonMembers(_ status: LiveStatus, capital: Notional) -> [(String, JSONValue)] {
        ([
            ("time", .string(status.now.iso8601)), ("last_bar_time", status.lastBar.map { .string($0.openTime.iso8601) } ?? .null),
            ("close", status.lastBar.map { .exact($0.close) } ?? .null), ("position", .exact(status.position)),
            ("entry_price", status.averageEntry.map { .exact($0) } ?? .null), ("equity", status.equity.map { .exact($0) } ?? .null),
            ("capital", .exact(capital)), ("state", .string(status.riskState.name)), ("live", .bool(status.live)),
            ("record_days", .double(status.record.liveDays(interval: status.interval))), ("entries", .int(Int64(status.entries))),
            ("open_orders", .int(Int64(status.openOrders.count))), ("new_bars", .int(Int64(status.newBars))),
            ("journal", .array(status.newJournal.map { JournalEntry.currentVocabulary($0.line) })),
            ("problem", status.problem.map { .string($0) } ?? .null),
            ("mark", status.premium.map { .exact($0.mark) } ?? .null),
            ("funding_rate", status.premium?.fundingRate.map { .exact($0) } ?? .null),
        ])
    }

    static func gate(_ gate: ExecutionGate) -> String {
        switch gate {
        case .awaitingReconciliation: return "awaiting reconciliation"
        case .open: return "open"
        case .reducing(let why): return "reducing only (\(why))"
        case .halted(let why): return "halted (\(why))"
        }
    }

    static func json(_ status: PaperStatus) -> JSONValue {
        .object([
            ("time", .string(status.now.iso8601)), ("last_bar_time", status.lastBar.map { .string($0.openTime.iso8601) } ?? .null),
            ("close", status.lastBar.map { .exact($0.close) } ?? .null), ("position", .exact(status.account.position)),
            ("entry_price", status.account.entryPrice.map { .exact($0) } ?? .null), ("equity", .exact(status.account.equity)),
            ("state", .string(status.riskState.name)), ("live", .bool(status.live)),
            ("record_days", .double(status.record.liveDays(interval: status.interval))), ("entries", .int(Int64(status.trades))),
            ("new_bars", .int(Int64(status.newBars))), ("journal", .array(status.newJournalRows.map(\.json))),
            ("problem", status.problem.map { .string($0) } ?? .null),
            ("mark", status.premium.map { .exact($0.mark) } ?? .null),
            ("funding_rate", status.premium?.fundingRate.map { .exact($0) } ?? .null),
        ])
    }
}

struct PaperStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The paper record of a session: live days toward the 30 spec §4 requires, return, drawdown, trades.")

    @Option(help: "Session name.") var name = "default"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        guard PaperFiles.isLegacy(path: try PaperFiles.path(name: name)) else {
            try showExecutionLayer()
            return
        }
        let (store, info, replayed) = try PaperFiles.openVerified(name: name)
        let session = replayed.session
        let running = PaperFiles.running(name: name)
        let record = session.record
        let account = session.account
        let days = record.liveDays(interval: info.interval)
        let complete = record.isComplete(interval: info.interval)
        let sharpe = PerformanceMetrics.sharpe(equities: record.dailyEquity.map(\.equity.raw), periodsPerYear: 365)
        let entries = session.journal.filter { $0.event == .entry }.count
        let change = account.equity.doubleValue / info.capital.doubleValue - 1
        if json {
            var fields: [(String, JSONValue)] = [
                ("name", .string(info.name)), ("file", .string(store.path)), ("symbol", .string(info.symbol)),
                ("interval", .string(info.interval.description)), ("start", .string(info.created.iso8601)),
                ("engine", .string("backtester")), ("capital", .exact(info.capital)), ("equity", .exact(account.equity)),
                ("return", .double(change)),
            ]
            fields += [
                ("max_drawdown", .double(record.maxDrawdown)), ("sharpe", sharpe.map { .double($0) } ?? .null),
                ("entries", .int(Int64(entries))), ("fees", .exact(account.feesPaid)), ("funding_paid", .exact(account.fundingPaid)),
                ("liquidations", .int(Int64(account.liquidations))),
            ]
            fields += [
                ("live_days", .double(days)), ("required_days", .int(Int64(PaperRecord.requiredDays))),
                ("record_complete", .bool(complete)), ("bad_data", .int(Int64(record.badData))),
                ("stale_episodes", .int(Int64(record.staleEpisodes))),
                ("last_bar_time", record.lastBar.map { .string($0.iso8601) } ?? .null), ("position", .exact(account.position)),
                ("running", .bool(running != nil)), ("process", running.map { .string($0) } ?? .null),
            ]
            emit(json: .object(fields))
            return
        }
        let sign = change >= 0 ? "+" : ""
        let verdict =
            complete ? "complete; live trading may start at 10 % of the intended size (spec §4)" : "live trading stays locked"
        var rows: [(String, String)] = [
            ("session", "\(info.name) (\(store.path))"), ("process", running ?? "not running"),
            ("market", "\(info.venue) \(info.symbol) \(info.interval) bars (the earlier paper engine, kept for this session's record)"),
            ("started", info.created.iso8601), ("last bar", record.lastBar?.iso8601 ?? "none yet"), ("capital", "\(info.capital)"),
        ]
        rows += [
            ("equity", "\(formatFixed(account.equity.doubleValue, 2)) (\(sign)\(percent(change)))"),
            ("position", PaperReport.position(account)), ("risk state", session.riskState.name),
            ("max drawdown", percent(record.maxDrawdown)), ("Sharpe (daily, ×√365)", sharpe.map { formatFixed($0, 2) } ?? "n/a"),
        ]
        rows += [
            ("entries", "\(entries)"), ("fees", "\(account.feesPaid)"), ("funding paid", "\(account.fundingPaid)"),
            ("liquidations", "\(account.liquidations)"), ("bad data rows", "\(record.badData)"),
            ("stale episodes", "\(record.staleEpisodes)"),
            ("paper record", "\(formatFixed(days, 1)) of \(PaperRecord.requiredDays) live days: \(verdict)"),
        ]
        print(TextTable.pairs(rows))
    }
}

extension PaperStatusCommand {
    /// `paper status` for a session on the execution layer.
    func showExecutionLayer() throws {
        let replayed = try PaperFiles.openReplayed(name: name)
        let (store, info, session) = (replayed.store, replayed.info, replayed.session)
        let capital = replayed.venue.capital
        let running = PaperFiles.running(name: name)
        let record = session.record
        let engine = session.engine
        let status = LiveStatus(session: session, now: record.lastBar ?? info.created, interval: info.interval, sizeFraction: .one)
        let equity = status.equity ?? capital
        // A replay's bars were recorded, not live: its days are no paper record (spec §4).
        let isReplay = PaperFiles.isReplay(info)
        let days = isReplay ? 0 : record.liveDays(interval: info.interval)
        let complete = !isReplay && record.isComplete(interval: info.interval)
        let sharpe = PerformanceMetrics.sharpe(equities: record.dailyEquity.map(\.equity.raw), periodsPerYear: 365)
        let change = equity.doubleValue / capital.doubleValue - 1
        let fees = engine.orders.reduce(Notional.zero) { (try? $0.adding($1.fee, "fees")) ?? $0 }
        if json {
            var fields: [(String, JSONValue)] = [
                ("name", .string(info.name)), ("file", .string(store.path)), ("symbol", .string(info.symbol)),
                ("interval", .string(info.interval.description)), ("start", .string(info.created.iso8601)),
                ("engine", .string("execution")), ("capital", .exact(capital)), ("equity", .exact(equity)), ("return", .double(change)),
            ]
            fields += [
                ("max_drawdown", .double(record.maxDrawdown)), ("sharpe", sharpe.map { .double($0) } ?? .null),
                ("entries", .int(Int64(session.entries))), ("orders", .int(Int64(engine.orders.count))), ("fees", .exact(fees)),
                ("gate", .string(PaperReport.gate(engine.gate))),
            ]
            fields += [
                ("live_days", .double(days)), ("required_days", .int(Int64(PaperRecord.requiredDays))),
                ("record_complete", .bool(complete)), ("replay", .bool(isReplay)), ("bad_data", .int(Int64(record.badData))),
                ("stale_episodes", .int(Int64(record.staleEpisodes))),
                ("last_bar_time", record.lastBar.map { .string($0.iso8601) } ?? .null), ("position", .exact(engine.position)),
                ("running", .bool(running != nil)), ("process", running.map { .string($0) } ?? .null),
            ]
            emit(json: .object(fields))
            return
        }
        let sign = change >= 0 ? "+" : ""
        let verdict =
            isReplay
            ? "a replay of recorded bars (paper --replay): not a paper record, live trading stays locked"
            : complete ? "complete; live trading may start at 10 % of the intended size (spec §4)" : "live trading stays locked"
        var rows: [(String, String)] = [
            ("session", "\(info.name) (\(store.path))"), ("process", running ?? "not running"),
            (
                "market",
                "\(info.symbol) \(info.interval) bars, simulated venue (the execution layer's, as live)"
                    + (isReplay ? "; recorded bars replayed" : "")
            ),
            ("started", info.created.iso8601), ("last bar", record.lastBar?.iso8601 ?? "none yet"), ("capital", "\(capital)"),
        ]
        rows += [
            ("equity", "\(formatFixed(equity.doubleValue, 2)) (\(sign)\(percent(change)))"),
            ("position", PaperReport.position(status)), ("open orders", "\(engine.openOrders.count)"),
            ("trading", PaperReport.gate(engine.gate)), ("risk state", session.kernel.state.name),
            ("max drawdown", percent(record.maxDrawdown)), ("Sharpe (daily, ×√365)", sharpe.map { formatFixed($0, 2) } ?? "n/a"),
        ]
        rows += [
            ("entries", "\(session.entries)"), ("orders", "\(engine.orders.count)"), ("fees", "\(fees)"),
            ("bad data rows", "\(record.badData)"), ("stale episodes", "\(record.staleEpisodes)"),
            ("paper record", "\(formatFixed(days, 1)) of \(PaperRecord.requiredDays) live days: \(verdict)"),
        ]
        print(TextTable.pairs(rows))
    }
}

struct PaperJournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Export a paper session's journal as JSON Lines (time, event, side, price, quantity, leverage, reason, …).")

    @Option(help: "Session name.") var name = "default"
    @Option(help: "Write here instead of standard output.") var out: String?
    @Flag(help: "Replace output files that already exist.") var force = false
    @Flag(help: "Print one JSON object (the rows, or the file written) instead of JSON Lines.") var json = false

    func run() async throws {
        guard PaperFiles.isLegacy(path: try PaperFiles.path(name: name)) else {
            let replayed = try PaperFiles.openReplayed(name: name)
            try exportJournalLines(name: name, lines: try replayed.store.journal().map(\.line), out: out, force: force, json: json)
            return
        }
        let (store, _, replayed) = try PaperFiles.openVerified(name: name)
        let lines = (try store.journal() + replayed.unstoredRows).map { $0.json.serialized(pretty: false) }
        try exportJournalLines(name: name, lines: lines, out: out, force: force, json: json)
    }
}
