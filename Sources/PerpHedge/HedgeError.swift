import PerpModel

/// Inputs a hedge calculation cannot accept; each message says what to change.
public enum HedgeError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let message): return message
        }
    }
}

extension HedgeError {
    /// A stake and price the tool carries: `q ≤` ``CarryLimit/quantity``, `P ≤`
    /// ``CarryLimit/price`` and `q·P ≤` ``CarryLimit/notional`` (issue 11: a clear error, never a trap).
    public static func checkCarried(stake: Quantity, price: Price) throws {
        guard stake.isWithin(CarryLimit.quantity) else {
            throw HedgeError.invalid("the stake must be at most \(CarryLimit.quantity) NMR, the most the tool carries (got \(stake))")
        }
        guard price.isWithin(CarryLimit.price) else {
            throw HedgeError.invalid("the price must be at most \(CarryLimit.price) USDC, the highest the tool carries (got \(price))")
        }
        let value = Int128(stake.raw.magnitude) * Int128(price.raw.magnitude)
        guard value <= Int128(CarryLimit.notional.raw) * Int128(Quantity.scale) else {
            throw HedgeError.invalid(
                "the stake's value, \(stake) NMR at \(price) USDC, is beyond the \(CarryLimit.notional) USDC the tool carries; check the stake and the price"
            )
        }
    }
}
