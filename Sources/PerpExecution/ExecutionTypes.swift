import PerpEngine
import PerpModel
import PerpSimulation

/// What the execution engine needs to know about the session and the market (decision 0012).
public struct ExecutionSettings: Sendable, Hashable {
    /// The session's ``ClientOrderID`` tag (``ClientOrderID/tag(session:createdAt:)``).
    public var sessionTag: String
    /// The symbol's tick, lot, market-order cap and minimum notional (Binance `exchangeInfo`).
    public var rules: MarketRules
    /// The share of the kernel's size that live trading sends, `0 < f ≤ 1` (spec §4: 10 %).
    public var sizeFraction: Rate
    /// A not-found younger than this after the send is not definitive: the venue may not show
    /// an order it is still accepting (decision 0012, §3). Default 5 s.
    public var lookupGrace: TimeSpan

    public init(sessionTag: String, rules: MarketRules, sizeFraction: Rate, lookupGrace: TimeSpan = .seconds(5)) {
        self.sessionTag = sessionTag
        self.rules = rules
        self.sizeFraction = sizeFraction
        self.lookupGrace = lookupGrace
    }
}

/// Everything that reaches the execution engine. The live session stores each input before
/// acting on what it produces (decision 0012, §2), so the engine's state is the fold of them.
public enum ExecutionInput: Sendable, Hashable {
    /// The kernel's order commands (`.open`, `.close`, `.cancelOrders`; `.journal` is ignored);
    /// `price` is the bar close they were decided at.
    case commands([KernelCommand], at: Timestamp, price: Price)
    case submitted(clientID: String, SubmitOutcome, at: Timestamp)
    case lookedUp(clientID: String, LookupOutcome, at: Timestamp)
    case cancelAnswered(clientID: String, CancelOutcome, at: Timestamp)
    /// The venue's stream: order updates, fills, position, balance.
    case venue(VenueEvent, at: Timestamp)
    /// Reconciliation (at start and periodically): a complete snapshot only.
    case snapshot(VenueSnapshot, at: Timestamp)
    /// The kill switch: cancel everything, optionally a reduce-only market close, then halted.
    case stop(flatten: Bool, reason: String, at: Timestamp)
    /// A new process: the gate closes until a snapshot reconciles, and every order in
    /// `pendingSubmit` or `pendingCancel` is looked up.
    case restarted(at: Timestamp)
    /// Time passes: lookups whose grace expired become due.
    case tick(at: Timestamp)

    /// `KernelCommand` is only `Equatable`, so the conformance is written out: commands hash by
    /// their case and values.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .commands(let commands, let at, let price):
            hasher.combine(0)
            hasher.combine(commands.count)
            for command in commands { Self.hash(command, into: &hasher) }
            hasher.combine(at)
            hasher.combine(price)
        case .submitted(let clientID, let outcome, let at):
            hasher.combine(1)
            hasher.combine(clientID)
            hasher.combine(outcome)
            hasher.combine(at)
        case .lookedUp(let clientID, let outcome, let at):
            hasher.combine(2)
            hasher.combine(clientID)
            hasher.combine(outcome)
            hasher.combine(at)
        case .cancelAnswered(let clientID, let outcome, let at):
            hasher.combine(3)
            hasher.combine(clientID)
            hasher.combine(outcome)
            hasher.combine(at)
        case .venue(let event, let at):
            hasher.combine(4)
            hasher.combine(event)
            hasher.combine(at)
        case .snapshot(let snapshot, let at):
            hasher.combine(5)
            hasher.combine(snapshot)
            hasher.combine(at)
        case .stop(let flatten, let reason, let at):
            hasher.combine(6)
            hasher.combine(flatten)
            hasher.combine(reason)
            hasher.combine(at)
        case .restarted(let at):
            hasher.combine(7)
            hasher.combine(at)
        case .tick(let at):
            hasher.combine(8)
            hasher.combine(at)
        }
    }

    private static func hash(_ command: KernelCommand, into hasher: inout Hasher) {
        switch command {
        case .open(let side, let quantity, let stop, let target):
            hasher.combine(0)
            hasher.combine(side)
            hasher.combine(quantity)
            hasher.combine(stop)
            hasher.combine(target)
        case .close(let reason):
            hasher.combine(1)
            hasher.combine(reason)
        case .cancelOrders:
            hasher.combine(2)
        case .journal(let entry):
            hasher.combine(3)
            hasher.combine(entry)
        }
    }
}

/// What the engine asks its shell to do, in order.
public enum ExecutionAction: Sendable, Hashable {
    /// Submit this intent once (``ExecutionVenue/submit(_:)``).
    case send(OrderIntent)
    /// Look the order up by client id in the book `kind` lives in.
    case lookup(clientID: String, kind: OrderKind)
    case cancel(clientID: String, kind: OrderKind)
    /// Read a complete snapshot and hand it back as ``ExecutionInput/snapshot(_:at:)`` (e.g. a
    /// fill for an order we do not know).
    case snapshotNeeded
    /// Order-level fills for the kernel: one record per order once it is done.
    case kernelFills([FillRecord])
    /// A journal row.
    case note(ExecutionNote)
}

/// One journal row of the execution layer.
public struct ExecutionNote: Sendable, Hashable {
    public var time: Timestamp
    public var kind: Kind
    /// The order it is about, when there is one.
    public var clientID: String?
    public var text: String

    public init(time: Timestamp, kind: Kind, clientID: String?, text: String) {
        self.time = time
        self.kind = kind
        self.clientID = clientID
        self.text = text
    }

    /// What happened; the raw values are the journal's event names.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case sent, accepted, filled, cancelled, rejected, expired
        case unknownOutcome = "unknown_outcome"
        case adopted
        case neverSent = "never_sent"
        case resent
        case duplicateFill = "duplicate_fill"
        case illegalTransition = "illegal_transition"
        case missedFill = "missed_fill"
        case unknownOrderCancelled = "unknown_order_cancelled"
        case externalFill = "external_fill"
        case positionMismatch = "position_mismatch"
        case reconciled, refused, halted, stopped, resumed
    }
}

/// Whether orders may leave (reliability-anchors.md §1.1, Nautilus trading states: `HALTED`
/// denies submits but lets cancels pass, `REDUCING` accepts only what does not add exposure).
public enum ExecutionGate: Sendable, Hashable {
    /// `open`, `awaiting_reconciliation`, `reducing`, `halted` (the status's and the dashboard's word).
    public var name: String {
        switch self {
        case .awaitingReconciliation: "awaiting_reconciliation"
        case .open: "open"
        case .reducing: "reducing"
        case .halted: "halted"
        }
    }

    /// Why orders are limited, when they are.
    public var reason: String? {
        switch self {
        case .reducing(let why), .halted(let why): why
        case .awaitingReconciliation, .open: nil
        }
    }

    /// A new engine or a restart: only lookups and cancels until a snapshot reconciles
    /// (decision 0012, §4).
    case awaitingReconciliation
    case open
    /// Only reduce-only orders and cancels (e.g. while an order's outcome is unknown).
    case reducing(String)
    /// Only cancels, and the kill switch's flatten.
    case halted(String)
}

/// The stop and target fixed with an entry, placed as resting reduce-only orders when it fills
/// (decision 0012, §5).
public struct ProtectionPlan: Sendable, Hashable {
    public var stop: Price
    public var target: Price

    public init(stop: Price, target: Price) {
        self.stop = stop
        self.target = target
    }
}

/// One order as the engine knows it: the intent, its status and what filled.
public struct OrderRecord: Sendable, Hashable {
    public internal(set) var intent: OrderIntent
    public internal(set) var status: OrderStatus
    /// The venue's id (Binance `orderId` or `algoId`) once an answer gave it.
    public internal(set) var venueOrderID: String?
    /// A triggered conditional order's market order id (Binance `actualOrderId`).
    public internal(set) var triggeredOrderID: String?
    /// The sum of the fills applied to it (deduplicated by trade id).
    public internal(set) var filledQuantity: Quantity
    /// Σp·q ÷ Σq of the applied fills, rounded to the tick; `nil` before any fill.
    public internal(set) var averagePrice: Price?
    /// Commission of the applied fills.
    public internal(set) var fee: Notional
    /// What the applied fills realised, as the venue reported it.
    public internal(set) var realizedPnL: Notional
    /// How many distinct trades filled it.
    public internal(set) var tradeCount: Int
    /// When the intent last left (the first send, or the single resend).
    public internal(set) var lastSentAt: Timestamp?
    /// The stop and target remembered with an entry.
    public internal(set) var protection: ProtectionPlan?
    /// The largest filled quantity the venue reported for it (reports, lookups): fills still to
    /// arrive when it exceeds ``filledQuantity``.
    public internal(set) var reportedFilledQuantity: Quantity
    /// Whether the single resend after a definitive not-found has been used.
    public internal(set) var resent: Bool
    /// Whether the kernel has been told of its fills.
    public internal(set) var reportedToKernel: Bool

    // Bookkeeping.
    var costRaw: Int128 = 0
    var lastFillAt: Timestamp?
    var statusBeforeCancel: OrderStatus?
    var nextLookupAt: Timestamp?

    init(intent: OrderIntent, protection: ProtectionPlan?) {
        self.intent = intent
        self.status = .pendingSubmit
        self.filledQuantity = .zero
        self.fee = .zero
        self.realizedPnL = .zero
        self.tradeCount = 0
        self.protection = protection
        self.reportedFilledQuantity = .zero
        self.resent = false
        self.reportedToKernel = false
    }

    /// The client id (``OrderIntent/clientID``).
    public var clientID: String { intent.clientID }
    /// Resting or working at the venue, as far as we know.
    public var isOpen: Bool { status == .accepted || status == .partiallyFilled }
    /// The outcome of a submit or a cancel is not known yet.
    public var isUnresolved: Bool { status == .pendingSubmit || status == .pendingCancel }
}

extension OrderPurpose {
    /// The reason the kernel is told when an order of this purpose fills (`FillReason`,
    /// PerpSimulation/Records.swift).
    public var fillReason: FillReason {
        switch self {
        case .entry: return .signal
        case .stop: return .stop
        case .target: return .target
        case .timeExit: return .timeExit
        case .circuitBreaker: return .circuitBreaker
        case .killSwitch: return .killSwitch
        case .hedge: return .signal
        }
    }

    /// The purpose of the market close for a kernel close `reason` (`.stop` for anything that
    /// is not a time exit, circuit breaker or kill switch).
    public init(closing reason: FillReason) {
        switch reason {
        case .timeExit: self = .timeExit
        case .circuitBreaker: self = .circuitBreaker
        case .killSwitch: self = .killSwitch
        case .target: self = .target
        default: self = .stop
        }
    }
}

/// Venue text (a reject message, an unknown outcome's reason, another system's order id) made
/// safe for a journal line (``SafeText/excerpt(_:limit:)``, the rule `VenueError.excerpt` uses too).
public func executionExcerpt(_ text: String, limit: Int = 80) -> String { SafeText.excerpt(text.utf8, limit: limit) }
