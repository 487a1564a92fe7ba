import PerpMechanics
import PerpModel
import Testing

/// Initial and maintenance margin (Margin.swift).
@Suite("Margin")
struct MarginTests {
    static let schedule = MarginSchedule.brackets(continuousBrackets)

    @Test(
        "maintenance with continuous brackets: notional × rate − cum",
        arguments: [
            ("0", "0"),
            ("4000", "40"),
            ("4999.99999999", "50"),  // 0.0499999999 rounded up to 8 decimals
            ("5000", "50"),  // 0.025 × 5,000 − 75: continuous with the bracket below
            ("10000", "175"),
            ("-10000", "175"),  // a short's notional counts by magnitude
            ("25000", "550"),
            ("30000", "800"),
            ("100000", "4300"),
            ("250000", "19300"),
            ("2000000000", "199994300"),  // beyond the last cap: the top bracket
        ])
    func bracketMaintenance(notional: String, expected: String) throws {
        #expect(Margin.maintenance(notional: Notional(notional)!, schedule: Self.schedule) == Notional(expected))
    }

    @Test("the requirement is continuous across every bracket floor")
    func continuity() {
        for bracket in continuousBrackets.dropFirst() {
            let floor = bracket.notionalFloor
            let below = Margin.maintenance(notional: floor - Notional(raw: 1), schedule: Self.schedule)
            let at = Margin.maintenance(notional: floor, schedule: Self.schedule)
            #expect((at - below).magnitude <= Notional(raw: 1), "at \(floor): \(below) then \(at)")
            #expect(Margin.bracket(for: floor, in: continuousBrackets) == bracket)
            #expect(Margin.bracket(for: floor - Notional(raw: 1), in: continuousBrackets).notionalCap == floor)
        }
    }

    @Test("maintenance rounds up and never goes negative")
    func maintenanceRounding() {
        let flat = MarginSchedule.fractions(initial: Rate("0.3333")!, maintenance: Rate("0.2")!)
        #expect(Margin.maintenance(notional: Notional(80), schedule: flat) == Notional(16))
        #expect(Margin.maintenance(notional: Notional(-80), schedule: flat) == Notional(16))
        #expect(Margin.maintenance(notional: Notional(raw: 1), schedule: flat) == Notional(raw: 1), "0.2 raw rounds up to 1")
        let negativeAmount = MarginSchedule.brackets([
            MarginBracket(
                notionalFloor: .zero, notionalCap: Notional(100), maintenanceRate: Rate("0.01")!, maintenanceAmount: Notional(5),
                maxLeverage: 10)
        ])
        #expect(Margin.maintenance(notional: Notional(100), schedule: negativeAmount) == .zero)
        let terms = Margin.maintenanceTerms(notional: Notional(30_000), schedule: Self.schedule)
        #expect(terms.rate == Rate("0.05"))
        #expect(terms.amount == Notional(700))
        let flatTerms = Margin.maintenanceTerms(notional: Notional(1_000_000), schedule: flat)
        #expect(flatTerms.rate == Rate("0.2"))
        #expect(flatTerms.amount == .zero)
    }

    @Test("initial margin: by leverage, by fraction, by bracket; rounded up")
    func initial() {
        let lighter = MarketSpec.lighterNMR.margin
        #expect(Margin.initial(notional: Notional(1_500), schedule: lighter, leverage: 20) == Notional(75))
        #expect(Margin.initial(notional: Notional(-1_500), schedule: lighter, leverage: 20) == Notional(75))
        #expect(Margin.initial(notional: Notional("1000.00000001")!, schedule: lighter, leverage: 3) == Notional("333.33333334"))
        #expect(Margin.initial(notional: Notional(80), schedule: lighter) == Notional("26.664"))
        #expect(Margin.initial(notional: Notional(10_000), schedule: Self.schedule) == Notional(500))  // 1/20
        #expect(Margin.initial(notional: Notional(1_000), schedule: Self.schedule) == Notional(20))  // 1/50
        #expect(continuousBrackets[1].initialRate == Rate("0.05"))
        #expect(continuousBrackets[2].initialRate == Rate("0.1"))
    }

    @Test("maximum leverage")
    func maxLeverage() {
        #expect(Margin.maxLeverage(notional: Notional(80), schedule: MarketSpec.lighterNMR.margin) == Rate("3.000300030003"))
        #expect(Margin.maxLeverage(notional: Notional(10_000), schedule: Self.schedule) == Rate(20))
        #expect(Margin.maxLeverage(notional: Notional(200_000), schedule: Self.schedule) == Rate(5))
    }

    @Test("initial margin at maximum leverage always covers maintenance (seeded)")
    func initialCoversMaintenance() {
        var rng = SplitMix64(seed: 0x5EED_1101)
        for _ in 0..<500 {
            let notional = Notional(raw: Int64.random(in: 1...50_000_000_000_000, using: &rng))
            #expect(
                Margin.initial(notional: notional, schedule: Self.schedule)
                    >= Margin.maintenance(notional: notional, schedule: Self.schedule),
                "\(notional)")
            let lighter = MarketSpec.lighterNMR.margin
            #expect(Margin.initial(notional: notional, schedule: lighter) >= Margin.maintenance(notional: notional, schedule: lighter))
            let leverage = Int.random(in: 1...125, using: &rng)
            let byLeverage = Margin.initial(notional: notional, schedule: lighter, leverage: leverage)
            // Rounded up: at most one raw unit above the exact quotient, never below.
            #expect(Int128(byLeverage.raw) * Int128(leverage) >= Int128(notional.raw))
            #expect(Int128(byLeverage.raw - 1) * Int128(leverage) < Int128(notional.raw))
        }
    }
}
