/// An exact rational number for formulas that divide (liquidation and bankruptcy prices):
/// the whole formula is evaluated without rounding, and rounded once at the end by a named rule.
public struct Fraction: Sendable, Hashable, CustomStringConvertible {
    public private(set) var numerator: Int128
    public private(set) var denominator: Int128

    public init(_ numerator: Int128, _ denominator: Int128 = 1) {
        precondition(denominator != 0, "fraction with a zero denominator")
        var n = numerator
        var d = denominator
        if d < 0 {
            n = -n
            d = -d
        }
        let divisor = Fraction.gcd(n.magnitude, d.magnitude)
        if divisor > 1 {
            n /= Int128(divisor)
            d /= Int128(divisor)
        }
        self.numerator = n
        self.denominator = d
    }

    /// The exact value of a fixed-point unit.
    public init<Unit: FixedPointValue>(_ value: Unit) { self.init(Int128(value.raw), Int128(Unit.scale)) }

    public static func gcd(_ a: UInt128, _ b: UInt128) -> UInt128 {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return x
    }

    public var isZero: Bool { numerator == 0 }
    public var isNegative: Bool { numerator < 0 }
    public var description: String { "\(numerator)/\(denominator)" }

    private static func product(_ a: Int128, _ b: Int128) -> Int128 {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        precondition(!overflow, "exact fraction overflow: amounts far outside any market's range")
        return value
    }

    public static func + (lhs: Fraction, rhs: Fraction) -> Fraction {
        let divisor = Int128(gcd(lhs.denominator.magnitude, rhs.denominator.magnitude))
        let left = product(lhs.numerator, rhs.denominator / divisor)
        let right = product(rhs.numerator, lhs.denominator / divisor)
        return Fraction(left + right, product(lhs.denominator / divisor, rhs.denominator))
    }

    public static prefix func - (value: Fraction) -> Fraction { Fraction(-value.numerator, value.denominator) }
    public static func - (lhs: Fraction, rhs: Fraction) -> Fraction { lhs + (-rhs) }

    public static func * (lhs: Fraction, rhs: Fraction) -> Fraction {
        let a = Int128(gcd(lhs.numerator.magnitude, rhs.denominator.magnitude))
        let b = Int128(gcd(rhs.numerator.magnitude, lhs.denominator.magnitude))
        let safeA = a == 0 ? 1 : a
        let safeB = b == 0 ? 1 : b
        return Fraction(
            product(lhs.numerator / safeA, rhs.numerator / safeB),
            product(lhs.denominator / safeB, rhs.denominator / safeA))
    }

    public static func / (lhs: Fraction, rhs: Fraction) -> Fraction {
        precondition(rhs.numerator != 0, "exact fraction divided by zero")
        return lhs * Fraction(rhs.denominator, rhs.numerator)
    }

    public static func < (lhs: Fraction, rhs: Fraction) -> Bool { (lhs - rhs).numerator < 0 }

    /// Rounds to a fixed-point unit by `rule`; traps when the value is beyond what `Unit`
    /// holds (callers whose inputs can reach that use ``roundedIfRepresentable(to:_:)``).
    public func rounded<Unit: FixedPointValue>(to unit: Unit.Type, _ rule: RoundingRule) -> Unit {
        guard let value = roundedIfRepresentable(to: unit, rule) else { preconditionFailure("value out of range for \(Unit.self)") }
        return value
    }

    /// Rounds to a fixed-point unit by `rule`, or `nil` when the value is beyond what `Unit`
    /// holds (a liquidation price of a position whose collateral dwarfs its size).
    public func roundedIfRepresentable<Unit: FixedPointValue>(to _: Unit.Type, _ rule: RoundingRule) -> Unit? {
        // Whole part and remainder separately, so a value that fits never overflows on the way.
        let whole = numerator / denominator
        let remainder = numerator % denominator
        let (remainderScaled, overflow) = remainder.multipliedReportingOverflow(by: Int128(Unit.scale))
        let scaled: Int128
        if overflow {
            scaled = FixedMath.divide(Fraction.product(numerator, Int128(Unit.scale)), denominator, rule)
        } else {
            scaled = Fraction.product(whole, Int128(Unit.scale)) + FixedMath.divide(remainderScaled, denominator, rule)
        }
        guard let raw = Int64(exactly: scaled) else { return nil }
        return Unit(raw: raw)
    }

    public var doubleValue: Double { Double(numerator) / Double(denominator) }
}
