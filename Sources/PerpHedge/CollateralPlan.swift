import PerpMechanics
import PerpModel

/// The collateral that keeps a short of the stake alive through a price multiple `g`
/// (spec §1, seed 003 "Accounting for Liquidation risk", Formula 1).
///
/// Under stress the balance is `T_s = T + q·(P − P_s)`; no liquidation needs
/// `T_s > α·M·q·P_s`; with `P_s = g·P` this gives `T > q·P·[(g − 1) + α·g·M]`.
/// The collateral multiple is `k = (g − 1) + α·g·M`, the collateral `T = k·q·P`.
public struct CollateralPlan: Hashable, Sendable {
    public var stake: Quantity
    public var price: Price
    public var g: Rate
    public var alpha: Rate
    public var maintenanceFraction: Rate
    /// `k = (g − 1) + α·g·M`, exact.
    public var collateralMultiple: Rate
    /// `q·P`.
    public var notional: Notional
    /// `k·q·P`, rounded up (never less than the formula asks).
    public var collateral: Notional
    /// The short's liquidation price with that collateral, isolated, no fees:
    /// `P_liq = (T + q·P) / (q·(1 + M))`, rounded down.
    public var liquidationPrice: Price
    /// The price the plan is built to survive, `g·P`.
    public var survivesUpTo: Price

    /// Builds the plan. Throws for a non-positive stake or price, `g < 1`, `α < 1`, or `M`
    /// outside (0, 1).
    public init(stake: Quantity, price: Price, g: Rate, alpha: Rate, maintenanceFraction: Rate) throws {
        try CollateralPlan.validate(stake: stake, price: price, g: g, alpha: alpha, maintenanceFraction: maintenanceFraction)
        self.stake = stake
        self.price = price
        self.g = g
        self.alpha = alpha
        self.maintenanceFraction = maintenanceFraction
        collateralMultiple = CollateralPlan.multiple(g: g, alpha: alpha, maintenanceFraction: maintenanceFraction)
        notional = price.times(stake)
        let exactCollateral = Fraction(collateralMultiple) * Fraction(stake) * Fraction(price)
        collateral = exactCollateral.rounded(to: Notional.self, .up)
        let liquidation = try Liquidation.price(
            side: .short, entry: price, quantity: stake, collateral: collateral,
            schedule: .fractions(initial: maintenanceFraction, maintenance: maintenanceFraction))
        liquidationPrice = liquidation.price ?? price
        survivesUpTo = price.scaled(by: g, rule: .down)
    }

    /// `k = (g − 1) + α·g·M`, exact at `Rate`'s 12 decimals (rounded up in the last place).
    public static func multiple(g: Rate, alpha: Rate, maintenanceFraction: Rate) -> Rate {
        let exact = Fraction(g) - Fraction(Rate.one) + Fraction(alpha) * Fraction(g) * Fraction(maintenanceFraction)
        return exact.rounded(to: Rate.self, .up)
    }

    /// The price multiple that liquidates a short backed by `k·q·P` (no safety factor):
    /// `T + q·P·(1 − g) = M·q·P·g` ⇒ `g_liq = (1 + k) / (1 + M)`.
    public static func liquidationMultiple(collateralMultiple k: Rate, maintenanceFraction: Rate) -> Fraction {
        (Fraction(Rate.one) + Fraction(k)) / (Fraction(Rate.one) + Fraction(maintenanceFraction))
    }

    static func validate(stake: Quantity, price: Price, g: Rate, alpha: Rate, maintenanceFraction: Rate) throws {
        guard stake.isPositive else { throw HedgeError.invalid("the stake must be a positive number of NMR (got \(stake))") }
        guard price.isPositive else { throw HedgeError.invalid("the price must be positive (got \(price))") }
        guard g >= Rate.one else { throw HedgeError.invalid("g is a worst-case price multiple and must be at least 1 (got \(g))") }
        guard alpha >= Rate.one else { throw HedgeError.invalid("alpha is a safety factor and must be at least 1 (got \(alpha))") }
        guard maintenanceFraction.isPositive, maintenanceFraction < Rate.one else {
            throw HedgeError.invalid(
                "the margin fraction must be between 0 and 1, exclusive (got \(maintenanceFraction)); Lighter's NMR market uses 0.2")
        }
        try HedgeError.checkCarried(stake: stake, price: price)
        guard g <= CarryLimit.multiple else {
            throw HedgeError.invalid("g must be at most \(CarryLimit.multiple), the largest price multiple the tool carries (got \(g))")
        }
        guard alpha <= CarryLimit.multiple else {
            throw HedgeError.invalid(
                "alpha must be at most \(CarryLimit.multiple), the largest safety factor the tool carries (got \(alpha))")
        }
        // k·q·P, estimated (15 significant digits are plenty to compare with a limit that
        // leaves the exact arithmetic below 17 times headroom in 128 bits).
        let k = multiple(g: g, alpha: alpha, maintenanceFraction: maintenanceFraction)
        let estimate = k.doubleValue * stake.doubleValue * price.doubleValue
        guard estimate <= CarryLimit.notional.doubleValue else {
            throw HedgeError.invalid(
                "the collateral would be about \(Int64(min(estimate, 9e18))) USDC, beyond the \(CarryLimit.notional) the tool carries; check --stake, --price and g"
            )
        }
    }
}
