import PerpMechanics
import PerpModel
import Testing

/// Funding payments and PnL (PerpMechanics/Funding.swift).
@Suite("Funding and PnL")
struct FundingTests {
    @Test(
        "payment = quantity × mark × rate; positive rate: longs pay shorts",
        arguments: [
            ("10", "8", "0.0001", "0.008"),
            ("-10", "8", "0.0001", "-0.008"),
            ("10", "8", "-0.0001", "-0.008"),
            ("-10", "8", "-0.0001", "0.008"),
            ("1000", "13.97417585", "0.00002903", "0.40567032"),  // 0.4056703249… to nearest
            ("0.01", "0.0001", "0.000001", "0"),  // 1e-12 rounds to zero
            ("0.00000001", "1", "0.5", "0"),  // half a raw unit: ties to even
            ("0.00000003", "1", "0.5", "0.00000002"),
            ("-0.00000003", "1", "0.5", "-0.00000002"),  // symmetric, not toward −∞
            ("0.00000005", "1", "0.5", "0.00000002"),
            ("0.00000007", "1", "0.5", "0.00000004"),
        ])
    func payment(quantity: String, mark: String, rate: String, expected: String) throws {
        let paid = FundingMath.payment(quantity: Quantity(quantity)!, mark: Price(mark)!, rate: Rate(rate)!)
        #expect(paid == Notional(expected))
    }

    @Test("a long pays exactly what an equally sized short receives (seeded)")
    func longsPayShorts() {
        var rng = SplitMix64(seed: 0x5EED_1201)
        for _ in 0..<1_000 {
            // Lighter-like grids (lot 0.01, tick 0.0001); full 8-decimal values: see the exit test below.
            let size = Quantity(raw: Int64.random(in: 1...1_000_000, using: &rng) * 1_000_000)
            let mark = Price(raw: Int64.random(in: 1...10_000_000, using: &rng) * 10_000)
            let rate = Rate(raw: Int64.random(in: -10_000_000_000...10_000_000_000, using: &rng))  // ±1 %
            let long = FundingMath.payment(quantity: size, mark: mark, rate: rate)
            let short = FundingMath.payment(quantity: -size, mark: mark, rate: rate)
            #expect(long + short == .zero, "\(size) @ \(mark) × \(rate): long \(long), short \(short)")
            // The long pays when the rate is positive.
            #expect(rate.isPositive ? !long.isNegative : !long.isPositive)
            // Rounded once: within half a raw unit of the exact product.
            let exact = Fraction(size) * Fraction(mark) * Fraction(rate)
            let error = Fraction(long) - exact
            let half = Fraction(1, 200_000_000)
            #expect(!(half < error) && !(error < -half))
            // Many longs against one short of the same total do not sum to zero in general, but a
            // book of matched pairs does.
            let book = [size, -size, size, -size].map { FundingMath.payment(quantity: $0, mark: mark, rate: rate) }
            #expect(book.reduce(Notional.zero, +) == .zero)
        }
    }

    /// `Fraction.rounded(to:_:)` multiplies the numerator by `10^8` before dividing, which
    /// overflows `Int128` (and traps) for a product of three full-precision raws even though the
    /// payment, about 15,053.41 USDC, is far inside `Notional`'s range.
    @Test("payment on full-precision inputs returns instead of trapping")
    func paymentDoesNotTrap() async {
        await #expect(processExitsWith: .success) {
            let paid = FundingMath.payment(
                quantity: Quantity("12345.67890123")!, mark: Price("987.65432101")!, rate: Rate("0.001234567891")!)
            // 12345.67890123 × 987.65432101 × 0.001234567891 = 15053.411125332897…
            precondition(paid == Notional("15053.41112533"))
        }
    }

    @Test(
        "rates rescale between funding intervals",
        arguments: [
            ("0.0001", TimeSpan.hours(8), TimeSpan.hours(1), "0.0000125"),
            ("0.0001", .hours(8), .days(1), "0.0003"),
            ("0.0001", .hours(4), .hours(8), "0.0002"),
            ("-0.000012", .hours(1), .days(1), "-0.000288"),
            ("0.000000000001", .hours(8), .hours(1), "0"),  // 1/8 of a raw unit rounds to zero
        ])
    func rescale(rate: String, from: TimeSpan, to: TimeSpan, expected: String) {
        #expect(FundingMath.rescale(Rate(rate)!, from: from, to: to) == Rate(expected))
    }

    @Test("unrealised PnL and equity")
    func pnl() {
        #expect(PnL.unrealized(side: .long, quantity: Quantity(10), entry: Price(8), mark: Price(9)) == Notional(10))
        #expect(PnL.unrealized(side: .short, quantity: Quantity(10), entry: Price(8), mark: Price(9)) == Notional(-10))
        #expect(PnL.unrealized(side: .short, quantity: Quantity("2.5")!, entry: Price(8), mark: Price("7.5")!) == Notional("1.25"))
        #expect(
            PnL.equity(collateral: Notional("218.656")!, side: .short, quantity: Quantity(10), entry: Price(8), mark: Price("24.888")!)
                == Notional("49.776"))
        // The spec's balance under stress, T_s = T + q·(P − P_s), equals equity of the short.
        var rng = SplitMix64(seed: 0x5EED_1202)
        for _ in 0..<500 {
            let q = Quantity(raw: Int64.random(in: 1...100_000, using: &rng) * 1_000_000)
            let entry = Price(raw: Int64.random(in: 1...2_000_000, using: &rng) * 10_000)
            let mark = Price(raw: Int64.random(in: 1...2_000_000, using: &rng) * 10_000)
            let collateral = Notional(raw: Int64.random(in: 0...100_000_000_000, using: &rng))
            let short = PnL.equity(collateral: collateral, side: .short, quantity: q, entry: entry, mark: mark)
            #expect(short == collateral + (entry - mark) * q)
            let long = PnL.equity(collateral: collateral, side: .long, quantity: q, entry: entry, mark: mark)
            #expect(long - collateral == -(short - collateral), "a long's PnL is the short's, negated")
        }
    }
}
