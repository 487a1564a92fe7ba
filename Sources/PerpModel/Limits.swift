/// What the tool carries: the named bounds every value from a flag, a file, a configuration or a
/// venue answer is checked against before it reaches the arithmetic (issue 11; decision 0009).
///
/// Every unit is an `Int64` at 10⁻⁸ (``Rate`` at 10⁻¹²), so the ledger holds at most about
/// 92 billion USDC, NMR or USDC per NMR. NMR's whole supply is 11 million tokens and its highest
/// price ever about 95 USDC, so bounds a thousand times beyond anything real still leave room for
/// the products and sums the formulas take (`q·P·g`, a year of funding payments) to stay exact in
/// `Int64`. A value beyond a bound is refused with a message that names the bound; a result that
/// would still leave `Int64` ends in ``ArithmeticOverflow``, never in a trap.
public enum CarryLimit {
    /// The highest price: 1,000,000 USDC per NMR.
    public static let price = Price(1_000_000)
    /// The largest amount of NMR: 100,000,000 (nine times NMR's supply).
    public static let quantity = Quantity(100_000_000)
    /// The largest amount of USDC (a position's value, a balance, a margin, a stake's value):
    /// 1,000,000,000.
    public static let notional = Notional(1_000_000_000)
    /// The highest leverage: 1,000× (Binance offers at most 125×, Lighter 50×).
    public static let leverage = Rate(1000)
    /// The lowest leverage: 0.01× (a position worth 1 % of its margin).
    public static let minimumLeverage = Rate(raw: Rate.scale / 100)
    /// The largest fee, slippage or funding rate per interval, in magnitude: 1 (100 %).
    public static let rate = Rate.one
    /// The largest price multiple (`g`, `M`): 1,000×.
    public static let multiple = Rate(1000)
    /// The longest length (a window, a cooldown, a horizon): 100 years.
    public static let span = TimeSpan(milliseconds: 36_525 * 86_400_000)
    /// The most bars a window may count: 10,000,000 (19 years of minutes).
    public static let bars = 10_000_000
}

/// A result that would leave the range its type holds exactly: the arithmetic refused instead
/// of trapping. `what` names the quantity being computed, in the user's words.
public struct ArithmeticOverflow: Error, Equatable, CustomStringConvertible {
    public var what: String
    public init(_ what: String) { self.what = what }
    public var description: String {
        "\(what) is beyond what the tool carries exactly (at most \(CarryLimit.notional) USDC, \(CarryLimit.quantity) NMR, \(CarryLimit.price) USDC per NMR); check the inputs' units"
    }
}

extension FixedMath {
    /// `a × b ÷ d` like ``mulDiv(_:_:_:_:)``, or `nil` when the result leaves `Int64` or `d` is
    /// not positive.
    @inlinable
    public static func mulDivReportingOverflow(_ a: Int64, _ b: Int64, _ d: Int64, _ rule: RoundingRule) -> Int64? {
        guard d > 0 else { return nil }
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        if !overflow {
            let remainder = product % d
            if remainder == 0 { return product / d }
            return Int64(exactly: divide(Int128(product), Int128(d), rule))
        }
        return Int64(exactly: divide(Int128(a) * Int128(b), Int128(d), rule))
    }
}

extension FixedPointValue {
    /// `self + other`, or an ``ArithmeticOverflow`` naming `what`.
    @inlinable
    public func adding(_ other: Self, _ what: @autoclosure () -> String) throws(ArithmeticOverflow) -> Self {
        let (sum, overflow) = raw.addingReportingOverflow(other.raw)
        if overflow { throw ArithmeticOverflow(what()) }
        return Self(raw: sum)
    }

    /// `self − other`, or an ``ArithmeticOverflow`` naming `what`.
    @inlinable
    public func subtracting(_ other: Self, _ what: @autoclosure () -> String) throws(ArithmeticOverflow) -> Self {
        let (difference, overflow) = raw.subtractingReportingOverflow(other.raw)
        if overflow { throw ArithmeticOverflow(what()) }
        return Self(raw: difference)
    }

    /// ``scaled(by:rule:)`` that throws an ``ArithmeticOverflow`` naming `what` instead of trapping.
    @inlinable
    public func scaled(by rate: Rate, rule: RoundingRule = .toNearestOrEven, _ what: @autoclosure () -> String) throws(ArithmeticOverflow)
        -> Self
    {
        guard let raw = FixedMath.mulDivReportingOverflow(raw, rate.raw, Rate.scale, rule) else { throw ArithmeticOverflow(what()) }
        return Self(raw: raw)
    }

    /// Whether the magnitude is at most `limit`'s.
    @inlinable
    public func isWithin(_ limit: Self) -> Bool { raw.magnitude <= limit.raw.magnitude }
}

extension Price {
    /// ``times(_:rule:)`` that throws an ``ArithmeticOverflow`` naming `what` instead of trapping.
    @inlinable
    public func times(_ quantity: Quantity, rule: RoundingRule = .toNearestOrEven, _ what: @autoclosure () -> String)
        throws(ArithmeticOverflow)
        -> Notional
    {
        guard let raw = FixedMath.mulDivReportingOverflow(raw, quantity.raw, Quantity.scale, rule) else { throw ArithmeticOverflow(what()) }
        return Notional(raw: raw)
    }
}
