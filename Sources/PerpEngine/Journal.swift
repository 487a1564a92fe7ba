import PerpModel

/// What happened, for the trading journal (spec §4 "Journal"; reliability.md: every decision
/// and every refusal is written down).
public enum JournalEvent: String, Sendable, Hashable, CaseIterable {
    case entry
    case exit
    case stop
    case target
    case timeExit = "time_exit"
    case circuitBreaker = "circuit_breaker"
    case riskDenied = "risk_denied"
    case funding
    case liquidation
    case badData = "bad_data"
    case staleFeed = "stale_feed"
    case stateChange = "state_change"
}

/// One journal row.
///
/// The kernel builds its frequent rows from facts (``JournalText``, ``JournalSignals``), worded
/// once here. (Keeping the facts and wording them on read was faster, but the Swift 6.3.1
/// debug build crashed with a bad pointer in the journal store's round-trip test: see
/// docs/decisions/0005-trading-kernel.md.)
public struct JournalEntry: Sendable, Hashable {
    public var time: Timestamp
    public var event: JournalEvent
    public var side: Side?
    public var price: Price?
    public var quantity: Quantity?
    /// Notional ÷ margin of the position the row concerns.
    public var leverage: Rate?
    /// Why, in words (the rule that fired, the signals that agreed).
    public var reason: String
    /// Signal scores at the decision, by name, in a fixed order.
    public var signals: [(String, Double)]
    public var fee: Notional?
    public var funding: Notional?
    public var pnl: Notional?
    public var note: String

    public init(
        time: Timestamp, event: JournalEvent, side: Side? = nil, price: Price? = nil, quantity: Quantity? = nil, leverage: Rate? = nil,
        reason: String, signals: [(String, Double)] = [], fee: Notional? = nil, funding: Notional? = nil, pnl: Notional? = nil,
        note: String = ""
    ) {
        self.init(
            time: time, event: event, side: side, price: price, quantity: quantity, leverage: leverage, reasonText: .text(reason),
            signalValues: signals.isEmpty ? .none : .named(signals), fee: fee, funding: funding, pnl: pnl, note: note)
    }

    /// A row whose words are rendered when read.
    init(
        time: Timestamp, event: JournalEvent, side: Side? = nil, price: Price? = nil, quantity: Quantity? = nil, leverage: Rate? = nil,
        reasonText: JournalText, signalValues: JournalSignals = .none, fee: Notional? = nil, funding: Notional? = nil,
        pnl: Notional? = nil, note: String = ""
    ) {
        self.time = time
        self.event = event
        self.side = side
        self.price = price
        self.quantity = quantity
        self.leverage = leverage
        self.reason = reasonText.rendered
        self.signals = signalValues.named
        self.fee = fee
        self.funding = funding
        self.pnl = pnl
        self.note = note
    }

    public static func == (lhs: JournalEntry, rhs: JournalEntry) -> Bool {
        guard
            lhs.time == rhs.time && lhs.event == rhs.event && lhs.side == rhs.side && lhs.price == rhs.price
                && lhs.quantity == rhs.quantity && lhs.leverage == rhs.leverage && lhs.fee == rhs.fee && lhs.funding == rhs.funding
                && lhs.pnl == rhs.pnl && lhs.note == rhs.note && lhs.reason == rhs.reason
        else { return false }
        let left = lhs.signals
        let right = rhs.signals
        guard left.count == right.count else { return false }
        for index in left.indices where left[index].0 != right[index].0 || left[index].1 != right[index].1 { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(time)
        hasher.combine(event)
        hasher.combine(reason)
    }

    /// The row as one JSON object (the `--journal out.jsonl` line): `time` (ISO 8601 UTC),
    /// `event`, `side`, `price`, `quantity`, `leverage`, `reason`, then the rest.
    public var json: JSONValue {
        .object([
            ("time", .string(time.iso8601)), ("event", .string(event.rawValue)), ("side", side.map { .string($0.rawValue) } ?? .null),
            ("price", price.map { .exact($0) } ?? .null), ("quantity", quantity.map { .exact($0) } ?? .null),
            ("leverage", leverage.map { .exact($0) } ?? .null), ("reason", .string(reason)),
            ("signals", .object(signals.map { ($0.0, .double($0.1)) })), ("fee", fee.map { .exact($0) } ?? .null),
            ("funding", funding.map { .exact($0) } ?? .null), ("pnl", pnl.map { .exact($0) } ?? .null), ("note", .string(note)),
        ])
    }
}

/// A journal row's reason as the kernel records it: text already written, or the facts of a
/// frequent row, worded when read.
enum JournalText: Sendable {
    case text(String)
    /// "funding settled at rate R".
    case fundingSettled(Rate)
    /// "circuit breaker: no entries until T".
    case circuitHalt(until: Timestamp)

    var rendered: String {
        switch self {
        case .text(let text): return text
        case .fundingSettled(let rate): return "funding settled at rate \(rate)"
        case .circuitHalt(let until): return "circuit breaker: no entries until \(until.iso8601)"
        }
    }
}

/// A journal row's signal scores as the kernel records them: none, or a list by name.
enum JournalSignals: Sendable {
    case none
    case named([(String, Double)])

    /// A decision's scores by name, then `model_p_up` when the model decided.
    static func scores(_ scores: SignalScores, probabilityUp: Double?) -> JournalSignals {
        var named = scores.named
        if let probabilityUp { named.append(("model_p_up", probabilityUp)) }
        return .named(named)
    }

    var named: [(String, Double)] {
        switch self {
        case .none: return []
        case .named(let named): return named
        }
    }
}
