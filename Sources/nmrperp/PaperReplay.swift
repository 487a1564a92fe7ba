import Foundation
import Logging
import PerpConfig
import PerpEngine
import PerpExecution
import PerpLive
import PerpModel
import PerpSimulation
import PerpStore

extension PaperRunCommand {
    /// `paper --replay FILE`: the paper runtime itself (``LiveTrader`` on the simulated venue in
    /// paper mode, the same kernel, orders, store and status line) on recorded bars instead of
    /// Binance's, with a clock that jumps to each poll at once or at `--speed` times real time.
    /// No network; the session is a normal paper session file, so `paper status`, `paper
    /// journal` and the dashboard read it, and the bot's first `--warmup` of the recording only
    /// warms the signals up.
    func runReplay(
        _ file: String, configuration: ConfigFile, bot: BotConfig, botText: String, interval: TimeSpan?, warmup: TimeSpan,
        sources: [any SignalSource]
    ) async throws {
        let name = self.name == "default" ? "replay" : self.name
        let range = try timeRange.range()
        let series = try Load.candles(file, flag: "--replay", range: range)
        let rates = try replayFunding.map { try Load.funding($0, defaultInterval: .hours(8), range: range) } ?? []
        guard let barInterval = series.barInterval else { throw CLIError("\(file): a replay needs at least two bars") }
        if let interval, interval != barInterval {
            throw CLIError("--interval \(interval) does not match \(file)'s bars (\(barInterval)); leave --interval out for a replay")
        }
        let bars = series.candles
        guard let first = bars.first, let last = bars.last else { throw CLIError("\(file): no bars to replay") }
        let start = first.openTime + warmup + barInterval + TimeSpan.seconds(2)
        guard start <= last.openTime + barInterval + TimeSpan.seconds(2) else {
            throw CLIError(
                "\(file) holds \(bars.count) bars, all inside the \(warmup) warm-up: nothing would be traded. Use a longer recording or a shorter --warmup"
            )
        }
        let speed: Double? = try self.speed.map { text in
            guard let value = Double(text), value.isFinite, value > 0, value <= 1e9 else {
                throw CLIError("--speed must be a positive multiple of real time, e.g. --speed 3600 (got \"\(Parse.clipped(text))\")")
            }
            return value
        }
        let path = try PaperFiles.path(name: name)
        let sessionLock = try PaperFiles.lock(name: name)
        defer { sessionLock.release() }
        if FileManager.default.fileExists(atPath: path) {
            guard force else {
                throw CLIError(
                    "paper session \"\(name)\" already exists (\(path)); a replay starts a new one: choose another --name, or add --force to replace it"
                )
            }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let trading = configuration.trading
        let rules = MarketRules(
            symbol: symbol.uppercased(), tickSize: trading.tickSize, lotSize: trading.lotSize, maxMarketQuantity: CarryLimit.quantity,
            minNotional: trading.minNotional)
        let venueSettings = PaperVenueSettings(capital: trading.capital, rules: rules, venue: trading.venueConfig)
        let clock = ReplayClock(start: start, speed: speed)
        // `replay=yes` marks the session: its days are no paper record for the live gate.
        var settings = LiveSettings(
            name: name, venueName: venueSettings.text + " replay=yes", bot: bot, botText: botText, sizeFraction: .one)
        settings.symbol = rules.symbol
        settings.interval = barInterval
        settings.warmup = warmup
        settings.isolated = venueSettings.venue.marginMode == .isolated
        // Replay time moves in jumps: the periodic work runs once an hour of it, not every few
        // seconds of it, as the synthetic sessions do.
        // (at least a bar: daily bars would otherwise poll 24 times a bar).
        let hourOrBar = TimeSpan(milliseconds: max(TimeSpan.hours(1).milliseconds, barInterval.milliseconds))
        settings.reconcileEvery = hourOrBar
        settings.heartbeatEvery = hourOrBar
        let store = try LiveStore(path: path)
        var logger = Logger(label: "nmrperp.paper.\(name)") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = Environment.values["NMRPERP_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        var trader = LiveTrader(
            settings: settings, store: store, venue: venueSettings.makeVenue(time: clock.now(), interval: barInterval),
            rules: rules, feed: RecordedFeed(bars: bars, interval: barInterval, funding: rates, clock: clock), clock: clock,
            logger: logger, created: clock.now())
        trader.signalSources = sources
        do { _ = try await trader.start(pid: getpid()) } catch {
            trader.end(status: "failed")
            throw CLIError("paper \(name) did not start: \(error)")
        }
        let pace = speed.map { "at \(formatDouble($0, significant: 6))x real time" } ?? "as fast as it computes"
        printError(
            "paper \(name): replaying \(bars.count) bars of \(file) (\(first.openTime.iso8601) → \(last.openTime.iso8601)) \(pace); session in \(path)"
        )
        if bot.risk.staleAfter <= barInterval {
            printError(
                "paper \(name): note: risk.stale_after (\(bot.risk.staleAfter)) is not longer than the bars (\(barInterval)): the bot will call every bar stale and make no entry; set risk.stale_after above \(barInterval) in the configuration"
            )
        }
        let beyond = bot.beyondSpec()
        if !beyond.isEmpty { printError("paper \(name): beyond the spec's risk limits: " + beyond.joined(separator: "; ")) }
        let line = StatusLine(json: json)
        let maxPolls = self.maxPolls
        let capital = venueSettings.capital
        let schedule = trading.marginSchedule
        let end = last.openTime + barInterval
        let task = Task { [trader] in
            var trader = trader
            var polls = 0
            var lastStatus: LiveStatus?
            defer { trader.close() }
            while maxPolls.map({ polls < $0 }) ?? true {
                try Task.checkCancellation()
                guard let status = try await trader.poll() else { break }
                polls += 1
                lastStatus = status
                line.show(status, capital: capital, schedule: schedule, beyondSpec: !beyond.isEmpty, replay: true)
                if clock.now() >= end { break }
                try await clock.sleep(until: trader.nextPollTime(after: clock.now()))
            }
            trader.end(status: "finished")
            return lastStatus
        }
        let signalHandlers = Interrupts.cancel(task)
        defer { signalHandlers.remove() }
        do {
            let status = try await task.value
            line.finish()
            let equity = status?.equity.map { "equity \($0.money) from \(capital.money)" } ?? "no bar was traded"
            printError(
                "paper \(name): replay finished; \(equity). `nmrperp paper status --name \(name)` and `paper journal --name \(name)` read it."
            )
        } catch {
            line.finish()
            if task.isCancelled {
                printError("paper \(name): replay stopped; what it did up to the last poll is saved in \(path)")
                return
            }
            throw CLIError("paper \(name) replay stopped: \(error)")
        }
    }
}
