// The Binance USD-M twin's wire shapes, written by hand (no Foundation encoder, exact decimals).
// Field names follow Binance's USD-M REST and user-data-stream pages as the shared fixtures show
// them (shared/data/api/binance_usdm/docex_*.json) and, for the Algo Service, Binance's "New Algo
// Order" and "Event: Algo Order Update" pages plus nautilus_trader's `BinanceFuturesAlgoOrder`
// (algoId, clientAlgoId, algoType, orderType, symbol, side, positionSide, timeInForce, quantity,
// algoStatus, triggerPrice, price, workingType, closePosition, priceProtect, reduceOnly,
// createTime, updateTime, triggerTime, actualOrderId, executedQty, avgPrice). Guessed: that
// `GET /fapi/v1/algoOrder` answers the same object as the placement, and the cancel answer
// `{"algoId","clientAlgoId","code":"200","msg":"success"}`.

import PerpModel

enum TwinJSON {
    static let symbol = "NMRUSDT"

    /// A JSON string literal (quotes, backslashes and control characters escaped).
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func side(_ side: Side) -> String { side == .long ? "BUY" : "SELL" }

    /// A decimal as Binance writes it: a JSON string.
    static func decimal<Value: FixedPointValue>(_ value: Value) -> String { "\"\(value)\"" }

    // MARK: Orders

    static func order(_ order: TwinOrder) -> String {
        """
        {"orderId":\(order.orderID),"symbol":"\(symbol)","status":"\(order.status)",\
        "clientOrderId":\(string(order.clientOrderID)),"price":"0","avgPrice":\(decimal(order.averagePrice)),\
        "origQty":\(decimal(order.quantity)),"executedQty":\(decimal(order.executedQuantity)),\
        "cumQty":\(decimal(order.executedQuantity)),"cumQuote":\(decimal(order.cumulativeQuote)),\
        "timeInForce":"GTC","type":"\(order.type)","reduceOnly":\(order.reduceOnly),"closePosition":false,\
        "side":"\(side(order.side))","positionSide":"BOTH","stopPrice":"0","workingType":"CONTRACT_PRICE",\
        "priceProtect":false,"origType":"\(order.origType)","priceMatch":"NONE",\
        "selfTradePreventionMode":"EXPIRE_MAKER","goodTillDate":0,"time":\(order.time),\
        "updateTime":\(order.updateTime)}
        """
    }

    static func algoOrder(_ algo: TwinAlgoOrder) -> String {
        let actual = algo.actualOrderID.map { "\"\($0)\"" } ?? "\"\""
        return """
            {"algoId":\(algo.algoID),"clientAlgoId":\(string(algo.clientAlgoID)),"algoType":"CONDITIONAL",\
            "orderType":"\(algo.type)","symbol":"\(symbol)","side":"\(side(algo.side))","positionSide":"BOTH",\
            "timeInForce":"GTC","quantity":\(decimal(algo.quantity)),"algoStatus":"\(algo.status)",\
            "triggerPrice":\(decimal(algo.triggerPrice)),"price":"0","icebergQuantity":null,\
            "selfTradePreventionMode":"EXPIRE_MAKER","workingType":"CONTRACT_PRICE","priceMatch":"NONE",\
            "closePosition":\(algo.closePosition),"priceProtect":false,"reduceOnly":\(algo.reduceOnly),\
            "activatePrice":"","callbackRate":"","createTime":\(algo.createTime),"updateTime":\(algo.updateTime),\
            "triggerTime":\(algo.triggerTime),"goodTillDate":0,"actualOrderId":\(actual),\
            "executedQty":\(decimal(algo.executedQuantity)),"avgPrice":\(decimal(algo.averagePrice))}
            """
    }

    static func trade(_ trade: TwinTrade) -> String {
        """
        {"buyer":\(trade.side == .long),"commission":\(decimal(trade.commission)),"commissionAsset":"USDT",\
        "id":\(trade.id),"maker":false,"orderId":\(trade.orderID),"price":\(decimal(trade.price)),\
        "qty":\(decimal(trade.quantity)),"quoteQty":\(decimal(trade.quote)),\
        "realizedPnl":\(decimal(trade.realizedPnL)),"side":"\(side(trade.side))","positionSide":"BOTH",\
        "symbol":"\(symbol)","time":\(trade.time)}
        """
    }

    // MARK: Account

    static func position(_ book: TwinBook) -> String {
        let held = book.position.quantity
        let mark = book.price
        let unrealized = (mark - book.position.entryPrice).times(held.magnitude)
        let signedUnrealized = held.isNegative ? -unrealized : unrealized
        let notional = mark.times(held.magnitude)
        return """
            {"symbol":"\(symbol)","positionSide":"BOTH","positionAmt":\(decimal(held)),\
            "entryPrice":\(decimal(book.position.entryPrice)),"breakEvenPrice":\(decimal(book.position.entryPrice)),\
            "markPrice":\(decimal(mark)),"unRealizedProfit":\(decimal(signedUnrealized)),"liquidationPrice":"0",\
            "isolatedMargin":\(decimal(book.marginType == "ISOLATED" && !held.isZero ? book.isolatedWallet + signedUnrealized : .zero)),\
            "notional":\(decimal(held.isNegative ? -notional : notional)),\
            "marginAsset":"USDT","isolatedWallet":\(decimal(book.isolatedWallet)),"initialMargin":"0","maintMargin":"0",\
            "positionInitialMargin":"0","openOrderInitialMargin":"0","adl":0,"bidNotional":"0",\
            "askNotional":"0","updateTime":\(book.now)}
            """
    }

    static func balance(_ book: TwinBook) -> String {
        """
        [{"accountAlias":"twin","asset":"USDT","balance":\(decimal(book.wallet)),\
        "crossWalletBalance":\(decimal(book.wallet - book.isolatedWallet)),"crossUnPnl":"0",\
        "availableBalance":\(decimal(book.wallet - book.isolatedWallet)),\
        "maxWithdrawAmount":\(decimal(book.wallet)),"marginAvailable":true,"updateTime":\(book.now)}]
        """
    }

    // MARK: User data stream events

    /// `ORDER_TRADE_UPDATE` with the documented `o` object (`s c S o X x i l z L ap n N t rp R sp T`
    /// and the rest); `trade` nil for the NEW / CANCELED / EXPIRED executions.
    static func orderTradeUpdate(_ order: TwinOrder, trade: TwinTrade?, time: Int64) -> String {
        let execution = trade != nil ? "TRADE" : (order.status == "NEW" ? "NEW" : order.status)
        return """
            {"e":"ORDER_TRADE_UPDATE","E":\(time),"T":\(time),"o":{"s":"\(symbol)",\
            "c":\(string(order.clientOrderID)),"S":"\(side(order.side))","o":"\(order.type)","f":"GTC",\
            "q":\(decimal(order.quantity)),"p":"0","ap":\(decimal(order.averagePrice)),"sp":"0",\
            "x":"\(execution)","X":"\(order.status)","i":\(order.orderID),\
            "l":\(decimal(trade?.quantity ?? .zero)),"z":\(decimal(order.executedQuantity)),\
            "L":\(decimal(trade?.price ?? .zero)),"n":\(decimal(trade?.commission ?? .zero)),"N":"USDT",\
            "T":\(time),"t":\(trade?.id ?? 0),"b":"0","a":"0","m":false,"R":\(order.reduceOnly),\
            "wt":"CONTRACT_PRICE","ot":"\(order.origType)","ps":"BOTH","cp":false,\
            "rp":\(decimal(trade?.realizedPnL ?? .zero)),"pP":false,"si":0,"ss":0,"V":"EXPIRE_MAKER",\
            "pm":"NONE","gtd":0}}
            """
    }

    /// `ALGO_UPDATE` (Binance "Event: Algo Order Update": caid aid at o s S ps f q X ai ap aq act
    /// tp p V wt pm cp pP R tt gtd rm).
    static func algoUpdate(_ algo: TwinAlgoOrder, time: Int64) -> String {
        let actual = algo.actualOrderID.map(String.init) ?? ""
        return """
            {"e":"ALGO_UPDATE","T":\(time),"E":\(time),"o":{"caid":\(string(algo.clientAlgoID)),\
            "aid":\(algo.algoID),"at":"CONDITIONAL","o":"\(algo.type)","s":"\(symbol)","S":"\(side(algo.side))",\
            "ps":"BOTH","f":"GTC","q":\(decimal(algo.quantity)),"X":"\(algo.status)","ai":"\(actual)",\
            "ap":\(decimal(algo.averagePrice)),"aq":\(decimal(algo.executedQuantity)),\
            "act":"\(algo.actualOrderID == nil ? "0" : "MARKET")","tp":\(decimal(algo.triggerPrice)),"p":"0",\
            "V":"EXPIRE_MAKER","wt":"CONTRACT_PRICE","pm":"NONE","cp":\(algo.closePosition),"pP":false,\
            "R":\(algo.reduceOnly),"tt":\(algo.triggerTime),"gtd":0,"rm":\(string(algo.rejectReason))}}
            """
    }

    /// `ACCOUNT_UPDATE` with the wallet and the one position.
    static func accountUpdate(_ book: TwinBook, reason: String, time: Int64) -> String {
        let held = book.position.quantity
        let unrealized = (book.price - book.position.entryPrice).times(held.magnitude)
        return """
            {"e":"ACCOUNT_UPDATE","E":\(time),"T":\(time),"a":{"m":"\(reason)",\
            "B":[{"a":"USDT","wb":\(decimal(book.wallet)),"cw":\(decimal(book.wallet)),"bc":"0"}],\
            "P":[{"s":"\(symbol)","pa":\(decimal(held)),"ep":\(decimal(book.position.entryPrice)),\
            "bep":\(decimal(book.position.entryPrice)),"cr":\(decimal(book.position.realizedPnL)),\
            "up":\(decimal(held.isNegative ? -unrealized : unrealized)),"mt":"cross","iw":"0","ps":"BOTH"}]}}
            """
    }
}
