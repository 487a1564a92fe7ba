import PerpModel

/// Funding payments (spec §3, corrected from seed 002): a rate per interval applied to the
/// position's notional at mark. Positive rate: longs pay shorts (Binance `fundingRate`,
/// Lighter hourly funding).
public enum FundingMath {
    /// What a position of signed `quantity` (+ long, − short) pays at one settlement:
    /// `quantity × mark × rate`, rounded once to the nearest (ties to even). Positive means the
    /// holder pays; negative means the holder receives. A long and a short of the same size get
    /// exactly opposite amounts.
    public static func payment(quantity: Quantity, mark: Price, rate: Rate) -> Notional {
        // Fast path: the exact product in 128 bits, one rounding division by 10^20.
        let (first, overflowA) = Int128(quantity.raw).multipliedReportingOverflow(by: Int128(mark.raw))
        if !overflowA {
            let (product, overflowB) = first.multipliedReportingOverflow(by: Int128(rate.raw))
            if !overflowB {
                let scale = Int128(Price.scale) * Int128(Rate.scale) * Int128(Quantity.scale) / Int128(Notional.scale)
                return Notional(raw: Int64(FixedMath.divide(product, scale, .toNearestOrEven)))
            }
        }
        let exact = Fraction(quantity) * Fraction(mark) * Fraction(rate)
        let magnitude = (exact.isNegative ? -exact : exact).rounded(to: Notional.self, .toNearestOrEven)
        return exact.isNegative ? -magnitude : magnitude
    }

    /// Converts a rate for `interval` to the equivalent for `target` (simple scaling, as the
    /// venues quote "per 8 h equivalent").
    public static func rescale(_ rate: Rate, from interval: TimeSpan, to target: TimeSpan) -> Rate {
        precondition(interval.milliseconds > 0, "funding interval must be positive")
        return Rate(
            raw: Int64(FixedMath.divide(Int128(rate.raw) * Int128(target.milliseconds), Int128(interval.milliseconds), .toNearestOrEven)))
    }
}

/// Profit and loss (spec §3).
public enum PnL {
    /// Unrealised PnL of `quantity > 0` on `side` opened at `entry`, marked at `mark`:
    /// `s·q·(mark − entry)`.
    public static func unrealized(side: Side, quantity: Quantity, entry: Price, mark: Price) -> Notional {
        let move = Int64(side.sign) * (mark - entry).raw
        return Price(raw: move).times(quantity)
    }

    /// Equity of an isolated position: collateral plus unrealised PnL.
    public static func equity(collateral: Notional, side: Side, quantity: Quantity, entry: Price, mark: Price) -> Notional {
        collateral + unrealized(side: side, quantity: quantity, entry: entry, mark: mark)
    }
}
