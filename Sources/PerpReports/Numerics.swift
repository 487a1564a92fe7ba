import PerpModel

/// Number formatting for reports, and the elementary functions of ``ElementaryMath``.
enum Numerics {
    static func log(_ x: Double) -> Double { ElementaryMath.log(x) }
    static func exp(_ y: Double) -> Double { ElementaryMath.exp(y) }
    static func pow(_ base: Double, _ exponent: Double) -> Double { ElementaryMath.pow(base, exponent) }

    /// `value` rounded to `places` decimals and printed with exactly that many (`"12.35"`).
    /// `"nan"`/`"inf"` for non-finite values.
    static func fixed(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return formatDouble(value) }
        let scaled = (value * Double(FixedMath.pow10[places])).rounded(.toNearestOrEven)
        guard abs(scaled) < 9.0e18 else { return formatDouble(value, significant: 15) }
        return DecimalFormatter.string(raw: Int64(scaled), decimals: places, minimumFraction: places)
    }

    /// A fraction as a percentage with `places` decimals: `0.1234` → `"12.34 %"`.
    static func percent(_ value: Double, places: Int = 2) -> String {
        fixed(value * 100, places: places) + " %"
    }
}
