import PerpMechanics
import PerpModel
import Testing

/// Liquidation and bankruptcy prices (Liquidation.swift; spec §1 and §3).
@Suite("Liquidation")
struct LiquidationTests {
    static let twoPercent = Rate("0.02")!
    /// Maintenance 2 %, maintenance amount 0, in both schedule forms.
    static let flatSchedules: [MarginSchedule] = [
        .fractions(initial: Rate("0.05")!, maintenance: twoPercent),
        .brackets([
            MarginBracket(
                notionalFloor: Notional(0), notionalCap: Notional(1_000_000), maintenanceRate: twoPercent,
                maintenanceAmount: Notional(0), maxLeverage: 20)
        ]),
    ]

    // MARK: Golden values

    @Test("golden: isolated short 100 @ 15 with 300 collateral, maintenance 2 %", arguments: flatSchedules)
    func goldenShort(schedule: MarginSchedule) throws {
        let result = try Liquidation.price(
            side: .short, entry: Price(15), quantity: Quantity(100), collateral: Notional(300), schedule: schedule)
        let price = try #require(result.price)
        // (100·15 + 300) / (100·1.02) = 17.6470588235…, rounded down (toward the market).
        #expect(price == Price("17.64705882"))
        #expect(price.formatted(places: 6) == "17.647059")
        #expect(result.maintenanceRate == Self.twoPercent)
        #expect(result.maintenanceAmount == .zero)
        let bankruptcy = try Liquidation.bankruptcyPrice(side: .short, entry: Price(15), quantity: Quantity(100), collateral: Notional(300))
        #expect(bankruptcy == Price(18))
        #expect(Liquidation.adverseMove(entry: Price(15), liquidation: price) == Rate("0.176470588"))
    }

    @Test("golden: isolated long 100 @ 15 with 300 collateral, maintenance 2 %", arguments: flatSchedules)
    func goldenLong(schedule: MarginSchedule) throws {
        let result = try Liquidation.price(
            side: .long, entry: Price(15), quantity: Quantity(100), collateral: Notional(300), schedule: schedule)
        let price = try #require(result.price)
        // (100·15 − 300) / (100·0.98) = 12.2448979591…, rounded up (toward the market).
        #expect(price == Price("12.24489796"))
        #expect(price.formatted(places: 6) == "12.244898")
        let bankruptcy = try Liquidation.bankruptcyPrice(side: .long, entry: Price(15), quantity: Quantity(100), collateral: Notional(300))
        #expect(bankruptcy == Price(12))
    }

    @Test("a long backed by its whole notional has no liquidation or bankruptcy price")
    func overCollateralisedLong() throws {
        let schedule = Self.flatSchedules[0]
        for collateral in [Notional(1_500), Notional(2_000)] {
            let result = try Liquidation.price(
                side: .long, entry: Price(15), quantity: Quantity(100), collateral: collateral, schedule: schedule)
            #expect(result.price == nil)
            #expect(try Liquidation.bankruptcyPrice(side: .long, entry: Price(15), quantity: Quantity(100), collateral: collateral) == nil)
        }
        // Just under: bankruptcy at one raw unit above zero after rounding up.
        let almost = try Liquidation.bankruptcyPrice(
            side: .long, entry: Price(15), quantity: Quantity(100), collateral: Notional("1499.999999")!)
        #expect(almost == Price("0.00000001"))
        // A short always has a liquidation price.
        let short = try Liquidation.price(
            side: .short, entry: Price(15), quantity: Quantity(100), collateral: Notional(1_000_000), schedule: schedule)
        #expect(short.price == Price("9818.62745098"))  // 1,001,500 / 102
    }

    @Test("golden: Lighter NMR (M = 0.2), the spec's hedge example")
    func lighterNMR() throws {
        let spec = MarketSpec.lighterNMR
        guard case .fractions(let initial, let maintenance) = spec.margin else {
            Issue.record("Lighter NMR uses flat fractions")
            return
        }
        #expect(maintenance == Rate("0.2"))
        #expect(initial == Rate("0.3333"))
        #expect(spec.tickSize == Price("0.0001"))
        #expect(spec.lotSize == Quantity("0.01"))
        #expect(spec.marketID == MarketID(74))
        // k = (g − 1) + α·g·M with g = 3.06, α = 1.1, M = 0.2.
        let g = try #require(Rate("3.06"))
        let alpha = try #require(Rate("1.1"))
        let k = (g - .one) + alpha * g * maintenance
        #expect(k == Rate("2.7332"))
        // Shorting 10 NMR at $8 needs T = 80 × k = 218.656.
        let q = Quantity(10)
        let entry = Price(8)
        let collateral = (entry * q).times(k)
        #expect(collateral == Notional("218.656"))
        #expect(collateral.formatted(places: 2) == "218.66")
        // P_liq = (T + q·P) / (q·(1 + M)) = 298.656 / 12 = 24.888, above g·P = 24.48.
        let result = try Liquidation.price(side: .short, entry: entry, quantity: q, collateral: collateral, schedule: spec.margin)
        #expect(result.price == Price("24.888"))
        #expect(try #require(result.price) > entry.scaled(by: g))
        // At P_s = g·P the equity is exactly α·M·q·P_s: the safety margin the formula promises.
        let stressed = entry.scaled(by: g)
        #expect(stressed == Price("24.48"))
        let equity = PnL.equity(collateral: collateral, side: .short, quantity: q, entry: entry, mark: stressed)
        #expect(equity == Notional("53.856"))
        #expect(equity == (stressed * q).times(maintenance).times(alpha))
        // With the rounded $218.66 the price is 298.66 / 12 = 24.8883333…, rounded down.
        let rounded = try Liquidation.price(side: .short, entry: entry, quantity: q, collateral: Notional("218.66")!, schedule: spec.margin)
        #expect(rounded.price == Price("24.88833333"))
    }

    @Test(
        "seed 000: at 20x (5 % initial) the adverse move to liquidation is about 4–4.5 %, not 0.5 %",
        arguments: [
            // side, maintenance, exact adverse move `(1/L ∓ m)/(1 ∓ m)` to 8 decimals
            (Side.long, "0.005", "0.04522613"),  // (0.05 − 0.005) / 0.995
            (.long, "0.01", "0.04040404"),  // (0.05 − 0.01) / 0.99
            (.short, "0.005", "0.04477611"),  // (0.05 − 0.005) / 1.005
            (.short, "0.01", "0.03960396"),  // (0.05 − 0.01) / 1.01
        ])
    func seed000AdverseMove(side: Side, maintenance: String, expected: String) throws {
        let m = try #require(Rate(maintenance))
        let schedule = MarginSchedule.fractions(initial: Rate("0.05")!, maintenance: m)
        for (entry, quantity) in [(Price(10), Quantity(100)), (Price("13.97")!, Quantity("2.5")!), (Price("0.8123")!, Quantity(50_000))] {
            let notional = entry * quantity
            let collateral = Margin.initial(notional: notional, schedule: schedule, leverage: 20)
            #expect(collateral == notional.times(Rate("0.05")!, rule: .up))
            let result = try Liquidation.price(side: side, entry: entry, quantity: quantity, collateral: collateral, schedule: schedule)
            let price = try #require(result.price)
            let move = Liquidation.adverseMove(entry: entry, liquidation: price)
            let target = try #require(Rate(expected))
            // Within 1e-6 of the exact figure (entry and liquidation are rounded to 8 decimals).
            #expect((move - target).magnitude < Rate("0.000001")!, "\(side) \(quantity) @ \(entry): \(move)")
            #expect(move > Rate("0.039")! && move < Rate("0.046")!)
            #expect(move > Rate("0.005")!.times(Rate(7)), "far from seed 000's 0.5 %")
            // The side is right: a long is liquidated below entry, a short above.
            #expect(side == .long ? price < entry : price > entry)
        }
    }

    // MARK: Brackets

    @Test(
        "a bracket schedule takes the bracket that holds at the liquidation notional",
        arguments: [
            // side, quantity, entry, collateral, expected liquidation price, bracket index
            (Side.short, 1_000, "4", "400", "4.35643564", 0),  // 4,400 / 1,010; notional 4,356 < 5,000
            // Entry notional 4,000 is in bracket 1, but at liquidation the notional is 5,439: bracket 2.
            (.short, 1_000, "4", "1500", "5.43902439", 1),  // (4,000 + 1,500 + 75) / 1,025
            // Entry notional 30,000 is in bracket 3; at liquidation 24,538: bracket 2.
            (.long, 1_000, "30", "6000", "24.53846154", 1),  // (30,000 − 6,000 − 75) / 975
            (.long, 1_000, "30", "3000", "27.68421053", 2),  // (30,000 − 3,000 − 700) / 950 → 27,684
            (.short, 10_000, "12", "20000", "13.24545454", 3),  // (120,000 + 20,000 + 5,700) / 11,000 → 132,455
        ])
    func bracketSelection(side: Side, quantity: Int, entry: String, collateral: String, expected: String, bracket: Int) throws {
        let schedule = MarginSchedule.brackets(continuousBrackets)
        let q = Quantity(quantity)
        let result = try Liquidation.price(
            side: side, entry: Price(entry)!, quantity: q, collateral: Notional(collateral)!, schedule: schedule)
        let price = try #require(result.price)
        #expect(price == Price(expected))
        #expect(result.maintenanceRate == continuousBrackets[bracket].maintenanceRate)
        #expect(result.maintenanceAmount == continuousBrackets[bracket].maintenanceAmount)
        let notional = price * q
        #expect(notional >= continuousBrackets[bracket].notionalFloor)
        #expect(notional < continuousBrackets[bracket].notionalCap)
        // And the chosen terms are what Margin reports for that notional.
        let terms = Margin.maintenanceTerms(notional: notional, schedule: schedule)
        #expect(terms.rate == result.maintenanceRate)
        #expect(terms.amount == result.maintenanceAmount)
    }

    // MARK: Properties

    @Test("equity equals maintenance at the liquidation price, rounded toward the market (seeded)")
    func equityEqualsMaintenance() throws {
        var rng = SplitMix64(seed: 0x5EED_1001)
        let tick = Price("0.0001")!
        var liquidated = 0
        for index in 0..<600 {
            let position = RandomPosition(using: &rng)
            let schedule: MarginSchedule =
                index % 2 == 0
                ? .fractions(initial: Rate("0.3333")!, maintenance: Rate(basisPointsOf10000: Int.random(in: 50...3_000, using: &rng)))
                : .brackets(continuousBrackets)
            let result = try Liquidation.price(
                side: position.side, entry: position.entry, quantity: position.quantity, collateral: position.collateral, schedule: schedule
            )
            guard let price = result.price else {
                // Only a long whose collateral covers what the maintenance line can never reach.
                #expect(position.side == .long, "\(position)")
                continue
            }
            liquidated += 1
            let toward = position.side == .long ? Price(raw: 1) : Price(raw: -1)
            func gap(_ p: Price) -> Fraction {
                exactEquity(side: position.side, entry: position.entry, quantity: position.quantity, collateral: position.collateral, at: p)
                    - exactMaintenance(quantity: position.quantity, at: p, schedule: schedule)
            }
            // Exactly: at the printed price the position is not yet past liquidation, and one raw
            // unit further from the market it is.
            #expect(!gap(price).isNegative, "\(position): equity below maintenance at \(price)")
            #expect(gap(price - toward).isNegative, "\(position): \(price) is not the closest price to the true one")
            // The rounding costs at most one raw unit of price: equity ≤ maintenance + q·(1 + m)·1e-8.
            let slack = Fraction(position.quantity) * Fraction(2) * Fraction(Price(raw: 1))
            #expect(gap(price) < slack || gap(price) == slack, "\(position)")
            // With the library's own rounded equity and maintenance, on the market's tick grid:
            // equity ≤ maintenance + tiny at the price, and ≥ maintenance one tick toward the market.
            let equityAt = PnL.equity(
                collateral: position.collateral, side: position.side, quantity: position.quantity, entry: position.entry, mark: price)
            let maintenanceAt = Margin.maintenance(notional: price * position.quantity, schedule: schedule)
            #expect(equityAt <= maintenanceAt + Notional(raw: 3) + (Price(raw: 2) * position.quantity), "\(position)")
            let oneTickToward = position.side == .long ? price + tick : price - tick
            if oneTickToward.isPositive {
                let equityToward = PnL.equity(
                    collateral: position.collateral, side: position.side, quantity: position.quantity, entry: position.entry,
                    mark: oneTickToward)
                #expect(equityToward >= Margin.maintenance(notional: oneTickToward * position.quantity, schedule: schedule), "\(position)")
            }
            let oneTickAway = position.side == .long ? price - tick : price + tick
            if oneTickAway.isPositive {
                let equityAway = PnL.equity(
                    collateral: position.collateral, side: position.side, quantity: position.quantity, entry: position.entry,
                    mark: oneTickAway)
                #expect(equityAway < Margin.maintenance(notional: oneTickAway * position.quantity, schedule: schedule), "\(position)")
            }
            // Bankruptcy lies beyond liquidation.
            if let bankruptcy = try Liquidation.bankruptcyPrice(
                side: position.side, entry: position.entry, quantity: position.quantity, collateral: position.collateral)
            {
                #expect(position.side == .long ? bankruptcy <= price : bankruptcy >= price, "\(position)")
            }
        }
        #expect(liquidated > 400)
    }

    @Test("the liquidation price moves away from the market as collateral grows (seeded)")
    func monotonicInCollateral() throws {
        var rng = SplitMix64(seed: 0x5EED_1002)
        for index in 0..<300 {
            let position = RandomPosition(using: &rng, maxNotional: 200_000)
            let schedule: MarginSchedule =
                index % 2 == 0
                ? .fractions(initial: Rate("0.1")!, maintenance: Rate(basisPointsOf10000: Int.random(in: 50...3_000, using: &rng)))
                : .brackets(continuousBrackets)
            let notional = position.entry * position.quantity
            // Steps of at least one dollar: enough to move a price of 8 decimals for any size here.
            let step = max(Notional(1), notional.times(Rate("0.07")!).rounded(toMultipleOf: Notional(1), rule: .up))
            var previous: Price?
            var sawNil = false
            var collateral = Notional(1)
            for _ in 0..<25 {
                let result = try Liquidation.price(
                    side: position.side, entry: position.entry, quantity: position.quantity, collateral: collateral, schedule: schedule)
                switch (position.side, result.price, previous) {
                case (.short, let price?, let before?):
                    #expect(
                        price > before,
                        "\(position.side) \(position.quantity) @ \(position.entry): \(collateral) gives \(price) ≤ \(before)")
                case (.short, nil, _):
                    Issue.record("a short always has a liquidation price")
                case (.long, let price?, let before?):
                    #expect(!sawNil, "a long that lost its liquidation price regained it")
                    #expect(
                        price < before,
                        "\(position.side) \(position.quantity) @ \(position.entry): \(collateral) gives \(price) ≥ \(before)")
                case (.long, nil, _):
                    sawNil = true
                    #expect(
                        collateral.raw * 1 >= (position.entry * position.quantity).times(Rate("0.9")!).raw, "nil only near full collateral")
                default:
                    break
                }
                if result.price != nil { previous = result.price }
                collateral += step
            }
            if position.side == .long { #expect(sawNil, "a long backed by 170 % of notional cannot be liquidated") }
        }
    }

    // MARK: Errors and helpers

    @Test("bad inputs throw typed errors with clear messages")
    func errors() {
        let schedule = MarginSchedule.fractions(initial: Rate("0.1")!, maintenance: Rate("0.05")!)
        #expect(throws: MechanicsError.nonPositive("quantity")) {
            try Liquidation.price(side: .long, entry: Price(1), quantity: .zero, collateral: Notional(1), schedule: schedule)
        }
        #expect(throws: MechanicsError.nonPositive("quantity")) {
            try Liquidation.price(side: .short, entry: Price(1), quantity: Quantity(-1), collateral: Notional(1), schedule: schedule)
        }
        #expect(throws: MechanicsError.nonPositive("entry price")) {
            try Liquidation.price(side: .long, entry: .zero, quantity: Quantity(1), collateral: Notional(1), schedule: schedule)
        }
        #expect(throws: MechanicsError.fractionOutOfRange("maintenance margin fraction", .zero)) {
            try Liquidation.price(
                side: .long, entry: Price(1), quantity: Quantity(1), collateral: Notional(1),
                schedule: .fractions(initial: Rate("0.1")!, maintenance: .zero))
        }
        #expect(throws: MechanicsError.fractionOutOfRange("maintenance margin fraction", .one)) {
            try Liquidation.price(
                side: .short, entry: Price(1), quantity: Quantity(1), collateral: Notional(1),
                schedule: .fractions(initial: Rate("0.1")!, maintenance: .one))
        }
        #expect(throws: MechanicsError.emptyBrackets) {
            try Liquidation.price(side: .short, entry: Price(1), quantity: Quantity(1), collateral: Notional(1), schedule: .brackets([]))
        }
        #expect(throws: MechanicsError.nonPositive("quantity")) {
            try Liquidation.bankruptcyPrice(side: .long, entry: Price(1), quantity: .zero, collateral: Notional(1))
        }
        #expect(MechanicsError.nonPositive("quantity").description == "quantity must be greater than zero")
        #expect(
            MechanicsError.fractionOutOfRange("maintenance margin fraction", Rate("1.5")!).description
                == "maintenance margin fraction must be between 0 and 1 (exclusive), got 1.5")
        #expect(MechanicsError.emptyBrackets.description == "a bracket schedule needs at least one bracket")
    }

    @Test("cross margin: the other positions' PnL and maintenance change the collateral")
    func crossMargin() throws {
        let collateral = Liquidation.crossCollateral(
            walletBalance: Notional(1_000), othersUnrealizedPnL: Notional(-50), othersMaintenance: Notional(20))
        #expect(collateral == Notional(930))
        let schedule = MarginSchedule.fractions(initial: Rate("0.3333")!, maintenance: Rate("0.2")!)
        let result = try Liquidation.price(
            side: .short, entry: Price(8), quantity: Quantity(100), collateral: collateral, schedule: schedule)
        // (800 + 930) / 120 = 14.41666…, rounded down.
        #expect(result.price == Price("14.41666666"))
    }

    @Test("adverse move is |P_liq − E| / E, rounded down")
    func adverseMove() {
        #expect(Liquidation.adverseMove(entry: Price(10), liquidation: Price("9.5")!) == Rate("0.05"))
        #expect(Liquidation.adverseMove(entry: Price(10), liquidation: Price("10.5")!) == Rate("0.05"))
        #expect(Liquidation.adverseMove(entry: Price(3), liquidation: Price(4)) == Rate("0.333333333333"))
        #expect(Liquidation.adverseMove(entry: Price(3), liquidation: Price(2)) == Rate("0.333333333333"))
        #expect(Liquidation.adverseMove(entry: Price(3), liquidation: Price(3)) == .zero)
    }
}
