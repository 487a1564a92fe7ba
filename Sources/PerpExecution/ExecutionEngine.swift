import PerpEngine
import PerpModel
import PerpSimulation

/// The execution layer's pure core (decision 0012): it turns the kernel's commands into order
/// intents, follows every order through ``OrderStateMachine``, applies fills once (by trade id),
/// keeps the position those fills give, places and cancels the resting stop and target, resolves
/// unknown outcomes by lookup (never a blind resend), and gates trading on reconciliation.
///
/// `handle(_:)` is deterministic: the same inputs give the same actions. Orders are kept in
/// sequence order; dictionaries only index them and are never iterated into the output.
public struct ExecutionEngine: Sendable {
    public let settings: ExecutionSettings

    /// The orders, in sequence order.
    public private(set) var orders: [OrderRecord] = []
    /// Signed position from applied fills only (+ long, − short).
    public private(set) var position: Quantity = .zero
    /// Average entry price of ``position``; `nil` when flat.
    public private(set) var averageEntry: Price?
    /// Σ of what the applied fills realised (Binance `rp`).
    public private(set) var realizedPnL: Notional = .zero
    /// Σ of the applied fills' commissions.
    public private(set) var fees: Notional = .zero
    /// The last balance the venue reported (snapshot or stream).
    public private(set) var balance: VenueBalance?
    /// The last position the venue reported (snapshot or stream), for status only: the
    /// comparison happens at reconciliation.
    public private(set) var venuePosition: VenuePosition?
    /// The sequence the next intent takes.
    public private(set) var nextSequence: Int64 = 1
    /// Trade ids applied so far.
    public private(set) var seenTradeIDs: Set<String> = []
    /// The time of the newest fill applied: reconciliation asks the venue for trades from a
    /// little before it.
    public private(set) var lastFillTime: Timestamp?

    private var baseGate: ExecutionGate = .awaitingReconciliation
    /// The reason of the operator's stop: a reconciliation never reopens such a halt.
    private var operatorHalt: String?
    /// The operator's stop asked to flatten: until a new run, any position the venue shows is
    /// closed (a market order in flight when the stop came can fill after it).
    private var flattenRequested = false
    /// The position the last flatten was sent for: a refused close is not sent again for the
    /// same position (no loop of refusals), only when the position has changed.
    private var flattenedPosition: Quantity?
    private var indexByClientID: [String: Int] = [:]
    private var indexByVenueID: [String: Int] = [:]
    /// Fills applied to the position before we knew their order (by venue id): attributed to
    /// the order when a report names its venue id.
    private var unattributed: [VenueFill] = []
    private var out: [ExecutionAction] = []
    private var now = Timestamp(milliseconds: 0)

    public init(settings: ExecutionSettings) {
        self.settings = settings
    }

    // MARK: - Read-only state

    /// Whether orders may leave. `.open` reads as `.reducing` while any order's outcome is
    /// unknown (decision 0012, §3: no new entry until it is resolved).
    public var gate: ExecutionGate {
        if case .open = baseGate {
            let count = unresolved.count
            if count > 0 { return .reducing("\(count) order\(count == 1 ? "" : "s") with an unknown outcome") }
        }
        return baseGate
    }

    /// Orders that may be live at the venue: not terminal.
    public var openOrders: [OrderRecord] { orders.filter { !$0.status.isTerminal } }

    /// Orders whose submit or cancel has no answer yet (`pendingSubmit`, `pendingCancel`).
    public var unresolved: [OrderRecord] { orders.filter(\.isUnresolved) }

    /// The order with this client id.
    public func order(clientID: String) -> OrderRecord? {
        indexByClientID[clientID].map { orders[$0] }
    }

    // MARK: - Input

    /// Applies one input and returns what the shell must do, in order.
    public mutating func handle(_ input: ExecutionInput) -> [ExecutionAction] {
        out = []
        switch input {
        case .commands(let commands, let at, let price):
            now = at
            for command in commands {
                switch command {
                case .open(let side, let quantity, let stop, let target):
                    open(side: side, quantity: quantity, stop: stop, target: target, price: price)
                case .close(let reason):
                    cancelProtective(except: nil)
                    marketClose(purpose: OrderPurpose(closing: reason), flatten: false)
                case .cancelOrders:
                    cancelProtective(except: nil)
                case .journal:
                    break
                }
            }
        case .submitted(let clientID, let outcome, let at):
            now = at
            submitted(clientID: clientID, outcome)
        case .lookedUp(let clientID, let outcome, let at):
            now = at
            lookedUp(clientID: clientID, outcome)
        case .cancelAnswered(let clientID, let outcome, let at):
            now = at
            cancelAnswered(clientID: clientID, outcome)
        case .venue(let event, let at):
            now = at
            venue(event)
        case .snapshot(let snapshot, let at):
            now = at
            reconcile(snapshot)
        case .stop(let flatten, let reason, let at):
            now = at
            stop(flatten: flatten, reason: reason)
        case .restarted(let at):
            now = at
            restarted()
        case .tick(let at):
            now = at
            tick()
        }
        keepFlat()
        let actions = out
        out = []
        return actions
    }

    // MARK: - Commands

    /// Sizes and sends the kernel's entry: `quantity × sizeFraction` rounded down to the lot
    /// (never up past a cap; reliability-anchors.md §4, "quantity down to the lot"), refused
    /// below one lot, below Binance's `MIN_NOTIONAL` at `price`, or above `MARKET_LOT_SIZE.maxQty`.
    private mutating func open(side: Side, quantity: Quantity, stop: Price, target: Price, price: Price) {
        let rules = settings.rules
        func refuse(_ why: String) { note(.refused, nil, "entry \(side.rawValue) \(quantity) refused: \(why)") }
        guard case .open = baseGate else { return refuse("the gate is \(describe(gate))") }
        guard unresolved.isEmpty else { return refuse("\(unresolved.count) order(s) with an unknown outcome") }
        let fraction = settings.sizeFraction
        guard fraction.isPositive, fraction <= Rate.one else { return refuse("size fraction \(fraction) is not in (0, 1]") }
        guard rules.lotSize.isPositive else { return refuse("the market's lot size \(rules.lotSize) is not positive") }
        guard quantity.isPositive, quantity.isWithin(CarryLimit.quantity) else {
            return refuse("quantity is not positive or beyond limits")
        }
        guard price.isPositive, price.isWithin(CarryLimit.price) else { return refuse("price \(price) is not positive or beyond limits") }
        guard stop.isPositive, target.isPositive else { return refuse("stop \(stop) or target \(target) is not positive") }
        guard let scaled = try? quantity.scaled(by: fraction, rule: .down, "the sized quantity") else {
            return refuse("the sized quantity is beyond limits")
        }
        guard rules.lotSize.isPositive, rules.tickSize.isPositive, rules.maxMarketQuantity.isPositive else {
            return refuse("the market's rules are unusable (lot \(rules.lotSize), tick \(rules.tickSize)); nothing is sent")
        }
        let sized = scaled.rounded(toMultipleOf: rules.lotSize, rule: .down)
        guard sized.isPositive else { return refuse("\(scaled) is below one lot (\(rules.lotSize))") }
        guard sized <= rules.maxMarketQuantity else {
            return refuse("\(sized) is above the largest market order (\(rules.maxMarketQuantity))")
        }
        guard let notional = try? price.times(sized, "the entry's notional"), notional >= rules.minNotional else {
            return refuse("\(sized) at \(price) is below the minimum notional \(rules.minNotional)")
        }
        place(
            kind: .market, purpose: .entry, side: side, quantity: sized, trigger: nil, reduceOnly: false,
            protection: ProtectionPlan(stop: stop, target: target))
    }

    /// Records and sends a new intent (the intent is recorded before it leaves: decision 0012, §2).
    private mutating func place(
        kind: OrderKind, purpose: OrderPurpose, side: Side, quantity: Quantity, trigger: Price?, reduceOnly: Bool,
        protection: ProtectionPlan?
    ) {
        let sequence = nextSequence
        let clientID = ClientOrderID.make(tag: settings.sessionTag, sequence: sequence, purpose: purpose)
        let intent = OrderIntent(
            sequence: sequence, clientID: clientID, kind: kind, purpose: purpose, side: side, quantity: quantity,
            triggerPrice: trigger, reduceOnly: reduceOnly, createdAt: now)
        nextSequence = sequence == .max ? sequence : sequence + 1
        var record = OrderRecord(intent: intent, protection: protection)
        record.lastSentAt = now
        indexByClientID[clientID] = orders.count
        orders.append(record)
        let what = trigger.map { " trigger \($0)" } ?? ""
        note(.sent, clientID, "\(purpose.rawValue) \(kind.rawValue) \(side.rawValue) \(quantity)\(what)\(reduceOnly ? " reduce-only" : "")")
        out.append(.send(intent))
    }

    /// Whether a new order may leave now. Cancels and lookups always may.
    /// `excluding` is an order being resent: its own unknown outcome does not count.
    private func mayPlace(reduceOnly: Bool, flatten: Bool, excluding: Int? = nil) -> Bool {
        switch baseGate {
        case .awaitingReconciliation: return false
        case .halted: return flatten
        case .reducing: return reduceOnly
        case .open: return reduceOnly || !orders.indices.contains { $0 != excluding && orders[$0].isUnresolved }
        }
    }

    /// A reduce-only market close of the position (at most `MARKET_LOT_SIZE.maxQty`, down to the
    /// lot), unless flat or a close is already working.
    private mutating func marketClose(purpose: OrderPurpose, flatten: Bool) {
        guard !position.isZero else { return }
        if let working = orders.first(where: { $0.intent.kind == .market && $0.intent.reduceOnly && !$0.status.isTerminal }) {
            note(.refused, working.clientID, "\(purpose.rawValue) close not sent: a close is already working")
            return
        }
        guard mayPlace(reduceOnly: true, flatten: flatten) else {
            note(.refused, nil, "\(purpose.rawValue) close not sent: the gate is \(describe(gate))")
            return
        }
        guard position.raw != .min else { return }
        var quantity = position.magnitude
        let rules = settings.rules
        if rules.maxMarketQuantity.isPositive, quantity > rules.maxMarketQuantity { quantity = rules.maxMarketQuantity }
        if rules.lotSize.isPositive { quantity = quantity.rounded(toMultipleOf: rules.lotSize, rule: .down) }
        guard quantity.isPositive else {
            note(.refused, nil, "\(purpose.rawValue) close not sent: \(position.magnitude) is below one lot")
            return
        }
        place(
            kind: .market, purpose: purpose, side: position.isPositive ? .short : .long, quantity: quantity, trigger: nil,
            reduceOnly: true, protection: nil)
    }

    /// Requests the cancel of every open stop and target except `except`.
    private mutating func cancelProtective(except: Int?) {
        for index in orders.indices where index != except && orders[index].intent.kind.isConditional {
            requestCancel(index)
        }
    }

    /// Asks the venue to cancel an order that is resting or working.
    private mutating func requestCancel(_ index: Int) {
        guard orders[index].isOpen else { return }
        let before = orders[index].status
        guard case .moved(let status) = OrderStateMachine.next(before, .cancelRequested) else { return }
        orders[index].statusBeforeCancel = before
        orders[index].status = status
        orders[index].nextLookupAt = nil
        out.append(.cancel(clientID: orders[index].clientID, kind: orders[index].intent.kind))
    }

    /// Places the stop and target of a filled entry (reduce-only `STOP_MARKET` and
    /// `TAKE_PROFIT_MARKET` on Binance's Algo Order API; decision 0012, §5).
    private mutating func protect(quantity: Quantity, positionSide: Side, plan: ProtectionPlan, stop: Bool, target: Bool) {
        guard mayPlace(reduceOnly: true, flatten: false) else {
            note(.refused, nil, "stop and target not placed yet: the gate is \(describe(gate)); reconciliation places them")
            return
        }
        var quantity = quantity
        if settings.rules.lotSize.isPositive { quantity = quantity.rounded(toMultipleOf: settings.rules.lotSize, rule: .down) }
        guard quantity.isPositive else {
            note(.refused, nil, "stop and target not placed: \(quantity) is below one lot")
            return
        }
        let side = positionSide.opposite
        // Triggers on the venue's tick (Binance PRICE_FILTER.tickSize; -1111/-4014 otherwise),
        // rounded toward the position's entry: the stop a little tighter, the target a little
        // nearer, never a larger loss than the kernel planned (reliability.md, "Money
        // invariants": every order sent passes the venue's tick rules).
        let tick = settings.rules.tickSize
        let long = positionSide == .long
        let stopTrigger = tick.isPositive ? plan.stop.rounded(toMultipleOf: tick, rule: long ? .up : .down) : plan.stop
        let targetTrigger = tick.isPositive ? plan.target.rounded(toMultipleOf: tick, rule: long ? .down : .up) : plan.target
        guard stopTrigger.isPositive, targetTrigger.isPositive else {
            note(.refused, nil, "stop \(plan.stop) or target \(plan.target) rounds to zero on the tick \(tick)")
            return
        }
        if stop {
            place(
                kind: .stopMarket, purpose: .stop, side: side, quantity: quantity, trigger: stopTrigger, reduceOnly: true,
                protection: plan)
        }
        if target {
            place(
                kind: .takeProfitMarket, purpose: .target, side: side, quantity: quantity, trigger: targetTrigger, reduceOnly: true,
                protection: plan)
        }
    }

    /// Re-places whichever of the stop and target is missing for the open position, from the
    /// plan remembered with the last filled entry (decision 0012, §5: "re-placed on restart by
    /// reconciliation").
    private mutating func ensureProtection() {
        guard !position.isZero, position.raw != .min else { return }
        let positionSide: Side = position.isPositive ? .long : .short
        let live = orders.filter { !$0.status.isTerminal && $0.intent.reduceOnly && $0.intent.side == positionSide.opposite }
        let hasStop = live.contains { $0.intent.kind == .stopMarket }
        let hasTarget = live.contains { $0.intent.kind == .takeProfitMarket }
        guard !hasStop || !hasTarget else { return }
        guard let plan = orders.last(where: { $0.intent.purpose == .entry && $0.filledQuantity.isPositive })?.protection else {
            note(.refused, nil, "position \(position) has no stop and no remembered plan to place one")
            return
        }
        protect(quantity: position.magnitude, positionSide: positionSide, plan: plan, stop: !hasStop, target: !hasTarget)
    }

    // MARK: - Answers

    private mutating func submitted(clientID: String, _ outcome: SubmitOutcome) {
        guard let index = indexByClientID[clientID] else {
            note(.illegalTransition, nil, "a submit answer for an order we do not know: \(executionExcerpt(clientID, limit: 40))")
            return
        }
        switch outcome {
        case .accepted(let report):
            if orders[index].status == .pendingSubmit {
                note(.accepted, clientID, "venue id \(executionExcerpt(report.venueOrderID, limit: 40))")
            }
            apply(report: report, to: index)
        case .rejected(let code, let message):
            apply(event: .rejected, to: index)
            note(.rejected, clientID, "code \(code): \(executionExcerpt(message))")
            protectiveRejected(index)
        case .unknown(let reason):
            guard orders[index].status == .pendingSubmit else { return }
            let sentAt = orders[index].lastSentAt ?? now
            orders[index].nextLookupAt = sentAt.saturatingAdding(settings.lookupGrace)
            note(.unknownOutcome, clientID, "submit: \(executionExcerpt(reason)); looked up by client id after the grace")
        }
    }

    /// A stop or target the venue refused while a position is open (e.g. Binance -2021 "Order
    /// would immediately trigger"): close at market now.
    private mutating func protectiveRejected(_ index: Int) {
        guard orders[index].intent.kind.isConditional, orders[index].status == .rejected, !position.isZero else { return }
        note(.refused, orders[index].clientID, "\(orders[index].intent.purpose.rawValue) refused with a position open: closing at market")
        marketClose(purpose: .stop, flatten: false)
    }

    private mutating func lookedUp(clientID: String, _ outcome: LookupOutcome) {
        guard let index = indexByClientID[clientID] else {
            note(.illegalTransition, nil, "a lookup answer for an order we do not know: \(executionExcerpt(clientID, limit: 40))")
            return
        }
        let before = orders[index].status
        switch outcome {
        case .found(let report):
            orders[index].nextLookupAt = nil
            if before == .pendingSubmit {
                note(.adopted, clientID, "found at the venue: \(report.status.rawValue), filled \(report.filledQuantity)")
            }
            apply(report: report, to: index)
            if before == .pendingCancel, orders[index].isOpen {
                // The cancel did not happen (its answer was lost or refused): ask again.
                requestCancel(index)
            }
        case .notFound:
            switch before {
            case .pendingSubmit:
                let sentAt = orders[index].lastSentAt ?? now
                let due = sentAt.saturatingAdding(settings.lookupGrace)
                if now < due {
                    orders[index].nextLookupAt = due
                    note(.unknownOutcome, clientID, "not found within the grace after the send: asked again later")
                } else if !orders[index].resent,
                    mayPlace(reduceOnly: orders[index].intent.reduceOnly, flatten: resendIsFlatten(index), excluding: index)
                {
                    // A definitive not-found older than the grace: it never arrived. Resend the same
                    // intent once, same client id (decision 0012, §3).
                    orders[index].resent = true
                    orders[index].lastSentAt = now
                    orders[index].nextLookupAt = nil
                    note(.resent, clientID, "not found \(settings.lookupGrace) after the send: sent once more with the same id")
                    out.append(.send(orders[index].intent))
                } else {
                    apply(event: .notFound, to: index)
                    let why = orders[index].resent ? "not found after its resend" : "not found, and the gate is \(describe(gate))"
                    note(.neverSent, clientID, why)
                }
            case .pendingCancel:
                // A definitive not-found for an order we had open: it is not open any more.
                apply(event: .cancelled, to: index)
                note(.cancelled, clientID, "the venue has no such order; a snapshot checks its fills")
                out.append(.snapshotNeeded)
            default:
                note(.illegalTransition, clientID, "the venue has no order an order \(before.rawValue) should be; a snapshot checks")
                out.append(.snapshotNeeded)
            }
        case .unknown(let reason):
            if orders[index].isUnresolved { orders[index].nextLookupAt = now.saturatingAdding(settings.lookupGrace) }
            note(.unknownOutcome, clientID, "lookup: \(executionExcerpt(reason))")
        }
    }

    /// A resend of the kill switch's flatten passes the halt, like the flatten itself.
    private func resendIsFlatten(_ index: Int) -> Bool { orders[index].intent.purpose == .killSwitch }

    private mutating func cancelAnswered(clientID: String, _ outcome: CancelOutcome) {
        guard let index = indexByClientID[clientID] else {
            if case .cancelled = outcome {
                note(.unknownOrderCancelled, nil, "cancelled: \(executionExcerpt(clientID, limit: 40))")
            }
            return
        }
        switch outcome {
        case .cancelled(let report):
            if let report {
                apply(report: report, to: index)
            } else {
                apply(event: .cancelled, to: index)
            }
        case .notOpen:
            // Filled, cancelled or never there (Binance -2011): a lookup says which.
            orders[index].nextLookupAt = now.saturatingAdding(settings.lookupGrace)
            out.append(.lookup(clientID: clientID, kind: orders[index].intent.kind))
        case .unknown(let reason):
            orders[index].nextLookupAt = now.saturatingAdding(settings.lookupGrace)
            note(.unknownOutcome, clientID, "cancel: \(executionExcerpt(reason)); looked up after the grace")
        }
    }

    // MARK: - Stream

    private mutating func venue(_ event: VenueEvent) {
        switch event {
        case .order(let report):
            if let index = indexByClientID[report.clientID] ?? indexByVenueID[report.venueOrderID] {
                apply(report: report, to: index)
            } else if let parsed = ClientOrderID.parse(report.clientID), parsed.tag == settings.sessionTag {
                out.append(.snapshotNeeded)
            }
        case .fill(let fill):
            apply(fill: fill, missed: false)
        case .position(let reported):
            venuePosition = reported
        case .balance(let reported):
            balance = reported
        case .streamLost:
            break
        case .streamRestored:
            // Events may have been lost while it was down.
            out.append(.snapshotNeeded)
        }
    }

    // MARK: - Applying reports and fills

    /// Takes the venue's view of an order: its ids, the filled quantity it reports, its status.
    private mutating func apply(report: VenueOrder, to index: Int) {
        if !report.venueOrderID.isEmpty, orders[index].venueOrderID != report.venueOrderID {
            orders[index].venueOrderID = report.venueOrderID
            indexByVenueID[report.venueOrderID] = index
        }
        if let triggered = report.triggeredOrderID, !triggered.isEmpty, orders[index].triggeredOrderID != triggered {
            orders[index].triggeredOrderID = triggered
            indexByVenueID[triggered] = index
        }
        if report.filledQuantity > orders[index].reportedFilledQuantity, report.filledQuantity <= orders[index].intent.quantity {
            orders[index].reportedFilledQuantity = report.filledQuantity
        }
        attributeUnattributed(to: index)
        if let event = OrderStateMachine.event(reporting: report.status) {
            apply(event: event, to: index)
        }
        if operatorHalt != nil, orders[index].isOpen, orders[index].intent.purpose != .killSwitch {
            requestCancel(index)
        } else if orders[index].intent.kind.isConditional, orders[index].isOpen, position.isZero {
            // A stop or target resting with no position to protect (e.g. accepted after the
            // other one closed it): cancel it.
            requestCancel(index)
        }
        finishIfDone(index)
    }

    /// Moves an order by `event`, journalling the move (or the illegal pair).
    private mutating func apply(event: OrderEvent, to index: Int) {
        let before = orders[index].status
        switch OrderStateMachine.next(before, event, beforePending: orders[index].statusBeforeCancel) {
        case .unchanged:
            return
        case .illegal(let sentence):
            note(.illegalTransition, orders[index].clientID, sentence)
        case .moved(let status):
            orders[index].status = status
            if status != .pendingCancel { orders[index].statusBeforeCancel = nil }
            if status.isTerminal || status == .accepted || status == .partiallyFilled { orders[index].nextLookupAt = nil }
            switch status {
            case .cancelled:
                note(.cancelled, orders[index].clientID, "filled \(orders[index].filledQuantity) of \(orders[index].intent.quantity)")
            case .expired:
                note(.expired, orders[index].clientID, "filled \(orders[index].filledQuantity) of \(orders[index].intent.quantity)")
            case .rejected where before != .pendingSubmit: note(.rejected, orders[index].clientID, "rejected after \(before.rawValue)")
            default: break
            }
            if status == .rejected { protectiveRejected(index) }
        }
    }

    /// A fill from any path (stream, reconciliation): deduplicated by trade id, refused beyond
    /// the order's quantity (reliability-anchors.md §1.1, Nautilus `DuplicateFill` and
    /// `allow_overfills=False`), attributed by client id, then venue id, then a triggered
    /// conditional's `actualOrderId`; a fill for no order of ours is an external fill.
    private mutating func apply(fill: VenueFill, missed: Bool) {
        guard !seenTradeIDs.contains(fill.tradeID) else {
            note(
                .duplicateFill, fill.clientID.flatMap { indexByClientID[$0] != nil ? $0 : nil },
                "trade \(executionExcerpt(fill.tradeID, limit: 40)) already applied")
            return
        }
        guard fill.quantity.isPositive, fill.quantity.isWithin(CarryLimit.quantity), fill.price.isPositive,
            fill.price.isWithin(CarryLimit.price), fill.fee.raw != .min, fill.fee.isWithin(CarryLimit.notional),
            fill.realizedPnL.raw != .min, fill.realizedPnL.isWithin(CarryLimit.notional)
        else {
            note(.refused, nil, "trade \(executionExcerpt(fill.tradeID, limit: 40)) refused: quantity, price or fee out of range")
            return
        }
        let index = fill.clientID.flatMap { indexByClientID[$0] } ?? indexByVenueID[fill.venueOrderID]
        if let index {
            let order = orders[index]
            guard let filled = try? order.filledQuantity.adding(fill.quantity, "filled"), filled <= order.intent.quantity else {
                note(
                    .refused, order.clientID,
                    "overfill: trade \(executionExcerpt(fill.tradeID, limit: 40)) of \(fill.quantity) beyond \(order.intent.quantity)")
                out.append(.snapshotNeeded)
                return
            }
            guard let fee = try? order.fee.adding(fill.fee, "fee"), let realized = try? order.realizedPnL.adding(fill.realizedPnL, "pnl"),
                applyToPosition(fill)
            else {
                note(.refused, order.clientID, "trade \(executionExcerpt(fill.tradeID, limit: 40)) refused: totals beyond limits")
                return
            }
            seenTradeIDs.insert(fill.tradeID)
            if lastFillTime.map({ fill.time > $0 }) ?? true { lastFillTime = fill.time }
            orders[index].filledQuantity = filled
            orders[index].fee = fee
            orders[index].realizedPnL = realized
            orders[index].tradeCount += 1
            orders[index].costRaw += Int128(fill.price.raw) * Int128(fill.quantity.raw)
            orders[index].averagePrice = average(orders[index])
            orders[index].lastFillAt = fill.time
            note(
                missed ? .missedFill : .filled, order.clientID,
                "trade \(executionExcerpt(fill.tradeID, limit: 40)): \(fill.side.rawValue) \(fill.quantity) @ \(fill.price), order filled \(filled) of \(order.intent.quantity)"
            )
            apply(event: filled == order.intent.quantity ? .filled : .partiallyFilled, to: index)
            finishIfDone(index)
        } else {
            guard applyToPosition(fill) else {
                note(.refused, nil, "trade \(executionExcerpt(fill.tradeID, limit: 40)) refused: the position would leave its limits")
                return
            }
            seenTradeIDs.insert(fill.tradeID)
            if lastFillTime.map({ fill.time > $0 }) ?? true { lastFillTime = fill.time }
            let source = fill.clientID.map { executionExcerpt($0, limit: 40) } ?? "no client id"
            note(
                missed ? .missedFill : .externalFill, nil,
                "trade \(executionExcerpt(fill.tradeID, limit: 40)) for an order we do not know (\(source)): \(fill.side.rawValue) \(fill.quantity) @ \(fill.price); position \(position)"
            )
            // Binance's liquidation and ADL orders: `autoclose-…`, `adl_autoclose`
            // (reliability-anchors.md §1.4, "Venue-initiated orders").
            if let id = fill.clientID, id.hasPrefix("autoclose-") || id.hasPrefix("adl_autoclose") {
                out.append(
                    .kernelFills([
                        FillRecord(
                            time: fill.time, bar: 0, side: fill.side, quantity: fill.quantity, price: fill.price, fee: fill.fee,
                            realizedPnL: fill.realizedPnL, reason: .liquidation)
                    ]))
            } else {
                unattributed.append(fill)
            }
            if !missed { out.append(.snapshotNeeded) }
        }
        if position.isZero { cancelProtective(except: nil) }
    }

    /// Adds a fill to the position, its average entry, realised PnL and fees; `false` (and no
    /// change) when a total would leave `Int64`.
    private mutating func applyToPosition(_ fill: VenueFill) -> Bool {
        let signed = fill.side == .long ? fill.quantity : -fill.quantity
        guard let next = try? position.adding(signed, "position"), next.raw != .min,
            let realized = try? realizedPnL.adding(fill.realizedPnL, "realized"), let fee = try? fees.adding(fill.fee, "fees")
        else { return false }
        let entry: Price?
        if next.isZero {
            entry = nil
        } else if position.isZero || (position.isPositive != next.isPositive) {
            // Opened, or flipped through zero: the new position's entry is this fill's price.
            entry = fill.price
        } else if next.magnitude > position.magnitude {
            // Added to: the weighted mean, Σp·q ÷ Σq.
            let old = averageEntry ?? fill.price
            let cost = Int128(old.raw) * Int128(position.magnitude.raw) + Int128(fill.price.raw) * Int128(fill.quantity.raw)
            guard let mean = Int64(exactly: FixedMath.divide(cost, Int128(next.magnitude.raw), .toNearestOrEven)) else { return false }
            entry = Price(raw: mean)
        } else {
            entry = averageEntry
        }
        position = next
        averageEntry = entry
        realizedPnL = realized
        fees = fee
        return true
    }

    /// Σp·q ÷ Σq of an order's fills, rounded to the tick (Binance `PRICE_FILTER.tickSize`).
    private func average(_ order: OrderRecord) -> Price? {
        guard order.filledQuantity.isPositive,
            let mean = Int64(exactly: FixedMath.divide(order.costRaw, Int128(order.filledQuantity.raw), .toNearestOrEven))
        else { return nil }
        let price = Price(raw: mean)
        return settings.rules.tickSize.isPositive ? price.rounded(toMultipleOf: settings.rules.tickSize, rule: .toNearestOrEven) : price
    }

    /// Fills applied before we knew their order's venue id, now named by a report: they count
    /// toward the order (the position already has them).
    private mutating func attributeUnattributed(to index: Int) {
        guard !unattributed.isEmpty else { return }
        let ids = [orders[index].venueOrderID, orders[index].triggeredOrderID].compactMap { $0 }
        var kept: [VenueFill] = []
        for fill in unattributed {
            guard ids.contains(fill.venueOrderID),
                let filled = try? orders[index].filledQuantity.adding(fill.quantity, "filled"), filled <= orders[index].intent.quantity,
                let fee = try? orders[index].fee.adding(fill.fee, "fee"),
                let realized = try? orders[index].realizedPnL.adding(fill.realizedPnL, "pnl")
            else {
                kept.append(fill)
                continue
            }
            orders[index].filledQuantity = filled
            orders[index].fee = fee
            orders[index].realizedPnL = realized
            orders[index].tradeCount += 1
            orders[index].costRaw += Int128(fill.price.raw) * Int128(fill.quantity.raw)
            orders[index].averagePrice = average(orders[index])
            orders[index].lastFillAt = fill.time
            note(.adopted, orders[index].clientID, "trade \(executionExcerpt(fill.tradeID, limit: 40)) attributed to this order")
        }
        unattributed = kept
    }

    /// Once an order is terminal and every fill the venue reported for it has arrived: the kernel
    /// is told (one record for the order), an entry gets its stop and target, and an exit
    /// cancels the other protective order.
    private mutating func finishIfDone(_ index: Int) {
        let order = orders[index]
        guard !order.reportedToKernel, order.status == .filled || order.status == .cancelled || order.status == .expired,
            order.filledQuantity.isPositive, order.filledQuantity >= order.reportedFilledQuantity, let price = order.averagePrice
        else { return }
        orders[index].reportedToKernel = true
        if order.status == .filled {
            note(
                .filled, order.clientID, "\(order.intent.side.rawValue) \(order.filledQuantity) @ \(price) in \(order.tradeCount) trade(s)")
        }
        out.append(
            .kernelFills([
                FillRecord(
                    time: order.lastFillAt ?? now, bar: 0, side: order.intent.side, quantity: order.filledQuantity, price: price,
                    fee: order.fee, realizedPnL: order.realizedPnL, reason: order.intent.purpose.fillReason)
            ]))
        if order.intent.purpose == .entry {
            if let plan = order.protection, !position.isZero, position.raw != .min {
                let quantity = min(order.filledQuantity, position.magnitude)
                protect(quantity: quantity, positionSide: order.intent.side, plan: plan, stop: true, target: true)
            }
        } else {
            cancelProtective(except: index)
        }
    }

    // MARK: - Reconciliation, stop, restart, time

    private mutating func reconcile(_ snapshot: VenueSnapshot) {
        balance = snapshot.balance
        venuePosition = snapshot.position
        let steps = Reconciler.reconcile(
            local: ReconcileLocal(orders: orders, seenTradeIDs: seenTradeIDs, position: position), venue: snapshot,
            rules: settings.rules, tag: settings.sessionTag)
        for step in steps {
            switch step {
            case .missedFill(let fill):
                apply(fill: fill, missed: true)
            case .adopt(let report):
                adopt(report)
            case .lookup(let clientID, let kind):
                guard let index = indexByClientID[clientID] else { continue }
                if let due = orders[index].nextLookupAt, now < due { continue }
                if orders[index].status == .pendingSubmit, let sent = orders[index].lastSentAt,
                    now < sent.saturatingAdding(settings.lookupGrace)
                {
                    // Recent-order protection: the venue may not list an order it is accepting.
                    orders[index].nextLookupAt = sent.saturatingAdding(settings.lookupGrace)
                    continue
                }
                orders[index].nextLookupAt = now.saturatingAdding(settings.lookupGrace)
                out.append(.lookup(clientID: clientID, kind: kind))
            case .cancelForeign(let report):
                let id = executionExcerpt(report.clientID, limit: 40)
                note(.unknownOrderCancelled, nil, "open order \(id) is not this session's: cancelled")
                out.append(.cancel(clientID: report.clientID, kind: report.kind))
            case .positionMismatch(let venue, let local):
                halt("position mismatch: venue \(venue), local \(local)", kind: .positionMismatch)
            case .positionMatches(let venue, _):
                // The check ran on the position the missed fills should give; check what they gave.
                if let difference = try? venue.subtracting(position, "difference"), difference.raw != .min,
                    difference.magnitude <= max(settings.rules.lotSize, .zero)
                {
                    if let reason = operatorHalt {
                        baseGate = .halted(reason)
                    } else if baseGate != .open {
                        baseGate = .open
                        note(.reconciled, nil, "venue position \(venue), local \(position): trading open")
                    }
                } else {
                    halt("position mismatch: venue \(venue), local \(position)", kind: .positionMismatch)
                }
            case .ensureProtection:
                ensureProtection()
            }
        }
    }

    /// Takes an open order of ours from a snapshot: a known one gets the venue's state, an
    /// unknown one (state lost) is recorded from the report.
    private mutating func adopt(_ report: VenueOrder) {
        if let index = indexByClientID[report.clientID] {
            let before = orders[index]
            apply(report: report, to: index)
            if orders[index].status != before.status || orders[index].venueOrderID != before.venueOrderID {
                note(.adopted, report.clientID, "open at the venue: \(report.status.rawValue)")
            }
            return
        }
        guard let parsed = ClientOrderID.parse(report.clientID), report.quantity.isPositive else { return }
        let intent = OrderIntent(
            sequence: parsed.sequence, clientID: report.clientID, kind: report.kind, purpose: parsed.purpose, side: report.side,
            quantity: report.quantity, triggerPrice: report.triggerPrice, reduceOnly: report.reduceOnly, createdAt: report.updatedAt)
        indexByClientID[report.clientID] = orders.count
        orders.append(OrderRecord(intent: intent, protection: nil))
        orders.sort { $0.intent.sequence < $1.intent.sequence }
        for (index, order) in orders.enumerated() { indexByClientID[order.clientID] = index }
        indexByVenueID = [:]
        for (index, order) in orders.enumerated() {
            if let id = order.venueOrderID { indexByVenueID[id] = index }
            if let id = order.triggeredOrderID { indexByVenueID[id] = index }
        }
        if parsed.sequence >= nextSequence { nextSequence = parsed.sequence == .max ? parsed.sequence : parsed.sequence + 1 }
        note(.adopted, report.clientID, "an order of ours we had no record of: \(report.status.rawValue)")
        if let index = indexByClientID[report.clientID] { apply(report: report, to: index) }
    }

    private mutating func halt(_ reason: String, kind: ExecutionNote.Kind) {
        if case .halted(let current) = baseGate, current == reason { return }
        if let operatorReason = operatorHalt {
            baseGate = .halted(operatorReason)
        } else {
            baseGate = .halted(reason)
        }
        note(kind, nil, reason)
        note(.halted, nil, "halted: \(reason)")
    }

    /// The kill switch: cancel every open order, optionally a reduce-only market close of the
    /// whole position, then halted (Nautilus `HALTED`: cancels still pass).
    private mutating func stop(flatten: Bool, reason: String) {
        let safe = executionExcerpt(reason)
        operatorHalt = safe
        baseGate = .halted(safe)
        note(.stopped, nil, "stop\(flatten ? " and flatten" : ""): \(safe)")
        for index in orders.indices { requestCancel(index) }
        flattenRequested = flattenRequested || flatten
        if flatten {
            flattenedPosition = position
            marketClose(purpose: .killSwitch, flatten: true)
        }
        note(.halted, nil, "halted: \(safe)")
    }

    /// After a stop with flatten: a position that is still (or again) open, with no close
    /// working, is closed again. Found by the dashboard's browser test: an entry sent just before
    /// the stop filled after it, and the first close had been refused, leaving a short open.
    private mutating func keepFlat() {
        guard flattenRequested, operatorHalt != nil, !position.isZero, position != flattenedPosition else { return }
        if orders.contains(where: { $0.intent.kind == .market && $0.intent.reduceOnly && !$0.status.isTerminal }) { return }
        flattenedPosition = position
        note(.stopped, nil, "the position is \(position) after the stop: closing it too")
        marketClose(purpose: .killSwitch, flatten: true)
    }

    /// A new process took over. The operator's stop lasts until the session is started again
    /// (`live run` after `live stop`): a restart ends it, and reconciliation decides the gate.
    private mutating func restarted() {
        baseGate = .awaitingReconciliation
        flattenRequested = false
        flattenedPosition = nil
        if let reason = operatorHalt {
            operatorHalt = nil
            note(.resumed, nil, "started again after the operator's stop (\(reason)); reconciliation decides the gate")
        }
        for index in orders.indices where orders[index].isUnresolved {
            orders[index].nextLookupAt = now.saturatingAdding(settings.lookupGrace)
            out.append(.lookup(clientID: orders[index].clientID, kind: orders[index].intent.kind))
        }
    }

    private mutating func tick() {
        for index in orders.indices where orders[index].isUnresolved {
            guard let due = orders[index].nextLookupAt, now >= due else { continue }
            orders[index].nextLookupAt = now.saturatingAdding(settings.lookupGrace)
            out.append(.lookup(clientID: orders[index].clientID, kind: orders[index].intent.kind))
        }
    }

    // MARK: - Helpers

    private mutating func note(_ kind: ExecutionNote.Kind, _ clientID: String?, _ text: String) {
        out.append(.note(ExecutionNote(time: now, kind: kind, clientID: clientID, text: text)))
    }

    private func describe(_ gate: ExecutionGate) -> String {
        switch gate {
        case .awaitingReconciliation: return "awaiting reconciliation"
        case .open: return "open"
        case .reducing(let why): return "reducing (\(why))"
        case .halted(let why): return "halted (\(why))"
        }
    }
}
