import PerpModel

/// Liquidation and bankruptcy prices (spec §1 and §3).
///
/// A position of `q > 0` at entry `E` on side `s` (+1 long, −1 short) backed by collateral `T`
/// has equity `T + s·q·(p − E)` at price `p` and maintenance requirement `m·q·p − cum`.
/// It is liquidated when equity ≤ maintenance, so the liquidation price solves
/// `T + s·q·(p − E) = m·q·p − cum`:
///
/// - long:  `p = (q·E − T − cum) / (q·(1 − m))`
/// - short: `p = (q·E + T + cum) / (q·(1 + m))`  (spec §1: `P_liq = (T + q·P) / (q·(1 + M))`)
///
/// The bankruptcy price (equity zero) is `E − T/q` (long) and `E + T/q` (short).
/// Isolated margin: `T` is the position's own collateral. Cross margin: `T` is the account's
/// wallet balance plus the other positions' unrealised PnL minus their maintenance
/// (``crossCollateral(walletBalance:othersUnrealizedPnL:othersMaintenance:)``); the formula is
/// then the same (Binance USD-M "Liquidation Price Calculation", single-position form).
/// Fees of the liquidation order are not included, as the venues' displayed prices do not.
public enum Liquidation {
    /// Where a liquidation price lies and how it was found.
    public struct Result: Hashable, Sendable {
        /// `nil` when the position cannot be liquidated at any positive price (a long backed by
        /// more collateral than its notional needs).
        public var price: Price?
        /// The maintenance rate and amount of the bracket that holds at that price.
        public var maintenanceRate: Rate
        public var maintenanceAmount: Notional
    }

    /// The liquidation price, rounded toward the market (a long's up, a short's down) so the
    /// printed price is never past the true one.
    public static func price(
        side: Side, entry: Price, quantity: Quantity, collateral: Notional, schedule: MarginSchedule
    ) throws -> Result {
        guard quantity.isPositive else { throw MechanicsError.nonPositive("quantity") }
        guard entry.isPositive else { throw MechanicsError.nonPositive("entry price") }
        switch schedule {
        case .fractions(_, let maintenance):
            try checkFraction(maintenance)
            return Result(
                price: solve(side: side, entry: entry, quantity: quantity, collateral: collateral, rate: maintenance, amount: .zero),
                maintenanceRate: maintenance, maintenanceAmount: .zero)
        case .brackets(let brackets):
            guard !brackets.isEmpty else { throw MechanicsError.emptyBrackets }
            for bracket in brackets { try checkFraction(bracket.maintenanceRate) }
            // The bracket depends on the notional at the liquidation price: take the one whose
            // solution falls inside its own notional range (exactly one does when the `cum`
            // amounts keep the requirement continuous, as Binance's do).
            for bracket in brackets {
                guard
                    let candidate = exactSolution(
                        side: side, entry: entry, quantity: quantity, collateral: collateral, rate: bracket.maintenanceRate,
                        amount: bracket.maintenanceAmount)
                else { continue }
                let notional = Fraction(quantity) * candidate
                let inside =
                    !(notional < Fraction(bracket.notionalFloor)) && (notional < Fraction(bracket.notionalCap) || bracket == brackets.last)
                if inside {
                    return Result(
                        price: round(candidate, side: side), maintenanceRate: bracket.maintenanceRate,
                        maintenanceAmount: bracket.maintenanceAmount)
                }
            }
            let fallback = Margin.bracket(for: entry * quantity, in: brackets)
            return Result(
                price: solve(
                    side: side, entry: entry, quantity: quantity, collateral: collateral, rate: fallback.maintenanceRate,
                    amount: fallback.maintenanceAmount),
                maintenanceRate: fallback.maintenanceRate, maintenanceAmount: fallback.maintenanceAmount)
        }
    }

    /// The price at which equity reaches zero (`E ∓ T/q`), rounded toward the market.
    public static func bankruptcyPrice(side: Side, entry: Price, quantity: Quantity, collateral: Notional) throws -> Price? {
        guard quantity.isPositive else { throw MechanicsError.nonPositive("quantity") }
        let exact = Fraction(entry) - Fraction(Int128(side.sign)) * Fraction(collateral) / Fraction(quantity)
        guard exact.numerator > 0 else { return nil }
        return round(exact, side: side)
    }

    /// Collateral that backs one position under cross margin.
    public static func crossCollateral(walletBalance: Notional, othersUnrealizedPnL: Notional, othersMaintenance: Notional) -> Notional {
        walletBalance + othersUnrealizedPnL - othersMaintenance
    }

    /// The fractional adverse move from entry to liquidation: `|P_liq − E| / E`.
    public static func adverseMove(entry: Price, liquidation: Price) -> Rate {
        (liquidation - entry).magnitude.ratio(to: entry, rule: .down)
    }

    static func checkFraction(_ rate: Rate) throws {
        guard rate.isPositive, rate < Rate.one else { throw MechanicsError.fractionOutOfRange("maintenance margin fraction", rate) }
    }

    static func exactSolution(side: Side, entry: Price, quantity: Quantity, collateral: Notional, rate: Rate, amount: Notional) -> Fraction?
    {
        let q = Fraction(quantity)
        let s = Fraction(Int128(side.sign))
        // s·q·E − T − cum = (s − m)·q·p
        let numerator = s * q * Fraction(entry) - Fraction(collateral) - Fraction(amount)
        let denominator = (s - Fraction(rate)) * q
        let value = numerator / denominator
        return value.numerator > 0 ? value : nil
    }

    static func solve(side: Side, entry: Price, quantity: Quantity, collateral: Notional, rate: Rate, amount: Notional) -> Price? {
        exactSolution(side: side, entry: entry, quantity: quantity, collateral: collateral, rate: rate, amount: amount).flatMap {
            round($0, side: side)
        }
    }

    /// The price rounded toward the market, or `nil` beyond what a ``Price`` holds: a short whose
    /// collateral dwarfs its size is liquidated only at a price no market reaches.
    static func round(_ value: Fraction, side: Side) -> Price? {
        value.roundedIfRepresentable(to: Price.self, side == .long ? .up : .down)
    }
}

extension Liquidation {
    /// The liquidation price of a net `position` (signed size with exact cost basis) backed by
    /// `collateral`, with maintenance `m` of notional at the price: equity
    /// `T + q·p − basis` equals `m·|q|·p` at `p = (basis − T) / (q − m·|q|)` (the formulas of
    /// ``price(side:entry:quantity:collateral:schedule:)`` written for a cost basis, so
    /// averaged entries stay exact). Rounded toward the market; `nil` when flat or when no
    /// positive price liquidates.
    public static func price(position: Position, collateral: Notional, maintenance m: Rate) -> Price? {
        guard let side = position.side else { return nil }
        // Fast path: one Int128 division. p_raw = (B − T)·10^20 / (q·(10^12 − s·m)),
        // with s = +1 long, −1 short (|q| = s·q).
        let factor = Int128(Rate.scale) - Int128(side.sign) * Int128(m.raw)
        let numeratorBase = Int128(position.costBasis.raw) - Int128(collateral.raw)
        let (numerator, overflowN) = numeratorBase.multipliedReportingOverflow(by: Int128(Rate.scale) * Int128(Price.scale))
        let (denominator, overflowD) = Int128(position.quantity.raw).multipliedReportingOverflow(by: factor)
        if !overflowN, !overflowD, denominator != 0 {
            if (numerator > 0) != (denominator > 0) || numerator == 0 { return nil }
            let raw = FixedMath.divide(numerator, denominator, side == .long ? .up : .down)
            guard let narrow = Int64(exactly: raw) else { return nil }
            return Price(raw: narrow)
        }
        let q = Fraction(position.quantity)
        let absQ = Fraction(position.quantity.magnitude)
        let value = (Fraction(position.costBasis) - Fraction(collateral)) / (q - Fraction(m) * absQ)
        guard value.numerator > 0 else { return nil }
        return round(value, side: side)
    }
}

extension Liquidation {
    /// The liquidation price of a net `position` under a margin `schedule`: flat fractions as
    /// ``price(position:collateral:maintenance:)``; Binance-style brackets solve
    /// `T + q·p − basis = m·|q|·p − cum` for each bracket, `p = (basis − T − cum) / (q − m·|q|)`,
    /// and take the one whose notional `|q|·p` lies inside its own range (Binance USD-M
    /// "Liquidation Price Calculation": "if the notional at LP falls in a different bracket,
    /// substitute that bracket's MMR and cum"; reliability-anchors.md §1.4). Rounded toward the
    /// market; `nil` when flat, when no positive price liquidates, or for an empty schedule.
    public static func price(position: Position, collateral: Notional, schedule: MarginSchedule) -> Price? {
        switch schedule {
        case .fractions(_, let maintenance):
            return price(position: position, collateral: collateral, maintenance: maintenance)
        case .brackets(let brackets):
            guard let side = position.side, let last = brackets.last else { return nil }
            let q = Fraction(position.quantity)
            let absQ = Fraction(position.quantity.magnitude)
            var fallback: Fraction?
            for bracket in brackets {
                let denominator = q - Fraction(bracket.maintenanceRate) * absQ
                guard denominator.numerator != 0 else { continue }
                let value =
                    (Fraction(position.costBasis) - Fraction(collateral) - Fraction(bracket.maintenanceAmount)) / denominator
                guard value.numerator > 0 else { continue }
                let notional = absQ * value
                let inside =
                    !(notional < Fraction(bracket.notionalFloor)) && (notional < Fraction(bracket.notionalCap) || bracket == last)
                if inside { return round(value, side: side) }
                if fallback == nil, bracket == Margin.bracket(for: position.costBasis, in: brackets) { fallback = value }
            }
            return fallback.flatMap { round($0, side: side) }
        }
    }
}

/// What closing a whole position by liquidation does to the money (spec §3 and §4, "Liquidation
/// as venues do it"; ``LiquidationRule``; docs/venues.md). Shared by the backtester, the hedge
/// simulation and the pool simulation, so the three agree to the last unit.
public struct LiquidationSettlement: Hashable, Sendable {
    /// The position's PnL at the fill price.
    public var realizedPnL: Notional
    /// The taker fee on the closed notional at the fill price.
    public var fee: Notional
    /// What the venue kept of the equity left after the fill and its fee (the rule's remainder:
    /// all of it when forfeited, the liquidation fee when returned).
    public var forfeited: Notional
    /// Loss beyond the collateral, borne by the venue's insurance fund (never by the account).
    public var shortfall: Notional
    /// What goes back to the account: `collateral + realizedPnL − fee − forfeited`, never below zero.
    public var returned: Notional
}

extension Liquidation {
    /// Settles the liquidation of all of `position`, backed by `collateral` (the isolated margin,
    /// or under cross margin the wallet balance), filled at `price` with `takerFee` on its notional,
    /// under `rule`: `E = collateral + PnL(price) − fee`; when `E < 0` the shortfall is `−E` and
    /// nothing is returned; otherwise the rule decides what of `E` comes back
    /// (``LiquidationRule/Remainder``).
    public static func settle(
        position: Position, collateral: Notional, price: Price, takerFee: Rate, rule: LiquidationRule
    ) -> LiquidationSettlement {
        let pnl = position.unrealizedPnL(mark: price)
        let notional = price.times(position.quantity.magnitude)
        let fee = notional.times(takerFee)
        let left = collateral + pnl - fee
        guard left.isPositive else {
            return LiquidationSettlement(
                realizedPnL: pnl, fee: fee, forfeited: .zero, shortfall: left.isNegative ? -left : .zero, returned: .zero)
        }
        let forfeited: Notional
        switch rule.remainder {
        case .forfeited: forfeited = left
        case .returned(let rate): forfeited = min(left, notional.times(rate))
        }
        return LiquidationSettlement(realizedPnL: pnl, fee: fee, forfeited: forfeited, shortfall: .zero, returned: left - forfeited)
    }

    /// The price a position on `side` with liquidation price `liquidation` is closed at during a
    /// bar whose price (the mark, when the venue liquidates on it) opens at `open` and reaches
    /// `adverse` (a long's low, a short's high): the open when the bar opens at or past the
    /// liquidation price (a gap: no one trades at the liquidation price), the liquidation price
    /// when the bar reaches it later, `nil` when it does not reach it (spec §4).
    @inlinable
    public static func fillPrice(side: Side, liquidation: Int64, open: Int64, adverse: Int64) -> Int64? {
        switch side {
        case .long: return open <= liquidation ? open : (adverse <= liquidation ? liquidation : nil)
        case .short: return open >= liquidation ? open : (adverse >= liquidation ? liquidation : nil)
        }
    }
}
