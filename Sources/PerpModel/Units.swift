/// Unit types. Each is an exact fixed-point number (see ``FixedPointValue``); only dimensionally
/// meaningful operators exist: `Price × Quantity → Notional`, `Notional × Rate → Notional`,
/// `Notional ÷ Quantity → Price`, and no `Price × Price`.

/// A price in quote currency (USD/USDC) per unit of the base asset. Scale 10^8, like Binance's
/// eight-decimal prices. Also used for price differences (`P − P_liq`), which may be negative.
public struct Price: FixedPointValue {
    public static let decimals = 8
    public let raw: Int64
    @inlinable public init(raw: Int64) { self.raw = raw }
}

/// An amount of the base asset (NMR). Scale 10^8. Signed where it is a position (+ long, − short).
public struct Quantity: FixedPointValue {
    public static let decimals = 8
    public let raw: Int64
    @inlinable public init(raw: Int64) { self.raw = raw }
}

/// An amount of the quote asset (USD/USDC): notional value, collateral, PnL, fees, funding.
/// Scale 10^8 (finer than USDC's 6 decimals, so venue amounts convert without loss).
public struct Notional: FixedPointValue {
    public static let decimals = 8
    public let raw: Int64
    @inlinable public init(raw: Int64) { self.raw = raw }
}

/// A dimensionless fraction: funding rate per interval, margin fraction, fee rate, safety
/// factor, price multiple. Scale 10^12, so a funding rate such as `3.20592e-05` is exact.
public struct Rate: FixedPointValue {
    public static let decimals = 12
    public let raw: Int64
    @inlinable public init(raw: Int64) { self.raw = raw }

    /// One (100 %).
    public static let one = Rate(raw: Rate.scale)

    /// A fraction out of 10,000, as Lighter quotes margin fractions (`2000` → 0.20).
    public init(basisPointsOf10000 value: Int) { self.init(raw: Int64(value) * (Rate.scale / 10_000)) }

    /// The rate in basis points (×10,000), for display and statistics.
    public var basisPoints: Double { doubleValue * 10_000 }

    /// The nearest rate to a statistic computed in `Double` (such as an estimated price multiple),
    /// rounded by `rule`. Only for statistics entering a plan, never for ledger values.
    public init?(approximating value: Double, rule: RoundingRule = .toNearestOrEven) {
        guard value.isFinite, abs(value) < 9_000_000 else { return nil }
        let scaled = value * Double(Rate.scale)
        let rounded: Double
        switch rule {
        case .up: rounded = scaled.rounded(.up)
        case .down: rounded = scaled.rounded(.down)
        case .towardZero: rounded = scaled.rounded(.towardZero)
        case .toNearestOrEven: rounded = scaled.rounded(.toNearestOrEven)
        case .toNearestOrAwayFromZero: rounded = scaled.rounded(.toNearestOrAwayFromZero)
        }
        self.init(raw: Int64(rounded))
    }
}

// MARK: - Cross-unit arithmetic

extension Price {
    /// Notional of `quantity` at this price, rounded by `rule`.
    @inlinable
    public func times(_ quantity: Quantity, rule: RoundingRule = .toNearestOrEven) -> Notional {
        Notional(raw: FixedMath.mulDiv(raw, quantity.raw, Quantity.scale, rule))
    }

    @inlinable public static func * (price: Price, quantity: Quantity) -> Notional { price.times(quantity) }
    @inlinable public static func * (quantity: Quantity, price: Price) -> Notional { price.times(quantity) }
}

extension Notional {
    /// `self × rate` (a fee, a funding payment, a margin requirement), rounded by `rule`.
    @inlinable
    public func times(_ rate: Rate, rule: RoundingRule = .toNearestOrEven) -> Notional {
        scaled(by: rate, rule: rule)
    }

    @inlinable public static func * (notional: Notional, rate: Rate) -> Notional { notional.times(rate) }
    @inlinable public static func * (rate: Rate, notional: Notional) -> Notional { notional.times(rate) }

    /// The price at which `quantity` is worth `self`.
    @inlinable
    public func divided(by quantity: Quantity, rule: RoundingRule = .toNearestOrEven) -> Price {
        precondition(quantity.raw != 0, "price of a zero quantity")
        return Price(raw: Int64(FixedMath.divide(Int128(raw) * Int128(Quantity.scale), Int128(quantity.raw), rule)))
    }

    /// The quantity that `self` buys at `price`.
    @inlinable
    public func divided(by price: Price, rule: RoundingRule = .toNearestOrEven) -> Quantity {
        precondition(price.raw != 0, "quantity at a zero price")
        return Quantity(raw: Int64(FixedMath.divide(Int128(raw) * Int128(Price.scale), Int128(price.raw), rule)))
    }
}

extension Rate {
    /// `self × other`, rounded by `rule`.
    @inlinable
    public func times(_ other: Rate, rule: RoundingRule = .toNearestOrEven) -> Rate {
        Rate(raw: FixedMath.mulDiv(raw, other.raw, Rate.scale, rule))
    }

    @inlinable public static func * (lhs: Rate, rhs: Rate) -> Rate { lhs.times(rhs) }
}
