import PerpMechanics
import PerpModel

/// The monthly rebalance (spec §1 "Rebalancing"; seed 003 "Rebalancing"): re-read the stake,
/// resize the short to it, and move collateral to `k·q·P` at the new price — deposit when the
/// price rose, withdraw the excess when it fell.
public struct RebalancePlan: Hashable, Sendable {
    /// What to do with the short.
    public enum Trade: Hashable, Sendable {
        case none
        /// Sell this many more NMR (grow the short).
        case sell(Quantity)
        /// Buy back this many NMR (shrink the short).
        case buy(Quantity)
    }

    /// What to do with collateral.
    public enum Transfer: Hashable, Sendable {
        case none
        case deposit(Notional)
        case withdraw(Notional)
    }

    public var currentShort: Quantity
    public var newShort: Quantity
    public var trade: Trade
    public var currentCollateral: Notional
    public var targetCollateral: Notional
    public var transfer: Transfer
    public var price: Price
    public var collateralMultiple: Rate
    /// Liquidation price after the rebalance.
    public var liquidationPrice: Price
    /// The price at which to warn before the next rebalance: `P + f·(P_liq − P)`.
    public var warningPrice: Price

    /// - Parameters:
    ///   - currentShort: the short's size now (positive NMR).
    ///   - currentCollateral: the account's collateral now, PnL and funding included.
    ///   - newStake: the live stake to hedge.
    ///   - price: the price now.
    ///   - collateralMultiple: `k` from ``CollateralPlan``.
    ///   - maintenanceFraction: the venue's `M`.
    ///   - lotSize: the venue's size step; the short rounds to the nearest lot.
    ///   - warnFraction: how far toward liquidation (0…1) the warning sits.
    public init(
        currentShort: Quantity, currentCollateral: Notional, newStake: Quantity, price: Price, collateralMultiple: Rate,
        maintenanceFraction: Rate, lotSize: Quantity? = nil, warnFraction: Rate = Rate("0.5")!
    ) throws {
        guard !currentShort.isNegative else {
            throw HedgeError.invalid("the current short size is a positive number of NMR (got \(currentShort))")
        }
        guard newStake.isPositive else { throw HedgeError.invalid("the new stake must be a positive number of NMR (got \(newStake))") }
        guard price.isPositive else { throw HedgeError.invalid("the price must be positive (got \(price))") }
        guard !collateralMultiple.isNegative else { throw HedgeError.invalid("the collateral multiple cannot be negative") }
        guard warnFraction.isPositive, warnFraction < Rate.one else {
            throw HedgeError.invalid("the warning fraction must be between 0 and 1, exclusive")
        }
        self.currentShort = currentShort
        self.currentCollateral = currentCollateral
        self.price = price
        self.collateralMultiple = collateralMultiple
        let target = lotSize.map { newStake.rounded(toMultipleOf: $0, rule: .toNearestOrEven) } ?? newStake
        guard target.isPositive else { throw HedgeError.invalid("the stake \(newStake) rounds to zero at the venue's lot size") }
        newShort = target
        try HedgeError.checkCarried(stake: target, price: price)
        try HedgeError.checkCarried(stake: currentShort, price: price)
        guard collateralMultiple <= CarryLimit.multiple,
            collateralMultiple.doubleValue * target.doubleValue * price.doubleValue <= CarryLimit.notional.doubleValue
        else {
            throw HedgeError.invalid(
                "k·q·P with k = \(collateralMultiple), q = \(target) and P = \(price) is beyond the \(CarryLimit.notional) USDC the tool carries"
            )
        }
        guard currentCollateral.isWithin(CarryLimit.notional) else {
            throw HedgeError.invalid("the current collateral must be at most \(CarryLimit.notional) USDC (got \(currentCollateral))")
        }
        let change = target - currentShort
        trade = change.isZero ? .none : (change.isPositive ? .sell(change) : .buy(-change))
        targetCollateral = (Fraction(collateralMultiple) * Fraction(target) * Fraction(price)).rounded(to: Notional.self, .up)
        let difference = targetCollateral - currentCollateral
        transfer = difference.isZero ? .none : (difference.isPositive ? .deposit(difference) : .withdraw(-difference))
        let liquidation = try Liquidation.price(
            side: .short, entry: price, quantity: target, collateral: targetCollateral,
            schedule: .fractions(initial: maintenanceFraction, maintenance: maintenanceFraction))
        liquidationPrice = liquidation.price ?? price
        warningPrice = price + (liquidationPrice - price).scaled(by: warnFraction, rule: .down)
    }
}
