/// Elementary functions for statistics, in pure Swift: the standard library has no `log`/`exp`
/// without Foundation or a C library, and these give the same bits on every platform.
/// Accurate to a few units in the last place over the ranges statistics use; never for the ledger.
public enum ElementaryMath {
    public static let ln2 = 0.693_147_180_559_945_309_417_232_121_458
    /// Cody–Waite split of ln 2: `ln2Hi` has trailing zero bits so `k × ln2Hi` is exact.
    private static let ln2Hi = 6.931_471_803_691_238_164_90e-01
    private static let ln2Lo = 1.908_214_929_270_587_700_02e-10

    /// Natural logarithm. `nan` below zero, `-inf` at zero.
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return .infinity }
        var mantissa = x.significand  // [1, 2)
        var exponent = Double(x.exponent)
        if mantissa > 1.414_213_562_373_095_1 {
            mantissa /= 2
            exponent += 1
        }
        // ln m = 2 atanh s, s = (m − 1)/(m + 1), |s| < 0.172.
        let s = (mantissa - 1) / (mantissa + 1)
        let s2 = s * s
        var power = s
        var sum = 0.0
        var n = 1.0
        while n < 80 {
            let term = power / n
            sum += term
            if abs(term) <= 1e-18 * abs(sum) { break }
            power *= s2
            n += 2
        }
        return 2 * sum + exponent * ln2Hi + exponent * ln2Lo
    }

    /// `e^y`; `inf` on overflow, `0` on underflow.
    public static func exp(_ y: Double) -> Double {
        if y.isNaN { return .nan }
        if y > 709.78 { return .infinity }
        if y < -745.13 { return 0 }
        let k = (y / ln2).rounded(.toNearestOrEven)
        let r = (y - k * ln2Hi) - k * ln2Lo  // |r| ≤ ln2 / 2
        var term = 1.0
        var sum = 1.0
        var n = 1.0
        while n < 40 {
            term *= r / n
            sum += term
            if abs(term) <= 1e-18 * sum { break }
            n += 1
        }
        return scale(sum, byPowerOfTwo: Int(k))
    }

    /// `base^exponent` for a positive base.
    public static func pow(_ base: Double, _ exponent: Double) -> Double {
        if base == 1 || exponent == 0 { return 1 }
        return exp(exponent * log(base))
    }

    private static func scale(_ value: Double, byPowerOfTwo k: Int) -> Double {
        // Two steps so that neither factor leaves the normal range.
        let half = k / 2
        let first = Double(sign: .plus, exponent: half, significand: 1)
        let second = Double(sign: .plus, exponent: k - half, significand: 1)
        return value * first * second
    }

}
