import Foundation
import Logging
import PerpExecution
import PerpModel
import PerpStore
import PerpVenues

/// What a hedge session was started with, stored with it (the session's `config_text`, JSON).
public struct HedgeSessionConfig: Sendable, Equatable {
    public var settings: HedgeSettings
    /// The Numerai models whose stakes are summed.
    public var models: [String]
    public var tournament: String
    /// The venue leverage set on start (the initial margin the venue takes when the short
    /// opens; the hedge then tops the position up to `k·q·P`).
    public var leverage: Int
    /// Where `k` came from (`--collateral-multiple`, `--g 3.06`, a history file).
    public var collateralSource: String
    /// Lighter's market id (NMR 74); `nil` on a venue that names markets by symbol.
    public var market: Int?

    public init(
        settings: HedgeSettings, models: [String], tournament: String, leverage: Int, collateralSource: String, market: Int? = nil
    ) {
        self.settings = settings
        self.models = models
        self.tournament = tournament
        self.leverage = leverage
        self.collateralSource = collateralSource
        self.market = market
    }

    public var text: String {
        let s = settings
        return JSONValue.object([
            ("collateral_multiple", .exact(s.collateralMultiple)), ("maintenance_fraction", .exact(s.maintenanceFraction)),
            ("rebalance_ms", .int(s.rebalanceEvery.milliseconds)), ("drift", .exact(s.drift)), ("warn_at", .exact(s.warnAt)),
            ("symbol", .string(s.rules.symbol)), ("tick", .exact(s.rules.tickSize)), ("lot", .exact(s.rules.lotSize)),
            ("max_market", .exact(s.rules.maxMarketQuantity)), ("min_notional", .exact(s.rules.minNotional)),
            ("max_order", .exact(s.maxOrder)), ("tag", .string(s.sessionTag)), ("models", .array(models.map { .string($0) })),
            ("tournament", .string(tournament)), ("leverage", .int(leverage)), ("collateral_source", .string(collateralSource)),
            ("market", market.map { .int($0) } ?? .null), ("cross_margin", .bool(s.crossMargin)),
        ]).serialized(pretty: false)
    }

    /// The stored text read back; `nil` when it is not a hedge session's.
    public static func parse(_ text: String) -> HedgeSessionConfig? {
        guard let json = try? JSONParser.parse(text) else { return nil }
        func value<Unit: FixedPointValue>(_ key: String, _ type: Unit.Type) -> Unit? { json[key]?.numericText.flatMap { Unit($0) } }
        guard let k = value("collateral_multiple", Rate.self), let m = value("maintenance_fraction", Rate.self),
            let period = json["rebalance_ms"]?.int64Value, period > 0, let drift = value("drift", Rate.self),
            let warnAt = value("warn_at", Rate.self), let symbol = json["symbol"]?.stringValue, let tick = value("tick", Price.self),
            let lot = value("lot", Quantity.self), let maxMarket = value("max_market", Quantity.self),
            let minNotional = value("min_notional", Notional.self), let maxOrder = value("max_order", Quantity.self),
            let tag = json["tag"]?.stringValue, let models = json["models"]?.arrayValue?.compactMap(\.stringValue),
            let tournament = json["tournament"]?.stringValue, let leverage = json["leverage"]?.int64Value.flatMap({ Int(exactly: $0) }),
            tick.isPositive, lot.isPositive, maxOrder.isPositive
        else { return nil }
        let settings = HedgeSettings(
            collateralMultiple: k, maintenanceFraction: m, rebalanceEvery: TimeSpan(milliseconds: period), drift: drift, warnAt: warnAt,
            rules: MarketRules(symbol: symbol, tickSize: tick, lotSize: lot, maxMarketQuantity: maxMarket, minNotional: minNotional),
            maxOrder: maxOrder, sessionTag: tag, crossMargin: json["cross_margin"] == .bool(true))
        return HedgeSessionConfig(
            settings: settings, models: models, tournament: tournament, leverage: leverage,
            collateralSource: json["collateral_source"]?.stringValue ?? "?",
            market: json["market"]?.int64Value.flatMap { Int(exactly: $0) })
    }
}

/// Posts the hedge's warnings and actions as JSON to a webhook (`--notify URL`): `{"text",
/// "hedge", "event", "time"}`, the shape chat bridges accept. Three attempts with back-off; never
/// blocks the hedge (a bounded queue drained by its own task); a failure is logged, never fatal.
public actor HedgeNotifier {
    let url: URL
    let transport: any HTTPTransport
    let name: String
    let logger: Logger
    let sleeper: @Sendable (Duration) async throws -> Void
    private var queue: [JSONValue] = []
    private var draining = false
    public private(set) var delivered = 0
    public private(set) var failed = 0
    public private(set) var dropped = 0
    static let capacity = 100

    public init(
        url: URL, transport: any HTTPTransport, name: String, logger: Logger,
        sleeper: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.url = url
        self.transport = transport
        self.name = name
        self.logger = logger
        self.sleeper = sleeper
    }

    public func post(_ note: HedgeNote) {
        if queue.count >= Self.capacity {
            queue.removeFirst()
            dropped += 1
        }
        queue.append(
            .object([
                ("text", .string("nmrperp hedge \(name): \(note.text)")), ("hedge", .string(name)), ("event", .string(note.kind.rawValue)),
                ("time", .string(note.time.iso8601)),
            ]))
        guard !draining else { return }
        draining = true
        Task { await self.drain() }
    }

    private func drain() async {
        while !queue.isEmpty {
            let body = Array(queue.removeFirst().serialized(pretty: false).utf8)
            var sent = false
            for attempt in 0..<3 {
                if attempt > 0 { try? await sleeper(.seconds(1 << (attempt - 1))) }
                if let response = try? await transport.send(
                    method: "POST", url: url, headers: ["Content-Type": "application/json"], body: body),
                    (200..<300).contains(response.status)
                {
                    sent = true
                    break
                }
            }
            if sent {
                delivered += 1
            } else {
                failed += 1
                logger.warning("hedge \(name): the notification to --notify could not be delivered after 3 attempts")
            }
        }
        draining = false
    }

    /// Waits (bounded) until the queue is empty: a finishing run gives its last notes a chance.
    public func flush(within limit: Duration = .seconds(10)) async {
        let deadline = ContinuousClock.now + limit
        while draining && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
    }
}

/// The state `hedge status` shows, stored as JSON by the running process each poll.
public struct HedgeStatus: Sendable {
    public var name: String
    public var venue: String
    public var symbol: String
    public var state: String
    public var updated: Timestamp
    public var stake: Quantity?
    public var short: Quantity
    public var price: Price?
    public var collateral: Notional
    /// `k·q·P` at the current price for the current short.
    public var required: Notional?
    public var liquidationPrice: Price?
    public var warningPrice: Price?
    public var fundingPaid: Notional?
    /// Funding paid over the short's notional, annualised (negative: received).
    public var fundingAPR: Double?
    public var lastRebalance: Timestamp?
    public var nextRebalance: Timestamp?
    public var rebalances: Int
    public var dryRun: Bool
    public var collateralMultiple: Rate

    public var json: JSONValue {
        func opt<Unit: FixedPointValue>(_ value: Unit?) -> JSONValue { value.map { .exact($0) } ?? .null }
        var distance: JSONValue = .null
        if let price, let liquidationPrice, price.isPositive {
            distance = .double((liquidationPrice.doubleValue - price.doubleValue) / price.doubleValue, significant: 6)
        }
        return .object([
            ("name", .string(name)), ("venue", .string(venue)), ("symbol", .string(symbol)), ("state", .string(state)),
            ("updated", .string(updated.iso8601)), ("stake", opt(stake)), ("short", .exact(short)), ("price", opt(price)),
            ("collateral", .exact(collateral)), ("required_collateral", opt(required)),
            ("collateral_multiple", .exact(collateralMultiple)), ("liquidation_price", opt(liquidationPrice)),
            ("liquidation_distance", distance), ("warning_price", opt(warningPrice)), ("funding_paid", opt(fundingPaid)),
            ("funding_apr", fundingAPR.map { .double($0, significant: 6) } ?? .null),
            ("last_rebalance", lastRebalance.map { .string($0.iso8601) } ?? .null),
            ("next_rebalance", nextRebalance.map { .string($0.iso8601) } ?? .null), ("rebalances", .int(rebalances)),
            ("dry_run", .bool(dryRun)),
        ])
    }
}

/// The stake hedge's shell (issue 13, decision 0015): reads Numerai and the venue, stores every
/// input with its journal rows in one transaction before acting, sends what the pure
/// ``StakeHedgeSession`` decides, and records every answer. One process per session (the
/// caller holds the session's lock); restart-safe through the stored inputs and lookups by
/// client id.
public struct HedgeRunner: Sendable {
    public let name: String
    public let config: HedgeSessionConfig
    public let store: LiveStore
    public let venue: any HedgeVenue
    public let venueName: String
    let stakeSource: @Sendable () async throws -> Quantity
    let clock: @Sendable () -> Timestamp
    let logger: Logger
    let notifier: HedgeNotifier?
    let sleeper: @Sendable (Duration) async throws -> Void
    /// Journal lines as they happen (the terminal).
    let output: @Sendable (String) -> Void
    public let dryRun: Bool
    /// How often Numerai is asked for the stake.
    public var stakeEvery = TimeSpan.minutes(10)
    /// An observation that changed nothing is stored at most this often.
    public var observationEvery = TimeSpan.hours(1)

    public private(set) var session: StakeHedgeSession
    private var run: Int64?
    private var lastStakeRead: Timestamp?
    private var stake: Quantity?
    private var lastStored: Timestamp?
    private var dryRunSaid: Set<String> = []
    private var hedgingSince: Timestamp?

    public init(
        name: String, config: HedgeSessionConfig, store: LiveStore, venue: any HedgeVenue, venueName: String,
        stakeSource: @escaping @Sendable () async throws -> Quantity, clock: @escaping @Sendable () -> Timestamp, logger: Logger,
        notifier: HedgeNotifier?, dryRun: Bool, output: @escaping @Sendable (String) -> Void,
        sleeper: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.name = name
        self.config = config
        self.store = store
        self.venue = venue
        self.venueName = venueName
        self.stakeSource = stakeSource
        self.clock = clock
        self.logger = logger
        self.notifier = notifier
        self.dryRun = dryRun
        self.output = output
        self.sleeper = sleeper
        session = StakeHedgeSession(settings: config.settings)
    }

    /// Creates or checks the session, replays its inputs, looks up every order whose answer was
    /// not recorded, sets the venue's leverage and isolated margin. Returns the inputs replayed.
    public mutating func start(pid: Int32) async throws -> Int {
        try store.checkIntegrity()
        let now = clock()
        if let info = try store.info() {
            guard let stored = HedgeSessionConfig.parse(info.configText) else {
                throw LiveError.venueSetup("\(store.path) is not a hedge session (its settings do not read as one); use another --name")
            }
            if info.venue != venueName || info.symbol != config.settings.rules.symbol {
                throw LiveError.settingsChanged(
                    path: store.path, what: "venue", stored: "\(info.venue) \(info.symbol)",
                    given: "\(venueName) \(config.settings.rules.symbol)")
            }
            if stored != config {
                throw LiveError.settingsChanged(path: store.path, what: "settings", stored: stored.text, given: config.text)
            }
        } else {
            try store.create(
                LiveSessionInfo(
                    name: name, venue: venueName, symbol: config.settings.rules.symbol, interval: .minutes(1), configText: config.text,
                    sizeFraction: .one, paperSession: nil, skippedPaperGate: false, tag: config.settings.sessionTag, created: now))
        }
        var replayed = 0
        var decodeError: LiveInputDecodingError?
        var next = session
        try store.forEachInput { row in
            guard decodeError == nil else { return }
            do {
                let input = try HedgeInputCodec.decode((row.seq, row.kind, row.payload))
                _ = next.apply(input)
                if case .observed(let observation) = input {
                    lastStored = observation.time
                    if hedgingSince == nil, observation.position.isNegative { hedgingSince = observation.time }
                }
                replayed += 1
            } catch let error as LiveInputDecodingError {
                decodeError = error
            }
        }
        if let decodeError { throw LiveError.unreadableInput(path: store.path, decodeError) }
        session = next
        let started = try store.startRun(pid: pid, at: now)
        run = started.run
        if started.sealed > 0 { logger.warning("hedge: the previous run ended without stopping (crash or kill); recovering") }
        await venue.track(clientIDs: session.orders.keys.sorted())
        try await execute(try record(.restarted(at: now)))
        // `hedge run` on a session a `hedge stop` stopped: it hedges again (a stop requested
        // while no process ran is still carried out at the first poll).
        if session.stopped != nil { try await execute(try record(.resumed(at: now))) }
        if !dryRun {
            do {
                try await venue.prepare(leverage: config.leverage, isolated: !config.settings.crossMargin)
            } catch {
                // An open position may refuse a change of margin mode; a flat one must take it.
                let note = HedgeNote(
                    time: clock(), kind: .refused, text: "could not set \(config.leverage)x isolated on \(venueName): \(error)")
                try journal([note])
                if session.last.map({ $0.position.isZero }) ?? true {
                    throw LiveError.venueSetup("cannot set \(config.leverage)x isolated margin on \(venueName): \(error); nothing was sent")
                }
            }
        }
        return replayed
    }

    // MARK: - Recording

    /// Stores `input` with the journal rows it produced in one transaction, then returns the
    /// actions that are not journal rows (orders, lookups, margin moves), in order.
    mutating func record(_ input: HedgeInput, handledStop: Int64? = nil) throws -> [HedgeAction] {
        var next = session
        let actions = next.apply(input)
        let notes = actions.compactMap { action -> HedgeNote? in if case .note(let note) = action { return note } else { return nil } }
        let encoded = HedgeInputCodec.encode(input)
        try store.append([(input.time, encoded.kind, encoded.payload)], journal: notes.map(Self.row), handledStop: handledStop)
        session = next
        if case .observed(let observation) = input { lastStored = observation.time }
        announce(notes)
        return actions.filter { if case .note = $0 { return false } else { return true } }
    }

    /// A journal row from the shell (a check at start, a venue notice); warnings also go to
    /// `--notify`.
    public func note(_ kind: HedgeNote.Kind, _ text: String) throws {
        try journal([HedgeNote(time: clock(), kind: kind, text: text)])
    }

    private func journal(_ notes: [HedgeNote]) throws {
        try store.append([], journal: notes.map(Self.row))
        announce(notes)
    }

    private func announce(_ notes: [HedgeNote]) {
        for note in notes {
            output("\(note.time.iso8601)  \(note.kind.rawValue)  \(note.text)")
            switch note.kind {
            case .warning, .refused, .halted, .done, .rebalance, .stopped, .order, .margin:
                if let notifier { Task { await notifier.post(note) } }
            default: break
            }
        }
    }

    static func row(_ note: HedgeNote) -> LiveJournalRow {
        LiveJournalRow(
            time: note.time, event: "hedge",
            line: JSONValue.object([
                ("time", .string(note.time.iso8601)), ("event", .string("hedge")), ("kind", .string(note.kind.rawValue)),
                ("reason", .string(note.text)),
            ]).serialized(pretty: false))
    }

    // MARK: - Acting

    /// Carries out `actions` and whatever their answers lead to. Returns whether anything was
    /// sent to the venue.
    @discardableResult
    mutating func execute(_ actions: [HedgeAction]) async throws -> Bool {
        var queue = actions
        var sent = false
        var steps = 0
        while !queue.isEmpty && steps < 64 {
            steps += 1
            let action = queue.removeFirst()
            switch action {
            case .note(let note):
                try journal([note])
            case .send(let intent):
                if dryRun {
                    sayDryRun(
                        "dry run: would \(intent.side == .short ? "sell" : "buy back") \(intent.quantity) NMR at market\(intent.reduceOnly ? " (reduce-only)" : "")"
                    )
                    continue
                }
                queue += try record(.orderSent(intent))
                let outcome = await venue.submit(intent)
                queue += try record(.submitted(clientID: intent.clientID, outcome, at: clock()))
                sent = true
            case .lookup(let clientID):
                // A not-found younger than the grace is not definitive: wait it out first.
                if let order = session.orders[clientID] {
                    let age = clock() - order.sentAt
                    if age < config.settings.lookupGrace {
                        try? await sleeper(.milliseconds(config.settings.lookupGrace.milliseconds - age.milliseconds + 100))
                    }
                }
                let outcome = await venue.lookup(clientID: clientID, kind: .market)
                queue += try record(.lookedUp(clientID: clientID, outcome, at: clock()))
            case .moveMargin(let sequence, let amount, let add):
                if dryRun {
                    sayDryRun("dry run: would \(add ? "deposit" : "withdraw") \(amount) USDC \(add ? "onto" : "from") the position")
                    continue
                }
                queue += try record(.marginSent(sequence: sequence, amount: amount, add: add, at: clock()))
                let outcome = await venue.moveMargin(amount, add: add)
                queue += try record(.marginAnswered(sequence: sequence, outcome, at: clock()))
                sent = true
            }
        }
        return sent
    }

    private mutating func sayDryRun(_ text: String) {
        guard dryRunSaid.insert(text).inserted else { return }
        let note = HedgeNote(time: clock(), kind: .order, text: text)
        try? journal([note])
    }

    // MARK: - Polling

    /// One poll: stop requests, lookups, the stake (every ``stakeEvery``), the venue, the
    /// decision, and up to five rounds of act-and-look-again (waiting out a lost margin answer once) so a rebalance completes in one
    /// poll. Returns the status.
    @discardableResult
    public mutating func poll() async throws -> HedgeStatus {
        for request in try store.pendingStops() {
            let actions = try record(.stop(close: request.flatten, reason: request.reason, at: clock()), handledStop: request.id)
            try await execute(actions)
        }
        for intent in session.unresolvedOrders {
            try await execute([.lookup(clientID: intent.clientID)])
        }
        var rounds = 0
        var waited = false
        while rounds < 5 {
            rounds += 1
            guard let observation = await observe() else { break }
            var next = session
            let preview = next.apply(.observed(observation))
            let due = lastStored.map { observation.time - $0 >= observationEvery } ?? true
            guard !preview.isEmpty || due else {
                session = next
                if try await waitForMargin(&waited) { continue }
                break
            }
            let actions = try record(.observed(observation))
            if hedgingSince == nil, observation.position.isNegative { hedgingSince = observation.time }
            if try await execute(actions) { continue }
            if try await waitForMargin(&waited) { continue }
            break
        }
        let status = status()
        try store.setStatus(status.json.serialized(pretty: false), at: clock())
        return status
    }

    /// A rebalance held up by a margin move whose answer was lost (in a crash, or a timeout)
    /// waits, once per poll, until the venue has had ``HedgeSettings/marginGrace`` to show it,
    /// then looks again: the collateral is finished in this poll rather than the next.
    private mutating func waitForMargin(_ waited: inout Bool) async throws -> Bool {
        guard !waited, let ends = session.marginWaitEnds else { return false }
        let left = ends - clock()
        guard left.milliseconds > 0, left <= config.settings.marginGrace else { return false }
        waited = true
        try? await sleeper(.milliseconds(left.milliseconds + 100))
        return true
    }

    /// The stake (when due) and the venue, as one observation; a failure is stored as
    /// `unreadable` and nothing is decided.
    /// A pool's short (spec §2): notional `NAV / k`, so `q = NAV / (k·P)`, down to the lot.
    public static func poolShort(nav: Notional, price: Price, settings: HedgeSettings) -> Quantity {
        guard nav.isPositive, price.isPositive, settings.collateralMultiple.isPositive else { return .zero }
        let exact = Fraction(nav) / (Fraction(settings.collateralMultiple) * Fraction(price))
        let quantity = exact.roundedIfRepresentable(to: Quantity.self, .down) ?? .zero
        return quantity.rounded(toMultipleOf: settings.rules.lotSize, rule: .down)
    }

    private mutating func observe() async -> HedgeObservation? {
        let now = clock()
        var stakeNow: Quantity?
        if !config.settings.crossMargin, lastStakeRead.map({ now - $0 >= stakeEvery }) ?? true {
            do {
                let value = try await stakeSource()
                stake = value
                stakeNow = value
                lastStakeRead = now
            } catch {
                _ = try? record(.unreadable(reason: "Numerai stake of \(config.models.joined(separator: ", ")): \(error)", at: now))
            }
        }
        let state: HedgeVenueState
        do { state = try await venue.hedgeState() } catch {
            _ = try? record(.unreadable(reason: "\(venueName): \(error)", at: clock()))
            return nil
        }
        if config.settings.crossMargin {
            // A pool: the account's value is the collateral, and the short to hold is NAV / (k·P).
            guard let nav = state.accountValue else {
                _ = try? record(.unreadable(reason: "\(venueName): the pool's total asset value was not reported", at: clock()))
                return nil
            }
            let short = Self.poolShort(nav: nav, price: state.mark, settings: config.settings)
            return HedgeObservation(
                time: clock(), stake: short, price: state.mark, position: state.position.quantity, isolatedMargin: nav,
                available: state.balance.available, liquidationPrice: state.position.liquidationPrice, fundingPaid: state.fundingPaid)
        }
        return HedgeObservation(
            time: clock(), stake: stakeNow ?? stake, price: state.mark, position: state.position.quantity,
            isolatedMargin: state.position.isolatedMargin ?? .zero, available: state.balance.available,
            liquidationPrice: state.position.liquidationPrice, fundingPaid: state.fundingPaid)
    }

    public func status() -> HedgeStatus {
        let last = session.last
        let short = last?.position.magnitude ?? .zero
        var required: Notional?
        if let price = last?.price, short.isPositive {
            required = (Fraction(config.settings.collateralMultiple) * Fraction(short) * Fraction(price)).roundedIfRepresentable(
                to: Notional.self, .up)
        }
        var apr: Double?
        if let paid = last?.fundingPaid, let since = hedgingSince, let last, short.isPositive {
            let days = Double((last.time - since).milliseconds) / 86_400_000
            let notional = (short * last.price).doubleValue
            if days >= 1, notional > 0 { apr = paid.doubleValue / notional * 365 / days }
        }
        let state: String
        if let halted = session.halted {
            state = "halted: \(halted)"
        } else if session.stopped != nil {
            state = "stopped"
        } else if session.target != nil {
            state = "rebalancing"
        } else {
            state = "hedging"
        }
        return HedgeStatus(
            name: name, venue: venueName, symbol: config.settings.rules.symbol, state: state, updated: clock(), stake: session.stake,
            short: short, price: last?.price, collateral: last?.isolatedMargin ?? .zero, required: required,
            liquidationPrice: last?.liquidationPrice, warningPrice: session.warningPrice, fundingPaid: last?.fundingPaid,
            fundingAPR: apr, lastRebalance: session.lastRebalance?.time, nextRebalance: session.nextRebalance,
            rebalances: session.rebalances, dryRun: dryRun, collateralMultiple: config.settings.collateralMultiple)
    }

    /// The run's end: recorded with `status` (finished, interrupted, stopped).
    public mutating func finish(status: String) async {
        if let run { try? store.endRun(run, status: status, at: clock()) }
        run = nil
        await notifier?.flush()
    }
}
