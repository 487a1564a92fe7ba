import PerpMechanics
import PerpModel

// Shared fixtures and exact reference formulas for the mechanics tests.

/// Binance-style tiers with `cum` continuity: the requirement `notional × rate − cum` is the
/// same on both sides of every floor (50 at 5,000; 550 at 25,000; 4,300 at 100,000).
let continuousBrackets: [MarginBracket] = [
    MarginBracket(
        notionalFloor: Notional(0), notionalCap: Notional(5_000), maintenanceRate: Rate("0.01")!,
        maintenanceAmount: Notional(0), maxLeverage: 50),
    MarginBracket(
        notionalFloor: Notional(5_000), notionalCap: Notional(25_000), maintenanceRate: Rate("0.025")!,
        maintenanceAmount: Notional(75), maxLeverage: 20),
    MarginBracket(
        notionalFloor: Notional(25_000), notionalCap: Notional(100_000), maintenanceRate: Rate("0.05")!,
        maintenanceAmount: Notional(700), maxLeverage: 10),
    MarginBracket(
        notionalFloor: Notional(100_000), notionalCap: Notional(1_000_000_000), maintenanceRate: Rate("0.1")!,
        maintenanceAmount: Notional(5_700), maxLeverage: 5),
]

/// Exact equity `T + s·q·(p − E)` of an isolated position.
func exactEquity(side: Side, entry: Price, quantity: Quantity, collateral: Notional, at price: Price) -> Fraction {
    Fraction(collateral) + Fraction(Int128(side.sign)) * Fraction(quantity) * (Fraction(price) - Fraction(entry))
}

/// Exact maintenance `m·q·p − cum` with the bracket (or flat fraction) that holds at `price`.
func exactMaintenance(quantity: Quantity, at price: Price, schedule: MarginSchedule) -> Fraction {
    let notional = Fraction(quantity) * Fraction(price)
    let (rate, amount) = Margin.maintenanceTerms(notional: price * quantity, schedule: schedule)
    return notional * Fraction(rate) - Fraction(amount)
}

/// Random inputs for property tests, on Lighter-like grids (tick 0.0001, lot 0.01).
struct RandomPosition: CustomStringConvertible {
    var side: Side
    var entry: Price
    var quantity: Quantity
    var collateral: Notional

    init(using rng: inout SplitMix64, maxNotional: Int64 = 500_000) {
        side = Bool.random(using: &rng) ? .long : .short
        entry = Price(raw: Int64.random(in: 5_000...2_000_000, using: &rng) * 10_000)  // 0.5 to 200
        let maxLots = max(1, maxNotional * 100 * 100_000_000 / entry.raw)
        quantity = Quantity(raw: Int64.random(in: 1...min(maxLots, 1_000_000), using: &rng) * 1_000_000)
        let notional = entry * quantity
        // 1 % to 150 % of notional.
        let share = Rate(raw: Int64.random(in: 10_000_000_000...1_500_000_000_000, using: &rng))
        collateral = max(Notional("0.01")!, notional.times(share).rounded(toMultipleOf: Notional(raw: 1_000_000), rule: .down))
    }

    var description: String { "\(side) \(quantity) @ \(entry) with \(collateral)" }
}
