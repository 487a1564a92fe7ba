import PerpModel
import Testing

/// Exact rationals used by the liquidation formulas (Fraction.swift).
@Suite("Fraction")
struct FractionTests {
    @Test("normalises sign and common factors")
    func normalises() {
        let f = Fraction(6, -4)
        #expect(f.numerator == -3)
        #expect(f.denominator == 2)
        #expect(Fraction(0, 5).numerator == 0)
        #expect(Fraction(0, 5).denominator == 1)
        #expect(Fraction(-10, -15) == Fraction(2, 3))
        #expect(Fraction(7).denominator == 1)
        #expect(Fraction(6, -4).description == "-3/2")
        #expect(Fraction(Price("17.5")!) == Fraction(35, 2))
        #expect(Fraction(Rate("0.2")!) == Fraction(1, 5))
        #expect(Fraction(Quantity(raw: -1)) == Fraction(-1, 100_000_000))
    }

    @Test("arithmetic is exact")
    func arithmetic() {
        #expect(Fraction(1, 3) + Fraction(1, 6) == Fraction(1, 2))
        #expect(Fraction(1, 2) - Fraction(3, 4) == Fraction(-1, 4))
        #expect(Fraction(2, 3) * Fraction(9, 4) == Fraction(3, 2))
        #expect(Fraction(1, 2) / Fraction(1, 4) == Fraction(2))
        #expect(Fraction(1, 2) / Fraction(-1, 4) == Fraction(-2))
        #expect(-Fraction(2, 5) == Fraction(-2, 5))
        #expect(Fraction(0) * Fraction(5, 7) == Fraction(0))
        #expect((Fraction(1, 3) * Fraction(3)).denominator == 1)
        #expect(Fraction(1, 3) < Fraction(1, 2))
        #expect(Fraction(-1, 2) < Fraction(-1, 3))
        #expect(!(Fraction(1, 2) < Fraction(2, 4)))
        #expect(Fraction(-1, 3).isNegative)
        #expect(Fraction(0, 9).isZero)
        #expect(Fraction(1, 4).doubleValue == 0.25)
        // The spec's short liquidation price, (T + q·P) / (q·(1 + M)), evaluated exactly.
        let q = Fraction(Quantity("10")!)
        let p = Fraction(Price("8")!)
        let t = Fraction(Notional("218.656")!)
        let m = Fraction(Rate("0.2")!)
        #expect((t + q * p) / (q * (Fraction(1) + m)) == Fraction(24_888, 1_000))
    }

    @Test(
        "rounds once to a fixed-point unit by the rule",
        arguments: [
            (Int64(1), Int64(3), RoundingRule.toNearestOrEven, Int64(33_333_333)),
            (1, 3, .up, 33_333_334),
            (-1, 3, .down, -33_333_334),
            (-1, 3, .up, -33_333_333),
            (2, 3, .towardZero, 66_666_666),
            (2, 3, .toNearestOrEven, 66_666_667),
            (1, 200_000_000, .toNearestOrEven, 0),  // half a raw unit: tie to even
            (3, 200_000_000, .toNearestOrEven, 2),
            (1, 200_000_000, .toNearestOrAwayFromZero, 1),
            (-1, 200_000_000, .toNearestOrAwayFromZero, -1),
            (1_800, 102, .down, 1_764_705_882),
            (1_800, 102, .up, 1_764_705_883),
            (1_200, 98, .up, 1_224_489_796),
        ])
    func rounds(numerator: Int64, denominator: Int64, rule: RoundingRule, raw: Int64) {
        #expect(Fraction(Int128(numerator), Int128(denominator)).rounded(to: Price.self, rule).raw == raw)
    }

    @Test("rounds to a Rate at 12 decimals")
    func roundsToRate() {
        #expect(Fraction(1, 3).rounded(to: Rate.self, .down) == Rate("0.333333333333"))
        #expect(Fraction(2, 3).rounded(to: Rate.self, .toNearestOrEven) == Rate("0.666666666667"))
    }

    @Test("field laws hold on random fractions (seeded)")
    func fieldLaws() {
        var rng = SplitMix64(seed: 0x5EED_0301)
        func random() -> Fraction {
            var d = Int128(Int64.random(in: -1_000_000...1_000_000, using: &rng))
            if d == 0 { d = 1 }
            return Fraction(Int128(Int64.random(in: -1_000_000_000...1_000_000_000, using: &rng)), d)
        }
        for _ in 0..<2_000 {
            let a = random()
            let b = random()
            let c = random()
            #expect(a + b - b == a)
            #expect(a + b == b + a)
            #expect(a * b == b * a)
            #expect((a + b) + c == a + (b + c))
            #expect(a * (b + c) == a * b + a * c)
            if !b.isZero { #expect(a * b / b == a) }
            #expect(Fraction.gcd(a.numerator.magnitude, a.denominator.magnitude) == 1 || a.isZero)
            #expect(a.denominator > 0)
            // Rounding brackets the value (scaled into Rate's range).
            let r = a / Fraction(1_000)
            let down = r.rounded(to: Rate.self, .down)
            let up = r.rounded(to: Rate.self, .up)
            #expect(!(r < Fraction(down)))
            #expect(!(Fraction(up) < r))
            #expect(up.raw - down.raw <= 1)
        }
    }
}
