import Crypto
import PerpExecution
import PerpModel

/// Lighter's `client_order_index` for one of our client ids (lighter-live.md §4.3: an integer
/// 1 … 2⁴⁸ − 1, unique across all markets of the account; a duplicate is refused with 21728).
///
/// Our ids (`np-<tag>-<sequence><letter>`, ``ClientOrderID``) are text; Lighter's are integers.
/// The index is the first six bytes of SHA-256 of the id's UTF-8, big-endian (0 becomes 1): a
/// pure function of the id, so a resend after a crash carries the same index and the venue
/// refuses a second order with it (Hummingbot derives its indices the same way). It cannot be
/// inverted: ``LighterTrader`` keeps a table of the ids it has been told about
/// (``ExecutionVenue/track(clientIDs:)``) to name the venue's orders back.
public enum LighterClientOrderIndex {
    public static let maximum: Int64 = (1 << 48) - 1

    public static func make(_ clientID: String) -> Int64 {
        let digest = SHA256.hash(data: Array(clientID.utf8))
        var value: Int64 = 0
        for byte in digest.prefix(6) { value = value << 8 | Int64(byte) }
        return value == 0 ? 1 : value
    }
}

/// Lighter's JSON, read into the execution layer's types (lighter-live.md §5.1: `account`,
/// `accountActiveOrders`, `accountOrders`, `trades`, `nextNonce`). Every reader returns `nil` on
/// a shape it does not know, never traps; amounts are decimal strings read exactly.
public enum LighterWire {
    static func decimal<Value: FixedPointValue>(_ json: JSONValue?, as type: Value.Type) -> Value? {
        json?.numericText.flatMap { Value($0) }
    }

    /// `GET /api/v1/nextNonce` → `{code: 200, nonce}`.
    public static func nextNonce(_ json: JSONValue) -> Int64? {
        guard let nonce = json["nonce"]?.int64Value, nonce >= 0 else { return nil }
        if let code = json["code"]?.int64Value, code != 200 { return nil }
        return nonce
    }

    /// The order's kind from Lighter's `type` (0 limit, 1 market, 2 stop-loss, 4 take-profit;
    /// the API also writes them as words).
    static func kind(_ json: JSONValue?) -> OrderKind? {
        if let number = json?.int64Value {
            switch number {
            case 0, 1: return .market
            case 2, 3: return .stopMarket
            case 4, 5: return .takeProfitMarket
            default: return nil
            }
        }
        switch json?.stringValue?.lowercased() {
        case "limit", "market": return .market
        case "stop-loss", "stop_loss", "stop-loss-limit", "stop_loss_limit": return .stopMarket
        case "take-profit", "take_profit", "take-profit-limit", "take_profit_limit": return .takeProfitMarket
        default: return nil
        }
    }

    /// Lighter's order `status` (`in-progress`, `pending`, `open`, `filled`, `canceled`,
    /// `canceled-<reason>`; lighter-live.md §5.1) with the fill so far.
    static func status(_ text: String, filled: Quantity) -> OrderStatus? {
        switch text.lowercased() {
        case "in-progress", "pending", "open": return filled.isPositive ? .partiallyFilled : .accepted
        case "filled": return .filled
        case "canceled-expired": return .expired
        case "canceled", "cancelled": return .cancelled
        default:
            guard text.lowercased().hasPrefix("canceled-") else { return nil }
            // A cancel by the venue's checks (post-only, reduce-only, margin, slippage, …): the
            // order never traded beyond what it filled; a zero fill is a refusal.
            return filled.isPositive ? .cancelled : .rejected
        }
    }

    /// One `Order` of `accountActiveOrders` / `accountOrders` / the account stream. `clientID`
    /// names it (the caller maps `client_order_index` back to our id).
    public static func order(_ json: JSONValue, clientID: String, scale: LighterScale) -> VenueOrder? {
        guard json["market_index"]?.int64Value.map({ $0 == scale.market }) ?? true else { return nil }
        guard let orderIndex = json["order_index"]?.int64Value ?? json["order_id"]?.numericText.flatMap({ Int64($0) }),
            let kind = kind(json["type"]),
            let statusText = json["status"]?.stringValue
        else { return nil }
        let isAsk: Bool
        if let flag = json["is_ask"] {
            switch flag {
            case .bool(let value): isAsk = value
            default:
                guard let number = flag.int64Value, number == 0 || number == 1 else { return nil }
                isAsk = number == 1
            }
        } else {
            guard let side = json["side"]?.stringValue?.lowercased(), side == "sell" || side == "buy" else { return nil }
            isAsk = side == "sell"
        }
        guard let initial = decimal(json["initial_base_amount"], as: Quantity.self),
            let filled = decimal(json["filled_base_amount"], as: Quantity.self) ?? Optional(.zero),
            !initial.isNegative, !filled.isNegative, let status = status(statusText, filled: filled)
        else { return nil }
        let filledQuote = decimal(json["filled_quote_amount"], as: Notional.self)
        var average: Price?
        if filled.isPositive, let quote = filledQuote, quote.isPositive {
            average = FixedMath.mulDivReportingOverflow(
                quote.raw, FixedMath.pow10[Price.decimals], filled.raw, .toNearestOrAwayFromZero
            ).flatMap { $0 > 0 ? Price(raw: $0) : nil }
        }
        let trigger = decimal(json["trigger_price"], as: Price.self).flatMap { $0.isPositive ? $0 : nil }
        let reduceOnly: Bool
        switch json["reduce_only"] {
        case .bool(let value)?: reduceOnly = value
        case let other?: reduceOnly = other.int64Value == 1
        case nil: reduceOnly = false
        }
        let updated = json["updated_at"]?.int64Value ?? json["timestamp"]?.int64Value ?? 0
        return VenueOrder(
            clientID: clientID, venueOrderID: String(orderIndex), kind: kind, side: isAsk ? .short : .long, status: status,
            quantity: initial, filledQuantity: filled, averagePrice: average, triggerPrice: trigger, reduceOnly: reduceOnly,
            updatedAt: Timestamp(milliseconds: normalizedMillis(updated)))
    }

    /// Lighter writes times in seconds in some answers and milliseconds in others: anything
    /// below 10¹¹ is read as seconds.
    static func normalizedMillis(_ value: Int64) -> Int64 {
        guard value > 0 else { return 0 }
        if value < 100_000_000_000 { return value.multipliedReportingOverflow(by: 1000).overflow ? 0 : value * 1000 }
        return value
    }

    /// One `Trade` of `GET /api/v1/trades` (lighter-live.md §5.1) seen from `account`: our side
    /// is the side whose account id is ours; the fee is ours as maker or taker. `clientID` maps
    /// our side's client order index back to our id.
    public static func trade(_ json: JSONValue, account: Int64, scale: LighterScale, clientID: (Int64) -> String?) -> VenueFill? {
        guard json["market_id"]?.int64Value.map({ $0 == scale.market }) ?? true,
            let tradeID = json["trade_id"]?.numericText, !tradeID.isEmpty,
            let size = decimal(json["size"], as: Quantity.self), size.isPositive,
            let price = decimal(json["price"], as: Price.self), price.isPositive,
            let time = json["timestamp"]?.int64Value
        else { return nil }
        let askAccount = json["ask_account_id"]?.int64Value
        let bidAccount = json["bid_account_id"]?.int64Value
        let side: Side
        let orderID: String?
        let clientIndex: Int64?
        if askAccount == account {
            side = .short
            orderID = json["ask_id"]?.numericText
            clientIndex = json["ask_client_id"]?.int64Value
        } else if bidAccount == account {
            side = .long
            orderID = json["bid_id"]?.numericText
            clientIndex = json["bid_client_id"]?.int64Value
        } else {
            return nil
        }
        guard let orderID else { return nil }
        // is_maker_ask: the ask side was the maker.
        let makerAsk: Bool
        switch json["is_maker_ask"] {
        case .bool(let value)?: makerAsk = value
        case let other?: makerAsk = other.int64Value == 1
        case nil: makerAsk = false
        }
        let weAreMaker = (side == .short) == makerAsk
        let fee =
            decimal(weAreMaker ? json["maker_fee"] : json["taker_fee"], as: Notional.self).flatMap { $0.isNegative ? nil : $0 }
            ?? .zero
        return VenueFill(
            tradeID: tradeID, venueOrderID: orderID, clientID: clientIndex.flatMap(clientID), side: side, quantity: size,
            price: price, fee: fee, realizedPnL: .zero, time: Timestamp(milliseconds: normalizedMillis(time)))
    }

    /// The account's row of `GET /api/v1/account?by=index&value=` (`accounts[0]`).
    public static func account(_ json: JSONValue, index: Int64) -> JSONValue? {
        guard let rows = json["accounts"]?.arrayValue else { return nil }
        return rows.first { $0["account_index"]?.int64Value == index || $0["index"]?.int64Value == index }
    }

    /// The account's position in `scale.market` (`positions[]`: `sign` 1 long / −1 short,
    /// `position` unsigned, `avg_entry_price`, `liquidation_price` "0" when not at risk,
    /// `margin_mode` 1 isolated with `allocated_margin`; the isolated margin reported is
    /// `allocated_margin + unrealized_pnl`, the position's equity). No row is an explicit flat: the
    /// account answered and holds nothing there.
    public static func position(_ account: JSONValue, scale: LighterScale) -> VenuePosition? {
        guard let rows = account["positions"]?.arrayValue else { return nil }
        guard let row = rows.first(where: { $0["market_id"]?.int64Value == scale.market }) else {
            return VenuePosition(quantity: .zero)
        }
        guard let size = decimal(row["position"], as: Quantity.self), !size.isNegative else { return nil }
        let sign = row["sign"]?.int64Value ?? 0
        guard sign == 1 || sign == -1 || size.isZero else { return nil }
        let signed = sign == -1 ? Quantity(raw: -size.raw) : size
        let entry = decimal(row["avg_entry_price"], as: Price.self).flatMap { $0.isPositive ? $0 : nil }
        let liquidation = decimal(row["liquidation_price"], as: Price.self).flatMap { $0.isPositive ? $0 : nil }
        let isolated = row["margin_mode"]?.int64Value == 1
        // The position's collateral as the hedge counts it (seed 003: the balance "PnL and
        // funding included"): the allocated margin plus the unrealised P&L.
        var margin: Notional?
        if isolated, let allocated = decimal(row["allocated_margin"], as: Notional.self) {
            let unrealized = decimal(row["unrealized_pnl"], as: Notional.self) ?? .zero
            margin = (try? allocated.adding(unrealized, "isolated equity")) ?? allocated
        }
        // initial_margin_fraction as a percentage string ("33.33" is 3×).
        var leverage: Int?
        if let percent = decimal(row["initial_margin_fraction"], as: Rate.self), percent.isPositive {
            let whole = FixedMath.mulDivReportingOverflow(100, FixedMath.pow10[Rate.decimals], percent.raw, .down) ?? 0
            leverage = (1...1000).contains(whole) ? Int(whole) : nil
        }
        var mark: Price?
        if size.isPositive, let value = decimal(row["position_value"], as: Notional.self), value.isPositive {
            mark = FixedMath.mulDivReportingOverflow(value.raw, FixedMath.pow10[Price.decimals], size.raw, .toNearestOrAwayFromZero)
                .flatMap { $0 > 0 ? Price(raw: $0) : nil }
        }
        return VenuePosition(
            quantity: signed, entryPrice: entry, markPrice: mark, liquidationPrice: liquidation, isolatedMargin: margin,
            leverage: leverage)
    }

    /// `total_funding_paid_out` of the market's position row (positive: paid), when present.
    public static func fundingPaid(_ account: JSONValue, scale: LighterScale) -> Notional? {
        guard let row = account["positions"]?.arrayValue?.first(where: { $0["market_id"]?.int64Value == scale.market }) else {
            return nil
        }
        return decimal(row["total_funding_paid_out"], as: Notional.self)
    }

    /// The account's USDC: `collateral` (wallet) and `available_balance`.
    public static func balance(_ account: JSONValue) -> VenueBalance? {
        guard let wallet = decimal(account["collateral"], as: Notional.self),
            let available = decimal(account["available_balance"], as: Notional.self)
        else { return nil }
        return VenueBalance(wallet: wallet, available: available)
    }
}

/// A Lighter public pool as its account reports it (`GET /api/v1/account?by=index&value=POOL`:
/// `total_asset_value` and `pool_info {status, operator_fee, min_operator_share_rate,
/// total_shares, operator_shares, annual_percentage_yield, share_prices[]}`; lighter-live.md §6).
public struct LighterPoolInfo: Sendable, Equatable {
    public var account: Int64
    /// 0 active, 1 frozen.
    public var status: Int64
    /// `total_asset_value`: the pool's NAV in USDC.
    public var nav: Notional
    public var totalShares: Int64
    public var operatorShares: Int64
    /// As the API prints them (their scales are not documented; the signer takes the fee out of
    /// 1,000,000 and the minimum share out of 10,000).
    public var operatorFeeText: String
    public var minOperatorShareText: String
    /// The last `share_prices` entry (time ms, price), when any.
    public var lastSharePrice: (time: Int64, price: Price)?
    public var annualYieldText: String?

    public static func == (lhs: LighterPoolInfo, rhs: LighterPoolInfo) -> Bool {
        lhs.account == rhs.account && lhs.status == rhs.status && lhs.nav == rhs.nav && lhs.totalShares == rhs.totalShares
            && lhs.operatorShares == rhs.operatorShares && lhs.operatorFeeText == rhs.operatorFeeText
            && lhs.minOperatorShareText == rhs.minOperatorShareText && lhs.lastSharePrice?.time == rhs.lastSharePrice?.time
            && lhs.lastSharePrice?.price == rhs.lastSharePrice?.price && lhs.annualYieldText == rhs.annualYieldText
    }
}

extension LighterWire {
    /// The pool of an `account` answer's row; `nil` when the account is not a pool or a field
    /// does not read.
    public static func pool(_ account: JSONValue, index: Int64) -> LighterPoolInfo? {
        guard let info = account["pool_info"], info != .null,
            let nav = decimal(account["total_asset_value"], as: Notional.self),
            let total = info["total_shares"]?.int64Value, total >= 0,
            let operatorShares = info["operator_shares"]?.int64Value, operatorShares >= 0, operatorShares <= total
        else { return nil }
        var last: (Int64, Price)?
        if let prices = info["share_prices"]?.arrayValue, let row = prices.last,
            let time = row["timestamp"]?.int64Value, let price = decimal(row["share_price"], as: Price.self)
        {
            last = (normalizedMillis(time), price)
        }
        return LighterPoolInfo(
            account: index, status: info["status"]?.int64Value ?? 0, nav: nav, totalShares: total, operatorShares: operatorShares,
            operatorFeeText: info["operator_fee"]?.numericText ?? "?",
            minOperatorShareText: info["min_operator_share_rate"]?.numericText ?? "?",
            lastSharePrice: last, annualYieldText: info["annual_percentage_yield"]?.numericText)
    }

    /// A depositor's holding in `pool` (`shares[] {public_pool_index, shares_amount, entry_usdc}`).
    public static func holding(_ account: JSONValue, pool: Int64) -> (shares: Int64, entry: Notional?)? {
        guard let rows = account["shares"]?.arrayValue,
            let row = rows.first(where: { $0["public_pool_index"]?.int64Value == pool }),
            let shares = row["shares_amount"]?.int64Value, shares >= 0
        else { return nil }
        return (shares, decimal(row["entry_usdc"], as: Notional.self))
    }
}
