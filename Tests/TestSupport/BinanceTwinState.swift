// The Binance USD-M twin's book: one symbol, one-way mode, one account. Orders, algo orders,
// trades, the position and the wallet, in PerpModel's fixed point. Pure: no I/O, no clock; the
// twin's clock is `now`, moved by the test.
//
// Rules implemented (reliability-anchors.md §2.1 and the 2026-12 addendum):
// - `newClientOrderId` is unique among OPEN orders only: a filled order's id may be reused, and a
//   second order opens (the trap a client must not fall into; `acceptedCount(clientID:)`).
// - MARKET orders fill at once at the current price (± the configured slippage), taker fee
//   0.05 % of the notional; conditional types are refused on /order with -4120.
// - Conditional (algo) orders trigger when a bar closing under the twin's clock crosses their
//   trigger: STOP_MARKET sells when low ≤ trigger, buys when high ≥ trigger; TAKE_PROFIT_MARKET
//   sells when high ≥ trigger, buys when low ≤ trigger. The resulting market order fills at the
//   trigger, or at the bar's open when the bar opened beyond it (a gap).
// - One-way position: average entry on increase; realized PnL on the closed part; a flip opens
//   the remainder at the fill price.

import PerpModel

/// One bar the twin serves and trades against: PerpModel's candle (open time in ms, OHLCV).
public typealias TwinBar = Candle

/// NMRUSDT's exchange filters. Tick 0.001 and step 0.1 are what the real NMRUSDT klines show
/// (shared/data/api/binance_usdm/real_klines_NMRUSDT_15m_2025-09-11.json: prices with 3 decimals,
/// volumes with 1); min notional 5 USDT is Binance's USD-M default (error -4164's text). The
/// price and quantity bounds are guesses (no NMRUSDT exchangeInfo fixture): they only keep
/// arithmetic bounded.
public struct TwinFilters: Sendable, Equatable {
    public var tickSize = Price("0.001") ?? .zero
    public var minPrice = Price("0.001") ?? .zero
    public var maxPrice = Price(2000)
    public var stepSize = Quantity("0.1") ?? .zero
    public var minQuantity = Quantity("0.1") ?? .zero
    public var maxQuantity = Quantity(100_000)
    public var maxMarketQuantity = Quantity(10_000)
    public var minNotional = Notional(5)

    public init() {}

    public static let nmrusdt = TwinFilters()
}

/// A regular order as the twin holds it.
public struct TwinOrder: Sendable, Hashable {
    public var orderID: Int64
    public var clientOrderID: String
    public var side: Side
    /// `MARKET` (the only type the twin's /order takes).
    public var type: String
    /// `MARKET`, or the algo order's type when an algo order triggered it.
    public var origType: String
    public var quantity: Quantity
    public var executedQuantity: Quantity = .zero
    public var averagePrice: Price = .zero
    public var cumulativeQuote: Notional = .zero
    /// `NEW`, `FILLED`, `CANCELED`, `EXPIRED`.
    public var status: String
    public var reduceOnly: Bool
    /// The algo order that triggered it.
    public var algoID: Int64?
    public var time: Int64
    public var updateTime: Int64
}

/// A conditional order resting in the Algo Service.
public struct TwinAlgoOrder: Sendable, Hashable {
    public var algoID: Int64
    public var clientAlgoID: String
    /// `STOP_MARKET` or `TAKE_PROFIT_MARKET`.
    public var type: String
    public var side: Side
    public var quantity: Quantity
    public var triggerPrice: Price
    public var reduceOnly: Bool
    public var closePosition: Bool
    /// `NEW`, `CANCELED`, `TRIGGERED`, `FINISHED`, `REJECTED`, `EXPIRED`.
    public var status: String
    public var createTime: Int64
    public var updateTime: Int64
    public var triggerTime: Int64 = 0
    /// The regular order it became when triggered.
    public var actualOrderID: Int64?
    public var executedQuantity: Quantity = .zero
    public var averagePrice: Price = .zero
    /// Why the matching engine refused the triggered order (`rm` on ALGO_UPDATE).
    public var rejectReason: String = ""

    public var isOpen: Bool { status == "NEW" }
}

/// One fill (a row of `GET /fapi/v1/userTrades`).
public struct TwinTrade: Sendable, Hashable {
    public var id: Int64
    public var orderID: Int64
    public var side: Side
    public var price: Price
    public var quantity: Quantity
    public var quote: Notional
    public var commission: Notional
    public var realizedPnL: Notional
    public var time: Int64
}

/// The account's one-way position and what it earned.
public struct TwinPosition: Sendable, Hashable {
    /// Signed: positive long, negative short.
    public var quantity: Quantity = .zero
    public var entryPrice: Price = .zero
    /// Sum of realized PnL over all fills (before fees).
    public var realizedPnL: Notional = .zero
    /// Sum of commissions paid.
    public var fees: Notional = .zero
}

/// One event for the user data stream, already rendered.
struct TwinEvent: Sendable {
    var json: String
}

/// The twin's whole state; every method runs under the twin's lock.
struct TwinBook {
    var filters: TwinFilters
    var bars: [TwinBar]
    var intervalMillis: Int64
    var now: Int64
    var priceOverride: Price?
    var slippage: Price = .zero
    var takerFee = Rate(basisPointsOf10000: 5)
    var fundingRate = Rate(basisPointsOf10000: 1)
    var fundingIntervalMillis: Int64 = 8 * 3_600_000
    var leverage = 20
    var marginType = "CROSSED"
    /// Whether the dead man's switch also cancels open algo orders (see `fireCountdown`).
    var countdownCancelsAlgoOrders = true

    var wallet: Notional
    /// The isolated position's own wallet (`isolatedWallet`): the initial margin moved onto it
    /// when it grows in ISOLATED mode, what `positionMargin` adds or removes, released in
    /// proportion when it shrinks.
    var isolatedWallet = Notional.zero
    var position = TwinPosition()
    var orders: [TwinOrder] = []
    var algoOrders: [TwinAlgoOrder] = []
    var trades: [TwinTrade] = []
    var nextOrderID: Int64 = 8_389_765_000_000_000
    var nextAlgoID: Int64 = 4_000_000_000_000
    var nextTradeID: Int64 = 600_000_000
    /// `countdownCancelAll`: the deadline on the twin's clock, and what it cancelled.
    var countdownDeadline: Int64?
    var countdownFirings: [Int64] = []
    /// Accepted placements per client id (regular `newClientOrderId` and `clientAlgoId`).
    var acceptedByClientID: [String: Int] = [:]
    var events: [TwinEvent] = []

    /// Bars whose close time (`openTime + interval`) is at or before `now`.
    var closedBars: ArraySlice<TwinBar> {
        let end = bars.firstIndex { $0.openTime.milliseconds + intervalMillis > now } ?? bars.count
        return bars[..<end]
    }

    /// The last closed bar's close, or the first bar's open before any closed, or an explicit
    /// `setPrice`.
    var price: Price {
        if let priceOverride { return priceOverride }
        if let last = closedBars.last { return last.close }
        return bars.first?.open ?? Price(10)
    }

    // MARK: Fills and accounting

    /// Applies one fill to the position and wallet; returns the trade.
    /// One-way mode accounting (Binance "Position" docs: entry price is the average of the
    /// opening fills; realized PnL = closed quantity × (exit − entry) × direction).
    mutating func fill(orderID: Int64, side: Side, quantity: Quantity, price: Price) -> TwinTrade {
        let signed = side == .long ? quantity : -quantity
        let old = position.quantity
        var realized = Notional.zero
        if old.isZero || old.isNegative == signed.isNegative {
            let total = old.magnitude + quantity
            let cost = position.entryPrice.times(old.magnitude) + price.times(quantity)
            position.entryPrice = total.isZero ? .zero : cost.divided(by: total)
            position.quantity = old + signed
        } else {
            let closed = min(old.magnitude, quantity)
            let direction: Int = old.isNegative ? -1 : 1
            realized = direction * (price - position.entryPrice).times(closed)
            position.quantity = old + signed
            if position.quantity.isZero {
                position.entryPrice = .zero
            } else if position.quantity.isNegative != old.isNegative {
                position.entryPrice = price
            }
        }
        if marginType == "ISOLATED" {
            if old.isZero || old.isNegative == signed.isNegative {
                isolatedWallet += Notional(raw: price.times(quantity).raw / Int64(max(leverage, 1)))
            } else if position.quantity.isZero || position.quantity.isNegative != old.isNegative {
                isolatedWallet = .zero
            } else {
                let closed = min(old.magnitude, quantity)
                isolatedWallet -= Notional(
                    raw: Int64(FixedMath.divide(Int128(isolatedWallet.raw) * Int128(closed.raw), Int128(old.magnitude.raw), .down)))
            }
        }
        let quote = price.times(quantity)
        let fee = quote.times(takerFee)
        position.realizedPnL += realized
        position.fees += fee
        wallet += realized - fee
        let trade = TwinTrade(
            id: nextTradeID, orderID: orderID, side: side, price: price, quantity: quantity, quote: quote,
            commission: fee, realizedPnL: realized, time: now)
        nextTradeID += 1
        trades.append(trade)
        return trade
    }

    /// Whether a reduce-only order of this side and size only reduces the position
    /// (Binance -2022 otherwise).
    func reducesOnly(side: Side, quantity: Quantity) -> Bool {
        let held = position.quantity
        guard !held.isZero else { return false }
        let closing = held.isNegative ? side == .long : side == .short
        return closing && quantity <= held.magnitude
    }

    /// Executes a market order now: a new FILLED order with one trade. Returns its index.
    mutating func executeMarket(
        clientID: String, side: Side, quantity: Quantity, reduceOnly: Bool, origType: String = "MARKET",
        algoID: Int64? = nil, at fillPrice: Price? = nil
    ) -> Int {
        let orderID = nextOrderID
        nextOrderID += 1
        var order = TwinOrder(
            orderID: orderID, clientOrderID: clientID, side: side, type: "MARKET", origType: origType,
            quantity: quantity, status: "NEW", reduceOnly: reduceOnly, algoID: algoID, time: now, updateTime: now)
        events.append(TwinEvent(json: TwinJSON.orderTradeUpdate(order, trade: nil, time: now)))
        let base = fillPrice ?? price
        let slipped = side == .long ? base + slippage : base - slippage
        let trade = fill(orderID: orderID, side: side, quantity: quantity, price: slipped)
        order.executedQuantity = quantity
        order.averagePrice = slipped
        order.cumulativeQuote = trade.quote
        order.status = "FILLED"
        orders.append(order)
        events.append(TwinEvent(json: TwinJSON.orderTradeUpdate(order, trade: trade, time: now)))
        events.append(TwinEvent(json: TwinJSON.accountUpdate(self, reason: "ORDER", time: now)))
        return orders.count - 1
    }

    // MARK: The clock

    /// Moves the clock to `target` (never backwards), bar by bar: each bar that closes on the
    /// way is checked against the resting algo orders, and the dead man's switch fires when its
    /// deadline passes.
    mutating func advance(to target: Int64) {
        guard target > now else { return }
        let pending = bars.filter {
            let close = $0.openTime.milliseconds + intervalMillis
            return close > now && close <= target
        }
        for bar in pending {
            let close = bar.openTime.milliseconds + intervalMillis
            if let deadline = countdownDeadline, deadline <= bar.openTime.milliseconds {
                now = max(now, deadline)
                fireCountdown()
            }
            now = close
            triggerAlgoOrders(on: bar)
        }
        if let deadline = countdownDeadline, deadline <= target {
            now = max(now, deadline)
            fireCountdown()
        }
        now = target
    }

    /// `countdownCancelAll` expired: Binance cancels "all open orders of the symbol". The twin
    /// cancels the open regular orders (a MARKET-only twin rarely has any) and, when
    /// `countdownCancelsAlgoOrders` (the default), the open algo orders too: Binance's page
    /// predates the Algo Service and does not say, and a bot must survive losing its stops
    /// (decision 0012 §5: reconciliation re-places them).
    mutating func fireCountdown() {
        countdownDeadline = nil
        countdownFirings.append(now)
        for index in orders.indices where orders[index].status == "NEW" {
            orders[index].status = "CANCELED"
            orders[index].updateTime = now
            events.append(TwinEvent(json: TwinJSON.orderTradeUpdate(orders[index], trade: nil, time: now)))
        }
        guard countdownCancelsAlgoOrders else { return }
        for index in algoOrders.indices where algoOrders[index].isOpen {
            algoOrders[index].status = "CANCELED"
            algoOrders[index].updateTime = now
            events.append(TwinEvent(json: TwinJSON.algoUpdate(algoOrders[index], time: now)))
        }
    }

    /// Triggers the open algo orders this bar crosses, stops before take-profits (the pessimistic
    /// order when one bar crosses both), in placement order otherwise.
    mutating func triggerAlgoOrders(on bar: TwinBar) {
        let candidates = algoOrders.indices.filter { algoOrders[$0].isOpen }.sorted { left, right in
            let l = algoOrders[left].type == "STOP_MARKET" ? 0 : 1
            let r = algoOrders[right].type == "STOP_MARKET" ? 0 : 1
            return l == r ? left < right : l < r
        }
        for index in candidates where algoOrders[index].isOpen {
            let algo = algoOrders[index]
            guard let fillPrice = Self.triggerFill(algo, bar) else { continue }
            algoOrders[index].status = "TRIGGERED"
            algoOrders[index].triggerTime = now
            algoOrders[index].updateTime = now
            events.append(TwinEvent(json: TwinJSON.algoUpdate(algoOrders[index], time: now)))
            var quantity = algo.quantity
            if algo.closePosition { quantity = position.quantity.magnitude }
            if (algo.reduceOnly || algo.closePosition) && !reducesOnly(side: algo.side, quantity: quantity) {
                // Guessed: the matching engine refuses the reduce-only order; the algo order ends
                // REJECTED with "Reduce Only reject" in `rm` (Binance ALGO_UPDATE doc example).
                algoOrders[index].status = "REJECTED"
                algoOrders[index].rejectReason = "Reduce Only reject"
                events.append(TwinEvent(json: TwinJSON.algoUpdate(algoOrders[index], time: now)))
                continue
            }
            // Guessed: the triggered order carries the clientAlgoId as its clientOrderId.
            let orderIndex = executeMarket(
                clientID: algo.clientAlgoID, side: algo.side, quantity: quantity, reduceOnly: algo.reduceOnly,
                origType: algo.type, algoID: algo.algoID, at: fillPrice)
            algoOrders[index].actualOrderID = orders[orderIndex].orderID
            algoOrders[index].executedQuantity = orders[orderIndex].executedQuantity
            algoOrders[index].averagePrice = orders[orderIndex].averagePrice
            algoOrders[index].status = "FINISHED"
            events.append(TwinEvent(json: TwinJSON.algoUpdate(algoOrders[index], time: now)))
        }
    }

    /// The fill price of an algo order this bar triggers, or nil when it does not.
    static func triggerFill(_ algo: TwinAlgoOrder, _ bar: TwinBar) -> Price? {
        let trigger = algo.triggerPrice
        // Triggers when the price falls to the trigger: stop sells, take-profit buys.
        let onFall = (algo.type == "STOP_MARKET") == (algo.side == .short)
        if onFall {
            guard bar.low <= trigger else { return nil }
            return bar.open <= trigger ? bar.open : trigger
        }
        guard bar.high >= trigger else { return nil }
        return bar.open >= trigger ? bar.open : trigger
    }
}
