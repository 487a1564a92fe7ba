import Foundation
import Logging
import PerpEngine
import PerpExecution
import PerpModel
import PerpStore
import PerpVenues

/// Settings of a live session.
public struct LiveSettings: Sendable {
    public var name: String
    /// `binance-usdm`, or `binance-usdm-testnet` with `--testnet`.
    public var venueName: String
    public var symbol = "NMRUSDT"
    public var interval = TimeSpan.minutes(1)
    public var bot: BotConfig
    /// The configuration file's text (stored with the session; a restart must give the same).
    public var botText: String
    /// Live trades this share of what the configuration sizes (spec §4: 10 %).
    public var sizeFraction: Rate
    /// The paper session whose 30-day record allowed the start; `nil` with the gate skipped.
    public var paperSession: String?
    public var skippedPaperGate = false
    /// Isolated margin at the configuration's largest leverage, set on start.
    public var isolated = true
    /// Bars fetched before the first live one on a new session, to warm the signals up.
    public var warmup = TimeSpan.hours(24)
    /// How long after a bar's close to ask for it.
    public var pollDelay = TimeSpan.seconds(2)
    /// The dead man's switch: refreshed every `heartbeatEvery` with `countdown` (Binance's
    /// example: every 30 s with 120 s; USD-M "Auto-Cancel All Open Orders").
    public var heartbeatEvery = TimeSpan.seconds(30)
    public var countdown = TimeSpan.seconds(120)
    /// Reconciliation with the venue, besides every start (decision 0012 §4).
    public var reconcileEvery = TimeSpan.minutes(5)
    /// While an order's outcome is unresolved, the loop wakes this often to look it up.
    public var resolveEvery = TimeSpan.seconds(1)
    /// A bar that closed longer ago than this is catch-up, not live: signals only, no entries
    /// (default: one bar interval, at least a minute).
    public var lateAfter: TimeSpan?
    /// No new bar for this long after the last one closed: the feed is stale (no entries).
    public var staleAfter: TimeSpan?
    /// How often to ask for funding settlements (they come every 1 to 8 hours; one more request
    /// on every poll would only slow the bars down).
    public var fundingEvery = TimeSpan.minutes(5)

    var effectiveLateAfter: TimeSpan { lateAfter ?? TimeSpan(milliseconds: max(interval.milliseconds, 60_000)) }
    var effectiveStaleAfter: TimeSpan { staleAfter ?? TimeSpan(milliseconds: max(3 * interval.milliseconds, 180_000)) }

    public init(name: String, venueName: String, bot: BotConfig, botText: String, sizeFraction: Rate) {
        self.name = name
        self.venueName = venueName
        self.bot = bot
        self.botText = botText
        self.sizeFraction = sizeFraction
    }

    /// The leverage set on the venue: the configuration's cap, rounded up to a whole number
    /// (Binance takes integers; the kernel's own cap still binds every order).
    public var venueLeverage: Int {
        let cap = bot.risk.maxLeverage
        let whole = (cap.raw + Rate.scale - 1) / Rate.scale
        return Int(max(1, min(whole, 125)))
    }
}

/// Why a live session stopped or refused to start.
public enum LiveError: Error, CustomStringConvertible, Sendable {
    case settingsChanged(path: String, what: String, stored: String, given: String)
    case unreadableInput(path: String, LiveInputDecodingError)
    case venueSetup(String)

    public var description: String {
        switch self {
        case .settingsChanged(let path, let what, let stored, let given):
            return
                "live session \(path) was started with \(what) \(stored), not \(given); its orders belong to those settings. Start a new session with --name"
        case .unreadableInput(let path, let error):
            return "live session \(path): \(error); the file was edited or damaged, so trading stays stopped until you look at it"
        case .venueSetup(let reason):
            return reason
        }
    }
}

/// What `live status` and the status line show.
public struct LiveStatus: Sendable {
    public var now: Timestamp
    public var gate: ExecutionGate
    public var riskState: RiskState
    public var position: Quantity
    public var averageEntry: Price?
    public var balance: VenueBalance?
    public var openOrders: [OrderRecord]
    public var unresolved: Int
    public var lastBar: Candle?
    public var newBars: Int
    public var newJournal: [LiveJournalRow]
    public var problem: String?
    public var skippedPaperGate: Bool
    public var sizeFraction: Rate
    /// Distinct venue trades applied to the record (the venue's count must equal it).
    public var tradesRecorded: Int
    public var ordersSent: Int
    /// Whether the feed is live (bars current), and the record spec §4 asks of paper trading.
    public var live = true
    public var record = PaperRecord(startingEquity: .zero)
    public var interval = TimeSpan.minutes(1)
    /// Entries the kernel made.
    public var entries = 0
    /// The venue's mark price and accruing funding at the poll, when it answered.
    public var premium: BinanceUSDMClient.PremiumIndex?
    /// Wallet plus the open position's unrealised PnL at the last close (``LiveSession/equity(at:)``),
    /// once the venue has reported a balance.
    public var equity: Notional?
    /// The venue's trading rules the session runs with (stored with the status so a reader such
    /// as the dashboard can replay the session exactly without asking the venue).
    public var rules: MarketRules?

    /// The status as JSON (stored each poll for `live status`; no key or secret is in it).
    public var json: JSONValue {
        .object([
            ("time", .string(now.iso8601)), ("gate", .string(gate.name)), ("gate_reason", gate.reason.map { .string($0) } ?? .null),
            ("risk_state", .string(riskState.name)),
            ("position", .exact(position)), ("average_entry", averageEntry.map { .exact($0) } ?? .null),
            ("wallet", balance.map { .exact($0.wallet) } ?? .null), ("available", balance.map { .exact($0.available) } ?? .null),
            (
                "open_orders",
                .array(
                    openOrders.map { order in
                        .object([
                            ("client_id", .string(order.intent.clientID)), ("kind", .string(order.intent.kind.rawValue)),
                            ("purpose", .string(order.intent.purpose.rawValue)), ("side", .string(order.intent.side.rawValue)),
                            ("quantity", .exact(order.intent.quantity)), ("trigger", order.intent.triggerPrice.map { .exact($0) } ?? .null),
                            ("status", .string(order.status.rawValue)),
                        ])
                    })
            ),
            ("unresolved_orders", .int(unresolved)), ("last_bar_time", lastBar.map { .string($0.openTime.iso8601) } ?? .null),
            ("last_close", lastBar.map { .exact($0.close) } ?? .null), ("problem", problem.map { .string($0) } ?? .null),
            ("skipped_paper_gate", .bool(skippedPaperGate)), ("size_fraction", .exact(sizeFraction)),
            ("trades_recorded", .int(tradesRecorded)), ("orders", .int(ordersSent)), ("live", .bool(live)),
            ("record_days", .double(record.liveDays(interval: interval))), ("entries", .int(entries)),
            ("rules", rulesJSON),
        ])
    }

    private var rulesJSON: JSONValue {
        guard let rules else { return .null }
        return Self.json(rules)
    }

    public static func json(_ rules: MarketRules) -> JSONValue {
        .object([
            ("symbol", .string(rules.symbol)), ("tick", .exact(rules.tickSize)), ("lot", .exact(rules.lotSize)),
            ("max_market", .exact(rules.maxMarketQuantity)), ("min_notional", .exact(rules.minNotional)),
        ])
    }

    /// The rules stored by ``json(_:)``, or `nil`.
    public static func rules(from json: JSONValue?) -> MarketRules? {
        guard let json, let symbol = json["symbol"]?.stringValue, let tick = json["tick"]?.numericText.flatMap({ Price($0) }),
            let lot = json["lot"]?.numericText.flatMap({ Quantity($0) }),
            let maxMarket = json["max_market"]?.numericText.flatMap({ Quantity($0) }),
            let minNotional = json["min_notional"]?.numericText.flatMap({ Notional($0) }), tick.isPositive, lot.isPositive
        else { return nil }
        return MarketRules(symbol: symbol, tickSize: tick, lotSize: lot, maxMarketQuantity: maxMarket, minNotional: minNotional)
    }
}

/// Events the venue pushed, kept until the next poll takes them.
actor VenueEventBuffer {
    private var events: [VenueEvent] = []
    private let limit = 100_000
    func append(_ event: VenueEvent) {
        if events.count < limit { events.append(event) }
    }
    func drain() -> [VenueEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }
}

/// Live trading: bars from a feed go through a ``LiveSession`` (kernel + execution engine);
/// every input is stored with its journal rows before the orders it decided leave; the venue's
/// answers come back as inputs (decision 0012). `start()` replays the stored inputs, seals a
/// crashed run, looks up every order whose outcome was not recorded, and reconciles with the
/// venue; nothing is sent before reconciliation passes.
public struct LiveTrader: Sendable {
    public let settings: LiveSettings
    public let store: LiveStore
    public let venue: any ExecutionVenue
    public let feed: any PaperFeed
    public let clock: any PaperClock
    public let logger: Logger
    public private(set) var session: LiveSession
    /// The session's creation time: with its name, it fixes the client-id tag, so the stored
    /// one is the one every run uses (decision 0012).
    public let created: Timestamp
    public private(set) var run: Int64?
    private var lastHeartbeat: Timestamp?
    private var lastReconcile: Timestamp?
    private let buffer = VenueEventBuffer()
    private var streamTask: Task<Void, Never>?
    private var polling = false
    /// Sources of the staked-NMR, activity and sentiment series.
    public var signalSources: [any SignalSource] = []
    /// Called with bars fetched and bars expected while a poll fetches more than one page
    /// (warm-up, catch-up after downtime).
    public var fetchProgress: (@Sendable (_ done: Int, _ expected: Int) -> Void)?
    /// Bad rows already journalled (a bad last row is fetched again by the next poll).
    private var reportedBad: Set<String> = []
    /// Polls in a row that found no new bar although one had closed (a gap at the venue): the
    /// next poll waits longer each time (``nextPollTime(after:)``).
    public private(set) var quietPolls = 0
    /// Market-data failures in a row, the wait they impose, and the bad answer journalled
    /// last in the current run of failures (the same one is not journalled twice in a row).
    private var failures = 0
    private var notBefore: Timestamp?
    private var lastBadResponse: String?
    private var lastFundingFetch: Timestamp?
    /// Settlements read but not yet due (each waits for the first bar opening at or after it;
    /// a crash loses only this copy: the next start reads them again).
    private var fundingQueue: [(rate: FundingRate, mark: Price?)] = []

    public init(
        settings: LiveSettings, store: LiveStore, venue: any ExecutionVenue, rules: MarketRules, feed: any PaperFeed, clock: any PaperClock,
        logger: Logger, created: Timestamp
    ) {
        self.settings = settings
        self.store = store
        self.venue = venue
        self.feed = feed
        self.clock = clock
        self.logger = logger
        // A stored session's creation time wins: the client ids of a restart must be the ones
        // the session has always used.
        let createdAt = (try? store.info())??.created ?? created
        self.created = createdAt
        let tag = ClientOrderID.tag(session: settings.name, createdAt: createdAt)
        let kernel = TradingKernel(config: settings.bot, barInterval: settings.interval, lotSize: rules.lotSize)
        session = LiveSession(
            kernel: kernel, settings: ExecutionSettings(sessionTag: tag, rules: rules, sizeFraction: settings.sizeFraction),
            interval: settings.interval)
    }

    /// The session's creation time: the stored one, or now for a new session.
    public static func creationTime(store: LiveStore, now: Timestamp) throws -> Timestamp {
        try store.info()?.created ?? now
    }

    /// Opens the session: records or checks its settings, replays its inputs, records this
    /// run (sealing a crashed one), sets leverage and margin, resolves every order whose outcome
    /// was not recorded and reconciles with the venue. Returns the number of inputs replayed.
    @discardableResult
    public mutating func start(pid: Int32) async throws -> Int {
        try store.checkIntegrity()
        let now = clock.now()
        if let info = try store.info() {
            func check(_ what: String, _ stored: String, _ given: String) throws {
                if stored != given { throw LiveError.settingsChanged(path: store.path, what: what, stored: stored, given: given) }
            }
            try check("venue", "\(info.venue) \(info.symbol)", "\(settings.venueName) \(settings.symbol)")
            try check("interval", info.interval.description, settings.interval.description)
            try check("configuration", Self.digest(info.configText), Self.digest(settings.botText))
            try check("size fraction", info.sizeFraction.description, settings.sizeFraction.description)
            try check("client-id tag", info.tag, session.engine.settings.sessionTag)
        } else {
            try store.create(
                LiveSessionInfo(
                    name: settings.name, venue: settings.venueName, symbol: settings.symbol, interval: settings.interval,
                    configText: settings.botText, sizeFraction: settings.sizeFraction, paperSession: settings.paperSession,
                    skippedPaperGate: settings.skippedPaperGate, tag: session.engine.settings.sessionTag, created: created))
        }
        var replayed = 0
        var decodeError: LiveInputDecodingError?
        var next = session
        var venueRecord = SimulatedVenueRecord()
        try store.forEachInput { row in
            guard decodeError == nil else { return }
            do {
                let input = try LiveInputCodec.decode((row.seq, row.kind, row.payload))
                _ = next.apply(input)
                venueRecord.observe(input)
                replayed += 1
            } catch let error as LiveInputDecodingError {
                decodeError = error
            }
        }
        if let decodeError { throw LiveError.unreadableInput(path: store.path, decodeError) }
        session = next
        // A venue that lives in this process (paper trading) died with the last run: it is
        // rebuilt from what the session recorded of it (decision 0013).
        if let simulated = venue as? SimulatedExecutionVenue, simulated.mode == .paper, replayed > 0 {
            let resting = session.engine.openOrders.compactMap { record -> VenueOrder? in
                guard let id = record.venueOrderID, record.status != .pendingSubmit else { return nil }
                let intent = record.intent
                return VenueOrder(
                    clientID: intent.clientID, venueOrderID: id, kind: intent.kind, side: intent.side, status: .accepted,
                    quantity: intent.quantity, filledQuantity: .zero, averagePrice: nil, triggerPrice: intent.triggerPrice,
                    reduceOnly: intent.reduceOnly, updatedAt: now)
            }
            await simulated.restore(venueRecord, openOrders: resting)
        }
        let started = try store.startRun(pid: pid, at: now)
        run = started.run
        if started.sealed > 0 { logger.warning("live: the previous run ended without stopping (crash or kill); recovering") }
        logger.info("live: replayed \(replayed) inputs; \(session.engine.unresolved.count) orders to look up")
        if settings.skippedPaperGate && replayed == 0 {
            try store.append(
                [],
                journal: [
                    LiveSession.note(
                        time: now, kind: "operator", clientID: nil, text: "started with --skip-paper-gate: no 30-day paper record")
                ])
        }
        try await apply(.execution(.restarted(at: now)))
        await venue.track(clientIDs: session.engine.orders.map(\.intent.clientID))
        do {
            try await venue.prepare(leverage: settings.venueLeverage, isolated: settings.isolated)
        } catch {
            throw LiveError.venueSetup("cannot set leverage \(settings.venueLeverage)x and isolated margin on \(venue.name): \(error)")
        }
        try await reconcile()
        if let stream = await venue.events() {
            let buffer = self.buffer
            streamTask = Task {
                for await event in stream { await buffer.append(event) }
            }
        }
        return replayed
    }

    /// Stops reading the venue's stream.
    public func close() {
        streamTask?.cancel()
    }

    /// A snapshot of the venue, reconciled; a failed read is journalled and nothing is sent.
    public mutating func reconcile() async throws {
        let since = session.engine.lastFillTime.map { $0 - TimeSpan.hours(1) } ?? (clock.now() - TimeSpan.days(7) + TimeSpan.minutes(1))
        do {
            let snapshot = try await venue.snapshot(fillsSince: since)
            try await apply(.execution(.snapshot(snapshot, at: clock.now())))
            lastReconcile = clock.now()
        } catch let error as StoreError {
            throw error
        } catch {
            logger.warning("live: reconciliation could not read the venue: \(error)")
            throw LiveError.venueSetup("reconciliation could not read \(venue.name): \(error); nothing was sent")
        }
    }

    /// Applies `input` to a copy of the session, stores it with its journal rows (and the stop
    /// request it carries out), adopts the copy, and only then carries out its actions.
    public mutating func apply(_ input: LiveInput, handledStop: Int64? = nil) async throws {
        try await apply([input], handledStop: handledStop)
    }

    /// Applies `inputs` in order and stores them together, in one transaction, then carries
    /// out what they decided; each answer is stored with the events the venue produced with it
    /// (``ExecutionVenue/takeEvents()``), again in one transaction.
    public mutating func apply(_ inputs: [LiveInput], handledStop: Int64? = nil) async throws {
        guard !inputs.isEmpty || handledStop != nil else { return }
        var pending: [ExecutionAction] = try store(inputs, handledStop: handledStop)
        // Each answer is an input that may ask for more; bounded so a venue that answers
        // nonsense forever cannot spin the loop.
        var budget = 200
        while !pending.isEmpty && budget > 0 {
            budget -= 1
            let action = pending.removeFirst()
            var answers: [LiveInput] = []
            if let answer = await carryOut(action) { answers.append(answer) }
            let now = clock.now()
            answers += await venue.takeEvents().map { .execution(.venue($0, at: now)) }
            guard !answers.isEmpty else { continue }
            pending += try store(answers)
        }
        if budget == 0 { logger.warning("live: more than 200 venue actions in one step; the rest wait for the next poll") }
    }

    private mutating func store(_ inputs: [LiveInput], handledStop: Int64? = nil) throws -> [ExecutionAction] {
        var next = session
        var journal: [LiveJournalRow] = []
        var actions: [ExecutionAction] = []
        var rows: [(Timestamp, String, String)] = []
        for input in inputs {
            let step = next.apply(input)
            journal += step.journal
            actions += step.actions
            let encoded = LiveInputCodec.encode(input)
            rows.append((input.time, encoded.kind, encoded.payload))
        }
        try store.append(rows, journal: journal, handledStop: handledStop)
        session = next
        newJournal += journal
        for row in journal { logger.info("journal \(row.line)") }
        return actions
    }

    /// Journal rows written since the last status (the status line prints them).
    private var newJournal: [LiveJournalRow] = []

    /// One venue call; its answer as the next input (`nil` for none).
    private func carryOut(_ action: ExecutionAction) async -> LiveInput? {
        let now = { clock.now() }
        switch action {
        case .send(let intent):
            logger.info(
                "live: send \(intent.clientID) \(intent.kind.rawValue) \(intent.side == .long ? "buy" : "sell") \(intent.quantity)\(intent.triggerPrice.map { " trigger \($0)" } ?? "")"
            )
            let outcome = await venue.submit(intent)
            return .execution(.submitted(clientID: intent.clientID, outcome, at: now()))
        case .lookup(let id, let kind):
            let outcome = await venue.lookup(clientID: id, kind: kind)
            return .execution(.lookedUp(clientID: id, outcome, at: now()))
        case .cancel(let id, let kind):
            let outcome = await venue.cancel(clientID: id, kind: kind)
            return .execution(.cancelAnswered(clientID: id, outcome, at: now()))
        case .snapshotNeeded:
            let since = session.engine.lastFillTime.map { $0 - TimeSpan.hours(1) } ?? (now() - TimeSpan.days(7) + TimeSpan.minutes(1))
            do {
                return .execution(.snapshot(try await venue.snapshot(fillsSince: since), at: now()))
            } catch {
                logger.warning("live: snapshot failed: \(error)")
                return nil
            }
        case .kernelFills, .note:
            return nil
        }
    }

    /// One poll: the operator's stop, the venue's pushed events, time for unresolved orders,
    /// new bars, the heartbeat and periodic reconciliation. Returns the status, or `nil`
    /// after a stop was carried out (the run ends).
    public mutating func poll() async throws -> LiveStatus? {
        let now = clock.now()
        var problems: [String] = []
        for request in try store.pendingStops() {
            logger.notice("live: stop requested\(request.flatten ? " with flatten" : ""): \(request.reason)")
            try await apply(.execution(.stop(flatten: request.flatten, reason: request.reason, at: now)), handledStop: request.id)
            // Disarm the dead man's switch only after the cancels: the orders are gone anyway.
            try? await venue.heartbeat(countdown: TimeSpan(milliseconds: 0))
            let status = self.status(now: clock.now())
            try store.setStatus(status.json.serialized(pretty: false), at: status.now)
            return nil
        }
        for event in await buffer.drain() { try await apply(.execution(.venue(event, at: clock.now()))) }
        if !session.engine.unresolved.isEmpty { try await apply(.execution(.tick(at: clock.now()))) }
        var newBars = 0
        if notBefore.map({ now >= $0 }) ?? true {
            do {
                (newBars, problems) = try await pollMarket(now: now)
                failures = 0
                notBefore = nil
                lastBadResponse = nil
            } catch let error as StoreError {
                throw error
            } catch {
                problems.append(try await marketTrouble(error, now: now))
            }
        } else if let notBefore {
            problems.append("waiting until \(notBefore.iso8601) before asking the venue for bars again")
        }
        if lastHeartbeat.map({ now - $0 >= settings.heartbeatEvery }) ?? true {
            do {
                try await venue.heartbeat(countdown: settings.countdown)
                lastHeartbeat = now
            } catch {
                problems.append("heartbeat: \(error)")
            }
        }
        if lastReconcile.map({ now - $0 >= settings.reconcileEvery }) ?? true {
            do { try await reconcile() } catch let error as StoreError { throw error } catch { problems.append("\(error)") }
        }
        let status = self.status(now: now, newBars: newBars, problem: problems.isEmpty ? nil : problems.joined(separator: "; "))
        try store.setStatus(status.json.serialized(pretty: false), at: now)
        return status
    }

    /// Ends a run cleanly: applies the events the stream delivered since the last poll and
    /// reconciles once more, so the record a finished run leaves holds every fill the venue
    /// made for it (a market order's trades arrive after its answer). Failures are logged: what
    /// is missing is picked up by the next start's reconciliation.
    public mutating func finish() async {
        do {
            for event in await buffer.drain() { try await apply(.execution(.venue(event, at: clock.now()))) }
            // A reconciliation can itself send (a stop the venue dropped is placed again, a
            // refused one closes at market): reconcile again until one sends nothing.
            for _ in 0..<3 {
                let sent = session.engine.orders.count
                try await reconcile()
                if session.engine.orders.count == sent && session.engine.unresolved.isEmpty { break }
            }
            let status = self.status(now: clock.now())
            try store.setStatus(status.json.serialized(pretty: false), at: status.now)
        } catch {
            logger.warning("live: the closing reconciliation did not complete: \(error); the next start does it")
        }
    }

    /// Fetches what the market published since the last poll and applies it, in time order:
    /// rows the venue sent unreadable (journalled once), gaps in its bars, each funding
    /// settlement before the first bar opening at or after it, each closed bar (the venue sees
    /// it first: a simulated venue moves its book through it, and its events are stored with
    /// the bar in one transaction), the external series, and a stale feed. Returns the number
    /// of new bars and the problems to show.
    private mutating func pollMarket(now: Timestamp) async throws -> (bars: Int, problems: [String]) {
        let interval = settings.interval
        let aligned = Timestamp(
            milliseconds: now.milliseconds - ((now.milliseconds % interval.milliseconds) + interval.milliseconds) % interval.milliseconds)
        let from = session.lastBar.map { $0.openTime + interval } ?? (aligned - settings.warmup)

        let rows = try await feed.closedRows(from: from, now: now, interval: interval, progress: fetchProgress)
        let settlementsFrom = session.lastFundingTime.map { $0 + TimeSpan(milliseconds: 1) } ?? from
        if settlementsFrom < now, lastFundingFetch.map({ now - $0 >= settings.fundingEvery }) ?? true {
            let latest = fundingQueue.last?.rate.time ?? session.lastFundingTime
            fundingQueue += try await feed.funding(from: settlementsFrom, to: now).filter { settlement in
                latest.map { settlement.rate.time > $0 } ?? true
            }
            lastFundingFetch = now
        }

        var pending = fundingQueue[...]
        var batch: [LiveInput] = []
        var newBars = 0
        // The last open time the venue gave (a bar, or a bad row with a time): a bar after more
        // than one interval names the missing ones.
        var lastOpen = session.lastBar?.openTime
        for row in rows {
            switch row {
            case .bad(let time, let reason):
                let key = "\(time?.milliseconds ?? -1) \(reason)"
                if reportedBad.insert(key).inserted { batch.append(.badData(reason: reason, at: time.map { $0 + interval } ?? now)) }
                if let time, lastOpen.map({ time > $0 }) ?? true { lastOpen = time }
            case .bar(let candle):
                if let previous = lastOpen, candle.openTime > previous + interval {
                    batch.append(.missingBars(first: previous + interval, last: candle.openTime - interval, at: candle.openTime))
                }
                if lastOpen.map({ candle.openTime > $0 }) ?? true { lastOpen = candle.openTime }
                var events: [VenueEvent] = []
                while let settlement = pending.first, settlement.rate.isDue(atBarOpening: candle.openTime) {
                    batch.append(.fundingRate(settlement.rate))
                    events += await venue.observe(.funding(settlement.rate, mark: settlement.mark))
                    pending = pending.dropFirst()
                }
                events += await venue.observe(.bar(candle))
                let stamp = clock.now()
                batch += events.map { .execution(.venue($0, at: stamp)) }
                // What the venue did inside the bar is stored and answered (a filled target's
                // stop cancelled) before the kernel sees the bar's close, as a real venue's
                // stream would have delivered it during the bar. A crash between the two
                // leaves the bar unstored: the rebuilt venue sees it again and finds the filled
                // orders gone, so nothing fills twice.
                try await apply(batch)
                batch.removeAll()
                let live = now - (candle.openTime + interval) <= settings.effectiveLateAfter
                try await apply(.bar(candle, live: live))
                newBars += 1
            }
        }
        // Settlements not yet due wait for their bar.
        fundingQueue = Array(pending)
        try await apply(batch)
        // External series: a failing source is shown and tried again at the next poll.
        var problems: [String] = []
        for source in signalSources {
            do {
                let observations = try await source.observations(after: session.lastSignalTimes, now: now)
                try await apply(observations.map { .signal($0.signal, value: $0.value, at: $0.time) })
                let events = try source.calendar().filter { !session.knownEvents.contains($0) }
                try await apply(events.map { .calendar($0, at: now) })
            } catch let error as StoreError {
                throw error
            } catch {
                problems.append("signals: \(error)")
            }
        }
        if newBars == 0, session.feedLive, let last = session.lastBar, now - (last.openTime + interval) > settings.effectiveStaleAfter {
            try await apply(.feed(live: false, at: now, reason: "stale feed: no new bar since \((last.openTime + interval).iso8601)"))
        }
        let barDue = session.lastBar.map { now >= $0.openTime + interval + interval + settings.pollDelay } ?? false
        quietPolls = newBars == 0 && barDue ? quietPolls + 1 : 0
        if quietPolls > 0, let last = session.lastBar {
            let wait = (nextPollTime(after: now).milliseconds - now.milliseconds + 999) / 1000
            problems.append("no new bar from the venue since \((last.openTime + interval).iso8601); next poll in \(wait) s")
        }
        return (newBars, problems)
    }

    /// A market-data request failed: the wait before the next one (the venue's `Retry-After`,
    /// else doubling from 2 s up to a minute), a bad answer journalled once per run of
    /// failures, and the problem to show. The loop goes on: orders, heartbeat and
    /// reconciliation do not wait for the bars.
    private mutating func marketTrouble(_ error: any Error, now: Timestamp) async throws -> String {
        failures += 1
        let backoff = min(60, pow(2, Double(min(failures, 6))))
        guard let venueError = error as? VenueError else {
            notBefore = now + TimeSpan(milliseconds: Int64(backoff * 1000))
            return "bars: \(error); retrying in \(Int(backoff)) s"
        }
        var after: Double?
        if case .retryable(let given) = venueError.kind { after = given }
        let pause = max(after ?? 0, backoff)
        let seconds = Int(pause.rounded(.up))
        notBefore = now + TimeSpan(milliseconds: Int64(pause * 1000))
        if venueError.httpStatus == 429 {
            return "rate limited (429) on \(venueError.endpoint), waiting \(seconds) s"
                + (venueError.retryAfterGiven ? " (Retry-After)" : " (no Retry-After: default wait)")
        }
        if let excerpt = venueError.badResponse {
            let key = "\(venueError.endpoint) \(excerpt)"
            if key != lastBadResponse {
                lastBadResponse = key
                try await apply(.badResponse(reason: "\(venueError); retried like a 5xx", at: now))
            }
            return "bad answer from \(venueError.endpoint) (\(excerpt.isEmpty ? "empty" : excerpt)); retrying in \(seconds) s"
        }
        return "\(venueError); retrying in \(seconds) s"
    }

    /// When to poll next: soon while an order is unresolved, else just after the next bar
    /// closes or the heartbeat is due. While the venue has no bar where one is due (a gap in
    /// its bars), the wait doubles from one second up to ``gapPollCap``: asking 4 times a
    /// second for the whole gap is how an IP earns a 418 ban. After a failed request, not
    /// before the wait it imposed.
    public func nextPollTime(after now: Timestamp) -> Timestamp {
        if !session.engine.unresolved.isEmpty { return now + settings.resolveEvery }
        let interval = settings.interval
        let heartbeatDue = (lastHeartbeat ?? now) + settings.heartbeatEvery
        var next: Timestamp
        if let last = session.lastBar {
            let due = last.openTime + interval + interval + settings.pollDelay
            if now < due {
                next = due
            } else if quietPolls > 0 {
                next = now + TimeSpan(milliseconds: min(gapPollCap.milliseconds, 1000 << Int64(min(quietPolls - 1, 20))))
            } else {
                next = now
            }
        } else {
            next = now + settings.pollDelay
        }
        if let notBefore, notBefore > next { next = notBefore }
        return max(now + .seconds(1), min(next, heartbeatDue))
    }

    /// The longest wait between polls during a gap in the venue's bars: one bar interval, at
    /// most a minute (and never less than the poll delay).
    public var gapPollCap: TimeSpan {
        TimeSpan(milliseconds: max(settings.pollDelay.milliseconds, min(settings.interval.milliseconds, 60_000)))
    }

    public mutating func status(now: Timestamp, newBars: Int = 0, problem: String? = nil) -> LiveStatus {
        var status = snapshotStatus(now: now, newBars: newBars, problem: problem)
        status.newJournal = newJournal
        newJournal.removeAll()
        return status
    }

    /// The status without taking the journal rows written since the last one.
    public func snapshotStatus(now: Timestamp, newBars: Int = 0, problem: String? = nil) -> LiveStatus {
        var status = LiveStatus(session: session, now: now, interval: settings.interval, sizeFraction: settings.sizeFraction)
        status.newBars = newBars
        status.problem = problem
        status.skippedPaperGate = settings.skippedPaperGate
        status.rules = session.engine.settings.rules
        return status
    }
}

extension LiveStatus {
    /// What `session` shows at `now`.
    public init(session: LiveSession, now: Timestamp, interval: TimeSpan, sizeFraction: Rate) {
        let engine = session.engine
        self.init(
            now: now, gate: engine.gate, riskState: session.kernel.state, position: engine.position, averageEntry: engine.averageEntry,
            balance: engine.balance, openOrders: engine.openOrders, unresolved: engine.unresolved.count, lastBar: session.lastBar,
            newBars: 0, newJournal: [], problem: nil, skippedPaperGate: false, sizeFraction: sizeFraction,
            tradesRecorded: engine.seenTradeIDs.count, ordersSent: engine.orders.count)
        live = session.feedLive
        record = session.record
        if engine.balance != nil { equity = session.lastBar.map { session.equity(at: $0.close) } ?? engine.balance?.wallet }
        self.interval = interval
        entries = session.entries
    }
}

extension LiveTrader {
    /// Records how this run ended.
    public func end(status: String) {
        guard let run else { return }
        try? store.endRun(run, status: status, at: clock.now())
    }

    /// A short fingerprint of a configuration's text for messages (FNV-1a 64).
    static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return "sha-" + String(hash, radix: 16)
    }
}
