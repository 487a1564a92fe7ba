import PerpHedge
import PerpModel

// The stake hedge, running (issue 13; spec §1; seed 003 "Rebalancing"; decision 0015): a pure
// state machine over what the venue and Numerai showed and what the venue answered. The shell
// (`HedgeRunner` in PerpLive) stores every input before acting on the actions it produces, so
// after a crash the fold of the stored inputs is the state, and every order whose answer was
// lost is looked up by client id before anything else is decided.

/// The hedge's settings: fixed for a session (stored with it).
public struct HedgeSettings: Sendable, Hashable {
    /// `k = (g − 1) + α·g·M` (``CollateralPlan``): collateral `k·q·P` on the position.
    public var collateralMultiple: Rate
    /// The venue's maintenance margin fraction `M` (Lighter NMR 0.2).
    public var maintenanceFraction: Rate
    /// A full rebalance at least this often (spec: monthly).
    public var rebalanceEvery: TimeSpan
    /// A rebalance when the stake or the price has moved this fraction since the last one.
    public var drift: Rate
    /// Warn when the price has gone this fraction of the way from the last rebalance's price to
    /// the liquidation price.
    public var warnAt: Rate
    /// The venue's tick, lot and minimum order.
    public var rules: MarketRules
    /// The largest single order: a larger resize is sent in slices, one per poll (the NMR book
    /// is thin: about 100 NMR a day on Lighter, lighter-live.md §0).
    public var maxOrder: Quantity
    /// A collateral difference smaller than this is left alone (moving cents costs a
    /// transaction of the 60 a minute).
    public var marginTolerance: Notional
    /// How long after a margin move whose answer was lost the next one waits (the venue
    /// executes about 300 ms after accepting; the next observation must see it).
    public var marginGrace: TimeSpan
    /// A not-found order younger than this is asked again (decision 0012 §3).
    public var lookupGrace: TimeSpan
    /// The session's client-id tag (``ClientOrderID``).
    public var sessionTag: String
    /// Cross margin (a Lighter public pool: pools cannot hold isolated positions): the whole
    /// account backs the short and no margin is moved; the collateral is the account's value.
    public var crossMargin: Bool

    public init(
        collateralMultiple: Rate, maintenanceFraction: Rate, rebalanceEvery: TimeSpan, drift: Rate, warnAt: Rate, rules: MarketRules,
        maxOrder: Quantity, sessionTag: String, marginTolerance: Notional = Notional("0.01")!, marginGrace: TimeSpan = .seconds(15),
        lookupGrace: TimeSpan = .seconds(5), crossMargin: Bool = false
    ) {
        self.crossMargin = crossMargin
        self.collateralMultiple = collateralMultiple
        self.maintenanceFraction = maintenanceFraction
        self.rebalanceEvery = rebalanceEvery
        self.drift = drift
        self.warnAt = warnAt
        self.rules = rules
        self.maxOrder = maxOrder
        self.marginTolerance = marginTolerance
        self.marginGrace = marginGrace
        self.lookupGrace = lookupGrace
        self.sessionTag = sessionTag
    }
}

/// One look at the world: the stake (when Numerai answered), the venue's mark, position and
/// balance.
public struct HedgeObservation: Sendable, Hashable {
    public var time: Timestamp
    /// The sum of the models' stakes; `nil` when Numerai could not be read this time.
    public var stake: Quantity?
    public var price: Price
    /// The venue's position, signed (a hedge holds a short: negative or zero).
    public var position: Quantity
    /// The isolated position's equity: its margin with the unrealised P&L (the collateral `T`
    /// as seed 003 counts it, "PnL and funding included"; Binance `isolatedMargin`, Lighter
    /// `allocated_margin + unrealized_pnl`).
    public var isolatedMargin: Notional
    /// The account's free USDC (what a deposit onto the position can take).
    public var available: Notional
    /// The venue's liquidation price for the position, when it gives one.
    public var liquidationPrice: Price?
    /// Funding paid by the position so far as the venue reports it (negative: received).
    public var fundingPaid: Notional?

    public init(
        time: Timestamp, stake: Quantity?, price: Price, position: Quantity, isolatedMargin: Notional, available: Notional,
        liquidationPrice: Price? = nil, fundingPaid: Notional? = nil
    ) {
        self.time = time
        self.stake = stake
        self.price = price
        self.position = position
        self.isolatedMargin = isolatedMargin
        self.available = available
        self.liquidationPrice = liquidationPrice
        self.fundingPaid = fundingPaid
    }
}

/// What the margin move answered.
public enum MarginOutcome: Sendable, Hashable {
    case done
    case refused(String)
    case unknown(String)
}

/// Everything that reaches the hedge, stored before it is acted on.
public enum HedgeInput: Sendable, Hashable {
    case observed(HedgeObservation)
    /// Numerai or the venue could not be read: journalled; nothing is decided on it.
    case unreadable(reason: String, at: Timestamp)
    /// An order decided, recorded before it leaves.
    case orderSent(OrderIntent)
    case submitted(clientID: String, SubmitOutcome, at: Timestamp)
    case lookedUp(clientID: String, LookupOutcome, at: Timestamp)
    /// A margin move decided (`sequence` numbers them), recorded before it leaves.
    case marginSent(sequence: Int64, amount: Notional, add: Bool, at: Timestamp)
    case marginAnswered(sequence: Int64, MarginOutcome, at: Timestamp)
    /// `hedge stop`: stop deciding; with `close`, buy the short back first.
    case stop(close: Bool, reason: String, at: Timestamp)
    /// A new process: orders whose answer was not recorded are looked up first.
    case restarted(at: Timestamp)
    /// `hedge run` on a stopped session: it hedges again.
    case resumed(at: Timestamp)

    public var time: Timestamp {
        switch self {
        case .observed(let observation): return observation.time
        case .orderSent(let intent): return intent.createdAt
        case .unreadable(_, let at), .submitted(_, _, let at), .lookedUp(_, _, let at), .marginSent(_, _, _, let at),
            .marginAnswered(_, _, let at), .stop(_, _, let at), .restarted(let at), .resumed(let at):
            return at
        }
    }
}

/// What the hedge asks its shell to do.
public enum HedgeAction: Sendable, Hashable {
    /// Record ``HedgeInput/orderSent(_:)``, submit once, record the answer.
    case send(OrderIntent)
    case lookup(clientID: String)
    /// Record ``HedgeInput/marginSent(sequence:amount:add:at:)``, move the margin, record the answer.
    case moveMargin(sequence: Int64, amount: Notional, add: Bool)
    /// A journal row; `warning` rows also go to `--notify`.
    case note(HedgeNote)
}

public struct HedgeNote: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case observed, rebalance, order, margin, warning, refused, unreadable, stopped, halted, done, resumed
    }

    public var time: Timestamp
    public var kind: Kind
    public var text: String

    public init(time: Timestamp, kind: Kind, text: String) {
        self.time = time
        self.kind = kind
        self.text = text
    }
}

/// The rebalance being carried out: the targets fixed when it began.
public struct HedgeTarget: Sendable, Hashable {
    /// The stake (or, for a pool, the short `NAV / (k·P)`) the targets were planned for.
    public var stake: Quantity
    public var short: Quantity
    public var collateral: Notional
    public var price: Price
    public var reason: String
    public var started: Timestamp
}

/// The stake hedge's state: the fold of its inputs.
public struct StakeHedgeSession: Sendable {
    public let settings: HedgeSettings
    public private(set) var last: HedgeObservation?
    /// The last stake Numerai gave (kept when a later read fails).
    public private(set) var stake: Quantity?
    public private(set) var target: HedgeTarget?
    /// The last completed rebalance: its time, price, short and collateral.
    public private(set) var lastRebalance: (time: Timestamp, price: Price, short: Quantity, collateral: Notional)?
    /// The price at which to warn, set at each rebalance.
    public private(set) var warningPrice: Price?
    public private(set) var warned = false
    public private(set) var orders: [String: (intent: OrderIntent, status: OrderStatus, sentAt: Timestamp)] = [:]
    public private(set) var sequence: Int64 = 0
    public private(set) var marginSequence: Int64 = 0
    /// A margin move sent and not answered, or answered "unknown": when it was sent.
    public private(set) var marginPending: (sequence: Int64, at: Timestamp)?
    public private(set) var marginUnknownAt: Timestamp?
    public private(set) var stopped: (close: Bool, reason: String)?
    public private(set) var halted: String?
    /// The shortfall already warned about (not repeated every poll).
    private var shortfallWarned = false
    /// The venue refused this rebalance's margin move: the collateral is left as it is.
    private var marginRefused = false
    /// A rebalance was under way when the process stopped: its targets are planned again from
    /// the first look after the restart (the stake and price it was planned for may be stale).
    private var replanDue = false
    public private(set) var rebalances = 0

    public init(settings: HedgeSettings) { self.settings = settings }

    public var unresolvedOrders: [OrderIntent] {
        orders.values.filter { $0.status == .pendingSubmit }.map(\.intent).sorted { $0.sequence < $1.sequence }
    }

    /// While a rebalance waits for the venue to show a margin move whose answer was lost: when
    /// that wait ends (the runner waits it out within the poll rather than leave the rebalance
    /// half done until the next one).
    public var marginWaitEnds: Timestamp? {
        guard target != nil, marginPending == nil, let unknownAt = marginUnknownAt else { return nil }
        return unknownAt + settings.marginGrace
    }

    /// The next full rebalance, when one has happened.
    public var nextRebalance: Timestamp? { lastRebalance.map { $0.time + settings.rebalanceEvery } }

    /// Applies one input; returns the actions it leads to (journal rows, orders, margin moves,
    /// lookups), in order.
    public mutating func apply(_ input: HedgeInput) -> [HedgeAction] {
        switch input {
        case .observed(let observation):
            if let problem = Self.problem(with: observation, settings: settings) {
                return [.note(HedgeNote(time: observation.time, kind: .unreadable, text: problem))]
            }
            last = observation
            if let value = observation.stake { stake = value }
            return decide(at: observation.time)
        case .unreadable(let reason, let at):
            return [.note(HedgeNote(time: at, kind: .unreadable, text: reason))]
        case .orderSent(let intent):
            sequence = max(sequence, intent.sequence)
            orders[intent.clientID] = (intent, .pendingSubmit, intent.createdAt)
            let verb = intent.side == .short ? "sell" : "buy back"
            return [
                .note(
                    HedgeNote(
                        time: intent.createdAt, kind: .order,
                        text: "\(verb) \(intent.quantity) NMR at market\(intent.reduceOnly ? " (reduce-only)" : "") [\(intent.clientID)]"))
            ]
        case .submitted(let id, let outcome, let at):
            guard let record = orders[id] else { return [] }
            switch outcome {
            case .accepted(let order):
                orders[id]?.status = order.status.isTerminal ? order.status : .accepted
                return [.note(HedgeNote(time: at, kind: .order, text: "\(id): \(Self.describe(order))"))]
            case .rejected(let code, let message):
                orders[id]?.status = .rejected
                return [.note(HedgeNote(time: at, kind: .refused, text: "\(id) refused by the venue (\(code)): \(message)"))]
            case .unknown(let reason):
                _ = record
                return [
                    .note(
                        HedgeNote(time: at, kind: .order, text: "\(id): outcome unknown (\(reason)); looking it up before anything else")),
                    .lookup(clientID: id),
                ]
            }
        case .lookedUp(let id, let outcome, let at):
            guard let record = orders[id], record.status == .pendingSubmit else { return [] }
            switch outcome {
            case .found(let order):
                orders[id]?.status = order.status.isTerminal ? order.status : .accepted
                return [.note(HedgeNote(time: at, kind: .order, text: "\(id) found at the venue: \(Self.describe(order))"))]
            case .notFound:
                if at < record.sentAt + settings.lookupGrace { return [] }
                orders[id]?.status = .neverSent
                return [.note(HedgeNote(time: at, kind: .order, text: "\(id) never reached the venue; decided again from the next look"))]
            case .unknown(let reason):
                return [.note(HedgeNote(time: at, kind: .unreadable, text: "lookup of \(id) failed: \(reason)"))]
            }
        case .marginSent(let sequence, let amount, let add, let at):
            marginSequence = max(marginSequence, sequence)
            marginPending = (sequence, at)
            return [
                .note(
                    HedgeNote(
                        time: at, kind: .margin,
                        text: "\(add ? "deposit" : "withdraw") \(amount) USDC \(add ? "onto" : "from") the position"))
            ]
        case .marginAnswered(let sequence, let outcome, let at):
            guard marginPending?.sequence == sequence else { return [] }
            marginPending = nil
            switch outcome {
            case .done:
                marginUnknownAt = nil
                return []
            case .refused(let reason):
                // Not retried within this rebalance: the collateral stays where the venue keeps
                // it (for example above k·q·P when the venue's initial margin is higher).
                marginRefused = target != nil
                return [
                    .note(
                        HedgeNote(
                            time: at, kind: .refused,
                            text: "margin move refused: \(reason); the collateral is left as it is until the next rebalance"))
                ]
            case .unknown(let reason):
                marginUnknownAt = at
                return [
                    .note(
                        HedgeNote(
                            time: at, kind: .margin,
                            text: "margin move outcome unknown (\(reason)); waiting \(settings.marginGrace) for the venue to show it"))
                ]
            }
        case .stop(let close, let reason, let at):
            stopped = (close, reason)
            target = nil
            return [.note(HedgeNote(time: at, kind: .stopped, text: "stop requested\(close ? " with --close" : ""): \(reason)"))]
                + decide(at: at)
        case .resumed(let at):
            guard stopped != nil else { return [] }
            stopped = nil
            return [.note(HedgeNote(time: at, kind: .resumed, text: "resumed by `hedge run` after a stop"))]
        case .restarted(let at):
            replanDue = target != nil
            // A move whose answer was never stored: wait for the venue to show it.
            if let pending = marginPending {
                marginPending = nil
                marginUnknownAt = pending.at
            }
            let unresolved = unresolvedOrders
            return [.note(HedgeNote(time: at, kind: .resumed, text: "restarted; \(unresolved.count) order(s) to look up"))]
                + unresolved.map { .lookup(clientID: $0.clientID) }
        }
    }

    /// Why an observation cannot be decided on, or `nil`: every amount within what the tool
    /// carries exactly (``CarryLimit``), and `q·P` and `k·q·P` within the notional limit, so no
    /// product the hedge forms can leave 64 bits (issue 11's bounds, applied to what a venue or
    /// Numerai answers).
    public static func problem(with observation: HedgeObservation, settings: HedgeSettings) -> String? {
        let price = observation.price
        guard price.isPositive, price <= CarryLimit.price else {
            return "the venue reported a mark price of \(price), outside (0, \(CarryLimit.price)]: nothing decided on it"
        }
        guard observation.position.isWithin(CarryLimit.quantity) else {
            return "the venue reported a position of \(observation.position) NMR, beyond the \(CarryLimit.quantity) the tool carries"
        }
        if let stake = observation.stake, stake.isNegative || !stake.isWithin(CarryLimit.quantity) {
            return "Numerai reported a stake of \(stake) NMR, outside what the tool carries"
        }
        for (name, value) in [("collateral", observation.isolatedMargin), ("free balance", observation.available)]
        where !value.isWithin(CarryLimit.notional) {
            return "the venue reported a \(name) of \(value) USDC, beyond the \(CarryLimit.notional) the tool carries"
        }
        if let paid = observation.fundingPaid, !paid.isWithin(CarryLimit.notional) {
            return "the venue reported \(paid) USDC of funding, beyond what the tool carries"
        }
        let largest = max(observation.position.magnitude, observation.stake ?? .zero).doubleValue * price.doubleValue
        let multiple = max(settings.collateralMultiple.doubleValue, 1)
        guard largest * multiple <= CarryLimit.notional.doubleValue else {
            return
                "k·q·P for \(max(observation.position.magnitude, observation.stake ?? .zero)) NMR at \(price) is beyond the \(CarryLimit.notional) USDC the tool carries"
        }
        if let liquidation = observation.liquidationPrice, !liquidation.isWithin(CarryLimit.price) {
            return "the venue reported a liquidation price of \(liquidation), beyond what the tool carries"
        }
        return nil
    }

    static func describe(_ order: VenueOrder) -> String {
        var text = "\(order.status.rawValue), filled \(order.filledQuantity) of \(order.quantity)"
        if let price = order.averagePrice { text += " at \(price)" }
        return text
    }

    /// `|a − b| / b > drift`.
    func drifted<Value: FixedPointValue>(_ value: Value, from reference: Value) -> Bool {
        guard reference.raw != 0 else { return value.raw != 0 }
        let difference = Fraction(Int128(value.raw) - Int128(reference.raw), Int128(reference.raw < 0 ? -reference.raw : reference.raw))
        let magnitude = difference < Fraction(0) ? Fraction(0) - difference : difference
        return Fraction(settings.drift) < magnitude
    }

    private mutating func nextIntent(side: Side, quantity: Quantity, reduceOnly: Bool, purpose: OrderPurpose, at: Timestamp) -> OrderIntent
    {
        sequence += 1
        return OrderIntent(
            sequence: sequence, clientID: ClientOrderID.make(tag: settings.sessionTag, sequence: sequence, purpose: purpose),
            kind: .market, purpose: purpose, side: side, quantity: quantity, triggerPrice: nil, reduceOnly: reduceOnly, createdAt: at)
    }

    /// What to do now, from the last observation (see decision 0015 for the order of checks).
    mutating func decide(at now: Timestamp) -> [HedgeAction] {
        guard halted == nil, let observation = last else { return [] }
        // 1. Nothing new while an order's outcome is unknown or a margin move is unanswered.
        if !unresolvedOrders.isEmpty || marginPending != nil { return [] }
        var actions: [HedgeAction] = []
        if observation.position.isPositive {
            halted = "the venue shows a long of \(observation.position) NMR: the hedge only ever holds a short"
            return [.note(HedgeNote(time: now, kind: .halted, text: "\(halted!); trade the account by hand, then restart"))]
        }
        let short = observation.position.magnitude
        let price = observation.price
        // 2. The kill switch.
        if let stopped {
            guard stopped.close, short.isPositive else { return [] }
            let quantity = min(short, settings.maxOrder)
            let intent = nextIntent(side: .long, quantity: quantity, reduceOnly: true, purpose: .killSwitch, at: now)
            return [.send(intent)]
        }
        // 3. The warning, once per crossing.
        if let warningPrice {
            if price >= warningPrice && !warned {
                warned = true
                var text = "NMR at \(price) has crossed the warning price \(warningPrice)"
                if let liquidation = observation.liquidationPrice {
                    text += "; liquidation at \(liquidation) (\(Self.percentAway(price, liquidation)) away)"
                }
                text += ": add collateral or expect the next rebalance to"
                actions.append(.note(HedgeNote(time: now, kind: .warning, text: text)))
            } else if price < warningPrice && warned {
                warned = false
            }
        }
        // 4. Is a rebalance due?
        if target == nil, let stake {
            var reason: String?
            if let last = lastRebalance {
                if now - last.time >= settings.rebalanceEvery {
                    reason = "the period (\(settings.rebalanceEvery)) has passed"
                } else if drifted(stake, from: last.short) {
                    reason =
                        "the stake (\(stake) NMR) has drifted more than \(settings.drift.formatted(places: 4, rule: .down)) from the short (\(last.short) NMR)"
                } else if drifted(price, from: last.price) {
                    reason =
                        "the price (\(price)) has drifted more than \(settings.drift.formatted(places: 4, rule: .down)) from \(last.price)"
                } else if drifted(short, from: last.short) {
                    reason = "the short on the venue (\(short) NMR) is not the \(last.short) NMR set at the last rebalance"
                }
            } else {
                reason = short.isZero ? "opening the hedge" : "taking over the short of \(short) NMR found on the venue"
            }
            if let reason {
                actions += begin(reason: reason, stake: stake, observation: observation, at: now)
            }
        }
        // A rebalance under way is planned again when it was interrupted by a restart, or when the
        // stake has since drifted from the one it was planned for: carrying out stale targets
        // would trade to a short nobody wants, then trade again.
        if let current = target, let stake {
            var why: String?
            if replanDue {
                why = "after a restart, from what the venue and Numerai show now"
            } else if drifted(stake, from: current.stake) {
                why = "the stake moved from \(current.stake) to \(stake) NMR during it"
            }
            if let why {
                actions += begin(reason: current.reason, stake: stake, observation: observation, at: now, replanned: why)
            }
        }
        // 5. Carry the rebalance out: the short first, then the collateral.
        if let target {
            actions += carry(target, observation: observation, at: now)
        }
        return actions
    }

    static func percentAway(_ price: Price, _ other: Price) -> String {
        guard price.isPositive else { return "?" }
        let ratio = Fraction(Int128(other.raw) - Int128(price.raw), Int128(price.raw))
        let percent = (ratio * Fraction(100)).rounded(to: Rate.self, .toNearestOrEven)
        return "\(percent.formatted(places: 1, rule: .toNearestOrEven)) %"
    }

    private mutating func begin(
        reason: String, stake: Quantity, observation: HedgeObservation, at now: Timestamp, replanned: String? = nil
    ) -> [HedgeAction] {
        let short = observation.position.magnitude
        let heading = replanned.map { "rebalance re-planned (\($0))" } ?? "rebalance"
        replanDue = false
        guard stake.isPositive else {
            target = HedgeTarget(
                stake: .zero, short: .zero, collateral: .zero, price: observation.price, reason: "the stake is zero", started: now)
            return [
                .note(
                    HedgeNote(
                        time: now, kind: .rebalance,
                        text: "\(replanned == nil ? "" : "\(heading): ")the stake is zero: closing the short of \(short) NMR"))
            ]
        }
        do {
            let plan = try RebalancePlan(
                currentShort: short, currentCollateral: observation.isolatedMargin, newStake: stake, price: observation.price,
                collateralMultiple: settings.collateralMultiple, maintenanceFraction: settings.maintenanceFraction,
                lotSize: settings.rules.lotSize, warnFraction: settings.warnAt)
            target = HedgeTarget(
                stake: stake, short: plan.newShort, collateral: plan.targetCollateral, price: observation.price, reason: reason,
                started: now)
            shortfallWarned = false
            marginRefused = false
            return [
                .note(
                    HedgeNote(
                        time: now, kind: .rebalance,
                        text:
                            "\(heading): \(reason). Short \(short) → \(plan.newShort) NMR, collateral \(observation.isolatedMargin) → \(plan.targetCollateral) USDC (k·q·P at \(observation.price))"
                    ))
            ]
        } catch {
            halted = "cannot plan the rebalance: \(error)"
            return [.note(HedgeNote(time: now, kind: .halted, text: halted!))]
        }
    }

    private mutating func carry(_ target: HedgeTarget, observation: HedgeObservation, at now: Timestamp) -> [HedgeAction] {
        let short = observation.position.magnitude
        let price = observation.price
        let difference = target.short - short
        if difference.magnitude >= settings.rules.lotSize {
            let quantity = min(difference.magnitude, settings.maxOrder).rounded(toMultipleOf: settings.rules.lotSize, rule: .towardZero)
            if quantity.isPositive && (quantity * price) >= settings.rules.minNotional {
                let growing = difference.isPositive
                return [
                    .send(nextIntent(side: growing ? .short : .long, quantity: quantity, reduceOnly: !growing, purpose: .hedge, at: now))
                ]
            }
            if !target.short.isZero || short.isZero {
                // Below the venue's minimum order: left as it is.
            } else {
                // Closing: even a small remainder goes (reduce-only takes it).
                return [.send(nextIntent(side: .long, quantity: short, reduceOnly: true, purpose: .hedge, at: now))]
            }
        }
        if target.short.isZero && short.isPositive {
            return [.send(nextIntent(side: .long, quantity: short, reduceOnly: true, purpose: .hedge, at: now))]
        }
        // The collateral, once the short is in place (a margin move needs an open position).
        if short.isPositive, let unknownAt = marginUnknownAt, now < unknownAt + settings.marginGrace { return [] }
        marginUnknownAt = nil
        if short.isPositive && !marginRefused && !settings.crossMargin {
            let wanted = target.collateral - observation.isolatedMargin
            if wanted.magnitude > settings.marginTolerance {
                // USDC moves in whole micro-dollars: deposits round up, withdrawals down.
                let micro = Notional(raw: FixedMath.pow10[Notional.decimals - 6])
                let amount = wanted.magnitude.rounded(toMultipleOf: micro, rule: wanted.isPositive ? .up : .down)
                if wanted.isPositive && amount > observation.available {
                    if !shortfallWarned {
                        shortfallWarned = true
                        return [
                            .note(
                                HedgeNote(
                                    time: now, kind: .warning,
                                    text:
                                        "not enough free USDC to post k·q·P: \(amount) needed on the position, \(observation.available) free. Deposit at least \((amount - observation.available)) USDC on the venue; posting what is free"
                                ))
                        ] + marginMove(observation.available.rounded(toMultipleOf: micro, rule: .down), add: true)
                    }
                    return []
                }
                if amount.isPositive { return marginMove(amount, add: wanted.isPositive) }
            }
        }
        // Done.
        self.target = nil
        marginRefused = false
        rebalances += 1
        let collateral = observation.isolatedMargin
        lastRebalance = (now, price, short, collateral)
        if let liquidation = observation.liquidationPrice ?? Self.liquidation(short: short, collateral: collateral, price: price, settings)
        {
            warningPrice = price + (liquidation - price).scaled(by: settings.warnAt, rule: .down)
        } else {
            warningPrice = nil
        }
        warned = false
        var text = "rebalanced (\(target.reason)): short \(short) NMR, collateral \(collateral) USDC at \(price)"
        if let warningPrice { text += "; warning at \(warningPrice)" }
        if let liquidation = observation.liquidationPrice { text += ", liquidation at \(liquidation)" }
        return [.note(HedgeNote(time: now, kind: .done, text: text))]
    }

    private mutating func marginMove(_ amount: Notional, add: Bool) -> [HedgeAction] {
        guard amount.isPositive else { return [] }
        return [.moveMargin(sequence: marginSequence + 1, amount: amount, add: add)]
    }

    /// The isolated short's liquidation price when the venue gives none: `(T + q·P) / (q·(1 + M))`
    /// (``CollateralPlan/liquidationPrice``).
    static func liquidation(short: Quantity, collateral: Notional, price: Price, _ settings: HedgeSettings) -> Price? {
        guard short.isPositive else { return nil }
        let numerator = Fraction(collateral) + Fraction(short) * Fraction(price)
        let denominator = Fraction(short) * (Fraction(Rate.one) + Fraction(settings.maintenanceFraction))
        return (numerator / denominator).roundedIfRepresentable(to: Price.self, .down)
    }
}
