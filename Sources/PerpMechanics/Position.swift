import PerpModel

/// A net position on one market with an exact cost basis, so that partial closes and flips
/// realise PnL only on the closed part (reliability.md, money invariants).
public struct Position: Hashable, Sendable {
    /// Signed size: positive long, negative short, zero flat.
    public private(set) var quantity: Quantity = .zero
    /// Signed entry value `Σ q·price` of the open size (same sign as `quantity`).
    public private(set) var costBasis: Notional = .zero

    public init() {}

    public var isFlat: Bool { quantity.isZero }
    public var side: Side? { quantity.isZero ? nil : (quantity.isPositive ? .long : .short) }

    /// Average entry price (exact basis divided by size, rounded to nearest).
    public var entryPrice: Price? {
        quantity.isZero ? nil : costBasis.divided(by: quantity, rule: .toNearestOrEven)
    }

    /// Unrealised PnL at `mark`: `q·mark − basis`.
    public func unrealizedPnL(mark: Price) -> Notional { mark.times(quantity) - costBasis }

    /// Applies a fill of signed `delta` (+ buy, − sell) at `price` and returns the PnL realised
    /// by the part that reduced the position.
    @discardableResult
    public mutating func apply(delta: Quantity, price: Price) -> Notional {
        guard !delta.isZero else { return .zero }
        if quantity.isZero || quantity.isPositive == delta.isPositive {
            quantity += delta
            costBasis += price.times(delta)
            return .zero
        }
        let closing = delta.magnitude < quantity.magnitude ? delta : -quantity
        // The basis released is proportional to the closed size.
        let released = Notional(raw: FixedMath.mulDiv(costBasis.raw, -closing.raw, quantity.raw, .toNearestOrEven))
        // Closing `-closing` units of the position: PnL = exit value − released basis.
        let realized = price.times(-closing) - released
        quantity += closing
        costBasis -= released
        if quantity.isZero { costBasis = .zero }
        let remainder = delta - closing
        if !remainder.isZero {
            quantity = remainder
            costBasis = price.times(remainder)
        }
        return realized
    }
}
