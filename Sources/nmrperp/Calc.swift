import ArgumentParser
import PerpMarketData
import PerpMechanics
import PerpModel
import PerpSimulation

struct CalcCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calc", abstract: "Perpetual-contract calculators.", subcommands: [CalcLiquidation.self])
}

struct CalcLiquidation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liquidation",
        abstract: "Liquidation price of one isolated position (or a cross position's, given its backing collateral).",
        discussion: """
            Liquidation when equity = maintenance: T + s·q·(p − E) = m·q·p − cum, so a long liquidates \
            at (q·E − T − cum)/(q·(1 − m)) and a short at (q·E + T + cum)/(q·(1 + m)) (spec §3). Give \
            the collateral T, or --leverage L for T = notional / L. Seed 000's claim that 20x leaves \
            0.5 % is wrong: try --leverage 20 --maintenance-fraction 0.005.

            Example:
              nmrperp calc liquidation --side short --entry 15 --quantity 100 \\
                  --collateral 300 --maintenance-fraction 0.02
            """)

    @Option(help: "long or short.") var side: String
    @Option(help: "Entry price.") var entry: String
    @Option(help: "Position size in NMR (positive).") var quantity: String
    @Option(help: "Collateral backing the position (USDC).") var collateral: String?
    @Option(help: "Leverage, instead of --collateral: collateral = notional / leverage.") var leverage: String?
    @Option(help: "Maintenance margin fraction m (with --venue lighter: the market's, 0.2, when absent).") var maintenanceFraction: String?
    @Option(help: "Check --leverage against this venue's NMR market: lighter (market 74: at most 3x, initial margin 33.33 %).")
    var venue: String?
    @Option(help: "Maintenance amount (Binance bracket `cum`).") var maintenanceAmount: String = "0"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        guard let side = Side(rawValue: self.side.lowercased()) else {
            throw CLIError("--side must be long or short (got \"\(self.side)\")")
        }
        let entry: Price = try Parse.positive(self.entry, "--entry", "a positive price", example: "15")
        let quantity: Quantity = try Parse.positive(self.quantity, "--quantity", "a positive size", example: "100")
        var maxLeverage: Rate?
        var venueMaintenance: Rate?
        if let venue {
            guard venue.lowercased() == "lighter" else {
                throw CLIError(
                    "--venue takes lighter (Binance's NMRUSDT maximum comes from its live leverage brackets; give --maintenance-fraction and check the leverage in the app) (got \(InputLimits.excerpt(venue)))"
                )
            }
            // Lighter market 74: minimum initial margin 3333 of 10,000 (spec §5), so at most 3x.
            if case .fractions(let initial, let maintenance) = MarketSpec.lighterNMR.margin {
                maxLeverage = (Fraction(Rate.one) / Fraction(initial)).rounded(to: Rate.self, .down)
                venueMaintenance = maintenance
            }
        }
        guard let maintenanceText = maintenanceFraction ?? venueMaintenance?.description else {
            throw CLIError("give --maintenance-fraction m (Binance NMRUSDT's first bracket, or Lighter's 0.2), or --venue lighter")
        }
        let m = try Parse.fraction(maintenanceText, "--maintenance-fraction", example: "0.02")
        let amount: Notional = try Parse.nonNegative(maintenanceAmount, "--maintenance-amount", "a USDC amount", example: "0")
        guard !AmountLimit.exceeded(quantity: quantity.raw, price: entry.raw) else {
            throw CLIError(
                "--quantity \(quantity) at --entry \(entry) is worth more than \(CarryLimit.notional) USDC, the most the tool carries; check both"
            )
        }
        let notional = entry.times(quantity)
        let collateral: Notional
        switch (self.collateral, self.leverage) {
        case (let text?, nil):
            collateral = try Parse.nonNegative(text, "--collateral", "a USDC amount", example: "300")
        case (nil, let text?):
            let leverage: Rate = try Parse.leverage(text)
            if let maxLeverage, leverage > maxLeverage {
                throw CLIError(
                    "--leverage \(leverage) is beyond Lighter NMR's maximum of \(maxLeverage.formatted(places: 2))x (minimum initial margin 33.33 %, market 74)"
                )
            }
            // Initial margin notional / L at or below maintenance m·notional: liquidated on
            // opening, so no venue lets it open (a venue's maximum leverage keeps 1/L above m).
            if !(Fraction(leverage) * Fraction(m) < Fraction(Rate.one)) {
                let most = (Fraction(Rate.one) / Fraction(m)).rounded(to: Rate.self, .down)
                throw CLIError(
                    "--leverage \(leverage) posts no more than the maintenance margin (\(percent(m.doubleValue, places: 2)) of notional): the position would be liquidated as it opens, and no venue opens it; with this maintenance fraction leverage must stay below \(most.formatted(places: 2))x (venues' maxima are lower)"
                )
            }
            collateral = (Fraction(notional) / Fraction(leverage)).rounded(to: Notional.self, .down)
        default:
            throw CLIError("give exactly one of --collateral T or --leverage L")
        }
        let bracket = MarginBracket(
            notionalFloor: .zero, notionalCap: Notional(raw: .max), maintenanceRate: m, maintenanceAmount: amount, maxLeverage: 1)
        let schedule: MarginSchedule = amount.isZero ? .fractions(initial: m, maintenance: m) : .brackets([bracket])
        let result = try Liquidation.price(side: side, entry: entry, quantity: quantity, collateral: collateral, schedule: schedule)
        let bankruptcy = try Liquidation.bankruptcyPrice(side: side, entry: entry, quantity: quantity, collateral: collateral)
        let maintenanceNow = Margin.maintenance(notional: notional, schedule: schedule)
        // The move as a fraction of the entry; beyond 9 million × (a liquidation price far
        // from a tiny entry) a `Rate` cannot hold it, and it says nothing more: n/a.
        let move = result.price.flatMap { price -> Rate? in
            (price - entry).magnitude.raw / entry.raw < 9_000_000 ? Liquidation.adverseMove(entry: entry, liquidation: price) : nil
        }
        let liquidatableAtEntry = result.price.map { side == .long ? $0 >= entry : $0 <= entry } ?? false
        if json {
            emit(
                json: .object([
                    ("liquidation_price", result.price.map { .exact($0) } ?? .null),
                    ("adverse_move", liquidatableAtEntry ? .exact(Rate.zero) : move.map { .exact($0) } ?? .null),
                    ("adverse_direction", .string(side == .long ? "down" : "up")),
                    ("liquidatable_at_entry", .bool(liquidatableAtEntry)),
                    ("bankruptcy_price", bankruptcy.map { .exact($0) } ?? .null), ("notional", .exact(notional)),
                    ("collateral", .exact(collateral)),
                    ("maintenance_margin_at_entry", .exact(maintenanceNow)), ("side", .string(side.rawValue)),
                ]))
            return
        }
        var rows: [(String, String)] = [
            ("position", "\(side.rawValue) \(quantity) @ \(entry) (notional \(notional.formatted(places: 2)))"),
            (
                "collateral",
                "\(collateral.formatted(places: 2)) (\(formatFixed(notional.doubleValue / max(collateral.doubleValue, 1e-12), 2))x)"
            ),
        ]
        if let price = result.price {
            // A long liquidates below its entry and a short above, unless the collateral is
            // already short of maintenance at entry: then there is no adverse move left.
            let adverse = side == .long ? price < entry : price > entry
            rows.append(("liquidation price", price.formatted(places: 6)))
            rows.append(
                (
                    "adverse move",
                    adverse
                        ? move.map { "\(percent($0.doubleValue, places: 3)) \(side == .long ? "down" : "up") from entry" }
                            ?? "n/a (over 900,000,000 %)"
                        : "none: liquidatable at entry (the liquidation price is \(side == .long ? "above" : "below") it; the collateral is below the maintenance margin)"
                ))
        } else {
            rows.append(
                (
                    "liquidation price",
                    side == .long
                        ? "none: the collateral covers the position at any price"
                        : "none: the collateral covers the position up to any price a Price holds (92 billion USDC per NMR)"
                ))
        }
        if let bankruptcy { rows.append(("bankruptcy price", bankruptcy.formatted(places: 6))) }
        if maintenanceNow > collateral { rows.append(("warning", "the collateral is already below maintenance margin at entry")) }
        print(TextTable.pairs(rows))
    }
}
