import PerpExecution
import PerpModel

/// One Lighter market's integer units (lighter-live.md §4.3; `GET /api/v1/orderBookDetails`:
/// `size_decimals`, `price_decimals`, `min_base_amount`, `min_quote_amount`). Orders carry
/// `base_amount` = size × 10^size_decimals and `price` = price × 10^price_decimals as integers;
/// NMR is market 74. Read from the venue at start, never hard-coded: the notes' best evidence
/// for NMR's price decimals (4) is inferred.
public struct LighterScale: Sendable, Equatable {
    public let market: Int64
    public let sizeDecimals: Int
    public let priceDecimals: Int
    /// The smallest order size and notional the venue takes.
    public let minBase: Quantity
    public let minQuote: Notional

    /// `nil` when the decimals are beyond what our units carry exactly (0…8) or a minimum is
    /// negative.
    public init?(market: Int64, sizeDecimals: Int, priceDecimals: Int, minBase: Quantity = .zero, minQuote: Notional = .zero) {
        guard (0...Quantity.decimals).contains(sizeDecimals), (0...Price.decimals).contains(priceDecimals), !minBase.isNegative,
            !minQuote.isNegative
        else { return nil }
        self.market = market
        self.sizeDecimals = sizeDecimals
        self.priceDecimals = priceDecimals
        self.minBase = minBase
        self.minQuote = minQuote
    }

    /// From `orderBookDetails`: `nil` when the market has no size or price decimals.
    public init?(_ market: LighterMarket) {
        guard let size = market.sizeDecimals, let price = market.priceDecimals else { return nil }
        self.init(
            market: Int64(market.marketID), sizeDecimals: size, priceDecimals: price, minBase: market.minBaseAmount ?? .zero,
            minQuote: market.minQuoteAmount ?? .zero)
    }

    /// One size step and one price tick in our units.
    public var lot: Quantity { Quantity(raw: FixedMath.pow10[Quantity.decimals - sizeDecimals]) }
    public var tick: Price { Price(raw: FixedMath.pow10[Price.decimals - priceDecimals]) }

    /// The execution layer's rules for this market: tick, lot (at least the minimum size),
    /// the largest order the signer's integers carry, the minimum notional.
    public func rules(symbol: String) -> MarketRules {
        let largest = Quantity(raw: Int64.max / FixedMath.pow10[Quantity.decimals - sizeDecimals] * lot.raw)
        return MarketRules(symbol: symbol, tickSize: tick, lotSize: lot, maxMarketQuantity: largest, minNotional: minQuote)
    }

    /// `quantity` as `base_amount`: a positive whole number of lots at least the minimum size,
    /// else `nil` (the engine sizes to the lot before anything is signed; anything else is
    /// refused, never rounded here).
    public func baseAmount(_ quantity: Quantity) -> Int64? {
        let step = FixedMath.pow10[Quantity.decimals - sizeDecimals]
        guard quantity.isPositive, quantity >= minBase, quantity.raw % step == 0 else { return nil }
        return quantity.raw / step
    }

    /// `price` as the signer's price: a whole number of ticks from 1 to `Int32.max` (the C
    /// argument is an `int`; `OrderPrice should not be less than 1`), else `nil`.
    public func integerPrice(_ price: Price) -> Int64? {
        let step = FixedMath.pow10[Price.decimals - priceDecimals]
        guard price.isPositive, price.raw % step == 0 else { return nil }
        let value = price.raw / step
        return value <= Int64(Int32.max) ? value : nil
    }

    /// The venue's integers back in our units (exact: our scale is finer).
    public func quantity(baseAmount: Int64) -> Quantity? {
        let (raw, overflow) = baseAmount.multipliedReportingOverflow(by: FixedMath.pow10[Quantity.decimals - sizeDecimals])
        return overflow ? nil : Quantity(raw: raw)
    }

    public func price(integer: Int64) -> Price? {
        let (raw, overflow) = integer.multipliedReportingOverflow(by: FixedMath.pow10[Price.decimals - priceDecimals])
        return overflow ? nil : Price(raw: raw)
    }
}
