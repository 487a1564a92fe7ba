import PerpModel
import Testing

/// Decimal text ⇄ fixed point: `DecimalParser`, `DecimalFormatter`, `FixedMath`.
@Suite("Decimal parsing and formatting")
struct DecimalTests {
    // MARK: Parsing

    @Test(
        "parses venue decimal text exactly into an 8-decimal Price",
        arguments: [
            // A float artefact from a pandas CSV (shared/data binance_spot 1d file): rounds to 22.168.
            ("22.168000000000003", Int64(2_216_800_000)),
            ("23.186999999999998", 2_318_700_000),
            ("5e-05", 5_000),
            ("4.183e-05", 4_183),
            ("-0.0001", -10_000),
            ("+1", 100_000_000),
            (".5", 50_000_000),
            ("17.647059", 1_764_705_900),
            ("0", 0),
            ("-0", 0),
            ("000123.4500", 12_345_000_000),
            ("1E2", 10_000_000_000),
            ("1e+2", 10_000_000_000),
            ("12.5e-1", 125_000_000),
            ("0.00000001", 1),
            ("-0.00000001", -1),
            // Ties past the 8th decimal go to the even neighbour.
            ("0.000000005", 0),
            ("0.000000015", 2),
            ("0.000000025", 2),
            ("-0.000000025", -2),
            ("0.0000000250000000000000000001", 3),  // not a tie: a far digit breaks it
            ("1e-400", 0),
            ("0e400", 0),
            ("92233720368", 9_223_372_036_800_000_000),
            ("-92233720368", -9_223_372_036_800_000_000),
        ])
    func parsesPrice(text: String, raw: Int64) throws {
        let price = try #require(Price(text), "\(text) should parse")
        #expect(price.raw == raw)
    }

    @Test(
        "parses rates to 12 decimals",
        arguments: [
            ("4.183e-05", Int64(41_830_000)),
            ("5e-05", 50_000_000),
            ("3.20592e-05", 32_059_200),
            ("0.2", 200_000_000_000),
            ("-0.000012", -12_000_000),
            ("2.7332", 2_733_200_000_000),
        ])
    func parsesRate(text: String, raw: Int64) throws {
        let rate = try #require(Rate(text))
        #expect(rate.raw == raw)
    }

    @Test(
        "rejects text that is not a plain decimal literal",
        arguments: [
            "", "nan", "NaN", "inf", "-inf", "Infinity", "1.2.3", "1e", "1e+", "1e-", "abc", "-", "+", ".", "..5",
            "--1", "+-1", " 1", "1 ", "1,5", "0x10", "1e5x", "1_000", "e5", "12a", "١٢",
            // Out of Int64 range at 8 decimals.
            "92233720369", "-92233720369", "1e11", "1e30",
        ])
    func rejects(text: String) {
        #expect(Price(text) == nil)
        #expect(Quantity(text) == nil)
    }

    @Test(
        "parses with an explicit rounding rule",
        arguments: [
            ("0.000000025", RoundingRule.toNearestOrEven, Int64(2)),
            ("0.000000035", .toNearestOrEven, 4),
            ("0.000000025", .toNearestOrAwayFromZero, 3),
            ("-0.000000025", .toNearestOrAwayFromZero, -3),
            ("0.000000021", .up, 3),
            ("-0.000000029", .up, -2),
            ("0.000000029", .down, 2),
            ("-0.000000021", .down, -3),
            ("0.000000029", .towardZero, 2),
            ("-0.000000029", .towardZero, -2),
            ("1e-400", .up, 1),
            ("-1e-400", .down, -1),
            ("-1e-400", .up, 0),
            ("22.168000000000003", .up, 2_216_800_001),
        ])
    func parsesWithRule(text: String, rule: RoundingRule, raw: Int64) throws {
        let price = try #require(Price(text, rounding: rule))
        #expect(price.raw == raw)
    }

    /// Values with 19 significant digits are inside `Int64` at 8 decimals but lose their last
    /// digit (the parser keeps 18 digits and ignores the dropped one when the scale is positive).
    @Test(
        "parses every in-range value with 19 significant digits exactly",
        arguments: [
            ("92233720368.54775807", Int64.max),
            ("-92233720368.54775807", -Int64.max),
            ("12345678901.12345678", 1_234_567_890_112_345_678),
            ("10000000000.00000001", 1_000_000_000_000_000_001),
        ])
    func parsesNineteenDigits(text: String, raw: Int64) throws {
        let price = try #require(Price(text))
        #expect(price.raw == raw)
    }

    /// `Int64.min` has no positive twin: its magnitude or negation would trap, so it is out of
    /// range like any value beyond `Int64` (issue 11).
    @Test("the one value without a negation is out of range")
    func int64MinIsOutOfRange() {
        #expect(Price("-92233720368.54775808") == nil)
        #expect(Rate("-9223372.036854775808") == nil)
        #expect(Rate("-9223372.036854775807")?.raw == -Int64.max)
    }

    // MARK: Formatting

    @Test(
        "description is the shortest exact decimal",
        arguments: [
            (Int64(30_000_000_000), "300"),
            (10_000, "0.0001"),
            (-1, "-0.00000001"),
            (1_764_705_882, "17.64705882"),
            (-150_000_000, "-1.5"),
            (0, "0"),
            (Int64.max, "92233720368.54775807"),
            (Int64.min, "-92233720368.54775808"),
        ])
    func description(raw: Int64, text: String) {
        #expect(Price(raw: raw).description == text)
    }

    @Test(
        "formatted(places:) rounds by the rule and pads",
        arguments: [
            (Int64(1_764_705_882), 6, RoundingRule.toNearestOrEven, "17.647059"),
            (1_764_705_882, 2, .toNearestOrEven, "17.65"),
            (1_764_705_882, 2, .down, "17.64"),
            (1_224_489_796, 6, .toNearestOrEven, "12.244898"),
            (250_000_000, 0, .toNearestOrEven, "2"),
            (350_000_000, 0, .toNearestOrEven, "4"),
            (250_000_000, 0, .toNearestOrAwayFromZero, "3"),
            (-250_000_000, 0, .toNearestOrAwayFromZero, "-3"),
            (-250_000_000, 0, .up, "-2"),
            (-250_000_000, 0, .down, "-3"),
            (150_000_000, 10, .toNearestOrEven, "1.5000000000"),
            (150_000_000, 8, .toNearestOrEven, "1.50000000"),
            (-1, 2, .toNearestOrEven, "0.00"),  // never "-0.00"
            (0, 3, .toNearestOrEven, "0.000"),
        ])
    func formatted(raw: Int64, places: Int, rule: RoundingRule, text: String) {
        #expect(Price(raw: raw).formatted(places: places, rule: rule) == text)
    }

    @Test("Rate prints all 12 decimals when needed")
    func rateDescription() {
        #expect(Rate(raw: 1).description == "0.000000000001")
        #expect(Rate(basisPointsOf10000: 2000).description == "0.2")
        #expect(Rate(raw: 41_830_000).description == "0.00004183")
    }

    // MARK: Round trip (property)

    @Test("description → parse returns the same raw value (seeded, 20,000 cases)")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        // "Sane" range: up to 18 significant digits (|raw| < 10^18), i.e. ten billion at 8
        // decimals, with a bias toward short values where trailing-zero trimming matters.
        for index in 0..<20_000 {
            let digits = Int64.random(in: 1...18, using: &rng)
            let bound = FixedMath.pow10[Int(digits)] - 1
            var raw = Int64.random(in: -bound...bound, using: &rng)
            if index % 3 == 0 { raw = raw / 1000 * 1000 }
            let price = Price(raw: raw)
            let parsed = try #require(Price(price.description), "\(raw) printed as \(price.description)")
            #expect(parsed.raw == raw, "\(raw) → \(price.description) → \(parsed.raw)")
            let rate = Rate(raw: raw)
            #expect(Rate(rate.description)?.raw == raw)
            // The padded form parses back too.
            #expect(Price(price.formatted(places: 8))?.raw == raw)
            #expect(Price(price.formatted(places: 12))?.raw == raw)
        }
    }

    @Test("formatted(places:) agrees with FixedMath.rescale for every rule (seeded)")
    func formattedMatchesRescale() throws {
        var rng = SplitMix64(seed: 0x5EED_0002)
        let rules: [RoundingRule] = [.toNearestOrEven, .toNearestOrAwayFromZero, .up, .down, .towardZero]
        for _ in 0..<2_000 {
            let raw = Int64.random(in: -10_000_000_000...10_000_000_000, using: &rng)
            let places = Int.random(in: 0...7, using: &rng)
            for rule in rules {
                let text = Price(raw: raw).formatted(places: places, rule: rule)
                let expected = FixedMath.rescale(raw, from: 8, to: places, rule) * FixedMath.pow10[8 - places]
                #expect(Price(text)?.raw == expected, "\(raw) at \(places) places by \(rule): \(text)")
            }
        }
    }

    // MARK: FixedMath

    @Test(
        "divide rounds ties and non-ties by the named rule",
        arguments: [
            (Int64(5), Int64(2), RoundingRule.toNearestOrEven, Int64(2)),
            (7, 2, .toNearestOrEven, 4),
            (-5, 2, .toNearestOrEven, -2),
            (-7, 2, .toNearestOrEven, -4),
            (5, -2, .toNearestOrEven, -2),
            (5, 2, .toNearestOrAwayFromZero, 3),
            (-5, 2, .toNearestOrAwayFromZero, -3),
            (7, 3, .toNearestOrEven, 2),
            (8, 3, .toNearestOrEven, 3),
            (-8, 3, .toNearestOrAwayFromZero, -3),
            (5, 2, .up, 3),
            (-5, 2, .up, -2),
            (5, -2, .up, -2),
            (5, 2, .down, 2),
            (-5, 2, .down, -3),
            (5, -2, .down, -3),
            (-5, -2, .down, 2),
            (-5, 2, .towardZero, -2),
            (5, 2, .towardZero, 2),
            (6, 3, .up, 2),
            (-6, 3, .down, -2),
            (0, 7, .down, 0),
        ])
    func divide(numerator: Int64, denominator: Int64, rule: RoundingRule, expected: Int64) {
        // (Int64 arguments: Swift Testing 6.3.1 crashes on Linux with Int128 test arguments here.)
        #expect(FixedMath.divide(Int128(numerator), Int128(denominator), rule) == Int128(expected))
    }

    @Test("mulDiv is exact past 64-bit intermediates")
    func mulDiv() {
        // 9.2e18 × 10 / 10 overflows Int64 in the product but not in the result.
        #expect(FixedMath.mulDiv(Int64.max, 10, 10, .toNearestOrEven) == Int64.max)
        #expect(FixedMath.mulDiv(3_000_000_000_000, 3_000_000_000_000, 1_000_000_000_000_000, .down) == 9_000_000_000)
        #expect(FixedMath.mulDiv(1, 1, 3, .up) == 1)
        #expect(FixedMath.mulDiv(-1, 1, 3, .up) == 0)
        #expect(FixedMath.mulDiv(-1, 1, 3, .down) == -1)
        #expect(FixedMath.mulDiv(5, 1, 10, .toNearestOrEven) == 0)
        #expect(FixedMath.mulDiv(15, 1, 10, .toNearestOrEven) == 2)
    }

    @Test("rescale moves between scales with the rule")
    func rescale() {
        #expect(FixedMath.rescale(1_764_705_882, from: 8, to: 6, .toNearestOrEven) == 17_647_059)
        #expect(FixedMath.rescale(1_764_705_882, from: 8, to: 6, .down) == 17_647_058)
        #expect(FixedMath.rescale(-1_764_705_882, from: 8, to: 6, .towardZero) == -17_647_058)
        #expect(FixedMath.rescale(17, from: 0, to: 12, .toNearestOrEven) == 17_000_000_000_000)
        #expect(FixedMath.rescale(42, from: 5, to: 5, .up) == 42)
        #expect(FixedMath.pow10.count == 19)
        #expect(FixedMath.pow10[18] == 1_000_000_000_000_000_000)
    }
}
