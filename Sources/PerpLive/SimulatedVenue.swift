import PerpExecution
import PerpMechanics
import PerpModel
import PerpSimulation

/// A fault the simulated venue injects on purpose, so that the execution layer's handling of
/// ambiguous outcomes and misbehaving streams can be tested without a network (reliability.md,
/// "fault injection"; reliability-anchors.md, the scenario table rows 2, 8 and 19).
public enum SimulatedFault: Sendable, Hashable {
    /// The next submit is carried out (the order is accepted, and a market order fills), but its
    /// answer is lost: it answers `.unknown`, as after a timeout or Binance -1006/-1007.
    case loseNextSubmitAnswer
    /// The next submit never reaches the venue: nothing happens and it answers `.unknown`.
    case dropNextSubmit
    /// The next lookup answers `.unknown` (a transport error, never a not-found).
    case failNextLookup
    /// The next snapshot throws.
    case failNextSnapshot
    /// From now on every stream event is delivered twice.
    case repeatEvents
    /// From now on the events each call produces are delivered in a seeded random order.
    case reorderEvents
}

/// Why the simulated venue refused a request that has no outcome enum (snapshot, prepare,
/// heartbeat).
public struct SimulatedVenueError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An exchange simulated in memory behind ``ExecutionVenue``: the simulated venue of decision
/// 0012 (§6, "one protocol, three venues"), with the backtester's exact mechanics.
///
/// - **Market orders** fill at once at the current price (the last bar's close), with the
///   backtester's slippage and taker fee: the fill is computed by a `Backtester` itself (its
///   `slipped` and `fill`, PerpSimulation/Backtester.swift), so both can never disagree.
/// - **Conditional orders** (`stopMarket`, `takeProfitMarket`) rest until ``advance(bar:)``
///   crosses their trigger along the bar's path, the backtester's rule (Backtester.swift,
///   `walkPath`/`runLeg`): the gap from the previous close to the open, then open → the extreme
///   nearer the open's side → the other → close; whatever the path reaches first fills first, at
///   the trigger, or at the open when the bar gapped through it. Both become market orders when
///   triggered (Binance `STOP_MARKET` / `TAKE_PROFIT_MARKET`), so both pay the taker fee and
///   slippage (the backtester models the bot's target as a maker limit instead).
/// - **Client ids** are unique among *open* orders only (Binance: a duplicate of an open
///   order's id gets -4116; a filled order's id can be used again, reliability-anchors.md), so a
///   blind resend of a market order does open a second position here, as it would there.
/// - **Refusals** carry Binance's codes (reliability-anchors.md, error table): -2022 for a
///   reduce-only order that would increase the position, -4023 for a quantity off the lot,
///   -4014 for a trigger off the tick, -4164 below the minimum notional (reduce-only exempt),
///   -4005 above the largest market order, -2021 for a trigger that would fire at once, -2019
///   for insufficient margin, -4116 for a duplicate open client id.
/// - **Money is exact**: wallet balance, realised PnL and fees are ``Notional``; PnL is
///   ``Position/apply(delta:price:)`` (PerpMechanics), wallet = deposit + realised − fees.
///
/// - **Funding** settles through ``observe(_:)`` at the first bar opening at or after the
///   settlement (the backtester's rule, `FundingRate.isDue`): the position pays
///   `FundingMath.payment` (PerpMechanics, spec §3) at the settlement's mark, or the bar's open
///   when none is given, out of the wallet.
/// - **Paper mode** (``Mode/paper``, what `nmrperp paper` trades on): no stream; the events each
///   call produces wait for ``takeEvents()``, so the trader stores them in the same transaction
///   as the answer; no dead man's switch (the venue lives in the trading process: when that
///   dies there is nothing left to cancel, and ``restore(_:)`` brings the book back at the next
///   start).
///
/// Not simulated: liquidation, partial fills, mark price apart from the traded price.
/// Time is an input: it moves only with ``advance(bar:)``, ``advance(to:)`` and bars observed.
public actor SimulatedExecutionVenue: ExecutionVenue {
    /// How the venue delivers its events.
    public enum Mode: Sendable {
        /// Through ``events()``, with the dead man's switch armed by ``heartbeat(countdown:)``
        /// (tests of the execution layer: a remote venue's behaviour).
        case streaming
        /// Through ``takeEvents()`` only; heartbeats are accepted and ignored (paper trading).
        case paper
    }

    public nonisolated let name: String
    public nonisolated let mode: Mode
    let marketRules: MarketRules
    let config: VenueConfig
    let barInterval: TimeSpan

    var wallet: Notional
    var position = Position()
    var leverage: Rate
    /// The current price (the last bar's close, or the one given at init) and its bar's volume.
    var price: Price?
    var volume: Quantity
    var now: Timestamp
    /// Every order ever accepted, oldest first (lookups take the newest with a client id).
    var orders: [VenueOrder] = []
    /// Placement order of the resting conditional orders: indices into `orders`.
    var resting: [Int] = []
    var fills: [VenueFill] = []
    var nextID: Int64 = 1
    var deadline: Timestamp?
    /// Funding the position paid (negative: received), for reports.
    var fundingPaid = Notional.zero

    var pending: [SimulatedFault] = []
    var repeatEvents = false
    var reorderEvents = false
    var random: SplitMix64
    var continuation: AsyncStream<VenueEvent>.Continuation?
    /// Paper mode: events waiting for ``takeEvents()``.
    var queued: [VenueEvent] = []
    /// Funding settlements observed, waiting for the bar they settle at.
    var pendingFunding: [(rate: FundingRate, mark: Price?)] = []
    /// The last bar observed (bars at or before it are ignored: a restart may show it again).
    var lastObservedBar: Timestamp?

    /// - Parameters:
    ///   - rules: what ``rules()`` answers and every order is checked against.
    ///   - config: the backtester's venue rules: taker fee, slippage (its lot size and margin
    ///     mode are not used; `rules.lotSize` is the lot).
    ///   - balance: the wallet's deposit.
    ///   - price: the current price before the first bar (`nil`: market orders are refused
    ///     until a bar arrives).
    ///   - volume: the current bar's volume, for `SlippageModel.volumeShare`.
    ///   - time: the venue's clock at start.
    ///   - barInterval: the bars' length: ``advance(bar:)`` moves the clock to the bar's close.
    ///   - seed: seeds ``SimulatedFault/reorderEvents``.
    public init(
        name: String = "sim", rules: MarketRules, config: VenueConfig = VenueConfig(), balance: Notional, price: Price? = nil,
        volume: Quantity = .zero, time: Timestamp, barInterval: TimeSpan, seed: UInt64 = 0, mode: Mode = .streaming
    ) {
        self.name = name
        self.mode = mode
        self.marketRules = rules
        self.config = config
        self.wallet = balance
        self.price = price
        self.volume = volume
        self.now = time
        self.barInterval = barInterval
        self.leverage = config.leverage.isPositive ? config.leverage : .one
        self.random = SplitMix64(seed: seed)
    }

    // MARK: Driving the simulation

    /// Injects `fault` (one-shot faults apply to the next call of their kind; stream faults stay
    /// on until ``clearFaults()``).
    public func inject(_ fault: SimulatedFault) {
        switch fault {
        case .repeatEvents: repeatEvents = true
        case .reorderEvents: reorderEvents = true
        case .loseNextSubmitAnswer, .dropNextSubmit, .failNextLookup, .failNextSnapshot: pending.append(fault)
        }
    }

    /// Removes every injected fault.
    public func clearFaults() {
        pending.removeAll()
        repeatEvents = false
        reorderEvents = false
    }

    /// One closed bar: the dead man's switch fires if its deadline is at or before the bar's
    /// open, resting conditional orders trigger along the bar's path (the backtester's rule, see
    /// the type's documentation; fills are stamped with the bar's open time, as the backtester
    /// stamps path fills), then the clock moves to the bar's close, where the switch fires if
    /// it is due by then, and the bar's close becomes the current price.
    public func advance(bar: Candle) {
        emit(move(through: bar))
    }

    /// ``advance(bar:)``'s work, answering the events instead of delivering them.
    func move(through bar: Candle) -> [VenueEvent] {
        var batch: [VenueEvent] = []
        if bar.openTime > now { now = bar.openTime }
        expireIfDue(into: &batch)
        let previous = price ?? bar.open
        let (first, second) = bar.close >= bar.open ? (bar.low, bar.high) : (bar.high, bar.low)
        if previous != bar.open {
            walk(from: previous, to: bar.open, atOpen: true, volume: bar.volume, time: bar.openTime, into: &batch)
        }
        walk(from: bar.open, to: first, atOpen: false, volume: bar.volume, time: bar.openTime, into: &batch)
        walk(from: first, to: second, atOpen: false, volume: bar.volume, time: bar.openTime, into: &batch)
        walk(from: second, to: bar.close, atOpen: false, volume: bar.volume, time: bar.openTime, into: &batch)
        price = bar.close
        volume = bar.volume
        let close = bar.openTime.adding(barInterval) ?? bar.openTime
        if close > now { now = close }
        expireIfDue(into: &batch)
        return batch
    }

    /// A bar or a funding settlement the trader read. A settlement waits for the first bar
    /// opening at or after it; that bar settles it (at its mark, or the bar's open) before its
    /// path moves the book. A bar at or before the last one observed is ignored (a restart shows
    /// the bar it crashed on again). Only in paper mode: a streaming venue plays a remote
    /// exchange, whose market moves on its own (``advance(bar:)``), so it ignores what the
    /// trader read, as a real venue does.
    public func observe(_ market: MarketObservation) async -> [VenueEvent] {
        guard mode == .paper else { return [] }
        var batch: [VenueEvent] = []
        switch market {
        case .funding(let rate, let mark):
            pendingFunding.append((rate, mark))
        case .bar(let bar):
            guard lastObservedBar.map({ bar.openTime > $0 }) ?? true else { return [] }
            lastObservedBar = bar.openTime
            let due = pendingFunding.filter { $0.rate.isDue(atBarOpening: bar.openTime) }
            pendingFunding.removeAll { $0.rate.isDue(atBarOpening: bar.openTime) }
            for settlement in due { settle(settlement.rate, mark: settlement.mark ?? bar.open, into: &batch) }
            batch += move(through: bar)
        }
        return batch
    }

    public func takeEvents() async -> [VenueEvent] {
        defer { queued.removeAll() }
        return queued
    }

    /// One funding settlement on the open position (spec §3, `FundingMath.payment`: positive
    /// rate, longs pay). The wallet absorbs it; a payment the wallet cannot carry is skipped
    /// (beyond the amount limit, never reached by a paper account).
    func settle(_ rate: FundingRate, mark: Price, into batch: inout [VenueEvent]) {
        guard !position.isFlat else { return }
        let payment = FundingMath.payment(quantity: position.quantity, mark: mark, rate: rate.rate)
        guard let after = try? wallet.subtracting(payment, "the wallet") else { return }
        wallet = after
        fundingPaid = (try? fundingPaid.adding(payment, "funding paid")) ?? fundingPaid
        batch.append(.balance(balance))
    }

    /// Moves the clock to `time` without a bar (never backwards); the dead man's switch fires
    /// if due.
    public func advance(to time: Timestamp) {
        if time > now { now = time }
        var batch: [VenueEvent] = []
        expireIfDue(into: &batch)
        emit(batch)
    }

    /// The venue's clock.
    public var time: Timestamp { now }

    /// The current price (the last bar's close).
    public var currentPrice: Price? { price }

    /// Every order the venue ever accepted, oldest first (tests: no client id twice).
    public var acceptedOrders: [VenueOrder] { orders }
    /// Every execution, oldest first.
    public var executions: [VenueFill] { fills }
    /// The venue's position (signed).
    public var positionQuantity: Quantity { position.quantity }

    // MARK: ExecutionVenue

    public func rules() async throws -> MarketRules { marketRules }

    /// Binance accepts leverage 1 to 125 on USD-M (`POST /fapi/v1/leverage`, -4028 otherwise).
    public func prepare(leverage: Int, isolated: Bool) async throws {
        guard (1...125).contains(leverage) else { throw SimulatedVenueError("leverage must be from 1 to 125 (got \(leverage))") }
        self.leverage = Rate(leverage)
    }

    public func submit(_ intent: OrderIntent) async -> SubmitOutcome {
        var fault: SimulatedFault?
        if let index = pending.firstIndex(where: { $0 == .loseNextSubmitAnswer || $0 == .dropNextSubmit }) {
            fault = pending.remove(at: index)
        }
        if fault == .dropNextSubmit { return .unknown(reason: "simulated: the request never reached the venue") }
        var batch: [VenueEvent] = []
        let outcome = place(intent, into: &batch)
        emit(batch)
        if fault == .loseNextSubmitAnswer { return .unknown(reason: "simulated: the answer was lost") }
        return outcome
    }

    /// The newest order with `clientID` in the book `kind` lives in (regular or conditional).
    public func lookup(clientID: String, kind: OrderKind) async -> LookupOutcome {
        if let index = pending.firstIndex(of: .failNextLookup) {
            pending.remove(at: index)
            return .unknown(reason: "simulated: the lookup failed")
        }
        guard let order = orders.last(where: { $0.clientID == clientID && $0.kind.isConditional == kind.isConditional }) else {
            return .notFound
        }
        return .found(order)
    }

    public func cancel(clientID: String, kind: OrderKind) async -> CancelOutcome {
        guard
            let position = resting.firstIndex(where: {
                orders[$0].clientID == clientID && orders[$0].kind.isConditional == kind.isConditional
            })
        else { return .notOpen }
        let index = resting.remove(at: position)
        orders[index].status = .cancelled
        orders[index].updatedAt = now
        emit([.order(orders[index])])
        return .cancelled(orders[index])
    }

    public func snapshot(fillsSince: Timestamp) async throws -> VenueSnapshot {
        if let index = pending.firstIndex(of: .failNextSnapshot) {
            pending.remove(at: index)
            throw SimulatedVenueError("simulated: the snapshot failed")
        }
        return VenueSnapshot(
            openOrders: resting.map { orders[$0] }, position: venuePosition, balance: balance,
            fills: fills.filter { $0.time >= fillsSince }, time: now)
    }

    /// Arms the dead man's switch for `countdown` from the venue's clock (Binance
    /// `countdownCancelAll`, reliability-anchors.md: milliseconds, 0 disarms). When the clock
    /// reaches it, every open order is cancelled.
    public func heartbeat(countdown: TimeSpan) async throws {
        guard countdown.milliseconds >= 0 else { throw SimulatedVenueError("countdown cannot be negative (got \(countdown))") }
        guard mode == .streaming else { return }
        deadline = countdown.milliseconds == 0 ? nil : now.adding(countdown)
    }

    /// A new stream of the venue's events (the previous one, if any, ends). Events produced
    /// while no one listens are not kept, as with a user data stream not yet connected.
    public func events() async -> AsyncStream<VenueEvent>? {
        guard mode == .streaming else { return nil }
        continuation?.finish()
        let (stream, continuation) = AsyncStream.makeStream(of: VenueEvent.self, bufferingPolicy: .unbounded)
        self.continuation = continuation
        return stream
    }

    // MARK: Orders

    /// Checks `intent` against the rules and places it: a market order fills now, a
    /// conditional order rests.
    func place(_ intent: OrderIntent, into batch: inout [VenueEvent]) -> SubmitOutcome {
        let rules = marketRules
        guard !intent.clientID.isEmpty, intent.clientID.count <= 36 else {
            return .rejected(code: -4015, message: "Client order id length should not be more than 36 chars")
        }
        guard intent.quantity.isPositive else { return .rejected(code: -4003, message: "Quantity less than or equal to zero.") }
        if rules.lotSize.isPositive, intent.quantity.raw % rules.lotSize.raw != 0 {
            return .rejected(code: -4023, message: "Quantity not increased by step size.")
        }
        if resting.contains(where: { orders[$0].clientID == intent.clientID }) {
            return .rejected(code: -4116, message: "ClientOrderId is duplicated.")
        }
        if intent.reduceOnly, position.side == nil || position.side == intent.side {
            return .rejected(code: -2022, message: "ReduceOnly Order is rejected.")
        }
        guard let current = price else { return .rejected(code: -1, message: "the simulated venue has no price yet") }
        if intent.kind.isConditional {
            guard let trigger = intent.triggerPrice, trigger.isPositive else {
                return .rejected(code: -1102, message: "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed.")
            }
            if rules.tickSize.isPositive, trigger.raw % rules.tickSize.raw != 0 {
                return .rejected(code: -4014, message: "Price not increased by tick size.")
            }
            if let refusal = minimumNotional(intent, at: trigger) { return refusal }
            if Self.triggersRising(intent.kind, intent.side) ? current >= trigger : current <= trigger {
                return .rejected(code: -2021, message: "Order would immediately trigger.")
            }
            let order = VenueOrder(
                clientID: intent.clientID, venueOrderID: newID(), kind: intent.kind, side: intent.side, status: .accepted,
                quantity: intent.quantity, filledQuantity: .zero, averagePrice: nil, triggerPrice: trigger, reduceOnly: intent.reduceOnly,
                updatedAt: now)
            orders.append(order)
            resting.append(orders.count - 1)
            batch.append(.order(order))
            return .accepted(order)
        }
        if rules.maxMarketQuantity.isPositive, intent.quantity > rules.maxMarketQuantity {
            return .rejected(code: -4005, message: "Quantity greater than max quantity.")
        }
        if let refusal = minimumNotional(intent, at: current) { return refusal }
        if !intent.reduceOnly, let refusal = marginCheck(intent, at: current) { return refusal }
        var order = VenueOrder(
            clientID: intent.clientID, venueOrderID: newID(), kind: .market, side: intent.side, status: .accepted,
            quantity: intent.quantity, filledQuantity: .zero, averagePrice: nil, triggerPrice: nil, reduceOnly: intent.reduceOnly,
            updatedAt: now)
        guard let fill = execute(&order, at: current, volume: volume, time: now, fillOrderID: order.venueOrderID) else {
            return .rejected(code: -1, message: "the order is beyond what the simulated venue carries")
        }
        orders.append(order)
        // A stream reports the order new, then filled; in paper mode the answer itself says
        // filled, so a "new" event after it would only be stale.
        if mode == .streaming { batch.append(.order(VenueOrder(accepting: order))) }
        batch += [.fill(fill), .order(order), .position(venuePosition), .balance(balance)]
        return .accepted(order)
    }

    /// Binance `MIN_NOTIONAL`: "Order's notional must be no smaller than 5 (unless you choose
    /// reduce only)", -4164 (reliability-anchors.md, error table).
    func minimumNotional(_ intent: OrderIntent, at price: Price) -> SubmitOutcome? {
        guard !intent.reduceOnly else { return nil }
        guard let notional = try? price.times(intent.quantity, "the order's notional") else {
            return .rejected(code: -1, message: "the order's notional is beyond what the simulated venue carries")
        }
        if notional < marketRules.minNotional {
            return .rejected(
                code: -4164, message: "Order's notional must be no smaller than \(marketRules.minNotional) (unless you choose reduce only)."
            )
        }
        return nil
    }

    /// Binance -2019 "Margin is insufficient": the initial margin of what the order opens
    /// (notional at `price` / leverage, rounded up) is more than the available balance.
    func marginCheck(_ intent: OrderIntent, at price: Price) -> SubmitOutcome? {
        let signed = intent.side == .long ? intent.quantity : -intent.quantity
        let closing =
            position.side == nil || position.side == intent.side ? Quantity.zero : min(intent.quantity, position.quantity.magnitude)
        let opening = signed.magnitude - closing
        guard opening.isPositive else { return nil }
        guard let notional = try? price.times(opening, "the order's notional") else {
            return .rejected(code: -1, message: "the order's notional is beyond what the simulated venue carries")
        }
        let required = (Fraction(notional) / Fraction(leverage)).rounded(to: Notional.self, .up)
        if required > balance.available { return .rejected(code: -2019, message: "Margin is insufficient.") }
        return nil
    }

    /// Fills `order` as a taker at `base` (before slippage): reduce-only trimmed to the
    /// position, the price and fee the backtester gives, the PnL ``Position`` realises.
    /// Updates `order` (filled, or expired when nothing was left to reduce) and returns the fill.
    func execute(_ order: inout VenueOrder, at base: Price, volume: Quantity, time: Timestamp, fillOrderID: String) -> VenueFill? {
        var size = order.quantity
        if order.reduceOnly {
            guard let side = position.side, side != order.side else {
                order.status = .expired
                order.updatedAt = time
                return nil
            }
            size = min(size, position.quantity.magnitude)
        }
        let delta = order.side == .long ? size : -size
        guard let record = Self.backtesterFill(delta: delta, at: base, volume: volume, config: config, time: time) else {
            order.status = .expired
            order.updatedAt = time
            return nil
        }
        // The position stays within what the backtester carries (``AmountLimit``), so no sum
        // below can overflow.
        let (after, overflow) = position.quantity.raw.addingReportingOverflow(delta.raw)
        guard !overflow, !AmountLimit.exceeded(quantity: after, price: record.price.raw) else {
            order.status = .expired
            order.updatedAt = time
            return nil
        }
        var moved = position
        let realized = moved.apply(delta: delta, price: record.price)
        guard let balanceAfter = try? wallet.adding(realized, "the wallet").subtracting(record.fee, "the wallet") else {
            order.status = .expired
            order.updatedAt = time
            return nil
        }
        position = moved
        wallet = balanceAfter
        order.filledQuantity = size
        order.averagePrice = record.price
        order.status = size == order.quantity ? .filled : .expired
        order.updatedAt = time
        let fill = VenueFill(
            tradeID: newID(), venueOrderID: fillOrderID, clientID: order.clientID, side: order.side, quantity: size, price: record.price,
            fee: record.fee, realizedPnL: realized, time: time)
        fills.append(fill)
        return fill
    }

    /// The fill the backtester itself makes for a market order of `delta` at `price`: one bar
    /// at `price` stepped through a `Backtester` whose strategy sends that order, so the
    /// slippage (`Backtester.slipped`, by ``SlippageModel``) and the taker fee (`Backtester.fill`:
    /// `price × |delta| × takerFee`) are the backtester's own. `nil` when the backtester refuses
    /// it (beyond ``AmountLimit``).
    static func backtesterFill(delta: Quantity, at price: Price, volume: Quantity, config: VenueConfig, time: Timestamp) -> FillRecord? {
        var venue = config
        venue.marginMode = .cross
        venue.lotSize = Quantity(raw: 1)
        venue.recordEquity = false
        venue.closeAtEnd = false
        let order = OrderRequest(side: delta.isPositive ? .long : .short, quantity: delta.magnitude, kind: .market)
        var oracle = Backtester(strategy: OneAction(action: .submit([order])), config: venue, initialCapital: Notional(raw: 1))
        oracle.step(Candle(openTime: time, open: price, high: price, low: price, close: price, volume: volume))
        guard oracle.halt == nil, let fill = oracle.fillHistory.last, fill.quantity == delta.magnitude else { return nil }
        return fill
    }

    /// One leg of a bar's path (Backtester.swift `runLeg`): the resting conditional orders whose
    /// trigger the leg reaches fill nearest first (ties: the older order), at the trigger, or at
    /// the leg's end when the leg is the gap to the open.
    func walk(from start: Price, to end: Price, atOpen: Bool, volume: Quantity, time: Timestamp, into batch: inout [VenueEvent]) {
        let rising = end >= start
        var cursor = start
        for _ in 0...(resting.count + 1) {
            var best: (trigger: Price, slot: Int)?
            for (slot, index) in resting.enumerated() {
                let order = orders[index]
                guard let trigger = order.triggerPrice, Self.triggersRising(order.kind, order.side) == rising else { continue }
                let reached = rising ? (trigger >= cursor && trigger <= end) : (trigger <= cursor && trigger >= end)
                guard reached else { continue }
                if let current = best {
                    if rising ? trigger < current.trigger : trigger > current.trigger { best = (trigger, slot) }
                } else {
                    best = (trigger, slot)
                }
            }
            guard let hit = best else { return }
            cursor = hit.trigger
            let index = resting.remove(at: hit.slot)
            let triggered = newID()
            orders[index].triggeredOrderID = triggered
            if let fill = execute(&orders[index], at: atOpen ? end : hit.trigger, volume: volume, time: time, fillOrderID: triggered) {
                batch += [.fill(fill), .order(orders[index]), .position(venuePosition), .balance(balance)]
            } else {
                batch.append(.order(orders[index]))
            }
        }
    }

    /// Whether a conditional order triggers when the price rises to its trigger: a buy stop and
    /// a sell take-profit do; a sell stop and a buy take-profit trigger when it falls (Binance
    /// `STOP_MARKET`, `TAKE_PROFIT_MARKET`).
    static func triggersRising(_ kind: OrderKind, _ side: Side) -> Bool {
        (kind == .stopMarket) == (side == .long)
    }

    /// Cancels every open order when the dead man's switch is due, and disarms it.
    func expireIfDue(into batch: inout [VenueEvent]) {
        guard let deadline, now >= deadline else { return }
        self.deadline = nil
        for index in resting {
            orders[index].status = .cancelled
            orders[index].updatedAt = deadline
            batch.append(.order(orders[index]))
        }
        resting.removeAll()
    }

    func newID() -> String {
        defer { nextID += 1 }
        return String(nextID)
    }

    var venuePosition: VenuePosition {
        VenuePosition(
            quantity: position.quantity, entryPrice: position.entryPrice, markPrice: price, leverage: Int(leverage.raw / Rate.scale))
    }

    /// Wallet (deposit + realised PnL − fees) and available (wallet + unrealised PnL − the
    /// position's initial margin at the current price), exact.
    var balance: VenueBalance {
        guard let price, !position.isFlat else { return VenueBalance(wallet: wallet, available: wallet) }
        let pnl = position.unrealizedPnL(mark: price)
        let initial = (Fraction(price.times(position.quantity.magnitude)) / Fraction(leverage)).rounded(to: Notional.self, .up)
        return VenueBalance(wallet: wallet, available: wallet + pnl - initial)
    }

    /// Delivers one call's events, with the stream faults applied.
    func emit(_ batch: [VenueEvent]) {
        if mode == .paper {
            queued += batch
            return
        }
        guard let continuation, !batch.isEmpty else { return }
        var events = batch
        if reorderEvents, events.count > 1 {
            for i in stride(from: events.count - 1, to: 0, by: -1) {
                let j = Int(random.next(below: UInt64(i + 1)))
                events.swapAt(i, j)
            }
        }
        for event in events {
            continuation.yield(event)
            if repeatEvents { continuation.yield(event) }
        }
    }
}

extension VenueOrder {
    /// The order as first accepted: nothing filled yet.
    fileprivate init(accepting order: VenueOrder) {
        self = order
        self.status = .accepted
        self.filledQuantity = .zero
        self.averagePrice = nil
    }
}

/// A strategy that sends one action at the first bar: the oracle behind
/// ``SimulatedExecutionVenue/backtesterFill(delta:at:volume:config:time:)``.
struct OneAction: Strategy {
    var action: StrategyAction?
    mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction? {
        defer { action = nil }
        return action
    }
}
