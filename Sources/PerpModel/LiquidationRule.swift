/// What a venue gives back of a liquidated position's margin (spec §3 and §4, "Liquidation as
/// venues do it"; the sources are in docs/venues.md, "Liquidation: what the trader keeps").
///
/// A liquidation closes the whole position at the fill price `p` (the liquidation price, or the
/// open when a bar opens past it). The equity left at that fill is
/// `E = collateral + PnL(p) − taker fee`. What happens to `E`:
/// - ``Remainder/forfeited``: the venue keeps it. Binance USD-M takes the position over at the
///   bankruptcy price and the remaining margin goes to its insurance fund ("Liquidation
///   Protocols"); this is also the conservative rule for a venue whose rule cannot be
///   established from bar data. The trader ends with nothing of the position's collateral.
/// - ``Remainder/returned(fee:)``: the trader keeps `E` less `fee × notional` (capped at `E`).
///   An optimistic bound; the reference loop of the backtester benchmark (shared/bench/limit.c)
///   uses it with no fee.
///
/// Either way, when `E < 0` the account stops at zero and the insurance fund records the
/// shortfall `−E`.
public struct LiquidationRule: Hashable, Sendable, CustomStringConvertible {
    public enum Remainder: Hashable, Sendable {
        /// The venue keeps whatever margin is left after the close.
        case forfeited
        /// The trader keeps what is left, less `fee` of the closed notional (at most what is left).
        case returned(fee: Rate)
    }

    /// The name used on the command line and printed beside every liquidation figure.
    public var name: String
    public var remainder: Remainder
    /// One line saying what the rule does, for reports.
    public var summary: String

    public init(name: String, remainder: Remainder, summary: String) {
        self.name = name
        self.remainder = remainder
        self.summary = summary
    }

    public var description: String { name }

    /// Binance USD-M: the position is taken over at the bankruptcy price, the remaining margin
    /// goes to the insurance fund (Binance "Liquidation Protocols" and "Insurance Fund" FAQs).
    public static let binanceUSDM = LiquidationRule(
        name: "binance-usdm", remainder: .forfeited,
        summary: "Binance USD-M: taken over at the bankruptcy price; the remaining margin goes to the insurance fund")

    /// Lighter documents a waterfall (partial liquidation by IoC orders at the "zero price", a fee
    /// of up to 1 % to the insurance fund, full take-over below the close-out margin) that bar
    /// data cannot replay, and market 74's close-out fraction is not published: the
    /// conservative rule, named as Lighter's so reports say which venue it stands for.
    public static let lighter = LiquidationRule(
        name: "lighter", remainder: .forfeited,
        summary:
            "Lighter (conservative: its partial liquidation at the zero price is not replayable from bars): the trader keeps nothing of the position's margin"
    )

    /// For a venue whose rule is not established: the trader keeps nothing of the position's
    /// margin (issue 10: a risk tool never flatters its user).
    public static let conservative = LiquidationRule(
        name: "conservative", remainder: .forfeited,
        summary: "conservative: the trader keeps nothing of the liquidated position's margin")

    /// The trader keeps what is left at the fill, less the taker fee: an optimistic bound (and the
    /// benchmark's reference semantics).
    public static let keepRemainder = LiquidationRule(
        name: "keep-remainder", remainder: .returned(fee: .zero),
        summary: "optimistic: the trader keeps the equity left at the liquidation fill, less the taker fee")

    /// Every preset, in the order help text lists them.
    public static let presets: [LiquidationRule] = [.binanceUSDM, .lighter, .conservative, .keepRemainder]

    /// The rule of `venue`: its own where documented, else the conservative one.
    public static func preset(for venue: VenueID) -> LiquidationRule {
        switch venue {
        case .binanceUSDM: .binanceUSDM
        case .lighter: .lighter
        case .binanceSpot, .bybit, .hyperliquid: .conservative
        }
    }

    /// The preset called `name` (case-insensitive), if any.
    public static func named(_ name: String) -> LiquidationRule? {
        presets.first { $0.name == name.lowercased() }
    }
}
