/// Exact fixed-point arithmetic for money.
///
/// Every amount of money, price, size and rate in NMRPerp is an `Int64` count of a unit's
/// smallest step (its *raw* value), with a scale of `10^decimals` that each unit type documents.
/// Products and quotients go through `Int128` and are rounded by a named ``RoundingRule``; there
/// is no `Double` anywhere in the ledger. See docs/decisions/0001-exact-fixed-point.md.

/// How a result that falls between two representable values is rounded.
public enum RoundingRule: Sendable, Hashable {
    /// To the nearest value; ties to the even neighbour (banker's rounding). The default.
    case toNearestOrEven
    /// To the nearest value; ties away from zero ("half up" as most venues print).
    case toNearestOrAwayFromZero
    /// Toward +infinity.
    case up
    /// Toward −infinity.
    case down
    /// Toward zero (truncation).
    case towardZero
}

/// Integer helpers shared by every fixed-point unit.
public enum FixedMath {
    /// Powers of ten that fit in an `Int64`.
    public static let pow10: [Int64] = {
        var values: [Int64] = [1]
        for _ in 1...18 { values.append(values[values.count - 1] * 10) }
        return values
    }()

    /// `numerator / denominator` rounded by `rule`. Traps on a zero denominator (an invariant:
    /// callers validate divisors that come from input).
    @inlinable
    public static func divide(_ numerator: Int128, _ denominator: Int128, _ rule: RoundingRule) -> Int128 {
        precondition(denominator != 0, "division by zero in fixed-point arithmetic")
        let quotient = numerator / denominator
        let remainder = numerator % denominator
        if remainder == 0 { return quotient }
        let positive = (numerator < 0) == (denominator < 0)
        switch rule {
        case .towardZero:
            return quotient
        case .up:
            return positive ? quotient + 1 : quotient
        case .down:
            return positive ? quotient : quotient - 1
        case .toNearestOrEven, .toNearestOrAwayFromZero:
            let twiceRemainder = remainder.magnitude * 2
            let divisor = denominator.magnitude
            let away: Bool
            if twiceRemainder > divisor {
                away = true
            } else if twiceRemainder < divisor {
                away = false
            } else {
                away = rule == .toNearestOrAwayFromZero || quotient % 2 != 0
            }
            if !away { return quotient }
            return positive ? quotient + 1 : quotient - 1
        }
    }

    /// `a × b ÷ d`, exact up to one final rounding. Traps when the result leaves `Int64`
    /// (amounts beyond 92 billion units are a broken invariant, not an input error).
    @inlinable
    public static func mulDiv(_ a: Int64, _ b: Int64, _ d: Int64, _ rule: RoundingRule) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        if !overflow, d > 0 {
            // Fast path: the product fits in 64 bits.
            let quotient = product / d
            let remainder = product % d
            if remainder == 0 { return quotient }
            return Int64(divide(Int128(product), Int128(d), rule))
        }
        let result = divide(Int128(a) * Int128(b), Int128(d), rule)
        guard let narrow = Int64(exactly: result) else {
            preconditionFailure("fixed-point result out of range: \(result)")
        }
        return narrow
    }

    /// Rescales a raw value from one number of decimals to another.
    @inlinable
    public static func rescale(_ raw: Int64, from: Int, to: Int, _ rule: RoundingRule) -> Int64 {
        if from == to { return raw }
        if to > from {
            let (value, overflow) = raw.multipliedReportingOverflow(by: pow10[to - from])
            precondition(!overflow, "fixed-point rescale out of range")
            return value
        }
        return Int64(divide(Int128(raw), Int128(pow10[from - to]), rule))
    }
}

/// A unit stored as an exact fixed-point number: an `Int64` raw value with `decimals` places.
public protocol FixedPointValue: Comparable, Hashable, Sendable, CustomStringConvertible,
    LosslessStringConvertible
{
    /// Number of decimal places of the raw value (scale `10^decimals`).
    static var decimals: Int { get }
    /// The value in units of `10^-decimals`.
    var raw: Int64 { get }
    init(raw: Int64)
}

extension FixedPointValue {
    /// `10^decimals`.
    @inlinable public static var scale: Int64 { FixedMath.pow10[decimals] }
    @inlinable public static var zero: Self { Self(raw: 0) }

    /// An integer amount of the unit.
    @inlinable public init(_ units: Int) { self.init(raw: Int64(units) * Self.scale) }

    /// Parses a decimal literal such as `"17.647059"`, `"-0.0001"`, `"5e-05"` exactly, rounding
    /// half to even past `decimals` places. Returns `nil` for anything else (empty, NaN, inf,
    /// stray characters, out of range).
    public init?(_ description: String) {
        var text = description
        let parsed = text.withUTF8 { DecimalParser.parse($0, decimals: Self.decimals) }
        guard let parsed else { return nil }
        self.init(raw: parsed)
    }

    /// Like ``init(_:)-(String)`` but with a rounding rule of your choice.
    public init?(_ text: String, rounding: RoundingRule) {
        var text = text
        guard let parsed = text.withUTF8({ DecimalParser.parse($0, decimals: Self.decimals, rule: rounding) })
        else { return nil }
        self.init(raw: parsed)
    }

    /// The shortest exact decimal form: no exponent, trailing zeros dropped (`"300"`, `"0.0001"`).
    public var description: String { DecimalFormatter.string(raw: raw, decimals: Self.decimals, minimumFraction: 0) }

    /// The value rounded to `places` decimals (by `rule`) and printed with exactly that many.
    public func formatted(places: Int, rule: RoundingRule = .toNearestOrEven) -> String {
        precondition(places >= 0 && places <= 18)
        if places >= Self.decimals {
            return DecimalFormatter.string(raw: raw, decimals: Self.decimals, minimumFraction: places)
        }
        let rounded = FixedMath.rescale(raw, from: Self.decimals, to: places, rule)
        return DecimalFormatter.string(raw: rounded, decimals: places, minimumFraction: places)
    }

    /// The value rounded to `places` decimals (by `rule`) with its whole part grouped in
    /// thousands: `1379986.61992228` → `"1,379,986.62"` at 2 places (issue 15, reports).
    public func grouped(places: Int, rule: RoundingRule = .toNearestOrEven) -> String {
        DecimalFormatter.groupThousands(formatted(places: places, rule: rule))
    }

    /// Money as reports print it: cents, thousands grouped (`"-12,345.68"`).
    public var money: String { grouped(places: 2) }

    /// An approximation for statistics and charts only: never feed it back into the ledger.
    @inlinable public var doubleValue: Double { Double(raw) / Double(Self.scale) }

    @inlinable public var isZero: Bool { raw == 0 }
    @inlinable public var isNegative: Bool { raw < 0 }
    @inlinable public var isPositive: Bool { raw > 0 }
    @inlinable public var magnitude: Self { Self(raw: raw < 0 ? -raw : raw) }

    @inlinable public static func < (lhs: Self, rhs: Self) -> Bool { lhs.raw < rhs.raw }
    @inlinable public static func + (lhs: Self, rhs: Self) -> Self { Self(raw: lhs.raw + rhs.raw) }
    @inlinable public static func - (lhs: Self, rhs: Self) -> Self { Self(raw: lhs.raw - rhs.raw) }
    @inlinable public static prefix func - (value: Self) -> Self { Self(raw: -value.raw) }
    @inlinable public static func += (lhs: inout Self, rhs: Self) { lhs = lhs + rhs }
    @inlinable public static func -= (lhs: inout Self, rhs: Self) { lhs = lhs - rhs }
    @inlinable public static func * (lhs: Int, rhs: Self) -> Self { Self(raw: Int64(lhs) * rhs.raw) }

    /// Rounds to a whole multiple of `step` (a tick or a lot) by `rule`; `step` must be positive.
    /// Quantities that must not exceed a cap round `.towardZero`; see `docs/decisions`.
    @inlinable
    public func rounded(toMultipleOf step: Self, rule: RoundingRule) -> Self {
        precondition(step.raw > 0, "rounding step must be positive")
        let steps = FixedMath.divide(Int128(raw), Int128(step.raw), rule)
        return Self(raw: Int64(steps) * step.raw)
    }

    /// The ratio `self / other` as a dimensionless ``Rate``, rounded by `rule`.
    @inlinable
    public func ratio(to other: Self, rule: RoundingRule = .toNearestOrEven) -> Rate {
        precondition(other.raw != 0, "ratio to zero")
        return Rate(raw: Int64(FixedMath.divide(Int128(raw) * Int128(Rate.scale), Int128(other.raw), rule)))
    }

    /// Scales by a dimensionless ``Rate`` (`P·g`, `q·share`, `notional·fraction`).
    @inlinable
    public func scaled(by rate: Rate, rule: RoundingRule = .toNearestOrEven) -> Self {
        Self(raw: FixedMath.mulDiv(raw, rate.raw, Rate.scale, rule))
    }
}

/// Parses decimal text into a raw fixed-point integer. Pure and allocation-free; used both by
/// `init?(String)` and by the CSV loader's hot loop.
public enum DecimalParser {
    /// Parses `bytes` (the whole buffer) as a decimal literal: optional sign, digits with an
    /// optional fraction, optional exponent (`e`/`E`). Returns the value times `10^decimals`,
    /// rounded by `rule` past that precision, or `nil` when malformed or out of `Int64` range.
    @inlinable
    public static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, decimals: Int, rule: RoundingRule = .toNearestOrEven
    ) -> Int64? {
        parse(bytes, from: 0, to: bytes.count, decimals: decimals, rule: rule)
    }

    /// Parses `bytes[from..<to]`; see ``parse(_:decimals:rule:)``.
    @inlinable
    public static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int, decimals: Int,
        rule: RoundingRule = .toNearestOrEven
    ) -> Int64? {
        var index = from
        guard index < to else { return nil }
        var negative = false
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        // Up to 38 significant digits are kept exactly (UInt128); beyond that only whether a
        // non-zero digit was dropped (for rounding) and how many integer digits were dropped.
        var mantissa: UInt128 = 0
        var digits = 0
        var fractionDigits = 0
        var sawPoint = false
        var significant = 0
        var sticky = false
        var dropped = 0
        while index < to {
            let byte = bytes[index]
            if byte >= 48 && byte <= 57 {
                digits += 1
                let digit = UInt128(byte - 48)
                if significant < 38 {
                    if mantissa != 0 || digit != 0 { significant += 1 }
                    mantissa = mantissa * 10 + digit
                    if sawPoint { fractionDigits += 1 }
                } else {
                    if digit != 0 { sticky = true }
                    if !sawPoint { dropped += 1 }
                }
            } else if byte == UInt8(ascii: "."), !sawPoint {
                sawPoint = true
            } else {
                break
            }
            index += 1
        }
        guard digits > 0 else { return nil }
        var exponent = 0
        if index < to {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") else { return nil }
            index += 1
            var expNegative = false
            if index < to, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                expNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var expDigits = 0
            while index < to, bytes[index] >= 48, bytes[index] <= 57 {
                if exponent < 10_000 { exponent = exponent * 10 + Int(bytes[index] - 48) }
                expDigits += 1
                index += 1
            }
            guard expDigits > 0, index == to else { return nil }
            if expNegative { exponent = -exponent }
        }
        // value = mantissa × 10^(exponent + dropped − fractionDigits)
        let shift = exponent + dropped - fractionDigits + decimals
        // Fast path: an exact scale-up that fits in 64 bits (every ordinary price and size).
        if !sticky, shift >= 0, shift <= 18, mantissa <= UInt128(Int64.max) {
            let (scaled, overflow) = Int64(mantissa).multipliedReportingOverflow(by: FixedMath.pow10[shift])
            if !overflow { return negative ? -scaled : scaled }
        }
        guard mantissa <= UInt128(Int128.max) else { return nil }
        var result: Int128
        if shift >= 0 {
            // Dropped digits here would sit above the unit: the value cannot fit.
            guard shift <= 19, !sticky || mantissa == 0 else { return mantissa == 0 && !sticky ? 0 : nil }
            var value = Int128(mantissa)
            for _ in 0..<shift {
                let (next, overflow) = value.multipliedReportingOverflow(by: 10)
                if overflow { return nil }
                value = next
            }
            result = value
        } else {
            if -shift > 38 {
                // |value| < 0.1 of a unit: only directed rounding can leave zero.
                guard mantissa != 0 || sticky else { return 0 }
                switch rule {
                case .up: return negative ? 0 : 1
                case .down: return negative ? -1 : 0
                default: return 0
                }
            }
            var divisor: Int128 = 1
            for _ in 0..<(-shift) { divisor *= 10 }
            var numerator = Int128(mantissa)
            if sticky {
                // Keep dropped digits visible to the rounding: scale up by 10 and add 1.
                let (scaled, overflow) = numerator.multipliedReportingOverflow(by: 10)
                if !overflow, divisor <= Int128.max / 10 {
                    numerator = scaled + 1
                    divisor *= 10
                }
            }
            result = FixedMath.divide(negative ? -numerator : numerator, divisor, rule)
            // `Int64.min` has no positive twin (`magnitude` and negation would trap): out of range.
            guard let narrow = Int64(exactly: result), narrow != .min else { return nil }
            return narrow
        }
        if negative { result = -result }
        guard let narrow = Int64(exactly: result), narrow != .min else { return nil }
        return narrow
    }
}

/// Prints raw fixed-point integers as plain decimal text (never an exponent).
public enum DecimalFormatter {
    /// `"-1234567.89"` → `"-1,234,567.89"`: commas between groups of three digits of the whole
    /// part of a plain decimal (an optional sign, digits, an optional fraction).
    public static func groupThousands(_ text: String) -> String {
        var sign = Substring("")
        var rest = Substring(text)
        if let first = rest.first, first == "-" || first == "+" {
            sign = rest.prefix(1)
            rest = rest.dropFirst()
        }
        let whole = rest.prefix { $0 != "." }
        let fraction = rest.dropFirst(whole.count)
        guard whole.count > 3, whole.allSatisfy(\.isNumber) else { return text }
        var grouped = ""
        grouped.reserveCapacity(whole.count + whole.count / 3)
        for (index, digit) in whole.enumerated() {
            if index > 0 && (whole.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return String(sign) + grouped + String(fraction)
    }

    public static func string(raw: Int64, decimals: Int, minimumFraction: Int) -> String {
        let negative = raw < 0
        let magnitude = raw.magnitude
        let scale = UInt64(FixedMath.pow10[decimals])
        let integer = magnitude / scale
        var fraction = magnitude % scale
        var fractionDigits = decimals
        while fractionDigits > minimumFraction, fractionDigits > 0, fraction % 10 == 0 {
            fraction /= 10
            fractionDigits -= 1
        }
        var text = negative && (integer != 0 || fraction != 0) ? "-" : ""
        text += String(integer)
        if fractionDigits > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: fractionDigits - digits.count) + digits
            if minimumFraction > decimals {
                text += String(repeating: "0", count: minimumFraction - decimals)
            }
        } else if minimumFraction > 0 {
            text += "." + String(repeating: "0", count: minimumFraction)
        }
        return text
    }
}
