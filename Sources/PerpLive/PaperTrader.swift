import Foundation
import PerpEngine
import PerpModel
import PerpSimulation
import PerpStore
import PerpVenues

/// Where paper trading reads the market: closed bars and funding settlements.
public protocol PaperFeed: Sendable {
    /// Rows of bars opening at or after `from`, oldest first (the last may still be forming).
    func bars(from: Timestamp, limit: Int) async throws -> [BinanceUSDMClient.KlineRow]
    /// Settlements with `from ≤ time < to`, each with the mark price it settled at.
    func funding(from: Timestamp, to: Timestamp) async throws -> [(rate: FundingRate, mark: Price?)]
    /// The mark price and the funding accruing now (shown, never traded on: not stored).
    func premium() async throws -> BinanceUSDMClient.PremiumIndex
}

extension PaperFeed {
    /// The rows of the bars that closed from `from` up to `now`, oldest first: pages of 1,000
    /// (as many as the span needs, plus one), stopping at the first bar still forming;
    /// `progress` hears bars fetched and bars expected when more than one page is expected
    /// (warm-up, catch-up after downtime).
    func closedRows(
        from: Timestamp, now: Timestamp, interval: TimeSpan, progress: (@Sendable (_ done: Int, _ expected: Int) -> Void)?
    ) async throws -> [BinanceUSDMClient.KlineRow] {
        var rows: [BinanceUSDMClient.KlineRow] = []
        var cursor = from
        let expectedBars = Int(max(0, (now.milliseconds - from.milliseconds) / interval.milliseconds))
        pageLoop: for _ in 0..<(expectedBars / 1000 + 2) {
            let page = try await bars(from: cursor, limit: 1000)
            var last: Timestamp?
            for row in page {
                let openTime: Timestamp?
                switch row {
                case .bar(let candle): openTime = candle.openTime
                case .bad(let time, _): openTime = time
                }
                if let openTime {
                    guard openTime + interval <= now else { break pageLoop }  // still forming
                    last = openTime
                }
                rows.append(row)
            }
            if expectedBars > 1000 { progress?(min(rows.count, expectedBars), expectedBars) }
            guard page.count >= 1000, let last else { break }
            cursor = last + interval
        }
        if expectedBars > 1000 { progress?(expectedBars, expectedBars) }
        return rows
    }
}

/// Binance USD-M (`/fapi/v1/klines`, `/fapi/v1/fundingRate`) as a paper feed, by polling.
public struct BinanceUSDMPaperFeed: PaperFeed {
    public let client: BinanceUSDMClient
    public let symbol: String
    public let interval: TimeSpan

    public init(client: BinanceUSDMClient, symbol: String, interval: TimeSpan) {
        self.client = client
        self.symbol = symbol
        self.interval = interval
    }

    public func bars(from: Timestamp, limit: Int) async throws -> [BinanceUSDMClient.KlineRow] {
        try await client.klineRows(symbol: symbol, interval: interval, from: from, limit: limit)
    }

    public func funding(from: Timestamp, to: Timestamp) async throws -> [(rate: FundingRate, mark: Price?)] {
        try await client.fundingSettlements(symbol: symbol, from: from, to: to)
    }

    public func premium() async throws -> BinanceUSDMClient.PremiumIndex {
        try await client.premiumIndex(symbol: symbol)
    }
}

/// Time for the shell: read it and wait for it (house style: time is an input; tests use a
/// manual clock that jumps instead of sleeping).
public protocol PaperClock: Sendable {
    func now() -> Timestamp
    /// Returns at or after `time`; throws `CancellationError` when the task is cancelled.
    func sleep(until time: Timestamp) async throws
}

/// The system clock.
public struct SystemPaperClock: PaperClock {
    public init() {}
    public func now() -> Timestamp { Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }
    public func sleep(until time: Timestamp) async throws {
        let wait = time.milliseconds - now().milliseconds
        if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
        try Task.checkCancellation()
    }
}

/// Why paper trading stopped or refused to start.
public enum PaperError: Error, CustomStringConvertible, Sendable {
    /// The stored session was started with other settings.
    case settingsChanged(path: String, what: String, stored: String, given: String)
    /// Replaying the stored events did not reproduce the stored journal.
    case diverged(path: String, row: Int, stored: String, replayed: String)
    /// The journal holds more rows than its events produce: rows the events cannot explain.
    case journalAhead(path: String, stored: Int, replayed: Int)
    /// Two processes traded the session at once (builds before the session lock allowed it):
    /// bars stored twice, and journal rows written by each.
    case doubledWrites(path: String, bars: Int, firstBar: Timestamp, journalRows: Int)

    public var description: String {
        switch self {
        case .settingsChanged(let path, let what, let stored, let given):
            return
                "paper session \(path) was started with \(what) \(stored), not \(given); its record belongs to those settings. Start a new session with --name (the 30-day record starts again)"
        case .diverged(let path, let row, let stored, let replayed):
            return
                "paper session \(path): replaying its events gives a different journal at row \(row) (stored: \(stored); replayed: \(replayed)); the bot's configuration or this build changed. Trading stays stopped: start a new session with --name, or run the build that wrote it"
        case .journalAhead(let path, let stored, let replayed):
            return
                "paper session \(path): the journal has \(stored) rows but replaying its events gives only \(replayed); the file was edited or damaged. Trading stays stopped until you look at it"
        case .doubledWrites(let path, let bars, let firstBar, let rows):
            return
                "paper session \(path) was run by two processes at once (an older build did not stop the second): \(bars) \(bars == 1 ? "bar was" : "bars were") stored twice, the first at \(firstBar.iso8601), and \(rows) journal \(rows == 1 ? "row is" : "rows are") doubled, so its record cannot be trusted. Nothing changed in the configuration. Keep the file to look at, and start a new session with --name (the 30-day record starts again)"
        }
    }
}

/// The checks every command runs on a stored paper session before using it (`paper`,
/// `paper status`, `paper journal`): SQLite's integrity check, every event and journal row
/// read back, the events replayed through a fresh session, and the replay's journal compared
/// with the stored one row for row. A session that fails is unusable: nothing trades on it and
/// nothing reports from it.
public enum PaperIntegrity {
    /// A session that passed.
    public struct Replayed: Sendable {
        /// The state the stored events give.
        public var session: PaperSession
        /// How many events were replayed.
        public var events: Int
        /// Journal rows the events give beyond the stored ones (a crash between the two writes;
        /// never expected, as they share a transaction). `paper` writes them; readers show them.
        public var unstoredRows: [JournalEntry]
    }

    /// Replays `store` into `session` (fresh, built from the session's stored settings) and
    /// checks it. Throws ``PaperError`` or `StoreError` saying why the session is unusable.
    public static func replay(_ store: PaperStore, into fresh: PaperSession) throws -> Replayed {
        try store.checkIntegrity()
        let events = try store.events()
        let stored = try store.journal()
        var session = fresh
        var replayed: [JournalEntry] = []
        for event in events { replayed += session.apply(event) }
        let mismatch = stored.count > replayed.count || zip(stored, replayed).contains { $0 != $1 }
        if mismatch, let doubled = doubledWrites(events: events, journal: stored, path: store.path) { throw doubled }
        guard stored.count <= replayed.count else {
            throw PaperError.journalAhead(path: store.path, stored: stored.count, replayed: replayed.count)
        }
        for (index, row) in stored.enumerated() where row != replayed[index] {
            throw PaperError.diverged(
                path: store.path, row: index + 1, stored: JournalJSONL.render([row]).trimmingCharacters(in: .newlines),
                replayed: JournalJSONL.render([replayed[index]]).trimmingCharacters(in: .newlines))
        }
        return Replayed(session: session, events: events.count, unstoredRows: Array(replayed[stored.count...]))
    }

    /// The trace two processes leave when both trade one session: the same bar stored twice.
    /// Only asked when the replay does not match (a venue that repeats a bar gives a stored
    /// duplicate too, but then the journal says so and the replay matches).
    static func doubledWrites(events: [PaperEvent], journal: [JournalEntry], path: String) -> PaperError? {
        var seen = Set<Int64>()
        var repeated = 0
        var first: Timestamp?
        for event in events {
            guard case .bar(let bar) = event else { continue }
            if !seen.insert(bar.openTime.milliseconds).inserted {
                repeated += 1
                if first == nil { first = bar.openTime }
            }
        }
        guard repeated > 0, let first else { return nil }
        var rows = Set<JournalEntry>()
        let doubledRows = journal.filter { !rows.insert($0).inserted }.count
        return .doubledWrites(path: path, bars: repeated, firstBar: first, journalRows: doubledRows)
    }
}

/// What paper trading shows on its status line.
public struct PaperStatus: Sendable {
    public var now: Timestamp
    public var lastBar: Candle?
    public var account: AccountSnapshot
    public var startingEquity: Notional
    public var riskState: RiskState
    public var live: Bool
    public var record: PaperRecord
    public var interval: TimeSpan
    public var trades: Int
    /// New bars and journal rows in the last poll.
    public var newBars: Int
    public var newJournalRows: [JournalEntry]
    /// A venue problem the trader is riding out (it retries), if any.
    public var problem: String?
    /// The venue's mark price and accruing funding at the poll, when it answered.
    public var premium: BinanceUSDMClient.PremiumIndex?
}

/// Settings of a paper session.
public struct PaperSettings: Sendable {
    public var name: String
    public var venueName = "binance-usdm"
    public var symbol = "NMRUSDT"
    public var interval = TimeSpan.minutes(1)
    public var capital = Notional(10_000)
    public var bot: BotConfig
    /// The bot configuration's text (stored with the session).
    public var botText: String
    public var venue: VenueConfig
    /// Bars fetched before the first live one on a new session, to warm the signals up.
    public var warmup = TimeSpan.hours(24)
    /// A bar that closed longer ago than this is catch-up, not live: signals only, no entries
    /// (default: one bar interval, at least a minute; a poll normally comes seconds after a close).
    public var lateAfter: TimeSpan?
    /// No new bar for this long after the last one closed: the feed is stale (no entries).
    public var staleAfter: TimeSpan?
    /// How long after a bar's close to ask for it (the venue needs a moment to publish it).
    public var pollDelay = TimeSpan.seconds(2)

    public init(name: String, bot: BotConfig, botText: String, venue: VenueConfig) {
        self.name = name
        self.bot = bot
        self.botText = botText
        self.venue = venue
    }

    var effectiveLateAfter: TimeSpan { lateAfter ?? TimeSpan(milliseconds: max(interval.milliseconds, 60_000)) }
    var effectiveStaleAfter: TimeSpan { staleAfter ?? TimeSpan(milliseconds: max(3 * interval.milliseconds, 180_000)) }

    /// The venue settings in one canonical line (stored; a restart must give the same):
    /// `margin=cross maintenance=0.05 taker=0.0005 maker=0.0002 lot=0.1 slippage=0`
    /// (`slippage` a fixed fraction of the price).
    public var venueText: String { Self.text(venue) }

    public static func text(_ venue: VenueConfig) -> String {
        let slippage: String
        switch venue.slippage {
        case .none: slippage = "0"
        case .fixed(let rate): slippage = rate.description
        case .volumeShare(let impact, let cap): slippage = "volume:\(impact):\(cap)"
        }
        var maintenance = venue.maintenanceFraction.description
        if let schedule = venue.marginSchedule, let preset = MarketPreset.all.first(where: { $0.margin == schedule }) {
            maintenance = "market:" + preset.name
        }
        return
            "margin=\(venue.marginMode == .cross ? "cross" : "isolated") maintenance=\(maintenance) taker=\(venue.takerFee) maker=\(venue.makerFee) lot=\(venue.lotSize) slippage=\(slippage)"
    }

    /// The venue settings back from ``text(_:)``, or `nil` when the text is not in that form.
    public static func venue(fromText text: String) -> VenueConfig? {
        var fields: [String: String] = [:]
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            fields[parts[0]] = parts[1]
        }
        var venue = VenueConfig()
        // `market:NAME`: the market preset's schedule (issue 15), else one fraction.
        if let text = fields["maintenance"], text.hasPrefix("market:") {
            guard let preset = MarketPreset.named(String(text.dropFirst("market:".count))) else { return nil }
            venue.marginSchedule = preset.margin
            if case .fractions(_, let rate) = preset.margin {
                fields["maintenance"] = rate.description
            } else {
                fields["maintenance"] = "0.05"
            }
        }
        guard let margin = fields["margin"].flatMap(MarginMode.init(rawValue:)), let maintenance = fields["maintenance"].flatMap(Rate.init),
            let taker = fields["taker"].flatMap(Rate.init), let maker = fields["maker"].flatMap(Rate.init),
            let lot = fields["lot"].flatMap(Quantity.init), let slippage = fields["slippage"]
        else { return nil }
        venue.marginMode = margin
        venue.maintenanceFraction = maintenance
        venue.takerFee = taker
        venue.makerFee = maker
        venue.lotSize = lot
        if slippage.hasPrefix("volume:") {
            let parts = slippage.split(separator: ":").dropFirst().map(String.init)
            guard parts.count == 2, let impact = Rate(parts[0]), let cap = Rate(parts[1]) else { return nil }
            venue.slippage = .volumeShare(impact: impact, cap: cap)
        } else {
            guard let rate = Rate(slippage) else { return nil }
            venue.slippage = rate.isZero ? .none : .fixed(rate)
        }
        return venue
    }
}

/// Paper trading: live bars and funding from a ``PaperFeed`` go, as ``PaperEvent``s, through
/// a ``PaperSession`` (the backtest's venue and the bot's kernel) and into a ``PaperStore``.
///
/// Each poll stores its events with the journal rows they produced in one transaction, and
/// only then adopts the new state, so stopping at any point (Ctrl-C, a crash, a power cut)
/// loses nothing and duplicates nothing: ``start()`` replays the stored events and checks that
/// they give the stored journal back, row for row, before anything new is fetched
/// (reliability.md "State and restarts").
public struct PaperTrader: Sendable {
    public let settings: PaperSettings
    public let store: PaperStore
    public let feed: any PaperFeed
    public let clock: any PaperClock
    /// Sources of the staked-NMR, activity and sentiment series.
    public let signalSources: [any SignalSource]
    public private(set) var session: PaperSession
    /// Bad rows already reported (a bad last row is fetched again by the next poll).
    private var reportedBad: Set<String> = []
    /// Called with bars fetched and bars expected while a poll fetches more than one page
    /// (warm-up, catch-up after downtime).
    public var fetchProgress: (@Sendable (_ done: Int, _ expected: Int) -> Void)?
    private var started = false
    /// Polls in a row that found no new bar although one had closed (a gap at the venue):
    /// the next poll waits longer each time (``nextPollTime(after:)``).
    public private(set) var quietPolls = 0
    /// The bad answer journalled last in the current run of failures (the same one again is
    /// not journalled twice in a row).
    private var lastBadResponse: String?

    public init(
        settings: PaperSettings, store: PaperStore, feed: any PaperFeed, clock: any PaperClock, signalSources: [any SignalSource] = []
    ) {
        self.settings = settings
        self.store = store
        self.feed = feed
        self.clock = clock
        self.signalSources = signalSources
        session = PaperSession(config: settings.bot, venue: settings.venue, capital: settings.capital, interval: settings.interval)
    }

    /// Opens the session: records its settings when new; otherwise checks them, checks the
    /// file's integrity and replays every stored event. Returns how many events were replayed.
    @discardableResult
    public mutating func start() throws -> Int {
        if let info = try store.info() {
            func check(_ what: String, _ stored: String, _ given: String) throws {
                if stored != given { throw PaperError.settingsChanged(path: store.path, what: what, stored: stored, given: given) }
            }
            try check("symbol", "\(info.venue) \(info.symbol)", "\(settings.venueName) \(settings.symbol)")
            try check("interval", info.interval.description, settings.interval.description)
            try check("capital", info.capital.description, settings.capital.description)
            try check("venue settings", info.venueText, settings.venueText)
        } else {
            try store.create(
                PaperSessionInfo(
                    name: settings.name, venue: settings.venueName, symbol: settings.symbol, interval: settings.interval,
                    capital: settings.capital, configText: settings.botText, venueText: settings.venueText, created: clock.now()))
        }
        let replay = try PaperIntegrity.replay(store, into: session)
        session = replay.session
        // Rows a crash kept from being written (never expected: events and rows share a
        // transaction) are written now rather than lost.
        if !replay.unstoredRows.isEmpty {
            try store.append([], journal: replay.unstoredRows, received: clock.now())
        }
        started = true
        return replay.events
    }

    /// One poll: fetches the bars that closed since the last one (and funding settled since the
    /// last settlement), turns them into events, applies them to a copy of the session, stores
    /// events and journal rows in one transaction, then adopts the copy.
    public mutating func poll() async throws -> PaperStatus {
        precondition(started, "PaperTrader.start() must succeed before poll()")
        let now = clock.now()
        let interval = settings.interval
        let aligned = Timestamp(
            milliseconds: now.milliseconds - ((now.milliseconds % interval.milliseconds) + interval.milliseconds) % interval.milliseconds)
        let from = session.lastBar.map { $0.openTime + interval } ?? (aligned - settings.warmup)

        let rows = try await feed.closedRows(from: from, now: now, interval: interval, progress: fetchProgress)
        let settlementsFrom = session.lastFundingTime.map { $0 + TimeSpan(milliseconds: 1) } ?? from
        let settlements = settlementsFrom < now ? try await feed.funding(from: settlementsFrom, to: now) : []

        // Events, in time order: each settlement before the first bar opening at or after it.
        var next = session
        var events: [PaperEvent] = []
        var journal: [JournalEntry] = []
        func emit(_ event: PaperEvent) {
            events.append(event)
            journal += next.apply(event)
        }
        var pending = settlements[...]
        var newBars = 0
        // The last open time the venue gave (a bar, or a bad row with a time): a bar after more
        // than one interval names the missing ones.
        var lastOpen = next.lastBar?.openTime
        for row in rows {
            switch row {
            case .bad(let time, let reason):
                let key = "\(time?.milliseconds ?? -1) \(reason)"
                if reportedBad.insert(key).inserted { emit(.badData(reason: reason, at: time.map { $0 + interval } ?? now)) }
                if let time, lastOpen.map({ time > $0 }) ?? true { lastOpen = time }
            case .bar(let candle):
                if let previous = lastOpen, candle.openTime > previous + interval {
                    emit(.missingBars(first: previous + interval, last: candle.openTime - interval, at: candle.openTime))
                }
                if lastOpen.map({ candle.openTime > $0 }) ?? true { lastOpen = candle.openTime }
                while let settlement = pending.first, settlement.rate.isDue(atBarOpening: candle.openTime) {
                    emit(.funding(settlement.rate, mark: settlement.mark))
                    pending = pending.dropFirst()
                }
                let closed = candle.openTime + interval
                let late = now - closed > settings.effectiveLateAfter
                if late && next.isLive {
                    emit(
                        .feed(
                            live: false, at: closed, reason: "catching up on bars that closed before now (from \(candle.openTime.iso8601))")
                    )
                } else if !late && !next.isLive {
                    emit(.feed(live: true, at: closed, reason: "bar at \(candle.openTime.iso8601) is current"))
                }
                emit(.bar(candle))
                newBars += 1
            }
        }
        for settlement in pending { emit(.funding(settlement.rate, mark: settlement.mark)) }
        // External series: a failing source is shown on the status line and tried again at the
        // next poll; the market data goes on.
        var problems: [String] = []
        for source in signalSources {
            do {
                for observation in try await source.observations(after: next.lastSignalTimes, now: now) {
                    emit(.signal(observation.signal, value: observation.value, at: observation.time))
                }
            } catch {
                problems.append("signals: \(error)")
            }
        }
        if newBars == 0, next.isLive, let last = next.lastBar, now - (last.openTime + interval) > settings.effectiveStaleAfter {
            emit(.feed(live: false, at: now, reason: "stale feed: no new bar since \((last.openTime + interval).iso8601)"))
        }
        try store.append(events, journal: journal, received: now)
        session = next
        let barDue = next.lastBar.map { now >= $0.openTime + interval + interval + settings.pollDelay } ?? false
        quietPolls = newBars == 0 && barDue ? quietPolls + 1 : 0
        lastBadResponse = nil
        if quietPolls > 0, let last = next.lastBar {
            let wait = (nextPollTime(after: now).milliseconds - now.milliseconds + 999) / 1000
            problems.append("no new bar from the venue since \((last.openTime + interval).iso8601); next poll in \(wait) s")
        }
        // The mark price for the status line only; its failure never stops the poll.
        let premium = try? await feed.premium()
        return status(
            now: now, newBars: newBars, journal: journal, problem: problems.isEmpty ? nil : problems.joined(separator: "; "),
            premium: premium)
    }

    /// The status as of the last poll (or the replay).
    public func status(
        now: Timestamp, newBars: Int = 0, journal: [JournalEntry] = [], problem: String? = nil,
        premium: BinanceUSDMClient.PremiumIndex? = nil
    ) -> PaperStatus {
        PaperStatus(
            now: now, lastBar: session.lastBar, account: session.account, startingEquity: settings.capital, riskState: session.riskState,
            live: session.isLive, record: session.record, interval: settings.interval,
            trades: session.journal.lazy.filter { $0.event == .entry }.count, newBars: newBars, newJournalRows: journal,
            problem: problem, premium: premium)
    }

    /// When to poll next: shortly after the next bar closes (at once while catching up).
    /// While the venue has no bar where one is due (a gap in its bars), the wait doubles from
    /// one second up to ``gapPollCap`` instead of asking again at once: asking 4 times a second
    /// for the whole gap is how an IP earns a 418 ban.
    public func nextPollTime(after now: Timestamp) -> Timestamp {
        let interval = settings.interval
        guard let last = session.lastBar else { return now + settings.pollDelay }
        let due = last.openTime + interval + interval + settings.pollDelay
        guard now >= due else { return due }
        guard quietPolls > 0 else { return now }
        let backoff = min(gapPollCap.milliseconds, 1000 << Int64(min(quietPolls - 1, 20)))
        return now + TimeSpan(milliseconds: backoff)
    }

    /// The longest wait between polls during a gap in the venue's bars: one bar interval, at
    /// most a minute (and never less than ``PaperSettings/pollDelay``).
    public var gapPollCap: TimeSpan {
        TimeSpan(milliseconds: max(settings.pollDelay.milliseconds, min(settings.interval.milliseconds, 60_000)))
    }

    /// Journals venue trouble the loop rode out (a bad answer): applied to a copy of the
    /// session, stored with its rows in one transaction, then adopted, like a poll.
    mutating func journal(_ event: PaperEvent, at now: Timestamp) throws -> [JournalEntry] {
        var next = session
        let rows = next.apply(event)
        try store.append([event], journal: rows, received: now)
        session = next
        return rows
    }

    /// Polls until cancelled or `maxPolls` polls have run, calling `report` after each. Venue
    /// hiccups (timeouts, 5xx, 429) are reported and retried with a growing pause (up to a
    /// minute); an error that retrying cannot fix (a bad symbol, a ban, a storage failure)
    /// stops the loop with it.
    public mutating func run(maxPolls: Int? = nil, report: (PaperStatus) -> Void) async throws {
        var polls = 0
        var failures = 0
        while maxPolls.map({ polls < $0 }) ?? true {
            try Task.checkCancellation()
            polls += 1
            do {
                let status = try await poll()
                failures = 0
                report(status)
                if let maxPolls, polls >= maxPolls { break }
                try await clock.sleep(until: nextPollTime(after: clock.now()))
            } catch let error as VenueError {
                guard case .retryable(let after) = error.kind else { throw error }
                failures += 1
                let pause = max(after ?? 0, min(60, pow(2, Double(min(failures, 6)))))
                let now = clock.now()
                let seconds = Int(pause.rounded(.up))
                var rows: [JournalEntry] = []
                let problem: String
                if error.httpStatus == 429 {
                    problem =
                        "rate limited (429) on \(error.endpoint), waiting \(seconds) s"
                        + (error.retryAfterGiven ? " (Retry-After)" : " (no Retry-After: default wait)")
                } else if let excerpt = error.badResponse {
                    problem = "bad answer from \(error.endpoint) (\(excerpt.isEmpty ? "empty" : excerpt)); retrying in \(seconds) s"
                    // Journalled once per run of failures (and again if the answer changes).
                    let key = "\(error.endpoint) \(excerpt)"
                    if key != lastBadResponse {
                        lastBadResponse = key
                        rows = try journal(.badResponse(reason: "\(error); retried like a 5xx", at: now), at: now)
                    }
                } else {
                    problem = "\(error); retrying in \(seconds) s"
                }
                report(status(now: now, journal: rows, problem: problem))
                try await clock.sleep(until: now + TimeSpan(milliseconds: Int64(pause * 1000)))
            }
        }
    }
}
