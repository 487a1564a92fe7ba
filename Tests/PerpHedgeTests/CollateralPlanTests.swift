import PerpHedge
import PerpModel
import Testing

@Suite struct CollateralPlanTests {
    @Test func forumExampleReproduces() throws {
        // Seed 003: g 3.06, α 1.1, M 0.2 → k 2.7332; 10 NMR at $8 needs $218.66.
        let plan = try CollateralPlan(
            stake: Quantity(10), price: Price(8), g: Rate("3.06")!, alpha: Rate("1.1")!, maintenanceFraction: Rate("0.2")!)
        #expect(plan.collateralMultiple == Rate("2.7332")!)
        #expect(plan.notional == Notional(80))
        #expect(plan.collateral == Notional("218.656")!)
        #expect(plan.collateral.formatted(places: 2, rule: .up) == "218.66")
        #expect(plan.survivesUpTo == Price("24.48")!)
        // P_liq = (T + qP) / (q(1 + M)) = (218.656 + 80) / 12 = 24.888
        #expect(plan.liquidationPrice == Price("24.888")!)
    }

    @Test func liquidationPriceIsAboveTheSurvivalPrice() throws {
        // With α > 1 the short survives g·P with margin to spare: P_liq > g·P.
        for g in ["1.5", "2.26", "3.06", "4.1"] {
            let plan = try CollateralPlan(
                stake: Quantity("123.45")!, price: Price("8.4603")!, g: Rate(g)!, alpha: Rate("1.1")!, maintenanceFraction: Rate("0.2")!)
            #expect(plan.liquidationPrice > plan.survivesUpTo, "g = \(g)")
            // And with α = 1 the balance exactly meets the margin at g·P (to rounding).
            let tight = try CollateralPlan(
                stake: Quantity("123.45")!, price: Price("8.4603")!, g: Rate(g)!, alpha: Rate.one, maintenanceFraction: Rate("0.2")!)
            #expect((tight.liquidationPrice - tight.survivesUpTo).magnitude <= Price("0.00000002")!, "g = \(g)")
        }
    }

    @Test(arguments: [
        ("-1", "8", "3.06", "1.1", "0.2", "stake"),
        ("10", "0", "3.06", "1.1", "0.2", "price"),
        ("10", "8", "0.9", "1.1", "0.2", "g"),
        ("10", "8", "3.06", "0.9", "0.2", "alpha"),
        ("10", "8", "3.06", "1.1", "1", "margin fraction"),
        ("10", "8", "3.06", "1.1", "0", "margin fraction"),
    ])
    func badInputIsRejectedWithAReason(stake: String, price: String, g: String, alpha: String, margin: String, mentions: String) {
        #expect {
            _ = try CollateralPlan(
                stake: Quantity(stake)!, price: Price(price)!, g: Rate(g)!, alpha: Rate(alpha)!, maintenanceFraction: Rate(margin)!)
        } throws: { error in
            String(describing: error).contains(mentions)
        }
    }

    @Test func liquidationMultipleInvertsTheFormula() {
        // k = (g − 1) + g·M at α = 1 ⇒ g_liq = (1 + k)/(1 + M) = g.
        let k = CollateralPlan.multiple(g: Rate("3.06")!, alpha: Rate.one, maintenanceFraction: Rate("0.2")!)
        let gLiq = CollateralPlan.liquidationMultiple(collateralMultiple: k, maintenanceFraction: Rate("0.2")!)
        #expect(abs(gLiq.doubleValue - 3.06) < 1e-12)
    }
}

@Suite struct RebalanceTests {
    let k = Rate("2.7332")!
    let m = Rate("0.2")!

    @Test func priceRoseSoDeposit() throws {
        // 10 NMR short posted at $8 with 218.66; price now 10, stake unchanged.
        let plan = try RebalancePlan(
            currentShort: Quantity(10), currentCollateral: Notional("198.66")!, newStake: Quantity(10), price: Price(10),
            collateralMultiple: k, maintenanceFraction: m)
        #expect(plan.trade == .none)
        #expect(plan.targetCollateral == Notional("273.32")!)
        #expect(plan.transfer == .deposit(Notional("74.66")!))
    }

    @Test func priceFellSoWithdrawAndStakeGrewSoSellMore() throws {
        let plan = try RebalancePlan(
            currentShort: Quantity(10), currentCollateral: Notional(250), newStake: Quantity("12.345")!, price: Price(6),
            collateralMultiple: k, maintenanceFraction: m, lotSize: Quantity("0.01")!)
        // 12.345 rounds half-even to 12.34 at a 0.01 lot.
        #expect(plan.newShort == Quantity("12.34")!)
        #expect(plan.trade == .sell(Quantity("2.34")!))
        // k·q·P = 2.7332 × 12.34 × 6 = 202.366128
        #expect(plan.targetCollateral == Notional("202.366128")!)
        #expect(plan.transfer == .withdraw(Notional("47.633872")!))
        #expect(plan.warningPrice > plan.price && plan.warningPrice < plan.liquidationPrice)
    }

    @Test func stakeShrankSoBuyBack() throws {
        let plan = try RebalancePlan(
            currentShort: Quantity(10), currentCollateral: Notional(200), newStake: Quantity(7), price: Price(8), collateralMultiple: k,
            maintenanceFraction: m)
        #expect(plan.trade == .buy(Quantity(3)))
    }

    @Test func rejectsNonsense() {
        #expect(throws: HedgeError.self) {
            _ = try RebalancePlan(
                currentShort: Quantity(10), currentCollateral: Notional(200), newStake: Quantity(0), price: Price(8), collateralMultiple: k,
                maintenanceFraction: m)
        }
        #expect(throws: HedgeError.self) {
            _ = try RebalancePlan(
                currentShort: Quantity(10), currentCollateral: Notional(200), newStake: Quantity("0.004")!, price: Price(8),
                collateralMultiple: k, maintenanceFraction: m, lotSize: Quantity("0.01")!)
        }
    }
}
