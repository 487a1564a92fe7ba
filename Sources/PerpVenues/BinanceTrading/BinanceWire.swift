import PerpExecution
import PerpModel

/// Readers for Binance USD-M answers and stream events (reliability-anchors.md §2.1; Binance
/// USD-M REST "New Order", "Query Order", "Query Algo Order", "Position Information V3",
/// "Futures Account Balance V3", "Account Trade List", "Exchange Information"; user data stream
/// events `ORDER_TRADE_UPDATE`, `ALGO_UPDATE`, `ACCOUNT_UPDATE`). Every field is read through a
/// checked helper: a missing field, a wrong type, NaN text, a number out of range or a
/// negative where a positive is due makes the whole record `nil`, never a trap.
enum BinanceWire {
    // MARK: Field helpers

    static func text(_ json: JSONValue, _ key: String) -> String? {
        guard let value = json[key] else { return nil }
        switch value {
        case .string(let text): return text
        case .number(let text): return text
        default: return nil
        }
    }

    static func int64(_ json: JSONValue, _ key: String) -> Int64? { text(json, key).flatMap { Int64($0) } }

    static func bool(_ json: JSONValue, _ key: String) -> Bool? {
        switch json[key] {
        case .bool(let value)?: return value
        case .string("true")?: return true
        case .string("false")?: return false
        default: return nil
        }
    }

    static func decimal<T: FixedPointValue>(_ json: JSONValue, _ key: String, as type: T.Type = T.self) -> T? {
        text(json, key).flatMap { T($0) }
    }

    /// A decimal that must be positive; zero or absent is `nil` (Binance prints `"0"` for
    /// "none": `avgPrice` before a fill, `stopPrice` on a market order).
    static func positive<T: FixedPointValue>(_ json: JSONValue, _ key: String, as type: T.Type = T.self) -> T? {
        decimal(json, key, as: type).flatMap { $0.isPositive ? $0 : nil }
    }

    /// A decimal that must be zero or more.
    static func nonNegative<T: FixedPointValue>(_ json: JSONValue, _ key: String, as type: T.Type = T.self) -> T? {
        decimal(json, key, as: type).flatMap { $0.isNegative ? nil : $0 }
    }

    /// An id: a non-empty run of at most 64 printable ASCII characters (Binance ids are
    /// integers; client ids match `^[\.A-Z\:/a-z0-9_-]{1,36}$`).
    static func identifier(_ json: JSONValue, _ key: String) -> String? {
        guard let value = text(json, key), !value.isEmpty, value.utf8.count <= 64,
            value.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { return nil }
        return value
    }

    static func side(_ text: String?) -> Side? {
        switch text {
        case "BUY": return .long
        case "SELL": return .short
        default: return nil
        }
    }

    static func wireSide(_ side: Side) -> String { side == .long ? "BUY" : "SELL" }

    /// Binance's order type for a kind (reliability-anchors.md addendum 2026-12).
    static func wireType(_ kind: OrderKind) -> String {
        switch kind {
        case .market: return "MARKET"
        case .stopMarket: return "STOP_MARKET"
        case .takeProfitMarket: return "TAKE_PROFIT_MARKET"
        }
    }

    /// The kind for a Binance order type. Types we never send (LIMIT, someone else's order) live
    /// in the regular book, so they read as `.market` there: reconciliation cancels orders that
    /// are not ours whatever their type.
    static func kind(_ type: String?) -> OrderKind {
        switch type {
        case "STOP_MARKET", "STOP": return .stopMarket
        case "TAKE_PROFIT_MARKET", "TAKE_PROFIT": return .takeProfitMarket
        default: return .market
        }
    }

    /// USD-M order status (reliability-anchors.md §2.1 "Order status values").
    static func status(_ text: String?) -> OrderStatus? {
        switch text {
        case "NEW": return .accepted
        case "PARTIALLY_FILLED": return .partiallyFilled
        case "FILLED": return .filled
        case "CANCELED": return .cancelled
        case "REJECTED": return .rejected
        case "EXPIRED", "EXPIRED_IN_MATCH": return .expired
        default: return nil
        }
    }

    // MARK: Orders

    /// An order's quantity: positive, or zero on a `closePosition=true` order (which closes
    /// whatever is open and states no quantity), so someone else's close-all stop still lists
    /// and reconciliation can cancel it instead of failing the whole snapshot.
    static func orderQuantity(_ json: JSONValue, _ key: String) -> Quantity? {
        if let quantity = positive(json, key, as: Quantity.self) { return quantity }
        guard bool(json, "closePosition") == true else { return nil }
        return nonNegative(json, key, as: Quantity.self)
    }

    /// A regular order (`POST/GET/DELETE /fapi/v1/order`, `openOrders`): `clientOrderId`,
    /// `orderId`, `status`, `side`, `type`/`origType`, `origQty`, `executedQty`, `avgPrice`,
    /// `stopPrice`, `reduceOnly`, `updateTime`.
    static func order(_ json: JSONValue) -> VenueOrder? {
        guard let clientID = identifier(json, "clientOrderId"), let orderID = identifier(json, "orderId"),
            let status = status(text(json, "status")), let side = side(text(json, "side")),
            let quantity = orderQuantity(json, "origQty"),
            let filled = nonNegative(json, "executedQty", as: Quantity.self), filled <= quantity
        else { return nil }
        let type = text(json, "origType") ?? text(json, "type")
        return VenueOrder(
            clientID: clientID, venueOrderID: orderID, kind: kind(type), side: side, status: status, quantity: quantity,
            filledQuantity: filled, averagePrice: positive(json, "avgPrice"), triggerPrice: positive(json, "stopPrice"),
            reduceOnly: bool(json, "reduceOnly") ?? false,
            updatedAt: Timestamp(milliseconds: int64(json, "updateTime") ?? int64(json, "time") ?? 0))
    }

    /// An algo order's status before its actual order is consulted (Binance USD-M "Event: Algo
    /// Order Update", Algo Status): NEW and TRIGGERING wait for the trigger; TRIGGERED is working
    /// in the matching engine; FINISHED filled or was cancelled there (`aq`/executed quantity
    /// tells which); CANCELED, EXPIRED, REJECTED are final.
    enum AlgoState: Equatable {
        case resting
        case triggered
        case finished
        case final(OrderStatus)
    }

    static func algoState(_ text: String?) -> AlgoState? {
        switch text {
        case "NEW", "TRIGGERING": return .resting
        case "TRIGGERED": return .triggered
        case "FINISHED": return .finished
        case "CANCELED": return .final(.cancelled)
        case "EXPIRED": return .final(.expired)
        case "REJECTED": return .final(.rejected)
        default: return nil
        }
    }

    /// An algo order (`POST/GET /fapi/v1/algoOrder`, `openAlgoOrders`; Binance USD-M "Query Algo
    /// Order"): `clientAlgoId`, `algoId`, `orderType`, `side`, `quantity`, `algoStatus`,
    /// `actualOrderId`, `triggerPrice`, `reduceOnly`, `updateTime`. A triggered order's fill
    /// state lives on its actual order: `nil` state here means "ask `actualOrderId`".
    static func algoOrder(_ json: JSONValue) -> (order: VenueOrder, state: AlgoState)? {
        guard let clientID = identifier(json, "clientAlgoId"), let algoID = identifier(json, "algoId"),
            let state = algoState(text(json, "algoStatus")), let side = side(text(json, "side")),
            let quantity = orderQuantity(json, "quantity")
        else { return nil }
        let actual = identifier(json, "actualOrderId").flatMap { $0 == "0" ? nil : $0 }
        let status: OrderStatus
        switch state {
        case .resting, .triggered, .finished: status = .accepted
        case .final(let final): status = final
        }
        let order = VenueOrder(
            clientID: clientID, venueOrderID: algoID, kind: kind(text(json, "orderType")), side: side, status: status,
            quantity: quantity, filledQuantity: .zero, averagePrice: nil, triggerPrice: positive(json, "triggerPrice"),
            reduceOnly: bool(json, "reduceOnly") ?? false,
            updatedAt: Timestamp(milliseconds: int64(json, "updateTime") ?? int64(json, "createTime") ?? 0),
            triggeredOrderID: actual)
        return (order, state)
    }

    /// A triggered algo order seen through its actual order: the client id, kind, trigger and
    /// venue id stay the algo order's; status, fills and average price are the actual order's.
    static func merge(algo: VenueOrder, actual: VenueOrder) -> VenueOrder? {
        guard actual.filledQuantity <= algo.quantity else { return nil }
        var merged = algo
        merged.status = actual.status
        merged.filledQuantity = actual.filledQuantity
        merged.averagePrice = actual.averagePrice
        merged.updatedAt = max(algo.updatedAt, actual.updatedAt)
        merged.triggeredOrderID = actual.venueOrderID
        return merged
    }

    // MARK: Account

    /// `GET /fapi/v3/positionRisk?symbol=` (Binance USD-M "Position Information V3"): the
    /// one-way row (`positionSide` BOTH, or absent) for `symbol`. No row at all is flat: the
    /// V3 endpoint lists only symbols with a position or open orders. A row that does not read
    /// is `nil` (never flat).
    static func position(_ json: JSONValue, symbol: String) -> VenuePosition? {
        guard let rows = json.arrayValue else { return nil }
        var found: VenuePosition?
        for row in rows where text(row, "symbol") == symbol {
            let side = text(row, "positionSide") ?? "BOTH"
            guard side == "BOTH" else { continue }
            guard let amount = decimal(row, "positionAmt", as: Quantity.self) else { return nil }
            let leverage = int64(row, "leverage").flatMap { (1...1000).contains($0) ? Int($0) : nil }
            found = VenuePosition(
                quantity: amount, entryPrice: positive(row, "entryPrice"), markPrice: positive(row, "markPrice"),
                liquidationPrice: positive(row, "liquidationPrice"),
                isolatedMargin: nonNegative(row, "isolatedMargin", as: Notional.self), leverage: leverage)
        }
        return found ?? VenuePosition(quantity: .zero)
    }

    /// `GET /fapi/v3/balance` (Binance USD-M "Futures Account Balance V3"): the USDT row's
    /// `balance` and `availableBalance`.
    static func balance(_ json: JSONValue, asset: String = "USDT") -> VenueBalance? {
        guard let rows = json.arrayValue, let row = rows.first(where: { text($0, "asset") == asset }),
            let wallet = decimal(row, "balance", as: Notional.self),
            let available = decimal(row, "availableBalance", as: Notional.self)
        else { return nil }
        return VenueBalance(wallet: wallet, available: available)
    }

    /// One row of `GET /fapi/v1/userTrades` (Binance USD-M "Account Trade List"): `id`,
    /// `orderId`, `side`, `qty`, `price`, `commission`, `realizedPnl`, `time`.
    static func trade(_ json: JSONValue) -> VenueFill? {
        guard let id = identifier(json, "id"), let orderID = identifier(json, "orderId"), let side = side(text(json, "side")),
            let quantity = positive(json, "qty", as: Quantity.self), let price = positive(json, "price", as: Price.self),
            let fee = decimal(json, "commission", as: Notional.self), let pnl = decimal(json, "realizedPnl", as: Notional.self),
            let time = int64(json, "time")
        else { return nil }
        return VenueFill(
            tradeID: id, venueOrderID: orderID, clientID: nil, side: side, quantity: quantity, price: price, fee: fee,
            realizedPnL: pnl, time: Timestamp(milliseconds: time))
    }

    // MARK: Rules

    /// What was wrong with an answer, in words.
    struct Problem: Error, Equatable {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// `GET /fapi/v1/exchangeInfo` (Binance USD-M "Exchange Information", filters
    /// `PRICE_FILTER.tickSize`, `LOT_SIZE.stepSize`, `MARKET_LOT_SIZE.stepSize`/`maxQty`,
    /// `MIN_NOTIONAL.notional`). The lot is the larger of the two steps, so a quantity that is
    /// a multiple of it passes both filters (the steps are powers of ten on USD-M).
    static func rules(_ json: JSONValue, symbol: String) -> Result<MarketRules, Problem> {
        guard let symbols = json["symbols"]?.arrayValue else { return .failure(Problem("no \"symbols\" array")) }
        guard let entry = symbols.first(where: { text($0, "symbol") == symbol }) else {
            return .failure(Problem("\(symbol) is not listed"))
        }
        guard let filters = entry["filters"]?.arrayValue else { return .failure(Problem("\(symbol) has no \"filters\" array")) }
        func filter(_ type: String) -> JSONValue? { filters.first(where: { text($0, "filterType") == type }) }
        guard let tick = filter("PRICE_FILTER").flatMap({ positive($0, "tickSize", as: Price.self) }) else {
            return .failure(Problem("\(symbol) has no positive PRICE_FILTER.tickSize"))
        }
        guard let step = filter("LOT_SIZE").flatMap({ positive($0, "stepSize", as: Quantity.self) }) else {
            return .failure(Problem("\(symbol) has no positive LOT_SIZE.stepSize"))
        }
        let marketLot = filter("MARKET_LOT_SIZE")
        let marketStep = marketLot.flatMap { positive($0, "stepSize", as: Quantity.self) } ?? step
        guard
            let maxQuantity = marketLot.flatMap({ positive($0, "maxQty", as: Quantity.self) })
                ?? filter("LOT_SIZE").flatMap({ positive($0, "maxQty", as: Quantity.self) })
        else { return .failure(Problem("\(symbol) has no positive MARKET_LOT_SIZE.maxQty")) }
        guard let minNotional = filter("MIN_NOTIONAL").flatMap({ nonNegative($0, "notional", as: Notional.self) }) else {
            return .failure(Problem("\(symbol) has no MIN_NOTIONAL.notional"))
        }
        return .success(
            MarketRules(
                symbol: symbol, tickSize: tick, lotSize: max(step, marketStep), maxMarketQuantity: maxQuantity,
                minNotional: minNotional))
    }

    // MARK: Stream events

    /// What one user data stream message means.
    enum StreamMessage: Equatable {
        case events([VenueEvent])
        /// `listenKeyExpired`: get a new key and reconnect.
        case listenKeyExpired
        /// A message of a type we do not use (`ACCOUNT_CONFIG_UPDATE`, `MARGIN_CALL`, another symbol).
        case ignored
        /// A message we should understand but cannot read: skipped, with the reason logged.
        case malformed(String)
    }

    /// Parses one stream message for `symbol` (Binance USD-M user data stream: "Event: Order
    /// Update", "Event: Algo Order Update", "Event: Balance and Position Update").
    static func streamMessage(_ json: JSONValue, symbol: String) -> StreamMessage {
        switch text(json, "e") {
        case "ORDER_TRADE_UPDATE": return orderTradeUpdate(json, symbol: symbol)
        case "ALGO_UPDATE": return algoUpdate(json, symbol: symbol)
        case "ACCOUNT_UPDATE": return accountUpdate(json, symbol: symbol)
        case "listenKeyExpired": return .listenKeyExpired
        case nil: return .malformed("no event type \"e\"")
        default: return .ignored
        }
    }

    /// `ORDER_TRADE_UPDATE`: `o.c` client id, `o.i` order id, `o.X` status, `o.x` execution
    /// type, `o.q` quantity, `o.z` cumulative filled, `o.ap` average price, `o.sp` stop price,
    /// `o.R` reduce-only, `o.S` side, `o.o`/`o.ot` type, `T` time; and when `x == TRADE` the
    /// fill: `o.t` trade id, `o.l` last quantity, `o.L` last price, `o.n` commission, `o.rp`
    /// realised profit.
    static func orderTradeUpdate(_ json: JSONValue, symbol: String) -> StreamMessage {
        guard let o = json["o"] else { return .malformed("ORDER_TRADE_UPDATE without \"o\"") }
        guard let eventSymbol = text(o, "s") else { return .malformed("ORDER_TRADE_UPDATE without o.s") }
        guard eventSymbol == symbol else { return .ignored }
        guard let clientID = identifier(o, "c"), let orderID = identifier(o, "i"), let status = status(text(o, "X")),
            let side = side(text(o, "S")), let quantity = positive(o, "q", as: Quantity.self),
            let cumulative = nonNegative(o, "z", as: Quantity.self), cumulative <= quantity, let time = int64(json, "T")
        else { return .malformed("ORDER_TRADE_UPDATE with a missing or unreadable order field") }
        let order = VenueOrder(
            clientID: clientID, venueOrderID: orderID, kind: kind(text(o, "ot") ?? text(o, "o")), side: side, status: status,
            quantity: quantity, filledQuantity: cumulative, averagePrice: positive(o, "ap"), triggerPrice: positive(o, "sp"),
            reduceOnly: bool(o, "R") ?? false, updatedAt: Timestamp(milliseconds: time))
        guard text(o, "x") == "TRADE" else { return .events([.order(order)]) }
        guard let tradeID = identifier(o, "t"), tradeID != "0", let last = positive(o, "l", as: Quantity.self),
            let price = positive(o, "L", as: Price.self), let fee = decimal(o, "n", as: Notional.self),
            let realized = decimal(o, "rp", as: Notional.self)
        else { return .malformed("ORDER_TRADE_UPDATE TRADE with a missing or unreadable fill field") }
        let fill = VenueFill(
            tradeID: tradeID, venueOrderID: orderID, clientID: clientID, side: side, quantity: last, price: price, fee: fee,
            realizedPnL: realized, time: Timestamp(milliseconds: time))
        return .events([.order(order), .fill(fill)])
    }

    /// `ALGO_UPDATE` (Binance USD-M "Event: Algo Order Update"): `o.caid` client algo id,
    /// `o.aid` algo id, `o.o` order type, `o.s` symbol, `o.S` side, `o.q` quantity, `o.X` algo
    /// status, `o.ai` actual order id, `o.ap`/`o.aq` average price and executed quantity in the
    /// matching engine; `o.tp` (trigger price) and `o.R` (reduce-only) are read when present
    /// (not confirmed in the stored docs excerpt).
    static func algoUpdate(_ json: JSONValue, symbol: String) -> StreamMessage {
        guard let o = json["o"] else { return .malformed("ALGO_UPDATE without \"o\"") }
        guard let eventSymbol = text(o, "s") else { return .malformed("ALGO_UPDATE without o.s") }
        guard eventSymbol == symbol else { return .ignored }
        guard let clientID = identifier(o, "caid"), let algoID = identifier(o, "aid"), let state = algoState(text(o, "X")),
            let side = side(text(o, "S")), let quantity = positive(o, "q", as: Quantity.self), let time = int64(json, "T")
        else { return .malformed("ALGO_UPDATE with a missing or unreadable field") }
        let executed = nonNegative(o, "aq", as: Quantity.self) ?? .zero
        guard executed <= quantity else { return .malformed("ALGO_UPDATE with executed quantity above its quantity") }
        let status: OrderStatus
        switch state {
        case .resting: status = .accepted
        case .triggered: status = executed.isPositive ? .partiallyFilled : .accepted
        case .finished: status = executed == quantity ? .filled : .cancelled
        case .final(let final): status = final
        }
        let order = VenueOrder(
            clientID: clientID, venueOrderID: algoID, kind: kind(text(o, "o")), side: side, status: status, quantity: quantity,
            filledQuantity: executed, averagePrice: positive(o, "ap"), triggerPrice: positive(o, "tp"),
            reduceOnly: bool(o, "R") ?? false, updatedAt: Timestamp(milliseconds: time),
            triggeredOrderID: identifier(o, "ai").flatMap { $0 == "0" ? nil : $0 })
        return .events([.order(order)])
    }

    /// `ACCOUNT_UPDATE` (Binance USD-M "Event: Balance and Position Update"): `a.B[]` (`a`
    /// asset, `wb` wallet balance, `cw` cross wallet balance) and `a.P[]` (`s`, `pa` amount, `ep`
    /// entry price, `iw` isolated wallet, `ps` position side). The event has no available
    /// balance: `available` is `cw`, the nearest field it carries; the snapshot's
    /// `availableBalance` is authoritative.
    static func accountUpdate(_ json: JSONValue, symbol: String) -> StreamMessage {
        guard let a = json["a"] else { return .malformed("ACCOUNT_UPDATE without \"a\"") }
        var events: [VenueEvent] = []
        for row in a["B"]?.arrayValue ?? [] where text(row, "a") == "USDT" {
            guard let wallet = decimal(row, "wb", as: Notional.self) else { return .malformed("ACCOUNT_UPDATE balance without wb") }
            events.append(.balance(VenueBalance(wallet: wallet, available: decimal(row, "cw", as: Notional.self) ?? wallet)))
        }
        for row in a["P"]?.arrayValue ?? [] where text(row, "s") == symbol && (text(row, "ps") ?? "BOTH") == "BOTH" {
            guard let amount = decimal(row, "pa", as: Quantity.self) else {
                return .malformed("ACCOUNT_UPDATE position without a readable pa")
            }
            events.append(
                .position(
                    VenuePosition(
                        quantity: amount, entryPrice: positive(row, "ep"),
                        isolatedMargin: nonNegative(row, "iw", as: Notional.self))))
        }
        return events.isEmpty ? .ignored : .events(events)
    }
}
