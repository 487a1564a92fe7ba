import PerpModel
import Testing

/// Unit types and their dimensionally meaningful operators (Units.swift).
@Suite("Units")
struct UnitsTests {
    @Test(
        "Price × Quantity → Notional, exact when the product fits 8 decimals",
        arguments: [
            ("15", "100", "1500"),
            ("22.168", "3.5", "77.588"),
            ("0.0001", "0.01", "0.000001"),
            ("17.64705882", "100", "1764.705882"),
            ("8", "-10", "-80"),
            ("12345.6789", "0.01", "123.456789"),
        ])
    func priceTimesQuantity(price: String, quantity: String, notional: String) throws {
        let p = try #require(Price(price))
        let q = try #require(Quantity(quantity))
        let expected = try #require(Notional(notional))
        #expect(p * q == expected)
        #expect(q * p == expected)
        for rule in [RoundingRule.up, .down, .towardZero, .toNearestOrAwayFromZero] {
            #expect(p.times(q, rule: rule) == expected, "an exact product is the same under every rule")
        }
    }

    @Test("Price × Quantity rounds once, by the rule, within one raw unit (seeded)")
    func productRounding() {
        var rng = SplitMix64(seed: 0x5EED_0101)
        for _ in 0..<5_000 {
            let price = Price(raw: Int64.random(in: 1...100_000_000_000, using: &rng))
            let quantity = Quantity(raw: Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &rng))
            let exact = Int128(price.raw) * Int128(quantity.raw)  // in units of 10^-16
            let down = price.times(quantity, rule: .down)
            let up = price.times(quantity, rule: .up)
            #expect(Int128(down.raw) * 100_000_000 <= exact)
            #expect(Int128(up.raw) * 100_000_000 >= exact)
            let isExact = exact % 100_000_000 == 0
            #expect(up.raw - down.raw == (isExact ? 0 : 1))
            let nearest = price * quantity
            let error = (Int128(nearest.raw) * 100_000_000 - exact).magnitude
            #expect(error <= 50_000_000, "nearest is within half a raw unit")
        }
    }

    @Test("Notional ÷ Quantity → Price and Notional ÷ Price → Quantity")
    func division() throws {
        let notional = try #require(Notional("1800"))
        let quantity = try #require(Quantity("102"))
        #expect(notional.divided(by: quantity) == Price("17.64705882"))
        #expect(notional.divided(by: quantity, rule: .up) == Price("17.64705883"))
        #expect(notional.divided(by: quantity, rule: .down) == Price("17.64705882"))
        #expect(Notional("80")!.divided(by: Price("8")!) == Quantity("10"))
        #expect(Notional("1500")!.divided(by: Quantity("100")!) == Price("15"))
        #expect(Notional("-1")!.divided(by: Quantity("3")!, rule: .down) == Price("-0.33333334"))
        #expect(Notional("100")!.divided(by: Price("3")!, rule: .towardZero) == Quantity("33.33333333"))
        // Division undoes multiplication when the product is exact.
        var rng = SplitMix64(seed: 0x5EED_0102)
        for _ in 0..<2_000 {
            let price = Price(raw: Int64.random(in: 1...1_000_000, using: &rng) * 10_000)  // 4 decimals
            let quantity = Quantity(raw: Int64.random(in: 1...10_000_000, using: &rng) * 1_000_000)  // 2 decimals
            let value = price * quantity
            #expect(value.divided(by: quantity) == price)
            #expect(value.divided(by: price) == quantity)
        }
    }

    @Test("Notional × Rate, Rate × Rate, ratio and scaled")
    func rates() throws {
        #expect(Notional("1500")! * Rate("0.02")! == Notional("30"))
        #expect(Rate("0.02")! * Notional("1500")! == Notional("30"))
        #expect(Notional("80")!.times(Rate("2.7332")!) == Notional("218.656"))
        #expect(Rate("1.1")! * Rate("0.2")! == Rate("0.22"))
        #expect(Price("24.48")!.ratio(to: Price("8")!) == Rate("3.06"))
        #expect(Price("1")!.ratio(to: Price("3")!, rule: .up) == Rate("0.333333333334"))
        #expect(Price("1")!.ratio(to: Price("3")!, rule: .down) == Rate("0.333333333333"))
        #expect(Price("8")!.scaled(by: Rate("3.06")!) == Price("24.48"))
        #expect(Quantity("10")!.scaled(by: Rate("0.5")!) == Quantity("5"))
        // A funding payment: 1,000 USDC of notional at 0.0001 per interval.
        #expect(Notional("1000")! * Rate("0.0001")! == Notional("0.1"))
        // Rounding rules on a product that is not exact: 0.00000001 × 0.5.
        let tiny = Notional(raw: 1)
        let half = try #require(Rate("0.5"))
        #expect(tiny.times(half, rule: .toNearestOrEven) == Notional(raw: 0))
        #expect(tiny.times(half, rule: .toNearestOrAwayFromZero) == Notional(raw: 1))
        #expect(Notional(raw: 3).times(half, rule: .toNearestOrEven) == Notional(raw: 2))
        #expect(Notional(raw: -3).times(half, rule: .toNearestOrEven) == Notional(raw: -2))
        #expect(Notional(raw: -3).times(half, rule: .up) == Notional(raw: -1))
    }

    @Test(
        "Lighter margin fractions out of 10,000",
        arguments: [
            (2000, "0.2"),
            (3333, "0.3333"),
            (6666, "0.6666"),
            (10_000, "1"),
            (1, "0.0001"),
            (0, "0"),
        ])
    func basisPointsOf10000(value: Int, text: String) throws {
        #expect(Rate(basisPointsOf10000: value) == Rate(text))
    }

    @Test("Rate helpers")
    func rateHelpers() {
        #expect(Rate(basisPointsOf10000: 2000) == Rate("0.2"))
        #expect(Rate.one == Rate("1"))
        #expect(abs(Rate("0.0001")!.basisPoints - 1) < 1e-12)
        #expect(Rate(approximating: 2.7332) == Rate("2.7332"))
        #expect(Rate(approximating: 1.0 / 3.0, rule: .up) == Rate("0.333333333334"))
        #expect(Rate(approximating: -1.0 / 3.0, rule: .towardZero) == Rate("-0.333333333333"))
        #expect(Rate(approximating: .nan) == nil)
        #expect(Rate(approximating: .infinity) == nil)
        #expect(Rate(approximating: 1e12) == nil)
    }

    @Test(
        "rounded(toMultipleOf:) snaps to ticks and lots by the rule",
        arguments: [
            ("1.237", "0.01", RoundingRule.towardZero, "1.23"),
            ("1.237", "0.01", .toNearestOrEven, "1.24"),
            ("1.235", "0.01", .toNearestOrEven, "1.24"),
            ("1.245", "0.01", .toNearestOrEven, "1.24"),
            ("1.245", "0.01", .toNearestOrAwayFromZero, "1.25"),
            ("1.231", "0.01", .up, "1.24"),
            ("-1.237", "0.01", .towardZero, "-1.23"),
            ("-1.237", "0.01", .down, "-1.24"),
            ("-1.237", "0.01", .up, "-1.23"),
            ("17.64705882", "0.0001", .down, "17.647"),
            ("17.64705882", "0.0001", .up, "17.6471"),
            ("2.5", "1", .toNearestOrEven, "2"),
            ("7", "2.5", .towardZero, "5"),
            ("0.004", "0.01", .towardZero, "0"),
        ])
    func roundedToMultiple(value: String, step: String, rule: RoundingRule, expected: String) throws {
        let v = try #require(Quantity(value))
        let s = try #require(Quantity(step))
        #expect(v.rounded(toMultipleOf: s, rule: rule) == Quantity(expected))
    }

    @Test("a quantity rounded toward zero never exceeds its cap (seeded)")
    func towardZeroNeverExceedsCap() {
        var rng = SplitMix64(seed: 0x5EED_0103)
        let lots: [Int64] = [1, 100, 1_000_000, 10_000_000, 100_000_000, 250_000_000]
        for _ in 0..<5_000 {
            let lot = Quantity(raw: lots.randomElement(using: &rng)!)
            let cap = Quantity(raw: Int64.random(in: 0...1_000_000_000_000, using: &rng))
            let size = cap.rounded(toMultipleOf: lot, rule: .towardZero)
            #expect(size <= cap)
            #expect(cap - size < lot)
            #expect(size.raw % lot.raw == 0)
            #expect(!size.isNegative)
            // A risk budget in notional: the rounded size never costs more than the budget.
            let price = Price(raw: Int64.random(in: 1_000_000...10_000_000_000, using: &rng))
            let budget = Notional(raw: Int64.random(in: 0...10_000_000_000_000, using: &rng))
            let affordable = budget.divided(by: price, rule: .towardZero).rounded(toMultipleOf: lot, rule: .towardZero)
            #expect(price.times(affordable, rule: .up) <= budget)
        }
    }

    @Test("arithmetic, sign helpers and ordering")
    func arithmetic() throws {
        let a = try #require(Price("1.5"))
        let b = try #require(Price("-2.25"))
        #expect(a + b == Price("-0.75"))
        #expect(a - b == Price("3.75"))
        #expect(-b == Price("2.25"))
        #expect(3 * a == Price("4.5"))
        #expect(b.magnitude == Price("2.25"))
        #expect(b.isNegative && !b.isPositive && !b.isZero)
        #expect(Price.zero.isZero)
        #expect(b < a)
        #expect(Price(7) == Price("7"))
        #expect(Quantity(-3) == Quantity("-3"))
        var total = Notional.zero
        total += Notional(10)
        total -= Notional("0.5")!
        #expect(total == Notional("9.5"))
        #expect(Price.scale == 100_000_000)
        #expect(Rate.scale == 1_000_000_000_000)
        #expect(a.doubleValue == 1.5)
        #expect([Price("3")!, Price("1")!, Price("2")!].sorted() == [Price("1")!, Price("2")!, Price("3")!])
    }
}
