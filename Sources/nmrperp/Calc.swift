import ArgumentParser
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
            Liquidation when equity = maintenance: T + s·q·(p − E) = m·q·p − cum, so a long liquidates
            at (q·E − T − cum)/(q·(1 − m)) and a short at (q·E + T + cum)/(q·(1 + m)) (spec §3). Give
            the collateral T, or --leverage L for T = notional / L. Seed 000's claim that 20x leaves
            0.5 % is wrong: try --leverage 20 --maintenance-fraction 0.005.

            Example: nmrperp calc liquidation --side short --entry 15 --quantity 100 --collateral 300 --maintenance-fraction 0.02
            """)

    @Option(help: "long or short.") var side: String
    @Option(help: "Entry price.") var entry: String
    @Option(help: "Position size in NMR (positive).") var quantity: String
    @Option(help: "Collateral backing the position (USDC).") var collateral: String?
    @Option(help: "Leverage, instead of --collateral: collateral = notional / leverage.") var leverage: String?
    @Option(help: "Maintenance margin fraction m.") var maintenanceFraction: String
    @Option(help: "Maintenance amount (Binance bracket `cum`).") var maintenanceAmount: String = "0"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        guard let side = Side(rawValue: self.side.lowercased()) else {
            throw CLIError("--side must be long or short (got \"\(self.side)\")")
        }
        let entry: Price = try Parse.positive(self.entry, "--entry", "a positive price", example: "15")
        let quantity: Quantity = try Parse.positive(self.quantity, "--quantity", "a positive size", example: "100")
        let m = try Parse.fraction(maintenanceFraction, "--maintenance-fraction", example: "0.02")
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
        if json {
            emit(
                json: .object([
                    ("liquidation_price", result.price.map { .exact($0) } ?? .null), ("adverse_move", move.map { .exact($0) } ?? .null),
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
            rows.append(("liquidation price", price.formatted(places: 6)))
            rows.append(
                (
                    "adverse move",
                    move.map { "\(percent($0.doubleValue, places: 3)) \(side == .long ? "down" : "up") from entry" }
                        ?? "n/a (over 900,000,000 %)"
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
