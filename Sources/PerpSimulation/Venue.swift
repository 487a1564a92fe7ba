import PerpMechanics
import PerpModel

/// How a market order's price moves against the taker.
public enum SlippageModel: Hashable, Sendable {
    case none
    /// A fixed fraction of the price (`Rate("0.0005")` = 5 bps).
    case fixed(Rate)
    /// `impact × (order size / bar volume)` of the price, capped at `cap`: a crude
    /// square-book model for thin NMR books.
    case volumeShare(impact: Rate, cap: Rate)
}

/// The simulated venue's rules. Defaults follow the backtester issue's reference scenario
/// (cross margin, maintenance 1 %, taker 0.05 %).
public struct VenueConfig: Hashable, Sendable {
    public var marginMode: MarginMode = .cross
    /// Maintenance fraction of notional at the checked price (used when ``marginSchedule`` is `nil`).
    public var maintenanceFraction: Rate = Rate("0.01")!
    /// The market's own maintenance schedule (Binance USD-M NMRUSDT's brackets, Lighter's flat
    /// fraction), which the liquidation price follows instead of ``maintenanceFraction`` when set
    /// (``MarketPreset``).
    public var marginSchedule: MarginSchedule?
    /// The smallest notional an order that opens or adds to a position may have (Binance
    /// `MIN_NOTIONAL`, 5 USDT on NMRUSDT): a smaller one is rejected, as the venue rejects it.
    /// Orders that only reduce a position are never refused. Zero: no minimum.
    public var minNotional: Notional = .zero
    public var takerFee: Rate = Rate("0.0005")!
    public var makerFee: Rate = Rate("0.0002")!
    public var slippage: SlippageModel = .none
    /// Size step; order sizes round toward zero to it (never past a risk cap).
    public var lotSize: Quantity = Quantity(raw: 1)
    /// Record the equity after every bar (reports); off for benchmarks.
    public var recordEquity: Bool = true
    /// Close an open position at the last close when the run ends.
    public var closeAtEnd: Bool = false
    /// The account's leverage setting for the market: an isolated position opened by
    /// `.target` or an order posts `notional / leverage` as its margin (`.enter` sets its own,
    /// `.targetWithMargin` names the amount). Binance USD-M and Lighter both keep the setting per
    /// market.
    public var leverage: Rate = .one
    /// What a liquidation leaves the trader (docs/venues.md). The default is Binance USD-M's,
    /// the venue these defaults stand for.
    public var liquidationRule: LiquidationRule = .binanceUSDM

    public init() {}
}

/// An order a strategy can place.
public struct OrderRequest: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// Fills at the bar's close (taker, with slippage).
        case market
        /// Rests until the price trades at or through `price` (maker when resting).
        case limit(Price)
        /// Becomes a market order when the price trades at or through `price`.
        case stop(Price)
    }

    public var side: Side
    public var quantity: Quantity
    public var kind: Kind
    /// Never increases the position: trimmed (or dropped) to what would reduce it.
    public var reduceOnly: Bool
    /// Why its fill happens (a bot's take-profit target: ``FillReason/target``); `nil`: the
    /// order's kind says (`signal` at the close, `limit` or `stop` when reached).
    public var reason: FillReason?

    public init(side: Side, quantity: Quantity, kind: Kind, reduceOnly: Bool = false, reason: FillReason? = nil) {
        self.side = side
        self.quantity = quantity
        self.kind = kind
        self.reduceOnly = reduceOnly
        self.reason = reason
    }
}

/// What a strategy asks for at a bar's close.
public enum StrategyAction: Hashable, Sendable {
    /// Close any position on the other side, then (if the balance is positive) open a position
    /// of notional `leverage × balance` on `side` at the close. The sma-cross reference rule.
    case enter(Side, leverage: Rate)
    /// Trade at the close to a signed position of exactly this size.
    case target(Quantity)
    /// As `.target`, posting `margin` as the position's isolated margin (ignored under cross
    /// margin): a hedge that names its collateral.
    case targetWithMargin(Quantity, margin: Notional)
    /// Close everything at the close (reason ``FillReason/signal``).
    case flatten
    /// Close everything at the close because of a rule (a time exit, the circuit breaker, the
    /// kill switch): as `flatten`, the fill and the trade carry `reason`.
    case exit(FillReason)
    /// Place these orders (market orders fill at the close; others rest).
    case submit([OrderRequest])
    /// Cancel every resting order.
    case cancelAll
    /// Cancel every resting order, then place these (an entry with its stop and target).
    case replaceOrders([OrderRequest])
}

/// What a strategy sees of one bar (values, so a strategy cannot look ahead).
public struct BarView: Sendable {
    public var index: Int
    public var time: Timestamp
    public var open: Price
    public var high: Price
    public var low: Price
    public var close: Price
    public var volume: Quantity
}

/// What a strategy sees of its account at a bar's close. Built for every bar, so it stores raw
/// values and derives the rest only when read.
public struct AccountView: Sendable {
    /// Free balance (under isolated margin, without the position's margin).
    public let balance: Notional
    /// Signed position (+ long, − short).
    public let position: Quantity
    /// Signed entry value of the position.
    public let costBasis: Notional
    /// Isolated margin of the position (zero under cross margin).
    public let positionMargin: Notional
    public let restingOrders: Int
    /// Fills since the strategy was last called (stops, targets, liquidations, and the fills
    /// of its own last action), oldest first.
    public let recentFills: [FillRecord]
    /// Funding settled since the strategy was last called.
    public let recentFunding: [FundingRecord]
    let closeRaw: Int64
    let liquidationRaw: Int64

    init(
        balance: Notional, position: Quantity, costBasis: Notional, positionMargin: Notional, restingOrders: Int,
        recentFills: [FillRecord] = [],
        recentFunding: [FundingRecord] = [], closeRaw: Int64, liquidationRaw: Int64
    ) {
        self.recentFills = recentFills
        self.recentFunding = recentFunding
        self.balance = balance
        self.position = position
        self.costBasis = costBasis
        self.positionMargin = positionMargin
        self.restingOrders = restingOrders
        self.closeRaw = closeRaw
        self.liquidationRaw = liquidationRaw
    }

    public var isFlat: Bool { position.isZero }
    /// Average entry price; `nil` when flat.
    public var entryPrice: Price? { position.isZero ? nil : costBasis.divided(by: position, rule: .toNearestOrEven) }
    /// The price the account is marked at (the bar's close).
    public var markPrice: Price { Price(raw: closeRaw) }
    /// Balance plus margin plus unrealised PnL at the close.
    public var equity: Notional { balance + positionMargin + markPrice.times(position) - costBasis }
    public var liquidationPrice: Price? { liquidationRaw > 0 ? Price(raw: liquidationRaw) : nil }
}

/// A trading strategy: called once per bar, after the bar has closed.
public protocol Strategy {
    mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction?
}
