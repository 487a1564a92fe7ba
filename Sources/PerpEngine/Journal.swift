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
    /// Paper and live: the venue answered 200 with something that is not what the endpoint
    /// returns (truncated JSON, an HTML page, `{"code":0}`); it was retried.
    case badResponse = "bad_response"
    /// Paper and live: the venue's bars resumed after a gap; the reason names the missing
    /// open times (reliability.md "Market data": gaps are reported, not bridged).
    case missingBars = "missing_bars"
    /// A note of one's own on a backtest run (`nmrperp journal note --run`): its text is the
    /// row's `reason`. Never written by the kernel.
    case note
}

/// One journal row.
///
/// A backtest writes thousands of rows a year (a funding payment every hour in a position, a
/// refusal for every wanted entry in quiet hours), so the kernel records the facts of its
/// frequent rows (``JournalText``, ``JournalSignals``) and ``reason`` and ``signals`` word them
/// when read; equality, the JSON line and the SQLite row all read the worded values. The facts
/// are kept in plain stored fields, not in enums with payloads: that layout made the Swift
/// 6.3.1 debug build crash (docs/decisions/0005-trading-kernel.md).
public struct JournalEntry: Sendable, Hashable {
    public var time: Timestamp
    public var event: JournalEvent
    public var side: Side?
    public var price: Price?
    public var quantity: Quantity?
    /// Notional ÷ margin of the position the row concerns.
    public var leverage: Rate?
    /// Why, in words (the rule that fired, the signals that agreed).
    public var reason: String {
        get {
            switch reasonFact {
            case .text: return reasonWords
            case .fundingSettled: return "funding settled at rate \(Rate(raw: reasonValue))"
            case .circuitHalt: return "circuit breaker: no entries until \(Timestamp(milliseconds: reasonValue).iso8601)"
            }
        }
        set {
            reasonFact = .text
            reasonWords = newValue
            reasonValue = 0
        }
    }
    /// Signal scores at the decision, by name, in a fixed order.
    public var signals: [(String, Double)] {
        get { scoreValues.map { $0.named } ?? namedSignals }
        set {
            scoreValues = nil
            namedSignals = newValue
        }
    }
    public var fee: Notional?
    public var funding: Notional?
    public var pnl: Notional?
    public var note: String
    private var reasonFact: JournalText.Fact
    private var reasonWords: String
    /// The rate's or the time's raw value, for the facts that carry one.
    private var reasonValue: Int64
    private var namedSignals: [(String, Double)]
    private var scoreValues: PackedScores?

    public init(
        time: Timestamp, event: JournalEvent, side: Side? = nil, price: Price? = nil, quantity: Quantity? = nil, leverage: Rate? = nil,
        reason: String, signals: [(String, Double)] = [], fee: Notional? = nil, funding: Notional? = nil, pnl: Notional? = nil,
        note: String = ""
    ) {
        self.init(
            time: time, event: event, side: side, price: price, quantity: quantity, leverage: leverage, reasonText: .text(reason),
            signalValues: signals.isEmpty ? .none : .named(signals), fee: fee, funding: funding, pnl: pnl, note: note)
    }

    /// A row whose words are put together when read.
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
        reasonFact = reasonText.fact
        reasonWords = reasonText.words
        reasonValue = reasonText.value
        namedSignals = signalValues.named
        scoreValues = signalValues.scores
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
            ("signals", .object(signals.map { ($0.0, .double($0.1)) })), ("fees", fee.map { .exact($0) } ?? .null),
            ("funding_paid", funding.map { .exact($0) } ?? .null), ("pnl", pnl.map { .exact($0) } ?? .null), ("note", .string(note)),
        ])
    }
}

/// A journal row's reason as the kernel records it: text already written, or the facts of a
/// frequent row, worded when read (plain fields, see ``JournalEntry``).
struct JournalText: Sendable {
    enum Fact: UInt8, Sendable {
        case text
        /// "funding settled at rate R".
        case fundingSettled
        /// "circuit breaker: no entries until T".
        case circuitHalt
    }

    let fact: Fact
    let words: String
    let value: Int64

    static func text(_ words: String) -> JournalText { JournalText(fact: .text, words: words, value: 0) }
    static func fundingSettled(_ rate: Rate) -> JournalText { JournalText(fact: .fundingSettled, words: "", value: rate.raw) }
    static func circuitHalt(until: Timestamp) -> JournalText {
        JournalText(fact: .circuitHalt, words: "", value: until.milliseconds)
    }
}

/// A journal row's signal scores as the kernel records them: a list already named, or the
/// scores of a decision, named when read.
struct JournalSignals: Sendable {
    let named: [(String, Double)]
    let scores: PackedScores?

    static let none = JournalSignals(named: [], scores: nil)
    static func named(_ named: [(String, Double)]) -> JournalSignals { JournalSignals(named: named, scores: nil) }
    /// A decision's scores, then `model_p_up` when the model decided.
    static func scores(_ scores: SignalScores, probabilityUp: Double?) -> JournalSignals {
        JournalSignals(named: [], scores: PackedScores(scores, probabilityUp: probabilityUp))
    }
}

/// A decision's seven scores and the model's probability in eight plain `Double`s, NaN for
/// none (64 bytes where optionals take 128). Scores are never NaN (`clamp` maps anything not
/// finite to 0, the kernel refuses a non-finite probability).
struct PackedScores: Sendable {
    private var momentum, meanReversion, funding, staked, activity, exchangeFlow, sentiment, probabilityUp: Double

    init(_ scores: SignalScores, probabilityUp: Double?) {
        momentum = scores.momentum ?? .nan
        meanReversion = scores.meanReversion ?? .nan
        funding = scores.funding ?? .nan
        staked = scores.staked ?? .nan
        activity = scores.activity ?? .nan
        exchangeFlow = scores.exchangeFlow ?? .nan
        sentiment = scores.sentiment ?? .nan
        self.probabilityUp = probabilityUp ?? .nan
    }

    /// ``SignalScores/named``, then `model_p_up` when the model decided.
    var named: [(String, Double)] {
        var named: [(String, Double)] = []
        named.reserveCapacity(8)
        if !momentum.isNaN { named.append(("momentum", momentum)) }
        if !meanReversion.isNaN { named.append(("mean_reversion", meanReversion)) }
        if !funding.isNaN { named.append(("funding", funding)) }
        if !staked.isNaN { named.append(("staked", staked)) }
        if !activity.isNaN { named.append(("activity", activity)) }
        if !exchangeFlow.isNaN { named.append(("exchange_flow", exchangeFlow)) }
        if !sentiment.isNaN { named.append(("sentiment", sentiment)) }
        if !probabilityUp.isNaN { named.append(("model_p_up", probabilityUp)) }
        return named
    }
}

extension JournalEntry {
    /// A stored journal line in today's JSON vocabulary (README, "JSON vocabulary"). Sessions
    /// written before the vocabulary stored `fee` and `funding`; their lines are exported with
    /// `fees` and `funding_paid` (same values, same sign: positive is paid), so one reader
    /// reads every session. A line that is not a JSON object is returned unchanged.
    public static func currentVocabulary(_ line: String) -> JSONValue {
        guard let parsed = try? JSONParser.parse(line) else { return .string(line) }
        guard case .object(let members) = parsed else { return parsed }
        let renamed: [String: String] = ["fee": "fees", "funding": "funding_paid"]
        return .object(members.map { (renamed[$0.0] ?? $0.0, $0.1) })
    }

    /// ``currentVocabulary(_:)`` as one line of text (JSON Lines), unchanged when it was already current.
    public static func currentLine(_ line: String) -> String {
        guard line.contains("\"fee\"") || line.contains("\"funding\"") else { return line }
        let value = currentVocabulary(line)
        if case .string = value { return line }
        return value.serialized(pretty: false)
    }
}
