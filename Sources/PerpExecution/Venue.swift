import PerpModel

// The execution layer's contract with a venue (issue 12; decision 0012). Everything the
// execution core knows about a venue goes through these types: the simulated venue, Binance
// USD-M and Lighter implement ``ExecutionVenue``; the core never sees a wire format.

/// How an order executes, and which of a venue's books it lives in. Binance USD-M takes market
/// orders on `/fapi/v1/order` and, since December 2025, conditional orders only on its Algo
/// Order API (`/fapi/v1/algoOrder`, reliability-anchors.md, addendum 2026-12).
public enum OrderKind: String, Sendable, Hashable, CaseIterable {
    /// A market order (entries, exits, the kill switch's flatten).
    case market
    /// A reduce-only stop resting on the venue (`STOP_MARKET`): the bot's stop loss, which
    /// still protects the position when the process is dead.
    case stopMarket = "stop_market"
    /// A reduce-only take-profit resting on the venue (`TAKE_PROFIT_MARKET`): the bot's target.
    case takeProfitMarket = "take_profit_market"

    /// Whether the order rests until a trigger price is touched (Binance: an algo order).
    public var isConditional: Bool { self != .market }
}

/// Why the execution layer sends an order: journalled with it, and the reason the kernel is
/// told when it fills (``OrderPurpose/fillReason``).
public enum OrderPurpose: String, Sendable, Hashable, CaseIterable {
    /// The kernel's market entry.
    case entry
    /// The entry's stop loss (reduce-only, resting).
    case stop
    /// The entry's take-profit (reduce-only, resting).
    case target
    /// The time exit: a reduce-only market close.
    case timeExit = "time_exit"
    /// The circuit breaker's reduce-only market close.
    case circuitBreaker = "circuit_breaker"
    /// The operator's kill switch (`live stop --flatten`): a reduce-only market close.
    case killSwitch = "kill_switch"
    /// The stake hedge resizing its short to the stake (`hedge run`): a market sell to grow
    /// it, a reduce-only market buy to shrink it.
    case hedge
}

/// An order's life (reliability.md "Order state machine as a table"). The table of legal moves
/// is ``OrderStateMachine``.
public enum OrderStatus: String, Sendable, Hashable, CaseIterable {
    /// Recorded durably; the request may or may not have reached the venue. After a crash such
    /// an order is looked up by its client id before anything else is sent.
    case pendingSubmit = "pending_submit"
    /// Resting at the venue (a conditional order waiting for its trigger, or a working order).
    case accepted
    case partiallyFilled = "partially_filled"
    case filled
    /// A cancel was requested and not yet confirmed.
    case pendingCancel = "pending_cancel"
    case cancelled
    /// Refused by the venue with a definitive answer: it never reached the book.
    case rejected
    case expired
    /// A restart found that the venue has no such order (a definitive not-found after a
    /// crash between recording and sending): it never left.
    case neverSent = "never_sent"

    /// No further event can change it (except the venues' late fill after a cancel, which
    /// ``OrderStateMachine`` accepts from `cancelled` and `expired`).
    public var isTerminal: Bool {
        switch self {
        case .filled, .cancelled, .rejected, .expired, .neverSent: return true
        case .pendingSubmit, .accepted, .partiallyFilled, .pendingCancel: return false
        }
    }
}

/// An order the execution layer decided to send: recorded durably before the request leaves.
/// `clientID` is a pure function of the session and `sequence` (``ClientOrderID``), so a resend
/// after a crash is the same order, never a second one.
public struct OrderIntent: Sendable, Hashable {
    /// The session's intent counter: 1, 2, 3… never reused.
    public var sequence: Int64
    public var clientID: String
    public var kind: OrderKind
    public var purpose: OrderPurpose
    /// `.long` buys, `.short` sells.
    public var side: Side
    /// Positive, a multiple of the market's lot, never zero.
    public var quantity: Quantity
    /// The trigger of a conditional order (mark price); `nil` for market orders.
    public var triggerPrice: Price?
    public var reduceOnly: Bool
    /// The time of the event that decided it (a bar's close, a fill, an operator's stop).
    public var createdAt: Timestamp

    public init(
        sequence: Int64, clientID: String, kind: OrderKind, purpose: OrderPurpose, side: Side, quantity: Quantity,
        triggerPrice: Price?, reduceOnly: Bool, createdAt: Timestamp
    ) {
        self.sequence = sequence
        self.clientID = clientID
        self.kind = kind
        self.purpose = purpose
        self.side = side
        self.quantity = quantity
        self.triggerPrice = triggerPrice
        self.reduceOnly = reduceOnly
        self.createdAt = createdAt
    }
}

/// An order as the venue reports it (an answer to submit, a lookup, an open-orders list, a
/// stream event).
public struct VenueOrder: Sendable, Hashable {
    public var clientID: String
    /// The venue's id (Binance `orderId`, or `algoId` for a conditional order not yet
    /// triggered).
    public var venueOrderID: String
    public var kind: OrderKind
    public var side: Side
    /// One of `accepted`, `partiallyFilled`, `filled`, `cancelled`, `rejected`, `expired`.
    public var status: OrderStatus
    public var quantity: Quantity
    public var filledQuantity: Quantity
    /// Average price of what filled, when anything did.
    public var averagePrice: Price?
    public var triggerPrice: Price?
    public var reduceOnly: Bool
    public var updatedAt: Timestamp
    /// A triggered conditional order: the id of the market order it became (Binance
    /// `actualOrderId`), whose trades carry that id.
    public var triggeredOrderID: String?

    public init(
        clientID: String, venueOrderID: String, kind: OrderKind, side: Side, status: OrderStatus, quantity: Quantity,
        filledQuantity: Quantity, averagePrice: Price?, triggerPrice: Price?, reduceOnly: Bool, updatedAt: Timestamp,
        triggeredOrderID: String? = nil
    ) {
        self.clientID = clientID
        self.venueOrderID = venueOrderID
        self.kind = kind
        self.side = side
        self.status = status
        self.quantity = quantity
        self.filledQuantity = filledQuantity
        self.averagePrice = averagePrice
        self.triggerPrice = triggerPrice
        self.reduceOnly = reduceOnly
        self.updatedAt = updatedAt
        self.triggeredOrderID = triggeredOrderID
    }
}

/// One execution at the venue. `tradeID` is unique per symbol (Binance `t` / `id`): fills are
/// deduplicated on it, whichever path (stream, REST, reconciliation) delivers them.
public struct VenueFill: Sendable, Hashable {
    public var tradeID: String
    /// The venue id of the order that traded (for a triggered stop: the market order it became).
    public var venueOrderID: String
    /// Our client id when the venue reports it (the stream does; `userTrades` does not).
    public var clientID: String?
    public var side: Side
    public var quantity: Quantity
    public var price: Price
    /// Commission in the quote asset.
    public var fee: Notional
    /// What the venue says the fill realised (Binance `rp` / `realizedPnl`).
    public var realizedPnL: Notional
    public var time: Timestamp

    public init(
        tradeID: String, venueOrderID: String, clientID: String?, side: Side, quantity: Quantity, price: Price, fee: Notional,
        realizedPnL: Notional, time: Timestamp
    ) {
        self.tradeID = tradeID
        self.venueOrderID = venueOrderID
        self.clientID = clientID
        self.side = side
        self.quantity = quantity
        self.price = price
        self.fee = fee
        self.realizedPnL = realizedPnL
        self.time = time
    }
}

/// The venue's position in the symbol (one-way mode). An explicit report is authoritative; a
/// failed query is never "flat" (reliability-anchors.md §1.1, the authority rule).
public struct VenuePosition: Sendable, Hashable {
    /// Signed: + long, − short, zero flat.
    public var quantity: Quantity
    public var entryPrice: Price?
    public var markPrice: Price?
    public var liquidationPrice: Price?
    /// Isolated margin held by the position, when isolated.
    public var isolatedMargin: Notional?
    public var leverage: Int?

    public init(
        quantity: Quantity, entryPrice: Price? = nil, markPrice: Price? = nil, liquidationPrice: Price? = nil,
        isolatedMargin: Notional? = nil, leverage: Int? = nil
    ) {
        self.quantity = quantity
        self.entryPrice = entryPrice
        self.markPrice = markPrice
        self.liquidationPrice = liquidationPrice
        self.isolatedMargin = isolatedMargin
        self.leverage = leverage
    }
}

/// The account's quote-asset balance.
public struct VenueBalance: Sendable, Hashable {
    public var wallet: Notional
    public var available: Notional

    public init(wallet: Notional, available: Notional) {
        self.wallet = wallet
        self.available = available
    }
}

/// Everything reconciliation compares with the local record, read in one go.
public struct VenueSnapshot: Sendable, Hashable {
    /// Open orders on the symbol: working orders and resting conditional orders both.
    public var openOrders: [VenueOrder]
    public var position: VenuePosition
    public var balance: VenueBalance
    /// Trades on the symbol since the time asked for, oldest first.
    public var fills: [VenueFill]
    /// The venue's clock when it answered.
    public var time: Timestamp

    public init(openOrders: [VenueOrder], position: VenuePosition, balance: VenueBalance, fills: [VenueFill], time: Timestamp) {
        self.openOrders = openOrders
        self.position = position
        self.balance = balance
        self.fills = fills
        self.time = time
    }
}

/// The tick, lot and minimum notional every order must meet (Binance `exchangeInfo` filters
/// `PRICE_FILTER`, `LOT_SIZE`/`MARKET_LOT_SIZE`, `MIN_NOTIONAL`; Lighter `orderBookDetails`).
public struct MarketRules: Sendable, Hashable {
    public var symbol: String
    public var tickSize: Price
    public var lotSize: Quantity
    /// The largest market order (Binance `MARKET_LOT_SIZE.maxQty`).
    public var maxMarketQuantity: Quantity
    public var minNotional: Notional

    public init(symbol: String, tickSize: Price, lotSize: Quantity, maxMarketQuantity: Quantity, minNotional: Notional) {
        self.symbol = symbol
        self.tickSize = tickSize
        self.lotSize = lotSize
        self.maxMarketQuantity = maxMarketQuantity
        self.minNotional = minNotional
    }
}

/// What a submit answered. Only a definitive answer is `rejected` (Nautilus's command outcome
/// policy, reliability-anchors.md §1.1): a timeout, a reset connection, a 5xx, Binance -1006 or
/// -1007, or an answer we could not read is `unknown`, and the order is looked up by client id
/// before anything is sent again.
public enum SubmitOutcome: Sendable, Hashable {
    case accepted(VenueOrder)
    /// The venue's code and message (e.g. Binance -2019 "Margin is insufficient").
    case rejected(code: Int, message: String)
    case unknown(reason: String)
}

/// What a lookup by client id answered. `notFound` only for the venue's definitive answer
/// (Binance -2013); an error of transport, clock or authentication is `unknown` and counts
/// toward nothing (hummingbot#5502).
public enum LookupOutcome: Sendable, Hashable {
    case found(VenueOrder)
    case notFound
    case unknown(reason: String)
}

/// What a cancel answered.
public enum CancelOutcome: Sendable, Hashable {
    /// Cancelled now, with the order's final state when the venue gave it.
    case cancelled(VenueOrder?)
    /// The venue does not have it open (Binance -2011 "Unknown order sent."): filled, cancelled
    /// or never there. The caller looks it up to learn which.
    case notOpen
    case unknown(reason: String)
}

/// Something the venue pushed (Binance's user data stream), or the stream's own health.
public enum VenueEvent: Sendable, Hashable {
    case order(VenueOrder)
    case fill(VenueFill)
    case position(VenuePosition)
    case balance(VenueBalance)
    /// The stream broke; the caller falls back to polling until ``streamRestored``.
    case streamLost(reason: String)
    case streamRestored
}

/// A venue the execution layer trades on: the simulated venue, Binance USD-M, Lighter. One
/// symbol per instance. Methods that talk to the venue never trap on its answers: a malformed
/// answer is an `unknown` outcome or a thrown error saying what was wrong.
public protocol ExecutionVenue: Sendable {
    /// A short name for logs and the journal (`binance-usdm`, `binance-usdm-testnet`, `sim`).
    var name: String { get }
    /// The symbol's trading rules, read from the venue.
    func rules() async throws -> MarketRules
    /// Sets the symbol's leverage and margin mode before any order (Binance `POST
    /// /fapi/v1/leverage`, `POST /fapi/v1/marginType`; "no need to change" counts as done).
    func prepare(leverage: Int, isolated: Bool) async throws
    /// Sends `intent` once. Never retries a request whose outcome is unknown.
    func submit(_ intent: OrderIntent) async -> SubmitOutcome
    /// Looks an order up by client id in the book `kind` lives in.
    func lookup(clientID: String, kind: OrderKind) async -> LookupOutcome
    func cancel(clientID: String, kind: OrderKind) async -> CancelOutcome
    /// Open orders, position, balance and trades since `fillsSince`, for reconciliation.
    /// Throws when any part cannot be read: a partial snapshot is never reconciled against.
    func snapshot(fillsSince: Timestamp) async throws -> VenueSnapshot
    /// Refreshes the venue's dead man's switch (Binance `countdownCancelAll`): if no refresh
    /// comes within `countdown`, the venue cancels the symbol's open orders. Zero disarms it.
    func heartbeat(countdown: TimeSpan) async throws
    /// The venue's pushed events, or `nil` when it pushes none (the caller polls).
    func events() async -> AsyncStream<VenueEvent>?
    /// The market data the trader has just read, before the kernel sees it. A venue that
    /// simulates the market (paper trading) moves its book through it and answers with the
    /// events that produced (a resting stop filled inside the bar, funding settled), so the
    /// trader records them before the bar, as a real venue's stream would have delivered them.
    /// A real venue's market moves on its own: it answers nothing (the default).
    func observe(_ market: MarketObservation) async -> [VenueEvent]
    /// Events a venue without a stream produced since the last call (the simulated venue of
    /// paper trading, whose answers and events are stored together in one transaction, so a
    /// crash can never keep one and lose the other). A real venue pushes its events through
    /// ``events()`` and answers nothing here (the default).
    func takeEvents() async -> [VenueEvent]
    /// The client ids of the session's orders, told to the venue before its first snapshot
    /// after a start. A venue whose order ids cannot carry our text (Lighter's integer
    /// `client_order_index`, a hash of the id) names the orders it reports with them; the
    /// others ignore it (the default).
    func track(clientIDs: [String]) async
}

/// Market data the trader hands to ``ExecutionVenue/observe(_:)``.
public enum MarketObservation: Sendable, Hashable {
    /// A closed bar.
    case bar(Candle)
    /// A funding settlement, with the mark price it settled at when the venue's feed gives one
    /// (otherwise the simulated venue uses the open of the bar it settles at).
    case funding(FundingRate, mark: Price?)
}

extension ExecutionVenue {
    public func observe(_ market: MarketObservation) async -> [VenueEvent] { [] }
    public func takeEvents() async -> [VenueEvent] { [] }
    public func track(clientIDs: [String]) async {}
}

/// What the stake hedge reads from its venue each poll: the position (size, isolated margin,
/// liquidation price), the balance, the mark, the funding the position has paid.
public struct HedgeVenueState: Sendable, Hashable {
    public var position: VenuePosition
    public var balance: VenueBalance
    public var mark: Price
    /// Funding paid by the position so far (negative: received), when the venue reports it.
    public var fundingPaid: Notional?
    /// The account's whole value (Lighter `total_asset_value`: a pool's NAV), when reported.
    public var accountValue: Notional?

    public init(position: VenuePosition, balance: VenueBalance, mark: Price, fundingPaid: Notional?, accountValue: Notional? = nil) {
        self.position = position
        self.balance = balance
        self.mark = mark
        self.fundingPaid = fundingPaid
        self.accountValue = accountValue
    }
}

/// A venue the stake hedge runs on (Lighter, Binance USD-M): an execution venue that also moves
/// USDC onto and off an isolated position.
public protocol HedgeVenue: ExecutionVenue {
    /// One read of the position, balance and mark (as few requests as the venue allows).
    func hedgeState() async throws -> HedgeVenueState
    /// Moves `amount` USDC onto (`add`) or off the isolated position. Never throws: a definitive
    /// refusal is `refused`, a lost answer `unknown` (the next read shows what happened).
    func moveMargin(_ amount: Notional, add: Bool) async -> MarginOutcome
}
