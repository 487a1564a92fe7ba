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

    /// The status as JSON (stored each poll for `live status`; no key or secret is in it).
    public var json: JSONValue {
        let gateText: String
        var reason: JSONValue = .null
        switch gate {
        case .awaitingReconciliation: gateText = "awaiting_reconciliation"
        case .open: gateText = "open"
        case .reducing(let why):
            gateText = "reducing"
            reason = .string(why)
        case .halted(let why):
            gateText = "halted"
            reason = .string(why)
        }
        return .object([
            ("time", .string(now.iso8601)), ("gate", .string(gateText)), ("gate_reason", reason), ("risk_state", .string(riskState.name)),
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
            ("unresolved_orders", .int(unresolved)), ("last_bar", lastBar.map { .string($0.openTime.iso8601) } ?? .null),
            ("last_close", lastBar.map { .exact($0.close) } ?? .null), ("problem", problem.map { .string($0) } ?? .null),
            ("skipped_paper_gate", .bool(skippedPaperGate)), ("size_fraction", .exact(sizeFraction)),
            ("trades_recorded", .int(tradesRecorded)), ("orders", .int(ordersSent)),
        ])
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
        try store.forEachInput { row in
            guard decodeError == nil else { return }
            do {
                _ = next.apply(try LiveInputCodec.decode((row.seq, row.kind, row.payload)))
                replayed += 1
            } catch let error as LiveInputDecodingError {
                decodeError = error
            }
        }
        if let decodeError { throw LiveError.unreadableInput(path: store.path, decodeError) }
        session = next
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
        var pending: [ExecutionAction] = try store(input, handledStop: handledStop)
        // Each answer is an input that may ask for more; bounded so a venue that answers
        // nonsense forever cannot spin the loop.
        var budget = 200
        while !pending.isEmpty && budget > 0 {
            budget -= 1
            let action = pending.removeFirst()
            guard let answer = await carryOut(action) else { continue }
            pending += try store(answer)
        }
        if budget == 0 { logger.warning("live: more than 200 venue actions in one step; the rest wait for the next poll") }
    }

    private mutating func store(_ input: LiveInput, handledStop: Int64? = nil) throws -> [ExecutionAction] {
        var next = session
        let step = next.apply(input)
        let encoded = LiveInputCodec.encode(input)
        try store.append([(input.time, encoded.kind, encoded.payload)], journal: step.journal, handledStop: handledStop)
        session = next
        for row in step.journal { logger.info("journal \(row.line)") }
        return step.actions
    }

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
        do {
            newBars = try await pollBars(now: now)
        } catch let error as StoreError {
            throw error
        } catch {
            problems.append("bars: \(error)")
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

    /// Fetches bars that closed since the last one and applies them.
    private mutating func pollBars(now: Timestamp) async throws -> Int {
        let interval = settings.interval
        let aligned = Timestamp(
            milliseconds: now.milliseconds - ((now.milliseconds % interval.milliseconds) + interval.milliseconds) % interval.milliseconds)
        var cursor = session.lastBar.map { $0.openTime + interval } ?? (aligned - settings.warmup)
        var applied = 0
        let expected = Int(max(0, (now.milliseconds - cursor.milliseconds) / interval.milliseconds))
        for _ in 0..<(expected / 1000 + 2) {
            let page = try await feed.bars(from: cursor, limit: 1000)
            var last: Timestamp?
            for row in page {
                guard case .bar(let candle) = row else { continue }
                let closed = candle.openTime + interval
                guard closed <= now else { break }
                last = candle.openTime
                guard session.lastBar.map({ candle.openTime > $0.openTime }) ?? true else { continue }
                let live = now - closed <= TimeSpan(milliseconds: max(interval.milliseconds, 60_000))
                try await apply(.bar(candle, live: live))
                applied += 1
            }
            guard page.count >= 1000, let last else { break }
            cursor = last + interval
        }
        return applied
    }

    /// When to poll next: soon while an order is unresolved or an event waits, else just after
    /// the next bar closes.
    public func nextPollTime(after now: Timestamp) -> Timestamp {
        if !session.engine.unresolved.isEmpty { return now + settings.resolveEvery }
        let interval = settings.interval
        let nextClose = (session.lastBar.map { $0.openTime + interval + interval } ?? now) + settings.pollDelay
        let heartbeatDue = (lastHeartbeat ?? now) + settings.heartbeatEvery
        return max(now + .seconds(1), min(nextClose, heartbeatDue))
    }

    public func status(now: Timestamp, newBars: Int = 0, problem: String? = nil) -> LiveStatus {
        let engine = session.engine
        return LiveStatus(
            now: now, gate: engine.gate, riskState: session.kernel.state, position: engine.position, averageEntry: engine.averageEntry,
            balance: engine.balance, openOrders: engine.openOrders, unresolved: engine.unresolved.count, lastBar: session.lastBar,
            newBars: newBars, newJournal: [], problem: problem, skippedPaperGate: settings.skippedPaperGate,
            sizeFraction: settings.sizeFraction, tradesRecorded: engine.seenTradeIDs.count, ordersSent: engine.orders.count)
    }

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
